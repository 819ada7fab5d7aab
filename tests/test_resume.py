"""Crash-safe resume: SIGKILLed controllers, held launches, the simulated lab restored."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ppu.core.clock import Clock
from ppu.lab.simlab import restore_lab
from ppu.lab.spec import load_lab
from ppu.runtime.runtime import running
from tests.conftest import ROOT, store_rows

PPU = str(Path(sys.executable).with_name("ppu"))
DEMO_LAB = ROOT / "protocols" / "demo" / "lab.toml"


def _harness():
    spec = importlib.util.spec_from_file_location(
        "crash_resume", ROOT / "benchmarks" / "crash_resume.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _ppu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PPU, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300
    )


HARNESS = _harness()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkilled_campaign_resumes_without_loss_or_silent_reruns(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The harness of benchmarks/crash_resume.py, small: 3 kills (2 inside serial I/O)."""
    stores = (
        HARNESS.sqlite_stores(tmp_path)
        if backend == "sqlite"
        else HARNESS.postgres_stores(request.getfixturevalue("postgres_server"))
    )
    r = HARNESS.run_harness(
        kills=3, io_kills=2, budget=2, seed=3, workdir=tmp_path, new_store=stores
    )
    assert r["store"] == backend
    assert r["kills"] == 3 and r["io_kills"] == 2, r["kill_instants"]
    assert r["finished"]
    assert r["violations"] == []
    assert all(c["experiments"] == 2 for c in r["counts"])
    assert sum(c["measurements"] for c in r["counts"]) > 0


@pytest.fixture
def crashed_in_synthesis(db_url: str) -> str:
    """A one-experiment demo whose controller died inside the synthesis's serial I/O, on
    SQLite and on PostgreSQL: the store's URL."""
    db = db_url
    p = _ppu("demo", "--budget", "1", "--db", db, env={"PPU_CRASH_AT_EXCHANGE": "200"})
    assert p.returncode == -9, p.stderr[-500:]
    assert store_rows(db, "select kernel, state from launch where id = 1") == [
        ("synthesize", "running")
    ]
    return db


def test_holds_lists_the_interrupted_synthesis_and_refuses_bad_resolutions(
    crashed_in_synthesis: str,
) -> None:
    db = crashed_in_synthesis
    p = _ppu("holds", "--db", db, "--json")
    holds = json.loads(p.stdout)["holds"]
    assert [h["launch_id"] for h in holds] == [1]
    assert "not safe to repeat" in holds[0]["message"]
    bad = _ppu("holds", "resolve", "1", "--as", "maybe", "--db", db)
    assert bad.returncode == 2 and "'maybe' is not one of done, failed, rerun" in bad.stderr
    unknown = _ppu("holds", "resolve", "99", "--as", "failed", "--db", db)
    assert unknown.returncode == 2 and "launch 99: no such launch" in unknown.stderr
    queued = _ppu("holds", "resolve", "2", "--as", "rerun", "--db", db)
    assert queued.returncode == 2 and "not held" in queued.stderr
    first = _ppu("holds", "resolve", "1", "--as", "rerun", "--who", "ana", "--db", db)
    assert first.returncode == 0
    second = _ppu("holds", "resolve", "1", "--as", "done", "--db", db)
    assert second.returncode == 2 and "already resolved as rerun by ana" in second.stderr
    status = _ppu("status", "--db", db)
    assert "no controller: `ppu resume demo-co2-capture-s7-1`" in " ".join(status.stdout.split())


@pytest.mark.parametrize(
    ("outcome", "status"),
    # done: nothing was read and the vial turns out empty: not the chemistry's failure
    [("failed", "ABANDONED"), ("done", "ABANDONED")],
)
def test_a_held_synthesis_is_settled_by_a_person_never_rerun(
    crashed_in_synthesis: str, outcome: str, status: str
) -> None:
    db = crashed_in_synthesis
    assert (
        _ppu("holds", "resolve", "1", "--as", outcome, "--who", "ana", "--db", db).returncode == 0
    )
    p = _ppu("resume", "demo-co2-capture-s7-1", "--db", db, "--json")
    assert p.returncode == 0, p.stderr[-800:]
    assert "simulated lab restored" in p.stderr
    assert store_rows(
        crashed_in_synthesis, "select count(*) from launch where kernel='synthesize'"
    ) == [(1,)]
    assert store_rows(crashed_in_synthesis, "select status from experiment") == [(status,)]
    (state,) = store_rows(crashed_in_synthesis, "select state from launch where id = 1")[0]
    assert state == outcome
    still_open = "select count(*) from launch where state in "
    still_open += "('queued', 'waiting', 'running', 'held', 'interrupted')"
    assert store_rows(crashed_in_synthesis, still_open) == [(0,)]
    audit = store_rows(crashed_in_synthesis, "select who, argument, state from command")
    assert audit == [("ana", outcome, "done")]
    assert _ppu("resume", "demo-co2-capture-s7-1", "--db", db).returncode == 2  # it is done


def test_a_resolution_taken_by_a_controller_that_died_before_settling_still_holds(
    crashed_in_synthesis: str,
) -> None:
    """Killed after the desk took the person's word (command done) and before the launch
    was settled: the word is not lost, not asked for again, and carried out at resume."""
    db = crashed_in_synthesis
    assert (
        _ppu("holds", "resolve", "1", "--as", "failed", "--who", "ana", "--db", db).returncode == 0
    )
    # what the dead controller had committed: the command taken, the launch held
    store_rows(db, "update command set state = 'done', result = 'launch 1 resolved'")
    store_rows(db, "update launch set state = 'held' where id = 1")
    again = _ppu("holds", "resolve", "1", "--as", "rerun", "--who", "bo", "--db", db)
    assert again.returncode == 2 and "already resolved as failed by ana" in again.stderr
    listed = json.loads(_ppu("holds", "--db", db, "--json").stdout)["holds"]
    assert listed[0]["resolution"] == {"outcome": "failed", "who": "ana"}
    p = _ppu("resume", "demo-co2-capture-s7-1", "--db", db, "--json")
    assert p.returncode == 0, p.stderr[-800:]
    assert store_rows(crashed_in_synthesis, "select state from launch where id = 1") == [
        ("failed",)
    ]
    assert store_rows(
        crashed_in_synthesis, "select count(*) from launch where kernel='synthesize'"
    ) == [(1,)]
    assert store_rows(crashed_in_synthesis, "select status from experiment") == [("ABANDONED",)]


def test_simulated_lab_is_saved_with_the_journal_and_restores(tmp_path: Path, store) -> None:
    clock = Clock.new_virtual()

    async def main() -> dict:
        async with running(load_lab(DEMO_LAB), clock, store, dry_run=True) as rt:
            rt.campaign_id = None
            rt.persist_lab("c1")
            h = rt.launch(rt.lab.kernels["synthesize"], time="2 h", solvent="EtOH")
            await h
            live = {k: [p.label for p in v] for k, v in rt.world.places().items()}
            pumps = {k: s.loaded_ml for k, s in rt.simulators.items() if k.endswith("_pump")}
            return {"live": live, "pumps": pumps, "t": clock.now()}

    try:
        seen = clock.loop.run_until_complete(main())
    finally:
        clock.close()
    saved = store.simulated_lab("c1")
    assert saved is not None and saved.virtual_t == pytest.approx(seen["t"])
    later = Clock.new_virtual(start=saved.virtual_t)
    assert later.now() == saved.virtual_t  # the clock resumes at the journaled time
    lab = restore_lab(saved.state, later)
    assert {k: [p.label for p in v] for k, v in lab["world"].places().items()} == seen["live"]
    assert {k: lab["simulators"][k].loaded_ml for k in seen["pumps"]} == seen["pumps"]
    assert lab["simulators"]["synthesis.heater"].now() == saved.virtual_t  # bound to the new clock
    later.close()


def test_a_resumed_dry_run_waits_for_a_person_without_running_ahead(
    crashed_in_synthesis: str,
) -> None:
    """Resumed unresolved: lab time stands still while the hold waits; the answer, given
    while it runs, is carried out."""
    import time

    db = crashed_in_synthesis
    before = store_rows(crashed_in_synthesis, "select max(virtual_t) from launchevent")[0][0]
    proc = subprocess.Popen(
        [PPU, "resume", "demo-co2-capture-s7-1", "--db", db, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while store_rows(crashed_in_synthesis, "select state from launch where id = 1") != [
            ("held",)
        ]:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        time.sleep(2.0)  # a person takes a while
        assert _ppu("holds", "resolve", "1", "--as", "failed", "--db", db).returncode == 0
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["abandoned"] == 1
    # the wait cost no lab time (it would be ~300 s of lab time per poll otherwise)
    assert summary["virtual_duration_s"] - before < 600
