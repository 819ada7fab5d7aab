"""Reading isotherm files through pyGAPS (its formats and the instruments'), and bringing every
isotherm to one basis: absolute bar, mmol per g, K."""

from __future__ import annotations

import contextlib
import logging
import math
import re
import warnings
from collections.abc import Iterator
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


#: the units every isotherm is brought to: absolute bar, mmol per g of material, K
NORMALIZED_UNITS = {
    "temperature_unit": "K",
    "pressure_mode": "absolute",
    "pressure_unit": "bar",
    "loading_basis": "molar",
    "loading_unit": "mmol",
    "material_basis": "mass",
    "material_unit": "g",
}


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """pyGAPS warns through its logger and pandas through `warnings`; a result carries its
    own caveats here, so both are silenced while pyGAPS works."""
    log = logging.getLogger("pygaps")
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def short_reason(e: BaseException) -> str:
    """One short line: pyGAPS's fitting errors come as paragraphs with advice."""
    text = " ".join(str(e).split())
    text = re.sub(r"^Fitting routine for \w+ failed with error: ", "", text)
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first[:160] or type(e).__name__


# -- reading ----------------------------------------------------------------------------------
def load(path: str | Path) -> list[Any]:
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
    with quiet():
        for reader in readers:
            try:
                iso = _read(path, reader)
            except Exception as e:  # each reader fails in its own way
                problems.append(f"{reader}: {short_reason(e)}")
                continue
            if iso is not None:
                return [iso]  # a file with metadata and no points is an empty isotherm
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


def normalized(iso: Any) -> Any:
    """A new isotherm in absolute bar and mmol per g: the basis every figure here is given
    in. (Built afresh: a pyGAPS isotherm that has used CoolProp cannot be copied.)"""
    import pandas as pd
    import pygaps

    frames = []
    with quiet():
        for code, branch in ((0, "ads"), (1, "des")):
            if not iso.has_branch(branch):
                continue
            p = iso.pressure(branch=branch, pressure_mode="absolute", pressure_unit="bar")
            n = iso.loading(
                branch=branch,
                loading_basis="molar",
                loading_unit="mmol",
                material_basis="mass",
                material_unit="g",
            )
            if p is None or n is None:
                raise ValueError(
                    f"cannot express {iso.loading_unit} per {iso.material_unit} of material "
                    "in mmol/g (pyGAPS needs the material's molar mass or density)"
                )
            frames.append(pd.DataFrame({"pressure": p, "loading": n, "branch": code}))
        if not frames:
            raise ValueError("no data points")
        return pygaps.PointIsotherm(
            isotherm_data=pd.concat(frames, ignore_index=True),
            pressure_key="pressure",
            loading_key="loading",
            material=str(iso.material),
            adsorbate=str(iso.adsorbate),
            temperature=float(iso.temperature),
            **NORMALIZED_UNITS,
        )


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
