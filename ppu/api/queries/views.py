"""Views the page draws: the timeline, the latest isotherms, optimisation progress and the
Pareto front."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.campaigns import objectives_of
from ppu.api.queries.instruments import instruments
from ppu.api.queries.values import ISOTHERM_POINTS, PRESSURE_IN_NAME, finite, quantity
from ppu.store.models import (
    Campaign,
    Experiment,
    Launch,
    Measurement,
)

# -- views for the page ---------------------------------------------------------------------

#: the timeline's lane for launches that need no instrument
COMPUTE_LANE = "(compute)"


def timeline(s: Session, campaign_id: str) -> dict[str, Any] | None:
    """Kernels per instrument on the virtual clock: one bar per launch that has started."""
    c = s.get(Campaign, campaign_id)
    if c is None:
        return None
    now = finite(c.virtual_t) or 0.0
    rows = s.exec(
        select(Launch)
        .where(Launch.campaign_id == campaign_id, col(Launch.started_v).is_not(None))
        .order_by(col(Launch.id))
    ).all()
    bars = []
    for x in rows:
        start = finite(x.started_v)
        if start is None:
            continue
        end = finite(x.ended_v)
        running = end is None
        if running:
            end = max(now, start)
        now = max(now, end)  # type: ignore[type-var]
        bars.append(
            {
                "launch_id": x.id,
                "kernel": x.kernel,
                # compute kernels (analysis, a twin) run off the instruments: their own lane
                "instrument": x.instrument or COMPUTE_LANE,
                "state": x.state,
                "start_v_s": start,
                "end_v_s": end,
                "running": running,
            }
        )
    names = [i["name"] for i in instruments(s, campaign_id)]
    if any(b["instrument"] == COMPUTE_LANE for b in bars):
        names.append(COMPUTE_LANE)
    return {"campaign_id": campaign_id, "now_v_s": now, "instruments": names, "bars": bars}


def _isotherm_point() -> Any:
    from sqlalchemy import or_

    return or_(*(col(Measurement.name).startswith(p) for p in ISOTHERM_POINTS))


def _pressure(m: Measurement) -> float | None:
    p = finite((m.provenance or {}).get("pressure_bar"))
    if p is None:
        hit = PRESSURE_IN_NAME.match(m.name)
        p = finite(hit.group(1)) if hit else None
    return p


def isotherms(
    s: Session, campaign_id: str, latest: int = 4, launch_ids: list[int] | None = None
) -> list[dict[str, Any]] | None:
    """The latest isotherm launches (running ones too) and their points so far; or the
    launches named (an experiment's isotherms)."""
    if s.get(Campaign, campaign_id) is None:
        return None
    if launch_ids:
        return [iso for lid in sorted(set(launch_ids)) for iso in _isotherm(s, campaign_id, lid)]
    with_points = s.exec(
        select(Measurement.launch_id)
        .join(Launch, col(Launch.id) == col(Measurement.launch_id))
        .where(
            Launch.campaign_id == campaign_id,
            _isotherm_point(),
        )
        .distinct()
    ).all()
    running = s.exec(
        select(Launch.id).where(
            Launch.campaign_id == campaign_id,
            Launch.kernel == "measure_isotherm",
            Launch.state == "running",
        )
    ).all()
    ids = sorted({i for i in [*with_points, *running] if i is not None}, reverse=True)[:latest]
    return [iso for lid in sorted(ids) for iso in _isotherm(s, campaign_id, lid)]


def _isotherm(s: Session, campaign_id: str, lid: int) -> list[dict[str, Any]]:
    """One isotherm launch and its points ([] if it is not one of the campaign's)."""
    x = s.get(Launch, lid)
    if x is None or x.campaign_id != campaign_id:
        return []
    inputs = x.inputs or {}
    temp = inputs.get("temperature")
    points = []
    for m in s.exec(
        select(Measurement)
        .where(
            Measurement.launch_id == lid,
            _isotherm_point(),
        )
        .order_by(col(Measurement.id))
    ).all():
        prov = m.provenance or {}
        point = prov.get("point")
        points.append(
            {
                "measurement_id": m.id,
                "pressure": quantity(_pressure(m), "bar"),
                "uptake": quantity(m.value, m.unit),
                "point": point if isinstance(point, int) else None,
                "branch": (
                    prov["branch"]
                    if isinstance(prov.get("branch"), str)
                    else "desorption"
                    if m.name.startswith("uptake_des@")
                    else "adsorption"
                ),
            }
        )
    sample = inputs.get("sample")
    sample_id = None
    if points:
        first = s.get(Measurement, points[0]["measurement_id"])
        sample_id = first.sample_id if first else None
    return [
        {
            "launch_id": lid,
            "sample_id": sample_id or (sample if isinstance(sample, str) else None),
            "instrument": x.instrument,
            "gas": inputs.get("gas") if isinstance(inputs.get("gas"), str) else None,
            "temperature": (
                quantity(temp.get("value"), temp.get("unit"))
                if isinstance(temp, dict) and "value" in temp
                else None
            ),
            "state": x.state,
            "points": points,
        }
    ]


def progress(s: Session, campaign_id: str) -> dict[str, Any] | None:
    """Each experiment's objective values, the best so far, and the Pareto front."""
    c = s.get(Campaign, campaign_id)
    if c is None:
        return None
    objs = objectives_of(c, s)
    rows = s.exec(
        select(Experiment)
        .where(Experiment.campaign_id == campaign_id)
        .order_by(col(Experiment.number))
    ).all()
    best: dict[str, float | None] = {o["name"]: None for o in objs}
    points = []
    done: list[tuple[int, dict[str, float]]] = []
    for e in rows:
        values: dict[str, float | None] = {}
        for o in objs:
            q = (e.objectives or {}).get(o["name"])
            values[o["name"]] = finite(q.get("value")) if isinstance(q, dict) else finite(q)
        if e.status == "COMPLETED":
            for o in objs:
                v = values[o["name"]]
                b = best[o["name"]]
                if v is not None and (b is None or (v > b if o["maximize"] else v < b)):
                    best[o["name"]] = v
            if all(values[o["name"]] is not None for o in objs):
                done.append((e.number, {k: v for k, v in values.items() if v is not None}))
        points.append(
            {
                "experiment": e.number,
                "id": e.id,
                "status": e.status,
                "objectives": values,
                "best_so_far": dict(best),
            }
        )
    return {
        "campaign_id": campaign_id,
        "objectives": objs,
        "points": points,
        "pareto": pareto_front(done, objs) if len(objs) > 1 else [],
    }


def pareto_front(done: list[tuple[int, dict[str, float]]], objs: list[dict[str, Any]]) -> list[int]:
    def better_or_equal(a: dict[str, float], b: dict[str, float]) -> bool:
        return all(
            a[o["name"]] >= b[o["name"]] if o["maximize"] else a[o["name"]] <= b[o["name"]]
            for o in objs
        )

    return [n for n, v in done if not any(better_or_equal(w, v) and w != v for _, w in done)]
