"""A planner's saved state: plain JSON (space, objectives, options, results, counters), so the
store can keep it and a restarted campaign can carry on. `options` are the constructor's
keyword arguments (outcome constraints, fixed features, a pool, BoTorch settings), so
`cls(space, objectives, seed, **options)` rebuilds the planner. No model is saved, only the
BoTorch planner's hyperparameters per outcome: a restored planner rebuilds its GPs on the
same data with them, which gives the same models and so the same next suggestion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.base import Objective, PersistentPlanner, PlannerBase, Result, as_objectives
from planner.space import SearchSpace

STATE_FORMAT = 1


def result_to_json(r: Result) -> dict[str, Any]:
    out = {"params": dict(r.params), "status": r.status, "objectives": dict(r.objectives)}
    if r.fidelity != "measured":
        out["fidelity"] = r.fidelity
    return out


def result_from_json(d: Mapping[str, Any]) -> Result:
    return Result(
        params=dict(d["params"]),
        status=d["status"],
        objectives=dict(d.get("objectives") or {}),
        fidelity=d.get("fidelity", "measured"),
    )


def objectives_to_json(objectives: tuple[Objective, ...]) -> list[dict[str, Any]]:
    return [{"name": o.name, "maximize": o.maximize} for o in objectives]


def objectives_from_json(data: list[Mapping[str, Any]]) -> tuple[Objective, ...]:
    return as_objectives([Objective(d["name"], bool(d.get("maximize", True))) for d in data])


def base_state(p: PlannerBase, options: Mapping[str, Any], counters: Mapping[str, Any]) -> dict:
    """The state every engine saves; engines add their own `options` and `counters`."""
    return {
        "format": STATE_FORMAT,
        "engine": p.engine,
        "seed": p.seed,
        "space": p.space.to_json(),
        "objectives": objectives_to_json(p.objectives),
        "options": {
            "constraints": [c.to_json() for c in p.constraints],
            "fixed_features": dict(p.fixed_features),
            **options,
        },
        "results": [result_to_json(r) for r in p.results],
        "counters": dict(counters),
    } | ({"computed": [result_to_json(r) for r in p.computed]} if p.computed else {})


def check_state(state: Mapping[str, Any], engine: str) -> None:
    if state.get("format") != STATE_FORMAT:
        raise ValueError(f"unknown planner state format {state.get('format')!r}")
    if state.get("engine") != engine:
        raise ValueError(f"state is for engine {state.get('engine')!r}, not {engine!r}")


def unpack(state: Mapping[str, Any]) -> tuple[SearchSpace, tuple[Objective, ...], list[Result]]:
    space = SearchSpace.from_json(state["space"])
    objectives = objectives_from_json(state["objectives"])
    results = [result_from_json(r) for r in state["results"]]
    results += [result_from_json(r) for r in state.get("computed", [])]
    return space, objectives, results


def from_state(state: Mapping[str, Any]) -> PersistentPlanner:
    """Rebuild whichever of ppu's own engines wrote `state` (dispatching on its `engine`);
    a campaign rebuilds through its plugin registry, which knows users' engines too."""
    from planner.engines import BUILT_IN
    from ppu.core.catalog import load

    name = state.get("engine")
    if name not in BUILT_IN:
        raise ValueError(f"unknown planner engine in state: {name!r}")
    return load(BUILT_IN[name].cls).from_state(state)
