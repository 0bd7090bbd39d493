"""Crank–Nicolson Fokker–Planck and Kolmogorov-backward solvers: observed order 2 against closed
forms (V7, V15, V16, V14, V11), mass conservation, Rannacher start for rough data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kexue.stochastic import closed_forms as cf
from kexue.stochastic._pde import fokker_planck, kolmogorov_backward
from kexue.stochastic._sde import SDE

ALPHA, THETA, T = 0.7, 1.3, 0.9


def _const(c):
    return lambda t, x: torch.full_like(x, c)


OU = SDE(lambda t, x: -THETA * x, _const(math.sqrt(ALPHA)), noise="additive")
BM = SDE(_const(0.0), _const(math.sqrt(ALPHA)), noise="additive")


def _order(errs):
    return np.log2(np.asarray(errs[:-1]) / np.asarray(errs[1:]))


def test_ou_fokker_planck_second_order():
    """Start N(1, 0.1²), θ=1.3, α=0.7, T=0.9, grid [−8, 8], Nt = Nx/2."""
    m, v = cf.ou_gaussian_evolution(1.0, 0.1, T, THETA, ALPHA)
    errs = []
    for n in (201, 401, 801):
        x = np.linspace(-8, 8, n)
        p0 = cf.drift_diffusion_density(x, 1.0, 1.0, 0.0, 0.01)
        P = fokker_planck(OU, x, p0, [0.0, T], n_steps=(n - 1) // 2)
        assert P.shape == (2, n)
        np.testing.assert_array_equal(P[0], p0)
        exact = np.exp(-(x - m) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)
        errs.append(np.max(np.abs(P[-1] - exact)))
    assert errs[-1] < 2e-4
    np.testing.assert_allclose(_order(errs), 2.0, atol=0.1)


def test_dirichlet_heat_mode_second_order():
    """V15 on [0, 2] with absorbing (u = 0) walls; both Δx and Δt halved."""
    L, errs = 2.0, []
    for n in (41, 81, 161):
        x = np.linspace(0, L, n)
        u = fokker_planck(BM, x, cf.heat_dirichlet_mode(x, 0.0, L, ALPHA), [0.0, 0.5, 1.0],
                          n_steps=(n - 1) // 4)
        errs.append(np.max(np.abs(u[-1] - cf.heat_dirichlet_mode(x, 1.0, L, ALPHA))))
    np.testing.assert_allclose(_order(errs), 2.0, atol=0.05)


def test_rannacher_start_restores_order_for_a_delta():
    """Delta at x0 = 1 killed at the wall x = 0 (image solution): plain CN does not converge in
    the sup norm, four implicit-Euler half-steps give order 2."""
    res = {}
    for r in (0, 4):
        errs = []
        for n in (201, 401, 801):
            x = np.linspace(0, 8, n)
            p0 = np.zeros(n)
            p0[np.argmin(np.abs(x - 1.0))] = 1.0 / (x[1] - x[0])
            u = fokker_planck(BM, x, p0, [0.0, 0.5], bc=("absorbing", "reflecting"),
                              n_steps=(n - 1) // 8, rannacher=r)
            errs.append(np.max(np.abs(u[-1] - cf.heat_absorbing_wall(x, 0.5, 1.0, ALPHA))))
        res[r] = errs
    assert res[0][-1] > 1e-2 and res[4][-1] < 1e-4
    np.testing.assert_allclose(_order(res[4]), 2.0, atol=0.1)


def test_reflecting_conserves_mass_exactly():
    x = np.linspace(-2, 3, 151)
    sde = SDE(lambda t, z: torch.sin(3 * t) - 2 * z, lambda t, z: 0.5 + 0.2 * torch.cos(z))
    p0 = cf.drift_diffusion_density(x, 1.0, 1.5, 0.0, 0.04)
    P = fokker_planck(sde, x, p0, np.linspace(0, 3, 7), bc="reflecting", dt=0.01)
    w = np.full(x.size, x[1] - x[0])
    w[[0, -1]] /= 2
    mass = P @ w
    np.testing.assert_allclose(mass, mass[0], rtol=0, atol=1e-12)
    # absorbing walls let mass out, monotonically
    y = np.linspace(-1, 1, 101)
    wy = np.full(y.size, y[1] - y[0])
    wy[[0, -1]] /= 2
    Pa = fokker_planck(BM, y, cf.drift_diffusion_density(y, 1.0, 0.0, 0.0, 0.04),
                       np.linspace(0, 1, 6), bc="absorbing", dt=0.01)
    loss = -np.diff(Pa @ wy)
    assert np.all(loss > 1e-3)


def test_double_well_stationary_density_v16():
    """Long-time FP with zero-flux walls on [−3, 3] reaches exp(−2U/α)/Z, error O(Δx²)."""
    sde = SDE(lambda t, x: x - x**3, _const(math.sqrt(ALPHA)), noise="additive")
    errs = []
    for n in (121, 241):
        x = np.linspace(-3, 3, n)
        P = fokker_planck(sde, x, cf.drift_diffusion_density(x, 1.0, 0.0, 0.0, 0.1), [0.0, 20.0],
                          bc="reflecting", dt=0.05)
        errs.append(np.max(np.abs(P[-1] - cf.double_well_stationary_density(x, ALPHA))))
    assert errs[-1] < 2e-4
    np.testing.assert_allclose(_order(errs), 2.0, atol=0.15)


def test_black_scholes_by_backward_pde():
    """Log-price Feynman–Kac PDE with V = −r and the kink payoff: 10.450584 to 1e-4."""
    r, sig, K = 0.05, 0.2, 100.0
    sde = SDE(_const(r - sig**2 / 2), _const(sig), noise="additive")
    x = math.log(100.0) + np.linspace(-1.5, 1.5, 2401)
    u = kolmogorov_backward(sde, x, np.maximum(np.exp(x) - K, 0.0), [0.0, 0.5, 1.0],
                            potential=-r, n_steps=200)
    assert u.shape == (3, x.size)
    assert abs(u[0, 1200] - 10.450584) < 1e-4
    half = cf.black_scholes_call(100.0, K, r, sig, 0.5)  # value at t = 0.5 (time to go 0.5)
    assert abs(u[1, 1200] - half) < 1e-4


def test_backward_drift_sign_and_feynman_kac_potential():
    # E[X_T | X_0 = x] = x e^{−θT} for OU (terminal = identity)
    x = np.linspace(-6, 6, 241)
    u = kolmogorov_backward(OU, x, x.copy(), [0.0, T], bc="reflecting", dt=0.005)
    inner = np.abs(x) < 2
    np.testing.assert_allclose(u[0, inner], x[inner] * np.exp(-THETA * T), atol=1e-5)
    # Su's harmonic potential V = −ω² x²/2 enters as V/α: V11
    omega = 1.1
    u = kolmogorov_backward(BM, x, np.ones_like(x), [0.0, T],
                            potential=lambda t, z: -(omega**2) * z**2 / (2 * ALPHA), dt=0.01)
    np.testing.assert_allclose(u[0, inner], cf.feynman_kac_harmonic(x[inner], T, omega, ALPHA),
                               atol=2e-4)


def test_time_dependent_coefficients_forward_and_backward():
    """Drift cos(t) shifts the mean by sin(T); a potential cos(t) multiplies u by e^{sin T}."""
    x = np.linspace(-5, 6, 551)
    sde = SDE(lambda t, z: torch.cos(t) + 0 * z, _const(math.sqrt(ALPHA)), noise="additive")
    P = fokker_planck(sde, x, cf.drift_diffusion_density(x, 1.0, 0.0, 0.0, 0.09), [0.0, 2.0],
                      dt=0.01)[-1]
    exact = cf.drift_diffusion_density(x, 1.0, math.sin(2.0), 0.0, 0.09 + ALPHA * 2.0)
    assert np.max(np.abs(P - exact)) < 1e-4
    u = kolmogorov_backward(BM, x, np.ones_like(x), [0.0, 1.0, 2.0],
                            potential=lambda t, z: torch.cos(t) + 0 * z, bc="reflecting", dt=0.01)
    np.testing.assert_allclose(u[0], math.exp(math.sin(2.0)), rtol=1e-4)  # O(dt²)
    np.testing.assert_allclose(u[1], math.exp(math.sin(2.0) - math.sin(1.0)), rtol=1e-4)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=np.array([0.0, 0.1, 0.3, 0.4, 0.5, 0.6])), "uniformly spaced"),
    (dict(x=np.linspace(0, 1, 3), p0=np.ones(3)), "at least 5 points"),
    (dict(x=np.linspace(1, 0, 11)), "strictly increasing"),
    (dict(p0=np.ones(7)), "^p0 must have"),
    (dict(ts=[0.0, 0.5, 0.5]), "^ts must be strictly increasing"),
    (dict(bc="periodic"), "^bc must be"),
    (dict(rannacher=3), "^rannacher must be"),
    (dict(dt=0.1, n_steps=3), "either dt or n_steps"),
    (dict(dt=-0.1), "^dt must be"),
    (dict(n_steps=0), "^n_steps must be"),
])
def test_bad_input(kwargs, match):
    args = dict(sde=OU, x=np.linspace(-1, 1, 11), p0=np.ones(11), ts=[0.0, 0.1])
    args.update(kwargs)
    if "x" in kwargs and "p0" not in kwargs:
        args["p0"] = np.ones(np.asarray(kwargs["x"]).size)
    with pytest.raises(ValueError, match=match):
        fokker_planck(args.pop("sde"), args.pop("x"), args.pop("p0"), args.pop("ts"), **args)


def test_bad_coefficients():
    x = np.linspace(-1, 1, 11)
    with pytest.raises(TypeError, match="^sde must be"):
        fokker_planck(lambda t, z: z, x, np.ones(11), [0, 1])
    bad = SDE(lambda t, z: torch.zeros(3, 2, dtype=torch.float64), _const(1.0))
    with pytest.raises(ValueError, match=r"sde.drift\(t, x\) must return"):
        fokker_planck(bad, x, np.ones(11), [0, 1])
    nan = SDE(lambda t, z: z / 0 * 0, _const(1.0))
    with pytest.raises(ValueError, match="nan/inf"):
        kolmogorov_backward(nan, x, np.ones(11), [0, 1])
