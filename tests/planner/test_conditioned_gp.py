"""The conditioned GP the acquisition optimiser queries gives GPyTorch's exact posterior:
the same means, covariances, gradients and acquisition values, for each kind of GP the
planner builds (plain, fixed-noise feasibility, mixed categorical), and None for kinds it
does not cover."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.filterwarnings("ignore:Optimization failed"),
    pytest.mark.filterwarnings("ignore:A not p.d."),
    pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated"),
]


def fitted(kind: str, n: int = 40, d: int = 3) -> Any:
    """A GP of the planner's own making (`planner.gp`), fitted on a seeded made-up response."""
    from planner.gp import FEASIBLE, fit, new_model

    g = torch.Generator().manual_seed(7)
    X = torch.rand(n, d, generator=g, dtype=torch.float64)
    cat_dims: list[int] = []
    name = "y"
    if kind == "mixed":
        X[:, -1] = torch.randint(0, 4, (n,), generator=g).to(torch.float64)
        cat_dims = [d - 1]
    y = torch.sin(6 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * torch.randn(n, generator=g)
    if kind == "feasibility":
        y = (X[:, 0] < 0.6).to(torch.float64)
        name = FEASIBLE
    model = new_model(X, y.unsqueeze(-1), cat_dims, name)
    fit(model, 50)
    return model.eval()


def queries(kind: str, shape: tuple[int, ...], d: int = 3) -> Any:
    g = torch.Generator().manual_seed(11)
    X = torch.rand(*shape, d, generator=g, dtype=torch.float64)
    if kind == "mixed":
        X[..., -1] = torch.randint(0, 4, shape, generator=g).to(torch.float64)
    return X


@pytest.mark.parametrize("kind", ["plain", "feasibility", "mixed"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_posterior_is_gpytorchs_exact_posterior(kind: str, shape: tuple[int, ...]) -> None:
    from planner.conditioned_gp import conditioned

    model = fitted(kind)
    fast = conditioned(model)
    assert fast is not None
    X = queries(kind, shape)
    with torch.no_grad():
        want, got = model.posterior(X), fast.posterior(X)
    assert got.mean.shape == want.mean.shape
    torch.testing.assert_close(got.mean, want.mean, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(
        got.distribution.covariance_matrix,
        want.distribution.covariance_matrix,
        rtol=1e-7,
        atol=1e-10,
    )


@pytest.mark.parametrize("kind", ["plain", "mixed"])
def test_gradients_and_acquisition_values_match(kind: str) -> None:
    """What L-BFGS-B sees: log EI and its gradient, from both models."""
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.sampling.normal import SobolQMCNormalSampler

    from planner.conditioned_gp import conditioned

    model = fitted(kind)
    fast = conditioned(model)
    best = float(model.train_targets.max())
    values, grads = [], []
    for m in (model, fast):
        X = queries(kind, (3, 2)).requires_grad_(True)
        acqf = qLogExpectedImprovement(
            m, best_f=best, sampler=SobolQMCNormalSampler(torch.Size([64]), seed=3)
        )
        v = acqf(X)
        v.sum().backward()
        values.append(v.detach())
        grads.append(X.grad)
    torch.testing.assert_close(values[1], values[0], rtol=1e-7, atol=1e-9)
    cont = slice(0, 2) if kind == "mixed" else slice(None)
    torch.testing.assert_close(grads[1][..., cont], grads[0][..., cont], rtol=1e-6, atol=1e-8)


def test_mean_only_when_variances_are_skipped() -> None:
    import gpytorch

    from planner.conditioned_gp import conditioned

    model = fitted("plain")
    fast = conditioned(model)
    X = queries("plain", (6,))
    with torch.no_grad(), gpytorch.settings.skip_posterior_variances(True):
        got = fast.posterior(X)
    with torch.no_grad():
        want = model.posterior(X)
    torch.testing.assert_close(got.mean, want.mean, rtol=1e-9, atol=1e-10)
    assert not got.distribution.covariance_matrix.any()  # GPyTorch's skip gives zeros too


def test_kinds_it_does_not_cover_are_left_to_gpytorch() -> None:
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.models.transforms.input import Normalize

    from planner.conditioned_gp import conditioned

    a, b = fitted("plain"), fitted("feasibility")
    assert conditioned(ModelListGP(a, b)) is None
    X, y = a.train_inputs[0], a.train_targets.unsqueeze(-1)
    assert conditioned(SingleTaskGP(X, y, input_transform=Normalize(X.shape[-1]))) is None
    two = SingleTaskGP(X, torch.cat([y, 2 * y], dim=-1))
    assert conditioned(two) is None


@pytest.mark.parametrize("pending", [0, 2])
@pytest.mark.parametrize("shape", [(4, 1), (3, 4)])
def test_the_fused_log_ei_is_botorchs_q_log_ei(pending: int, shape: tuple[int, int]) -> None:
    """The acquisition the optimiser evaluates on a conditioned GP: BoTorch's qLogEI (same
    base samples, same smoothing) in value and gradient, with and without pending points."""
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.sampling.normal import SobolQMCNormalSampler

    from planner.conditioned_gp import conditioned
    from planner.log_ei import conditioned_log_ei

    model = fitted("plain")
    fast = conditioned(model)
    best = float(model.train_targets.max())  # a high incumbent: log EI far below 0
    X_pending = queries("plain", (pending,)) if pending else None
    reference = qLogExpectedImprovement(
        fast,
        # as a float64 tensor: a Python float becomes a float32 tensor there
        best_f=torch.tensor(best, dtype=torch.float64),
        sampler=SobolQMCNormalSampler(torch.Size([128]), seed=5),
        X_pending=X_pending,
    )
    fused = conditioned_log_ei(fast, best, 128, 5, X_pending)
    values, grads = [], []
    for acqf in (reference, fused):
        X = queries("plain", shape).requires_grad_(True)
        v = acqf(X)
        v.sum().backward()
        values.append(v.detach())
        grads.append(X.grad)
    assert values[0].shape == (shape[0],)
    torch.testing.assert_close(values[1], values[0], rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-8)
