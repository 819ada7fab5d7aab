"""A fitted single-output GP conditioned on its data once, answering posterior queries in
plain torch: what the acquisition optimiser asks for dozens of times per suggestion.

Why: at n ≈ 1000 results one L-BFGS-B evaluation of a batch acquisition is a posterior of
16 points and its gradient. The arithmetic is a 16 x n kernel block and one triangular solve
against the Cholesky factor of the training covariance (~3 ms); GPyTorch's general
prediction path (lazy tensors, caches, dispatch) doubled that. Here the factor and the
weights are computed once per model and each query is a handful of torch operations. The
numbers are GPyTorch's exact predictive mean and covariance (same kernel code, same
Cholesky), not an approximation; the tests compare the two.
"""

from __future__ import annotations

import copy
from typing import Any


def conditioned(model: Any) -> Any | None:
    """A `ConditionedGP` of a fitted `SingleTaskGP`-like model in eval mode, or None when the
    model is of a kind this does not cover (input transforms, several outputs, batched)."""
    from botorch.models.transforms.outcome import Standardize

    train_inputs = getattr(model, "train_inputs", None)
    if (
        train_inputs is None
        or getattr(model, "num_outputs", 0) != 1
        or getattr(model, "input_transform", None) is not None
        or len(getattr(model, "batch_shape", (1,))) != 0
    ):
        return None
    transform = getattr(model, "outcome_transform", None)
    if transform is not None and not isinstance(transform, Standardize):
        return None
    return _conditioned_class()(model)


_CLASS: Any = None


def _conditioned_class() -> Any:
    """The class, defined on first use so that importing the planner does not load torch."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import gpytorch
    import torch
    from botorch.models.model import Model
    from botorch.posteriors.gpytorch import GPyTorchPosterior
    from gpytorch.kernels import RBFKernel
    from linear_operator import to_linear_operator
    from linear_operator.utils.cholesky import psd_safe_cholesky

    class ConditionedGP(Model):
        """Exact GP posterior from precomputed pieces: the Cholesky factor L of
        K(X, X) + noise, the weights α = (K + noise)⁻¹ (y − m), and the outcome scaling.
        mean = m(x*) + k(x*, X) α;  cov = k(x*, x*) − (L⁻¹ k(X, x*))ᵀ (L⁻¹ k(X, x*))."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            # Frozen copies of the kernel and the prior mean: the optimiser's gradients are
            # with respect to the query points only, not (wastefully, into the model's .grad)
            # its hyperparameters.
            self._kernel_module = copy.deepcopy(model.covar_module).requires_grad_(False)
            self._mean_module = copy.deepcopy(model.mean_module).requires_grad_(False)
            # RBF without active dimensions (SingleTaskGP's default): its forward directly,
            # the same arithmetic without the lazy-evaluation wrapper.
            self._plain = isinstance(model.covar_module, RBFKernel) and (
                model.covar_module.active_dims is None
            )
            X = model.train_inputs[0].detach()
            y = model.train_targets.detach()
            with torch.no_grad():
                K = self._kernel(X, X)
                noise = model.likelihood.noise.detach().reshape(-1).expand(len(y))
                K = K + torch.diag_embed(noise)
                L = psd_safe_cholesky(K)
                r = (y - self._mean_module(X)).unsqueeze(-1)
                self._alpha = torch.cholesky_solve(r, L).squeeze(-1)
            self._X = X
            self._L = L
            # What BoTorch's optimisers read as the tried points (the mixed optimiser seeds
            # its starts from them).
            self.train_inputs = (X,)
            transform = getattr(model, "outcome_transform", None)
            if transform is None:
                self._shift = torch.zeros((), dtype=X.dtype)
                self._scale = torch.ones((), dtype=X.dtype)
            else:
                self._shift = transform.means.detach().reshape(())
                self._scale = transform.stdvs.detach().reshape(())

        def _kernel(self, a: Any, b: Any) -> Any:
            if self._plain:
                return self._kernel_module.forward(a, b)
            with gpytorch.settings.lazily_evaluate_kernels(False):
                return self._kernel_module(a, b).to_dense()

        @property
        def num_outputs(self) -> int:
            return 1

        @property
        def batch_shape(self) -> Any:
            return torch.Size()

        def posterior(
            self,
            X: Any,
            output_indices: Any = None,
            observation_noise: Any = False,
            posterior_transform: Any = None,
            **kwargs: Any,
        ) -> Any:
            if posterior_transform is not None or observation_noise is not False:
                raise NotImplementedError("ConditionedGP: plain posteriors only")
            skip = gpytorch.settings.skip_posterior_variances.on()
            mean, cov = self.mean_and_covariance(X, covariance=not skip)
            # The covariance as a linear operator, as GPyTorch gives it, so that sampling
            # factors it with jitter if rounding made it indefinite.
            mvn = gpytorch.distributions.MultivariateNormal(mean, to_linear_operator(cov))
            return GPyTorchPosterior(mvn)

        def mean_and_covariance(self, X: Any, covariance: bool = True) -> tuple[Any, Any]:
            """The posterior mean (... x q) and covariance (... x q x q) at X (... x q x d)
            in the outcome's units; a zero covariance when not asked for."""
            batch, q, n = X.shape[:-2], X.shape[-2], self._X.shape[0]
            k_star = self._kernel(X, self._X)  # ... x q x n
            prior = self._mean_module(X)
            mean = (prior + k_star @ self._alpha) * self._scale + self._shift
            if not covariance:
                return mean, torch.zeros(*batch, q, q, dtype=X.dtype)
            # One triangular solve for every query point of every batch: (n x (b·q)).
            v = torch.linalg.solve_triangular(self._L, k_star.reshape(-1, n).T, upper=False)
            v = v.T.reshape(*batch, q, n)
            cov = self._kernel(X, X) - v @ v.transpose(-1, -2)
            return mean, cov * self._scale**2

        def transform_inputs(self, X: Any, input_transform: Any = None) -> Any:
            return X

        def condition_on_observations(self, X: Any, Y: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("ConditionedGP does not fantasise")

    _CLASS = ConditionedGP
    return _CLASS
