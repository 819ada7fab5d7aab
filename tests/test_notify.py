"""Notifications: what a person should know (a step waiting, an alarm, a campaign's end)
reaches them through Apprise URLs, here a JSON webhook on a local HTTP receiver; a person
can answer a step "could not do it"; a bad URL is one line naming its place."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlmodel import Session, select

from ppu.campaign.loop import load_campaign, run_campaign
from ppu.core.clock import Clock
from ppu.core.errors import BadInput
from ppu.lab.spec import load_lab
from ppu.runtime.runtime import running
from ppu.store import Store
from ppu.store.models import Command, Experiment, Launch, OperatorStepRecord
from tests.conftest import BENCH_LAB, ROOT, _close_checking_leaks

DEMO = ROOT / "protocols" / "demo"


class Receiver:
    """A webhook on 127.0.0.1: every POST body kept, as JSON."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                received.append((self.path, json.loads(self.rfile.read(n))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "ppu") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _lab_with(tmp_path: Path, source: Path, extra: str) -> Path:
    path = tmp_path / source.name
    path.write_text(source.read_text() + "\n" + extra + "\n")
    return path


def _demo_campaign(tmp_path: Path, lab_path: Path, script=None, operator_delay_s: float = 60.0):
    lab = load_lab(lab_path)
    spec = dataclasses.replace(load_campaign(DEMO / "campaign.toml", lab), max_experiments=1)
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main() -> None:
        async with running(
            lab, clock, store, dry_run=True, operator_delay_s=operator_delay_s
        ) as rt:
            rt.campaign_id = "c1"
            actor = asyncio.ensure_future(script(store, clock, seen)) if script else None
            seen["summary"] = await run_campaign(
                spec, rt, store, clock, "c1", db_label="t", dry_run=True
            )
            if actor is not None:
                await actor
            seen["notifier"] = rt.notifier

    try:
        clock.loop.run_until_complete(main())
    finally:
        _close_checking_leaks(clock)
    return seen, store


def test_a_waiting_operator_step_of_a_dry_run_reaches_a_json_webhook(
    tmp_path: Path, receiver: Receiver
) -> None:
    lab = _lab_with(tmp_path, DEMO / "lab.toml", f'[notify]\nurls = ["{receiver.url("lab")}"]')
    seen, store = _demo_campaign(tmp_path, lab)
    try:
        with Session(store.engine) as s:
            steps = s.exec(select(OperatorStepRecord).order_by(OperatorStepRecord.id)).all()
    finally:
        store.close()

    assert seen["summary"]["experiments"] == 1
    assert steps, "the demo's synthesis asks for manual steps"
    paths = {p for p, _ in receiver.received}
    assert paths == {"/lab"}
    bodies = [b for _, b in receiver.received]
    first = steps[0]
    waiting = [b for b in bodies if b["title"].startswith(f"ppu: step {first.id} waits for you")]
    assert len(waiting) == 1, [b["title"] for b in bodies]
    (body,) = waiting
    assert body["version"] == "1.0" and body["type"] == "info"
    message = body["message"]
    assert f"Manual step {first.id} (launch {first.launch_id}): {first.text}" in message
    assert "lab demo MOF lab, campaign c1; lab time " in message
    assert f"ppu steps confirm {first.id}" in message  # what a person should do
    assert f"ppu steps could-not {first.id}" in message
    # one per step, and the campaign's end with its summary line
    titles = [b["title"] for b in bodies]
    assert sum("waits for you" in t for t in titles) == len(steps)
    (end,) = [b for b in bodies if b["title"] == "ppu: campaign c1 done"]
    assert "1 experiments: " in end["message"] and "h of lab time" in end["message"]
    n = seen["notifier"]  # the runtime's close sent what was still queued
    assert (n.sent, n.failed, len(n.given)) == (len(bodies), 0, len(bodies))


def test_a_step_a_person_could_not_do_fails_its_kernel_naming_who_and_why(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from ppu.cli.main import app

    db = str(tmp_path / "ppu.sqlite")

    async def person(store, clock, seen):
        runner = CliRunner()
        while True:  # look every 10 min of lab time
            await asyncio.sleep(600)
            r = runner.invoke(app, ["steps", "--db", db, "--json"])
            steps = json.loads(r.stdout.strip().splitlines()[-1])["steps"]
            if steps:
                break
        seen["step"] = steps[0]
        r = runner.invoke(
            app,
            [
                *("steps", "could-not", str(steps[0]["id"])),
                *("--why", "the reactor lid is stuck", "--who", "Ada", "--db", db),
            ],
        )
        assert r.exit_code == 0, r.stderr

    seen, store = _demo_campaign(tmp_path, DEMO / "lab.toml", person, operator_delay_s=24 * 3600.0)
    try:
        with Session(store.engine) as s:
            step = s.get(OperatorStepRecord, seen["step"]["id"])
            launch = s.get(Launch, step.launch_id)
            (experiment,) = s.exec(select(Experiment)).all()
            (cmd,) = s.exec(select(Command).where(Command.kind == "could_not")).all()
    finally:
        store.close()

    assert (step.state, step.confirmed_by) == ("could_not", "Ada")
    assert launch.state == "failed" and launch.failure == "operator"
    assert f"step {step.id} ({step.text}): Ada could not do it: the reactor lid is stuck" in (
        launch.error
    )
    assert experiment.status == "ABANDONED"  # not the chemistry's fault
    assert "Ada could not do it" in experiment.error
    assert (cmd.state, cmd.who, cmd.argument) == ("done", "Ada", "the reactor lid is stuck")
    assert seen["summary"]["abandoned"] == 1


def test_the_roll_calls_alarm_and_the_fault_burst_reach_the_webhook_of_ppu_notify(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PPU_NOTIFY", receiver.url("alarms"))
    lab = load_lab(_lab_with(tmp_path, BENCH_LAB, '[watchdog]\npoll = "5 min"\nsilent_polls = 3'))
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main() -> None:
        async with running(lab, clock, store, dry_run=True) as rt:
            await asyncio.sleep(6 * 60.0)  # one poll, answered
            rt.simulators["metal_feed.pump"].faults.force("no_reply", times=10**6)
            await asyncio.sleep(20 * 60.0)  # three unanswered polls: the alarm
            seen["alarms"] = list(rt.roll_call.alarms)
            seen["given"] = [type(n).__name__ for n in rt.notifier.given]

    try:
        clock.loop.run_until_complete(main())
    finally:
        store.close()
        _close_checking_leaks(clock)

    ((_, alarm),) = seen["alarms"]
    bodies = {b["title"]: b for _, b in receiver.received}
    held = bodies["ppu alarm: metal_feed held by the roll call"]
    assert held["type"] == "warning"
    assert alarm in held["message"]  # the alarm's own words: which device, how long silent
    assert "lab bench" in held["message"] and "lab time 2" in held["message"]
    assert "ppu release metal_feed" in held["message"]
    # the unanswered questions and their retries are faults on the wire: told as a burst
    assert "FaultBurst" in seen["given"]
    (burst,) = [b for t, b in bodies.items() if "instrument faults in 10.0 min" in t]
    assert "metal_feed.pump" in burst["message"]
    assert {p for p, _ in receiver.received} == {"/alarms"}


def test_a_persons_hold_and_a_quarantine_are_told_with_who_and_why(tmp_path: Path) -> None:
    from ppu.runtime.control import ControlDesk
    from ppu.store.models import Command as Cmd

    lab = load_lab(BENCH_LAB)
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main() -> None:
        async with running(lab, clock, store, dry_run=True, campaign_id="c9") as rt:
            await asyncio.sleep(3600.0)
            desk = ControlDesk(rt, store, campaign_id="c9", poll_s=1.0)
            desk.carry_out(Cmd(kind="hold", target="metal_feed", who="Ada", created_wall=0.0))
            rt.quarantine("linker_feed", "3 launches in a row failed on instrument faults")
            seen["given"] = list(rt.notifier.given)

    try:
        clock.loop.run_until_complete(main())
    finally:
        store.close()
        _close_checking_leaks(clock)
    held, quarantined = seen["given"]
    assert held.title == "ppu: metal_feed held by Ada"
    assert (held.campaign_id, held.lab, held.lab_time_s) == ("c9", "bench", 3600.0)
    assert "lab bench, campaign c9; lab time 1.0 h" in held.body
    assert "ppu release metal_feed" in held.to_do
    assert quarantined.title == "ppu: linker_feed quarantined"
    assert "3 launches in a row failed on instrument faults" in quarantined.what
    assert quarantined.severity == "failure"


def test_a_notification_that_cannot_be_sent_is_a_warning_not_a_failed_launch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    from protocols.dosing import dispense

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    lab = load_lab(
        _lab_with(tmp_path, BENCH_LAB, f'[notify]\nurls = ["json://127.0.0.1:{dead}/x"]')
    )
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main() -> None:
        from ppu.runtime.notices import InstrumentHeld

        async with running(lab, clock, store, dry_run=True) as rt:
            rt.notify(InstrumentHeld(instrument="metal_feed", by="Ada"))
            h = rt.launch(dispense, instrument="metal_feed", volume="1 mL", rate="2 mL/min")
            await h
            seen["state"] = h.row.state
            seen["rt"] = rt

    try:
        with caplog.at_level("WARNING", logger="ppu.notify"):
            clock.loop.run_until_complete(main())
    finally:
        store.close()
        _close_checking_leaks(clock)
    assert seen["state"] == "done"
    assert (seen["rt"].notifier.sent, seen["rt"].notifier.failed) == (0, 1)
    assert "notification 'ppu: metal_feed held by Ada' not sent" in caplog.text


def test_a_bad_notification_url_is_one_line_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _lab_with(tmp_path, BENCH_LAB, '[notify]\nurls = ["json://h/x", "nosuch://a:secret@h"]')
    with pytest.raises(BadInput) as e:
        load_lab(bad)
    assert str(e.value).startswith("bench.toml: notify.urls[1]: 'nosuch://a:***@h' is not")
    assert "secret" not in str(e.value)
    window = _lab_with(tmp_path, BENCH_LAB, '[notify]\nwindow = "3 furlong"')
    with pytest.raises(BadInput, match=r"bench\.toml: notify\.window: "):
        load_lab(window)

    from ppu.runtime.notifier import env_urls

    with pytest.raises(BadInput, match=r"^\$PPU_NOTIFY \(URL 2\): 'slack' is not a notif"):
        env_urls({"PPU_NOTIFY": "ntfys://ntfy.sh/lab, slack"})
    assert env_urls({"PPU_NOTIFY": "ntfys://ntfy.sh/lab json://h/x"}) == (
        "ntfys://ntfy.sh/lab",
        "json://h/x",
    )


def test_ppu_run_with_a_bad_ppu_notify_exits_2_with_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    ppu = Path(sys.executable).with_name("ppu")
    env = {**os.environ, "PPU_NOTIFY": "nosuch://x", "PPU_LOCK_DIR": str(tmp_path)}
    done = subprocess.run(
        [
            *(str(ppu), "launch", "dispense", "--lab", str(BENCH_LAB), "--dry-run"),
            *("volume=1 mL", "--db", str(tmp_path / "ppu.sqlite"), "--json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["error"].startswith(
        "$PPU_NOTIFY (URL 1): 'nosuch://x' is not a notification URL"
    )
    assert "Traceback" not in done.stderr


def test_ppu_serve_tells_when_a_controller_hangs_stops_or_comes_back(
    tmp_path: Path, receiver: Receiver
) -> None:
    """A controller cannot report its own death or silence: the dashboard's server, in a
    process of its own, sees it from the lock and the heartbeat, records it and tells."""
    import time

    from ppu.api.controller_watch import ControllerWatch
    from ppu.runtime.holds import CampaignLock
    from ppu.store.models import Campaign, FaultRecord

    db = f"sqlite:///{tmp_path / 'ppu.sqlite'}"
    store = Store(db)
    now = time.time()
    store.add_campaign(Campaign(id="c-hung", name="x", created_wall=now, heartbeat_wall=now))
    store.add_campaign(Campaign(id="c-gone", name="x", created_wall=now, heartbeat_wall=now))
    store.add_campaign(
        Campaign(id="c-old", name="x", created_wall=now - 5 * 86400, heartbeat_wall=now - 3 * 86400)
    )
    store.add_campaign(Campaign(id="c-done", name="x", state="done", created_wall=now))
    lock = CampaignLock(db, "c-hung")  # its controller lives: it holds the lock
    lock.acquire()
    watch = ControllerWatch(db, silent_s=5.0, environ={"PPU_NOTIFY": receiver.url("watch")})
    try:
        watch.check()  # c-gone has no controller; c-hung beat just now
        store.update_campaign("c-hung", heartbeat_wall=now - 60)  # silent for a minute
        watch.check()
        watch.check()  # nothing new: told once
        store.update_campaign("c-hung", heartbeat_wall=time.time())
        watch.check()
        deadline = time.monotonic() + 20
        while len(receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watch.stop()
        lock.release()
    titles = [body["title"] for _, body in receiver.received]
    assert titles == [
        "ppu alarm: campaign c-gone's controller has stopped",
        "ppu alarm: campaign c-hung's controller is not answering",
        "ppu: campaign c-hung's controller answers again",
    ]
    gone = receiver.received[0][1]["message"]
    assert "ppu resume c-gone" in gone and "ppu campaigns abandon c-gone" in gone
    assert "has said nothing for 1.0 min" in receiver.received[1][1]["message"]
    with Session(store.engine) as s:
        kinds = [(f.campaign_id, f.kind) for f in s.exec(select(FaultRecord)).all()]
    store.close()
    assert kinds == [("c-gone", "controller"), ("c-hung", "controller"), ("c-hung", "controller")]
