"""Bayesian optimisation with BoTorch on the field's defaults: a GP per outcome on the unit
encoding, log expected improvement over the best posterior mean (one objective), log noisy
expected improvement (one objective with outcome constraints) or log noisy expected
hypervolume improvement (several), outcome constraints and a feasibility model, asynchronous
batches through `X_pending`.

Phases. Until `n_initial` points are tried (COMPLETED or FAILED, at least one COMPLETED)
the planner walks the same Sobol stream as
`SobolPlanner` (centre first), or, in pool mode, a seeded random order of the pool. After
that each suggest brings the models up to date and picks the batch with the caller's pending
points as `X_pending`: jointly (one optimisation over all q points, BoTorch's default) in a
continuous space, else greedily (point j maximises the acquisition with points 0..j-1 of
the batch pending too; also the fallback when a joint batch repeats a tried point). A
suggestion's `acquisition` is its own value given the data.

Models. One GP per modelled outcome (`SingleTaskGP`, or `MixedSingleTaskGP` when there are
categorical inputs; a `ModelListGP` when there is more than one outcome):
* each objective, signed so that larger is better, on the COMPLETED results;
* each constrained outcome that is not an objective (e.g. selectivity ≥ 20), on the COMPLETED
  results;
* feasibility (``failed="classify"``, the default, once something has FAILED): a GP on a 0/1
  outcome (1 COMPLETED, 0 FAILED) over every tried point. Its posterior mean, a
  kernel-weighted success rate clipped to [1e-3, 1], is the probability of feasibility that
  weighs the acquisition (log EI + log P, i.e. EI × P; Gardner et al. 2014), so a region where
  syntheses failed stops attracting suggestions without being declared bad for the
  objective. (Not P(latent > 1/2): with the noise a 0/1 GP fits, that is ≈ 1 wherever the
  success rate is above one half and says nothing about a mostly-failing corner.)
Older policies stay selectable: ``failed="impute"`` enters a failed point in each objective's
GP with the worst value seen; ``failed="exclude"`` ignores failures in the models. Either way a
failed point is remembered and never suggested again.

Pool mode (``pool=[...]``, a finite candidate list: past experiments in a backtest, the
reagents on the shelf): suggestions come from the pool only, the acquisition is scored on
every untried pool point, and the start is a seeded random order of the pool.

Fixed features (``fixed_features=`` on the planner, ``fixed=`` per call) hold inputs at given
values: the Sobol stream is overwritten in those columns, the optimiser keeps them fixed, a
pool is filtered.

Model updates and latency. A cold fit costs hundreds of L-BFGS steps (seconds at n ≈ 1000),
so: hyperparameters are re-optimised only when an outcome's training set has grown by
`refit_fraction` (at least one point) since its last optimisation; in between, the model is
rebuilt on the new data with the current hyperparameters (milliseconds). Re-optimisation is
warm-started from the current hyperparameters; at an outcome's first fit and whenever its
data has doubled since the last cold fit, a cold fit from BoTorch's defaults competes with
the warm one and the higher marginal likelihood wins, so an early, data-poor optimum cannot
anchor a whole campaign. The incumbent of EI (the best posterior mean) and the baseline of
the noisy acquisitions are computed once per model (not once per batch point), and the model
object (with GPyTorch's prediction caches) is kept between suggestions. A lone GP (one
outcome, and the feasibility GP) is queried by the optimiser through `ConditionedGP`: its
Cholesky factor and weights computed once per model, each posterior a few torch operations
with GPyTorch's exact numbers, and qLogEI is evaluated on it directly (`planner.log_ei`;
ADR 0018). `model_version` counts models built (one per new training set). The
hyperparameters are part of the saved state, so a restored planner rebuilds the very model
it had, without fitting. `last_timing` holds the last suggest's fit and acquisition seconds.

Determinism. torch and BoTorch are imported lazily (so `import planner` stays cheap) and work
in float64 on `torch_threads` threads (default 1), inside `torch.random.fork_rng` seeded from
the planner seed, the model version and the batch position; the QMC samplers and the raw
samples of the optimiser get derived seeds too. The caller's global torch RNG is left as it
was. Nothing depends on wall-clock time (no optimiser timeouts). A planner is not re-entrant:
call it from one thread at a time (the campaign runs it off the RunEngine threads).

BoTorch's own warnings (an L-BFGS-B line search ending ABNORMAL, jitter added to a Cholesky)
are left to the caller's warning filters: suppressing them here would mean changing global
warning state from a worker thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any, ClassVar, Literal

import numpy as np

from planner.acquisition import (
    bound,
    feasibility_weighted,
    first_column,
    p_feasible,
    prune_baseline,
)
from planner.base import Constraint, Objective, PlannerBase, Result, Suggestion, derive_seed
from planner.conditioned_gp import conditioned
from planner.gp import FEASIBLE, dump_hyper, fit, load_hyper, new_model, torch_threads
from planner.log_ei import conditioned_log_ei
from planner.optimize import Effort, best_of, optimize_batch, optimize_one
from planner.sobol import SobolStream, draw_new, with_fixed
from planner.space import SearchSpace
from planner.state import base_state, check_state, unpack

FailedPolicy = Literal["classify", "impute", "exclude"]
FAILED_POLICIES: tuple[str, ...] = ("classify", "impute", "exclude")


# Seed-derivation tags, one per use, so no two uses share a random stream.
_FIT, _SAMPLER, _OPTIM, _GLOBAL, _OWN, _PRUNE, _POOL = 1, 2, 3, 4, 5, 6, 7
# A fit starts from default hyperparameters once the training set has grown by this factor.
_COLD_GROWTH = 2.0
# From this many tried points on, GPyTorch caches its predictive-covariance root (`suggest`).
_LOVE_MIN_N = 256
# Noisy EI integrates over the incumbent among at most this many baseline points (those most
# often best under the posterior): each evaluation's cost grows with it. (Not for EHVI, whose
# baseline is a whole Pareto front.)
_MAX_BASELINE = 8
# Posterior samples used once per model to prune the acquisition's baseline.
_PRUNE_SAMPLES = 1024


class BoTorchPlanner(PlannerBase):
    """GP + qLogEI / qLogNEI / qLogNEHVI after a Sobol start (see module docstring)."""

    engine: ClassVar[str] = "botorch"

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective | str],
        seed: int = 0,
        n_initial: int | None = None,
        *,
        constraints: Sequence[Constraint | Mapping[str, Any] | str] | None = (),
        failed: FailedPolicy = "classify",
        pool: Sequence[Mapping[str, Any]] | None = None,
        fixed_features: Mapping[str, Any] | None = None,
        ref_point: Mapping[str, float] | None = None,
        num_restarts: int = 4,
        raw_samples: int = 64,
        mc_samples: int = 128,
        maxiter: int = 100,
        fit_maxiter: int = 100,
        refit_fraction: float = 0.1,
        max_enumerate: int = 32,
        torch_threads: int = 1,
    ) -> None:
        """`n_initial` defaults to max(5, 2·d). `ref_point` (several objectives) is the
        hypervolume reference, by objective name in its own sign; by default it is inferred
        from the Pareto front seen so far. Category combinations are enumerated up to
        `max_enumerate` (see `_optimize`); beyond it BoTorch's alternating mixed optimiser
        is used. `maxiter` caps L-BFGS-B iterations per acquisition optimisation."""
        super().__init__(space, objectives, seed, constraints, fixed_features)
        if n_initial is None:
            n_initial = max(5, 2 * space.dim)
        for name, v, lo in (
            ("n_initial", n_initial, 1),
            ("num_restarts", num_restarts, 1),
            ("raw_samples", raw_samples, 1),
            ("mc_samples", mc_samples, 1),
            ("maxiter", maxiter, 1),
            ("fit_maxiter", fit_maxiter, 1),
            ("max_enumerate", max_enumerate, 1),
            ("torch_threads", torch_threads, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer ≥ {lo}, got {v!r}")
        if isinstance(refit_fraction, bool) or not 0 <= refit_fraction <= 10:
            raise ValueError(f"refit_fraction must be in [0, 10], got {refit_fraction!r}")
        if failed not in FAILED_POLICIES:
            raise ValueError(f"failed must be one of {FAILED_POLICIES}, got {failed!r}")
        if FEASIBLE in self.measured_outcomes():
            raise ValueError(f"{FEASIBLE!r} is the feasibility model's name; rename the outcome")
        names = {o.name for o in self.objectives}
        if ref_point is not None:
            if set(ref_point) != names:
                raise ValueError(f"ref_point needs a value for each objective: {sorted(names)}")
            ref_point = {k: float(v) for k, v in ref_point.items()}
        self.n_initial = n_initial
        self.failed: FailedPolicy = failed
        self.ref_point = ref_point
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.mc_samples = mc_samples
        self.maxiter = maxiter
        self.fit_maxiter = fit_maxiter
        self.refit_fraction = float(refit_fraction)
        self.max_enumerate = max_enumerate
        self.torch_threads = torch_threads
        self.pool: list[dict[str, Any]] | None = None
        self._pool_rows: np.ndarray | None = None
        self._pool_order: np.ndarray | None = None
        if pool is not None:
            self.pool = [self.space.validate(x) for x in pool]
            if not self.pool:
                raise ValueError("pool: no candidates")
            self._pool_rows = self.space.to_unit_many(self.pool)
            order = np.random.default_rng([self.seed, _POOL]).permutation(len(self.pool))
            self._pool_order = order
        self._stream = SobolStream(space, self.seed)
        self._model: Any = None  # the outcomes' GP (a ModelListGP when there are several)
        self._feasibility: Any = None  # the 0/1 GP, once something has FAILED ("classify")
        self._outputs: list[str] = []  # the outcome model's outcomes, in column order
        self._baseline: Any = None  # (model_version, pruned X_baseline, ref_point) cache
        self._best_mean: tuple[int, float] | None = None  # (model_version, incumbent) cache
        # (model_version, outcome model, feasibility model) as the acquisition queries them
        self._query: tuple[int, Any, Any] | None = None
        self.model_version = 0  # models built so far: one per new training set
        self._fit_n = 0  # len(self._tried_rows) when the current model was built
        self._cold_n: dict[str, int] = {}  # per outcome: training-set size at the last cold fit
        self._hyper_n: dict[str, int] = {}  # per outcome: size at the last hyperparameter fit
        self._hyper: dict[str, dict[str, Any]] = {}  # per outcome: raw hyperparameters
        #: seconds spent by the last `suggest` bringing the model up to date and choosing
        self.last_timing: dict[str, float] = {"fit_s": 0.0, "acquisition_s": 0.0}

    # --- training data -------------------------------------------------------------------
    def _signs(self) -> dict[str, float]:
        return {o.name: (1.0 if o.maximize else -1.0) for o in self.objectives}

    def outputs(self) -> list[str]:
        """The outcomes modelled with the current results: objectives, constrained outcomes
        that are not objectives, then feasibility if something FAILED (``failed="classify"``)."""
        names = list(self.measured_outcomes())
        if self.failed == "classify" and any(r.status == "FAILED" for r in self.results):
            names.append(FEASIBLE)
        return names

    def training_sets(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """(outcome, X in the unit encoding, y) for each modelled outcome; objectives are
        signed so that larger is better."""
        signs = self._signs()
        tried = self._tried_pairs()
        out: list[tuple[str, np.ndarray, np.ndarray]] = []
        for name in self.outputs():
            if name == FEASIBLE:
                X = [row for _, row in tried]
                y = [1.0 if r.status == "COMPLETED" else 0.0 for r, _ in tried]
            else:
                s = signs.get(name, 1.0)
                X = [row for r, row in tried if r.status == "COMPLETED"]
                y = [s * r.objectives[name] for r, _ in tried if r.status == "COMPLETED"]
                if self.failed == "impute" and name in signs:
                    worst = min(y)
                    X += [row for r, row in tried if r.status == "FAILED"]
                    y += [worst for r, _ in tried if r.status == "FAILED"]
            out.append((name, np.stack(X), np.array(y)))
        return out

    def _ensure_model(self) -> None:
        """Bring the models up to date with the results (see "Model updates" above)."""
        n_tried = len(self._tried_rows)
        if self._model is not None and self._fit_n == n_tried:
            return
        import torch
        from botorch.models import ModelListGP

        restoring = self._model is None and self._fit_n == n_tried and bool(self._hyper)
        version = self.model_version if restoring else self.model_version + 1
        models = []
        outputs: list[str] = []
        for k, (name, X_np, y_np) in enumerate(self.training_sets()):
            X = torch.as_tensor(X_np, dtype=torch.float64)
            Y = torch.as_tensor(y_np, dtype=torch.float64).unsqueeze(-1)
            hyper = self._hyper.get(name)
            if hyper is not None and (restoring or not self._hyper_due(name, len(X_np))):
                # A restore (same data as the saved model) or new data under the current
                # hyperparameters: condition, don't optimise.
                model = new_model(X, Y, self.space.cat_dims, name)
                load_hyper(model, hyper)
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(derive_seed(self.seed, _FIT, version, k))
                    model = self._fit_hyper(name, X, Y)
                self._hyper[name] = dump_hyper(model)
                self._hyper_n[name] = len(X_np)
            model.eval()
            models.append(model)
            outputs.append(name)
        self.model_version = version
        self._fit_n = n_tried
        self._feasibility = None
        if outputs[-1] == FEASIBLE:
            self._feasibility = models.pop()
            outputs.pop()
        self._outputs = outputs
        self._model = models[0] if len(models) == 1 else ModelListGP(*models).eval()
        self._baseline = None

    def _hyper_due(self, name: str, n_train: int) -> bool:
        """Whether an outcome's training set has grown enough to re-optimise its
        hyperparameters."""
        n0 = self._hyper_n.get(name, 0)
        return n_train >= n0 + max(1, math.ceil(self.refit_fraction * n0))

    def _fit_hyper(self, name: str, X: Any, Y: Any) -> Any:
        """Optimise hyperparameters: warm from the current ones; also cold from the defaults
        at the first fit and each time the data has doubled since the last cold fit, keeping
        whichever has the higher marginal likelihood."""
        from botorch.exceptions.errors import ModelFittingError

        n_train = X.shape[0]
        candidates: list[tuple[float, Any]] = []
        if name in self._hyper:
            warm = new_model(X, Y, self.space.cat_dims, name)
            load_hyper(warm, self._hyper[name])
            with suppress(ModelFittingError):  # then the cold fit below decides
                candidates.append((fit(warm, self.fit_maxiter, warm=True), warm))
        if not candidates or n_train >= _COLD_GROWTH * self._cold_n.get(name, 0):
            cold = new_model(X, Y, self.space.cat_dims, name)
            candidates.append((fit(cold, self.fit_maxiter), cold))
            self._cold_n[name] = n_train
        # max() keeps the first of equals: the warm model, so nothing jumps needlessly.
        return max(candidates, key=lambda c: c[0])[1]

    # --- acquisition ---------------------------------------------------------------------
    def _objective_and_constraints(self) -> tuple[Any, list[Callable[[Any], Any]]]:
        """The MC objective over the model's outcome columns (None for a lone GP) and the
        constraint callables (≤ 0 where feasible) for the acquisition."""
        from botorch.acquisition.multi_objective.objective import (
            IdentityMCMultiOutputObjective,
        )
        from botorch.acquisition.objective import GenericMCObjective

        col = {name: k for k, name in enumerate(self._outputs)}
        signs = self._signs()
        constraints: list[Callable[[Any], Any]] = []
        for c in self.constraints:
            k, s = col[c.name], signs.get(c.name, 1.0)
            if c.ge is not None:
                constraints.append(bound(k, -s, c.ge))  # ge - value ≤ 0
            if c.le is not None:
                constraints.append(bound(k, s, -c.le))  # value - le ≤ 0
        if len(self.objectives) > 1:
            objective: Any = IdentityMCMultiOutputObjective(outcomes=list(range(len(signs))))
        elif len(self._outputs) > 1:
            objective = GenericMCObjective(first_column)
        else:
            objective = None
        return objective, constraints

    def _signed_completed(self, feasible_only: bool) -> np.ndarray:
        """Objective values (larger is better) of the COMPLETED (or only the feasible)
        results: one row each."""
        signs = self._signs()
        rows = [
            [signs[o.name] * r.objectives[o.name] for o in self.objectives]
            for r in self.results
            if (self.feasible(r) if feasible_only else r.status == "COMPLETED")
        ]
        return np.array(rows).reshape(len(rows), len(self.objectives))

    def _reference_point(self) -> Any:
        """Hypervolume reference (larger-is-better sign): given, or inferred from the Pareto
        front of the feasible results (BoTorch's nadir minus 10 % of the range)."""
        import torch
        from botorch.utils.multi_objective.hypervolume import infer_reference_point
        from botorch.utils.multi_objective.pareto import is_non_dominated

        if self.ref_point is not None:
            signs = self._signs()
            return torch.tensor(
                [signs[o.name] * self.ref_point[o.name] for o in self.objectives],
                dtype=torch.float64,
            )
        Y = self._signed_completed(feasible_only=True)
        if len(Y) == 0:
            Y = self._signed_completed(feasible_only=False)
        Yt = torch.as_tensor(Y, dtype=torch.float64)
        return infer_reference_point(Yt[is_non_dominated(Yt)])

    def _completed_rows(self) -> Any:
        """The COMPLETED points in the unit encoding, as a float64 tensor (one row each)."""
        import torch

        rows = [row for r, row in self._tried_pairs() if r.status == "COMPLETED"]
        return torch.as_tensor(np.stack(rows), dtype=torch.float64)

    def _pruned_baseline(self) -> tuple[Any, Any]:
        """The acquisition's baseline (COMPLETED points that may be the best under the
        model) and the hypervolume reference; computed once per model."""
        import torch
        from botorch.acquisition.multi_objective.utils import (
            prune_inferior_points_multi_objective,
        )
        from botorch.sampling.normal import SobolQMCNormalSampler

        v = self.model_version
        if self._baseline is not None and self._baseline[0] == v:
            return self._baseline[1], self._baseline[2]
        X = self._completed_rows()
        objective, constraints = self._objective_and_constraints()
        ref = None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, _PRUNE, v))
            with torch.no_grad():
                if len(self.objectives) > 1:
                    ref = self._reference_point()
                    X = prune_inferior_points_multi_objective(
                        self._model,
                        X,
                        ref,
                        objective=objective,
                        constraints=constraints or None,
                        num_samples=_PRUNE_SAMPLES,
                    )
                else:
                    sampler = SobolQMCNormalSampler(
                        sample_shape=torch.Size([_PRUNE_SAMPLES]),
                        seed=derive_seed(self.seed, _PRUNE, v, 1),
                    )
                    X = prune_baseline(
                        self._model, X, objective, constraints, sampler, _MAX_BASELINE
                    )
        self._baseline = (v, X, ref)
        return X, ref

    def _query_model(self) -> Any:
        """The model the acquisition queries: a lone GP conditioned once in plain torch
        (`planner.conditioned_gp`, the same exact posterior at a fraction of the cost per
        call), else the GPyTorch model itself. Built once per model."""
        return self._queried()[0]

    def _query_feasibility(self) -> Any:
        """The feasibility GP as the acquisition queries it (None until something FAILED)."""
        return self._queried()[1]

    def _queried(self) -> tuple[Any, Any]:
        v = self.model_version
        if self._query is None or self._query[0] != v:
            feas = self._feasibility
            self._query = (
                v,
                conditioned(self._model) or self._model,
                None if feas is None else conditioned(feas) or feas,
            )
        return self._query[1], self._query[2]

    def _incumbent(self) -> float:
        """The best posterior mean among the COMPLETED points (one objective, larger is
        better): the level expected improvement is measured from; computed once per model."""
        import gpytorch
        import torch

        v = self.model_version
        if self._best_mean is not None and self._best_mean[0] == v:
            return self._best_mean[1]
        X = self._completed_rows()
        with torch.no_grad(), gpytorch.settings.skip_posterior_variances(True):
            mean = self._query_model().posterior(X).mean[..., 0]
        self._best_mean = (v, float(mean.max()))
        return self._best_mean[1]

    def _acquisition(self, pending: np.ndarray, seed: int) -> Any:
        """The acquisition given the data and `pending`: qLogEI over the best posterior mean
        of the tried points (one objective, BayBE's default too), qLogNEI when outcome
        constraints make the incumbent uncertain, qLogNEHVI for several objectives.

        Plain EI over the best mean is greedier than noisy EI, whose incumbent is the best
        of joint posterior draws over the tried points (higher than the best mean where the
        model is unsure): on the pools of past experiments it found the top conditions in
        fewer experiments (ADR 0016). The outcome constraints keep noisy EI: which tried
        point is feasible is itself uncertain there."""
        import torch
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.sampling.normal import SobolQMCNormalSampler

        objective, constraints = self._objective_and_constraints()
        model, feasibility = self._queried()
        X_pending = torch.as_tensor(pending, dtype=torch.float64) if len(pending) else None
        if len(self.objectives) == 1 and not constraints:
            # A lone GP, so a ConditionedGP: qLogEI evaluated on it directly (ADR 0018).
            acqf = conditioned_log_ei(model, self._incumbent(), self.mc_samples, seed, X_pending)
        else:
            X_baseline, ref = self._pruned_baseline()
            common: dict[str, Any] = {
                "model": model,
                "sampler": SobolQMCNormalSampler(
                    sample_shape=torch.Size([self.mc_samples]), seed=seed
                ),
                "objective": objective,
                "X_pending": X_pending,
                "X_baseline": X_baseline,
                "constraints": constraints or None,
                "prune_baseline": False,
            }
            if len(self.objectives) > 1:
                acqf = qLogNoisyExpectedHypervolumeImprovement(ref_point=ref, **common)
            else:
                acqf = qLogNoisyExpectedImprovement(**common)
        if feasibility is not None:
            acqf = feasibility_weighted(acqf, feasibility)
        return acqf

    def _tried_pairs(self) -> list[tuple[Result, np.ndarray]]:
        tried = (r for r in self.results if r.status != "ABANDONED")
        return list(zip(tried, self._tried_rows, strict=True))

    # --- suggest -------------------------------------------------------------------------
    def suggest(
        self,
        n: int,
        pending: Sequence[Mapping[str, Any] | Suggestion] = (),
        fixed: Mapping[str, Any] | None = None,
    ) -> list[Suggestion]:
        """Start points until `n_initial` tried (see `model_ready`), then a greedy batch of the
        acquisition. In pool mode fewer than `n` come back once the pool is used up."""
        n = self._check_n(n)
        pending_rows = self._pending_rows(pending)
        avoid = self._avoid_rows(pending)
        fixed_unit = self._fixed_unit(fixed)
        self.last_timing = {"fit_s": 0.0, "acquisition_s": 0.0}
        if n == 0:
            return []
        if not self.model_ready():
            return [
                Suggestion(
                    params=self._params_of(u),
                    engine=self._start_engine(),
                    model_version=self.model_version,
                )
                for u in self._start_points(n, avoid, fixed_unit)
            ]
        import gpytorch

        with torch_threads(self.torch_threads):
            t0 = time.perf_counter()
            self._ensure_model()
            t1 = time.perf_counter()
            # For the models ConditionedGP does not cover (several outcomes): GPyTorch's
            # cached root of the inverse training covariance (fast_pred_var; a Cholesky root
            # below BoTorch's 4096-point Cholesky limit, Lanczos/LOVE above), built once per
            # model; 10-40x cheaper acquisition evaluations at n ≈ 1000.
            with gpytorch.settings.fast_pred_var(len(self._tried_rows) >= _LOVE_MIN_N):
                out = self._bo_batch(n, pending_rows, avoid, fixed_unit)
            self.last_timing = {"fit_s": t1 - t0, "acquisition_s": time.perf_counter() - t1}
        return out

    def _params_of(self, u: np.ndarray) -> dict[str, Any]:
        """Decode a unit vector; in pool mode, the pool's own values (no rounding trip)."""
        if self._pool_rows is not None and self.pool is not None:
            hit = np.flatnonzero(self.space.matches(u, self._pool_rows))
            if len(hit):
                return dict(self.pool[int(hit[0])])
        return self.space.from_unit(u)

    def model_ready(self) -> bool:
        """Past the start: `n_initial` points tried (COMPLETED or FAILED: a failure teaches
        the feasibility model as much as a success teaches the GP) and at least one
        COMPLETED. A GP on one value is its prior around that value (unit scale): expected
        improvement then goes where the prior is widest, far from the point, a space-filling
        second pick that a random one does not beat (ADR 0016)."""
        return len(self._tried_rows) >= self.n_initial and self.n_completed() >= 1

    def _start_engine(self) -> str:
        return "random" if self.pool is not None else "sobol"

    def _start_points(self, n: int, avoid: np.ndarray, fixed: Mapping[int, float]) -> list:
        """Space-filling points: the Sobol stream (centre first) or, in pool mode, the first
        free pool points in the seeded random order."""
        if self._pool_rows is None:
            stream = with_fixed(self._stream.next, fixed)
            return draw_new(stream, self.space, n, avoid, self.engine)
        assert self._pool_order is not None
        out: list[np.ndarray] = []
        free = self._free_pool(avoid, fixed)
        for i in self._pool_order:
            if len(out) == n:
                break
            if free[i]:
                out.append(self._pool_rows[i].copy())
        return out

    def _free_pool(self, avoid: np.ndarray, fixed: Mapping[int, float]) -> np.ndarray:
        """Mask over the pool: neither tried nor pending, and matching the fixed features."""
        assert self._pool_rows is not None
        free = np.array([not self.space.matches(u, avoid).any() for u in self._pool_rows])
        for i, v in fixed.items():
            free &= np.abs(self._pool_rows[:, i] - v) <= (
                1e-9 if i in self.space.cont_dims else 0.5
            )
        return free

    def _bo_batch(
        self, n: int, pending_rows: np.ndarray, avoid: np.ndarray, fixed: Mapping[int, float]
    ) -> list[Suggestion]:
        import torch

        v = self.model_version
        chosen: list[np.ndarray] = []
        engines: list[str] = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, _GLOBAL, v, len(pending_rows)))
            joint = self._optimize_joint(n, pending_rows, avoid, fixed)
            if joint is not None:
                chosen = joint
                engines = [self.engine] * n
            for j in range(len(chosen), n):
                rows = np.concatenate([avoid, *(c.reshape(1, -1) for c in chosen)], axis=0)
                xp = np.concatenate([pending_rows, *(c.reshape(1, -1) for c in chosen)], axis=0)
                acqf = self._acquisition(xp, derive_seed(self.seed, _SAMPLER, v, j))
                u = self._optimize(acqf, rows, derive_seed(self.seed, _OPTIM, v, j), fixed)
                if u is None:
                    # The optimum repeats a tried or pending point: a start point instead.
                    more = self._start_points(1, rows, fixed)
                    if not more:
                        break  # the pool is used up
                    u = more[0]
                    engines.append(self._start_engine())
                else:
                    engines.append(self.engine)
                chosen.append(u)
            if not chosen:
                return []
            X = torch.as_tensor(np.stack(chosen), dtype=torch.float64)
            with torch.no_grad():
                # Each point's own value given the data (not the joint value with the pending
                # points that chose it, which grows along the batch and compares nothing).
                own = self._acquisition(
                    np.empty((0, self.space.dim)), derive_seed(self.seed, _OWN, v)
                )(X.unsqueeze(-2))
                post = self._query_model().posterior(X)
                mean = post.mean.reshape(len(chosen), -1).numpy()
                sd = post.variance.clamp_min(0).sqrt().reshape(len(chosen), -1).numpy()
                feas = (
                    p_feasible(self._query_feasibility(), X).numpy().tolist()
                    if self._feasibility is not None
                    else [None] * len(chosen)
                )
        signs = self._signs()
        first = self.objective.name
        out: list[Suggestion] = []
        for i, (u, e, a) in enumerate(zip(chosen, engines, own.tolist(), strict=True)):
            preds = {
                name: (signs.get(name, 1.0) * float(mean[i, k]), float(sd[i, k]))
                for k, name in enumerate(self._outputs)
            }
            out.append(
                Suggestion(
                    params=self._params_of(u),
                    engine=e,
                    acquisition=float(a),
                    predicted_mean=preds[first][0],
                    predicted_sd=preds[first][1],
                    model_version=v,
                    predictions=preds,
                    feasibility=feas[i],
                )
            )
        return out

    def _effort(self) -> Effort:
        return Effort(self.raw_samples, self.num_restarts, self.maxiter, self.max_enumerate)

    def _optimize(
        self, acqf: Any, avoid: np.ndarray, seed: int, fixed: Mapping[int, float]
    ) -> np.ndarray | None:
        """One point: the best untried pool point in pool mode, else the optimum over the
        space (`planner.optimize.optimize_one`); None when every optimum repeats `avoid`."""
        if self._pool_rows is not None:
            free = self._free_pool(avoid, fixed)
            return best_of(acqf, self._pool_rows[free], seed, subset=False)
        return optimize_one(acqf, self.space, avoid, seed, fixed, self._effort())

    def _optimize_joint(
        self, n: int, pending: np.ndarray, avoid: np.ndarray, fixed: Mapping[int, float]
    ) -> list[np.ndarray] | None:
        """A batch of n ≥ 2 points optimised jointly (BoTorch's default for q > 1), in a
        continuous space only; None when that does not apply or its best batches repeat
        tried points or each other (then the greedy path runs)."""
        cont = [i for i in self.space.cont_dims if i not in fixed]
        if n < 2 or self._pool_rows is not None or self.space.cat_dims or not cont:
            return None
        v = self.model_version
        acqf = self._acquisition(pending, derive_seed(self.seed, _SAMPLER, v, 0))
        seed = derive_seed(self.seed, _OPTIM, v, 0)
        return optimize_batch(acqf, self.space, n, avoid, seed, fixed, self._effort())

    # --- state ---------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        options = {
            "n_initial": self.n_initial,
            "failed": self.failed,
            "pool": self.pool,
            "ref_point": self.ref_point,
            "num_restarts": self.num_restarts,
            "raw_samples": self.raw_samples,
            "mc_samples": self.mc_samples,
            "maxiter": self.maxiter,
            "fit_maxiter": self.fit_maxiter,
            "refit_fraction": self.refit_fraction,
            "max_enumerate": self.max_enumerate,
            "torch_threads": self.torch_threads,
        }
        counters = {
            "drawn": self._stream.drawn,
            "model_version": self.model_version,
            "fit_n": self._fit_n,
            "cold_n": dict(self._cold_n),
            "hyper_n": dict(self._hyper_n),
        }
        state = base_state(self, options, counters)
        state["hyperparameters"] = {k: dict(v) for k, v in self._hyper.items()}
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> BoTorchPlanner:
        """Rebuild from `to_state()`; the models are rebuilt lazily from the saved
        hyperparameters (no refit), so they are the models the saved planner had."""
        check_state(state, cls.engine)
        space, objectives, results = unpack(state)
        p = cls(space, objectives, seed=state["seed"], **state.get("options", {}))
        p.ingest(results)
        c = state["counters"]
        first = p.objective.name
        hyper = state.get("hyperparameters") or {}
        if hyper and not all(isinstance(h, dict) for h in hyper.values()):
            hyper = {first: hyper}  # written by the one-objective version
        p._stream = SobolStream(space, p.seed, drawn=int(c["drawn"]))
        p.model_version = int(c["model_version"])
        p._fit_n = int(c["fit_n"])
        p._cold_n = _per_outcome(c.get("cold_n", {}), first)
        p._hyper_n = _per_outcome(c.get("hyper_n", {}), first)
        p._hyper = {k: dict(v) for k, v in hyper.items()}
        return p


def _per_outcome(v: Any, first: str) -> dict[str, int]:
    if isinstance(v, Mapping):
        return {str(k): int(n) for k, n in v.items()}
    return {first: int(v)}
