"""Time-sliced path integral (V9/V10), Onsager–Machlup action and Su's Schrödinger potential
(kexue.fm archives 3750, 3757, 3762)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from kexue.stochastic import closed_forms as cf
from kexue.stochastic._path_integral import (
    onsager_machlup_action,
    path_integral_propagator,
    schrodinger_potential,
)

ALPHA, OMEGA, THETA, T = 0.7, 1.1, 1.3, 0.9
X = np.linspace(-6, 6, 301)
INNER = np.abs(X) <= 2.5


def _harmonic(t, x):
    return -(OMEGA**2) * x**2 / 2


def _sup_inner(K, ref):
    return np.max(np.abs(K - ref)[np.ix_(INNER, INNER)])


@pytest.mark.parametrize("symmetric, order", [(True, 2.0), (False, 1.0)])
def test_time_slicing_converges_to_mehler(symmetric, order):
    ref = cf.mehler_kernel(X[:, None], X[None, :], T, OMEGA, ALPHA)
    ns = [4, 8, 16, 32]
    errs = [_sup_inner(path_integral_propagator(_harmonic, X, T, alpha=ALPHA, n_slices=n,
                                                symmetric=symmetric), ref) for n in ns]
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.05
    if symmetric:
        assert errs[-1] < 5e-5


def test_free_propagator_is_the_heat_kernel_and_time_dependent_branch_agrees():
    K = path_integral_propagator(None, X, T, alpha=ALPHA, n_slices=10)
    np.testing.assert_allclose(K[np.ix_(INNER, INNER)],
                               cf.heat_kernel(X[INNER, None], X[None, INNER], T, ALPHA), atol=1e-12)
    # a V that mentions t (but is constant in t) runs the slice-by-slice loop: same answer
    loop = path_integral_propagator(lambda t, x: _harmonic(t, x) + 0.0 * t, X, T, alpha=ALPHA,
                                    n_slices=6)
    loop2 = path_integral_propagator(lambda t, x: _harmonic(t, x) * (1 + 0 * torch.sin(t)), X, T,
                                     alpha=ALPHA, n_slices=6)
    power = path_integral_propagator(_harmonic(0.0, X), X, T, alpha=ALPHA, n_slices=6)
    np.testing.assert_allclose(loop, power, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(loop2, power, rtol=1e-12, atol=1e-14)
    # a genuinely time-dependent V: V(t) = c(t) constant in x gives the factor exp(∫c dt/α)
    K = path_integral_propagator(lambda t, x: torch.cos(t) + 0 * x, X, T, alpha=ALPHA, n_slices=50)
    ref = cf.heat_kernel(X[INNER, None], X[None, INNER], T, ALPHA) * math.exp(math.sin(T) / ALPHA)
    np.testing.assert_allclose(K[np.ix_(INNER, INNER)], ref, rtol=5e-5)


def test_ou_density_from_path_integral_via_su_transform():
    """P(xb|xa) = e^{(U(xb) − U(xa))/α} K_V(xb, xa) with Su's V for p = −θx (the thesis chain)."""
    V = schrodinger_potential(lambda t, x: -THETA * x, ALPHA)
    K = path_integral_propagator(V, X, T, alpha=ALPHA, n_slices=64)
    U = V.U(0.0, X)
    P = np.exp((U[:, None] - U[None, :]) / ALPHA) * K
    ref = cf.ou_transition_density(X[:, None], X[None, :], T, THETA, ALPHA)
    assert _sup_inner(P, ref) < 2e-4


def test_path_integral_rejects_coarse_grid_and_bad_args():
    with pytest.raises(ValueError, match="finer grid"):
        path_integral_propagator(None, np.linspace(-6, 6, 21), T, alpha=ALPHA, n_slices=50)
    with pytest.raises(ValueError, match="^alpha must be"):
        path_integral_propagator(None, X, T, alpha=0.0, n_slices=4)
    with pytest.raises(ValueError, match="^n_slices must be"):
        path_integral_propagator(None, X, T, alpha=ALPHA, n_slices=0)
    with pytest.raises(ValueError, match="^V given as an array"):
        path_integral_propagator(np.ones(3), X, T, alpha=ALPHA, n_slices=4)


# ------------------------------------------------------------------------ Onsager–Machlup
def _euler_paths(lam, n, batch, dt, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n + 1, batch, dtype=torch.float64)
    x[0] = 0.3
    for k in range(n):
        x[k + 1] = x[k] + lam * x[k] * dt + math.sqrt(ALPHA * dt) * torch.randn(
            batch, generator=g, dtype=torch.float64)
    return x


def test_ito_action_is_the_euler_path_density():
    """(2παΔt)^{−n/2} e^{−S_Itô} equals the product of Euler transition densities exactly."""
    lam, n, dt = 1.0, 40, 0.02  # Su's linear SDE dx = x dt + √α dW
    paths = _euler_paths(lam, n, 16, dt, seed=3)
    S = onsager_machlup_action(paths, lambda t, x: lam * x, ALPHA, dt, convention="ito")
    assert isinstance(S, torch.Tensor) and S.shape == (16,)
    log_weight = -S - n / 2 * math.log(2 * math.pi * ALPHA * dt)
    mean = paths[:-1] * (1 + lam * dt)
    log_euler = torch.distributions.Normal(mean, math.sqrt(ALPHA * dt)).log_prob(paths[1:]).sum(0)
    torch.testing.assert_close(log_weight, log_euler, rtol=1e-13, atol=1e-12)
    # numpy in, numpy out
    S_np = onsager_machlup_action(paths.numpy(), lambda t, x: lam * x, ALPHA, dt)
    assert isinstance(S_np, np.ndarray)
    np.testing.assert_allclose(S_np, S.numpy(), rtol=1e-15)


def test_midpoint_differs_by_the_jacobian_term():
    paths = _euler_paths(-THETA, 30, 8, 0.03, seed=5)
    dt = 0.03

    def drift(t, x):
        return torch.sin(x) + 0.3 * t

    S_mid = onsager_machlup_action(paths, drift, ALPHA, dt, convention="midpoint")
    xm = 0.5 * (paths[:-1] + paths[1:])
    tm = (torch.arange(30, dtype=torch.float64) + 0.5)[:, None] * dt
    resid = paths[1:] - paths[:-1] - (torch.sin(xm) + 0.3 * tm) * dt
    quad = (resid**2).sum(0) / (2 * ALPHA * dt)
    jac = 0.5 * (torch.cos(xm) * dt).sum(0)
    torch.testing.assert_close(S_mid, quad + jac, rtol=1e-13, atol=1e-12)
    S_mid2 = onsager_machlup_action(paths, drift, ALPHA, dt, convention="midpoint",
                                    drift_dx=lambda t, x: torch.cos(x))
    torch.testing.assert_close(S_mid2, S_mid, rtol=1e-14, atol=1e-13)
    # constant drift: no Jacobian, and the two conventions coincide
    S_i = onsager_machlup_action(paths, 0.4, ALPHA, dt, convention="ito")
    S_m = onsager_machlup_action(paths, 0.4, ALPHA, dt, convention="midpoint")
    torch.testing.assert_close(S_i, S_m, rtol=1e-15, atol=0.0)
    # linear drift p = λx: Jacobian term is exactly λ n Δt/2
    lam = -THETA
    S_m = onsager_machlup_action(paths, lambda t, x: lam * x, ALPHA, dt, convention="midpoint")
    quad = ((paths[1:] - paths[:-1] - lam * xm * dt) ** 2).sum(0) / (2 * ALPHA * dt)
    torch.testing.assert_close(S_m - quad, torch.full((8,), lam * 30 * dt / 2,
                                                      dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_onsager_machlup_bad_input():
    p = np.zeros((5, 2))
    with pytest.raises(ValueError, match="^convention must be"):
        onsager_machlup_action(p, 0.0, ALPHA, 0.1, convention="stratonovich")
    with pytest.raises(ValueError, match="^alpha must be"):
        onsager_machlup_action(p, 0.0, -1.0, 0.1)
    with pytest.raises(ValueError, match=r"^path must have shape"):
        onsager_machlup_action(np.zeros((1, 2)), 0.0, ALPHA, 0.1)


# ------------------------------------------------------------------ Su's Schrödinger potential
def test_schrodinger_transform_symbolic_identity():
    """For any φ: α e^{−U/α}·FP[e^{U/α}φ] = α φ_t − (α²/2) φ_xx − V φ (time-dependent drift)."""
    x, t = sp.symbols("x t")
    a = sp.Rational(7, 10)
    drift = -sp.Rational(13, 10) * x + sp.sin(t) * x**2
    V = schrodinger_potential(drift, 0.7)
    phi = sp.Function("phi")(x, t)
    Vs = V.expr
    P = sp.exp(V.U_expr / a) * phi
    fp = sp.diff(P, t) - a / 2 * sp.diff(P, x, 2) + sp.diff(drift * P, x)
    schro = a * sp.diff(phi, t) - a**2 / 2 * sp.diff(phi, x, 2) - Vs * phi
    assert sp.simplify(sp.expand(a * sp.exp(-V.U_expr / a) * fp - schro)) == 0


def test_schrodinger_transform_numeric_on_ou():
    """φ = e^{−U/α} P with the OU closed-form P solves α φ_t = (α²/2) φ_xx + V φ (by finite
    differences)."""
    V = schrodinger_potential(lambda t, z: -THETA * z, ALPHA)
    x, t, e = np.linspace(-2, 2, 9), 0.5, 1e-4

    def phi(z, s):
        m, v = cf.ou_gaussian_evolution(0.4, 0.3, s, THETA, ALPHA)
        return np.exp(-V.U(s, z) / ALPHA) * np.exp(-(z - m) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)

    lhs = ALPHA * (phi(x, t + e) - phi(x, t - e)) / (2 * e)
    phi_xx = (phi(x + e, t) - 2 * phi(x, t) + phi(x - e, t)) / e**2
    rhs = ALPHA**2 / 2 * phi_xx + V(t, x) * phi(x, t)
    np.testing.assert_allclose(lhs, rhs, atol=2e-6 * np.max(np.abs(lhs)))
    # V = αθ/2 − θ²x²/2 exactly
    np.testing.assert_allclose(V(0.0, x), ALPHA * THETA / 2 - THETA**2 * x**2 / 2, atol=1e-14)


def test_numeric_and_symbolic_potentials_agree():
    x, t = sp.symbols("x t")
    Vs = schrodinger_potential(-1.3 * x + sp.sin(t) * x**2 + sp.cos(x), ALPHA)
    Vn = schrodinger_potential(lambda s, z: -1.3 * z + torch.sin(s) * z**2 + torch.cos(z), ALPHA)
    z = torch.linspace(-2, 2, 11, dtype=torch.float64).reshape(-1, 1)
    tt = torch.tensor(0.4, dtype=torch.float64)
    torch.testing.assert_close(Vn(tt, z), Vs(tt, z), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(Vn.U(tt, z), Vs.U(tt, z), rtol=1e-12, atol=1e-12)
    assert Vn(tt, z).shape == (11, 1)


def test_schrodinger_potential_bad_input():
    x, y = sp.symbols("x y")
    with pytest.raises(ValueError, match="only the symbols x and t"):
        schrodinger_potential(x * y, ALPHA)
    with pytest.raises(ValueError, match="^alpha must be"):
        schrodinger_potential(x, 0.0)
    with pytest.raises(TypeError, match="^drift must be"):
        schrodinger_potential("x", ALPHA)
