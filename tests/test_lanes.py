"""Two instrument lanes on one virtual clock: makespans and overlaps computed by hand.

Each kernel is a real dispense: bluesky plan → ophyd-async device → NE-1000 driver →
bytes over a socket → pump simulator, whose plunger moves on the same clock. A dispense
of V at rate R takes exactly V/R; nothing else may cost lab time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import bluesky.plan_stubs as bps
import pytest

from ppu.core.clock import Clock
from ppu.core.kernels import Consumes, In, kernel
from ppu.core.units import Q_
from ppu.lab.spec import load_lab
from ppu.runtime.runtime import LaunchFailed, running
from ppu.store import Store
from protocols.dosing import dispense
from tests.conftest import BENCH_LAB, _close_checking_leaks


@kernel(role="pump", rerun_safe=False, outputs={"dispensed": "mL"}, produces={"mixture": "mix"})
def top_up(
    instrument,
    ctx,
    solution=Consumes("solution"),
    volume=In("mL", ge="0.1 mL", le="50 mL", default="1 mL"),
    rate=In("mL/min", ge="0.1 mL/min", le="20 mL/min", default="1 mL/min"),
):
    """Add reagent to a solution made by another launch."""
    yield from bps.mv(instrument.pump.rate, rate.m_as("mL/min"))
    before = yield from bps.rd(instrument.pump.dispensed)
    yield from bps.mv(instrument.pump, volume.m_as("mL"))
    after = yield from bps.rd(instrument.pump.dispensed)
    ctx.produce("mixture", parents=[solution])
    return {"dispensed": Q_(after - before, "mL")}


# (volume mL, rate mL/min) → duration in s, by hand
LANE_A = [(5, 2), (3, 1), (2, 4)]  # 150, 180, 30  → ends 150, 330, 360
LANE_B = [(4, 2), (1, 0.5), (9, 3)]  # 120, 120, 180 → ends 120, 240, 420
EXPECTED_A = [(0, 150), (150, 330), (330, 360)]
EXPECTED_B = [(0, 120), (120, 240), (240, 420)]


def _run_two_lanes(tmp: Path) -> dict:
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp / 'lanes.sqlite'}")
    lab = load_lab(BENCH_LAB)

    async def main() -> dict:
        async with running(lab, clock, store, dry_run=True) as rt:
            a = [
                rt.launch(dispense, instrument="metal_feed", volume=f"{v} mL", rate=f"{r} mL/min")
                for v, r in LANE_A
            ]
            b = [
                rt.launch(dispense, instrument="linker_feed", volume=f"{v} mL", rate=f"{r} mL/min")
                for v, r in LANE_B
            ]
            await asyncio.gather(*a, *b)
            requests = {k: s.requests for k, s in rt.simulators.items()}
            return {
                "a": [(h.row.started_v, h.row.ended_v) for h in a],
                "b": [(h.row.started_v, h.row.ended_v) for h in b],
                "makespan": clock.now(),
                "requests": requests,
                "dispensed": [h.outputs["dispensed"].m_as("mL") for h in a + b],
            }

    try:
        return clock.loop.run_until_complete(main())
    finally:
        store.close()
        _close_checking_leaks(clock)


def _overlap(xs: list[tuple[float, float]], ys: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(x1, y1) - max(x0, y0)) for x0, x1 in xs for y0, y1 in ys)


def test_two_lanes_match_the_hand_computed_schedule_20_of_20(tmp_path: Path) -> None:
    for run in range(20):
        d = tmp_path / f"run{run}"
        d.mkdir()
        r = _run_two_lanes(d)
        assert r["a"] == EXPECTED_A, f"run {run}: lane A {r['a']}"
        assert r["b"] == EXPECTED_B, f"run {run}: lane B {r['b']}"
        assert r["makespan"] == 420.0
        assert _overlap(r["a"], r["b"]) == 360.0
        assert r["dispensed"] == [5, 3, 2, 4, 1, 9]
        # serial I/O happened inside every kernel, on both lanes
        assert all(n >= 3 * 8 for n in r["requests"].values()), r["requests"]


def test_a_launch_waits_for_the_sample_it_consumes(tmp_path: Path, virtual_clock: Clock) -> None:
    store = Store(f"sqlite:///{tmp_path / 'dep.sqlite'}")
    lab = load_lab(BENCH_LAB)

    async def main():
        async with running(lab, virtual_clock, store, dry_run=True) as rt:
            first = rt.launch(dispense, instrument="metal_feed", volume="5 mL", rate="2 mL/min")
            # linker_feed is idle, but the solution exists only after 150 s
            second = rt.launch(
                top_up,
                instrument="linker_feed",
                solution=first.sample("solution"),
                volume="1 mL",
                rate="1 mL/min",
            )
            await second
            return first, second

    try:
        first, second = virtual_clock.loop.run_until_complete(main())
        assert (first.row.started_v, first.row.ended_v) == (0.0, 150.0)
        assert (second.row.started_v, second.row.ended_v) == (150.0, 210.0)
        sol = store.sample(first.produced["solution"])
        mix = store.sample(second.produced["mixture"])
        assert sol is not None and sol.state == "consumed"
        assert mix is not None and mix.parents == [sol.id] and mix.state == "present"
        assert [e.state for e in _journal(store, second.id)] == [
            "queued",
            "waiting",
            "running",
            "done",
        ]
    finally:
        store.close()


def test_a_failed_producer_cancels_its_consumers(tmp_path: Path, virtual_clock: Clock) -> None:
    store = Store(f"sqlite:///{tmp_path / 'fail.sqlite'}")
    lab = load_lab(BENCH_LAB)

    async def main():
        async with running(lab, virtual_clock, store, dry_run=True) as rt:
            # the syringe holds 60 mL: two 40 mL dispenses stall the second one
            rt.simulators["metal_feed.pump"].loaded_ml = 4.0
            first = rt.launch(dispense, instrument="metal_feed", volume="5 mL", rate="5 mL/min")
            second = rt.launch(top_up, solution=first.sample("solution"))
            results = await asyncio.gather(first, second, return_exceptions=True)
            return first, second, results

    try:
        first, second, results = virtual_clock.loop.run_until_complete(main())
        assert first.state == "failed" and "stalled" in (first.row.error or "")
        assert second.state == "cancelled"
        assert all(isinstance(r, LaunchFailed) for r in results)
    finally:
        store.close()


def _journal(store: Store, launch_id: int):
    from sqlmodel import select

    from ppu.store.models import LaunchEvent

    return store.session.exec(
        select(LaunchEvent).where(LaunchEvent.launch_id == launch_id).order_by(LaunchEvent.id)
    ).all()


@pytest.mark.parametrize("repeat", range(3))
def test_lanes_are_deterministic_across_runs(tmp_path: Path, repeat: int) -> None:
    r = _run_two_lanes(tmp_path)
    assert r["requests"] == _run_two_lanes_requests_reference(tmp_path)


_REFERENCE: dict = {}


def _run_two_lanes_requests_reference(tmp_path: Path) -> dict:
    if not _REFERENCE:
        d = tmp_path / "ref"
        d.mkdir()
        _REFERENCE.update(_run_two_lanes(d)["requests"])
    return _REFERENCE
