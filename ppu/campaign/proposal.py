"""A candidate proposed from outside the planner (by an agent, through `ppu mcp`), checked
against the campaign's search space: every parameter given once, with its unit, inside its
bounds, or one of its choices.

The same check runs twice: where the proposal is made, over the search space as the campaign
file stored it (no lab loaded: bounds read from the file's own text), so a mistake is told at
once; and in the campaign's controller, over the search space bound to its kernels' units,
before the candidate becomes an experiment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ppu.campaign.file import ParameterTable, ParamSpec, _search_space
from ppu.core.errors import BadInput
from ppu.core.units import Q_, Quantity, UnitError, parse_quantity, to_json


def stored_space(raw_campaign: Mapping[str, Any]) -> dict[str, ParamSpec]:
    """The search space of a campaign file's stored contents, unbound (bounds as written)."""
    table = raw_campaign.get("search_space") or {}
    return _search_space({name: ParameterTable.model_validate(t) for name, t in table.items()})


def check_proposal(
    space: Mapping[str, ParamSpec], given: Mapping[str, Any], place: str = "proposal"
) -> dict[str, Any]:
    """The stored form of a proposed candidate (`{value, unit}` per number, a category's
    name), or BadInput naming the parameter and what is allowed."""
    if not isinstance(given, Mapping):
        raise BadInput(place, "give the parameters as an object: {name: value with its unit}")
    unknown = [k for k in given if k not in space]
    if unknown:
        raise BadInput(
            f"{place}.{unknown[0]}",
            f"the search space has no parameter '{unknown[0]}' (it has: {', '.join(space)})",
        )
    missing = [k for k in space if k not in given]
    if missing:
        raise BadInput(
            place, f"missing {', '.join(missing)}: a candidate gives every parameter of the space"
        )
    return {name: _checked(f"{place}.{name}", p, given[name]) for name, p in space.items()}


def _checked(place: str, p: ParamSpec, value: Any) -> Any:
    if p.categorical:
        if not isinstance(value, str) or value not in p.choices:
            raise BadInput(place, f"{value!r} is not one of {', '.join(p.choices)}")
        return value
    low, high, unit = _bounds(place, p)
    if p.integer:  # a count (known once bound to its kernel input): a whole number
        if isinstance(value, bool) or not isinstance(value, int | float) or not _whole(value):
            raise BadInput(place, f"{value!r} is not a whole number ({_range(low, high, unit)})")
        if not low.m <= value <= high.m:
            raise BadInput(place, f"{value!r} is outside {_range(low, high, unit)}")
        return to_json(Q_(float(value), unit))  # stored as the planner's own are
    if isinstance(value, int | float) and not isinstance(value, bool) and unit:
        raise BadInput(place, f"{value!r} has no unit: write it with one, e.g. '{value} {unit}'")
    try:
        q = parse_quantity(value, unit)
    except UnitError as e:
        raise BadInput(place, f"{e} ({_range(low, high, unit)})") from None
    if not (low <= q <= high):
        raise BadInput(place, f"{_show(q)} is outside {_range(low, high, unit)}")
    return to_json(q.to(unit))


def _bounds(place: str, p: ParamSpec) -> tuple[Quantity, Quantity, str]:
    """(low, high, unit): bound to a kernel's unit, or read from the file's own text."""
    if p.low is not None and p.high is not None:
        return p.low, p.high, p.unit
    try:
        low, high = (Q_(v) if isinstance(v, str) else Q_(v, "") for v in (p.raw_low, p.raw_high))
        unit = str(to_json(low)["unit"])
        return low, high.to(unit), unit
    except Exception:
        raise BadInput(place, "the campaign's bounds for it cannot be read") from None


def _whole(v: Any) -> bool:
    m = v.m if isinstance(v, Quantity) else v
    return float(m).is_integer()


def _show(q: Quantity) -> str:
    j = to_json(q)
    return f"{j['value']:g} {j['unit']}".strip()


def _range(low: Quantity, high: Quantity, unit: str) -> str:
    return f"allowed {_show(low)} … {_show(high.to(unit) if unit else high)}"
