"""Batch log expected improvement over a fixed incumbent, evaluated directly on a
`ConditionedGP`: the quantity BoTorch's `qLogExpectedImprovement` computes, without its
sampler and linear-operator layers around the few tensor operations it needs.

Why: the acquisition optimiser evaluates this dozens of times per suggestion, and at
n ≈ 1000 results those layers cost more than the posterior itself (ADR 0018). The steps and
their constants are BoTorch's: the same scrambled-Sobol normal base samples
(`draw_sobol_normal_samples` with the sampler's seed), the joint samples from the Cholesky
factor of the q x q posterior covariance (with jitter when rounding made it indefinite),
the log of a fat-tailed soft ReLU of the improvement (`log_fatplus`, τ = TAU_RELU), a
fat-tailed soft maximum over the batch (`fatmax`, τ = TAU_MAX), the log of the mean over
samples (`logmeanexp`). `tests/planner/test_conditioned_gp.py` compares values and gradients
with `qLogExpectedImprovement` on the same model.
"""

from __future__ import annotations

from typing import Any

_CLASS: Any = None


def conditioned_log_ei(
    model: Any, best_f: float, mc_samples: int, seed: int, X_pending: Any = None
) -> Any:
    """qLogEI over `best_f` on a ConditionedGP, with `X_pending` (m x d) joining every batch."""
    return _log_ei_class()(model, best_f, mc_samples, seed, X_pending)


def _log_ei_class() -> Any:
    """The class, defined on first use so that importing the planner does not load torch."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import torch
    from botorch.acquisition.acquisition import AcquisitionFunction
    from botorch.acquisition.logei import TAU_MAX, TAU_RELU
    from botorch.utils.safe_math import fatmax, log_fatplus, logmeanexp
    from botorch.utils.sampling import draw_sobol_normal_samples
    from linear_operator.utils.cholesky import psd_safe_cholesky

    class ConditionedLogEI(AcquisitionFunction):
        def __init__(
            self, model: Any, best_f: float, mc_samples: int, seed: int, X_pending: Any
        ) -> None:
            super().__init__(model=model)
            self.best_f = torch.as_tensor(best_f, dtype=torch.float64)
            self.mc_samples = mc_samples
            self.seed = seed
            self.X_pending = X_pending
            self._base: dict[int, Any] = {}  # per joint batch size: (q x samples) normals

        def _base_samples(self, q: int) -> Any:
            if q not in self._base:
                z = draw_sobol_normal_samples(
                    d=q, n=self.mc_samples, dtype=torch.float64, seed=self.seed
                )
                self._base[q] = z.T.contiguous()
            return self._base[q]

        def forward(self, X: Any) -> Any:  # X: batch x q x d → batch
            if self.X_pending is not None:
                pending = self.X_pending.expand(*X.shape[:-2], *self.X_pending.shape)
                X = torch.cat([X, pending], dim=-2)
            mean, cov = self.model.mean_and_covariance(X)
            root = psd_safe_cholesky(cov)
            samples = root @ self._base_samples(X.shape[-2]) + mean.unsqueeze(-1)
            samples = samples.movedim(-1, 0)  # samples x batch x q
            log_improvement = log_fatplus(samples - self.best_f, tau=TAU_RELU)
            return logmeanexp(fatmax(log_improvement, dim=-1, tau=TAU_MAX), dim=0)

    _CLASS = ConditionedLogEI
    return _CLASS
