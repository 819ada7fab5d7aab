"""Campaigns: the list, one campaign with its objectives and counts, the latest."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from ppu.api.queries.values import clean, finite
from ppu.runtime.holds import campaign_owner, campaign_owners, db_url
from ppu.store.models import (
    Campaign,
    Experiment,
    Launch,
)

# -- campaigns ------------------------------------------------------------------------------

#: experiment statuses that are over
FINISHED = ("COMPLETED", "FAILED", "ABANDONED")


def latest_campaign_id(s: Session) -> str | None:
    return s.exec(
        select(Campaign.id).order_by(col(Campaign.created_wall).desc(), col(Campaign.id).desc())
    ).first()


def objectives_of(c: Campaign, s: Session | None = None) -> list[dict[str, Any]]:
    """The campaign's objectives from its file; units fall back to what experiments stored."""
    config = c.config or {}
    resolved = config.get("objectives")  # as the campaign file was read (since plugins)
    raw = (
        resolved if isinstance(resolved, list) else (config.get("campaign") or {}).get("objectives")
    )
    out = []
    for o in raw if isinstance(raw, list) else []:
        if isinstance(o, dict) and isinstance(o.get("name"), str):
            maximize = o.get("maximize")
            if maximize is None:
                maximize = not o["minimize"] if isinstance(o.get("minimize"), bool) else True
            out.append(
                {"name": o["name"], "unit": str(o.get("unit") or ""), "maximize": bool(maximize)}
            )
    if s is not None and any(not o["unit"] for o in out):
        for e in s.exec(select(Experiment).where(Experiment.campaign_id == c.id)):
            for o in out:
                q = (e.objectives or {}).get(o["name"])
                if not o["unit"] and isinstance(q, dict) and q.get("unit"):
                    o["unit"] = str(q["unit"])
    return out


def _campaign(s: Session, c: Campaign, owner: str | None) -> dict[str, Any]:
    exps = dict(
        s.exec(
            select(Experiment.status, func.count())
            .where(Experiment.campaign_id == c.id)
            .group_by(Experiment.status)
        ).all()
    )
    launches = dict(
        s.exec(
            select(Launch.state, func.count())
            .where(Launch.campaign_id == c.id)
            .group_by(Launch.state)
        ).all()
    )
    config = c.config if isinstance(c.config, dict) else {}
    budget = {
        "experiments": config.get("max_experiments"),
        "lab_time_s": finite(config.get("max_lab_time_s")),
    }
    now = finite(c.virtual_t) or 0.0
    finished = sum(v for k, v in exps.items() if k in FINISHED)
    return {
        "id": c.id,
        "name": c.name,
        "state": c.state,
        "seed": c.seed,
        "dry_run": c.dry_run,
        "created_wall_s": finite(c.created_wall) or 0.0,
        "virtual_t_s": now,
        "clock": {
            "virtual_t_s": now,
            "wall_s": finite(c.clock_wall),
            "rate": finite(c.clock_rate),
            # lab time 0 on the calendar: a dry-run's lab starts when its campaign does; a
            # real run's lab time follows the wall clock from its last reading
            "origin_wall_s": (
                finite(c.clock_wall) - now
                if not c.dry_run and c.clock_wall is not None
                else finite(c.created_wall) or 0.0
            ),
        },
        "budget": budget,
        "eta_v_s": eta_v_s(now, finished, budget, c.state),
        "objectives": objectives_of(c, s),
        "experiments": exps,
        "launches": launches,
        "summary": clean(c.summary),
        "controller": owner,
        "heartbeat_age_s": (
            round(max(0.0, time.time() - c.heartbeat_wall), 1)
            if owner is not None and c.heartbeat_wall is not None
            else None
        ),
    }


def eta_v_s(now: float, finished: int, budget: dict[str, Any], state: str) -> float | None:
    """When the campaign should end, in lab time: the experiments left at the pace of those
    finished so far, capped by the lab-time budget; None until one has finished."""
    if state not in ("running", "paused"):
        return None
    n, limit = budget.get("experiments"), budget.get("lab_time_s")
    if limit is not None and now >= limit:
        return None  # spent: it ends as soon as what runs has finished
    if not isinstance(n, int):
        return limit  # a lab-time budget alone: it ends when that is spent
    if finished == 0 or now <= 0:
        return None  # nothing to go by yet
    guess = now + max(0, n - finished) * now / finished
    return min(guess, limit) if limit is not None else guess


def campaigns(s: Session) -> list[dict[str, Any]]:
    rows = s.exec(
        select(Campaign).order_by(col(Campaign.created_wall).desc(), col(Campaign.id).desc())
    ).all()
    owners = campaign_owners(db_url(s), [c.id for c in rows])
    return [_campaign(s, c, owners[c.id]) for c in rows]


def campaign(s: Session, campaign_id: str) -> dict[str, Any] | None:
    c = s.get(Campaign, campaign_id)
    return _campaign(s, c, campaign_owner(db_url(s), c.id)) if c else None
