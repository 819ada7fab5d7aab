"""The planner contract (a typing.Protocol, satisfied structurally) and the bookkeeping every
engine shares: validating results, remembering which points were tried, and `best()`.

Result statuses follow DESIGN.md: COMPLETED (objective values measured), FAILED (the chemistry
failed: remembered, so the point is not suggested again; what the *model* does with it is the
engine's choice), ABANDONED (an instrument fault: says nothing about the chemistry, so it is
kept in the record but ignored by every model and by `best()`).

This first version optimises one objective, the first in the list; the list exists so several
objectives (and outcome constraints) can be added without changing the contract.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from planner.space import SearchSpace, Value

Status = Literal["COMPLETED", "FAILED", "ABANDONED"]
STATUSES: tuple[str, ...] = ("COMPLETED", "FAILED", "ABANDONED")


@dataclass(frozen=True)
class Objective:
    """One measured outcome to optimise; `maximize=False` minimises it."""

    name: str
    maximize: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"objective name must be a non-empty string, got {self.name!r}")


@dataclass(frozen=True)
class Suggestion:
    """A candidate with its provenance: which engine chose it, and what the model thought.

    For a model-based engine: `acquisition` is the point's own acquisition value given the data
    (log noisy EI for BoTorch); `predicted_mean`/`predicted_sd` are the posterior of the first
    objective there, in its own sign and unit (the latent function, without observation
    noise); `model_version` identifies the model (one per training set). Space-filling
    suggestions leave them None / 0.
    """

    params: dict[str, Value]
    engine: str
    acquisition: float | None = None
    predicted_mean: float | None = None
    predicted_sd: float | None = None
    model_version: int = 0


@dataclass(frozen=True)
class Result:
    """One candidate's outcome. `objectives` is empty for FAILED and ABANDONED."""

    params: dict[str, Value]
    status: Status
    objectives: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")


@runtime_checkable
class Planner(Protocol):
    """suggest / ingest, the shape bluesky-adaptive agents use."""

    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[Suggestion]:
        """The next `n` distinct candidates, none equal to a pending or tried point."""
        ...

    def ingest(self, results: Sequence[Result]) -> None:
        """Results as they stream back, in any order: COMPLETED, FAILED or ABANDONED."""
        ...

    def best(self) -> Result | None:
        """The best COMPLETED result for the first objective, or None before there is one."""
        ...


@runtime_checkable
class PersistentPlanner(Planner, Protocol):
    """A planner the store can save: `to_state()` is plain JSON; the class's `from_state`
    rebuilds a planner whose next suggestion is the one this planner would have made."""

    def to_state(self) -> dict[str, Any]: ...


def as_objectives(objectives: Sequence[Objective | str] | Objective | str) -> tuple[Objective, ...]:
    """Objectives from a list (a bare name means maximise it)."""
    if isinstance(objectives, Objective | str):
        objectives = [objectives]
    out = tuple(o if isinstance(o, Objective) else Objective(o) for o in objectives)
    if not out:
        raise ValueError("at least one objective is needed")
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate objective names: {names}")
    return out


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def derive_seed(seed: int, *path: int) -> int:
    """A 31-bit seed for one purpose (fit number, batch position, …) derived from the planner
    seed: reproducible across runs and processes, independent between purposes."""
    return int(np.random.SeedSequence([seed, *path]).generate_state(1)[0] >> 1)


class PlannerBase:
    """History and `best()` shared by the engines. Not part of the contract."""

    engine: ClassVar[str] = "base"

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective | str] | Objective | str,
        seed: int = 0,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space must be a SearchSpace, got {type(space).__name__}")
        self.space = space
        self.objectives = as_objectives(objectives)
        self.seed = check_seed(seed)
        self.results: list[Result] = []
        # Unit encodings of COMPLETED/FAILED results, kept in step with `results`.
        self._tried_rows: list[np.ndarray] = []

    @property
    def objective(self) -> Objective:
        """The objective this version optimises (the first)."""
        return self.objectives[0]

    # --- ingest --------------------------------------------------------------------------
    def _coerce_result(self, r: Result | Mapping[str, Any]) -> Result:
        if isinstance(r, Mapping):
            r = Result(
                params=dict(r["params"]),
                status=r["status"],
                objectives=dict(r.get("objectives") or {}),
            )
        if not isinstance(r, Result):
            raise TypeError(f"expected a Result, got {type(r).__name__}")
        params = self.space.validate(r.params)
        objectives: dict[str, float] = {}
        if r.status == "COMPLETED":
            name = self.objective.name
            if name not in r.objectives:
                raise ValueError(f"COMPLETED result lacks objective {name!r}: {r.objectives!r}")
            for k, v in r.objectives.items():
                f = float(v)
                if not math.isfinite(f):
                    raise ValueError(f"objective {k!r} is not finite: {v!r}")
                objectives[str(k)] = f
        # FAILED / ABANDONED carry no objective values; anything sent along is dropped.
        return Result(params=params, status=r.status, objectives=objectives)

    def ingest(self, results: Sequence[Result]) -> None:
        """Record results (validated first, so a bad batch changes nothing)."""
        clean = [self._coerce_result(r) for r in results]
        for r in clean:
            self.results.append(r)
            if r.status != "ABANDONED":
                self._tried_rows.append(self.space.to_unit(r.params))

    # --- queries -------------------------------------------------------------------------
    def completed(self) -> list[Result]:
        return [r for r in self.results if r.status == "COMPLETED"]

    def n_completed(self) -> int:
        return sum(1 for r in self.results if r.status == "COMPLETED")

    def best(self) -> Result | None:
        """Best COMPLETED result on the first objective; ties go to the earliest."""
        done = self.completed()
        if not done:
            return None
        name, sign = self.objective.name, (1.0 if self.objective.maximize else -1.0)
        return max(done, key=lambda r: sign * r.objectives[name])  # max keeps the first of ties

    def _pending_rows(self, pending: Sequence[Mapping[str, Any] | Suggestion]) -> np.ndarray:
        rows = [self.space.to_unit(p.params if isinstance(p, Suggestion) else p) for p in pending]
        return np.stack(rows) if rows else np.empty((0, self.space.dim))

    def _avoid_rows(self, pending: Sequence[Mapping[str, Any] | Suggestion]) -> np.ndarray:
        """Points a suggestion must not repeat: tried (COMPLETED/FAILED) and pending ones."""
        tried = np.stack(self._tried_rows) if self._tried_rows else np.empty((0, self.space.dim))
        return np.concatenate([tried, self._pending_rows(pending)], axis=0)

    @staticmethod
    def _check_n(n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        return int(n)
