"""Prior experiments from a CSV, so a campaign starts from what the lab already knows.

The file: one row per experiment; columns named after the search-space parameters and the
measured outcomes (objectives, constrained outcomes). Units go in the header
(``temperature [degC]``) or in a units row right under it (a row in which no cell is a number);
values are converted to the unit the campaign declares. An optional ``status`` column says
COMPLETED, FAILED or ABANDONED; without it every row is COMPLETED and needs every outcome.
Other columns (dates, notebook references) are ignored and listed.

A campaign calls, before its first suggestion::

    priors = read_priors(path, planner.space, planner.measured_outcomes(), units=...)
    planner.ingest(priors.results)

Priors count like any result: enough COMPLETED ones replace the Sobol start.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from planner.base import STATUSES, Result
from planner.space import Categorical, SearchSpace, Value

_UNIT_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]\s*$")
STATUS_COLUMN = "status"


@dataclass(frozen=True)
class Column:
    name: str
    unit: str  # "" when none was given


@dataclass
class Table:
    """A CSV read as text: columns with their units, rows with their line numbers."""

    path: str
    columns: list[Column]
    rows: list[tuple[int, list[str]]]  # (line number in the file, cells)

    def index(self, name: str) -> int | None:
        for i, c in enumerate(self.columns):
            if c.name == name:
                return i
        return None


@dataclass
class Priors:
    """What `read_priors` found: the results to ingest, and what it left out."""

    results: list[Result] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "line N: why" for rows left out
    ignored_columns: list[str] = field(default_factory=list)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path: str | Path) -> Table:
    """Read a CSV (a UTF-8 byte-order mark is tolerated) with units in `[...]` in the header
    or in a units row. ValueError names the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ValueError(f"{p}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not UTF-8 text") from None
    lines = list(csv.reader(text.splitlines()))
    numbered = [(i + 1, [c.strip() for c in row]) for i, row in enumerate(lines)]
    numbered = [(n, row) for n, row in numbered if any(row)]
    if not numbered:
        raise ValueError(f"{p}: empty file")
    _, header = numbered[0]
    columns: list[Column] = []
    for i, h in enumerate(header):
        m = _UNIT_IN_HEADER.match(h)
        name, unit = (m["name"].strip(), m["unit"].strip()) if m else (h, "")
        if not name:
            raise ValueError(f"{p}:1: column {i + 1} has no name")
        columns.append(Column(name, unit))
    names = [c.name for c in columns]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{p}:1: duplicate column(s) {', '.join(dup)}")
    body = numbered[1:]
    if len(body) >= 2 and _is_units_row(body[0][1], body[1][1]):
        units_line, units = body[0]
        for i, u in enumerate(units[: len(columns)]):
            if u and columns[i].unit and u != columns[i].unit:
                raise ValueError(
                    f"{p}:{units_line}: {columns[i].name}: unit {u!r} here but "
                    f"{columns[i].unit!r} in the header"
                )
            if u:
                columns[i] = Column(columns[i].name, u)
        body = body[1:]
    for n, row in body:
        if len(row) != len(columns):
            raise ValueError(f"{p}:{n}: {len(row)} cells, the header has {len(columns)}")
    return Table(str(p), columns, body)


def _is_units_row(row: Sequence[str], next_row: Sequence[str]) -> bool:
    """A row under the header with no number in it, above a row with one."""
    cells = [c for c in row if c]
    return (
        bool(cells)
        and not any(_is_number(c) for c in cells)
        and any(_is_number(c) for c in next_row if c)
    )


def _convert(value: float, unit: str, to: str, place: str) -> float:
    if not unit or not to or unit == to:
        return value
    from ppu.core.units import Q_  # pint: only when a file's unit differs from the campaign's

    try:
        return float(Q_(value, unit).m_as(to))
    except Exception as e:  # pint raises several kinds; one line naming the place
        raise ValueError(f"{place}: cannot convert {unit!r} to {to!r} ({e})") from None


def read_priors(
    path: str | Path,
    space: SearchSpace,
    outcomes: Sequence[str],
    *,
    units: Mapping[str, str] | None = None,
    outside: str = "error",
) -> Priors:
    """Results for `planner.ingest` from a CSV of past experiments.

    `outcomes`: the measured outcomes a COMPLETED row needs (`planner.measured_outcomes()`).
    `units`: the unit each outcome is wanted in (parameters use the space's units); a file
    column in another unit is converted, a column without a unit is taken as given.
    `outside="skip"` leaves out rows outside the search space (listed in `skipped`) instead
    of refusing the file.
    """
    if outside not in ("error", "skip"):
        raise ValueError(f"outside must be 'error' or 'skip', got {outside!r}")
    table = read_table(path)
    p = table.path
    wanted_units = dict(units or {})
    missing = [n for n in (*space.names, *outcomes) if table.index(n) is None]
    if missing:
        have = ", ".join(c.name for c in table.columns)
        raise ValueError(f"{p}:1: missing column(s) {', '.join(missing)} (the file has {have})")
    status_col = table.index(STATUS_COLUMN)
    used = {*space.names, *outcomes, STATUS_COLUMN}
    out = Priors(ignored_columns=[c.name for c in table.columns if c.name not in used])
    for line, row in table.rows:
        place = f"{p}:{line}"
        status = row[status_col].upper() if status_col is not None else "COMPLETED"
        if status not in STATUSES:
            raise ValueError(f"{place}: status {row[status_col]!r} is not one of {STATUSES}")
        params: dict[str, Value] = {}
        for prm in space.params:
            col = table.columns[table.index(prm.name)]  # type: ignore[index]
            cell = row[table.index(prm.name)]  # type: ignore[index]
            if isinstance(prm, Categorical):
                params[prm.name] = cell
            else:
                params[prm.name] = _number(cell, f"{place}: {prm.name}")
                params[prm.name] = _convert(
                    params[prm.name],
                    col.unit,
                    prm.unit,
                    f"{place}: {prm.name}",  # type: ignore[arg-type]
                )
        try:
            params = space.validate(params)
        except ValueError as e:
            if outside == "skip":
                out.skipped.append(f"line {line}: {e}")
                continue
            raise ValueError(f"{place}: {e}") from None
        values: dict[str, float] = {}
        if status == "COMPLETED":
            for name in outcomes:
                col = table.columns[table.index(name)]  # type: ignore[index]
                cell = row[table.index(name)]  # type: ignore[index]
                if not cell:
                    raise ValueError(
                        f"{place}: {name} is empty (a failed experiment needs a "
                        f"'{STATUS_COLUMN}' column saying FAILED)"
                    )
                v = _number(cell, f"{place}: {name}")
                values[name] = _convert(v, col.unit, wanted_units.get(name, ""), f"{place}: {name}")
        out.results.append(Result(params, status, values))  # type: ignore[arg-type]
    return out


def _number(cell: str, place: str) -> float:
    try:
        v = float(cell)
    except ValueError:
        raise ValueError(f"{place}: {cell!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{place}: {cell!r} is not finite")
    return v
