"""General (matrix) noise and Itô/Stratonovich (Kloeden & Platen 1992, §4.9, §10.2, §11.1):
a 2-D linear SDE driven by 3 Brownian motions against its closed-form mean and covariance (the
Lyapunov equation for additive noise; the exact moment ODE, and Euler's exact discrete moment
recursion, for multiplicative noise), the Itô–Stratonovich drift correction as an exact identity,
the Stratonovich/Itô conversion of GBM pathwise on one BrownianInterval, the declared strong
orders for non-commutative noise, and bad input. All float64.

Statistical bounds are 4 SE (empirical SE of the per-path estimator; two-sided p ≈ 6e-5 under
the null) at fixed seeds; where the simulation targets the continuous closed form, the test
first asserts that the scheme's own discretisation bias is below 0.5 SE, so a pass is a check of
the implementation, not of luck.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sl
import torch

from kexue.stochastic import (
    SDE,
    BrownianInterval,
    ito_stratonovich_correction,
    ito_to_stratonovich,
    solve,
    stratonovich_to_ito,
)
from kexue.stochastic._solvers import METHODS

F64 = torch.float64

# dX = (A X + a) dt + Σ_j (C_j X + b_j) dW_j,  d = 2, m = 3
A = np.array([[-1.0, 0.5], [-0.3, -0.8]])
AV = np.array([0.2, -0.1])
C = [np.array([[0.3, 0.1], [0.0, 0.2]]), np.array([[0.0, -0.2], [0.25, 0.1]]),
     np.array([[0.1, 0.0], [-0.15, 0.0]])]
BV = [np.array([0.2, 0.0]), np.array([0.1, 0.3]), np.array([-0.1, 0.2])]
B = np.stack(BV, axis=1)                                                 # (2, 3)
X0 = np.array([1.0, -0.5])
T = 1.0


def linear_general(multiplicative: bool, sde_type: str = "ito") -> SDE:
    """The SDE above; ``multiplicative=False`` drops the C_j (additive general noise, g = B)."""
    at, avt = torch.tensor(A), torch.tensor(AV)
    ct = torch.tensor(np.stack(C))                                       # (3, 2, 2): C_j
    bt = torch.tensor(B)                                                 # (2, 3)

    def drift(t, x):                                                     # (batch, 2)
        return x @ at.T + avt

    def diffusion(t, x):                                                 # (batch, 2, 3)
        if not multiplicative:
            return bt.expand(1, 2, 3)
        return torch.einsum("jik,bk->bij", ct, x) + bt

    return SDE(drift, diffusion, noise="general", sde_type=sde_type)


def moments_exact(multiplicative: bool, t: float = T) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance at ``t`` from the linear moment ODE (Itô):
    m' = A m + a,  M' = A M + M Aᵀ + a mᵀ + m aᵀ + Σ_j E[g_j g_jᵀ], g_j = C_j X + b_j,
    solved exactly with a matrix exponential on (1, m, vec M) (column-major vec)."""
    d, eye = 2, np.eye(2)
    cs = C if multiplicative else [np.zeros((2, 2))] * 3
    L = np.zeros((7, 7))
    L[1:3, 0], L[1:3, 1:3] = AV, A
    L[3:, 3:] = np.kron(eye, A) + np.kron(A, eye) + sum(np.kron(c, c) for c in cs)
    L[3:, 1:3] = np.kron(eye, AV[:, None]) + np.kron(AV[:, None], eye) + sum(
        np.kron(b[:, None], c) + np.kron(c, b[:, None]) for c, b in zip(cs, BV))
    L[3:, 0] = sum(np.kron(b, b) for b in BV)
    y = sl.expm(L * t) @ np.concatenate([[1.0], X0, np.outer(X0, X0).ravel(order="F")])
    m, M = y[1:1 + d], y[1 + d:].reshape(d, d, order="F")
    return m, M - np.outer(m, m)


def lyapunov_exact(t: float = T) -> tuple[np.ndarray, np.ndarray]:
    """Additive noise: mean e^{At}x0 + A^{-1}(e^{At} - I)a; covariance Σ∞ - e^{At} Σ∞ e^{Aᵀt}
    with A Σ∞ + Σ∞ Aᵀ + B Bᵀ = 0 (A is stable)."""
    E = sl.expm(A * t)
    s_inf = sl.solve_continuous_lyapunov(A, -B @ B.T)
    mean = E @ X0 + np.linalg.solve(A, (E - np.eye(2)) @ AV)
    return mean, s_inf - E @ s_inf @ E.T


def euler_moments(multiplicative: bool, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Euler–Maruyama's exact discrete moments after ``n`` steps of h = T/n (X' = P X + a h +
    Σ_j g_j ΔW_j, P = I + A h): m' = P m + a h, M' = P M Pᵀ + h(P m aᵀ + a mᵀ Pᵀ) + h² a aᵀ
    + h Σ_j E[g_j g_jᵀ]."""
    h = T / n
    P = np.eye(2) + A * h
    cs = C if multiplicative else [np.zeros((2, 2))] * 3
    m, M = X0.copy(), np.outer(X0, X0)
    for _ in range(n):
        noise = sum(c @ M @ c.T + np.outer(c @ m, b) + np.outer(b, c @ m) + np.outer(b, b)
                    for c, b in zip(cs, BV))
        pm = P @ m
        M = P @ M @ P.T + h * (np.outer(pm, AV) + np.outer(AV, pm)) \
            + h * h * np.outer(AV, AV) + h * noise
        m = pm + AV * h
    return m, M - np.outer(m, m)


def _check_moments(x: torch.Tensor, mean: np.ndarray, cov: np.ndarray, slack: float = 0.0):
    """Sample mean and covariance of ``x (n, 2)`` within 4 empirical SE of (mean, cov)."""
    x = x.numpy()
    n = x.shape[0]
    xm = x.mean(0)
    se_m = x.std(0, ddof=1) / math.sqrt(n)
    assert np.all(np.abs(xm - mean) < 4 * se_m + slack), (xm, mean, se_m)
    xc = x - xm
    for i in range(2):
        for k in range(2):
            prod = xc[:, i] * xc[:, k]
            se = prod.std(ddof=1) / math.sqrt(n)
            assert abs(prod.mean() - cov[i, k]) < 4 * se + slack, (i, k, prod.mean(), cov[i, k])


# --------------------------------------------------------------------------- closed forms
def test_moment_closed_forms_agree():
    """The moment ODE with C = 0 equals the Lyapunov closed form (1e-12); Euler's discrete
    moments converge to the continuous ones at rate h (ratio 2 when h halves, ±5 %)."""
    m1, c1 = moments_exact(False)
    m2, c2 = lyapunov_exact()
    np.testing.assert_allclose(m1, m2, atol=1e-12)
    np.testing.assert_allclose(c1, c2, atol=1e-12)
    me, ce = moments_exact(True)
    gaps = [np.abs(euler_moments(True, n)[1] - ce).max() for n in (50, 100, 200)]
    assert abs(gaps[0] / gaps[1] - 2) < 0.1 and abs(gaps[1] / gaps[2] - 2) < 0.1, gaps


@pytest.mark.parametrize("name", ["euler", "heun", "midpoint"])
def test_additive_general_noise_lyapunov(name):
    """2-D OU driven by 3 Brownian motions through B (2×3): mean and covariance at T = 1 match
    the Lyapunov closed form within 4 SE (20000 paths, dt = 1/512; Euler's own bias asserted
    < 0.5 SE first)."""
    n, steps = 20000, 512
    mean, cov = lyapunov_exact()
    bias = np.abs(euler_moments(False, steps)[1] - cov).max()
    assert bias < 0.5 * cov.diagonal().min() * math.sqrt(2 / n)
    x0 = torch.tensor(X0).expand(n, 2).clone()
    x = solve(linear_general(False), x0, [0.0, T], method=name, dt=T / steps, generator=1)
    assert x.shape == (2, n, 2)
    _check_moments(x[-1], mean, cov)


def test_euler_general_multiplicative_exact_discrete_moments():
    """Euler with x-dependent general noise (m = 3 ≠ d = 2): sample mean and covariance after 64
    steps match Euler's exact discrete moment recursion within 4 SE (40000 paths) — a test of
    the update x + f h + g ΔW with the matrix product, with no discretisation slack."""
    n, steps = 40000, 64
    mean, cov = euler_moments(True, steps)
    x0 = torch.tensor(X0).expand(n, 2).clone()
    x = solve(linear_general(True), x0, [0.0, T], method="euler", dt=T / steps, generator=2)
    _check_moments(x[-1], mean, cov)


@pytest.mark.parametrize("name", ["heun", "midpoint"])
def test_stratonovich_methods_on_ito_general_noise(name):
    """Heun and midpoint read g ∘ dW; given the Itô SDE with multiplicative general noise, solve
    converts it with the general correction ½ Σ_j (∂g_·j/∂x) g_·j, and the moments at T = 1
    match the Itô moment ODE within 4 SE (20000 paths, dt = 1/128). Without the conversion the
    mean is off by ~25 SE, so the test can fail."""
    n, steps = 20000, 128
    mean, cov = moments_exact(True)
    x0 = torch.tensor(X0).expand(n, 2).clone()
    x = solve(linear_general(True), x0, [0.0, T], method=name, dt=T / steps, generator=3)
    _check_moments(x[-1], mean, cov)
    # the unconverted reading (the Stratonovich SDE with the Itô drift) has another mean
    wrong = solve(linear_general(True, "stratonovich"), x0, [0.0, T], method=name,
                  dt=T / steps, generator=3)[-1].numpy()
    se = wrong.std(0, ddof=1) / math.sqrt(n)
    assert np.abs(wrong.mean(0) - mean).max() > 8 * se.max()


# --------------------------------------------------------------------------- the correction
def test_correction_exact_identities():
    """ito_stratonovich_correction: linear general noise g_j = C_j x + b_j gives
    c = ½ Σ_j C_j (C_j x + b_j) exactly (1e-13); diagonal GBM gives ½ σ² x; additive gives 0;
    scalar noise with d = 2 (g (batch, 2), one Brownian motion) gives ½ (∂g/∂x) g; the
    conversions are mutual inverses and set sde_type."""
    x = torch.tensor([[1.0, -0.5], [0.3, 2.0], [-1.2, 0.7]], dtype=F64)
    t = torch.tensor(0.2, dtype=F64)
    got = ito_stratonovich_correction(linear_general(True), t, x)
    want = 0.5 * sum((x @ torch.tensor(c).T + torch.tensor(b)) @ torch.tensor(c).T
                     for c, b in zip(C, BV))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-13)
    assert float(ito_stratonovich_correction(linear_general(False), t, x).abs().max()) == 0.0
    gbm = SDE(lambda t, x: 0.1 * x, lambda t, x: 0.4 * x)
    torch.testing.assert_close(ito_stratonovich_correction(gbm, t, x), 0.5 * 0.16 * x,
                               rtol=0, atol=1e-15)
    rot = SDE(lambda t, x: 0 * x, lambda t, x: torch.stack([-x[:, 1], x[:, 0]], 1),
              noise="scalar")                       # g = J x, J a rotation: ½ J² x = -½ x
    torch.testing.assert_close(ito_stratonovich_correction(rot, t, x), -0.5 * x,
                               rtol=0, atol=1e-15)
    strat = ito_to_stratonovich(linear_general(True))
    assert strat.sde_type == "stratonovich" and strat.noise == "general"
    back = stratonovich_to_ito(strat)
    assert back.sde_type == "ito"
    torch.testing.assert_close(back.f(t, x), linear_general(True).f(t, x), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match=r"already stratonovich"):
        ito_to_stratonovich(strat)


# --------------------------------------------------------------------------- Itô ⇄ Stratonovich
MU, SIGMA = 0.5, 0.5


def _gbm(sde_type: str) -> SDE:
    drift = MU if sde_type == "ito" else MU - SIGMA**2 / 2
    return SDE(lambda t, x: drift * x, lambda t, x: SIGMA * x, sde_type=sde_type,
               diffusion_dx=lambda t, x: torch.full_like(x, SIGMA))


@pytest.fixture(scope="module")
def tree():
    return BrownianInterval(0.0, 1.0, (3000, 1), seed=77)


@pytest.mark.parametrize("name", ["heun", "midpoint"])
def test_stratonovich_gbm_equals_ito_gbm_pathwise(tree, name):
    """Stratonovich GBM with drift μ - σ²/2 (solved by Heun/midpoint, no conversion) and Itô GBM
    with drift μ (solved by Milstein) on one BrownianInterval: their pathwise gap
    E|X_strat - X_ito| shrinks at strong order 1 (fitted slope 1 ± 0.15), and each tends to the
    exact exp((μ - σ²/2)T + σ W_T)."""
    x0 = torch.ones(3000, 1, dtype=F64)
    exact = torch.exp((MU - SIGMA**2 / 2) + SIGMA * tree(0.0, 1.0))
    dts = 2.0 ** -np.arange(3, 9)
    gaps, errs = [], []
    for dt in dts:
        xs = solve(_gbm("stratonovich"), x0, [0.0, 1.0], method=name, dt=dt, brownian=tree)[-1]
        xi = solve(_gbm("ito"), x0, [0.0, 1.0], method="milstein", dt=dt, brownian=tree)[-1]
        gaps.append(float((xs - xi).abs().mean()))
        errs.append(float((xs - exact).abs().mean()))
    slope = float(np.polyfit(np.log(dts), np.log(gaps), 1)[0])
    assert abs(slope - 1.0) < 0.15, (slope, gaps)
    assert errs[-1] < errs[0] / 16, errs


def test_ito_method_on_stratonovich_sde_converts():
    """Euler/Milstein on the Stratonovich GBM (drift μ - σ²/2) equal Euler/Milstein on the Itô
    GBM (drift μ) on the same increments, to 1e-12: solve adds the correction ½ σ² x back."""
    bm = BrownianInterval(0.0, 1.0, (200, 1), seed=5)
    x0 = torch.ones(200, 1, dtype=F64)
    for name in ("euler", "milstein"):
        a = solve(_gbm("stratonovich"), x0, [0.0, 1.0], method=name, dt=1 / 64, brownian=bm)
        b = solve(_gbm("ito"), x0, [0.0, 1.0], method=name, dt=1 / 64, brownian=bm)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- strong orders
ROT = torch.tensor([[[0.0, -1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, -1.0]]], dtype=F64) * 0.5


def noncommutative(sde_type: str) -> SDE:
    """dX = Σ_j C_j X ∘ dW_j with a rotation and a stretch generator (C1 C2 ≠ C2 C1), d = m = 2;
    the Stratonovich drift is 0, the Itô drift ½ Σ_j C_j² X (written out, no autograd)."""
    corr = 0.5 * (ROT[0] @ ROT[0] + ROT[1] @ ROT[1])
    scale = 1.0 if sde_type == "ito" else 0.0
    return SDE(lambda t, x: scale * (x @ corr.T), lambda t, x: torch.einsum("jik,bk->bij", ROT, x),
               noise="general", sde_type=sde_type)


@pytest.mark.parametrize("name", ["euler", "heun", "midpoint"])
def test_strong_order_noncommutative_general_noise(name):
    """Non-commutative noise: error against the same method's solution at dt = 2^-10 on one
    BrownianInterval, dt = 2^-2..2^-6, fitted slope within 0.1 of the declared strong order 0.5
    (no scheme without Lévy areas does better: Clark & Cameron 1980). Measured 0.48–0.49 on two
    seeds for each method."""
    method = METHODS[name]
    sde = noncommutative(method.interpretation)
    assert method.strong_order_for(sde) == 0.5
    bm = BrownianInterval(0.0, 1.0, (800, 2), seed=31)
    x0 = torch.tensor([1.0, 0.0], dtype=F64).expand(800, 2).clone()
    ref = solve(sde, x0, [0.0, 1.0], method=name, dt=2.0**-10, brownian=bm)[-1]
    dts = 2.0 ** -np.arange(2, 7)
    errs = [float((solve(sde, x0, [0.0, 1.0], method=name, dt=dt, brownian=bm)[-1] - ref)
                  .norm(dim=1).mean()) for dt in dts]
    slope = float(np.polyfit(np.log(dts), np.log(errs), 1)[0])
    assert abs(slope - 0.5) < 0.1, (slope, errs)


@pytest.mark.parametrize("name", ["euler", "heun", "midpoint"])
def test_general_noise_inplace_and_autograd_agree(name):
    """The no-grad (in-place) and autograd code paths give the same numbers for general noise,
    and gradients flow to x0: with additive noise the scheme is x_{k+1} = P x_k + (noise), so
    d Σ X_N / d x0 = column sums of P^N, P = I + A h (Euler) or I + A h + (A h)²/2 (Heun and
    midpoint on a linear drift), to 1e-12."""
    sde = linear_general(False)
    bm = BrownianInterval(0.0, 1.0, (64, 3), seed=2)
    x0 = torch.tensor(X0).expand(64, 2).clone()
    fast = solve(sde, x0, [0.0, 0.5, 1.0], method=name, dt=1 / 32, brownian=bm)
    x0g = x0.clone().requires_grad_(True)
    slow = solve(sde, x0g, [0.0, 0.5, 1.0], method=name, dt=1 / 32, brownian=bm)
    torch.testing.assert_close(fast, slow.detach(), rtol=1e-13, atol=1e-13)
    slow[-1].sum().backward()
    Ah = A / 32
    P = np.eye(2) + Ah + (0 if name == "euler" else Ah @ Ah / 2)
    want = np.linalg.matrix_power(P, 32).sum(0)
    np.testing.assert_allclose(x0g.grad.numpy(), np.broadcast_to(want, (64, 2)), rtol=1e-12)


# --------------------------------------------------------------------------- bad input
def test_general_noise_bad_input():
    x0 = torch.ones(4, 2, dtype=F64)
    flat = SDE(lambda t, x: -x, lambda t, x: 0.3 * x, noise="general")
    with pytest.raises(ValueError, match=r"diffusion\(t, x\) must return shape \(batch, d, m\) "
                                         r"= \(4, 2, m\).*got \(4, 2\).*view\(batch, d, m\)"):
        solve(flat, x0, [0.0, 1.0], generator=0)
    matrix = SDE(lambda t, x: -x, lambda t, x: torch.ones(4, 2, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"returned a matrix of shape \(4, 2, 3\) but noise="
                                         r"'diagonal'.*Declare noise='general'"):
        solve(matrix, x0, [0.0, 1.0], generator=0)
    wrong_d = SDE(lambda t, x: -x, lambda t, x: torch.ones(4, 3, 3, dtype=F64), noise="general")
    with pytest.raises(ValueError, match=r"\(4, 2, m\).*got \(4, 3, 3\)"):
        solve(wrong_d, x0, [0.0, 1.0], generator=0)
    gen = linear_general(True)
    with pytest.raises(ValueError, match=r"'milstein' does not support noise='general'.*'euler'"):
        solve(gen, x0, [0.0, 1.0], method="milstein", generator=0)
    with pytest.raises(ValueError, match=r"'sra1' needs additive noise"):
        solve(gen, x0, [0.0, 1.0], method="sra1", generator=0)
    with pytest.raises(ValueError, match=r"\(batch, m\) = \(4, 2\), but the solve needs \(4, 3\)"):
        solve(gen, x0, [0.0, 1.0], dt=0.5, brownian=BrownianInterval(0, 1, (4, 2), seed=0))
    with pytest.raises(ValueError, match=r"sde_type must be one of ito, stratonovich"):
        SDE(lambda t, x: x, lambda t, x: x, sde_type="ito-ish")
    with pytest.raises(ValueError, match=r"diffusion_dx is the elementwise"):
        SDE(lambda t, x: x, lambda t, x: x, noise="general", diffusion_dx=lambda t, x: x)
