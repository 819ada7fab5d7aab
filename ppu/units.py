"""One pint registry for the whole process, and the parsing rules for values with units.

Every boundary (campaign file, CLI argument, kernel input, stored measurement) goes
through `parse_quantity`, so a unit error reads the same everywhere.
"""

from __future__ import annotations

import re
from typing import Any

import pint

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.formatter.default_format = "~P"
# Standard flows as pint itself writes them (its `slpm` is atm·L/min): gas amount as
# pressure × volume. Mass-flow controllers report these.
ureg.define("sccm = atm * cm ** 3 / min")
ureg.define("scc = atm * cm ** 3")
Q_ = ureg.Quantity
Quantity = pint.Quantity

# Names of dimensions as a chemist would say them, for error messages.
_DIMENSION_NAMES = {
    "[temperature]": "a temperature",
    "[time]": "a time",
    "[mass]": "a mass",
    "[length] ** 3": "a volume",
    "[mass] / [length] / [time] ** 2": "a pressure",
    "[length] ** 3 / [time]": "a volumetric flow",
    "[substance] / [mass]": "an amount per mass",
    "[length]": "a length",
    "[length] ** 2 / [mass]": "an area per mass",
    "[substance]": "an amount of substance",
    "[mass] * [length] ** 2 / [time] ** 3": "a standard gas flow",
    "dimensionless": "dimensionless",
}


class UnitError(ValueError):
    """A value whose unit is unknown or of the wrong dimension."""


def describe_dimension(unit: str) -> str:
    dim = str(ureg.parse_units(unit).dimensionality) if unit else "dimensionless"
    return _DIMENSION_NAMES.get(dim, f"a quantity in {unit}")


def parse_quantity(value: Any, unit: str) -> pint.Quantity:
    """Read `value` (a string like '120 degC', a number, a {value, unit} dict or a
    Quantity) as a quantity convertible to `unit`. Bare numbers take `unit` itself."""
    if isinstance(value, pint.Quantity):
        q = value
    elif isinstance(value, bool):
        raise UnitError(f"{value!r} is not {describe_dimension(unit)}")
    elif isinstance(value, int | float):
        q = Q_(float(value), unit)
    elif isinstance(value, dict) and set(value) == {"value", "unit"}:
        try:
            q = Q_(float(value["value"]), value["unit"])
        except (pint.errors.UndefinedUnitError, ValueError, TypeError) as e:
            raise UnitError(f"{value!r}: {_short(e)}") from None
    elif isinstance(value, str):
        text = value.strip()
        if "delta_" in unit:
            # '10 degC/min' is a rate of change: pint would read degC as absolute (283 K)
            text = re.sub(r"(?<!delta_)\bdeg([CF])\b", r"delta_deg\1", text)
        try:
            q = ureg.Quantity(text)
        except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError) as e:
            raise UnitError(f"'{value}' has an unknown unit ({_short(e)})") from None
        except Exception:
            raise UnitError(f"'{value}' is not {describe_dimension(unit)}") from None
        if not isinstance(q, pint.Quantity):
            q = Q_(float(q), unit)
        elif q.dimensionless and unit and not ureg.parse_units(unit).dimensionless:
            q = Q_(q.magnitude, unit)
    else:
        raise UnitError(f"{value!r} is not {describe_dimension(unit)}")
    try:
        return q.to(unit)
    except pint.errors.DimensionalityError:
        shown = value if isinstance(value, str) else f"{q:~P}"
        raise UnitError(f"'{shown}' is not {describe_dimension(unit)}") from None


def to_json(q: pint.Quantity) -> dict[str, Any]:
    """The JSON form agreed in DESIGN.md: {"value": 1.5, "unit": "mmol/g"}."""
    return {"value": float(q.magnitude), "unit": unit_text(q.units)}


def from_json(d: dict[str, Any]) -> pint.Quantity:
    return Q_(float(d["value"]), d["unit"])


def unit_text(units: Any) -> str:
    """Short, parseable unit text ('mL/min', 'degC'), stable across pint versions."""
    text = f"{ureg.Unit(units):~C}"
    text = text.replace("°C", "degC").replace("Δ", "delta_")
    # pint's symbol for the litre is 'l'; labs write 'L' ('mL/min', 'uL').
    return re.sub(r"(?<![A-Za-z])([mµud]?)l(?![A-Za-z])", r"\1L", text)


def show(q: pint.Quantity, digits: int = 4) -> str:
    return f"{q.magnitude:.{digits}g} {unit_text(q.units)}"


def _short(e: Exception) -> str:
    return str(e).splitlines()[0]
