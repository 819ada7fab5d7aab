"""Multi-fidelity Bayesian optimisation: a cheap computed estimate (a digital twin) screens
many candidates, the lab measures the few the model of the lab thinks best.

The two fidelities have different jobs, so the planner has two calls:

* `screen(n)` proposes points for the computed kernel: at first a scrambled Sobol set, later
  half Sobol (keep covering the space) and half around the points the model of the lab
  currently rates best (refine where measuring pays). Computed launches never hold an
  instrument and cost CPU seconds, so they go out in batches.
* `suggest(n)` proposes what the lab measures, always among the screened points not yet
  tried: a point the twin has never seen is a point the model knows least about.

The model of the lab (ADR 0011) is Kennedy and O'Hagan's autoregressive scheme with the
low fidelity known where it matters: ``measured(x) ≈ c + β·twin(x) + δ(x)``. The twin's
value is an input column next to the unit encoding, the GP's mean is ``c + β·twin`` (priors
c ~ N(0, 0.5²), β ~ N(1, 0.5²) in the twin's standardised units), and δ is the usual GP on
the encoding and the twin column (Matern and a categorical kernel, BoTorch's mixed GP), so
a family-dependent bias is learnt from the solvent and ratio columns after a few
measurements. With no measurement yet the model *is* the twin; before the first
measurement the lab is sent to the twin's best screened points, diverse in the categories.
The lab acquisition is qLogNEI on that model, weighted by the feasibility GP once a
synthesis has FAILED, as in the single-fidelity engine.

Cost: a computed evaluation is declared (CPU seconds) far below a measurement (hours of lab
time), so the cost-aware choice reduces to "screen a batch, then measure one": the campaign
sets how many computed evaluations go with each measurement (`screen_per_measurement`).

One objective, no outcome constraints (the twin estimates that objective); FAILED and
ABANDONED keep their meaning. Deterministic given the seed and the order of results.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from planner.acquisition import feasibility_weighted, p_feasible
from planner.base import Constraint, Objective, PlannerBase, Result, Suggestion, derive_seed
from planner.gp import FEASIBLE, dump_hyper, fit, load_hyper, new_model, torch_threads
from planner.optimize import best_of
from planner.sobol import SobolStream, draw_new, with_fixed
from planner.space import SearchSpace
from planner.state import base_state, check_state, unpack

_FIT, _SAMPLER, _LOCAL, _OWN = 11, 12, 13, 14
#: unit-space spread of the local screening points around the best-rated ones
_LOCAL_SD = 0.06
#: how many of the best-rated points the local screen is spread around
_LOCAL_CENTRES = 4
#: chance that a local screening point takes another category than its centre
_LOCAL_CATEGORY_SWAP = 0.15
#: smallest prior variance of each part of the discrepancy GP δ, in the twin's standardised
#: units: a few measurements that the twin's mean explains must not convince the model that
#: the twin is right everywhere (the outputscale would collapse and exploration with it)
DELTA_VAR_MIN = 0.25


class MultiFidelityPlanner(PlannerBase):
    """Twin-screened, measured-refined BO (see the module docstring)."""

    engine: ClassVar[str] = "multifidelity"

    def __init__(
        self,
        space: SearchSpace,
        objectives: Sequence[Objective | str],
        seed: int = 0,
        *,
        constraints: Sequence[Constraint | Mapping[str, Any] | str] | None = (),
        fixed_features: Mapping[str, Any] | None = None,
        mc_samples: int = 128,
        fit_maxiter: int = 200,
        torch_threads: int = 1,
    ) -> None:
        super().__init__(space, objectives, seed, constraints, fixed_features)
        if len(self.objectives) != 1 or self.constraints:
            raise ValueError(
                "the multifidelity engine optimises one objective without outcome "
                "constraints (the twin estimates that objective)"
            )
        for name, v in (
            ("mc_samples", mc_samples),
            ("fit_maxiter", fit_maxiter),
            ("torch_threads", torch_threads),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer ≥ 1, got {v!r}")
        self.mc_samples = mc_samples
        self.fit_maxiter = fit_maxiter
        self.torch_threads = torch_threads
        self._stream = SobolStream(space, derive_seed(self.seed, 21))
        self._screen_rows: list[np.ndarray] = []  # unit encodings of computed results
        self._screen_t: list[float] = []  # the twin's value there, signed (larger better)
        self._local_rounds = 0
        self._model: Any = None
        self._feasibility: Any = None
        self._model_key: tuple[int, int] | None = None
        self._hyper: dict[str, dict[str, Any]] = {}
        self.model_version = 0
        self.last_timing: dict[str, float] = {"fit_s": 0.0, "acquisition_s": 0.0}

    # --- ingest ----------------------------------------------------------------------------
    @property
    def _sign(self) -> float:
        return 1.0 if self.objective.maximize else -1.0

    def ingest(self, results: Sequence[Result]) -> None:
        before = len(self.computed)
        super().ingest(results)
        name = self.objective.name
        for r in self.computed[before:]:
            if r.status != "COMPLETED":
                continue  # a computed kernel that failed says nothing about the chemistry
            u = self.space.to_unit(r.params)
            hit = np.flatnonzero(self.space.matches(u, self._screen_array()))
            if len(hit):  # the same point again: the latest estimate counts
                self._screen_t[int(hit[0])] = self._sign * r.objectives[name]
                continue
            self._screen_rows.append(u)
            self._screen_t.append(self._sign * r.objectives[name])

    def _screen_array(self) -> np.ndarray:
        if not self._screen_rows:
            return np.empty((0, self.space.dim))
        return np.stack(self._screen_rows)

    def twin_at(self, u: np.ndarray) -> float | None:
        """The twin's (signed) value at a unit point, if it was screened."""
        hit = np.flatnonzero(self.space.matches(u, self._screen_array()))
        return self._screen_t[int(hit[0])] if len(hit) else None

    # --- screen ----------------------------------------------------------------------------
    def screen(
        self, n: int, pending: Sequence[Mapping[str, Any] | Suggestion] = ()
    ) -> list[Suggestion]:
        """`n` points for the computed kernel, none already screened or pending: tried
        points the twin has not seen first, then half Sobol and half local (once the lab
        has measured something or the twin has a screen to rank)."""
        n = self._check_n(n)
        avoid = np.concatenate([self._screen_array(), self._pending_rows(pending)], axis=0)
        out: list[np.ndarray] = []
        for u in self._tried_rows:  # a measured point must be screened to be modelled
            if len(out) < n and not self.space.matches(u, avoid).any():
                out.append(u.copy())
                avoid = np.concatenate([avoid, u.reshape(1, -1)], axis=0)
        n_local = (n - len(out)) // 2 if self._screen_rows else 0
        if n_local:
            local = self._local_points(n_local, avoid)
            out += local
            if local:
                avoid = np.concatenate([avoid, np.stack(local)], axis=0)
        fixed = self._fixed_unit(None)
        out += draw_new(
            with_fixed(self._stream.next, fixed), self.space, n - len(out), avoid, self.engine
        )
        return [
            Suggestion(params=self.space.from_unit(u), engine=f"{self.engine}-screen") for u in out
        ]

    def _local_points(self, n: int, avoid: np.ndarray) -> list[np.ndarray]:
        """Gaussian steps in the unit encoding around the best-rated screened points."""
        rows = self._screen_array()
        score = self._rating(rows)
        centres = rows[np.argsort(-score, kind="stable")[:_LOCAL_CENTRES]]
        rng = np.random.default_rng(derive_seed(self.seed, _LOCAL, self._local_rounds))
        self._local_rounds += 1
        fixed = self._fixed_unit(None)
        out: list[np.ndarray] = []
        for k in range(n * 4):
            if len(out) == n:
                break
            u = centres[k % len(centres)].copy()
            cont = list(self.space.cont_dims)
            u[cont] = np.clip(u[cont] + rng.normal(0.0, _LOCAL_SD, len(cont)), 0.0, 1.0)
            for i in self.space.cat_dims:
                if rng.random() < _LOCAL_CATEGORY_SWAP:
                    u[i] = float(rng.integers(0, len(self.space.params[i].choices)))  # type: ignore[union-attr]
            for i, v in fixed.items():
                u[i] = v
            rows_now = np.concatenate([avoid, *(o.reshape(1, -1) for o in out)], axis=0)
            if not self.space.matches(u, rows_now).any():
                out.append(u)
        return out

    def _rating(self, rows: np.ndarray) -> np.ndarray:
        """How good the model of the lab thinks each screened row is (its posterior mean),
        or the twin's own value before any measurement."""
        t = np.asarray(self._screen_t)
        if not self.model_ready():
            return t
        import torch

        with torch_threads(self.torch_threads):
            self._ensure_model()
            X = torch.as_tensor(self._augment(rows, t), dtype=torch.float64)
            with torch.no_grad():
                return self._model.posterior(X).mean.reshape(-1).numpy()

    # --- model -------------------------------------------------------------------------------
    def model_ready(self) -> bool:
        """One measurement of a screened point is enough: the twin is the prior mean."""
        return any(
            r.status == "COMPLETED" and self.twin_at(u) is not None for r, u in self._tried_pairs()
        )

    def _tried_pairs(self) -> list[tuple[Result, np.ndarray]]:
        tried = (r for r in self.results if r.status != "ABANDONED")
        return list(zip(tried, self._tried_rows, strict=True))

    def _scale(self) -> tuple[float, float]:
        """Mean and spread of the twin over the screen: the model's unit of uptake."""
        t = np.asarray(self._screen_t)
        sd = float(t.std()) if len(t) > 1 else 0.0
        return float(t.mean()), sd if sd > 0 else max(abs(float(t.mean())), 1.0)

    def _augment(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        mu, sd = self._scale()
        return np.concatenate([rows, ((t - mu) / sd).reshape(-1, 1)], axis=1)

    def _ensure_model(self) -> None:
        key = (len(self._tried_rows), len(self._screen_rows))
        if self._model is not None and self._model_key == key:
            return
        import torch

        restoring = self._model is None and self._model_key == key and bool(self._hyper)
        version = self.model_version if restoring else self.model_version + 1
        pairs = [(r, u, self.twin_at(u)) for r, u in self._tried_pairs()]
        pairs = [(r, u, t) for r, u, t in pairs if t is not None]
        mu, sd = self._scale()
        done = [(r, u, t) for r, u, t in pairs if r.status == "COMPLETED"]
        X = self._augment(np.stack([u for _, u, _ in done]), np.array([t for *_, t in done]))
        y = np.array([(self._sign * r.objectives[self.objective.name] - mu) / sd for r, *_ in done])
        sets = [(self.objective.name, X, y)]
        if any(r.status == "FAILED" for r, *_ in pairs):
            Xf = self._augment(np.stack([u for _, u, _ in pairs]), np.array([t for *_, t in pairs]))
            yf = np.array([1.0 if r.status == "COMPLETED" else 0.0 for r, *_ in pairs])
            sets.append((FEASIBLE, Xf, yf))
        models = []
        for k, (name, X_np, y_np) in enumerate(sets):
            Xt = torch.as_tensor(X_np, dtype=torch.float64)
            Yt = torch.as_tensor(y_np, dtype=torch.float64).unsqueeze(-1)
            model = self._new_model(Xt, Yt, name)
            if restoring and name in self._hyper:
                load_hyper(model, self._hyper[name])
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(derive_seed(self.seed, _FIT, version, k))
                    fit(model, self.fit_maxiter)
                self._hyper[name] = dump_hyper(model)
            model.eval()
            models.append(model)
        self._model = models[0]
        self._feasibility = models[1] if len(models) > 1 else None
        self._model_key = key
        self.model_version = version

    def _new_model(self, X: Any, Y: Any, name: str) -> Any:
        """BoTorch's GP on the encoding plus the twin column; the objective's mean is the
        twin (c + β·twin), its outcome left in the twin's standardised units."""
        if name == FEASIBLE:
            return new_model(X, Y, self.space.cat_dims, name)
        from botorch.models import MixedSingleTaskGP, SingleTaskGP

        if self.space.cat_dims:
            model = MixedSingleTaskGP(
                X, Y, cat_dims=list(self.space.cat_dims), outcome_transform=None
            )
        else:
            model = SingleTaskGP(X, Y, outcome_transform=None)
        model.mean_module = _twin_mean(self.space.dim)
        _floor_outputscales(model.covar_module, DELTA_VAR_MIN)
        return model

    # --- suggest -----------------------------------------------------------------------------
    def suggest(
        self,
        n: int,
        pending: Sequence[Mapping[str, Any] | Suggestion] = (),
        fixed: Mapping[str, Any] | None = None,
    ) -> list[Suggestion]:
        """What the lab measures next: the best of the free screened points by qLogNEI on
        the model of the lab (greedy over the batch, `pending` as X_pending), or before any
        measurement the twin's best, diverse in the categories. Nothing screened yet: Sobol."""
        n = self._check_n(n)
        self.last_timing = {"fit_s": 0.0, "acquisition_s": 0.0}
        if n == 0:
            return []
        avoid = self._avoid_rows(pending)
        fixed_unit = self._fixed_unit(fixed)
        free = self._free_screened(avoid, fixed_unit)
        if not free.any():
            stream = with_fixed(self._stream.next, fixed_unit)
            return [
                Suggestion(params=self.space.from_unit(u), engine="sobol")
                for u in draw_new(stream, self.space, n, avoid, self.engine)
            ]
        if not self.model_ready():
            return self._twin_best(n, free)
        with torch_threads(self.torch_threads):
            t0 = time.perf_counter()
            self._ensure_model()
            t1 = time.perf_counter()
            out = self._bo_batch(n, pending, free)
            self.last_timing = {"fit_s": t1 - t0, "acquisition_s": time.perf_counter() - t1}
        return out

    def _free_screened(self, avoid: np.ndarray, fixed: Mapping[int, float]) -> np.ndarray:
        rows = self._screen_array()
        free = np.array([not self.space.matches(u, avoid).any() for u in rows], dtype=bool)
        for i, v in fixed.items():
            if len(rows):
                free &= np.abs(rows[:, i] - v) <= (1e-9 if i in self.space.cont_dims else 0.5)
        return free

    def _twin_best(self, n: int, free: np.ndarray) -> list[Suggestion]:
        rows, t = self._screen_array(), np.asarray(self._screen_t)
        order = [i for i in np.argsort(-t, kind="stable") if free[i]]
        chosen: list[int] = []
        cats = list(self.space.cat_dims)
        for i in order:  # first pass: one point per category combination
            if len(chosen) == n:
                break
            if not any((rows[i, cats] == rows[j, cats]).all() for j in chosen):
                chosen.append(int(i))
        for i in order:
            if len(chosen) == n:
                break
            if i not in chosen:
                chosen.append(int(i))
        return [
            Suggestion(
                params=self.space.from_unit(rows[i]),
                engine="twin",
                predicted_mean=self._sign * float(t[i]),
                predictions={"twin": (self._sign * float(t[i]), 0.0)},
            )
            for i in chosen
        ]

    def _bo_batch(
        self, n: int, pending: Sequence[Mapping[str, Any] | Suggestion], free: np.ndarray
    ) -> list[Suggestion]:
        import torch
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.sampling.normal import SobolQMCNormalSampler

        rows, t = self._screen_array(), np.asarray(self._screen_t)
        cands = self._augment(rows, t)
        pairs = [(r, u, self.twin_at(u)) for r, u in self._tried_pairs()]
        base = [(u, tw) for r, u, tw in pairs if r.status == "COMPLETED" and tw is not None]
        X_base = torch.as_tensor(
            self._augment(np.stack([u for u, _ in base]), np.array([tw for _, tw in base])),
            dtype=torch.float64,
        )
        pend: list[np.ndarray] = []
        for p in self._pending_rows(pending):
            tw = self.twin_at(p)
            if tw is not None:
                pend.append(self._augment(p.reshape(1, -1), np.array([tw]))[0])
        v = self.model_version

        def acquisition(xp: list[np.ndarray], seed: int) -> Any:
            acqf = qLogNoisyExpectedImprovement(
                model=self._model,
                X_baseline=X_base,
                sampler=SobolQMCNormalSampler(
                    sample_shape=torch.Size([self.mc_samples]), seed=seed
                ),
                X_pending=torch.as_tensor(np.stack(xp), dtype=torch.float64) if xp else None,
                prune_baseline=True,
                cache_root=False,
            )
            if self._feasibility is not None:
                acqf = feasibility_weighted(acqf, self._feasibility)
            return acqf

        chosen: list[int] = []
        mask = free.copy()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, _SAMPLER, v, len(pend)))
            for j in range(n):
                if not mask.any():
                    break
                idx = np.flatnonzero(mask)
                acqf = acquisition(
                    pend + [cands[i] for i in chosen], derive_seed(self.seed, _SAMPLER, v, j)
                )
                best = best_of(acqf, cands[idx], derive_seed(self.seed, _SAMPLER, v, j, 1), False)
                assert best is not None
                i = int(idx[int(np.flatnonzero((cands[idx] == best).all(axis=1))[0])])
                chosen.append(i)
                mask[i] = False
            X = torch.as_tensor(cands[chosen], dtype=torch.float64)
            mu, sd = self._scale()
            with torch.no_grad():
                own = acquisition([], derive_seed(self.seed, _OWN, v))(X.unsqueeze(-2))
                post = self._model.posterior(X)
                mean = post.mean.reshape(-1).numpy() * sd + mu
                var = post.variance.clamp_min(0).sqrt().reshape(-1).numpy() * sd
                feas = (
                    p_feasible(self._feasibility, X).numpy().tolist()
                    if self._feasibility is not None
                    else [None] * len(chosen)
                )
        s = self._sign
        return [
            Suggestion(
                params=self.space.from_unit(rows[i]),
                engine=self.engine,
                acquisition=float(own[k]),
                predicted_mean=s * float(mean[k]),
                predicted_sd=float(var[k]),
                model_version=v,
                predictions={
                    self.objective.name: (s * float(mean[k]), float(var[k])),
                    "twin": (s * float(t[i]), 0.0),
                },
                feasibility=feas[k],
            )
            for k, i in enumerate(chosen)
        ]

    # --- state -------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        options = {
            "mc_samples": self.mc_samples,
            "fit_maxiter": self.fit_maxiter,
            "torch_threads": self.torch_threads,
        }
        counters = {
            "drawn": self._stream.drawn,
            "local_rounds": self._local_rounds,
            "model_version": self.model_version,
            "model_key": list(self._model_key) if self._model_key else None,
        }
        state = base_state(self, options, counters)
        state["hyperparameters"] = {k: dict(v) for k, v in self._hyper.items()}
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> MultiFidelityPlanner:
        """Rebuild from `to_state()`: the same screen, results and hyperparameters, so the
        next suggestion is the one the saved planner would have made."""
        check_state(state, cls.engine)
        space, objectives, results = unpack(state)
        options = {k: v for k, v in state.get("options", {}).items() if v or k != "constraints"}
        p = cls(space, objectives, seed=state["seed"], **options)
        p.ingest(results)
        c = state["counters"]
        p._stream = SobolStream(space, derive_seed(p.seed, 21), drawn=int(c["drawn"]))
        p._local_rounds = int(c.get("local_rounds", 0))
        p.model_version = int(c["model_version"])
        key = c.get("model_key")
        p._model_key = (int(key[0]), int(key[1])) if key else None
        p._hyper = {k: dict(v) for k, v in (state.get("hyperparameters") or {}).items()}
        return p


def _floor_outputscales(kernel: Any, floor: float) -> None:
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import ScaleKernel

    for k in kernel.modules():
        if isinstance(k, ScaleKernel):
            k.register_constraint("raw_outputscale", GreaterThan(floor))
            k.outputscale = max(float(k.outputscale.detach().max()), 2 * floor)


_TWIN_MEAN: Any = None


def _twin_mean(col: int) -> Any:
    """The GP's prior mean c + β·x[..., col] (the twin column, standardised)."""
    global _TWIN_MEAN
    if _TWIN_MEAN is None:
        import torch
        from gpytorch.means import Mean
        from gpytorch.priors import NormalPrior

        class TwinMean(Mean):
            def __init__(self, col: int) -> None:
                super().__init__()
                self.col = col
                self.register_parameter("constant", torch.nn.Parameter(torch.zeros(1)))
                self.register_parameter("beta", torch.nn.Parameter(torch.ones(1)))
                self.register_prior("constant_prior", NormalPrior(0.0, 0.5), "constant")
                self.register_prior("beta_prior", NormalPrior(1.0, 0.5), "beta")

            def forward(self, x: Any) -> Any:
                return self.constant + self.beta * x[..., self.col]

        _TWIN_MEAN = TwinMean
    import torch

    return _TWIN_MEAN(col).to(torch.float64)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Rank correlation (average ranks for ties): how well the twin orders what the lab
    measured. NaN with fewer than three pairs."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 3:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)
