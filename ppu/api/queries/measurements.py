"""Measurements with their units and provenance."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.values import clean, finite, quantity
from ppu.store.models import (
    Launch,
    Measurement,
)

# -- measurements ---------------------------------------------------------------------------


def measurement_out(m: Measurement) -> dict[str, Any]:
    return {
        "id": m.id,
        "launch_id": m.launch_id,
        "sample_id": m.sample_id,
        "name": m.name,
        "quantity": quantity(m.value, m.unit),
        "fidelity": m.fidelity,
        "virtual_t_s": finite(m.virtual_t) or 0.0,
        "wall_s": finite(m.wall_t) or 0.0,
        "provenance": clean(m.provenance),
    }


def measurements(
    s: Session,
    campaign_id: str | None = None,
    launch_id: int | None = None,
    sample_id: str | None = None,
    name: str | None = None,
    after_id: int = 0,
    limit: int = 500,
    fidelity: str | None = None,
) -> list[dict[str, Any]]:
    q = select(Measurement).where(col(Measurement.id) > after_id)
    if fidelity is not None:
        q = q.where(Measurement.fidelity == fidelity)
    if campaign_id is not None:
        q = q.join(Launch, col(Launch.id) == col(Measurement.launch_id)).where(
            Launch.campaign_id == campaign_id
        )
    if launch_id is not None:
        q = q.where(Measurement.launch_id == launch_id)
    if sample_id is not None:
        q = q.where(Measurement.sample_id == sample_id)
    if name is not None:
        q = q.where(col(Measurement.name).startswith(name, autoescape=True))
    rows = s.exec(q.order_by(col(Measurement.id)).limit(limit)).all()
    return [measurement_out(m) for m in rows]
