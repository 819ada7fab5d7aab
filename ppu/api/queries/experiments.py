"""The experiments table: one row per candidate, linking what the planner thought, what the lab
did (its launches, samples and isotherms) and how it turned out."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from ppu.api.queries.campaigns import objectives_of
from ppu.api.queries.suggestions import predicted_vs_measured
from ppu.api.queries.values import clean, finite
from ppu.store.models import Campaign, Experiment, Launch, PlannerState, Sample

#: engines whose proposals fill the space before a model exists
START_ENGINES = ("sobol", "random", "lhs")


def start_design_size(s: Session, c: Campaign) -> int | None:
    """How many start points the planner tries before its model guides it (its saved
    state says; else the campaign file's `n_initial`)."""
    st = s.exec(
        select(PlannerState)
        .where(PlannerState.campaign_id == c.id)
        .order_by(col(PlannerState.id).desc())
        .limit(1)
    ).first()
    options = ((st.state or {}).get("options") or {}) if st is not None else {}
    found = options.get("n_initial") if isinstance(options, dict) else None
    if not isinstance(found, int):
        planner = ((c.config or {}).get("campaign") or {}).get("planner") or {}
        found = planner.get("n_initial") if isinstance(planner, dict) else None
    return found if isinstance(found, int) else None


def phase(sug: dict[str, Any], k: int | None, n: int | None) -> str:
    """Where in the search the planner was: 'start design 3 of 10' or 'model-guided'."""
    engine = str(sug.get("engine") or "")
    if sug.get("acquisition") is None and engine in START_ENGINES:
        of = f" of {n}" if n else ""
        return f"start design {k}{of}" if k else "start design"
    if sug.get("proposed_by"):
        return f"proposed by {sug['proposed_by']}"
    return "model-guided" if sug.get("acquisition") is not None else engine or "planner"


def reason(sug: dict[str, Any], unit: str) -> str:
    """Why the planner chose this point, in a sentence a chemist reads on an approval card."""
    engine = str(sug.get("engine") or "planner")
    if sug.get("acquisition") is None:
        if engine in START_ENGINES:
            return f"{engine} point: fills the space before any model exists (no prediction)"
        return f"proposed by {sug.get('proposed_by') or engine}"
    parts = [f"highest acquisition value among the candidates ({engine}: {sug['acquisition']:.3g})"]
    mean, sd = finite(sug.get("predicted_mean")), finite(sug.get("predicted_sd"))
    if mean is not None:
        parts.append(
            f"predicted {mean:.3g} ± {sd:.2g} {unit}".rstrip()
            if sd is not None
            else f"predicted {mean:.3g} {unit}".rstrip()
        )
    feas = finite(sug.get("feasibility"))
    if feas is not None:
        parts.append(f"chance the chemistry works {feas:.0%}")
    return "; ".join(parts)


def experiments(s: Session, campaign_id: str) -> list[dict[str, Any]] | None:
    c = s.get(Campaign, campaign_id)
    if c is None:
        return None
    objs = objectives_of(c, s)
    first = objs[0] if objs else None
    rows = s.exec(
        select(Experiment)
        .where(Experiment.campaign_id == campaign_id)
        .order_by(col(Experiment.number))
    ).all()
    ids = [int(i) for e in rows for i in (e.launches or []) if isinstance(i, int)]
    launches = (
        {x.id: x for x in s.exec(select(Launch).where(col(Launch.id).in_(ids))).all()}
        if ids
        else {}
    )
    made: dict[int | None, list[Sample]] = {}
    if ids:
        for smp in s.exec(select(Sample).where(col(Sample.made_by).in_(ids))).all():
            made.setdefault(smp.made_by, []).append(smp)
    n_start = start_design_size(s, c)
    best_value = None
    if first is not None:
        for e in rows:
            v = _value(e, first["name"])
            if (
                e.status == "COMPLETED"
                and v is not None
                and (
                    best_value is None or (v > best_value if first["maximize"] else v < best_value)
                )
            ):
                best_value = v
    out = []
    k = 0
    for e in rows:
        sug = e.suggestion if isinstance(e.suggestion, dict) else {}
        if sug.get("acquisition") is None and str(sug.get("engine") or "") in START_ENGINES:
            k += 1
            index: int | None = k
        else:
            index = None
        mine = [launches[i] for i in (e.launches or []) if i in launches]
        failing = next((x for x in mine if x.state == "failed"), None)
        samples = [smp for x in mine for smp in made.get(x.id, [])]
        value = _value(e, first["name"]) if first else None
        out.append(
            {
                "id": e.id,
                "number": e.number,
                "status": e.status,
                "params": clean(e.params),
                "objectives": clean(e.objectives),
                "phase": phase(sug, index, n_start),
                "engine": sug.get("engine"),
                "reason": reason(sug, first["unit"] if first else ""),
                "acquisition": finite(sug.get("acquisition")),
                "predicted_vs_measured": predicted_vs_measured(e),
                "best": (e.status == "COMPLETED" and value is not None and value == best_value),
                "failure": (
                    {
                        "launch_id": failing.id,
                        "kernel": failing.kernel,
                        "kind": failing.failure,
                        "error": failing.error,
                    }
                    if failing is not None
                    else None
                ),
                "error": e.error,
                "samples": [smp.id for smp in samples],
                "launches": [
                    {
                        "id": x.id,
                        "kernel": x.kernel,
                        "instrument": x.instrument,
                        "state": x.state,
                        "gas": (x.inputs or {}).get("gas")
                        if isinstance((x.inputs or {}).get("gas"), str)
                        else None,
                    }
                    for x in mine
                ],
                "suggested_v_s": finite(e.suggested_v) or 0.0,
                "ended_v_s": finite(e.ended_v),
            }
        )
    return out


def _value(e: Experiment, name: str) -> float | None:
    q = (e.objectives or {}).get(name)
    return finite(q.get("value")) if isinstance(q, dict) else finite(q)
