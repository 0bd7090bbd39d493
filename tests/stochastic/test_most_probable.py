"""Most probable path (discrete Onsager–Machlup minimiser) and Monte Carlo bridges
(kexue.fm archives 3757, 3762)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_bvp

from kexue.stochastic import closed_forms as cf
from kexue.stochastic._most_probable import most_probable_path, sde_bridges

THETA, ALPHA, T, XA, XB = 1.3, 0.7, 1.0, 1.0, -0.5


def _ou(t, x):
    return -THETA * x


@pytest.mark.parametrize("convention, order", [("midpoint", 2.0), ("ito", 1.0)])
def test_ou_path_converges_to_the_harmonic_closed_form(convention, order):
    ns = [16, 32, 64, 128]
    errs = []
    for n in ns:
        r = most_probable_path(_ou, XA, XB, T, alpha=ALPHA, n_steps=n, convention=convention)
        assert r.grad_norm < 1e-10
        ref = cf.harmonic_classical_path(r.ts.numpy(), XA, XB, T, THETA)
        errs.append(np.max(np.abs(r.path.numpy() - ref)))
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.1


def test_ito_minimiser_is_the_mean_of_the_discrete_euler_bridge():
    """Chain x_{k+1} = c x_k + sqrt(αΔt) ξ: the joint-density mode is the conditional mean."""
    n = 40
    dt = T / n
    r = most_probable_path(_ou, XA, XB, T, alpha=ALPHA, n_steps=n, convention="ito")
    c = 1.0 - THETA * dt
    k = np.arange(n + 1)
    var = ALPHA * dt * (1 - c ** (2 * k)) / (1 - c**2)  # Var x_k
    mean = c**k * XA
    cov_kn = c ** (n - k) * var  # Cov(x_k, x_n)
    cond = mean + cov_kn / var[-1] * (XB - mean[-1])
    np.testing.assert_allclose(r.path.numpy(), cond, atol=1e-12)


def test_double_well_path_solves_the_onsager_machlup_euler_lagrange_bvp():
    """ẍ = p p_x + (α/2) p_xx for p = x − x³, solved independently by scipy's collocation BVP."""
    alpha, T2, a, b = 0.3, 2.0, -1.0, 0.5

    def rhs(t, y):
        x = y[0]
        p, px, pxx = x - x**3, 1 - 3 * x**2, -6 * x
        return np.vstack([y[1], p * px + 0.5 * alpha * pxx])

    t = np.linspace(0, T2, 50)
    sol = solve_bvp(rhs, lambda ya, yb: np.array([ya[0] - a, yb[0] - b]), t,
                    np.vstack([a + (b - a) * t / T2, np.full_like(t, (b - a) / T2)]), tol=1e-10,
                    max_nodes=100000)
    assert sol.success
    errs, ns = [], [50, 100, 200]
    for n in ns:
        r = most_probable_path(lambda s, x: x - x**3, a, b, T2, alpha=alpha, n_steps=n)
        errs.append(np.max(np.abs(r.path.numpy() - sol.sol(r.ts.numpy())[0])))
    assert errs[-1] < 2e-4
    assert abs(-np.polyfit(np.log(ns), np.log(errs), 1)[0] - 2.0) < 0.15
    # the Itô (Freidlin–Wentzell) path differs by O(alpha) from the OM path
    fw = most_probable_path(lambda s, x: x - x**3, a, b, T2, alpha=alpha, n_steps=200,
                            convention="ito")
    assert float((fw.path - r.path).abs().max()) > 0.05


def test_drift_dx_given_equals_autograd():
    p = lambda t, x: torch.sin(x) - 0.5 * x  # noqa: E731
    r1 = most_probable_path(p, 0.2, 1.5, 1.0, alpha=0.5, n_steps=30)
    r2 = most_probable_path(p, 0.2, 1.5, 1.0, alpha=0.5, n_steps=30,
                            drift_dx=lambda t, x: torch.cos(x) - 0.5)
    torch.testing.assert_close(r1.path, r2.path, atol=1e-12, rtol=0)


def test_ou_bridges_mean_is_the_most_probable_path():
    bs = sde_bridges(_ou, XA, XB, T, alpha=ALPHA, n_paths=20000, n_steps=32, generator=0)
    assert torch.isclose(bs.weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    ref = cf.harmonic_classical_path(bs.ts.numpy(), XA, XB, T, THETA)
    z = (bs.mean().numpy() - ref)[16] / bs.mean_se().numpy()[16]
    assert abs(z) < 4.0
    assert bs.ess > 0.8 * 20000


def test_free_bridges_are_unweighted_and_pinned():
    bs = sde_bridges(0.0, XA, XB, T, alpha=ALPHA, n_paths=1000, n_steps=10, generator=1)
    assert bs.ess == pytest.approx(1000.0, rel=1e-12)
    assert torch.all(bs.paths[0] == XA) and torch.allclose(bs.paths[-1], torch.full((1000,), XB,
                                                                      dtype=torch.float64))
    # Brownian bridge variance at mid time: alpha T/4, checked within 5 SE of a variance
    v = float(bs.paths[5].var())
    assert abs(v - ALPHA * T / 4) < 5 * ALPHA * T / 4 * math.sqrt(2 / 1000)


def test_bad_input():
    with pytest.raises(ValueError, match="n_steps"):
        most_probable_path(_ou, 0.0, 1.0, 1.0, alpha=1.0, n_steps=1)
    with pytest.raises(ValueError, match="convention"):
        most_probable_path(_ou, 0.0, 1.0, 1.0, alpha=1.0, n_steps=10, convention="strat")
    with pytest.raises(ValueError, match="init"):
        most_probable_path(_ou, 0.0, 1.0, 1.0, alpha=1.0, n_steps=10, init=np.zeros(3))
    with pytest.raises(ValueError, match="alpha"):
        sde_bridges(_ou, 0.0, 1.0, 1.0, alpha=-1.0, n_paths=10, n_steps=10)
    with pytest.raises(TypeError, match="drift"):
        most_probable_path("x", 0.0, 1.0, 1.0, alpha=1.0, n_steps=10)
