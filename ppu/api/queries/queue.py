"""The queue as a person reads it: what is active, grouped by experiment, and for each launch
what it is waiting for (an instrument, a person, a refill, the campaign's pause)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.values import finite
from ppu.store.models import (
    Campaign,
    Experiment,
    InstrumentStatus,
    Launch,
    LaunchEvent,
    OperatorStepRecord,
)

ACTIVE = ("queued", "waiting", "running", "interrupted", "held")
HOLD_WORDS = {
    "operator": "held by a person",
    "watchdog": "held by the watchdog (an alarm)",
    "quarantine": "quarantined after repeated faults",
    "pause": "the campaign is paused",
    "abort": "the campaign is aborting",
    "lock": "the controller lost its campaign lock",
}


def waiting_for(
    x: Launch,
    campaign: Campaign,
    steps: dict[int, OperatorStepRecord],
    held: dict[str, list[str]],
    last_detail: dict[int, str],
) -> str:
    """One line: why this launch is not done yet."""
    step = steps.get(x.id or 0)
    if step is not None:
        return f"a person: {step.text}"
    if x.state == "held":
        return "a person's decision: it was interrupted and is not safe to repeat"
    if x.state == "interrupted":
        return "the controller: it stopped while this ran"
    if x.state == "running":
        return "its kernel to finish"
    if campaign.state == "paused":
        return "the campaign to resume"
    holds = held.get(x.instrument or "", [])
    if holds:
        return f"{x.instrument}: " + ", ".join(HOLD_WORDS.get(h, h) for h in holds)
    detail = last_detail.get(x.id or 0)
    if detail:
        return detail
    return f"{x.instrument} to be free" if x.instrument else "its turn"


def queue(s: Session, campaign_id: str) -> list[dict[str, Any]] | None:
    c = s.get(Campaign, campaign_id)
    if c is None:
        return None
    active = s.exec(
        select(Launch)
        .where(Launch.campaign_id == campaign_id, col(Launch.state).in_(ACTIVE))
        .order_by(col(Launch.id))
    ).all()
    exps = s.exec(
        select(Experiment)
        .where(Experiment.campaign_id == campaign_id)
        .order_by(col(Experiment.number))
    ).all()
    of_launch = {i: e for e in exps for i in (e.launches or []) if isinstance(i, int)}
    steps = {
        st.launch_id: st
        for st in s.exec(
            select(OperatorStepRecord).where(
                OperatorStepRecord.campaign_id == campaign_id,
                OperatorStepRecord.state == "waiting",
            )
        ).all()
        if st.launch_id is not None
    }
    held = {
        r.name: [h for h in (r.holds or []) if isinstance(h, str)]
        for r in s.exec(select(InstrumentStatus)).all()
    }
    ids = [x.id for x in active]
    last_detail: dict[int, str] = {}
    if ids:
        for ev in s.exec(
            select(LaunchEvent)
            .where(col(LaunchEvent.launch_id).in_(ids))
            .order_by(col(LaunchEvent.id))
        ).all():
            if ev.detail:
                last_detail[ev.launch_id] = ev.detail
    groups: dict[int | None, dict[str, Any]] = {}
    for e in exps:
        if e.status == "awaiting_approval":
            groups[e.number] = {
                "experiment": e.number,
                "experiment_id": e.id,
                "status": e.status,
                "waiting_for": "your approval of the planner's proposal",
                "launches": [],
            }
    for x in active:
        e = of_launch.get(x.id or 0)
        key = e.number if e is not None else None
        g = groups.setdefault(
            key,
            {
                "experiment": key,
                "experiment_id": e.id if e is not None else None,
                "status": e.status if e is not None else None,
                "waiting_for": None,
                "launches": [],
            },
        )
        g["launches"].append(
            {
                "id": x.id,
                "kernel": x.kernel,
                "instrument": x.instrument,
                "state": x.state,
                "queued_v_s": finite(x.queued_v) or 0.0,
                "started_v_s": finite(x.started_v),
                "expected_s": finite(x.expected_s),
                "waiting_for": waiting_for(x, c, steps, held, last_detail),
            }
        )
    return sorted(groups.values(), key=lambda g: (g["experiment"] is None, g["experiment"] or 0))
