"""2-D Fokker–Planck (Strang-split Crank–Nicolson) and the 2-D time-sliced path integral against
the closed-form 2-D OU (non-symmetric drift matrix; Lyapunov covariance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from kexue.stochastic import closed_forms as cf
from kexue.stochastic._pde2d import PDE2D_ORDERS, fokker_planck_2d, path_integral_2d

A = np.array([[-1.0, 1.2], [-0.6, -0.8]])  # non-symmetric, stable
ALPHA = (0.6, 0.4)
Q = np.diag(ALPHA)
M0, S0, T = np.array([0.8, -0.5]), 0.3**2 * np.eye(2), 0.8
_At = torch.tensor(A)


def _drift(t, X):
    return X @ _At.T  # (M, 2)


def test_moments_closed_form():
    m, S = cf.linear_sde_nd_moments(A, np.zeros(2), Q, M0, S0, T)
    np.testing.assert_allclose(m, expm(A * T) @ M0, rtol=1e-13)
    # Σ̇ = AΣ + ΣAᵀ + Q by a central difference
    h = 1e-4
    Sp = cf.linear_sde_nd_moments(A, np.zeros(2), Q, M0, S0, T + h)[1]
    Sm = cf.linear_sde_nd_moments(A, np.zeros(2), Q, M0, S0, T - h)[1]
    np.testing.assert_allclose((Sp - Sm) / (2 * h), A @ S + S @ A.T + Q, atol=1e-8)
    # long time: the Lyapunov solution; 1-D: the OU closed form
    S_inf = cf.linear_sde_nd_moments(A, np.zeros(2), Q, M0, S0, 60.0)[1]
    np.testing.assert_allclose(S_inf, cf.lyapunov_covariance(A, Q), rtol=1e-10)
    m1, v1 = cf.linear_sde_nd_moments([[-1.3]], [0.0], [[0.7]], [1.0], [[0.0]], 0.9)
    assert m1[0] == pytest.approx(cf.ou_mean(1.0, 0.9, 1.3), rel=1e-13)
    assert v1[0, 0] == pytest.approx(cf.ou_var(0.9, 1.3, 0.7), rel=1e-12)
    with pytest.raises(ValueError, match="stable"):
        cf.lyapunov_covariance(-A, Q)


def _exact(x, y):
    m, S = cf.linear_sde_nd_moments(A, np.zeros(2), Q, M0, S0, T)
    return cf.gaussian_density_2d(x, y, m, S)


def test_fokker_planck_2d_second_order():
    ns, errs = [31, 61, 121], []
    for n in ns:
        x = np.linspace(-4, 4, n)
        p0 = cf.gaussian_density_2d(x, x, M0, S0)
        P = fokker_planck_2d(_drift, x, x, p0, T, alpha=ALPHA, n_steps=n // 2)
        errs.append(np.max(np.abs(P - _exact(x, x))))
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - PDE2D_ORDERS["fokker_planck_2d"]) < 0.15
    h = x[1] - x[0]
    assert P.sum() * h * h == pytest.approx(1.0, abs=1e-4)


def test_path_integral_2d_first_order():
    x = np.linspace(-3.5, 3.5, 41)
    p0 = cf.gaussian_density_2d(x, x, M0, S0)
    alpha = (0.9, 0.8)
    Qa = np.diag(alpha)
    m, S = cf.linear_sde_nd_moments(A, np.zeros(2), Qa, M0, S0, T)
    exact = cf.gaussian_density_2d(x, x, m, S)
    ns = [2, 4, 8]
    errs = [np.max(np.abs(path_integral_2d(_drift, x, x, p0, T, alpha=alpha, n_slices=n) - exact))
            for n in ns]
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - PDE2D_ORDERS["path_integral_2d"]) < 0.15


def test_bad_input():
    x = np.linspace(-3, 3, 21)
    p0 = np.ones((21, 21))
    with pytest.raises(ValueError, match="p0 must have shape"):
        fokker_planck_2d(_drift, x, x, p0[:, :5], T, alpha=ALPHA, n_steps=4)
    with pytest.raises(ValueError, match="must return shape"):
        fokker_planck_2d(lambda t, X: X[:, :1], x, x, p0, T, alpha=ALPHA, n_steps=4)
    with pytest.raises(ValueError, match="alpha"):
        fokker_planck_2d(_drift, x, x, p0, T, alpha=(1.0, -1.0), n_steps=4)
    with pytest.raises(ValueError, match="kernel"):
        path_integral_2d(_drift, x, x, p0, T, alpha=ALPHA, n_slices=200)
