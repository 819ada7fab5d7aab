"""Reading isotherm files through pyGAPS (its formats and the instruments'), keeping what pyGAPS
warned about while it read them."""

from __future__ import annotations

import contextlib
import logging
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ppu.core.errors import BadInput

# file suffix → the readers tried, in order (pyGAPS's own formats, then the instruments')
_READERS = {
    ".aif": ("aif",),
    ".json": ("json", "isodb"),
    ".csv": ("csv", "bel-csv"),
    ".xls": ("mic", "3p", "xl"),
    ".xlsx": ("mic", "3p", "xl", "smsdvs"),
    ".dat": ("bel-dat",),
    ".txt": ("qnt",),
}

#: the loggers pyGAPS and its file parser warn through
_LOGGERS = ("pygaps", "adsorption_file_parser")

#: what pyGAPS says that the analysis answers itself (the basis is settled in `basis`), or
#: that is about a reader that was tried and not used
_ANSWERED = (
    re.compile(r"loading unit '.*' is ambiguous", re.I),
    re.compile(r"^The file version is None while the parser uses version", re.I),
)


@dataclass(frozen=True)
class Read:
    """One isotherm as read from a file, with what pyGAPS warned about while reading it."""

    source: str
    isotherm: Any
    said: tuple[str, ...] = ()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = " ".join(record.getMessage().split())
        if text and text not in self.messages:
            self.messages.append(text)


@contextlib.contextmanager
def pygaps_said() -> Iterator[list[str]]:
    """What pyGAPS warns about while the block runs, collected instead of printed (pyGAPS
    prints to stdout, which would break `--json`). pandas' own deprecation warnings are about
    pyGAPS's code, not the data: those are dropped."""
    import adsorption_file_parser  # noqa: F401  (each adds its handler when first imported)
    import pygaps.logging  # noqa: F401

    collect = _Collect()
    saved = []
    for name in _LOGGERS:
        log = logging.getLogger(name)
        saved.append((log, log.handlers[:], log.propagate, log.level))
        log.handlers = [collect]
        log.propagate = False
        log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield collect.messages
    finally:
        for log, handlers, propagate, level in saved:
            log.handlers = handlers
            log.propagate = propagate
            log.setLevel(level)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """For the steps whose caveats a result states itself (fits, IAST, BET): pyGAPS's chatter
    there is dropped."""
    with pygaps_said():
        yield


def worth_telling(said: list[str] | tuple[str, ...]) -> list[str]:
    """pyGAPS's warnings that a chemist needs to see, one short line each."""
    out = []
    for text in said:
        if any(p.search(text) for p in _ANSWERED):
            continue
        text = re.sub(r"^WARNING:\s*", "", text)
        text = text.replace("Strange things might happen, so double check your data.", "")
        out.append(short_reason(text).rstrip(". ") or text)
    return out


def short_reason(e: BaseException | str) -> str:
    """One short line: pyGAPS's fitting errors come as paragraphs with advice."""
    text = " ".join(str(e).split())
    text = re.sub(r"^Fitting routine for \w+ failed with error: ", "", text)
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first[:160] or (type(e).__name__ if isinstance(e, BaseException) else "")


def plain_reason(e: BaseException) -> str | None:
    """pyGAPS's and its parser's own errors are written for people; anything else (a TypeError
    from inside pandas, CoolProp's `vector::_M_range_check`) is not shown to one."""
    from adsorption_file_parser import ParsingError as FileParsingError
    from pygaps.utilities.exceptions import pgError

    if isinstance(e, pgError | FileParsingError):
        return short_reason(e)
    return None


# -- reading ----------------------------------------------------------------------------------
def load(path: str | Path) -> list[Read]:
    """The isotherm(s) in an AIF, pyGAPS JSON, NIST ISODB JSON, pyGAPS CSV/Excel, or an
    instrument's export (Micromeritics, 3P, BEL, Quantachrome, SMS). BadInput names the file."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(str(path), "no such file")
    readers = _READERS.get(path.suffix.lower())
    if readers is None:
        raise BadInput(
            str(path), f"not an isotherm file pyGAPS reads (suffixes: {', '.join(_READERS)})"
        )
    problems = []
    for reader in readers:
        with pygaps_said() as said:
            try:
                iso = _read(path, reader)
            except Exception as e:  # each reader fails in its own way
                problems.append(f"{reader}: {plain_reason(e) or 'not in this format'}")
                continue
        if iso is not None:
            # a file with metadata and no points is an empty isotherm
            return [Read(str(path), iso, tuple(said))]
        problems.append(f"{reader}: nothing read")
    raise BadInput(str(path), "not readable as an isotherm (" + "; ".join(problems) + ")")


def _read(path: Path, reader: str) -> Any:
    import pygaps.parsing as pgp

    if reader == "aif":
        return pgp.isotherm_from_aif(str(path))
    if reader == "json":
        return pgp.isotherm_from_json(path.read_text())
    if reader == "isodb":  # a record downloaded from NIST's ISODB (never fetched here)
        return pgp.isotherm_from_json(path.read_text(), fmt="NIST")
    if reader == "csv":
        return pgp.isotherm_from_csv(str(path))
    if reader == "xl":
        return pgp.isotherm_from_xl(str(path))
    manufacturer, _, fmt = reader.partition("-")
    fmt = fmt or {"mic": "xl", "3p": "xl", "qnt": "txt-raw", "smsdvs": "xlsx"}[manufacturer]
    return pgp.isotherm_from_commercial(str(path), manufacturer, fmt)


def gas_label(iso: Any) -> str:
    """'CO2', 'N2', 'C2H6': the formula without TeX, which chemists write in tables."""
    from pygaps import Adsorbate

    try:
        a = Adsorbate.find(str(iso.adsorbate))
        formula = a.formula or a.name
    except Exception:
        return str(iso.adsorbate)
    return formula.replace("_{", "").replace("}", "").replace("{", "")


def branch_points(iso: Any, branch: str = "ads") -> tuple[list[float], list[float]]:
    """(pressures, loadings) of a branch in the isotherm's own units, by rising pressure."""
    p = iso.pressure(branch=branch)
    n = iso.loading(branch=branch)
    if p is None or n is None:
        return [], []
    pts = sorted(
        (float(a), float(b))
        for a, b in zip(p, n, strict=True)
        if math.isfinite(float(a)) and math.isfinite(float(b))
    )
    return [a for a, _ in pts], [b for _, b in pts]


def branch_sigmas(iso: Any, branch: str = "ads") -> list[float] | None:
    """The loadings' 1σ (`amount_sigma`, as ppu stores and exports them), by rising pressure;
    None when the file gives none."""
    if "amount_sigma" not in getattr(iso, "other_keys", ()):
        return None
    data = iso.data(branch=branch)
    rows = sorted(
        (float(p), float(s))
        for p, s in zip(data["pressure"], data["amount_sigma"], strict=True)
        if math.isfinite(float(p))
    )
    sig = [s for _, s in rows]
    return sig if all(math.isfinite(s) and s >= 0 for s in sig) else None
