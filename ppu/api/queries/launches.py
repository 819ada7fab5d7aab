"""Launches, and which of them wait for a person's word."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.values import clean, finite
from ppu.store.models import (
    Launch,
)

# -- launches -------------------------------------------------------------------------------


def launch_out(x: Launch, awaits_decision: bool = False) -> dict[str, Any]:
    return {
        "id": x.id,
        "campaign_id": x.campaign_id,
        "kernel": x.kernel,
        "instrument": x.instrument,
        "state": x.state,
        "rerun_safe": x.rerun_safe,
        "inputs": clean(x.inputs),
        "outputs": clean(x.outputs),
        "error": x.error,
        "queued_v_s": finite(x.queued_v) or 0.0,
        "started_v_s": finite(x.started_v),
        "ended_v_s": finite(x.ended_v),
        "expected_s": finite(x.expected_s),
        "awaits_decision": awaits_decision,
    }


def _awaiting(s: Session, rows: Iterable[Launch]) -> list[dict[str, Any]]:
    """Launch rows out, each marked if it waits for a person's word (held now, or held on
    resume because its controller is gone)."""
    from ppu.runtime.holds import alive_asker, db_url, needs_decision

    url = db_url(s)
    alive = alive_asker(url)
    return [launch_out(x, needs_decision(x, url, alive)) for x in rows]


def launches(
    s: Session,
    campaign_id: str | None = None,
    states: Iterable[str] = (),
    instrument: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    q = select(Launch)
    if campaign_id is not None:
        q = q.where(Launch.campaign_id == campaign_id)
    states = list(states)
    if states:
        q = q.where(col(Launch.state).in_(states))
    if instrument is not None:
        q = q.where(Launch.instrument == instrument)
    rows = s.exec(q.order_by(col(Launch.id).desc()).limit(limit)).all()
    return _awaiting(s, reversed(rows))


def launch(s: Session, launch_id: int) -> dict[str, Any] | None:
    x = s.get(Launch, launch_id)
    return _awaiting(s, [x])[0] if x else None
