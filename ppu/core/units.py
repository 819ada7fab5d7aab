"""One pint registry for the whole process, and the parsing rules for values with units.

Every boundary (campaign file, CLI argument, kernel input, stored measurement) goes
through `parse_quantity`, so a unit error reads the same everywhere.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import pint

ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.formatter.default_format = "~P"
# Standard flows as pint itself writes them (its `slpm` is atm·L/min): gas amount as
# pressure × volume. Mass-flow controllers report these, and their manuals shout them.
ureg.define("sccm = atm * cm ** 3 / min")
ureg.define("scc = atm * cm ** 3")
# Without this, pint reads 'sccs' as the plural of scc (an amount, not a flow).
ureg.define("sccs = atm * cm ** 3 / s")
ureg.define("@alias sccm = SCCM")
ureg.define("@alias standard_liter_per_minute = SLPM = SLM")
# Alicat's 'ccm' is volumetric: cm³/min at the actual conditions, no standard state.
ureg.define("ccm = cm ** 3 / min = _ = CCM")
ureg.define("@alias torr = Torr")
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

# What to write instead, per dimension: the units a lab bench uses, most common first.
_COMMON_UNITS = {
    "[temperature]": ("degC", "K", "degF"),
    "[time]": ("s", "min", "h", "d"),
    "[mass]": ("mg", "g", "kg"),
    "[length] ** 3": ("mL", "L", "uL"),
    "[mass] / [length] / [time] ** 2": ("Pa", "kPa", "bar", "mbar", "Torr", "psi"),
    "[length] ** 3 / [time]": ("mL/min", "L/min", "uL/min", "ccm"),
    "[substance] / [mass]": ("mmol/g",),
    "[length]": ("mm", "cm", "m"),
    "[length] ** 2 / [mass]": ("m^2/g",),
    "[substance]": ("mmol", "mol"),
    "[mass] * [length] ** 2 / [time] ** 3": ("sccm", "slpm"),
}

# Unit names an unknown unit is compared with (case-insensitively) for a near miss.
_KNOWN_NAMES = {
    name.lower(): name
    for units in _COMMON_UNITS.values()
    for text in units
    for name in re.split(r"[/*^]", text)
    if not name.isdigit()
} | {"delta_degc": "delta_degC", "scc": "scc"}

# A temperature written with a bare letter ('250 C' is 250 coulomb to pint; 'c' is the
# speed of light, 'F' farad, 'k' Boltzmann's constant), optionally after 'deg'/'degrees'.
_BARE_TEMPERATURE = re.compile(r"(?<![A-Za-z_])(?:deg(?:rees?)?\s*)?([CcFfk])(?![A-Za-z_])")


class UnitError(ValueError):
    """A value whose unit is unknown or of the wrong dimension."""


def describe_dimension(unit: str) -> str:
    dim = str(ureg.parse_units(unit).dimensionality) if unit else "dimensionless"
    return _DIMENSION_NAMES.get(dim, f"a quantity in {unit}")


def parse_quantity(value: Any, unit: str) -> pint.Quantity:
    """Read `value` (a string like '120 degC', a number, a {value, unit} dict or a
    Quantity) as a quantity convertible to `unit`. Only a bare number, with no unit at
    all, takes `unit` itself: '120 d/s' is not 120 s just because its units cancel."""
    if isinstance(value, pint.Quantity):
        q = value
    elif isinstance(value, bool):
        raise UnitError(_not_a(repr(value), unit))
    elif isinstance(value, int | float):
        q = Q_(float(value), unit)
    elif isinstance(value, dict) and set(value) == {"value", "unit"}:
        try:
            q = Q_(float(value["value"]), value["unit"])
        except pint.errors.UndefinedUnitError as e:
            raise UnitError(f"{value!r}: {_short(e)}{_near_miss(e)}") from None
        except (ValueError, TypeError) as e:
            raise UnitError(f"{value!r}: {_short(e)}") from None
    elif isinstance(value, str):
        text = value.strip()
        if _is_temperature_difference(unit):
            # '10 degC/min' is a rate of change: pint would read degC as absolute (283 K)
            text = re.sub(r"(?<!delta_)\bdeg([CF])\b", r"delta_deg\1", text)
        try:
            q = ureg.Quantity(text)
        except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError) as e:
            hint = _temperature_hint(value, unit)
            near = f"; did you mean '{hint}'?" if hint else _near_miss(e)
            raise UnitError(f"'{value}' has an unknown unit ({_short(e)}){near}") from None
        except Exception:
            raise UnitError(_not_a(f"'{value}'", unit, value)) from None
        if not isinstance(q, pint.Quantity):
            q = Q_(float(q), unit)
        elif q.units == ureg.dimensionless:  # no unit written; 'd/s' or '%' is a unit
            q = Q_(q.magnitude, unit)
    else:
        raise UnitError(_not_a(repr(value), unit))
    try:
        return q.to(unit)
    except pint.errors.DimensionalityError:
        shown = value if isinstance(value, str) else f"{q:~P}"
        raise UnitError(_not_a(f"'{shown}'", unit, shown)) from None


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
    return f"{q.magnitude:.{digits}g} {unit_text(q.units)}".rstrip()


def _short(e: Exception) -> str:
    return str(e).splitlines()[0]


def _dimension_key(unit: str) -> str:
    return str(ureg.parse_units(unit).dimensionality) if unit else "dimensionless"


def _is_temperature_difference(unit: str) -> bool:
    """A temperature inside a rate or a delta ('K/min', 'delta_degC') is a difference:
    degC there means a kelvin-sized step, not 273.15 K + x."""
    if "delta_" in unit:
        return True
    dim = ureg.parse_units(unit).dimensionality if unit else {}
    return "[temperature]" in dim and dict(dim) != {"[temperature]": 1}


def _not_a(shown: str, unit: str, text: str | None = None) -> str:
    """ "'5 kg' is not a volume", and what to write instead: the hinted temperature if
    the value looks like one with a bare letter, else the dimension's common units."""
    message = f"{shown} is not {describe_dimension(unit)}"
    hint = _temperature_hint(text, unit) if text is not None else None
    if hint:
        return f"{message} (did you mean '{hint}'?)"
    common = _COMMON_UNITS.get(_dimension_key(unit))
    return f"{message} (use e.g. {', '.join(common)})" if common else message


def _temperature_hint(text: str, unit: str) -> str | None:
    """'250 C' → '250 degC' (or 'delta_degC' for a difference), if that would parse."""
    if "[temperature]" not in _dimension_key(unit):
        return None
    deg = "delta_deg" if _is_temperature_difference(unit) else "deg"
    names = {"c": f"{deg}C", "f": f"{deg}F", "k": "K"}
    hint = _BARE_TEMPERATURE.sub(lambda m: names[m.group(1).lower()], text.strip())
    if hint == text.strip():
        return None
    try:
        ureg.Quantity(hint).to(unit)
    except Exception:
        return None
    return hint


def _near_miss(e: Exception) -> str:
    """ "; did you mean 'kPa'?" for an unknown unit close to a common one, else ""."""
    names = getattr(e, "unit_names", ())
    for name in (names,) if isinstance(names, str) else names:
        close = difflib.get_close_matches(name.lower(), _KNOWN_NAMES, n=1, cutoff=0.7)
        if close:
            return f"; did you mean '{_KNOWN_NAMES[close[0]]}'?"
    return ""
