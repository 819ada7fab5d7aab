"""What cannot be an adsorption isotherm is refused with one line naming the file (exit 2); what
is possible but doubtful is analysed with a warning; no message shows a library's insides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.cli import last_json, ppu, refused
from tests.analysis.isotherm_files import CAPTURE_BAR, aif, co2_aif, langmuir, n2_bet_aif

#: what a person must never read in a message
INTERNALS = ("vector::", "_M_range_check", "pop expected", "TypeError", "NoneType", "Traceback")


def warnings_of(*args: str) -> list[str]:
    code, out, err = ppu("analyze", *args, "--json")
    assert code == 0, err
    return last_json(out)["warnings"]


def test_negative_pressures_are_refused(tmp_path: Path) -> None:
    pts = [(-0.01, 0.05)] + [(p, langmuir(p, 5.0, 3.0)) for p in CAPTURE_BAR[1:]]
    f = aif(tmp_path / "gauge.aif", pts, gas="CO2", kelvin=298.15)
    line = refused("analyze", str(f))
    assert line.startswith(str(f)) and "negative pressure" in line and "-0.01 bar" in line


def test_loading_falling_with_pressure_is_refused(tmp_path: Path) -> None:
    pts = [(p, 3.0 - 2.0 * p) for p in CAPTURE_BAR]
    f = aif(tmp_path / "falls.aif", pts, gas="CO2", kelvin=298.15)
    line = refused("analyze", str(f))
    assert line.startswith(str(f)) and "falls with pressure" in line


def test_scatter_within_the_stated_sigma_is_not_a_fall(tmp_path: Path) -> None:
    """A blank-like sample's points scatter around their trend: within 3σ that is noise."""
    pts = [
        (p, langmuir(p, 5.0, 3.0) + (0.015 if k % 2 else -0.015)) for k, p in enumerate(CAPTURE_BAR)
    ]
    f = aif(tmp_path / "noisy.aif", pts, gas="CO2", kelvin=298.15, sigma=[0.01] * len(pts))
    assert ppu("analyze", str(f))[0] == 0


def test_an_excess_maximum_in_dense_gas_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    pressures = [0.5, 1, 2, 5, 10, 15, 20, 30, 40, 50]
    pts = [(p, langmuir(p, 10.0, 0.05) - 0.15 * p) for p in pressures]  # excess: n − V ρ
    f = aif(tmp_path / "ch4.aif", pts, gas="CH4", kelvin=298.15)
    assert any("excess maximum" in w for w in warnings_of(str(f)))


def test_a_dual_site_fit_is_never_made_on_two_points(tmp_path: Path) -> None:
    f = co2_aif(tmp_path / "two.aif", (2.0, 8.0, 4.0, 0.5), pressures=[0.1, 0.9])
    code, out, err = ppu("analyze", str(f), "--json")
    assert code == 0, err
    report = last_json(out)
    (entry,) = report["isotherms"]
    assert entry["fit"]["model"] == "Henry"
    assert entry["fit"]["failed"]["DSLangmuir"].startswith("needs 8 points")
    assert any("2 point(s)" in w and "DSLangmuir needs 8" in w for w in report["warnings"])


def test_co2_at_77_k_is_refused(tmp_path: Path) -> None:
    f = co2_aif(tmp_path / "co2.aif", (5.0, 3.0), kelvin=77.35)
    line = refused("analyze", str(f))
    assert line.startswith(str(f)) and "CO2 at 77.35 K is a solid" in line


def test_celsius_written_as_kelvin_is_refused_with_the_likely_meaning(tmp_path: Path) -> None:
    f = co2_aif(tmp_path / "co2.aif", (5.0, 3.0), kelvin=25)
    line = refused("analyze", str(f))
    assert line.startswith(str(f)) and "is '25 K' 25 °C (298.15 K)?" in line
    n2 = n2_bet_aif(tmp_path / "n2.aif", 10.0, 100.0)
    n2.write_text(n2.read_text().replace("_exptl_temperature 77.35", "_exptl_temperature 35"))
    line = refused("analyze", str(n2))
    assert "is '35 K' 35 °C" in line


def test_points_above_condensation_carry_a_warning(tmp_path: Path) -> None:
    """Ethane condenses at 41.9 bar at 298 K: points to 50 bar are partly liquid."""
    pressures = [1, 5, 10, 20, 30, 40, 45, 50]
    f = co2_aif(tmp_path / "c2h6.aif", (8.0, 0.5), pressures=pressures, gas="C2H6")
    assert any("condenses at 41.9 bar" in w and "not adsorption" in w for w in warnings_of(str(f)))


def test_an_implausible_uptake_carries_a_warning(tmp_path: Path) -> None:
    """1650 mmol/g of CO2 is 40 times what any solid holds: analysed, and said to be wrong."""
    f = co2_aif(tmp_path / "co2.aif", (1650.0, 3.0))
    code, out, err = ppu("analyze", str(f), "--json")
    assert code == 0, err
    report = last_json(out)
    (w,) = report["warnings"]
    assert "implausible" in w and "check the loading unit" in w
    assert report["isotherms"][0]["warnings"] == [w.removeprefix(f"{f}: ")]


def test_an_implausible_bet_area_carries_a_warning(tmp_path: Path) -> None:
    f = n2_bet_aif(tmp_path / "n2.aif", 10.26, 120.0, per_mmol_g=22.414, loading_unit="mmol/g")
    assert any("BET area" in w and "exceeds any known solid" in w for w in warnings_of(str(f)))


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("garbage.aif", "data_x\n_this is not cif ''' \nloop_\n", "not readable"),
        (
            "nounits.aif",
            "data_x\n_exptl_adsorptive CO2\n_exptl_temperature 298\n_adsnt_material_id 'M'\n"
            "\nloop_\n_adsorp_pressure\n_adsorp_amount\n0.1 1\n0.2 2\n",
            "not readable",
        ),
        (
            "relative.aif",
            "data_x\n_exptl_adsorptive CO2\n_exptl_temperature 320\n_adsnt_material_id 'M'\n"
            "_units_temperature K\n_units_pressure p/p0\n_units_mass g\n_units_loading 'mmol/g'\n"
            "\nloop_\n_adsorp_pressure\n_adsorp_amount\n0.1 1\n0.2 2\n",
            "above its critical temperature",
        ),
        (
            "unknown.aif",
            "data_x\n_exptl_adsorptive unobtainium\n_exptl_temperature 77\n"
            "_adsnt_material_id 'M'\n_units_temperature K\n_units_pressure p/p0\n_units_mass g\n"
            "_units_loading 'mmol/g'\n\nloop_\n_adsorp_pressure\n_adsorp_amount\n0.1 1\n0.2 2\n",
            "knows no vapour pressure of unobtainium",
        ),
        ("notes.json", '{"hello": 1}', "not readable"),
    ],
)
def test_broken_files_are_one_line_without_internals(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    f = tmp_path / name
    f.write_text(text)
    line = refused("analyze", str(f))
    assert line.startswith(str(f)) and expected in line
    assert not any(bad in line for bad in INTERNALS), line
