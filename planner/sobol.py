"""Space-filling baselines: scrambled Sobol (centre first) and uniform random.

Both ignore the objective values; they are the reference a model-based planner must beat, and
Sobol is also BoTorch's start. Each keeps a counter into its point stream and never rewinds it,
so a point is never suggested twice; a stream point equal to a tried or pending one is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from planner.base import Constraint, Objective, PlannerBase, Suggestion
from planner.space import SearchSpace
from planner.state import base_state, check_state, unpack

#: Stream points drawn per suggested point before giving up (a space with only a few
#: categorical combinations can run out of new points).
_MAX_SKIPS = 1000


class SobolStream:
    """Point i of the stream: i = 0 is the centre of the space, i ≥ 1 is scrambled Sobol
    point i-1 (scipy's Owen-scrambled sequence for the seed), categories by floor(u·k).

    Only the counter is state: restoring fast-forwards a fresh engine to it.
    """

    def __init__(self, space: SearchSpace, seed: int, drawn: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.drawn = int(drawn)
        self._engine: Any = None

    def next(self) -> np.ndarray:
        i = self.drawn
        self.drawn += 1
        if i == 0:
            return self.space.centre_unit()
        if self._engine is None:
            from scipy.stats import qmc  # lazy: scipy.stats costs ~0.7 s to import

            self._engine = qmc.Sobol(self.space.dim, scramble=True, seed=self.seed)
            if i > 1:
                self._engine.fast_forward(i - 1)
        return self.space.snap_unit(self._engine.random(1)[0])


def draw_new(
    next_unit: Callable[[], np.ndarray],
    space: SearchSpace,
    n: int,
    avoid: np.ndarray,
    who: str,
) -> list[np.ndarray]:
    """`n` points from a stream, distinct from the rows of `avoid` and from each other."""
    out: list[np.ndarray] = []
    rows = avoid
    for _ in range(n):
        for _skip in range(_MAX_SKIPS):
            u = next_unit()
            if not space.matches(u, rows).any():
                break
        else:
            raise RuntimeError(
                f"{who}: no new point in {_MAX_SKIPS} draws; is the space exhausted?"
            )
        out.append(u)
        rows = np.concatenate([rows, u.reshape(1, -1)], axis=0)
    return out


def with_fixed(
    next_unit: Callable[[], np.ndarray], fixed: Mapping[int, float]
) -> Callable[[], np.ndarray]:
    """A stream whose points have the fixed columns overwritten."""
    if not fixed:
        return next_unit

    def draw() -> np.ndarray:
        u = next_unit()
        for i, v in fixed.items():
            u[i] = v
        return u

    return draw


class _StreamPlanner(PlannerBase):
    """A planner that walks a deterministic point stream, skipping points to avoid."""

    engine: ClassVar[str] = "stream"

    def _next_unit(self) -> np.ndarray:
        raise NotImplementedError

    def _counters(self) -> dict[str, int]:
        raise NotImplementedError

    def _set_counters(self, counters: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def suggest(
        self,
        n: int,
        pending: Sequence[Mapping[str, Any] | Suggestion] = (),
        fixed: Mapping[str, Any] | None = None,
    ) -> list[Suggestion]:
        """The next `n` stream points that are neither tried nor pending (with the fixed
        features set, so the stream moves on in the other inputs)."""
        n = self._check_n(n)
        stream = with_fixed(self._next_unit, self._fixed_unit(fixed))
        units = draw_new(stream, self.space, n, self._avoid_rows(pending), self.engine)
        return [Suggestion(params=self.space.from_unit(u), engine=self.engine) for u in units]

    def to_state(self) -> dict[str, Any]:
        return base_state(self, {}, self._counters())

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> _StreamPlanner:
        check_state(state, cls.engine)
        space, objectives, results = unpack(state)
        p = cls(space, objectives, seed=state["seed"], **state.get("options", {}))
        p.ingest(results)
        p._set_counters(state["counters"])
        return p


class SobolPlanner(_StreamPlanner):
    """Scrambled Sobol, the centre of the space first."""

    engine: ClassVar[str] = "sobol"

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective | str],
        seed: int = 0,
        *,
        constraints: Sequence[Constraint | Mapping[str, Any] | str] | None = (),
        fixed_features: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(space, objectives, seed, constraints, fixed_features)
        self._stream = SobolStream(space, self.seed)

    def _next_unit(self) -> np.ndarray:
        return self._stream.next()

    def _counters(self) -> dict[str, int]:
        return {"drawn": self._stream.drawn}

    def _set_counters(self, counters: Mapping[str, Any]) -> None:
        self._stream = SobolStream(self.space, self.seed, drawn=int(counters["drawn"]))


class RandomPlanner(_StreamPlanner):
    """Uniform random points (no centre first: it is the plain baseline).

    Point i comes from its own generator seeded by (seed, i), so the state is one counter.
    """

    engine: ClassVar[str] = "random"

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective | str],
        seed: int = 0,
        *,
        constraints: Sequence[Constraint | Mapping[str, Any] | str] | None = (),
        fixed_features: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(space, objectives, seed, constraints, fixed_features)
        self._drawn = 0

    def _next_unit(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self._drawn])
        self._drawn += 1
        return self.space.snap_unit(rng.random(self.space.dim))

    def _counters(self) -> dict[str, int]:
        return {"drawn": self._drawn}

    def _set_counters(self, counters: Mapping[str, Any]) -> None:
        self._drawn = int(counters["drawn"])
