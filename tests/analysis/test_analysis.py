"""Isotherm analysis as a chemist sees it: `ppu analyze` on real measured isotherms, `ppu export`
AIF files that pyGAPS reads back, and the `analyze` kernel on a sample's stored isotherms."""

from __future__ import annotations

import contextlib
import csv
import time
from pathlib import Path

import pytest
from sqlmodel import select

from ppu.core.clock import Clock
from ppu.store import Store
from ppu.store.models import Campaign, Experiment, Launch, Measurement, Sample
from tests.analysis.cli import last_json, ppu

DATA = Path("/work/shared/data/isotherms")
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared isotherm data not present")

# README.md of the data: pyGAPS's own test expectations
BET_REFERENCE = {
    "UiO-66(Zr)": 1250.0,
    "Takeda 5A": 1075.0,
    "NaY": 700.0,
    "MCM-41": 350.0,
    "SiO2": 200.0,
}


def test_bet_areas_equal_pygaps_and_the_references() -> None:
    import pygaps.parsing as pgp
    from pygaps.characterisation.area_bet import area_BET

    files = [DATA / f"{name} N2 77K.json" for name in BET_REFERENCE]
    code, out, err = ppu("analyze", *map(str, files), "--json")
    assert code == 0, err
    areas = {m["material"]: m["bet_area"] for m in last_json(out)["materials"] if "bet_area" in m}
    assert set(areas) == set(BET_REFERENCE)
    for f, (name, reference) in zip(files, BET_REFERENCE.items(), strict=True):
        assert areas[name]["unit"] in ("m**2/g", "m^2/g")
        ours = areas[name]["value"]
        theirs = area_BET(pgp.isotherm_from_json(f.read_text()))["area"]
        assert abs(ours - theirs) <= 0.01 * theirs, (name, ours, theirs)
        assert abs(ours - reference) <= 0.10 * reference, (name, ours, reference)


def test_hkust1_co2_uptake_at_0p15_bar_matches_the_measured_points() -> None:
    """The first point is at 0.156 bar: 0.15 bar is read from the fit, and must agree with
    the measured points carried down to 0.15 bar (a line through the first two)."""
    import pygaps.parsing as pgp

    f = DATA / "HKUST-1(Cu) CO2 303K.json"
    code, out, err = ppu("analyze", str(f), "--json")
    assert code == 0, err
    report = last_json(out)
    (entry,) = report["isotherms"]
    uptake = next(u for u in entry["uptakes"] if u["pressure"]["value"] == 0.15)
    assert uptake["uptake"]["unit"] == "mmol/g"
    data = pgp.isotherm_from_json(f.read_text()).data(branch="ads")
    (p1, n1), (p2, n2) = data[["pressure", "loading"]].values[:2]
    measured = n1 + (0.15 - p1) * (n2 - n1) / (p2 - p1)
    assert abs(uptake["uptake"]["value"] - measured) <= 0.03 * measured
    assert entry["fit"]["model"] in ("DSLangmuir", "Langmuir")
    assert uptake["extrapolated"] and "below its lowest point" in uptake["method"]
    (at,) = report["materials"][0]["by_temperature"]
    assert at["temperature"] == {"value": 303.0, "unit": "K"}
    # 1 bar lies between measured points (1.03 bar is the nearest): the fit, not a line
    assert at["co2_uptake_1bar"]["method"] == f"{entry['fit']['model']} fit"
    assert not at["co2_uptake_1bar"]["extrapolated"]


def test_dual_site_langmuir_failing_falls_back_to_langmuir() -> None:
    from protocols import isotherms

    (read,) = isotherms.load(DATA / "HKUST-1(Cu) CO2 303K.json")
    iso = isotherms.normalized(read.isotherm, read.source).isotherm
    f = isotherms.fit(iso)  # the whole branch, to 25 bar
    assert "DSLangmuir" in f.failed
    # within 2 % of its 15 mmol/g plateau, in mmol/g (pyGAPS's own RMSE is a share of the range)
    assert f.model == "Langmuir" and f.rmse is not None and f.rmse < 0.3 and not f.poor


def test_iast_selectivity_of_two_langmuirs_is_the_ratio_of_their_constants() -> None:
    """Equal capacities: IAST reduces to S = K1/K2 at any composition."""
    from protocols import isotherms

    fits = []
    for gas, k in (("CO2", 3.0), ("N2", 0.1)):
        m = _measured(gas, [5 * k * p / (1 + k * p) for p in PRESSURES])
        iso = isotherms.normalized(m.to_pygaps(material="L"), gas).isotherm
        fits.append(isotherms.fit(iso, models=("Langmuir",)))
    r = isotherms.iast_selectivity(fits[0], fits[1])
    assert r["selectivity"] == pytest.approx(30.0, rel=0.01)


def test_isosteric_heat_and_a_temperature_swing_from_three_temperatures() -> None:
    files = [DATA / f"BAX 1500 C4H10 {t}K.json" for t in (298, 323, 348)]
    code, out, err = ppu(
        "analyze",
        *map(str, files),
        "--desorption",
        "0.15 bar",
        "--desorption-temperature",
        "348.15 K",
        "--json",
    )
    assert code == 0, err
    (m,) = last_json(out)["materials"]
    heat = (
        m["heat_of_adsorption"]["C4H10"]
        if "C4H10" in m["heat_of_adsorption"]
        else next(iter(m["heat_of_adsorption"].values()))
    )
    assert heat["median"]["unit"] == "kJ/mol" and 20 < heat["median"]["value"] < 45
    wc = m["by_temperature"][0]["working_capacity"]
    assert m["by_temperature"][0]["temperature"]["value"] == pytest.approx(298.15)
    # desorbing at 348 K what the 348 K isotherm holds at 0.15 bar, via Clausius–Clapeyron
    e348 = next(e for e in last_json(out)["isotherms"] if e["temperature"]["value"] > 340)
    held = next(u for u in e348["uptakes"] if u["pressure"]["value"] == 0.15)["uptake"]["value"]
    assert wc["desorption"]["uptake"]["value"] == pytest.approx(held, rel=0.15)


def test_empty_and_blank_files_give_no_measurable_uptake(tmp_path: Path) -> None:
    blank = tmp_path / "blank.aif"
    blank.write_text(_aif([(0.1, 0.001), (0.5, 0.002), (1.0, 0.001)]))
    empty = tmp_path / "empty.aif"
    empty.write_text(_aif([]))
    for f in (blank, empty):
        code, out, err = ppu("analyze", str(f))
        assert code == 0, err
        assert "no measurable uptake" in out and "Traceback" not in out + err
        code, out, _ = ppu("analyze", str(f), "--json")
        (m,) = last_json(out)["materials"]
        assert m["status"] == "no measurable uptake"


def test_unreadable_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello\n")
    code, out, _ = ppu("analyze", str(f), "--json")
    assert code == 2
    assert last_json(out)["error"].startswith(str(f))
    code, _, _ = ppu("analyze", str(tmp_path / "missing.aif"))
    assert code == 2


# -- a store holding what the sorption kernel stores ---------------------------------------------
PRESSURES = [0.01, 0.05, 0.1, 0.15, 0.3, 0.5, 0.7, 1.0]


def _measured(gas: str, uptakes: list[float], temperature_k: float = 298.15):
    from protocols import isotherms

    rows = [
        Measurement(
            launch_id=1,
            sample_id="S1",
            name=f"uptake@{p:.4g}bar",
            value=n,
            unit="mmol/g",
            virtual_t=0.0,
            wall_t=0.0,
            provenance={
                "pressure_bar": p,
                "sigma": 0.01,
                "gas": gas,
                "temperature_k": temperature_k,
                "branch": "adsorption",
                "point": i + 1,
            },
        )
        for i, (p, n) in enumerate(zip(PRESSURES, uptakes, strict=True))
    ]
    (m,) = isotherms.measured_isotherms(rows)
    return m


def _seed(store: Store, sample: str, isotherms: dict[str, list[float]]) -> None:
    """A campaign with one experiment: activation (degas), then one isotherm launch per gas,
    stored the way `measure_isotherm` stores them."""
    store.add_campaign(Campaign(id="c1", name="test", created_wall=time.time()))
    activate = Launch(
        campaign_id="c1",
        kernel="activate",
        instrument="oven",
        inputs={
            "temperature": {"value": 180.0, "unit": "degC"},
            "time": {"value": 12.0, "unit": "h"},
        },
    )
    store.add_launch(activate, 0.0)
    s = Sample(
        id=sample,
        campaign_id="c1",
        kind="activated",
        made_by=activate.id,
        location="rack:1",
        mass_value=70.6,
        mass_unit="mg",
    )
    store.finish(activate, "done", 1.0, samples=[s])
    ids = [activate.id]
    for gas, uptakes in isotherms.items():
        launch = Launch(
            campaign_id="c1",
            kernel="measure_isotherm",
            instrument="analyzer_1",
            inputs={
                "sample": sample,
                "gas": gas,
                "manifold_volume": {"value": 25.0, "unit": "mL"},
                "manifold_temperature": {"value": 308.15, "unit": "K"},
            },
        )
        store.add_launch(launch, 2.0)
        points = [
            Measurement(
                launch_id=launch.id,
                sample_id=sample,
                name=f"uptake@{p:.4g}bar",
                value=n,
                unit="mmol/g",
                virtual_t=3.0,
                wall_t=time.time(),
                provenance={
                    "kernel": "measure_isotherm",
                    "instrument": "analyzer_1",
                    "software": "ppu 0.1.0",  # what the runtime records
                    "pressure_bar": p,
                    "sigma": 0.002 * (i + 1),
                    "sigma_pressure_bar": 1e-4 * p,
                    "gas": gas,
                    "temperature_k": 298.15,
                    "branch": "adsorption",
                    "point": i + 1,
                },
            )
            for i, (p, n) in enumerate(zip(PRESSURES, uptakes, strict=True))
        ]
        store.finish(
            launch,
            "done",
            4.0,
            outputs={"free_volume": {"value": 11.9, "unit": "mL"}},
            measurements=points,
        )
        ids.append(launch.id)
    store.add_experiment(
        Experiment(
            campaign_id="c1",
            number=1,
            params={"temperature": {"value": 130.0, "unit": "degC"}, "solvent": "DMF"},
            status="COMPLETED",
            objectives={"co2_uptake": {"value": 1.55, "unit": "mmol/g"}},
            launches=ids,
        )
    )


def langmuir(n_m: float, k: float) -> list[float]:
    return [n_m * k * p / (1 + k * p) for p in PRESSURES]


def test_export_aif_reads_back_through_pygaps_with_the_same_points(tmp_path: Path) -> None:
    import pygaps.parsing as pgp

    db = tmp_path / "s.sqlite"
    store = Store(f"sqlite:///{db}")
    co2, n2 = langmuir(5.0, 3.0), langmuir(5.0, 0.1)
    _seed(store, "S1", {"CO2": co2, "N2": n2})
    store.close()
    out = tmp_path / "aif"
    code, stdout, err = ppu(
        "export", "c1", "--format", "aif", "--out", str(out), "--db", str(db), "--json"
    )
    assert code == 0, err
    files = [Path(p) for p in last_json(stdout)["files"]]
    assert len(files) == 2
    back = {str(i.adsorbate): i for i in (pgp.isotherm_from_aif(str(f)) for f in files)}
    iso = back["carbon dioxide"]
    assert (iso.pressure_unit, iso.loading_unit, iso.material_unit) == ("bar", "mmol", "g")
    assert iso.pressure(branch="ads").tolist() == pytest.approx(PRESSURES)
    assert iso.loading(branch="ads").tolist() == pytest.approx(co2, rel=1e-6)
    assert iso.data(branch="ads")["amount_sigma"].tolist() == pytest.approx(
        [0.002 * (i + 1) for i in range(len(PRESSURES))]
    )
    assert iso.data(branch="ads")["pressure_sigma"].tolist() == pytest.approx(
        [1e-4 * p for p in PRESSURES]
    )
    meta = iso.to_dict()
    assert meta["material_batch"] == "S1"  # AIF's _adsnt_sample_id: the sample, not a batch
    assert meta["ppu_experiment"] == 1
    assert meta["material_mass"] == pytest.approx(0.0706)
    assert meta["activation_temperature"] == pytest.approx(453.15)
    assert meta["instrument"] == "analyzer_1"
    assert meta["material"] == "S1" and meta["ppu_launch"] == 2
    assert iso.temperature == pytest.approx(298.15)
    text = files[0].read_text()
    for item in (
        "calibration_manifold_volume '25 mL'",
        "calibration_free_space '11.9 mL'",
        "ppu_version '0.1.0'",
        "_adsnt_sample_id 'S1'",
        "_adsorp_pressure_sigma",
        "_adsnt_degas_time 12",
        "_units_time h",
        "raw_data",
    ):
        assert item in text, item
    # and `ppu analyze` reads them as any other AIF
    code, stdout, err = ppu("analyze", *map(str, files), "--json")
    assert code == 0, err
    (m,) = last_json(stdout)["materials"]
    (at,) = m["by_temperature"]
    assert at["selectivity"]["value"] == pytest.approx(30.0, rel=0.02)


def test_export_csv_has_every_experiment_with_units(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    store = Store(f"sqlite:///{db}")
    _seed(store, "S1", {"CO2": langmuir(5.0, 3.0)})
    store.close()
    code, stdout, err = ppu(
        "export", "c1", "--format", "csv", "--out", str(tmp_path), "--db", str(db)
    )
    assert code == 0, err
    path = Path(stdout.strip().splitlines()[-1])
    rows = list(csv.reader(path.open()))
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert "param.temperature [degC]" in header and "objective.co2_uptake [mmol/g]" in header
    assert first["experiment"] == "1" and first["status"] == "COMPLETED"
    assert float(first["param.temperature [degC]"]) == 130.0
    assert first["param.solvent"] == "DMF"
    code, _, _ = ppu("export", "nope", "--out", str(tmp_path), "--db", str(db))
    assert code == 2


# -- the kernel, launched through the runtime ----------------------------------------------------
def _launch_analyze(tmp_path: Path, isotherms: dict[str, list[float]]):
    from ppu.lab.spec import load_lab
    from ppu.runtime.runtime import LaunchFailed, running
    from protocols.analysis import analyze
    from tests.conftest import BENCH_LAB

    store = Store(f"sqlite:///{tmp_path / 'k.sqlite'}")
    _seed(store, "S1", isotherms)
    clock = Clock.new_virtual()

    async def main():
        async with running(load_lab(BENCH_LAB), clock, store, dry_run=True) as rt:
            h = rt.launch(analyze, sample="S1")
            with contextlib.suppress(LaunchFailed):
                await h
            return h

    try:
        h = clock.loop.run_until_complete(main())
        rows = store.session.exec(select(Measurement).where(Measurement.launch_id == h.id)).all()
        return h, {m.name: m for m in rows}
    finally:
        store.close()
        clock.close()


def test_analyze_kernel_on_a_samples_stored_isotherms(tmp_path: Path) -> None:
    h, stored = _launch_analyze(tmp_path, {"CO2": langmuir(5.0, 3.0), "N2": langmuir(5.0, 0.1)})
    assert h.state == "done", h.row.error
    out = h.outputs
    assert out["co2_uptake"].m_as("mmol/g") == pytest.approx(5 * 0.45 / 1.45, rel=1e-6)
    assert out["selectivity"].m == pytest.approx(30.0, rel=0.02)
    # 0.15 bar → 0.01 bar at 298 K
    assert out["working_capacity"].m_as("mmol/g") == pytest.approx(
        5 * 0.45 / 1.45 - 5 * 0.03 / 1.03, rel=0.01
    )
    sel = stored["selectivity"].provenance
    assert sel["method"].startswith("IAST") and sel["source_launches"] == [2, 3]
    assert stored["co2_uptake"].provenance["kernel"] == "analyze"


def test_analyze_kernel_fails_a_sample_with_no_measurable_uptake(tmp_path: Path) -> None:
    h, _ = _launch_analyze(tmp_path, {"CO2": [0.001] * len(PRESSURES), "N2": [0.0] * 8})
    assert h.state == "failed"
    assert h.failure == "chemistry"
    assert "no measurable uptake" in (h.row.error or "")
    assert "Traceback" not in (h.row.error or "")


def _aif(points: list[tuple[float, float]]) -> str:
    loop = "".join(f"{p} {n}\n" for p, n in points)
    data = f"\nloop_\n_adsorp_pressure\n_adsorp_amount\n{loop}" if points else ""
    return (
        "data_blank\n_audit_aif_version d546195\n_exptl_adsorptive CO2\n"
        "_exptl_temperature 298.15\n_adsnt_material_id 'blank'\n_units_temperature K\n"
        "_units_pressure bar\n_units_mass g\n_units_loading 'mmol/g'\n" + data
    )
