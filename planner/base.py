"""The planner contract (a typing.Protocol, satisfied structurally) and the bookkeeping every
engine shares: validating results, remembering which points were tried, and `best()`.

Result statuses follow DESIGN.md: COMPLETED (objective values measured), FAILED (the chemistry
failed: remembered, so the point is not suggested again; what the *model* does with it is the
engine's choice), ABANDONED (an instrument fault: says nothing about the chemistry, so it is
kept in the record but ignored by every model and by `best()`).

Objectives and outcome constraints. Every COMPLETED result carries a value for every objective
and every constrained outcome. `best()` is the best *feasible* result (all outcome constraints
met) on the first objective; `pareto()` is the set of feasible results no other feasible
result dominates on all objectives at once: the answer when there are several objectives.
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
#: where a result comes from: an instrument, or a model (a digital twin, a simulation)
Fidelity = Literal["measured", "computed"]
FIDELITIES: tuple[str, ...] = ("measured", "computed")


@dataclass(frozen=True)
class Objective:
    """One measured outcome to optimise; `maximize=False` minimises it."""

    name: str
    maximize: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"objective name must be a non-empty string, got {self.name!r}")


@dataclass(frozen=True)
class Constraint:
    """An outcome constraint: a COMPLETED result is acceptable only if its measured `name`
    is ≥ `ge` and/or ≤ `le` (e.g. ``Constraint("selectivity", ge=20)``). The outcome may be an
    objective or a further measured value."""

    name: str
    ge: float | None = None
    le: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"constraint name must be a non-empty string, got {self.name!r}")
        for b in ("ge", "le"):
            v = getattr(self, b)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"constraint {self.name}: {b} must be a finite number, got {v!r}")
            object.__setattr__(self, b, float(v))
        if self.ge is None and self.le is None:
            raise ValueError(f"constraint {self.name}: give a lower (ge) or upper (le) bound")
        if self.ge is not None and self.le is not None and self.ge > self.le:
            raise ValueError(f"constraint {self.name}: ge {self.ge:g} is above le {self.le:g}")

    def satisfied(self, value: float) -> bool:
        return (self.ge is None or value >= self.ge) and (self.le is None or value <= self.le)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ge": self.ge, "le": self.le}

    @classmethod
    def parse(cls, spec: Constraint | Mapping[str, Any] | str) -> Constraint:
        """From a Constraint, a mapping ``{"name": "selectivity", "ge": 20}`` (campaign TOML,
        saved state) or a string ``"selectivity >= 20"`` / ``"cost <= 3"``."""
        if isinstance(spec, Constraint):
            return spec
        if isinstance(spec, Mapping):
            extra = set(spec) - {"name", "ge", "le"}
            if extra:
                raise ValueError(f"constraint: unknown key(s) {sorted(extra)}; use name, ge, le")
            return cls(spec.get("name", ""), spec.get("ge"), spec.get("le"))
        if isinstance(spec, str):
            for op, key in ((">=", "ge"), ("<=", "le"), ("≥", "ge"), ("≤", "le")):
                name, found, bound = spec.partition(op)
                if found:
                    try:
                        value = float(bound)
                    except ValueError:
                        raise ValueError(
                            f"constraint {spec!r}: {bound.strip()!r} is not a number"
                        ) from None
                    return cls(name.strip(), **{key: value})
            raise ValueError(f"constraint {spec!r}: write 'name >= value' or 'name <= value'")
        raise TypeError(f"not a constraint: {spec!r}")


def as_constraints(specs: Sequence[Constraint | Mapping[str, Any] | str] | None) -> tuple:
    """Constraints from a list of any form `Constraint.parse` takes."""
    if specs is None:
        return ()
    if isinstance(specs, Constraint | Mapping | str):
        specs = [specs]
    return tuple(Constraint.parse(c) for c in specs)


@dataclass(frozen=True)
class Suggestion:
    """A candidate with its provenance: which engine chose it, and what the model thought.

    For a model-based engine: `acquisition` is the point's own acquisition value given the data
    (log noisy EI for one objective, log noisy EHVI for several); `predicted_mean`/`predicted_sd`
    are the posterior of the first objective there, in its own sign and unit (the latent
    function, without observation noise); `predictions` has (mean, sd) of every modelled
    outcome (objectives and constrained outcomes); `feasibility` is the feasibility model's
    probability that the chemistry works there (None until something has FAILED);
    `model_version` identifies the model (one per training set). Space-filling suggestions
    leave them None / empty / 0.
    """

    params: dict[str, Value]
    engine: str
    acquisition: float | None = None
    predicted_mean: float | None = None
    predicted_sd: float | None = None
    model_version: int = 0
    predictions: dict[str, tuple[float, float]] = field(default_factory=dict)
    feasibility: float | None = None


@dataclass(frozen=True)
class Result:
    """One candidate's outcome. `objectives` is empty for FAILED and ABANDONED.

    A `computed` result is a model's estimate (a digital twin's): every engine keeps it
    apart from the measured results (`PlannerBase.computed`), so it never counts as tried,
    as the best, or as a measurement; a multi-fidelity engine models it."""

    params: dict[str, Value]
    status: Status
    objectives: dict[str, float] = field(default_factory=dict)
    fidelity: Fidelity = "measured"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.fidelity not in FIDELITIES:
            raise ValueError(f"fidelity must be one of {FIDELITIES}, got {self.fidelity!r}")


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
        """The best feasible COMPLETED result for the first objective, or None."""
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
        constraints: Sequence[Constraint | Mapping[str, Any] | str] | None = (),
        fixed_features: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space must be a SearchSpace, got {type(space).__name__}")
        self.space = space
        self.objectives = as_objectives(objectives)
        self.seed = check_seed(seed)
        self.constraints: tuple[Constraint, ...] = as_constraints(constraints)
        #: values every suggestion takes (e.g. {"solvent": "DMF"}); `suggest(fixed=...)` adds to it
        self.fixed_features: dict[str, Value] = self._check_fixed(fixed_features or {})
        self.results: list[Result] = []
        #: computed (model) results, kept apart from the measured ones
        self.computed: list[Result] = []
        # Unit encodings of COMPLETED/FAILED results, kept in step with `results`.
        self._tried_rows: list[np.ndarray] = []

    @property
    def objective(self) -> Objective:
        """The first objective: the one `best()` ranks by."""
        return self.objectives[0]

    def measured_outcomes(self) -> tuple[str, ...]:
        """Outcomes a COMPLETED result must carry: the objectives, then constrained outcomes."""
        names = [o.name for o in self.objectives]
        names += [c.name for c in self.constraints if c.name not in names]
        return tuple(dict.fromkeys(names))

    def _check_fixed(self, fixed: Mapping[str, Any]) -> dict[str, Value]:
        """Validate fixed features (names in the space, values within bounds / choices)."""
        unknown = sorted(set(fixed) - set(self.space.names))
        if unknown:
            raise ValueError(f"fixed features: unknown parameter(s) {', '.join(unknown)}")
        probe = dict(self.space.centre())
        probe.update(fixed)
        clean = self.space.validate(probe)
        return {k: clean[k] for k in fixed}

    def _fixed_unit(self, fixed: Mapping[str, Any] | None) -> dict[int, float]:
        """The planner's fixed features merged with a call's, as {column: unit value}."""
        merged = {**self.fixed_features, **self._check_fixed(fixed or {})}
        if not merged:
            return {}
        u = self.space.to_unit({**self.space.centre(), **merged})
        return {i: float(u[i]) for i, n in enumerate(self.space.names) if n in merged}

    # --- ingest --------------------------------------------------------------------------
    def _coerce_result(self, r: Result | Mapping[str, Any]) -> Result:
        if isinstance(r, Mapping):
            r = Result(
                params=dict(r["params"]),
                status=r["status"],
                objectives=dict(r.get("objectives") or {}),
                fidelity=r.get("fidelity", "measured"),
            )
        if not isinstance(r, Result):
            raise TypeError(f"expected a Result, got {type(r).__name__}")
        params = self.space.validate(r.params)
        objectives: dict[str, float] = {}
        if r.status == "COMPLETED":
            for name in self.measured_outcomes():
                if name not in r.objectives:
                    kind = "objective" if name in {o.name for o in self.objectives} else "outcome"
                    raise ValueError(f"COMPLETED result lacks {kind} {name!r}: {r.objectives!r}")
            for k, v in r.objectives.items():
                f = float(v)
                if not math.isfinite(f):
                    raise ValueError(f"objective {k!r} is not finite: {v!r}")
                objectives[str(k)] = f
        # FAILED / ABANDONED carry no objective values; anything sent along is dropped.
        return Result(params=params, status=r.status, objectives=objectives, fidelity=r.fidelity)

    def ingest(self, results: Sequence[Result]) -> None:
        """Record results (validated first, so a bad batch changes nothing). Computed
        results go to `computed`: an engine that does not model them only keeps them."""
        clean = [self._coerce_result(r) for r in results]
        for r in clean:
            if r.fidelity == "computed":
                self.computed.append(r)
                continue
            self.results.append(r)
            if r.status != "ABANDONED":
                self._tried_rows.append(self.space.to_unit(r.params))

    # --- queries -------------------------------------------------------------------------
    def completed(self) -> list[Result]:
        return [r for r in self.results if r.status == "COMPLETED"]

    def n_completed(self) -> int:
        return sum(1 for r in self.results if r.status == "COMPLETED")

    def feasible(self, r: Result) -> bool:
        """COMPLETED and meeting every outcome constraint."""
        return r.status == "COMPLETED" and all(
            c.satisfied(r.objectives[c.name]) for c in self.constraints
        )

    def best(self) -> Result | None:
        """Best feasible COMPLETED result on the first objective (None if there is none yet);
        ties go to the earliest."""
        done = [r for r in self.results if self.feasible(r)]
        if not done:
            return None
        name, sign = self.objective.name, (1.0 if self.objective.maximize else -1.0)
        return max(done, key=lambda r: sign * r.objectives[name])  # max keeps the first of ties

    def pareto(self) -> list[Result]:
        """Feasible COMPLETED results that no other feasible result dominates (at least as
        good on every objective and better on one), in the order they came; repeats of the
        same objective values are kept once."""
        done = [r for r in self.results if self.feasible(r)]
        signs = np.array([1.0 if o.maximize else -1.0 for o in self.objectives])
        names = [o.name for o in self.objectives]
        Y = np.array([[r.objectives[n] for n in names] for r in done]).reshape(len(done), -1)
        Y = Y * signs
        front: list[Result] = []
        seen: set[tuple[float, ...]] = set()
        for i, r in enumerate(done):
            dominated = ((Y[i] <= Y).all(axis=1) & (Y[i] < Y).any(axis=1)).any()
            key = tuple(Y[i].tolist())
            if not dominated and key not in seen:
                seen.add(key)
                front.append(r)
        return front

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
