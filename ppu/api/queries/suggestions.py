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
        "predicted_vs_measured": predicted_vs_measured(e),
    }


def predicted_vs_measured(e: Experiment) -> list[dict[str, Any]]:
    """Per objective: what the lab measured, what the model of the lab predicted, and (in a
    multi-fidelity campaign) what the computed twin estimated, each with its fidelity."""
    sug = e.suggestion if isinstance(e.suggestion, dict) else {}
    preds = sug.get("predictions") if isinstance(sug.get("predictions"), dict) else {}
    twin = preds.get("twin") if isinstance(preds.get("twin"), dict) else None
    out = []
    objectives = e.objectives if isinstance(e.objectives, dict) else {}
    for k, (name, value) in enumerate(objectives.items()):
        if not isinstance(value, dict):
            continue
        model = preds.get(name) if isinstance(preds.get(name), dict) else {}
        out.append(
            {
                "objective": name,
                "unit": value.get("unit"),
                "measured": finite(value.get("value")),
                "predicted_mean": finite(model.get("mean")),
                "predicted_sd": finite(model.get("sd")),
                # the twin estimates the first objective
                "computed": finite(twin.get("mean")) if twin and k == 0 else None,
            }
        )
    return out


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
