"""SDE.linear: dx = (a x + b) dt + (c x + d) dW and the solver's one-kernel-per-step path.

Asserted: the fast path gives the generic path's numbers on the same increments; the laws of the
Euler recursions in closed form (GBM mean, OU mean and variance of the AR(1) chain); gradients
(which take the generic path); bad coefficients. All float64.
"""

from __future__ import annotations

import math

import pytest
import torch

from kexue.stochastic import SDE, BrownianIncrements, solve

F64 = torch.float64


def _generic(a, b, c, d, noise):
    """The same SDE written as ordinary callables (no linear fast path)."""
    a, b, c, d = (torch.as_tensor(v, dtype=F64) for v in (a, b, c, d))
    return SDE(lambda t, x: x * a + b, lambda t, x: torch.broadcast_to(x * c + d, x.shape),
               noise=noise, diffusion_dx=lambda t, x: torch.broadcast_to(c, x.shape).clone())


CASES = {
    "gbm": (dict(a=0.05, c=0.2), (1, 1.0), "diagonal"),
    "ou-vector": (dict(a=torch.tensor([-1.0, -3.0], dtype=F64), b=torch.tensor([0.5, -0.2],
                                                                                dtype=F64),
                       d=0.3), (2, 0.1), "additive"),
    "affine-both": (dict(a=-0.7, b=0.4, c=torch.tensor([0.3, 0.1, 0.5], dtype=F64), d=0.2),
                    (3, 1.0), "diagonal"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("method", ["euler", "milstein"])
def test_fast_path_equals_generic_callables(case, method):
    kw, (dim, x_init), noise = CASES[case]
    lin = SDE.linear(**kw)
    assert lin.noise == noise and lin.linear_coefficients is not None
    ref = _generic(kw.get("a", 0.0), kw.get("b", 0.0), kw.get("c", 0.0), kw.get("d", 0.0), noise)
    x0 = torch.full((400, dim), x_init, dtype=F64)
    ts = torch.tensor([0.0, 0.25, 0.6, 1.0], dtype=F64)
    fast = solve(lin, x0, ts, method=method, dt=0.01, generator=7)
    slow = solve(ref, x0, ts, method=method, dt=0.01, generator=7)
    assert fast.shape == (4, 400, dim)
    torch.testing.assert_close(fast, slow, rtol=1e-12, atol=1e-12)
    # caller-provided increments on a finer grid: the same restriction on both paths
    bm = BrownianIncrements.sample(torch.linspace(0, 1, 201, dtype=F64), 400, dim,
                                   generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(solve(lin, x0, ts, method=method, dt=0.01, brownian=bm),
                               solve(ref, x0, ts, method=method, dt=0.01, brownian=bm),
                               rtol=1e-12, atol=1e-12)


def test_gbm_euler_mean_matches_the_recursion_in_closed_form():
    # E[X_N] = x0 (1 + μh)^N exactly for Euler's recursion X_{k+1} = X_k (1 + μh + σΔW_k).
    mu, sigma, n, paths = 0.3, 0.4, 50, 200_000
    h = 1.0 / n
    x = solve(SDE.linear(a=mu, c=sigma), torch.ones(paths, 1, dtype=F64), [0.0, 1.0],
              dt=h, generator=11)[-1, :, 0]
    expected = (1 + mu * h) ** n
    se = float(x.std()) / math.sqrt(paths)
    assert abs(float(x.mean()) - expected) < 4 * se


def test_ou_euler_mean_and_variance_of_the_ar1_chain():
    # X_{k+1} = ρ X_k + θμh + σΔW_k, ρ = 1 − θh: mean θμh Σ ρ^j + ρ^N x0, var σ²h Σ ρ^{2j}.
    theta, mean_level, sigma, n, paths, x_start = 2.0, 0.5, 0.7, 40, 200_000, -1.0
    h = 1.0 / n
    rho = 1 - theta * h
    x = solve(SDE.linear(a=-theta, b=theta * mean_level, d=sigma),
              torch.full((paths, 1), x_start, dtype=F64), [0.0, 1.0], dt=h,
              generator=5)[-1, :, 0]
    m = rho ** n * x_start + theta * mean_level * h * sum(rho ** j for j in range(n))
    v = sigma ** 2 * h * sum(rho ** (2 * j) for j in range(n))
    assert abs(float(x.mean()) - m) < 4 * math.sqrt(v / paths)
    # sample variance: SE of s² for a normal sample is v √(2 / (paths − 1))
    assert abs(float(x.var()) - v) < 4 * v * math.sqrt(2 / (paths - 1))


def test_gradients_take_the_generic_path():
    # Euler on GBM: X_N = x0 Π(1 + μh + σΔW_k), so ∂X_N/∂x0 = X_N / x0.
    x0 = torch.full((64, 1), 2.0, dtype=F64, requires_grad=True)
    xs = solve(SDE.linear(a=0.1, c=0.3), x0, [0.0, 1.0], dt=0.05, generator=1)
    (grad,) = torch.autograd.grad(xs[-1].sum(), x0)
    torch.testing.assert_close(grad, (xs[-1] / x0).detach(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("bad,err,match", [
    (dict(a="1"), TypeError, "a must be a real number"),
    (dict(c=True), TypeError, "c must be a real number"),
    (dict(b=torch.ones(2, 2)), ValueError, r"b must be finite with shape \(\) or \(d,\)"),
    (dict(d=float("nan")), ValueError, "non-finite"),
])
def test_bad_coefficients(bad, err, match):
    with pytest.raises(err, match=match):
        SDE.linear(**bad)
