"""Steering a running campaign through the store, as the dashboard or another process does."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from ppu.campaign.loop import load_campaign, run_campaign
from ppu.core.clock import Clock
from ppu.lab.spec import load_lab
from ppu.runtime.runtime import running
from ppu.store import Store
from tests.conftest import ROOT, _close_checking_leaks

DEMO = ROOT / "protocols" / "demo"


def _campaign(tmp_path: Path, script, budget: int = 2, operator_delay_s: float = 60.0):
    """Run the demo campaign with `script(rt, store, cid)` acting alongside; return both."""
    lab = load_lab(DEMO / "lab.toml")
    spec = dataclasses.replace(load_campaign(DEMO / "campaign.toml", lab), max_experiments=budget)
    clock = Clock.new_virtual()
    store = Store(f"sqlite:///{tmp_path / 'ppu.sqlite'}")
    seen: dict = {}

    async def main():
        async with running(
            lab, clock, store, dry_run=True, operator_delay_s=operator_delay_s
        ) as rt:
            actor = asyncio.ensure_future(script(rt, store, "c1", clock, seen))
            seen["summary"] = await run_campaign(
                spec, rt, store, clock, "c1", db_label="t", dry_run=True
            )
            await actor
            seen["sims"] = rt.simulators

    try:
        clock.loop.run_until_complete(main())
    finally:
        store.close()
        _close_checking_leaks(clock)
    return seen, store


def test_abort_leaves_every_instrument_in_its_safe_state(tmp_path: Path) -> None:
    async def abort_mid_synthesis(rt, store, cid, clock, seen):
        await asyncio.sleep(6 * 3600)  # the reactor is hot, pumps have run
        seen["heater_before"] = rt.simulators["synthesis.heater"].temperature_c
        store.add_command("abort", cid, who="night shift")

    seen, store = _campaign(tmp_path, abort_mid_synthesis)
    summary = seen["summary"]
    assert summary["aborted_by"] == "night shift"
    assert set(summary["safe_states"].values()) == {"safe"}
    assert seen["heater_before"] > 100
    sims = seen["sims"]
    for name, sim in sims.items():
        if hasattr(sim, "temperature_c"):  # heaters: setpoint safe, output off
            assert sim.target_sp <= 25.0 and sim.mode != 0 and sim.manual_op == 0.0, name
        if hasattr(sim, "coils"):  # every valve closed
            assert not any(sim.coils), name
        if hasattr(sim, "syringe_ml"):  # pumps stopped
            assert sim.state == "S", name
    c = store.session.get(__import__("ppu.store.models", fromlist=["Campaign"]).Campaign, "c1")
    assert c.state == "aborted"
    from sqlmodel import select

    from ppu.store.models import Command, Launch

    cmd = store.session.exec(select(Command)).one()
    assert (cmd.state, cmd.who) == ("done", "night shift")
    states = {lc.state for lc in store.session.exec(select(Launch)).all()}
    assert "running" not in states and "queued" not in states


def test_hold_and_pause_stop_new_kernels_until_released(tmp_path: Path) -> None:
    async def steer(rt, store, cid, clock, seen):
        store.add_command("hold", "oven", who="maintenance")
        await asyncio.sleep(40 * 3600)  # the first synthesis has long finished
        seen["oven_state_held"] = rt.instruments["oven"].lane.state
        seen["activations_while_held"] = _count(store, "activate")
        store.add_command("release", "oven", who="maintenance")
        store.add_command("pause", cid, who="chemist")
        await asyncio.sleep(3600)
        seen["paused"] = rt.paused
        store.add_command("resume", cid, who="chemist")

    seen, store = _campaign(tmp_path, steer, budget=1)
    assert seen["oven_state_held"] == "held"
    assert seen["activations_while_held"] == 0
    assert seen["paused"] is True
    assert seen["summary"]["experiments"] == 1 and seen["summary"]["completed"] == 1
    from sqlmodel import select

    from ppu.store.models import Command, InstrumentStatus

    cmds = store.session.exec(select(Command).order_by(Command.id)).all()
    assert [(c.kind, c.state) for c in cmds] == [
        ("hold", "done"),
        ("release", "done"),
        ("pause", "done"),
        ("resume", "done"),
    ]
    statuses = {s.name: s.state for s in store.session.exec(select(InstrumentStatus)).all()}
    assert set(statuses) == {"synthesis", "oven", "balance", "analyzer_1", "analyzer_2"}


def _count(store: Store, kernel: str) -> int:
    from sqlmodel import func, select

    from ppu.store.models import Launch

    return store.session.exec(
        select(func.count())
        .select_from(Launch)
        .where(Launch.kernel == kernel, Launch.started_v.is_not(None))
    ).one()  # type: ignore[union-attr]


def test_ppu_steps_lists_a_waiting_step_and_confirms_it(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from ppu.cli.main import app

    db = str(tmp_path / "ppu.sqlite")

    async def person_at_the_console(rt, store, cid, clock, seen):
        runner = CliRunner()
        while True:  # look every 10 min of lab time, as someone walking past would
            await asyncio.sleep(600)
            r = runner.invoke(app, ["steps", "--db", db, "--json"])
            steps = json.loads(r.stdout.strip().splitlines()[-1])["steps"]
            if steps:
                break
        seen["waiting"] = steps[0]
        seen["asked_at"] = clock.now()
        r = runner.invoke(
            app, ["steps", "confirm", str(steps[0]["id"]), "--who", "Ada", "--db", db]
        )
        assert r.exit_code == 0, r.stderr

    seen, store = _campaign(tmp_path, person_at_the_console, budget=1, operator_delay_s=24 * 3600)
    from ppu.store.models import OperatorStepRecord

    step = store.session.get(OperatorStepRecord, seen["waiting"]["id"])
    assert seen["waiting"]["text"].startswith("Empty the reactor of synthesis")
    assert step.state == "confirmed" and step.confirmed_by == "Ada"
    assert seen["summary"]["experiments"] == 1
