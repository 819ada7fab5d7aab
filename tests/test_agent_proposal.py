"""A candidate proposed from outside the planner (a `propose` command, as `ppu mcp` writes
it) in an unpaced dry-run: checked again by the controller against the bound search space,
refused when out of bounds or over budget, and, once taken, waiting for a person's word
(the campaign asks for no approval; the simulated chemist never gives it). A person's
reject abandons it; the campaign goes on."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

from sqlmodel import Session, select

from ppu.campaign.loop import load_campaign, run_campaign
from ppu.core.clock import Clock
from ppu.lab.spec import load_lab
from ppu.runtime.runtime import running
from ppu.store import Store
from ppu.store.models import Command, Experiment
from tests.campaign_files import demo_campaign
from tests.conftest import ROOT, _close_checking_leaks

DEMO = ROOT / "protocols" / "demo"
GOOD = {
    "temperature": {"value": 150.0, "unit": "degC"},
    "time": {"value": 2.2, "unit": "h"},
    "ratio": {"value": 1.5, "unit": ""},
    "modulator": {"value": 10.0, "unit": ""},
    "solvent": "DMF",
}


def _quick_campaign(where: Path) -> Path:
    return demo_campaign(where, name="demo CO2 capture", approval=False, batch_size=2)


def test_an_agents_candidate_waits_for_a_person_and_a_reject_abandons_it(
    tmp_path: Path,
) -> None:
    lab = load_lab(DEMO / "lab.toml")
    spec = dataclasses.replace(load_campaign(_quick_campaign(tmp_path), lab), max_experiments=4)
    url = f"sqlite:///{tmp_path / 'ppu.sqlite'}"
    clock = Clock.new_virtual()
    store = Store(url)
    seen: dict = {}
    stop = threading.Event()

    def person_and_agent() -> None:
        """Another process's view: write commands, watch the store, in wall time."""
        other = Store(url)
        try:
            hot = {**GOOD, "temperature": {"value": 250.0, "unit": "degC"}}
            for who, params in (("agent:a", hot), ("agent:a", GOOD), ("agent:b", GOOD)):
                other.add_command(
                    "propose",
                    "c1",
                    who=who,
                    campaign_id="c1",
                    argument=json.dumps({"params": params, "why": "test"}),
                )
            while not stop.is_set():
                with Session(other.engine) as s:
                    waiting = s.exec(
                        select(Experiment).where(Experiment.status == "awaiting_approval")
                    ).all()
                if waiting:
                    (e,) = waiting
                    seen["waited"] = (e.number, e.suggestion["proposed_by"], e.params)
                    other.add_command("reject", str(e.id), who="Ada", campaign_id="c1")
                    return
                time.sleep(0.05)
        finally:
            other.close()

    thread = threading.Thread(target=person_and_agent)
    thread.start()

    async def main() -> None:
        async with running(lab, clock, store, dry_run=True) as rt:
            rt.campaign_id = "c1"
            seen["summary"] = await run_campaign(
                spec, rt, store, clock, "c1", db_label="t", dry_run=True
            )

    try:
        clock.loop.run_until_complete(main())
    finally:
        stop.set()
        thread.join(10)
        _close_checking_leaks(clock)
    try:
        with Session(store.engine) as s:
            exps = s.exec(select(Experiment).order_by(Experiment.number)).all()
            cmds = s.exec(select(Command).where(Command.kind == "propose")).all()
            rejected = s.exec(select(Command).where(Command.kind == "reject")).one()
    finally:
        store.close()

    hot, good, late = sorted(cmds, key=lambda c: c.id)
    assert hot.state == "refused"
    assert "temperature: 250 degC is outside allowed 80 degC … 180 degC" in hot.result
    assert good.state == "done" and "waits for a person's approval" in good.result
    assert late.state == "refused" and "no budget left (4 experiments)" in late.result
    number, by, params = seen["waited"]
    assert by == "agent:a" and params["temperature"] == {"value": 150.0, "unit": "degC"}
    agents = [e for e in exps if (e.suggestion or {}).get("engine") == "agent"]
    assert [e.number for e in agents] == [number]
    (e,) = agents
    assert e.status == "ABANDONED" and e.error == "agent:a's proposal rejected by Ada"
    assert e.launches in (None, [])  # nothing moved for it
    assert (rejected.state, rejected.who) == ("done", "Ada")
    assert len(exps) == 4 and seen["summary"]["experiments"] == 4
    assert all(x.status != "awaiting_approval" for x in exps)
