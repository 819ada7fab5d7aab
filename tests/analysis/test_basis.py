"""Units and basis as files state them: every basis reaches the true BET area and uptake, and a
file whose basis is ambiguous is refused naming the ambiguity, never read ×3.6 or ×124."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysis.cli import last_json, ppu, refused
from tests.analysis.isotherm_files import (
    CO2_G_PER_MOL,
    N2_G_PER_MOL,
    STP_CM3_PER_MMOL,
    bet_area,
    co2_aif,
    langmuir,
    n2_bet_aif,
)

DATA = Path("/work/shared/data/isotherms")
N_M, C = 10.26, 120.0  # a 1000 m²/g solid
MOLAR_MASS = 650.0  # g/mol of the material, for per-mol files
DENSITY = 0.95  # g/cm3 of the material, for per-volume files


def bet_of(*args: str) -> float:
    code, out, err = ppu("analyze", *args, "--json")
    assert code == 0, err
    (m,) = last_json(out)["materials"]
    return m["bet_area"]["value"]


@pytest.mark.parametrize(
    ("unit", "per_mmol_g", "options"),
    [
        ("mmol/g", 1.0, ()),
        ("mol/kg", 1.0, ()),
        ("cm3(STP)/g", STP_CM3_PER_MMOL, ()),
        ("cm3 STP g-1", STP_CM3_PER_MMOL, ()),
        ("mg/g", N2_G_PER_MOL, ()),
        ("cm3/g", STP_CM3_PER_MMOL, ("--volume-basis", "stp")),
        ("mmol/mol", MOLAR_MASS, ("--material-molar-mass", f"{MOLAR_MASS} g/mol")),
        ("mmol/cm3", DENSITY, ("--material-density", f"{DENSITY} g/cm^3")),
    ],
)
def test_bet_area_is_the_true_area_in_every_stated_basis(
    tmp_path: Path, unit: str, per_mmol_g: float, options: tuple[str, ...]
) -> None:
    f = n2_bet_aif(tmp_path / "n2.aif", N_M, C, per_mmol_g=per_mmol_g, loading_unit=unit)
    area = bet_of(str(f), *options)
    assert area == pytest.approx(bet_area(N_M), rel=0.03), unit


def test_a_bare_cm3_per_g_is_refused_naming_the_ambiguity_and_the_factor(tmp_path: Path) -> None:
    n2 = n2_bet_aif(tmp_path / "n2.aif", N_M, C, per_mmol_g=STP_CM3_PER_MMOL, loading_unit="cm3/g")
    line = refused("analyze", str(n2))
    assert line.startswith(str(n2)) and "ambiguous" in line and "--volume-basis" in line
    assert "×3.69" in line  # what pyGAPS's own reading would have made of it
    co2 = co2_aif(
        tmp_path / "co2.aif", (5.0, 3.0), per_mmol_g=STP_CM3_PER_MMOL, loading_unit="cm3/g"
    )
    line = refused("analyze", str(co2))
    assert line.startswith(str(co2)) and "×124" in line


def test_co2_in_cm3_stp_gives_the_true_uptake_not_124_times_it(tmp_path: Path) -> None:
    f = co2_aif(
        tmp_path / "co2.aif", (5.0, 3.0), per_mmol_g=STP_CM3_PER_MMOL, loading_unit="cm3(STP)/g"
    )
    for options in ((), ("--volume-basis", "stp")):
        code, out, err = ppu("analyze", str(f), *options, "--json")
        assert code == 0, err
        (m,) = last_json(out)["materials"]
        (at,) = m["by_temperature"]
        assert at["co2_uptake_0p15bar"]["value"] == pytest.approx(
            langmuir(0.15, 5.0, 3.0), rel=0.01
        )
    # a bare volume said to be STP: the same figure
    bare = co2_aif(
        tmp_path / "bare.aif", (5.0, 3.0), per_mmol_g=STP_CM3_PER_MMOL, loading_unit="cm3/g"
    )
    code, out, err = ppu("analyze", str(bare), "--volume-basis", "stp", "--json")
    assert code == 0, err
    (at,) = last_json(out)["materials"][0]["by_temperature"]
    assert at["co2_uptake_0p15bar"]["value"] == pytest.approx(langmuir(0.15, 5.0, 3.0), rel=0.01)


def test_co2_in_mg_per_g_is_converted_through_its_molar_mass(tmp_path: Path) -> None:
    f = co2_aif(tmp_path / "co2.aif", (5.0, 3.0), per_mmol_g=CO2_G_PER_MOL, loading_unit="mg/g")
    code, out, err = ppu("analyze", str(f), "--json")
    assert code == 0, err
    (at,) = last_json(out)["materials"][0]["by_temperature"]
    assert at["co2_uptake_0p15bar"]["value"] == pytest.approx(langmuir(0.15, 5.0, 3.0), rel=0.01)


def test_per_mol_and_per_volume_of_material_need_its_molar_mass_or_density(tmp_path: Path) -> None:
    per_mol = n2_bet_aif(
        tmp_path / "mol.aif", N_M, C, per_mmol_g=MOLAR_MASS, loading_unit="mmol/mol"
    )
    line = refused("analyze", str(per_mol))
    assert line.startswith(str(per_mol)) and "molar mass" in line
    assert "--material-molar-mass" in line
    per_cm3 = n2_bet_aif(tmp_path / "vol.aif", N_M, C, per_mmol_g=DENSITY, loading_unit="mmol/cm3")
    line = refused("analyze", str(per_cm3))
    assert line.startswith(str(per_cm3)) and "density" in line
    assert "not positive" in refused("analyze", str(per_mol), "--material-molar-mass", "-3 g/mol")
    assert "--material-molar-mass" in refused(
        "analyze", str(per_mol), "--material-molar-mass", "3 bar"
    )
    assert "--volume-basis" in refused("analyze", str(per_mol), "--volume-basis", "gas")


def test_the_real_mol_per_mol_record_is_refused_then_read_with_its_molar_mass() -> None:
    """NIST ISODB's Ni2(dobdc) record is in mol CO2 per mol of material: once a TypeError from
    inside pyGAPS, now one line asking for the molar mass."""
    f = DATA / "nist_iso.json"
    line = refused("analyze", str(f))
    assert line.startswith(str(f)) and "molar mass" in line and "TypeError" not in line
    code, out, err = ppu("analyze", str(f), "--material-molar-mass", "311.5 g/mol", "--json")
    assert code == 0, err
    report = last_json(out)
    (entry,) = report["isotherms"]
    assert entry["read_as"].startswith("mol/mol")
    # pyGAPS's file says no temperature unit: that it assumed K is said, not hidden
    assert any("temperature_unit" in w for w in entry["warnings"])
    import pygaps.parsing as pgp

    raw = pgp.isotherm_from_json(f.read_text(), fmt="NIST")
    top = max(raw.loading(branch="ads"))  # mol/mol
    assert entry["max_uptake"]["value"] == pytest.approx(top / 311.5 * 1000, rel=1e-6)


def test_the_real_cm3_stp_aif_is_read_in_mmol_per_g() -> None:
    f = DATA / "DMOF C2H6 298K.aif"
    code, out, err = ppu("analyze", str(f), "--json")
    assert code == 0, err
    (entry,) = last_json(out)["isotherms"]
    assert entry["read_as"] == "cm3(STP)/g, absolute kPa"
    import pygaps.parsing as pgp

    top = max(pgp.isotherm_from_aif(str(f)).loading(branch="ads"))  # cm3(STP)/g
    # pyGAPS's 4.461e-5 mol per cm3(STP)
    assert entry["max_uptake"]["value"] == pytest.approx(top * 0.04461, rel=1e-6)
    assert entry["pressure_range"][1]["value"] == pytest.approx(30.45, rel=1e-3)  # 3045 kPa
