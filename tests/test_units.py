"""Parsing values with units as people type them at a lab bench."""

from __future__ import annotations

from typing import Any

import pytest

from ppu.core.units import Q_, UnitError, from_json, parse_quantity, show, to_json, unit_text


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("50 SCCM", "sccm", 50.0),
        ("50 sccm", "sccm", 50.0),
        ("1 slm", "sccm", 1000.0),
        ("1 SLM", "sccm", 1000.0),
        ("2 SLPM", "sccm", 2000.0),
        ("2 slpm", "sccm", 2000.0),
        ("1 sccs", "sccm", 60.0),
        ("5 ccm", "mL/min", 5.0),
        ("5 CCM", "mL/min", 5.0),
        ("1 L/min", "ccm", 1000.0),
    ],
)
def test_flow_units_as_mass_flow_controllers_write_them(
    text: str, unit: str, expected: float
) -> None:
    assert parse_quantity(text, unit).m_as(unit) == pytest.approx(expected)


def test_a_standard_flow_is_not_a_volumetric_flow() -> None:
    with pytest.raises(UnitError, match=r"^'5 sccm' is not a volumetric flow"):
        parse_quantity("5 sccm", "mL/min")
    with pytest.raises(UnitError, match=r"^'5 ccm' is not a standard gas flow"):
        parse_quantity("5 ccm", "sccm")


@pytest.mark.parametrize("unit", ["sccm", "SCCM", "slpm", "SLM", "ccm", "CCM", "sccs", "Torr"])
def test_unit_text_of_the_new_units_parses_again(unit: str) -> None:
    q = Q_(3.0, unit)
    text = unit_text(q.units)
    assert parse_quantity(f"3 {text}", unit).m_as(unit) == pytest.approx(3.0)
    assert from_json(to_json(q)).m_as(unit) == pytest.approx(3.0)
    assert parse_quantity(show(q), unit).m_as(unit) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("1 mL/min", "mL/min", 1.0),
        ("10 degC/min", "delta_degC/min", 10.0),
        ("10 degC/min", "K/min", 10.0),  # a rate: a degree step, not 283.15 K
        ("101.3 kPa", "bar", 1.013),
        ("1 bar", "bar", 1.0),
        ("760 Torr", "bar", 1.01325),
        ("760 torr", "bar", 1.01325),
        ("5 mmol/g", "mmol/g", 5.0),
        ("2 h", "h", 2.0),
        ("120 d", "d", 120.0),
        ("25 K", "K", 25.0),
        ("298.15 K", "degC", 25.0),
        ("250 degC", "K", 523.15),
        ("250 °C", "K", 523.15),
        ("5 uL", "mL", 0.005),
        ("5 m^2/g", "m^2/g", 5.0),
        ("3 delta_degC", "delta_degC", 3.0),
    ],
)
def test_existing_units_still_work(text: str, unit: str, expected: float) -> None:
    assert parse_quantity(text, unit).m_as(unit) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "unit", "message"),
    [
        ("250 C", "degC", "'250 C' is not a temperature (did you mean '250 degC'?)"),
        ("250 c", "degC", "'250 c' is not a temperature (did you mean '250 degC'?)"),
        ("77 F", "degC", "'77 F' is not a temperature (did you mean '77 degF'?)"),
        ("250 C", "K", "'250 C' is not a temperature (did you mean '250 degC'?)"),
        ("250 deg C", "degC", "'250 deg C' is not a temperature (did you mean '250 degC'?)"),
        ("25 k", "K", "'25 k' is not a temperature (did you mean '25 K'?)"),
        ("5 C", "delta_degC", "'5 C' is not a temperature (did you mean '5 delta_degC'?)"),
        (
            "10 C/min",
            "delta_degC/min",
            "'10 C/min' is not a quantity in delta_degC/min (did you mean '10 delta_degC/min'?)",
        ),
        (
            "77 f",
            "degC",
            "'77 f' has an unknown unit ('f' is not defined in the unit registry);"
            " did you mean '77 degF'?",
        ),
    ],
)
def test_a_temperature_with_a_bare_letter_is_refused_with_a_hint(
    text: str, unit: str, message: str
) -> None:
    with pytest.raises(UnitError) as e:
        parse_quantity(text, unit)
    assert str(e.value) == message


def test_a_bare_letter_is_only_hinted_where_a_temperature_is_expected() -> None:
    with pytest.raises(UnitError) as e:
        parse_quantity("5 C", "bar")
    assert str(e.value) == "'5 C' is not a pressure (use e.g. Pa, kPa, bar, mbar, Torr, psi)"


@pytest.mark.parametrize(
    ("text", "unit", "message"),
    [
        ("5 kg", "mL", "'5 kg' is not a volume (use e.g. mL, L, uL)"),
        ("5 degC", "mL", "'5 degC' is not a volume (use e.g. mL, L, uL)"),
        ("3 m", "s", "'3 m' is not a time (use e.g. s, min, h, d)"),
        ("2 bar", "degC", "'2 bar' is not a temperature (use e.g. degC, K, degF)"),
        ("5 mL", "bar", "'5 mL' is not a pressure (use e.g. Pa, kPa, bar, mbar, Torr, psi)"),
        (
            "5 sccm",
            "mL/min",
            "'5 sccm' is not a volumetric flow (use e.g. mL/min, L/min, uL/min, ccm)",
        ),
        ("5 mL/min", "sccm", "'5 mL/min' is not a standard gas flow (use e.g. sccm, slpm)"),
        ("5 mL", "g", "'5 mL' is not a mass (use e.g. mg, g, kg)"),
        ("5 mmol", "mmol/g", "'5 mmol' is not an amount per mass (use e.g. mmol/g)"),
        ("5 m^2", "m^2/g", "'5 m^2' is not an area per mass (use e.g. m^2/g)"),
        ("5 s", "mm", "'5 s' is not a length (use e.g. mm, cm, m)"),
        ("5 g", "mmol", "'5 g' is not an amount of substance (use e.g. mmol, mol)"),
    ],
)
def test_a_wrong_dimension_lists_the_common_units(text: str, unit: str, message: str) -> None:
    with pytest.raises(UnitError) as e:
        parse_quantity(text, unit)
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Q_(5.0, "kg"), "'5.0 kg' is not a volume (use e.g. mL, L, uL)"),
        ({"value": 5, "unit": "kg"}, "'5.0 kg' is not a volume (use e.g. mL, L, uL)"),
        (True, "True is not a volume (use e.g. mL, L, uL)"),
        (False, "False is not a volume (use e.g. mL, L, uL)"),
        ([5], "[5] is not a volume (use e.g. mL, L, uL)"),
    ],
)
def test_values_that_are_not_strings_get_the_same_message(value: Any, message: str) -> None:
    with pytest.raises(UnitError) as e:
        parse_quantity(value, "mL")
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("text", "unit", "suggestion"),
    [
        ("5 kpa", "bar", "kPa"),
        ("5 TORR", "bar", "Torr"),
        ("5 sscm", "sccm", "sccm"),
        ("5 uL/mn", "mL/min", "min"),
        ("5 MBAR", "bar", "mbar"),
    ],
)
def test_an_unknown_unit_near_a_common_one_says_which(
    text: str, unit: str, suggestion: str
) -> None:
    with pytest.raises(UnitError) as e:
        parse_quantity(text, unit)
    assert str(e.value).startswith(f"'{text}' has an unknown unit ("), str(e.value)
    assert str(e.value).endswith(f"; did you mean '{suggestion}'?"), str(e.value)


def test_an_unknown_unit_far_from_any_keeps_the_plain_message() -> None:
    with pytest.raises(UnitError) as e:
        parse_quantity("5 blorp", "mL")
    assert (
        str(e.value)
        == "'5 blorp' has an unknown unit ('blorp' is not defined in the unit registry)"
    )


def test_an_unknown_unit_in_a_json_value_says_which() -> None:
    with pytest.raises(UnitError, match=r"did you mean 'kPa'\?$"):
        parse_quantity({"value": 5, "unit": "kpa"}, "bar")


@pytest.mark.parametrize("value", ["120", " 120 ", 120, 120.0, "1.2e2"])
def test_only_a_bare_number_takes_the_expected_unit(value: Any) -> None:
    q = parse_quantity(value, "s")
    assert q.m_as("s") == pytest.approx(120.0)
    assert unit_text(q.units) == "s"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("120 d/s", "'120 d/s' is not a time (use e.g. s, min, h, d)"),
        ("120 mL/L", "'120 mL/L' is not a time (use e.g. s, min, h, d)"),
        ("5 %", "'5 %' is not a time (use e.g. s, min, h, d)"),
        ("5 percent", "'5 percent' is not a time (use e.g. s, min, h, d)"),
    ],
)
def test_units_that_cancel_are_not_a_bare_number(text: str, message: str) -> None:
    with pytest.raises(UnitError) as e:
        parse_quantity(text, "s")
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("5 %", "", 0.05),
        ("5 percent", "", 0.05),
        ("0.5", "", 0.5),
        (0.5, "", 0.5),
        ("120 d/s", "", 120 * 86400),
        ("50 %", "%", 50.0),
        ("50", "%", 50.0),
        ("0.5", "dimensionless", 0.5),
    ],
)
def test_dimensionless_values(value: Any, unit: str, expected: float) -> None:
    assert parse_quantity(value, unit).m_as(unit or "dimensionless") == pytest.approx(expected)


def test_a_quantity_passes_through_converted() -> None:
    assert parse_quantity(Q_(1.5, "h"), "min").m_as("min") == pytest.approx(90.0)
