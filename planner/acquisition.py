"""Pieces of the acquisition the BoTorch planner assembles: outcome constraints as
callables, a pruned baseline for noisy EI, and the weighting of a log acquisition by the
probability of feasibility (EI x P(feasible), in log space)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The smallest probability of feasibility the acquisition is weighted by (log 1e-3 ≈ -6.9).
P_MIN = 1e-3
# Above this many baseline rows, joint posterior samples are drawn only over the
# PRESCREEN_KEEP of highest posterior mean (see `prune_baseline`).
PRESCREEN_MIN = 128
PRESCREEN_KEEP = 64


def prune_baseline(
    model: Any,
    X: Any,
    objective: Any,
    constraints: list[Callable[[Any], Any]],
    sampler: Any,
    keep: int,
) -> Any:
    """The rows of X most often best (feasible and highest) under posterior samples, at most
    `keep` of them, in their original order.

    BoTorch's `prune_inferior_points` does this, but with `max_frac` < 1 (botorch 0.18.1) it
    keeps rows by their rank among the candidates instead of their index, so the baseline
    can lose the incumbent.

    With more than `PRESCREEN_MIN` rows, the joint draw is made over the `PRESCREEN_KEEP`
    rows of highest posterior mean (feasible first) only: a row ranked below those by mean
    is almost never the best of a joint draw, and a mean costs a kernel-vector product where a
    joint draw over all n rows costs an n x n Cholesky (~0.45 s at n = 1000).
    """
    import gpytorch
    import torch

    if len(X) > PRESCREEN_MIN:
        with torch.no_grad(), gpytorch.settings.skip_posterior_variances(True):
            mean = model.posterior(X).mean
        by_mean = _best_scores(mean.unsqueeze(0), X, objective, constraints)[0]
        X = X[torch.sort(by_mean.topk(PRESCREEN_KEEP).indices).values]  # original order
    obj = _best_scores(sampler(model.posterior(X)), X, objective, constraints)
    idcs, counts = torch.unique(obj.argmax(dim=-1), return_counts=True)
    order = torch.sort(counts, stable=True, descending=True).indices[:keep]
    return X[torch.sort(idcs[order]).values]


def _best_scores(
    samples: Any, X: Any, objective: Any, constraints: list[Callable[[Any], Any]]
) -> Any:
    """Per sample and row, a score whose argmax is the best row: the objective where
    feasible, below every feasible value where not; how close to feasible when nothing is."""
    from botorch.utils.objective import (
        compute_feasibility_indicator,
        compute_smoothed_feasibility_indicator,
    )

    obj = objective(samples, X) if objective is not None else samples.squeeze(-1)
    if constraints:
        feasible = compute_feasibility_indicator(constraints, samples)
        if feasible.any():
            obj = obj.masked_fill(~feasible, float(obj.min()) - 1.0)
        else:  # nothing feasible yet: rank by how close to feasible
            obj = compute_smoothed_feasibility_indicator(constraints, samples, 1e-3, log=True)
    return obj


def first_column(Z: Any, X: Any = None) -> Any:
    return Z[..., 0]


def bound(k: int, scale: float, offset: float) -> Callable[[Any], Any]:
    """A constraint callable `scale·Z[..., k] + offset` (feasible where ≤ 0)."""

    def constraint(Z: Any) -> Any:
        return scale * Z[..., k] + offset

    return constraint


def p_feasible(model: Any, X: Any) -> Any:
    """Probability of feasibility at each row of X (... x d → ...): the 0/1 GP's posterior
    mean, a kernel-weighted success rate, kept within [P_MIN, 1]. Only the mean: the
    predictive variances are not computed."""
    import gpytorch

    with gpytorch.settings.skip_posterior_variances(True):
        return model.posterior(X).mean.squeeze(-1).clamp(P_MIN, 1.0)


_WEIGHTED: Any = None


def feasibility_weighted(acqf: Any, feasibility: Any) -> Any:
    """`acqf` (a log acquisition) plus the log probability of feasibility of the q new points:
    EI × P(feasible), Gardner et al. 2014 / Gelbart et al. 2014, in log space."""
    global _WEIGHTED
    if _WEIGHTED is None:
        from botorch.acquisition.acquisition import AcquisitionFunction

        class FeasibilityWeighted(AcquisitionFunction):
            def __init__(self, base: Any, feasibility: Any) -> None:
                super().__init__(model=base.model)
                self.base = base
                self.feasibility = feasibility

            def forward(self, X: Any) -> Any:  # X: batch x q x d
                return self.base(X) + p_feasible(self.feasibility, X).log().sum(-1)

        _WEIGHTED = FeasibilityWeighted
    return _WEIGHTED(acqf, feasibility)
