"""The multi-fidelity planner: a computed twin screens, the lab measures; computed results
never count as measured ones in any engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from planner import Categorical, Continuous, Result, SearchSpace, make_planner
from planner.multi_fidelity import MultiFidelityPlanner, spearman
from planner.state import from_state

SPACE = SearchSpace(
    [Continuous("x", 0.0, 1.0), Continuous("y", 0.0, 1.0), Categorical("kind", ("a", "b", "c"))]
)
PEAK = {"a": (0.3, 0.7, 1.0), "b": (0.7, 0.3, 2.0), "c": (0.5, 0.5, 0.5)}


def truth(p: dict) -> float:
    x0, y0, h = PEAK[p["kind"]]
    return h * math.exp(-((p["x"] - x0) ** 2 + (p["y"] - y0) ** 2) / 0.05)


def twin(p: dict) -> float:
    """Right about the shapes, wrong about the heights: it rates kind a above kind b."""
    x0, y0, _ = PEAK[p["kind"]]
    h = {"a": 2.5, "b": 1.2, "c": 0.6}[p["kind"]]
    return h * math.exp(-((p["x"] - x0) ** 2 + (p["y"] - y0) ** 2) / 0.08)


def computed(p: dict) -> Result:
    return Result(dict(p), "COMPLETED", {"f": twin(p)}, fidelity="computed")


def measured(p: dict) -> Result:
    return Result(dict(p), "COMPLETED", {"f": truth(p)})


def screened(seed: int = 0, n: int = 256) -> MultiFidelityPlanner:
    p = make_planner("multifidelity", SPACE, ["f"], seed)
    assert isinstance(p, MultiFidelityPlanner)
    p.ingest([computed(s.params) for s in p.screen(n)])
    return p


@pytest.mark.parametrize("engine", ["botorch", "sobol", "random", "multifidelity"])
def test_computed_results_are_never_measurements(engine: str) -> None:
    p = make_planner(engine, SPACE, ["f"], 0)
    p.ingest([computed({"x": 0.3, "y": 0.7, "kind": "a"})])
    assert p.best() is None and p.results == [] and len(p.computed) == 1
    again = from_state(p.to_state())
    assert again.computed == p.computed and again.results == []


def test_before_any_measurement_the_lab_gets_the_twins_best_one_per_category() -> None:
    p = screened()
    batch = p.suggest(2)
    rated = sorted(p.computed, key=lambda r: -r.objectives["f"])
    assert batch[0].params == rated[0].params and batch[0].engine == "twin"
    assert batch[0].params["kind"] == "a"  # the twin's favourite
    assert batch[1].params["kind"] != "a"
    assert batch[0].predictions["twin"][0] == pytest.approx(rated[0].objectives["f"])


def test_nothing_screened_yet_means_a_space_filling_start() -> None:
    p = make_planner("multifidelity", SPACE, ["f"], 0)
    assert [s.engine for s in p.suggest(2)] == ["sobol", "sobol"]


def test_the_lab_is_sent_only_to_screened_points() -> None:
    p = screened(n=64)
    seen = {tuple(sorted(r.params.items())) for r in p.computed}
    for _ in range(3):
        s = p.suggest(1)[0]
        assert tuple(sorted(s.params.items())) in seen
        p.ingest([measured(s.params)])


def test_a_measurement_corrects_the_twin_where_it_was_wrong() -> None:
    """The twin's favourite (kind a) measures at less than half its estimate; the model of
    the lab then rates kind a below the twin and, within a few measurements, finds kind b's
    higher peak, which the twin underrates."""
    p = screened(seed=3)
    found = None
    for n in range(1, 9):
        s = p.suggest(1)[0]
        p.ingest([measured(s.params)])
        if n == 1:
            assert s.params["kind"] == "a"
        if truth(s.params) >= 0.9 * 2.0:
            found = n
            break
    assert found is not None and found <= 8, found
    best = p.best()
    assert best is not None and best.params["kind"] == "b"


def test_model_predictions_follow_the_measurements_not_the_twin() -> None:
    p = screened(seed=1)
    first = p.suggest(1)[0]
    p.ingest([measured(first.params)])
    nxt = p.suggest(1)[0]
    _mean, sd = nxt.predictions["f"]
    assert nxt.engine == "multifidelity" and sd > 0
    # the measured point itself: the posterior sits near what the lab saw, not the twin
    import torch

    u = SPACE.to_unit(first.params)
    X = torch.as_tensor(p._augment(u.reshape(1, -1), np.array([p.twin_at(u)])))
    with torch.no_grad():
        m = float(p._model.posterior(X).mean) * p._scale()[1] + p._scale()[0]
    assert abs(m - truth(first.params)) < abs(twin(first.params) - truth(first.params))


def test_screening_never_repeats_and_puts_unscreened_measurements_first() -> None:
    p = make_planner("multifidelity", SPACE, ["f"], 0)
    outside = {"x": 0.11, "y": 0.22, "kind": "c"}
    p.ingest([measured(outside)])
    first = p.screen(8)
    assert first[0].params == outside
    p.ingest([computed(s.params) for s in first])
    pending = p.screen(4)
    second = p.screen(16, pending=[s.params for s in pending])
    keys = [tuple(sorted(s.params.items())) for s in first + pending + second]
    assert len(keys) == len(set(keys))


def test_a_restored_planner_makes_the_same_next_suggestion() -> None:
    p = screened(seed=2, n=128)
    for _ in range(2):
        s = p.suggest(1)[0]
        p.ingest([measured(s.params)])
    p.ingest([computed(s.params) for s in p.screen(16)])
    state = p.to_state()
    q = from_state(state)
    assert q.suggest(1)[0].params == p.suggest(1)[0].params
    assert q.screen(4)[0].params == p.screen(4)[0].params


def test_failed_syntheses_feed_the_feasibility_model() -> None:
    p = screened(seed=4, n=128)
    s = p.suggest(1)[0]
    p.ingest([Result(dict(s.params), "FAILED")])
    s2 = p.suggest(1)[0]
    p.ingest([measured(s2.params)])
    s3 = p.suggest(1)[0]
    assert p._feasibility is not None and s3.feasibility is not None
    assert s3.params != s.params


def test_one_objective_without_constraints() -> None:
    with pytest.raises(ValueError, match="one objective without outcome constraints"):
        make_planner("multifidelity", SPACE, ["f", "g"], 0)
    with pytest.raises(ValueError, match="one objective without outcome constraints"):
        make_planner("multifidelity", SPACE, ["f"], 0, constraints=["g >= 1"])


def test_spearman_needs_three_pairs() -> None:
    assert math.isnan(spearman([1, 2], [2, 1]))
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
