"""The planner's suggestions (experiments) and their outcomes."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.values import clean, finite
from ppu.store.models import (
    Experiment,
)

# -- suggestions (experiments) --------------------------------------------------------------


def suggestion_out(e: Experiment) -> dict[str, Any]:
    return {
        "id": e.id,
        "campaign_id": e.campaign_id,
        "number": e.number,
        "status": e.status,
        "pending_approval": e.status == "awaiting_approval",
        "params": clean(e.params),
        "objectives": clean(e.objectives),
        "suggestion": clean(e.suggestion),
        "launches": [int(i) for i in (e.launches or []) if isinstance(i, int)],
        "error": e.error,
        "suggested_v_s": finite(e.suggested_v) or 0.0,
        "ended_v_s": finite(e.ended_v),
    }


def suggestions(
    s: Session, campaign_id: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    q = select(Experiment)
    if campaign_id is not None:
        q = q.where(Experiment.campaign_id == campaign_id)
    if status is not None:
        q = q.where(Experiment.status == status)
    rows = s.exec(q.order_by(col(Experiment.campaign_id), col(Experiment.number))).all()
    return [suggestion_out(e) for e in rows]


def suggestion(s: Session, experiment_id: int) -> dict[str, Any] | None:
    e = s.get(Experiment, experiment_id)
    return suggestion_out(e) if e else None
