"""A campaign with its digital twin beside the lab (`ppu demo --twin`): computed launches
journaled and stored as computed measurements, the lab measuring the planner's choice, the
summary counting both; and `[[fidelities]]` mistakes as one line, exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlmodel import func, select
from typer.testing import CliRunner

from ppu.cli.main import app
from ppu.store import Store
from ppu.store.models import Experiment, Launch, LaunchEvent, Measurement
from tests.conftest import ROOT

DEMO = ROOT / "protocols" / "demo"
runner = CliRunner()

LOCAL = "http://127.0.0.1"  # reads are open to a page that asks by a loopback name


def _twin_campaign(tmp_path: Path, old: str = "", new: str = "", budget: int = 3) -> Path:
    text = (DEMO / "campaign_twin.toml").read_text()
    text = text.replace("experiments = 8", f"experiments = {budget}")
    text = text.replace("first_screen = 256", "first_screen = 96")
    if old:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "campaign.toml"
    path.write_text(text)
    return path


def _run(campaign: Path, db: Path, *extra: str) -> tuple[int, str, str]:
    r = runner.invoke(
        app,
        [
            "run",
            str(campaign),
            "--lab",
            str(DEMO / "lab.toml"),
            "--dry-run",
            "--db",
            str(db),
            *extra,
        ],
    )
    return r.exit_code, r.stdout, r.stderr


def test_the_twin_screens_and_the_lab_measures_its_best_guesses(tmp_path: Path) -> None:
    db = tmp_path / "ppu.sqlite"
    code, out, err = _run(_twin_campaign(tmp_path), db, "--json")
    assert code == 0, err
    s = json.loads(out.strip().splitlines()[-1])
    f = s["fidelities"]
    assert f["computed"]["kernel"] == "estimate_co2_uptake"
    assert f["computed"]["model"] == "literature-heuristic uptake twin"
    assert f["computed"]["done"] >= 96 and f["computed"]["failed"] == 0
    assert f["computed"]["declared_cpu_s"] == f["computed"]["done"] * 1.0
    assert f["measured"]["experiments"] == 3
    assert f["twin_vs_measured"]["pairs"] == s["completed"]
    # the first thing measured is the twin's best guess, and it is a good material
    assert s["first_batch_best"] > 4.0  # mmol/g; random conditions give a median ~0.3
    store = Store(f"sqlite:///{db}", create=False)
    try:
        ses = store.session
        computed = ses.exec(select(Measurement).where(Measurement.fidelity == "computed")).all()
        assert len(computed) == f["computed"]["done"]
        assert {m.unit for m in computed} == {"mmol/g"}
        assert all(m.provenance["model_version"] == "1.0" for m in computed)
        twin_launches = ses.exec(
            select(func.count()).select_from(Launch).where(Launch.kernel == "estimate_co2_uptake")
        ).one()
        assert twin_launches == f["computed"]["launched"]
        # every computed launch is journaled, and none held an instrument
        assert all(
            row.instrument is None
            for row in ses.exec(select(Launch).where(Launch.kernel == "estimate_co2_uptake"))
        )
        notes = ses.exec(select(LaunchEvent.detail).where(LaunchEvent.state == "queued")).all()
        assert notes.count("digital screen") == twin_launches
        # the lab's measurements stay measured, and each experiment says what the twin thought
        measured = ses.exec(select(Measurement).where(Measurement.fidelity == "measured")).all()
        assert any(m.name == "co2_uptake" for m in measured)
        for e in ses.exec(select(Experiment)):
            twin = e.suggestion["predictions"]["twin"]
            assert twin["mean"] > 0
        latest = store.latest_planner_state(s["campaign_id"])
        assert latest is not None and len(latest.state["computed"]) >= 96
    finally:
        store.close()
    # and through the API: each measurement says its fidelity; estimates can be asked apart
    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    with TestClient(create_app(f"sqlite:///{db}", "t0ken"), base_url=LOCAL) as client:
        est = client.get("/api/measurements?fidelity=computed&limit=5000").json()
        lab = client.get("/api/measurements?fidelity=measured&limit=5000").json()
        assert len(est) == f["computed"]["done"]
        assert {e["fidelity"] for e in est} == {"computed"}
        assert est[0]["provenance"]["model"] == "literature-heuristic uptake twin"
        assert lab and {e["fidelity"] for e in lab} == {"measured"}
        exp = client.get(f"/api/suggestions?campaign={s['campaign_id']}").json()
        assert len(exp) == 3
        for e in exp:
            (point,) = e["predicted_vs_measured"]
            assert point["objective"] == "co2_uptake" and point["unit"] == "mmol/g"
            assert point["computed"] > 0 and point["measured"] is not None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'kernel = "estimate_co2_uptake"',
            'kernel = "weigh"',
            r"campaign\.toml: fidelities\[0\]\.kernel: weigh is a measured kernel: a fidelity "
            r"is a computed kernel",
        ),
        (
            'estimates = "co2_uptake"',
            'estimates = "co2_uptak"',
            r"fidelities\[0\]\.estimates: 'co2_uptak' is not an objective .*co2_uptake",
        ),
        (
            'engine = "multifidelity"',
            'engine = "botorch"',
            r"campaign\.toml: planner\.engine: engine botorch plans from lab results only",
        ),
        (
            'inputs = { temperature = "$temperature", time = "$time", ratio',
            'inputs = { temperature = "$temprature", time = "$time", ratio',
            r"fidelities\[0\]\.inputs\.temperature: '\$temprature' names no search_space parameter",
        ),
        (
            "first_screen = 96",
            "first_screen = 0",
            r"campaign\.toml: fidelities\[0\]\.first_screen: must be ≥ 1, got 0",
        ),
    ],
)
def test_fidelity_mistakes_are_one_line_exit_2(tmp_path: Path, old, new, expected) -> None:
    db = tmp_path / "ppu.sqlite"
    code, _, err = _run(_twin_campaign(tmp_path, old, new), db)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert re.search(expected, lines[0]), lines[0]
    assert not db.exists()


def test_a_multifidelity_engine_without_a_twin_is_refused(tmp_path: Path) -> None:
    text = (
        (DEMO / "campaign.toml")
        .read_text()
        .replace('engine = "botorch"', 'engine = "multifidelity"')
    )
    text = re.sub(r"n_initial = 6.*\n", "", text)
    path = tmp_path / "campaign.toml"
    path.write_text(text)
    code, _, err = _run(path, tmp_path / "x.sqlite")
    assert code == 2, err
    assert "campaign.toml: fidelities: engine multifidelity screens with a computed kernel" in err


def test_a_lab_names_its_cluster_by_address(tmp_path: Path) -> None:
    lab = tmp_path / "lab.toml"
    lab.write_text((DEMO / "lab.toml").read_text() + '\n[compute]\nscheduler = "localhost 8786"\n')
    r = runner.invoke(
        app,
        [
            "run",
            str(_twin_campaign(tmp_path)),
            "--lab",
            str(lab),
            "--dry-run",
            "--db",
            str(tmp_path / "x.sqlite"),
        ],
    )
    assert r.exit_code == 2, r.stderr
    assert (
        "lab.toml: compute.scheduler: 'localhost 8786' is not a Dask scheduler address" in r.stderr
    )


def test_an_unreachable_cluster_is_a_runtime_failure_naming_it(tmp_path: Path) -> None:
    campaign = _twin_campaign(tmp_path)
    campaign.write_text(campaign.read_text() + '\n[compute]\nscheduler = "tcp://127.0.0.1:9"\n')
    code, out, err = _run(campaign, tmp_path / "x.sqlite", "--json")
    assert code == 1, err
    last = json.loads(out.strip().splitlines()[-1])
    assert "127.0.0.1:9" in last["error"]
    assert "Traceback" not in err


def test_a_killed_twin_campaign_resumes_without_redoing_its_screen(tmp_path: Path) -> None:
    """SIGKILL inside the first synthesis; a person settles it; resume carries on with the
    planner's saved screen: not one estimate is computed twice."""
    import os
    import sqlite3
    import subprocess
    import sys

    ppu = str(Path(sys.executable).with_name("ppu"))
    db = str(tmp_path / "c.sqlite")

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ppu, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
        )

    p = run("demo", "--twin", "--budget", "2", "--db", db, PPU_CRASH_AT_EXCHANGE="200")
    assert p.returncode == -9, p.stderr[-500:]

    def rows(sql: str) -> list:
        con = sqlite3.connect(db)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    (screened,) = rows("select count(*) from launch where kernel = 'estimate_co2_uptake'")[0]
    assert screened == 256
    ((synthesis, state),) = rows("select id, state from launch where kernel = 'synthesize' limit 1")
    assert state == "running"
    cid = "demo-co2-capture-with-a-twin-s7-1"
    assert (
        run(
            "holds", "resolve", str(synthesis), "--as", "failed", "--who", "ana", "--db", db
        ).returncode
        == 0
    )
    p = run("resume", cid, "--db", db, "--json")
    assert p.returncode == 0, p.stderr[-800:]
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["fidelities"]["computed"]["done"] == 256
    assert rows("select count(*) from launch where kernel = 'estimate_co2_uptake'") == [(256,)]
    assert rows("select count(*) from measurement where fidelity = 'computed'") == [(256,)]
    assert rows("select count(*) from experiment") == [(2,)]
