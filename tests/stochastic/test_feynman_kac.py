"""Feynman–Kac Monte Carlo against closed forms (V11, V12, V14) within 4 standard errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kexue.stochastic import closed_forms as cf
from kexue.stochastic._feynman_kac import FeynmanKacResult, feynman_kac

ALPHA, OMEGA, T = 0.7, 1.1, 0.9


def _harmonic(t, x):
    return -(OMEGA**2) * x**2 / 2


def _within(res, exact, k=4.0):
    return np.all(np.abs(np.asarray(res.mean) - exact) < k * np.asarray(res.stderr))


def test_harmonic_potential_v11_both_forms():
    g = torch.Generator().manual_seed(0)
    x = np.array([0.0, 0.5, 1.2])
    res = feynman_kac(_harmonic, 1.0, x, T, alpha=ALPHA, n_paths=40_000, n_steps=50, generator=g)
    assert isinstance(res, FeynmanKacResult) and res.mean.shape == (3,)
    exact = cf.feynman_kac_harmonic(x, T, OMEGA, ALPHA)  # 0.696379 at x = 0.5
    assert _within(res, exact), (res.mean, res.stderr, exact)
    assert bool((res.stderr < 2e-3).all())  # mean, stderr: float64 tensors (NumPy before)
    res = feynman_kac(_harmonic, lambda y: torch.exp(-0.5 * y**2), 0.6, T, alpha=ALPHA,
                      n_paths=40_000, n_steps=50, generator=g)
    assert res.mean.shape == ()
    assert _within(res, cf.feynman_kac_harmonic_gaussian(0.6, T, OMEGA, ALPHA, 0.5))  # 0.508754


def test_linear_potential_v12():
    c = 0.8
    res = feynman_kac(lambda t, x: -ALPHA * c * x, 1.0, 0.0, T, alpha=ALPHA,
                      n_paths=100_000, n_steps=25, generator=torch.Generator().manual_seed(1))
    assert _within(res, cf.feynman_kac_linear(0.0, T, c, ALPHA))  # 1.05594
    lo, hi = res.ci(0.999)
    assert lo < 1.0559407 < hi


def test_black_scholes_terminal_value_problem():
    """Price = E[exp((1/α)∫V) f(X_T)] in log-price: α = σ², drift r − σ²/2, V = −rσ²,
    f = (e^x − K)^+."""
    r, sig, K = 0.05, 0.2, 100.0
    for n_steps in (1, 10):  # Euler is exact for the constant-coefficient log-price SDE
        res = feynman_kac(-r * sig**2, lambda x: torch.clamp(torch.exp(x) - K, min=0.0),
                          math.log(100.0), 1.0, alpha=sig**2, drift=r - sig**2 / 2,
                          n_paths=100_000, n_steps=n_steps,
                          generator=torch.Generator().manual_seed(2 + n_steps))
        assert _within(res, 10.450584), (res.mean, res.stderr)
        assert res.stderr < 0.06


def test_drift_against_exact_euler_moments():
    """OU drift: E[X_N²] of the Euler scheme is known exactly; MC agrees within 4 SE."""
    theta, x0, n, T_ = 1.3, 1.0, 20, 0.9
    dt = T_ / n
    a = 1 - theta * dt
    m = x0 * a**n
    v = ALPHA * dt * (1 - a ** (2 * n)) / (1 - a**2)
    res = feynman_kac(None, lambda y: y**2, x0, T_, alpha=ALPHA, drift=lambda t, y: -theta * y,
                      n_paths=40_000, n_steps=n, generator=torch.Generator().manual_seed(4))
    assert _within(res, m * m + v)


def test_time_dependent_potential_and_t0():
    # V(t) = cos t (constant in x): the weight is exp((sin(t0+T) − sin t0)/α) exactly (trapezoid
    # error aside), the antithetic pairs make the estimator deterministic
    res = feynman_kac(lambda t, x: torch.cos(t) + 0 * x, 1.0, 0.0, T, alpha=ALPHA, n_paths=8,
                      n_steps=2000, generator=torch.Generator().manual_seed(0), t0=0.3)
    assert float(res.mean) == pytest.approx(math.exp((math.sin(1.2) - math.sin(0.3)) / ALPHA),
                                            rel=1e-7)


def test_reproducible_and_antithetic_reduces_variance():
    kw = dict(alpha=ALPHA, n_paths=20_000, n_steps=20)
    f = lambda y: y  # noqa: E731 - odd f: antithetic pairs cancel the noise exactly
    a = feynman_kac(None, f, 0.3, T, generator=torch.Generator().manual_seed(9), **kw)
    b = feynman_kac(None, f, 0.3, T, generator=torch.Generator().manual_seed(9), **kw)
    assert np.array_equal(a.mean, b.mean)
    plain = feynman_kac(None, f, 0.3, T, generator=9, antithetic=False, **kw)
    assert float(a.stderr) < 1e-12 < float(plain.stderr)
    assert a.n_samples == 10_000 and plain.n_samples == 20_000


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=0.0), "^alpha must be"),
    (dict(T=-1.0), "^T must be"),
    (dict(n_paths=11), "^n_paths must be even"),
    (dict(n_paths=0), "^n_paths must be"),
    (dict(n_steps=0), "^n_steps must be"),
    (dict(x=[[0.0]]), "^x must be a number or a 1-D"),
    (dict(x=[np.nan]), "^x must be finite"),
    (dict(V=lambda t, x: torch.zeros(3, 3, dtype=torch.float64)), r"^V\(t, x\) must return"),
])
def test_bad_input(kwargs, match):
    args = dict(V=None, f=1.0, x=0.0, T=1.0, alpha=1.0, n_paths=10, n_steps=2, generator=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        feynman_kac(args.pop("V"), args.pop("f"), args.pop("x"), args.pop("T"), **args)


def test_ci_level_validation():
    res = feynman_kac(None, 1.0, 0.0, 1.0, alpha=1.0, n_paths=10, n_steps=2, generator=0)
    with pytest.raises(ValueError, match="^level must lie"):
        res.ci(1.5)
