"""The Gaussian-process models the BoTorch planner fits: one GP per outcome on the unit
encoding, fitted by marginal likelihood, with hyperparameters that round-trip through JSON
so a restored planner rebuilds the very model it had. torch and BoTorch load on first use."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: Name of the feasibility model's outcome (P(the synthesis does not fail)).
FEASIBLE = "feasible"
# A warm fit stops at this relative change of the MLL: it starts near an optimum, and a
# plateau stop there is harmless (scipy's default, 2e-9, spends ~100 steps crawling).
WARM_FTOL = 1e-6
# Label noise (variance, 0/1 units) of the feasibility GP: a failure can be bad luck.
FEASIBLE_LABEL_VAR = 0.02


def new_model(X: Any, Y: Any, cat_dims: Sequence[int], name: str = "") -> Any:
    """A GP for one outcome; the feasibility GP has a fixed small label noise so that it
    follows its 0/1 labels instead of explaining them away as noise around the mean."""
    import torch
    from botorch.models import MixedSingleTaskGP, SingleTaskGP

    kw: dict[str, Any] = {}
    if name == FEASIBLE:
        kw["train_Yvar"] = torch.full_like(Y, FEASIBLE_LABEL_VAR)
    if cat_dims:
        return MixedSingleTaskGP(X, Y, cat_dims=list(cat_dims), **kw)
    return SingleTaskGP(X, Y, **kw)


def fit(model: Any, maxiter: int, warm: bool = False) -> float:
    """Fit in place (at most `maxiter` L-BFGS steps); the MLL reached."""
    import gpytorch
    import torch
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    # Eager kernels: same numbers, ~15% less Python overhead per step at this size.
    with gpytorch.settings.lazily_evaluate_kernels(False):
        options: dict[str, Any] = {"maxiter": maxiter}
        if warm:
            options["ftol"] = WARM_FTOL
        fit_gpytorch_mll(mll, optimizer_kwargs={"options": options})
    mll.train()
    with torch.no_grad():
        value = float(mll(model(*model.train_inputs), model.train_targets))
    mll.eval()
    return value if math.isfinite(value) else -math.inf


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch with `n` intra-op threads, then restore the caller's setting.

    The matrices here are small (n ≲ a thousand), so extra threads buy little; on a
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


def dump_hyper(model: Any) -> dict[str, Any]:
    """The model's raw hyperparameters as JSON lists (floats round-trip exactly)."""
    return {name: p.detach().tolist() for name, p in model.named_parameters()}


def load_hyper(model: Any, hyper: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in hyper:
                p.copy_(torch.as_tensor(hyper[name], dtype=p.dtype).reshape(p.shape))
