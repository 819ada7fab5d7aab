"""Steering a live campaign from the shell, as a person does it: `ppu pause | resume | abort
| approve | reject`, `ppu campaigns` (and `abandon`), `ppu status CAMPAIGN`.

The controller is a real `ppu run` in another process (the plugin lab, a paced dry-run so
it lives long enough to be steered); the steering commands go through the CLI and the
store's commands table, exactly as a second terminal would."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ppu.cli.main import app
from ppu.runtime.holds import controller_alive
from tests.conftest import ROOT

PPU = str(Path(sys.executable).with_name("ppu"))
PLUGIN_LAB = ROOT / "tests" / "plugin_lab"
CID = "bake-off-s3-1"  # the plugin campaign's id in a fresh store
runner = CliRunner()

LOCAL = "http://127.0.0.1"  # reads are open to a page that asks by a loopback name


def ppu(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def last_json(text: str) -> dict[str, Any]:
    return json.loads(text.strip().splitlines()[-1])


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def wait_until(what: str, ok: Callable[[], bool], proc: subprocess.Popen | None, s: float = 30):
    deadline = time.monotonic() + s
    while not ok():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the controller exited ({proc.returncode}) before {what}")
        assert time.monotonic() < deadline, f"not within {s} s: {what}"
        time.sleep(0.1)


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A copy of the plugin lab (lab file, its plugin, the campaign), writable."""
    here = tmp_path / "lab"
    here.mkdir()
    for name in ("lab.toml", "hotplate.py", "campaign.toml"):
        shutil.copy(PLUGIN_LAB / name, here / name)
    return here


def run_args(lab: Path, campaign: Path, db: Path, *extra: str) -> list[str]:
    lab_file = str(lab / "lab.toml")
    return [PPU, "run", str(campaign), "--lab", lab_file, "--dry-run", "--db", str(db), *extra]


class Controller:
    """`ppu run … --dry-run --pace N` in its own process."""

    def __init__(self, lab: Path, campaign: Path, db: Path, *extra: str, env=None) -> None:
        self.db = db
        self.url = f"sqlite:///{db}"
        self.log = open(db.with_suffix(".log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            run_args(lab, campaign, db, "--json", *extra),
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def wait_running(self) -> None:
        wait_until(
            "the controller owns its campaign",
            lambda: (
                self.db.exists()
                and controller_alive(self.url, CID)
                and rows(self.db, "select count(*) from campaign") == [(1,)]
            ),
            self.proc,
        )

    def finish(self, timeout: float = 60) -> tuple[int, dict[str, Any]]:
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, last_json(out)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.log.close()


@pytest.fixture
def controllers() -> Iterator[list[Controller]]:
    started: list[Controller] = []
    yield started
    for c in started:
        c.close()


def test_pause_resume_and_abort_steer_a_live_campaign_and_each_is_audited_with_who(
    lab: Path, tmp_path: Path, controllers: list[Controller]
) -> None:
    db = tmp_path / "steer.sqlite"
    run = Controller(lab, lab / "campaign.toml", db, "--pace", "200")
    controllers.append(run)
    run.wait_running()

    listed = last_json(ppu("campaigns", "--db", str(db), "--json")[1])["campaigns"]
    assert [(c["id"], c["state"], c["controller_alive"]) for c in listed] == [
        (CID, "running", True)
    ]
    code, _, err = ppu("campaigns", "abandon", CID, "--why", "test", "--db", str(db))
    assert code == 2 and f"a controller runs it: `ppu abort {CID}`" in err

    code, out, err = ppu("pause", CID, "--wait", "--who", "ana", "--db", str(db), "--json")
    assert code == 0, err
    paused = last_json(out)
    assert (paused["kind"], paused["state"], paused["who"]) == ("pause", "done", "ana")
    assert paused["campaign_state"] == "paused" and isinstance(paused["id"], int)
    assert rows(db, "select state from campaign") == [("paused",)]
    code, _, err = ppu("pause", CID, "--db", str(db))
    assert code == 2 and "it is already paused" in err

    code, out, err = ppu("resume", CID, "--wait", "--who", "bo", "--db", str(db))
    assert code == 0, err
    assert f"campaign {CID} is running" in " ".join(out.split())
    assert rows(db, "select state from campaign") == [("running",)]
    code, _, err = ppu("resume", CID, "--db", str(db))
    assert code == 2 and "it is running (a controller owns it): nothing to resume" in err

    # an instrument of the running lab: held, then released (as after a stall alarm)
    for verb, who in (("hold", "dee"), ("release", "eve")):
        code, out, err = ppu(verb, "bench", "--wait", "--who", who, "--db", str(db), "--json")
        assert code == 0, err
        assert (last_json(out)["state"], last_json(out)["result"]) == (
            "done",
            f"bench {'held' if verb == 'hold' else 'released'}",
        )
    code, _, err = ppu("hold", "kiln", "--db", str(db))
    assert code == 2 and "instrument kiln: no campaign in this store has named it" in err

    code, out, err = ppu("abort", CID, "--wait", "--who", "cy", "--db", str(db), "--json")
    assert code == 0, err
    assert last_json(out)["state"] == "done"
    returncode, summary = run.finish()
    assert returncode == 3 and summary["aborted_by"] == "cy"
    assert rows(db, "select kind, target, who, state from command order by id") == [
        ("pause", CID, "ana", "done"),
        ("resume", CID, "bo", "done"),
        ("hold", "bench", "dee", "done"),
        ("release", "bench", "eve", "done"),
        ("abort", CID, "cy", "done"),
    ]

    # closed now: every command says so in one line, exit 2, and writes nothing
    for verb in ("pause", "abort", "resume"):
        code, out, err = ppu(verb, CID, "--db", str(db), "--json")
        assert code == 2
        assert err.strip().splitlines() == [
            f"error: campaign {CID}: it is aborted: nothing to {verb}"
        ]
        assert last_json(out) == {
            "error": f"campaign {CID}: it is aborted: nothing to {verb}",
            "exit_code": 2,
        }
    code, _, err = ppu("pause", "no-such-campaign", "--db", str(db))
    assert code == 2 and "campaign no-such-campaign: not in this store" in err
    assert rows(db, "select count(*) from command") == [(5,)]
    status = last_json(ppu("status", CID, "--db", str(db), "--json")[1])
    assert status["state"] == "aborted" and not status["controller_alive"]
    open_ones = [e for e in status["experiments"] if e["status"] == "ABANDONED"]
    assert open_ones and all(e["failure"] == "campaign aborted by cy" for e in open_ones)


def test_a_proposal_waiting_for_approval_runs_once_approved_and_a_rejected_one_never(
    lab: Path, tmp_path: Path, controllers: list[Controller]
) -> None:
    text = (lab / "campaign.toml").read_text()
    text = text.replace("batch_size = 1", "batch_size = 1\napproval = true")
    text = text.replace("experiments = 4", "experiments = 2")
    (lab / "approval.toml").write_text(text)
    db = tmp_path / "approve.sqlite"
    # the simulated chemist would take 1000 h to answer: only a person does here
    run = Controller(lab, lab / "approval.toml", db, "--pace", "1000", "--operator-delay", "1000 h")
    controllers.append(run)
    run.wait_running()

    def awaiting() -> list[int]:
        st = last_json(ppu("status", CID, "--db", str(db), "--json")[1])
        return st["awaiting_approval"]

    wait_until("the first proposal waits", lambda: awaiting() == [1], run.proc)
    code, _, err = ppu("approve", "7", "--db", str(db))
    assert code == 2 and "experiment 7: no such experiment" in err
    code, out, err = ppu("reject", "1", "--wait", "--who", "ana", "--db", str(db))
    assert code == 0, err
    assert "done: experiment 1 reject" in " ".join(out.split())

    wait_until("the second proposal waits", lambda: awaiting() == [2], run.proc)
    code, _, err = ppu("approve", "2", "--wait", "--who", "bo", "--db", str(db))
    assert code == 0, err
    code, _, err = ppu("approve", "2", "--db", str(db))
    assert code == 2 and "experiment 2: it is running, not awaiting approval" in err

    returncode, summary = run.finish()
    assert returncode == 0 and summary["completed"] == 1 and summary["abandoned"] == 1
    assert rows(db, "select id, status, error from experiment order by id") == [
        (1, "ABANDONED", "proposal rejected by the operator"),
        (2, "COMPLETED", None),
    ]
    assert rows(db, "select kind, target, who, state from command order by id") == [
        ("reject", "1", "ana", "done"),
        ("approve", "2", "bo", "done"),
    ]


def test_a_killed_campaign_is_listed_without_a_controller_and_abandon_closes_it_for_good(
    lab: Path, tmp_path: Path
) -> None:
    db = tmp_path / "killed.sqlite"
    p = subprocess.run(
        run_args(lab, lab / "campaign.toml", db),
        capture_output=True,
        text=True,
        env={**os.environ, "PPU_CRASH_AT_EXCHANGE": "120"},  # SIGKILL in experiment 2
        timeout=120,
    )
    assert p.returncode == -9, p.stderr[-500:]
    (listed,) = last_json(ppu("campaigns", "--db", str(db), "--json")[1])["campaigns"]
    assert (listed["state"], listed["controller_alive"]) == ("running", False)
    assert listed["experiments"]["done"] == 1 and listed["experiments"]["budget"] == 4
    assert listed["lab_time"]["unit"] == "h" and listed["lab_time"]["value"] > 0
    code, out, _ = ppu("campaigns", "--db", str(db))
    assert f"`ppu resume {CID}` or `ppu campaigns abandon {CID}" in " ".join(out.split())

    code, _, err = ppu("pause", CID, "--db", str(db))
    assert (
        code == 2
        and f"no controller runs it (it stopped while running): `ppu resume {CID}`"
        in (" ".join(err.split()))
    )
    assert ppu("campaigns", "abandon", CID, "--db", str(db))[0] == 2  # --why is needed
    assert rows(db, "select count(*) from launch where state in ('queued', 'waiting', 'running')")[
        0
    ][0]

    code, out, err = ppu(
        "campaigns", "abandon", CID, "--why", "power cut", "--who", "ana", "--db", str(db), "--json"
    )
    assert code == 0, err
    done = last_json(out)
    assert (done["state"], done["was"], done["who"], done["why"]) == (
        "abandoned",
        "running",
        "ana",
        "power cut",
    )
    assert done["launches_cancelled"] and done["experiments_abandoned"]
    assert rows(db, "select state from campaign") == [("abandoned",)]
    in_flight = "select count(*) from launch where state in "
    in_flight += "('queued', 'waiting', 'running', 'interrupted', 'held')"
    assert rows(db, in_flight) == [(0,)]
    assert {
        r[0] for r in rows(db, "select distinct error from launch where state = 'cancelled'")
    } == {"campaign abandoned by ana: power cut"}
    assert rows(db, "select count(*) from experiment where status = 'running'") == [(0,)]
    assert rows(db, "select kind, who, argument, state from command") == [
        ("abandon", "ana", "power cut", "done")
    ]

    code, out, err = ppu("resume", CID, "--db", str(db), "--json")
    assert (
        code == 2
        and last_json(out)["error"] == f"campaign {CID}: it is abandoned: nothing to resume"
    )
    assert ppu("campaigns", "abandon", CID, "--why", "again", "--db", str(db))[0] == 2
    status = last_json(ppu("status", CID, "--db", str(db), "--json")[1])
    assert status["state"] == "abandoned"
    assert {k: status["abandon"][k] for k in ("who", "why")} == {"who": "ana", "why": "power cut"}
    assert [e["status"] for e in status["experiments"]][:1] == ["COMPLETED"]
    assert all(e["status"] in ("COMPLETED", "ABANDONED") for e in status["experiments"])


def test_status_of_a_campaign_tells_budget_best_feasible_and_each_experiments_times(
    lab: Path, tmp_path: Path
) -> None:
    text = (lab / "campaign.toml").read_text()
    text += '\n[[constraints]]\nname = "reached"\nfrom = "bake.reached"\nge = "70 degC"\n'
    (lab / "constrained.toml").write_text(text)
    db = tmp_path / "done.sqlite"
    p = subprocess.run(
        run_args(lab, lab / "constrained.toml", db, "--json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr[-500:]
    summary = last_json(p.stdout)

    code, out, err = ppu("status", CID, "--db", str(db), "--json")
    assert code == 0, err
    st = last_json(out)
    assert (st["campaign_id"], st["state"], st["controller_alive"]) == (CID, "done", False)
    assert st["budget"]["experiments"] == {"used": 4, "finished": 4, "max": 4}
    assert st["budget"]["lab_time"]["used"]["value"] == pytest.approx(
        summary["virtual_duration_h"], abs=1e-3
    )
    assert st["budget"]["lab_time"]["used"]["unit"] == "h"
    reached = {e["number"]: e["objectives"]["reached"]["value"] for e in st["experiments"]}
    assert st["completed"] == 4
    assert st["feasible"] == sum(v >= 70 for v in reached.values())
    assert 0 < st["feasible"] < 4  # the constraint matters here
    # the best is the lowest dose among the feasible ones: what the run itself said
    assert st["best"]["experiment"] == summary["best"]["experiment"]
    assert st["best"]["objective"]["name"] == "dose"
    assert st["best"]["objective"]["unit"] == "K*min"
    assert st["best"]["objective"]["maximize"] is False
    assert st["best"]["params"] == summary["best"]["params"]
    assert st["objectives"] == [{"name": "dose", "unit": "K*min", "maximize": False}]
    for e in st["experiments"]:
        assert e["status"] == "COMPLETED" and e["failure"] is None
        assert e["feasible"] is (reached[e["number"]] >= 70)
        lab_h = e["lab"]
        assert lab_h["ended"]["value"] > lab_h["suggested"]["value"]
        assert lab_h["duration"]["value"] == pytest.approx(
            lab_h["ended"]["value"] - lab_h["suggested"]["value"], abs=1e-3
        )
        assert e["wall"]["duration_s"] is not None and e["wall"]["duration_s"] >= 0
        assert e["launches"]

    code, out, _ = ppu("status", CID, "--db", str(db))
    shown = " ".join(out.split())
    assert code == 0
    assert "budget: 4 of 4 experiments (4 finished)" in shown
    assert f"best so far: experiment {summary['best']['experiment']}" in shown
    assert f"feasible: {st['feasible']} of 4 completed (reached ≥ 70 degC)" in shown
    # without a campaign, `ppu status` is as it was
    code, out, _ = ppu("status", "--db", str(db), "--json")
    assert code == 0 and set(last_json(out)) >= {"db", "campaigns", "launches", "samples"}
    code, _, err = ppu("status", "nope", "--db", str(db))
    assert (
        code == 2 and err.strip() == "error: campaign nope: not in this store (see `ppu campaigns`)"
    )


def test_a_hung_controller_is_told_from_a_gone_one(
    lab: Path, tmp_path: Path, controllers: list[Controller]
) -> None:
    import signal

    from fastapi.testclient import TestClient

    from ppu.api.app import create_app

    db = tmp_path / "beat.sqlite"
    run = Controller(lab, lab / "campaign.toml", db, "--pace", "100")
    controllers.append(run)
    run.wait_running()
    with TestClient(create_app(f"sqlite:///{db}", "t"), base_url=LOCAL) as client:

        def shown() -> dict[str, Any]:
            return client.get(f"/api/campaigns/{CID}").json()

        wait_until("a heartbeat", lambda: (shown()["heartbeat_age_s"] or 99) < 3, run.proc)
        os.kill(run.proc.pid, signal.SIGSTOP)  # alive, holding its lock, its loop stuck
        try:
            time.sleep(5.0)
            hung = shown()
        finally:
            os.kill(run.proc.pid, signal.SIGCONT)
        assert f"pid {run.proc.pid} " in hung["controller"]  # still there: not gone
        assert hung["heartbeat_age_s"] >= 4.5  # but silent
        wait_until("the heartbeat again", lambda: shown()["heartbeat_age_s"] < 3, run.proc)
        run.proc.kill()
        run.proc.wait(timeout=30)
        # at once, give or take the 0.25 s a read's answer is kept for other readers
        wait_until("the controller gone", lambda: shown()["controller"] is None, None, 2)
        assert shown()["heartbeat_age_s"] is None
