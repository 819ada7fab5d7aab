"""The planner contract: determinism, pending points, the centre first, result statuses,
saved state, and that BoTorch beats Sobol on a smooth function."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import (
    BoTorchPlanner,
    Categorical,
    Continuous,
    Objective,
    PersistentPlanner,
    Planner,
    RandomPlanner,
    Result,
    SearchSpace,
    SobolPlanner,
    Suggestion,
    from_state,
    make_planner,
)

# BoTorch's informational warnings (line searches ending ABNORMAL, Cholesky jitter) and
# linear_operator's import-time one, matched by message: naming their classes would import
# torch for every test.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Optimization failed"),
    pytest.mark.filterwarnings("ignore:A not p.d."),
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated"),
]

SPACE = SearchSpace(
    [
        Continuous("temperature", 80, 180, "degC"),
        Continuous("time", 2, 48, "h"),
        Categorical("solvent", ["DMF", "DEF", "DMAc", "EtOH", "H2O"]),
    ]
)
OBJ = [Objective("uptake")]
ENGINES = ["sobol", "random", "botorch"]
# Small BoTorch settings for tests that only check behaviour, not search quality.
FAST = {"n_initial": 3, "raw_samples": 32, "num_restarts": 2, "mc_samples": 64}


def uptake(x: Mapping[str, Any]) -> float:
    """A smooth made-up response: best near 150 degC / 30 h in DEF."""
    u = SPACE.to_unit(x)
    bonus = {"DMF": 0.2, "DEF": 0.3, "DMAc": 0.1, "EtOH": 0.0, "H2O": -0.2}[str(x["solvent"])]
    return float(1.0 + bonus - (u[0] - 0.7) ** 2 - (u[1] - 0.6) ** 2)


def done(
    s: Suggestion | Mapping[str, Any],
    f: Callable[[Mapping[str, Any]], float] = uptake,
    name: str = "uptake",
) -> Result:
    params = s.params if isinstance(s, Suggestion) else dict(s)
    return Result(params, "COMPLETED", {name: f(params)})


def make(engine: str, seed: int = 0, **kw: Any) -> PersistentPlanner:
    if engine == "botorch":
        kw = {**FAST, **kw}
    return make_planner(engine, SPACE, OBJ, seed, **kw)


def warmed_botorch(seed: int = 0, n: int = 5, **kw: Any) -> BoTorchPlanner:
    """A BoTorch planner past its Sobol start, fed `n` results."""
    p = BoTorchPlanner(SPACE, OBJ, seed, **{**FAST, **kw})
    p.ingest([done(s) for s in SobolPlanner(SPACE, OBJ, seed=1000 + seed).suggest(n)])
    return p


def same_point(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return SPACE.same(SPACE.to_unit(a), SPACE.to_unit(b))


# --- search space ------------------------------------------------------------------------
def test_centre_and_unit_encoding() -> None:
    assert SPACE.centre() == {"temperature": 130.0, "time": 25.0, "solvent": "DMF"}
    u = SPACE.to_unit({"temperature": 180, "time": 2, "solvent": "EtOH"})
    assert u.tolist() == [1.0, 0.0, 3.0]  # continuous to [0, 1], a category as its code
    assert SPACE.from_unit(u) == {"temperature": 180.0, "time": 2.0, "solvent": "EtOH"}
    assert SPACE.cont_dims == (0, 1) and SPACE.cat_dims == (2,)
    assert SearchSpace.from_json(json.loads(json.dumps(SPACE.to_json()))) == SPACE


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        ({"temperature": 130, "time": 25}, "solvent: missing"),
        ({"temperature": 130, "time": 25, "solvent": "DMF", "pH": 7}, "unknown parameter"),
        ({"temperature": 200, "time": 25, "solvent": "DMF"}, "temperature: 200 degC is outside"),
        ({"temperature": 130, "time": 25, "solvent": "MeOH"}, "solvent: 'MeOH' is not one of"),
        ({"temperature": "hot", "time": 25, "solvent": "DMF"}, "temperature: 'hot' is not a num"),
        ({"temperature": True, "time": 25, "solvent": "DMF"}, "is not a number"),
        ({"temperature": math.nan, "time": 25, "solvent": "DMF"}, "is not finite"),
    ],
)
def test_validation_names_the_parameter(candidate: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SPACE.validate(candidate)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Continuous("t", 5, 5),
        lambda: Continuous("t", 0, math.inf),
        lambda: Categorical("s", []),
        lambda: Categorical("s", ["a", "a"]),
        lambda: SearchSpace([Continuous("t", 0, 1), Continuous("t", 0, 2)]),
        lambda: SearchSpace([]),
    ],
)
def test_bad_space_is_refused(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        build()


@settings(max_examples=60, deadline=None)
@given(
    t=st.floats(80, 180),
    h=st.floats(2, 48),
    s=st.sampled_from(["DMF", "DEF", "DMAc", "EtOH", "H2O"]),
)
def test_unit_round_trip(t: float, h: float, s: str) -> None:
    x = {"temperature": t, "time": h, "solvent": s}
    back = SPACE.from_unit(SPACE.to_unit(x))
    assert back["solvent"] == s
    assert back["temperature"] == pytest.approx(t, rel=1e-12, abs=1e-12)
    assert back["time"] == pytest.approx(h, rel=1e-12, abs=1e-12)
    assert same_point(back, x)


# --- the contract ------------------------------------------------------------------------
def test_import_is_cheap() -> None:
    code = (
        "import sys, planner; "
        "print(sorted(m for m in ('torch', 'botorch', 'scipy.stats') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_satisfy_the_protocol(engine: str) -> None:
    p = make(engine)
    assert isinstance(p, Planner) and isinstance(p, PersistentPlanner)
    assert p.best() is None
    assert p.suggest(0) == []


def test_make_planner_rejects_unknown_names_and_passes_options() -> None:
    with pytest.raises(ValueError, match="unknown planner 'bayes'"):
        make_planner("bayes", SPACE, OBJ, 0)
    p = make_planner("botorch", SPACE, OBJ, 0, n_initial=7)
    assert isinstance(p, BoTorchPlanner) and p.n_initial == 7


@pytest.mark.parametrize("engine", ["sobol", "botorch"])
def test_the_centre_comes_first(engine: str) -> None:
    s = make(engine).suggest(3)
    assert s[0].params == SPACE.centre()
    assert s[0].engine == "sobol"
    assert len({json.dumps(x.params, sort_keys=True) for x in s}) == 3


def run_rounds(p: Planner, rounds: int, q: int = 2) -> list[Suggestion]:
    """Suggest q, complete the first, leave the rest pending; a campaign in miniature."""
    out: list[Suggestion] = []
    pending: list[dict[str, Any]] = []
    for _ in range(rounds):
        batch = p.suggest(q, pending=pending)
        out += batch
        p.ingest([done(batch[0])])
        pending = [s.params for s in batch[1:]]
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_same_seed_same_suggestions(engine: str) -> None:
    a = run_rounds(make(engine, seed=3), rounds=4)
    b = run_rounds(make(engine, seed=3), rounds=4)
    assert a == b  # exact: floats, acquisition values, predictions, model versions
    if engine == "botorch":
        assert a[-1].engine == "botorch" and a[-1].model_version >= 1
    c = run_rounds(make(engine, seed=4), rounds=1)
    assert c != a[:2] or engine == "sobol"  # Sobol opens with the centre for every seed
    if engine == "sobol":
        assert run_rounds(make(engine, seed=4), rounds=2)[2:] != a[2:4]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pending_point_is_not_suggested_again(engine: str) -> None:
    p = warmed_botorch() if engine == "botorch" else make(engine)
    first = p.suggest(1)[0]
    again = p.suggest(1, pending=[first.params])[0]
    assert not same_point(again.params, first.params)
    if engine == "botorch":
        # Without the pending point the (deterministic) model would repeat itself.
        assert p.suggest(1)[0] == first
        assert again.engine == "botorch"


@pytest.mark.parametrize("engine", ENGINES)
def test_batch_of_three_with_two_pending(engine: str) -> None:
    p = warmed_botorch() if engine == "botorch" else make(engine)
    pending = [s.params for s in p.suggest(2)]
    batch = p.suggest(3, pending=pending)
    assert len(batch) == 3
    units = [SPACE.to_unit(s.params) for s in batch]
    for i, u in enumerate(units):
        assert not SPACE.matches(u, SPACE.to_unit_many(pending)).any()
        assert not SPACE.matches(u, np.stack(units[:i] + units[i + 1 :])).any()
    if engine == "botorch":
        assert all(s.engine == "botorch" for s in batch)
        assert all(s.acquisition is not None and math.isfinite(s.acquisition) for s in batch)
        assert all(s.predicted_sd is not None and s.predicted_sd >= 0 for s in batch)


def test_tried_points_are_not_suggested_again() -> None:
    p = SobolPlanner(SPACE, OBJ, seed=0)
    p.ingest([Result(SPACE.centre(), "FAILED")])
    assert p.suggest(1)[0].params != SPACE.centre()


# --- result statuses ---------------------------------------------------------------------
def test_abandoned_results_are_ignored() -> None:
    history = [done(s) for s in SobolPlanner(SPACE, OBJ, seed=5).suggest(5)]
    abandoned = [Result(s.params, "ABANDONED") for s in RandomPlanner(SPACE, OBJ, 6).suggest(3)]
    a = BoTorchPlanner(SPACE, OBJ, 0, **FAST)
    b = BoTorchPlanner(SPACE, OBJ, 0, **FAST)
    a.ingest(history[:2] + abandoned + history[2:])
    b.ingest(history)
    assert a.suggest(2) == b.suggest(2)
    assert a.best() == b.best()
    assert len(a.results) == 8  # kept in the record
    # Abandoned results do not count towards the Sobol start either.
    c = BoTorchPlanner(SPACE, OBJ, 0, **FAST)
    c.ingest(history[:2] + abandoned)
    assert c.suggest(1)[0].engine == "sobol"


@pytest.mark.parametrize("policy", ["classify", "impute", "exclude"])
def test_failed_results_are_remembered(policy: str) -> None:
    p = warmed_botorch(failed=policy)
    failed = p.suggest(1)[0]
    p.ingest([Result(failed.params, "FAILED")])
    assert p.best() is not None and p.best().status == "COMPLETED"
    nxt = p.suggest(2)
    assert not any(same_point(s.params, failed.params) for s in nxt)
    sets = {name: (X, y) for name, X, y in p.training_sets()}
    X, y = sets["uptake"]
    assert len(X) == (6 if policy == "impute" else 5)
    if policy == "impute":
        assert y[-1] == min(y[:-1])  # the worst completed value
    if policy == "classify":
        # the failure feeds a feasibility model (1 = worked, 0 = failed) over every tried point
        assert sets["feasible"][1].tolist() == [1.0] * 5 + [0.0]
        assert all(s.feasibility is not None and 0 < s.feasibility <= 1 for s in nxt)
    else:
        assert "feasible" not in sets and all(s.feasibility is None for s in nxt)


def test_results_are_validated_before_anything_is_recorded() -> None:
    p = SobolPlanner(SPACE, OBJ, seed=0)
    good = done(SPACE.centre())
    with pytest.raises(ValueError, match="lacks objective 'uptake'"):
        p.ingest([good, Result(SPACE.centre(), "COMPLETED", {"co2": 1.0})])
    with pytest.raises(ValueError, match="not finite"):
        p.ingest([Result(SPACE.centre(), "COMPLETED", {"uptake": math.nan})])
    with pytest.raises(ValueError, match="outside"):
        p.ingest([Result({**SPACE.centre(), "time": 100.0}, "COMPLETED", {"uptake": 1.0})])
    with pytest.raises(ValueError, match="status"):
        Result(SPACE.centre(), "LOST", {})  # type: ignore[arg-type]
    assert p.results == []
    # Mappings are accepted too (a result straight from JSON).
    p.ingest([{"params": SPACE.centre(), "status": "COMPLETED", "objectives": {"uptake": 2.0}}])
    assert p.best() == Result(SPACE.centre(), "COMPLETED", {"uptake": 2.0})


def test_best_follows_the_first_objective_and_its_sense() -> None:
    objectives = [Objective("cost", maximize=False), Objective("uptake")]
    p = SobolPlanner(SPACE, objectives, seed=0)
    pts = p.suggest(3)
    p.ingest(
        [
            Result(pts[0].params, "COMPLETED", {"cost": 3.0, "uptake": 9.0}),
            Result(pts[1].params, "COMPLETED", {"cost": 1.0, "uptake": 0.0}),
            Result(pts[2].params, "FAILED"),
        ]
    )
    assert p.best() is not None and p.best().params == pts[1].params


def test_botorch_minimises_and_reports_in_the_objective_sign() -> None:
    cost = [Objective("cost", maximize=False)]
    p = BoTorchPlanner(SPACE, cost, 0, **FAST)
    start = SobolPlanner(SPACE, cost, 9).suggest(6)
    p.ingest([done(s, lambda x: 10.0 - uptake(x), "cost") for s in start])
    s = p.suggest(1)[0]
    assert s.engine == "botorch"
    assert s.predicted_mean is not None and 7.5 < s.predicted_mean < 10.5  # cost scale, not -cost


def test_botorch_leaves_the_global_torch_rng_alone() -> None:
    import torch

    p = warmed_botorch()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    p.suggest(1)
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize(
    "space",
    [
        SearchSpace([Continuous("a", 0, 1), Continuous("b", -1, 1)]),
        SearchSpace([Categorical("x", list("abcd")), Categorical("y", list("pqr"))]),
        SearchSpace(
            [
                Continuous("a", 0, 1),
                Categorical("x", list("abcdef")),
                Categorical("y", list("uvwxyz")),
            ],
        ),
    ],
    ids=["continuous", "all-categorical", "too-many-combinations"],
)
def test_botorch_other_space_shapes(space: SearchSpace) -> None:
    def f(x: Mapping[str, Any]) -> float:
        return float(-np.sum((space.to_unit(x) - 0.4) ** 2))

    p = BoTorchPlanner(space, ["y"], 0, **FAST)
    start = SobolPlanner(space, ["y"], 2).suggest(5)
    p.ingest([Result(s.params, "COMPLETED", {"y": f(s.params)}) for s in start])
    batch = p.suggest(2, pending=[p.results[0].params])
    assert [s.engine for s in batch] == ["botorch", "botorch"]
    for s in batch:
        space.validate(s.params)
    assert not space.same(space.to_unit(batch[0].params), space.to_unit(batch[1].params))


# --- saved state -------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_state_round_trip_gives_the_same_next_suggestion(engine: str) -> None:
    p = make(engine, seed=11)
    run_rounds(p, rounds=3)  # for BoTorch: past the Sobol start, with a fitted model
    p.ingest([done(p.suggest(1)[0])])  # and one result the model has not seen yet
    state = json.loads(json.dumps(p.to_state()))  # what the store would keep
    q = from_state(state)
    assert type(q) is type(p)
    pending = [p.results[-1].params]
    assert q.suggest(3, pending=pending) == p.suggest(3, pending=pending)
    # ... and they stay in step afterwards.
    assert run_rounds(q, rounds=2) == run_rounds(p, rounds=2)
    assert q.to_state() == p.to_state()


def test_state_is_checked() -> None:
    state = SobolPlanner(SPACE, OBJ, 0).to_state()
    with pytest.raises(ValueError, match="not 'random'"):
        RandomPlanner.from_state(state)
    with pytest.raises(ValueError, match="unknown planner engine"):
        from_state({**state, "engine": "grid"})


# --- search quality ----------------------------------------------------------------------
QSPACE = SearchSpace(
    [Continuous("x1", 0, 10), Continuous("x2", -5, 5), Categorical("c", ["a", "b", "c"])]
)
#: A shifted quadratic: where its optimum (value 0) lies depends on the category.
QOPT = {"a": (0.3, 0.7), "b": (0.75, 0.25), "c": (0.6, 0.6)}


def quadratic(x: Mapping[str, Any]) -> float:
    u = QSPACE.to_unit(x)
    return float(-np.sum((u[:2] - np.array(QOPT[str(x["c"])])) ** 2))


def regret(p: Planner, steps: int) -> float:
    for _ in range(steps):
        s = p.suggest(1)[0]
        p.ingest([Result(s.params, "COMPLETED", {"y": quadratic(s.params)})])
    best = p.best()
    assert best is not None
    return -best.objectives["y"]


def test_botorch_beats_sobol_on_a_smooth_function() -> None:
    bo, sobol = [], []
    for seed in range(3):
        bo.append(
            regret(
                BoTorchPlanner(QSPACE, ["y"], seed, n_initial=5, num_restarts=2, raw_samples=32), 20
            )
        )
        sobol.append(regret(SobolPlanner(QSPACE, ["y"], seed), 20))
    assert np.mean(bo) < np.mean(sobol) / 3, (bo, sobol)
    assert sum(b < s for b, s in zip(bo, sobol, strict=True)) >= 2, (bo, sobol)
