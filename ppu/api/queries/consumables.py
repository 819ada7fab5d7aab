"""Stock levels: what is left of each consumable, and how often it was refilled."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.values import finite, quantity
from ppu.store.models import Consumable


def consumables(s: Session, campaign: str | None = None) -> list[dict[str, Any]]:
    """Every stock; with `campaign`, a dry-run campaign's own and the real labs'."""
    q = select(Consumable).order_by(col(Consumable.scope), col(Consumable.name))
    if campaign is not None:
        q = q.where(
            (Consumable.scope == f"dry-run {campaign}") | col(Consumable.scope).startswith("lab ")
        )
    return [
        {
            "scope": c.scope,
            "name": c.name,
            "level": quantity(c.level, c.unit),
            "capacity": quantity(c.capacity, c.unit),
            "refills": c.refills,
            "updated_v_s": finite(c.updated_v),
            "updated_wall_s": finite(c.updated_wall),
        }
        for c in s.exec(q).all()
    ]
