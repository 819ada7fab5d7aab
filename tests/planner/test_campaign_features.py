"""What a real campaign needs from the BoTorch planner: failures that steer it away, several
objectives, outcome constraints, fixed features, pool mode, and saved state with all of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from planner import (
    BoTorchPlanner,
    Categorical,
    Constraint,
    Continuous,
    Objective,
    Result,
    SearchSpace,
    SobolPlanner,
    from_state,
    make_planner,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Optimization failed"),
    pytest.mark.filterwarnings("ignore:A not p.d."),
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated"),
]

FAST = {"raw_samples": 32, "num_restarts": 2, "mc_samples": 64}
SQUARE = SearchSpace([Continuous("a", 0, 1), Continuous("b", 0, 1)])


def run(
    p: BoTorchPlanner, steps: int, lab: Callable[[Mapping[str, Any]], Result]
) -> list[dict[str, Any]]:
    """`steps` one-at-a-time experiments; the suggested points."""
    out = []
    for _ in range(steps):
        s = p.suggest(1)[0]
        out.append(s.params)
        p.ingest([lab(s.params)])
    return out


# --- failures ------------------------------------------------------------------------------
def cliff(x: Mapping[str, Any]) -> Result:
    """Better towards a = 1, but every synthesis with a > 0.6 fails."""
    if x["a"] > 0.6:
        return Result(dict(x), "FAILED")
    return Result(dict(x), "COMPLETED", {"y": float(x["a"] + 0.5 * x["b"])})


def test_failures_steer_suggestions_away_from_the_failed_region() -> None:
    into_cliff = {"classify": 0, "exclude": 0}
    for seed in (0, 1):
        start = [cliff(s.params) for s in SobolPlanner(SQUARE, ["y"], seed=seed).suggest(8)]
        assert sum(r.status == "FAILED" for r in start) >= 2
        best = {}
        for policy in ("classify", "exclude"):
            p = BoTorchPlanner(SQUARE, ["y"], seed, n_initial=8, failed=policy, **FAST)
            p.ingest(start)
            into_cliff[policy] += sum(x["a"] > 0.6 for x in run(p, 6, cliff))
            best[policy] = p.best().objectives["y"]  # type: ignore[union-attr]
        # Suggestions that work climb to the edge (a ≈ 0.6, b = 1: y ≈ 1.1) ...
        assert best["classify"] > 1.0 and best["classify"] > best["exclude"], best
    # ... where, without the feasibility model, the GP keeps proposing the failing side:
    # nearly every one of its 12 suggestions, against at most half with it (those probe the
    # edge, whose place the failures only bracket).
    assert into_cliff["exclude"] >= 10 and into_cliff["classify"] <= 6, into_cliff


# --- several objectives and constraints ----------------------------------------------------
def two_goals(x: Mapping[str, Any]) -> Result:
    """Uptake rises with a, selectivity falls with it: a trade-off along a."""
    a, b = float(x["a"]), float(x["b"])
    uptake = a - 0.3 * (b - 0.5) ** 2
    selectivity = 40.0 * (1.0 - a) - 10.0 * (b - 0.5) ** 2
    return Result(dict(x), "COMPLETED", {"uptake": uptake, "selectivity": selectivity})


def test_two_objectives_give_a_pareto_set() -> None:
    objectives = [Objective("uptake"), Objective("selectivity")]
    p = BoTorchPlanner(SQUARE, objectives, 0, n_initial=5, **FAST)
    run(p, 12, two_goals)
    s = p.suggest(2)
    assert [x.engine for x in s] == ["botorch", "botorch"]  # qLogNEHVI past the start
    assert all(set(x.predictions) == {"uptake", "selectivity"} for x in s)
    front = p.pareto()
    assert len(front) >= 4
    Y = np.array([[r.objectives["uptake"], r.objectives["selectivity"]] for r in front])
    for i in range(len(Y)):  # no member dominates another
        others = np.delete(Y, i, axis=0)
        assert not ((others >= Y[i]).all(axis=1) & (others > Y[i]).any(axis=1)).any()
    # the model-based points lie on or near the trade-off (b ≈ 0.5), spread along a
    bo = [r for r in p.results[5:]]
    assert np.median([abs(r.params["b"] - 0.5) for r in bo]) < 0.2
    assert np.ptp([r.params["a"] for r in front]) > 0.4


def test_an_outcome_constraint_is_respected() -> None:
    """Maximise uptake subject to selectivity ≥ 20: the answer is a ≈ 0.5, not a = 1."""
    p = BoTorchPlanner(
        SQUARE, ["uptake"], 0, n_initial=5, constraints=["selectivity >= 20"], **FAST
    )
    picked = run(p, 8, two_goals)
    best = p.best()
    assert best is not None and best.objectives["selectivity"] >= 20
    assert 0.35 < best.params["a"] <= 0.5 + 1e-9
    assert sum(x["a"] > 0.6 for x in picked[5:]) <= 1  # the model keeps to the feasible side
    with pytest.raises(ValueError, match="lacks outcome 'selectivity'"):
        p.ingest([Result({"a": 0.1, "b": 0.1}, "COMPLETED", {"uptake": 0.1})])


def test_constraints_parse_from_text_and_tables() -> None:
    assert Constraint.parse("selectivity >= 20") == Constraint("selectivity", ge=20)
    assert Constraint.parse({"name": "cost", "le": 3}) == Constraint("cost", le=3.0)
    for bad in ("selectivity > 20", {"name": "s"}, {"name": "s", "min": 1}, "s >= lots"):
        with pytest.raises(ValueError):
            Constraint.parse(bad)  # type: ignore[arg-type]


# --- fixed features and pools ---------------------------------------------------------------
MIXED = SearchSpace(
    [
        Continuous("temperature", 80, 180, "degC"),
        Continuous("time", 2, 48, "h"),
        Categorical("solvent", ["DMF", "DEF", "EtOH"]),
    ]
)


def mixed_lab(x: Mapping[str, Any]) -> Result:
    u = MIXED.to_unit(x)
    bonus = {"DMF": 0.0, "DEF": 0.3, "EtOH": -0.2}[str(x["solvent"])]
    return Result(dict(x), "COMPLETED", {"y": float(bonus - (u[0] - 0.6) ** 2 - (u[1] - 0.4) ** 2)})


def test_fixed_features_hold_in_the_start_and_in_the_model_phase() -> None:
    p = BoTorchPlanner(MIXED, ["y"], 0, n_initial=4, fixed_features={"solvent": "EtOH"}, **FAST)
    picked = run(p, 6, mixed_lab)
    assert all(x["solvent"] == "EtOH" for x in picked)
    s = p.suggest(2, fixed={"temperature": 100.0})
    assert [x.engine for x in s] == ["botorch", "botorch"]
    assert all(x.params["solvent"] == "EtOH" and x.params["temperature"] == 100.0 for x in s)
    with pytest.raises(ValueError, match="temperature: 300 degC is outside"):
        p.suggest(1, fixed={"temperature": 300.0})


def pool_points(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [{"a": float(a), "b": float(b)} for a, b in rng.random((n, 2)).round(3)]


def test_pool_mode_suggests_only_untried_pool_points() -> None:
    pool = pool_points(25)
    keys = {json.dumps(x, sort_keys=True) for x in pool}
    p = BoTorchPlanner(SQUARE, ["y"], 0, n_initial=3, pool=pool, **FAST)
    first = p.suggest(3)
    assert [s.engine for s in first] == ["random"] * 3  # a seeded random start from the pool
    p.ingest([cliff(s.params) for s in first])
    pending = [s.params for s in p.suggest(2)]
    seen = [json.dumps(x, sort_keys=True) for x in [*(s.params for s in first), *pending]]
    for _ in range(4):  # one result back per round, two more suggested, the rest pending
        batch = p.suggest(2, pending=pending)
        for s in batch:
            key = json.dumps(s.params, sort_keys=True)
            assert key in keys and key not in seen  # exactly a pool point, never a repeat
            seen.append(key)
        p.ingest([cliff(pending[0])])
        pending = [*pending[1:], *(s.params for s in batch)]
    # the pool runs out: fewer than asked, then none
    q = BoTorchPlanner(SQUARE, ["y"], 0, n_initial=2, pool=pool[:4], **FAST)
    q.ingest([cliff(x) for x in pool[:2]] + [Result(pool[2], "COMPLETED", {"y": 0.0})])
    assert len(q.suggest(3)) == 1
    q.ingest([Result(pool[3], "COMPLETED", {"y": 0.0})])
    assert q.suggest(2) == []


# --- state with everything ------------------------------------------------------------------
def test_state_round_trip_with_failures_constraints_and_two_objectives() -> None:
    lab = two_goals
    p = make_planner(
        "botorch",
        SQUARE,
        [Objective("uptake"), Objective("selectivity")],
        seed=4,
        n_initial=4,
        constraints=[{"name": "selectivity", "ge": 5}],
        **FAST,
    )
    for i, s in enumerate(p.suggest(6)):
        p.ingest([Result(s.params, "FAILED") if i % 3 == 2 else lab(s.params)])
    p.suggest(1)  # a fitted model with a feasibility part
    p.ingest([lab(p.suggest(1)[0].params)])  # and one result it has not seen
    state = json.loads(json.dumps(p.to_state()))
    q = from_state(state)
    pending = [p.results[0].params]
    a, b = q.suggest(2, pending=pending), p.suggest(2, pending=pending)
    assert a == b and a[0].feasibility is not None
    assert q.to_state() == p.to_state()
    assert q.pareto() == p.pareto()
