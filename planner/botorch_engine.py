"""Bayesian optimisation with BoTorch: a GP on the unit encoding, log noisy expected
improvement, asynchronous batches through `X_pending`.

Phases. Until `n_initial` results are COMPLETED the planner walks the same Sobol stream as
`SobolPlanner` (centre first). After that each suggest brings the GP up to date
(`SingleTaskGP`, or `MixedSingleTaskGP` when there are categorical inputs) and picks the batch
greedily: point j maximises qLogNEI with the caller's pending points *and* points 0..j-1 of
the batch as `X_pending`. A suggestion's `acquisition` is its own log-NEI given the data.

Model updates. A cold fit of the mixed GP costs ~4 ms per L-BFGS step and hundreds of steps
(seconds), so: hyperparameters are re-optimised only when the training set has grown by
`refit_fraction` (at least one point) since the last optimisation; in between, the model is
rebuilt on the new data with the current hyperparameters (milliseconds). Re-optimisation is
warm-started from the current hyperparameters and capped at `fit_maxiter` steps; at the first
fit and whenever the data has doubled since the last cold fit, a cold fit from BoTorch's
defaults competes with the warm one and the higher marginal likelihood wins, so an early,
data-poor optimum cannot anchor a whole campaign. `model_version` counts models built (one
per new training set). The hyperparameters are part of the saved state, so a restored planner
rebuilds the very model it had, without fitting.

FAILED results (the chemistry failed). The first version has no feasibility model, so:
* ``failed="impute"`` (default): a failed point enters the GP with the worst objective value
  observed so far among COMPLETED results. For a synthesis that gives no crystalline product
  the measured objective would be about that bad, and it steers the search away from the region
  instead of leaving it looking unexplored.
* ``failed="exclude"``: the GP sees only COMPLETED results.
Either way a failed point is remembered and never suggested again. A later version replaces this
with a feasibility classifier.

Determinism. torch and BoTorch are imported lazily (so `import planner` stays cheap) and work
in float64 on `torch_threads` threads (default 1), inside `torch.random.fork_rng` seeded from
the planner seed, the model version and the batch position; the QMC sampler and the raw
samples of the optimiser get derived seeds too. The caller's global torch RNG is left as it
was. Nothing depends on wall-clock time (no optimiser timeouts). A planner is not re-entrant:
call it from one thread at a time (the campaign runs it off the RunEngine threads).

BoTorch's own warnings (an L-BFGS-B line search ending ABNORMAL, jitter added to a Cholesky)
are left to the caller's warning filters: suppressing them here would mean changing global
warning state from a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any, ClassVar, Literal

import numpy as np

from planner.base import Objective, PlannerBase, Suggestion, derive_seed
from planner.sobol import SobolStream, draw_new
from planner.space import SearchSpace
from planner.state import base_state, check_state, unpack

FailedPolicy = Literal["impute", "exclude"]

# Seed-derivation tags, one per use, so no two uses share a random stream.
_FIT, _SAMPLER, _OPTIM, _GLOBAL, _OWN = 1, 2, 3, 4, 5
# L-BFGS-B stops at a relative change of log-EI of ~2e-6: far below what separates candidates,
# and about a third of the evaluations of scipy's default (factr 1e7).
_ACQ_FACTR = 1e10  # ftol = factr · machine epsilon ≈ 2e-6
# A warm fit stops at this relative change of the MLL: it starts near an optimum, and a
# plateau stop there is harmless (scipy's default, 2e-9, spends ~100 steps crawling).
_WARM_FTOL = 1e-6
# A fit starts from default hyperparameters once the training set has grown by this factor.
_COLD_GROWTH = 2.0
# Above this many points, an all-categorical space is scored on a seeded random subset.
_MAX_DISCRETE_SCORED = 4096


class BoTorchPlanner(PlannerBase):
    """GP + qLogNoisyExpectedImprovement after a Sobol start (see module docstring)."""

    engine: ClassVar[str] = "botorch"

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective | str],
        seed: int = 0,
        n_initial: int | None = None,
        *,
        num_restarts: int = 4,
        raw_samples: int = 64,
        mc_samples: int = 128,
        maxiter: int = 100,
        fit_maxiter: int = 100,
        refit_fraction: float = 0.1,
        max_enumerate: int = 32,
        failed: FailedPolicy = "impute",
        torch_threads: int = 1,
    ) -> None:
        """`n_initial` defaults to max(5, 2·d). Category combinations are enumerated up to
        `max_enumerate` (see `_optimize`); beyond it BoTorch's alternating mixed optimiser is
        used. `maxiter` caps L-BFGS-B iterations per acquisition optimisation."""
        super().__init__(space, objectives, seed)
        if n_initial is None:
            n_initial = max(5, 2 * space.dim)
        for name, v, lo in (
            ("n_initial", n_initial, 2),
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
        if failed not in ("impute", "exclude"):
            raise ValueError(f"failed must be 'impute' or 'exclude', got {failed!r}")
        self.n_initial = n_initial
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.mc_samples = mc_samples
        self.maxiter = maxiter
        self.fit_maxiter = fit_maxiter
        self.refit_fraction = float(refit_fraction)
        self.max_enumerate = max_enumerate
        self.failed: FailedPolicy = failed
        self.torch_threads = torch_threads
        self._stream = SobolStream(space, self.seed)
        self._model: Any = None
        self.model_version = 0  # models built so far: one per new training set
        self._fit_n = 0  # len(self._tried_rows) when the current model was fitted
        self._cold_n = 0  # training-set size at the last cold (default-start) fit
        self._hyper_n = 0  # training-set size at the last hyperparameter fit
        self._hyper: dict[str, Any] | None = None  # the current model's raw hyperparameters

    # --- training data -------------------------------------------------------------------
    def _training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """X (unit encoding) and y (signed so that larger is better) for the GP."""
        name = self.objective.name
        sign = 1.0 if self.objective.maximize else -1.0
        tried = [r for r in self.results if r.status != "ABANDONED"]
        ys = [sign * r.objectives[name] for r in tried if r.status == "COMPLETED"]
        worst = min(ys)
        X, y = [], []
        for r, row in zip(tried, self._tried_rows, strict=True):
            if r.status == "COMPLETED":
                X.append(row)
                y.append(sign * r.objectives[name])
            elif self.failed == "impute":
                X.append(row)
                y.append(worst)
        return np.stack(X), np.array(y)

    def _ensure_model(self) -> None:
        """Bring the GP up to date with the results (see "Model updates" in the module doc)."""
        n_tried = len(self._tried_rows)
        if self._model is not None and self._fit_n == n_tried:
            return
        import torch

        X_np, y_np = self._training_data()
        n_train = len(X_np)
        X = torch.as_tensor(X_np, dtype=torch.float64)
        Y = torch.as_tensor(y_np, dtype=torch.float64).unsqueeze(-1)
        if self._hyper is not None and (self._fit_n == n_tried or not self._hyper_due(n_train)):
            # A restore (same data as the saved model) or new data under the current
            # hyperparameters: condition, don't optimise.
            model = self._new_model(X, Y)
            _load_hyper(model, self._hyper)
            if self._fit_n != n_tried:
                self.model_version += 1
        else:
            self.model_version += 1
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(self.seed, _FIT, self.model_version))
                model = self._fit_hyper(X, Y, n_train)
            self._hyper = _dump_hyper(model)
            self._hyper_n = n_train
        self._fit_n = n_tried
        model.eval()
        self._model = model
        self._train_X = X

    def _hyper_due(self, n_train: int) -> bool:
        """Whether the training set has grown enough to re-optimise the hyperparameters."""
        return n_train >= self._hyper_n + max(1, math.ceil(self.refit_fraction * self._hyper_n))

    def _fit_hyper(self, X: Any, Y: Any, n_train: int) -> Any:
        """Optimise hyperparameters: warm from the current ones; also cold from the defaults
        at the first fit and each time the data has doubled since the last cold fit, keeping
        whichever has the higher marginal likelihood."""
        from botorch.exceptions.errors import ModelFittingError

        candidates: list[tuple[float, Any]] = []
        if self._hyper is not None:
            warm = self._new_model(X, Y)
            _load_hyper(warm, self._hyper)
            with suppress(ModelFittingError):  # then the cold fit below decides
                candidates.append((self._fit(warm, warm=True), warm))
        if not candidates or n_train >= _COLD_GROWTH * self._cold_n:
            cold = self._new_model(X, Y)
            candidates.append((self._fit(cold), cold))
            self._cold_n = n_train
        # max() keeps the first of equals: the warm model, so nothing jumps needlessly.
        return max(candidates, key=lambda c: c[0])[1]

    def _fit(self, model: Any, warm: bool = False) -> float:
        """Fit in place (at most `fit_maxiter` L-BFGS steps); the MLL reached."""
        import gpytorch
        import torch
        from botorch.fit import fit_gpytorch_mll
        from gpytorch.mlls import ExactMarginalLogLikelihood

        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        # Eager kernels: same numbers, ~15% less Python overhead per step at this size.
        with gpytorch.settings.lazily_evaluate_kernels(False):
            options: dict[str, Any] = {"maxiter": self.fit_maxiter}
            if warm:
                options["ftol"] = _WARM_FTOL
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": options})
        mll.train()
        with torch.no_grad():
            value = float(mll(model(*model.train_inputs), model.train_targets))
        mll.eval()
        return value if math.isfinite(value) else -math.inf

    def _new_model(self, X: Any, Y: Any) -> Any:
        from botorch.models import MixedSingleTaskGP, SingleTaskGP

        if self.space.cat_dims:
            return MixedSingleTaskGP(X, Y, cat_dims=list(self.space.cat_dims))
        return SingleTaskGP(X, Y)

    # --- suggest -------------------------------------------------------------------------
    def suggest(
        self, n: int, pending: Sequence[Mapping[str, Any] | Suggestion] = ()
    ) -> list[Suggestion]:
        """Sobol points until `n_initial` COMPLETED results, then a greedy qLogNEI batch."""
        n = self._check_n(n)
        pending_rows = self._pending_rows(pending)
        avoid = self._avoid_rows(pending)
        if n == 0:
            return []
        if self.n_completed() < self.n_initial:
            return [
                Suggestion(
                    params=self.space.from_unit(u), engine="sobol", model_version=self.model_version
                )
                for u in self._sobol(n, avoid)
            ]
        with _torch_threads(self.torch_threads):
            self._ensure_model()
            return self._bo_batch(n, pending_rows, avoid)

    def _sobol(self, n: int, avoid: np.ndarray) -> list[np.ndarray]:
        return draw_new(self._stream.next, self.space, n, avoid, self.engine)

    def _bo_batch(self, n: int, pending_rows: np.ndarray, avoid: np.ndarray) -> list[Suggestion]:
        import torch
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.sampling.normal import SobolQMCNormalSampler

        v = self.model_version
        chosen: list[np.ndarray] = []
        engines: list[str] = []

        def acquisition(pending: np.ndarray, tag: int, j: int) -> Any:
            return qLogNoisyExpectedImprovement(
                model=self._model,
                X_baseline=self._train_X,
                sampler=SobolQMCNormalSampler(
                    sample_shape=torch.Size([self.mc_samples]),
                    seed=derive_seed(self.seed, tag, v, j),
                ),
                X_pending=torch.as_tensor(pending, dtype=torch.float64) if len(pending) else None,
                prune_baseline=True,
            )

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, _GLOBAL, v, len(pending_rows)))
            for j in range(n):
                rows = np.concatenate([avoid, *(c.reshape(1, -1) for c in chosen)], axis=0)
                xp = np.concatenate([pending_rows, *(c.reshape(1, -1) for c in chosen)], axis=0)
                u = self._optimize(
                    acquisition(xp, _SAMPLER, j), rows, derive_seed(self.seed, _OPTIM, v, j)
                )
                if u is None:
                    # The optimum repeats a tried or pending point: fall back to the stream.
                    u = self._sobol(1, rows)[0]
                    engines.append("sobol")
                else:
                    engines.append(self.engine)
                chosen.append(u)
            X = torch.as_tensor(np.stack(chosen), dtype=torch.float64)
            with torch.no_grad():
                # Each point's own log-NEI given the data (not the joint value with the pending
                # points that chose it, which grows along the batch and compares nothing).
                own = acquisition(np.empty((0, self.space.dim)), _OWN, 0)(X.unsqueeze(-2))
                post = self._model.posterior(X)
                mean = post.mean.squeeze(-1).numpy()
                sd = post.variance.clamp_min(0).sqrt().squeeze(-1).numpy()
        sign = 1.0 if self.objective.maximize else -1.0
        return [
            Suggestion(
                params=self.space.from_unit(u),
                engine=e,
                acquisition=float(a),
                predicted_mean=float(sign * m),
                predicted_sd=float(s),
                model_version=v,
            )
            for u, e, a, m, s in zip(chosen, engines, own.tolist(), mean, sd, strict=True)
        ]

    def _optimize(self, acqf: Any, avoid: np.ndarray, seed: int) -> np.ndarray | None:
        """Maximise `acqf` for one point: its unit vector, or None when every local optimum
        found repeats a point in `avoid`.

        Fixed-feature enumeration with shared raw samples: the same `raw_samples` Sobol points
        of the continuous inputs are scored under every category combination in one batched
        call; the restarts are the best `num_restarts` overall plus the best of each
        combination (so no category is dropped unseen), and they run as one batched L-BFGS-B
        with each restart's categories held fixed: one optimisation per point instead of one
        per combination (5x fewer for five solvents).
        """
        import torch
        from botorch.generation.gen import gen_candidates_scipy

        space = self.space
        if not space.cont_dims:
            return self._best_discrete(acqf, avoid, seed)
        if space.n_category_combinations() > self.max_enumerate:
            return self._optimize_alternating(acqf, avoid, seed)
        cont, cats = list(space.cont_dims), list(space.cat_dims)
        combos = torch.tensor(
            [[c[i] for i in cats] for c in space.category_combinations()], dtype=torch.float64
        )
        m, r, d = combos.shape[0], self.raw_samples, space.dim
        raw = torch.quasirandom.SobolEngine(len(cont), scramble=True, seed=seed).draw(
            r, dtype=torch.float64
        )
        X = torch.empty(m * r, d, dtype=torch.float64)
        X[:, cont] = raw.repeat(m, 1)
        if cats:
            X[:, cats] = combos.repeat_interleave(r, dim=0)
        with torch.no_grad():
            vals = torch.cat([acqf(chunk.unsqueeze(-2)) for chunk in X.split(1024)])
        top = vals.topk(min(self.num_restarts, m * r)).indices
        per_combo = vals.view(m, r).argmax(dim=1) + torch.arange(m) * r
        starts = torch.unique(torch.cat([top, per_combo]))  # sorted: deterministic order
        ic = X[starts].unsqueeze(-2)
        bounds = torch.as_tensor(space.unit_bounds(), dtype=torch.float64)
        fixed = {i: ic[:, 0, i].clone() for i in cats} or None
        cand, acq = gen_candidates_scipy(
            ic,
            acqf,
            lower_bounds=bounds[0],
            upper_bounds=bounds[1],
            options={"maxiter": self.maxiter, "factr": _ACQ_FACTR},
            fixed_features=fixed,
        )
        for k in torch.argsort(acq, descending=True, stable=True).tolist():
            u = space.snap_codes(cand[k].detach().reshape(-1).numpy())
            if not space.matches(u, avoid).any():
                return u
        return None

    def _optimize_alternating(self, acqf: Any, avoid: np.ndarray, seed: int) -> np.ndarray | None:
        """Too many category combinations to enumerate: BoTorch's alternating optimiser
        (continuous L-BFGS-B steps and one-category-at-a-time local search)."""
        import torch
        from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating

        space = self.space
        bounds = torch.as_tensor(space.unit_bounds(), dtype=torch.float64)
        cat = {
            i: list(range(len(space.params[i].choices)))  # type: ignore[union-attr]
            for i in space.cat_dims
        }
        torch.manual_seed(seed)  # it draws from the global RNG (forked by the caller)
        cand, _ = optimize_acqf_mixed_alternating(
            acqf,
            bounds,
            cat_dims=cat,
            q=1,
            num_restarts=self.num_restarts,
            raw_samples=self.raw_samples,
            options={"maxiter_continuous": self.maxiter},
        )
        u = space.snap_codes(cand.detach().reshape(-1).numpy())
        return None if space.matches(u, avoid).any() else u

    def _best_discrete(self, acqf: Any, avoid: np.ndarray, seed: int) -> np.ndarray | None:
        """All inputs categorical: score every untried combination (or a seeded subset)."""
        import torch

        combos = np.array(
            [[c[i] for i in self.space.cat_dims] for c in self.space.category_combinations()]
        )
        free = np.array([not self.space.matches(u, avoid).any() for u in combos], dtype=bool)
        combos = combos[free]
        if len(combos) == 0:
            return None
        if len(combos) > _MAX_DISCRETE_SCORED:
            pick = np.random.default_rng(seed).choice(len(combos), _MAX_DISCRETE_SCORED, False)
            combos = combos[np.sort(pick)]
        with torch.no_grad():
            vals = acqf(torch.as_tensor(combos, dtype=torch.float64).unsqueeze(-2))
        return combos[int(torch.argmax(vals))].astype(float)

    # --- state ---------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        options = {
            "n_initial": self.n_initial,
            "num_restarts": self.num_restarts,
            "raw_samples": self.raw_samples,
            "mc_samples": self.mc_samples,
            "maxiter": self.maxiter,
            "fit_maxiter": self.fit_maxiter,
            "refit_fraction": self.refit_fraction,
            "max_enumerate": self.max_enumerate,
            "failed": self.failed,
            "torch_threads": self.torch_threads,
        }
        counters = {
            "drawn": self._stream.drawn,
            "model_version": self.model_version,
            "fit_n": self._fit_n,
            "cold_n": self._cold_n,
            "hyper_n": self._hyper_n,
        }
        state = base_state(self, options, counters)
        state["hyperparameters"] = self._hyper
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> BoTorchPlanner:
        """Rebuild from `to_state()`; the GP is rebuilt lazily from the saved hyperparameters
        (no refit), so it is the model the saved planner had."""
        check_state(state, cls.engine)
        space, objectives, results = unpack(state)
        p = cls(space, objectives, seed=state["seed"], **state.get("options", {}))
        p.ingest(results)
        c = state["counters"]
        p._stream = SobolStream(space, p.seed, drawn=int(c["drawn"]))
        p.model_version = int(c["model_version"])
        p._fit_n = int(c["fit_n"])
        p._cold_n = int(c["cold_n"])
        p._hyper_n = int(c["hyper_n"])
        p._hyper = state.get("hyperparameters")
        return p


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run torch with `n` intra-op threads, then restore the caller's setting.

    The matrices here are tiny (n ≲ a few hundred), so extra threads buy nothing; on a
    shared 2-core machine two OpenMP threads made identical fits 4-9x slower now and then.
    A fixed thread count also keeps floating-point reductions, and so suggestions, the same
    on machines with different core counts.
    """
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if before != n:
            torch.set_num_threads(before)


def _dump_hyper(model: Any) -> dict[str, Any]:
    """The model's raw hyperparameters as JSON lists (floats round-trip exactly)."""
    return {name: p.detach().tolist() for name, p in model.named_parameters()}


def _load_hyper(model: Any, hyper: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in hyper:
                p.copy_(torch.as_tensor(hyper[name], dtype=p.dtype).reshape(p.shape))
