"""Plain reads over the store, one function per question the dashboard asks.

Each takes a SQLModel session and returns plain dicts shaped like the models in
`ppu.api.models`, so the routes stay thin and the same reads serve the page, the JSON API and
the live stream. Values that are not finite become None (JSON has no NaN).
"""

from __future__ import annotations

import math
import re
import time
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from ppu.store.models import (
    Campaign,
    Command,
    Experiment,
    InstrumentStatus,
    Launch,
    LaunchEvent,
    Measurement,
    OperatorStepRecord,
    Sample,
)

TERMINAL_CAMPAIGN = ("done", "aborted", "failed", "abandoned")
ISOTHERM_POINTS = ("uptake@", "uptake_des@")  # adsorption and desorption branches
_PRESSURE_IN_NAME = re.compile(r"uptake(?:_des)?@([0-9.eE+-]+)\s*bar")


def finite(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def clean(obj: Any) -> Any:
    """A JSON-safe copy: NaN and infinities become None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    return obj


def quantity(value: Any, unit: str | None) -> dict[str, Any]:
    return {"value": finite(value), "unit": unit or ""}


# -- campaigns ------------------------------------------------------------------------------


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


def _campaign(s: Session, c: Campaign) -> dict[str, Any]:
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
    return {
        "id": c.id,
        "name": c.name,
        "state": c.state,
        "seed": c.seed,
        "dry_run": c.dry_run,
        "created_wall_s": finite(c.created_wall) or 0.0,
        "virtual_t_s": finite(c.virtual_t) or 0.0,
        "objectives": objectives_of(c, s),
        "experiments": exps,
        "launches": launches,
        "summary": clean(c.summary),
    }


def campaigns(s: Session) -> list[dict[str, Any]]:
    rows = s.exec(
        select(Campaign).order_by(col(Campaign.created_wall).desc(), col(Campaign.id).desc())
    ).all()
    return [_campaign(s, c) for c in rows]


def campaign(s: Session, campaign_id: str) -> dict[str, Any] | None:
    c = s.get(Campaign, campaign_id)
    return _campaign(s, c) if c else None


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
        "awaits_decision": awaits_decision,
    }


def _awaiting(s: Session, rows: Iterable[Launch]) -> list[dict[str, Any]]:
    """Launch rows out, each marked if it waits for a person's word (held now, or held on
    resume because its controller is gone)."""
    from ppu.runtime.holds import db_url, needs_decision

    url = db_url(s)
    return [launch_out(x, needs_decision(x, url)) for x in rows]


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


# -- instruments ----------------------------------------------------------------------------

_lab_cache: dict[str, tuple[float, dict[str, list[str]]]] = {}


def lab_instruments(path: str | None) -> dict[str, list[str]]:
    """Instrument names and roles from a lab file, if this machine can read it."""
    if not path:
        return {}
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return {}
    hit = _lab_cache.get(str(p))
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        raw = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    found: dict[str, list[str]] = {}
    instruments = raw.get("instruments")
    if isinstance(instruments, dict):
        for name, spec in instruments.items():
            roles = spec.get("roles") if isinstance(spec, dict) else None
            found[str(name)] = [str(r) for r in roles] if isinstance(roles, list) else []
    _lab_cache[str(p)] = (mtime, found)
    return found


def _lab_of(c: Campaign | None) -> dict[str, list[str]]:
    if c is None or not isinstance(c.config, dict):
        return {}
    lab = c.config.get("lab")
    return lab_instruments(lab if isinstance(lab, str) else None)


def instruments(s: Session, campaign_id: str | None = None) -> list[dict[str, Any]]:
    """Every instrument: the runtime's own word where it wrote one, else what launches show."""
    cid = campaign_id or latest_campaign_id(s)
    c = s.get(Campaign, cid) if cid else None
    roles = _lab_of(c)
    status = {r.name: r for r in s.exec(select(InstrumentStatus)).all()}
    q = select(Launch).where(col(Launch.instrument).is_not(None))
    if cid:
        q = q.where(Launch.campaign_id == cid)
    by_instrument: dict[str, list[Launch]] = {}
    for x in s.exec(q.order_by(col(Launch.id))).all():
        by_instrument.setdefault(x.instrument or "", []).append(x)
    names = list(roles)
    names += [n for n in status if n not in names]
    names += [n for n in by_instrument if n not in names]
    now = finite(c.virtual_t) if c else None
    out = []
    for name in names:
        st = status.get(name)
        if st is not None:
            out.append(
                {
                    "name": name,
                    "roles": roles.get(name, []),
                    "state": st.state,
                    "source": "runtime",
                    "campaign_id": st.campaign_id,
                    "launch_id": st.launch_id,
                    "kernel": st.kernel,
                    "busy_s": finite(st.busy_s) or 0.0,
                    "faults": st.faults,
                    "updated_v_s": finite(st.updated_v),
                    "updated_wall_s": finite(st.updated_wall),
                }
            )
            continue
        mine = by_instrument.get(name, [])
        running = [x for x in mine if x.state == "running"]
        busy = 0.0
        for x in mine:
            start = finite(x.started_v)
            end = finite(x.ended_v) if x.ended_v is not None else now
            if start is not None and end is not None and end > start:
                busy += end - start
        if running:
            state = "busy"
        elif c is not None and c.state in ("running", "paused"):
            state = "ready"
        else:
            state = "offline"
        out.append(
            {
                "name": name,
                "roles": roles.get(name, []),
                "state": state,
                "source": "launches",
                "campaign_id": cid,
                "launch_id": running[-1].id if running else None,
                "kernel": running[-1].kernel if running else None,
                "busy_s": busy,
                "faults": sum(1 for x in mine if x.state == "failed"),
                "updated_v_s": None,
                "updated_wall_s": None,
            }
        )
    return out


def instrument_names(s: Session) -> set[str]:
    """Every instrument any campaign or the runtime has named: the targets hold/release know."""
    names = set(s.exec(select(InstrumentStatus.name)).all())
    names |= {n for n in s.exec(select(Launch.instrument).distinct()).all() if n}
    for c in s.exec(select(Campaign)).all():
        names |= set(_lab_of(c))
    return names


def instrument_campaign(s: Session, name: str) -> str | None:
    st = s.get(InstrumentStatus, name)
    if st is not None and st.campaign_id:
        return st.campaign_id
    running = s.exec(
        select(Campaign.id)
        .where(col(Campaign.state).in_(("running", "paused")))
        .order_by(col(Campaign.created_wall).desc())
    ).first()
    return running or latest_campaign_id(s)


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


# -- measurements ---------------------------------------------------------------------------


def measurement_out(m: Measurement) -> dict[str, Any]:
    return {
        "id": m.id,
        "launch_id": m.launch_id,
        "sample_id": m.sample_id,
        "name": m.name,
        "quantity": quantity(m.value, m.unit),
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
) -> list[dict[str, Any]]:
    q = select(Measurement).where(col(Measurement.id) > after_id)
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


# -- operator steps and commands ------------------------------------------------------------


def step_out(x: OperatorStepRecord) -> dict[str, Any]:
    return {
        "id": x.id,
        "campaign_id": x.campaign_id,
        "launch_id": x.launch_id,
        "instrument": x.instrument,
        "text": x.text,
        "state": x.state,
        "created_v_s": finite(x.created_v) or 0.0,
        "created_wall_s": finite(x.created_wall) or 0.0,
        "confirmed_wall_s": finite(x.confirmed_wall),
        "confirmed_by": x.confirmed_by,
    }


def steps(
    s: Session, campaign_id: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    q = select(OperatorStepRecord)
    if campaign_id is not None:
        q = q.where(OperatorStepRecord.campaign_id == campaign_id)
    if state is not None:
        q = q.where(OperatorStepRecord.state == state)
    return [step_out(x) for x in s.exec(q.order_by(col(OperatorStepRecord.id))).all()]


def command_out(x: Command) -> dict[str, Any]:
    return {
        "id": x.id,
        "campaign_id": x.campaign_id,
        "kind": x.kind,
        "target": x.target,
        "argument": x.argument,
        "who": x.who,
        "state": x.state,
        "result": x.result,
        "created_wall_s": finite(x.created_wall) or 0.0,
        "done_wall_s": finite(x.done_wall),
    }


def audit(s: Session, campaign_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Every control action, newest first: the Command rows are the audit trail."""
    q = select(Command)
    if campaign_id is not None:
        q = q.where(Command.campaign_id == campaign_id)
    rows = s.exec(q.order_by(col(Command.id).desc()).limit(limit)).all()
    return [command_out(x) for x in rows]


def add_command(
    s: Session,
    kind: str,
    target: str,
    who: str,
    campaign_id: str | None,
    argument: str | None = None,
) -> dict[str, Any]:
    """Ask the runtime to act: one pending Command row, committed at once."""
    row = Command(
        campaign_id=campaign_id,
        kind=kind,
        target=target,
        argument=argument,
        who=who,
        state="pending",
        created_wall=time.time(),
    )
    s.add(row)
    s.commit()
    s.refresh(row)
    return command_out(row)


# -- views for the page ---------------------------------------------------------------------


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
        if start is None or not x.instrument:
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
                "instrument": x.instrument,
                "state": x.state,
                "start_v_s": start,
                "end_v_s": end,
                "running": running,
            }
        )
    names = [i["name"] for i in instruments(s, campaign_id)]
    return {"campaign_id": campaign_id, "now_v_s": now, "instruments": names, "bars": bars}


def _isotherm_point() -> Any:
    from sqlalchemy import or_

    return or_(*(col(Measurement.name).startswith(p) for p in ISOTHERM_POINTS))


def _pressure(m: Measurement) -> float | None:
    p = finite((m.provenance or {}).get("pressure_bar"))
    if p is None:
        hit = _PRESSURE_IN_NAME.match(m.name)
        p = finite(hit.group(1)) if hit else None
    return p


def isotherms(s: Session, campaign_id: str, latest: int = 4) -> list[dict[str, Any]] | None:
    """The latest isotherm launches (running ones too) and their points so far."""
    if s.get(Campaign, campaign_id) is None:
        return None
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
    out = []
    for lid in sorted(ids):
        x = s.get(Launch, lid)
        if x is None:
            continue
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
        out.append(
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
        )
    return out


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


# -- the live stream ------------------------------------------------------------------------


class Follower:
    """Reads what is new in the store since the last look: the stream's cursor.

    Rows that only grow (journal entries, measurements) are followed by id; rows that change
    in place (experiments, commands, steps, instruments, campaigns) by a fingerprint."""

    def __init__(self, s: Session, campaign_id: str | None = None) -> None:
        self.campaign_id = campaign_id
        self.event_id = s.exec(select(func.max(LaunchEvent.id))).one() or 0
        self.measurement_id = s.exec(select(func.max(Measurement.id))).one() or 0
        self.seen: dict[tuple[str, Any], Any] = {}
        self.poll(s)  # fingerprints of what is already there: not news

    def _changed(self, kind: str, key: Any, fingerprint: Any) -> bool:
        if self.seen.get((kind, key)) == fingerprint:
            return False
        self.seen[(kind, key)] = fingerprint
        return True

    def poll(self, s: Session, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """(event name, data) for each change since the last poll, oldest first."""
        out: list[tuple[str, dict[str, Any]]] = []
        cid = self.campaign_id
        q = (
            select(LaunchEvent, Launch)
            .join(Launch, col(Launch.id) == col(LaunchEvent.launch_id))
            .where(col(LaunchEvent.id) > self.event_id)
        )
        if cid is not None:
            q = q.where(Launch.campaign_id == cid)
        for ev, x in s.exec(q.order_by(col(LaunchEvent.id)).limit(limit)).all():
            self.event_id = max(self.event_id, ev.id or 0)
            out.append(
                (
                    "launch",
                    {
                        "event_id": ev.id,
                        "launch_id": ev.launch_id,
                        "campaign_id": x.campaign_id,
                        "kernel": x.kernel,
                        "instrument": x.instrument,
                        "state": ev.state,
                        "virtual_t_s": finite(ev.virtual_t) or 0.0,
                        "detail": ev.detail,
                    },
                )
            )
        for m in measurements(s, cid, after_id=self.measurement_id, limit=limit):
            self.measurement_id = max(self.measurement_id, m["id"])
            out.append(("measurement", m))
        for e in suggestions(s, cid):
            fp = (e["status"], e["ended_v_s"], repr(e["objectives"]))
            if self._changed("experiment", e["id"], fp):
                out.append(("experiment", e))
        for c in audit(s, cid, limit=100):
            if self._changed("command", c["id"], (c["state"], c["result"])):
                out.append(("command", c))
        for st in steps(s, cid):
            if self._changed("step", st["id"], (st["state"], st["confirmed_by"])):
                out.append(("step", st))
        for r in s.exec(select(InstrumentStatus)).all():
            fp = (r.state, r.launch_id, r.kernel, r.faults, r.updated_wall)
            if self._changed("instrument", r.name, fp):
                out.append(
                    (
                        "instrument",
                        {
                            "name": r.name,
                            "state": r.state,
                            "kernel": r.kernel,
                            "launch_id": r.launch_id,
                            "campaign_id": r.campaign_id,
                        },
                    )
                )
        for c in s.exec(select(Campaign)).all():  # all of them: a new campaign is news too
            if self._changed("campaign", c.id, (c.state, c.virtual_t)):
                out.append(
                    (
                        "campaign",
                        {"id": c.id, "state": c.state, "virtual_t_s": finite(c.virtual_t) or 0.0},
                    )
                )
        return out
