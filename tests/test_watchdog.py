"""The stall watchdog: a pump that stops pumping but still answers (its simulator frozen)
raises the alarm and holds the instrument at the configured multiple of the dispense's
expected duration; once it moves again and a person releases it, the lab goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import Session, select

from ppu.core.clock import Clock
from ppu.core.errors import BadInput
from ppu.core.kernels import In, kernel
from ppu.lab.spec import WatchdogSpec, load_lab
from ppu.runtime.control import ControlDesk
from ppu.runtime.runtime import running
from ppu.runtime.watchdog import Watchdog
from ppu.store import Store
from ppu.store.models import Command, FaultRecord
from protocols.dosing import dispense
from tests.conftest import BENCH_LAB, _close_checking_leaks


def _bench(tmp_path: Path, watchdog: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(BENCH_LAB.read_text() + f"\n[watchdog]\n{watchdog}\n")
    return path


def test_a_frozen_pump_raises_the_alarm_at_the_limit_and_holds_the_instrument(
    tmp_path: Path,
) -> None:
    lab = load_lab(_bench(tmp_path, 'multiple = 2\ngrace = "0 s"'))
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main() -> None:
        async with running(lab, clock, store, dry_run=True) as rt:
            # 1 mL at 2 mL/min: expected 30 s, so the limit is 60 s
            stuck = rt.launch(dispense, instrument="metal_feed", volume="1 mL", rate="2 mL/min")
            await stuck.started
            t0 = clock.now()
            pump = rt.simulators["metal_feed.pump"]
            moving = pump.now
            pump.now = lambda: t0 + 5.0  # the plunger stops 5 s in; the pump still answers
            nxt = rt.launch(dispense, instrument="metal_feed", volume="0.5 mL", rate="2 mL/min")
            await asyncio.sleep(59.0)
            seen["before_limit"] = (
                list(rt.watchdog.alarms),
                set(rt.instruments["metal_feed"].lane.holds),
            )
            await asyncio.sleep(2.0)
            seen["alarms"] = list(rt.watchdog.alarms)
            seen["holds"] = set(rt.instruments["metal_feed"].lane.holds)
            seen["states"] = (stuck.row.state, nxt.row.state)
            await asyncio.sleep(600.0)  # held: the next dispense does not start
            seen["next_later"] = nxt.row.state
            pump.now = moving  # a person frees the plunger; the stuck dispense completes
            await stuck
            # a person's release, as `ppu release` or the dashboard sends it
            desk = ControlDesk(rt, store, campaign_id=None, poll_s=1.0)
            seen["released"] = desk.carry_out(
                Command(kind="release", target="metal_feed", who="ana", created_wall=0.0)
            )
            await nxt
            seen["done"] = (stuck.row.state, nxt.row.state, stuck.row.started_v)
            seen["alarms_at_end"] = len(rt.watchdog.alarms)

    try:
        clock.loop.run_until_complete(main())
        with Session(store.engine) as s:
            stalled = s.exec(select(FaultRecord).where(FaultRecord.kind == "stalled")).all()
        shown = store.status()["alarms"]  # what `ppu status` prints
    finally:
        store.close()
        _close_checking_leaks(clock)

    assert seen["before_limit"] == ([], set())  # nothing before 2 × 30 s
    ((launch_id, message),) = seen["alarms"]
    assert seen["holds"] == {"watchdog"}
    assert seen["states"] == ("running", "waiting")  # the stuck one is left to a person
    assert message.startswith(f"launch {launch_id} (dispense) on metal_feed has run 1.0 min")
    assert "2 × its expected 30.0 s" in message and "metal_feed is held" in message
    assert seen["next_later"] == "waiting"  # 10 min on, the held pump has started nothing
    (alarm,) = stalled
    assert (alarm.instrument, alarm.launch_id) == ("metal_feed", launch_id)
    assert alarm.virtual_t == pytest.approx(seen["done"][2] + 60.0, abs=0.5)
    assert seen["released"] == ("done", "metal_feed released")
    assert seen["done"][:2] == ("done", "done")
    assert [(a["launch_id"], a["message"]) for a in shown] == [(launch_id, message)]
    assert seen["alarms_at_end"] == 1  # the next dispense ran its 15 s, no alarm


@kernel(role="pump", outputs={})
def _unestimated(instrument, ctx, volume=In("mL", default="1 mL")):
    yield from ()
    return {}


def test_without_an_estimate_the_watchdog_learns_from_finished_launches() -> None:
    loop = asyncio.new_event_loop()
    try:
        history = {("_unestimated", "p"): [10.0, 30.0, 20.0]}
        dog = Watchdog(
            WatchdogSpec(multiple=3.0, grace_s=60.0),
            loop,
            history=lambda k, i: history.get((k, i), []),
            alarm=lambda *a: None,
        )
        assert dog.expected_s(_unestimated, "p", {}) == 20.0  # the median
        assert dog.limit_s(20.0) == 120.0
        assert dog.expected_s(_unestimated, "other", {}) is None  # nothing to go on
        values = dispense.validate({"volume": "3 mL", "rate": "2 mL/min"})
        assert dog.expected_s(dispense, "p", values) == pytest.approx(90.0)
    finally:
        loop.close()


def test_a_bad_watchdog_table_is_one_line_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"bench\.toml: watchdog\.grace: .*furlong"):
        load_lab(_bench(tmp_path, 'grace = "5 furlong"'))
    with pytest.raises(BadInput, match=r"bench\.toml: watchdog\.multiple"):
        load_lab(_bench(tmp_path, "multiple = 0.5"))


def test_an_idle_pump_that_stops_answering_is_held_after_its_silent_polls(
    tmp_path: Path,
) -> None:
    lab = load_lab(_bench(tmp_path, 'poll = "5 min"\nsilent_polls = 3'))
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main() -> None:
        async with running(lab, clock, store, dry_run=True) as rt:
            await asyncio.sleep(11 * 60.0)  # two polls, both answered
            seen["answered"] = (rt.roll_call.polls, dict(rt.roll_call.missed))
            faults = rt.simulators["metal_feed.pump"].faults
            faults.force("no_reply", times=10**6)  # its USB adapter is pulled
            await asyncio.sleep(9 * 60.0)  # polls 3 and 4 unanswered
            seen["two_missed"] = (
                list(rt.roll_call.alarms),
                set(rt.instruments["metal_feed"].lane.holds),
            )
            await asyncio.sleep(5 * 60.0 + 30.0)  # poll 5, the third unanswered (and retried)
            seen["alarms"] = list(rt.roll_call.alarms)
            seen["holds"] = {n: set(i.lane.holds) for n, i in rt.instruments.items()}
            nxt = rt.launch(dispense, instrument="metal_feed", volume="0.5 mL", rate="2 mL/min")
            await asyncio.sleep(600.0)
            seen["held_launch"] = nxt.row.state
            faults._forced.clear()  # plugged back in; a person releases it
            desk = ControlDesk(rt, store, campaign_id=None, poll_s=1.0)
            seen["released"] = desk.carry_out(
                Command(kind="release", target="metal_feed", who="ana", created_wall=0.0)
            )
            await nxt
            seen["done"] = nxt.row.state
            await asyncio.sleep(30 * 60.0)  # answering again: no new alarm
            seen["alarms_at_end"] = len(rt.roll_call.alarms)

    try:
        clock.loop.run_until_complete(main())
        with Session(store.engine) as s:
            silent = s.exec(select(FaultRecord).where(FaultRecord.kind == "silent")).all()
        shown = store.status()["alarms"]
    finally:
        store.close()
        _close_checking_leaks(clock)

    assert seen["answered"] == (2, {"metal_feed": 0, "linker_feed": 0})
    assert seen["two_missed"] == ([], set())
    ((instrument, message),) = seen["alarms"]
    assert instrument == "metal_feed"
    assert message.startswith("metal_feed silent for 3 polls in a row over 15.0 min: pump: ")
    assert "metal_feed is held" in message
    assert seen["holds"] == {"metal_feed": {"watchdog"}, "linker_feed": set()}
    assert seen["held_launch"] in ("queued", "waiting")  # 10 min on, nothing started
    assert seen["released"] == ("done", "metal_feed released")
    assert seen["done"] == "done"
    assert seen["alarms_at_end"] == 1
    (alarm,) = silent
    assert (alarm.instrument, alarm.device, alarm.launch_id) == ("metal_feed", "pump", None)
    assert alarm.virtual_t == pytest.approx(25 * 60.0, abs=30.0)
    assert [(a["kind"], a["instrument"]) for a in shown] == [("silent", "metal_feed")]


def test_a_launch_due_during_a_poll_starts_after_it(tmp_path: Path) -> None:
    """A poll's exchanges are not split by a launch's (a kernel's command sequence is never
    interleaved with a poll's): the pump misses the poll's first two questions, and a
    dispense launched while the poll waits to ask again starts once the poll has its answer."""
    lab = load_lab(_bench(tmp_path, 'poll = "30 s"'))
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main() -> None:
        async with running(lab, clock, store, dry_run=True) as rt:
            pump = rt.simulators["metal_feed.pump"]
            await asyncio.sleep(29.0)
            pump.faults.force("no_reply", times=2)  # the poll at 30 s retries: 0.5 s, 1 s
            await asyncio.sleep(1.2)
            seen["polling"] = rt.instruments["metal_feed"].lane.polling
            run = rt.launch(dispense, instrument="metal_feed", volume="0.5 mL", rate="2 mL/min")
            await run
            seen["started"] = run.row.started_v
            seen["requests"] = [(round(t, 2), k, req) for t, k, req in pump.faults.log]
            seen["missed"] = dict(rt.roll_call.missed)

    try:
        clock.loop.run_until_complete(main())
    finally:
        store.close()
        _close_checking_leaks(clock)

    assert seen["polling"] is True
    assert [k for _, k, _ in seen["requests"]] == ["no_reply", "no_reply"]
    assert seen["started"] == pytest.approx(31.5, abs=0.05)  # after the answered third ask
    assert seen["missed"] == {"metal_feed": 0, "linker_feed": 0}  # answered in the end
