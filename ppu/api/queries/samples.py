"""Samples, with what made them and their lineage."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.values import clean, finite, quantity
from ppu.store.models import (
    Launch,
    Sample,
)

# -- samples --------------------------------------------------------------------------------


def _sample_out(x: Sample, children: list[str], kernels: dict[int, str]) -> dict[str, Any]:
    mass = None
    if x.mass_value is not None and x.mass_unit:
        mass = quantity(x.mass_value, x.mass_unit)
    return {
        "id": x.id,
        "campaign_id": x.campaign_id,
        "kind": x.kind,
        "parents": [str(p) for p in (x.parents or [])],
        "children": children,
        "location": x.location,
        "state": x.state,
        "mass": mass,
        "made_by": x.made_by,
        "made_by_kernel": kernels.get(x.made_by) if x.made_by is not None else None,
        "created_v_s": finite(x.created_v) or 0.0,
        "properties": clean(x.properties),
    }


def _sample_rows(s: Session, campaign_id: str | None) -> list[Sample]:
    q = select(Sample)
    if campaign_id is not None:
        q = q.where(Sample.campaign_id == campaign_id)
    return list(s.exec(q.order_by(col(Sample.created_v), col(Sample.id))).all())


def _kernels(s: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = s.exec(select(Launch.id, Launch.kernel).where(col(Launch.id).in_(wanted))).all()
    return {i: k for i, k in rows if i is not None}


def samples(s: Session, campaign_id: str | None = None) -> list[dict[str, Any]]:
    rows = _sample_rows(s, campaign_id)
    children: dict[str, list[str]] = {}
    for x in rows:
        for p in x.parents or []:
            children.setdefault(str(p), []).append(x.id)
    kernels = _kernels(s, (x.made_by for x in rows))
    return [_sample_out(x, children.get(x.id, []), kernels) for x in rows]


def sample_lineage(s: Session, sample_id: str) -> dict[str, Any] | None:
    x = s.get(Sample, sample_id)
    if x is None:
        return None
    rows = {r.id: r for r in _sample_rows(s, x.campaign_id)}
    rows[x.id] = x
    children: dict[str, list[str]] = {}
    for r in rows.values():
        for p in r.parents or []:
            children.setdefault(str(p), []).append(r.id)
    kernels = _kernels(s, (r.made_by for r in rows.values()))

    def walk(start: list[str], step: Any) -> list[dict[str, Any]]:
        seen: list[str] = []
        frontier = list(start)
        while frontier:
            nxt = []
            for sid in frontier:
                if sid in seen or sid == x.id:
                    continue
                seen.append(sid)
                r = rows.get(sid) or s.get(Sample, sid)
                if r is not None:
                    rows[sid] = r
                    nxt += step(r)
            frontier = nxt
        return [_sample_out(rows[i], children.get(i, []), kernels) for i in seen if i in rows]

    return {
        "sample": _sample_out(x, children.get(x.id, []), kernels),
        "ancestors": walk([str(p) for p in x.parents or []], lambda r: list(r.parents or [])),
        "descendants": walk(children.get(x.id, []), lambda r: children.get(r.id, [])),
    }
