"""The figures a screening asks for, against the truth they were made from: per material and
temperature whatever the order of the files, uptakes read from the fit where a pressure was not
measured, and IAST saying when it reads a pure-component fit beyond its points."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from tests.analysis.cli import last_json, ppu
from tests.analysis.isotherm_files import CAPTURE_BAR, aif, co2_aif, dsl, langmuir

R = 8.314462618e-3  # kJ/(mol K)
Q_ADS = 28.0  # kJ/mol, the heat the temperature series is made with


def k_at(kelvin: float, k_298: float = 3.0) -> float:
    """A Langmuir constant falling with temperature through the heat of adsorption."""
    return k_298 * math.exp(Q_ADS / R * (1 / kelvin - 1 / 298.15))


def report_of(*files: Path) -> dict:
    code, out, err = ppu("analyze", *map(str, files), "--json")
    assert code == 0, err
    return last_json(out)


def test_any_order_of_the_same_files_gives_the_same_figures_each_with_its_temperature(
    tmp_path: Path,
) -> None:
    files = [
        co2_aif(tmp_path / "co2_273.aif", (5.0, k_at(273.15)), kelvin=273.15),
        co2_aif(tmp_path / "co2_323.aif", (5.0, k_at(323.15)), kelvin=323.15),
        co2_aif(tmp_path / "n2_273.aif", (5.0, 0.05), kelvin=273.15, gas="N2"),
    ]
    reports = [report_of(*order) for order in itertools.permutations(files)]
    first = reports[0]
    for r in reports[1:]:
        assert r["materials"] == first["materials"]
        assert sorted(r["warnings"]) == sorted(first["warnings"])
    (m,) = first["materials"]
    cold, warm = m["by_temperature"]
    assert cold["temperature"] == {"value": 273.15, "unit": "K"}
    assert warm["temperature"] == {"value": 323.15, "unit": "K"}
    for at, kelvin in ((cold, 273.15), (warm, 323.15)):
        truth = langmuir(0.15, 5.0, k_at(kelvin))
        assert at["co2_uptake_0p15bar"]["value"] == pytest.approx(truth, rel=0.005)
    # the selectivity is where both gases were measured, at that temperature
    assert cold["selectivity"]["temperature"]["value"] == 273.15
    assert "selectivity" not in warm and "N2" in warm["not_computed"]["selectivity"]
    # and the heat, from both temperatures
    heat = m["heat_of_adsorption"]["CO2"]
    assert heat["median"]["value"] == pytest.approx(Q_ADS, rel=0.05)
    assert [t["value"] for t in heat["temperatures"]] == [273.1, 323.1]


def test_two_isotherms_of_one_gas_at_one_temperature_give_the_one_with_more_points(
    tmp_path: Path,
) -> None:
    few = co2_aif(tmp_path / "a_few.aif", (4.0, 3.0), pressures=[0.05, 0.1, 0.3, 0.6, 1.0])
    many = co2_aif(tmp_path / "b_many.aif", (5.0, 3.0))
    for order in ((few, many), (many, few)):
        (at,) = report_of(*order)["materials"][0]["by_temperature"]
        assert at["co2_uptake_0p15bar"]["value"] == pytest.approx(
            langmuir(0.15, 5.0, 3.0), rel=0.005
        )
        assert any(str(few) in w and "not" in w for w in at["warnings"])
        # the figure names the isotherm it was read from (the kernel stores that one's fit)
        assert "b_many.aif" in at["co2_uptake_0p15bar"]["source"]


@pytest.mark.parametrize(
    "params",
    [
        (1.2, 40.0, 6.0, 0.6),  # a strong site filling by 0.15 bar, as Mg-MOF-74
        (0.5, 20.0, 8.0, 0.4),
        (5.0, 3.0),
    ],
)
def test_uptake_at_0p15_bar_comes_from_the_fit_not_a_line_between_points(
    tmp_path: Path, params: tuple[float, ...]
) -> None:
    """On the analyzers' spacing (0.1 and 0.2 bar around 0.15), a line between points reads a
    concave isotherm low; the fit reads the truth."""
    f = co2_aif(tmp_path / "co2.aif", params)
    r = report_of(f)
    (at,) = r["materials"][0]["by_temperature"]
    fn = langmuir if len(params) == 2 else dsl
    truth = fn(0.15, *params)
    line = fn(0.1, *params) + (fn(0.2, *params) - fn(0.1, *params)) * 0.5
    assert at["co2_uptake_0p15bar"]["method"].endswith(" fit")
    assert not at["co2_uptake_0p15bar"]["extrapolated"]
    assert at["co2_uptake_0p15bar"]["value"] == pytest.approx(truth, rel=0.005)
    assert abs(line / truth - 1) > 0.004  # what interpolation would have said


def test_an_uptake_read_beyond_the_points_is_flagged(tmp_path: Path) -> None:
    f = co2_aif(tmp_path / "co2.aif", (5.0, 3.0), pressures=[0.2, 0.3, 0.4, 0.5, 0.7, 0.8])
    r = report_of(f)
    (at,) = r["materials"][0]["by_temperature"]
    for key in ("co2_uptake_0p15bar", "co2_uptake_1bar"):
        assert at[key]["extrapolated"], key
        assert "extrapolated" in at[key]["method"]
    assert sum("extrapolated" in w for w in r["warnings"]) == 2


def test_iast_equals_the_truth_and_names_the_n2_fit_read_far_beyond_its_points(
    tmp_path: Path,
) -> None:
    """CO2 on a strong sorbent beside N2 measured to 1 bar: IAST reads the N2 isotherm at the
    pressure of equal spreading pressure, far above 1 bar; the result says so."""
    co2 = (1.2, 40.0, 6.0, 0.6)
    n2 = (4.0, 0.08)
    files = [
        co2_aif(tmp_path / "co2.aif", co2),
        co2_aif(tmp_path / "n2.aif", n2, gas="N2"),
    ]
    r = report_of(*files)
    (at,) = r["materials"][0]["by_temperature"]
    sel = at["selectivity"]
    assert sel["extrapolated"] == ["N2"]
    assert sel["pure_component_pressures"]["N2"]["value"] > 5.0
    assert any("IAST reads the N2 fit at" in w and "beyond its points" in w for w in r["warnings"])
    # the truth: IAST on the models the files were made from, solved here
    truth = _iast_selectivity([co2[0:2], co2[2:4]], [n2], 0.15, 1.0)
    assert sel["value"] == pytest.approx(truth, rel=0.01)
    # the Henry-regime ratio the campaign used to store is far from it
    henry = (dsl(0.15, *co2) / 0.15) / (langmuir(1.0, *n2) * 0.85 / 0.85)
    assert abs(henry / truth - 1) > 0.3


def _iast_selectivity(
    sites_1: list[tuple[float, float]], sites_2: list[tuple[float, float]], y1: float, total: float
) -> float:
    """IAST for two (multi-site) Langmuir gases: the spreading pressure of n_m K p/(1 + K p)
    summed over sites is Σ n_m ln(1 + K p); equal spreading pressures fix the adsorbed
    fraction x1, solved by bisection."""

    def spread(sites: list[tuple[float, float]], p: float) -> float:
        return sum(n * math.log1p(k * p) for n, k in sites)

    def loading(sites: list[tuple[float, float]], p: float) -> float:
        return sum(n * k * p / (1 + k * p) for n, k in sites)

    y2 = 1 - y1
    lo, hi = 1e-12, 1 - 1e-12
    for _ in range(200):
        x1 = (lo + hi) / 2
        diff = spread(sites_1, y1 * total / x1) - spread(sites_2, y2 * total / (1 - x1))
        lo, hi = (x1, hi) if diff > 0 else (lo, x1)
    x1 = (lo + hi) / 2
    return (x1 / (1 - x1)) / (y1 / y2)


def test_a_fits_rmse_is_in_mmol_per_g(tmp_path: Path) -> None:
    """pyGAPS's own RMSE is a share of the loading range; the report's is the loadings'."""
    pts = [
        (p, langmuir(p, 5.0, 3.0) + (0.01 if k % 2 else -0.01)) for k, p in enumerate(CAPTURE_BAR)
    ]
    f = aif(tmp_path / "co2.aif", pts, gas="CO2", kelvin=298.15)
    (entry,) = report_of(f)["isotherms"]
    assert entry["fit"]["rmse"]["unit"] == "mmol/g"
    assert entry["fit"]["rmse"]["value"] == pytest.approx(0.01, rel=0.2)


def test_bet_uses_the_saturation_pressure_measured_with_the_points(tmp_path: Path) -> None:
    """A bath 0.3 K colder than 77.35 K: p0 is 3.7 % lower. With the measured p0 beside each
    point BET finds the true area; from pyGAPS's p0 at 77.35 K it would not."""
    from tests.analysis.isotherm_files import BET_X, bet_area, bet_loading

    p0 = 0.975  # bar, as a saturation-pressure cell would read it
    rows = "".join(f"{x * p0:.8g} {p0} {bet_loading(x, 10.26, 120.0):.8g}\n" for x in BET_X)
    head = (
        "data_t\n_exptl_adsorptive N2\n_exptl_temperature 77.35\n_adsnt_material_id 'M'\n"
        "_units_temperature K\n_units_pressure bar\n_units_mass g\n_units_loading 'mmol/g'\n\n"
    )
    with_p0 = tmp_path / "with_p0.aif"
    with_p0.write_text(head + "loop_\n_adsorp_pressure\n_adsorp_p0\n_adsorp_amount\n" + rows)
    measured = report_of(with_p0)
    (m,) = measured["materials"]
    assert m["bet_area"]["value"] == pytest.approx(bet_area(10.26), rel=0.005)
    (entry,) = measured["isotherms"]
    assert entry["bet"]["p0"].startswith("measured")
    without = tmp_path / "without_p0.aif"
    without.write_text(
        head
        + "loop_\n_adsorp_pressure\n_adsorp_amount\n"
        + "".join(" ".join(r.split()[::2]) + "\n" for r in rows.splitlines())
    )
    (m,) = report_of(without)["materials"]
    assert abs(m["bet_area"]["value"] / bet_area(10.26) - 1) > 0.01
