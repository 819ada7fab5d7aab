"""A bench described in a lab file with no physics code: two Alicat MFCs (unit ids A and B,
given once) fill a heated gas cell, a gauge reads it, a relay vents it (`gas-cell` rig)."""

from __future__ import annotations

from ppu.testing import dry_run
from tests.conftest import ROOT

LAB = ROOT / "protocols" / "examples" / "gas_bench.toml"
R = 8.314462618
SCC_MOL = 101325e-6 / (R * 298.15)  # one standard cm³ (Alicat: 25 °C, 1 atm)


def test_the_cell_fills_as_an_ideal_gas_at_the_heaters_temperature() -> None:
    out = dry_run(
        LAB, "fill_cell", co2="10 sccm", n2="40 sccm", time="1 min", temperature="30 degC"
    )
    # sealed at room pressure and 22 degC, then heated to 30 degC
    assert abs(out["start"].m_as("kPa") - 101.325 * 303.15 / 295.15) < 0.5
    expected = 50 * SCC_MOL * R * 303.15 / 500e-6 / 1000  # 50 scc into 500 mL, in kPa
    # the MFCs also flow while they settle at the start and close at the end: a few %
    assert expected < out["rise"].m_as("kPa") < expected * 1.05


def test_twice_the_flow_gives_twice_the_rise() -> None:
    one = dry_run(LAB, "fill_cell", co2="0 sccm", n2="20 sccm", time="2 min")["rise"]
    two = dry_run(LAB, "fill_cell", co2="0 sccm", n2="40 sccm", time="2 min")["rise"]
    assert abs(two / one - 2) < 0.05
