"""Planners: decide which candidate to launch next from the results so far.

`import planner` is cheap: torch/BoTorch load on the first model fit, scipy on the first
Sobol draw. `planner.priors` reads prior experiments from a CSV; `planner.backtest` replays
a planner on past data (`ppu backtest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from planner.base import (
    Constraint,
    Objective,
    PersistentPlanner,
    Planner,
    Result,
    Status,
    Suggestion,
)
from planner.botorch_engine import BoTorchPlanner
from planner.engines import BUILT_IN
from planner.sobol import RandomPlanner, SobolPlanner
from planner.space import Categorical, Continuous, SearchSpace
from planner.state import from_state

#: ppu's own engines by name (a campaign also finds users' engines through its plugins)
ENGINES: dict[str, type] = {name: e.load() for name, e in BUILT_IN.items()}


def make_planner(
    name: str,
    space: SearchSpace,
    objectives: Sequence[Objective | str],
    seed: int = 0,
    **options: Any,
) -> PersistentPlanner:
    """A planner by engine name ("sobol", "random", "botorch"); `options` go to its class:
    for every engine ``constraints=[{"name": "selectivity", "ge": 20}]`` (or
    ``["selectivity >= 20"]``) and ``fixed_features={"solvent": "DMF"}``; for "botorch" also
    ``n_initial``, ``failed``, ``pool``, ``ref_point`` and the optimiser settings."""
    try:
        cls = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; choose from {', '.join(ENGINES)}") from None
    return cls(space, objectives, seed, **options)


__all__ = [
    "ENGINES",
    "BoTorchPlanner",
    "Categorical",
    "Constraint",
    "Continuous",
    "Objective",
    "PersistentPlanner",
    "Planner",
    "RandomPlanner",
    "Result",
    "SearchSpace",
    "SobolPlanner",
    "Status",
    "Suggestion",
    "from_state",
    "make_planner",
]
