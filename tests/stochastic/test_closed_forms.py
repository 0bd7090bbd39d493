"""Closed forms V1–V16 of the thesis (kexue.fm archives 3749–3766): reference numbers, and each
formula checked against an independent route (quadrature, the PDE it solves, a recursion)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from kexue.stochastic import closed_forms as cf

ALPHA, THETA, OMEGA, T = 0.7, 1.3, 1.1, 0.9


# ------------------------------------------------------------------ reference numbers (the note)
@pytest.mark.parametrize("value, expected, tol", [
    (lambda: cf.first_passage_cdf(1.0, 1.0, 0.3, 1.0), 0.418346, 5e-7),
    (lambda: cf.black_scholes_call(100.0, 100.0, 0.05, 0.2, 1.0), 10.450584, 5e-7),
    (lambda: cf.euler_gbm_moments(1.0, 0.05, 0.2, 1 / 64, 64)[0], 1.0512506, 5e-8),
    (lambda: cf.gbm_mean(1.0, 1.0, 0.05), 1.0512711, 5e-8),
    (lambda: cf.feynman_kac_linear(0.0, T, 0.8, ALPHA), 1.0559, 5e-5),
    (lambda: cf.feynman_kac_harmonic(0.5, T, OMEGA, ALPHA), 0.696379, 5e-7),
    (lambda: cf.feynman_kac_harmonic_gaussian(0.6, T, OMEGA, ALPHA, 0.5), 0.508754, 5e-7),
    (lambda: cf.exit_probability(0.3, 0.0, 1.0, 0.5, 1.0), 0.410020, 5e-7),
])
def test_reference_numbers(value, expected, tol):
    assert abs(float(value()) - expected) < tol


# ----------------------------------------------------------------------------------- V1–V4
def test_walk_pmf_moments():
    pos, pr = cf.walk_pmf(17, 0.3, up=0.5, down=1.5)
    assert pr.sum() == pytest.approx(1.0, abs=1e-14)
    m = (pos * pr).sum()
    assert m == pytest.approx(cf.walk_mean(17, 0.3, 0.5, 1.5), abs=1e-13)
    assert ((pos - m) ** 2 * pr).sum() == pytest.approx(cf.walk_var(17, 0.3, 0.5, 1.5), rel=1e-13)


@pytest.mark.parametrize("p", [0.5, 0.3, 0.62])
def test_gamblers_ruin_satisfies_first_step_equations(p):
    N = 12
    k = np.arange(N + 1)
    h = cf.gamblers_ruin_probability(k, N, p)
    m = cf.gamblers_ruin_duration(k, N, p)
    assert h[0] == 0.0 and h[-1] == 1.0 and m[0] == 0.0 and m[-1] == 0.0
    np.testing.assert_allclose(h[1:-1], p * h[2:] + (1 - p) * h[:-2], atol=1e-13)
    np.testing.assert_allclose(m[1:-1], 1 + p * m[2:] + (1 - p) * m[:-2], atol=1e-11)


@pytest.mark.parametrize("mu", [0.0, 0.5, -1.2])
def test_exit_problem_solves_its_ode(mu):
    a, b, s = -0.5, 1.0, 0.8
    x = np.linspace(-0.3, 0.8, 12)
    e = 1e-4
    for fn, rhs in ((cf.exit_probability, 0.0), (cf.mean_exit_time, -1.0)):
        def u(z, fn=fn):
            return fn(z, a, b, mu, s)

        du = (u(x + e) - u(x - e)) / (2 * e)
        d2u = (u(x + e) - 2 * u(x) + u(x - e)) / e**2
        lhs = mu * du + 0.5 * s**2 * d2u
        np.testing.assert_allclose(lhs, rhs, atol=2e-6)
        assert abs(u(a)) < 1e-14 and abs(u(b) - (1.0 if rhs == 0 else 0.0)) < 1e-12


# ------------------------------------------------------------------------------------------ V5
def test_first_passage_density_integrates_to_cdf():
    for mu in (0.3, -0.4):
        total, _ = integrate.quad(cf.first_passage_density, 0, 1.7, args=(1.0, mu, 0.9),
                                  epsabs=1e-13)
        assert total == pytest.approx(cf.first_passage_cdf(1.7, 1.0, mu, 0.9), abs=1e-10)


# ----------------------------------------------------------------------------------- V6–V10
def test_heat_kernel_chapman_kolmogorov():
    y = np.linspace(-12, 12, 4001)
    lhs = np.trapezoid(cf.heat_kernel(0.4, y, 0.5, ALPHA) * cf.heat_kernel(y, -0.2, 0.3, ALPHA), y)
    assert lhs == pytest.approx(cf.heat_kernel(0.4, -0.2, 0.8, ALPHA), rel=1e-12)


def test_ou_semigroup_and_gaussian_start():
    y = np.linspace(-10, 10, 4001)
    k1 = cf.ou_transition_density(y, 0.7, 0.4, THETA, ALPHA)
    lhs = np.trapezoid(cf.ou_transition_density(-0.1, y, 0.5, THETA, ALPHA) * k1, y)
    assert lhs == pytest.approx(cf.ou_transition_density(-0.1, 0.7, 0.9, THETA, ALPHA), rel=1e-12)
    p0 = stats.norm.pdf(y, 1.0, 0.1)
    m, v = cf.ou_gaussian_evolution(1.0, 0.1, T, THETA, ALPHA)
    lhs = np.trapezoid(cf.ou_transition_density(0.3, y, T, THETA, ALPHA) * p0, y)
    assert lhs == pytest.approx(stats.norm.pdf(0.3, m, np.sqrt(v)), rel=1e-10)
    assert cf.ou_var(50.0, THETA, ALPHA) == pytest.approx(ALPHA / (2 * THETA), rel=1e-14)
    assert cf.ou_var(T, 0.0, ALPHA) == pytest.approx(ALPHA * T)


@pytest.mark.parametrize("lam", [-THETA, 1.0, 0.4])
def test_thesis_identity_v10(lam):
    """SDE density == e^{λ(xb²−xa²)/(2α)} e^{−λT/2} K_Mehler(|λ|), to 1e-12 (relative)."""
    xb, xa = np.meshgrid(np.linspace(-3, 3, 41), np.linspace(-2, 2, 21))
    lhs = cf.linear_sde_density(xb, xa, T, ALPHA, lam)
    rhs = cf.linear_density_from_mehler(xb, xa, T, lam, ALPHA)
    np.testing.assert_allclose(rhs, lhs, rtol=1e-12, atol=0)
    if lam == 1.0:  # Su's eq. 49
        v = ALPHA * (np.exp(2 * T) - 1) / 2
        np.testing.assert_allclose(lhs, stats.norm.pdf(xb, xa * np.exp(T), np.sqrt(v)), rtol=1e-12)


def test_mehler_equals_van_vleck_and_classical_path():
    xb, xa = 0.8, -0.3
    S = cf.harmonic_classical_action(xb, xa, T, OMEGA)
    K = cf.van_vleck_kernel(S, -OMEGA / np.sinh(OMEGA * T), ALPHA)
    assert K == pytest.approx(cf.mehler_kernel(xb, xa, T, OMEGA, ALPHA), rel=1e-14)
    # the classical path solves x'' = ω² x with the right ends, and its action is S_cl
    t = np.linspace(0, T, 20001)
    x = cf.harmonic_classical_path(t, xa, xb, T, OMEGA)
    assert x[0] == pytest.approx(xa) and x[-1] == pytest.approx(xb)
    xd = np.gradient(x, t, edge_order=2)
    assert np.trapezoid(0.5 * xd**2 + 0.5 * OMEGA**2 * x**2, t) == pytest.approx(S, rel=1e-7)


def test_mehler_solves_imaginary_time_schrodinger():
    """α K_T = (α²/2) K_xx − (ω² x²/2) K, by finite differences."""
    x, xa, e = np.linspace(-2, 2, 9), 0.3, 1e-4
    K = lambda z, s: cf.mehler_kernel(z, xa, s, OMEGA, ALPHA)  # noqa: E731
    lhs = ALPHA * (K(x, T + e) - K(x, T - e)) / (2 * e)
    kxx = (K(x + e, T) - 2 * K(x, T) + K(x - e, T)) / e**2
    rhs = ALPHA**2 / 2 * kxx - OMEGA**2 * x**2 / 2 * K(x, T)
    np.testing.assert_allclose(lhs, rhs, atol=3e-6)


# ---------------------------------------------------------------------------------- V11, V12
def test_feynman_kac_harmonic_is_mehler_integrated():
    """Which quantity the note's numbers are: 0.696379 is ∫K dy at x = 0.5; 0.508754 is
    ∫K e^{−y²/2} dy at x = 0.6 (α = 0.7, ω = 1.1, T = 0.9)."""
    one, _ = integrate.quad(lambda y: cf.mehler_kernel(y, 0.5, T, OMEGA, ALPHA), -np.inf, np.inf,
                            epsabs=1e-13)
    gauss, _ = integrate.quad(lambda y: cf.mehler_kernel(y, 0.6, T, OMEGA, ALPHA)
                              * np.exp(-0.5 * y * y), -np.inf, np.inf, epsabs=1e-13)
    assert one == pytest.approx(0.6963794386970096, abs=1e-11)
    assert gauss == pytest.approx(0.5087535277939311, abs=1e-11)
    assert cf.feynman_kac_harmonic(0.5, T, OMEGA, ALPHA) == pytest.approx(one, abs=1e-12)
    assert cf.feynman_kac_harmonic_gaussian(0.6, T, OMEGA, ALPHA, 0.5) == pytest.approx(gauss,
                                                                                       abs=1e-12)


def test_feynman_kac_linear_is_gaussian_mgf():
    # ∫_0^T X ds ~ N(xT, α T³/3)
    x, c = 0.4, 0.8
    m, v = x * T, ALPHA * T**3 / 3
    assert cf.feynman_kac_linear(x, T, c, ALPHA) == pytest.approx(np.exp(-c * m + c * c * v / 2))


# -------------------------------------------------------------------------------- V13, V14
def test_gbm_density_moments():
    s0, mu, sig, t = 100.0, 0.05, 0.2, 1.0
    f = lambda s: cf.gbm_density(s, s0, t, mu, sig)  # noqa: E731
    assert integrate.quad(f, 0, np.inf, epsabs=1e-13)[0] == pytest.approx(1.0, abs=1e-10)
    m = integrate.quad(lambda s: s * f(s), 0, np.inf, epsabs=1e-10)[0]
    assert m == pytest.approx(cf.gbm_mean(s0, t, mu), rel=1e-10)
    v = integrate.quad(lambda s: (s - m) ** 2 * f(s), 0, np.inf, epsabs=1e-8)[0]
    assert v == pytest.approx(cf.gbm_var(s0, t, mu, sig), rel=1e-9)
    assert cf.gbm_density(-1.0, s0, t, mu, sig) == 0.0
    assert cf.gbm_exact(s0, t, 0.0, mu, sig) == pytest.approx(s0 * np.exp(mu - sig**2 / 2))


def test_euler_gbm_moments_weak_order_one():
    errs = [abs(cf.euler_gbm_moments(1.0, 0.05, 0.2, 1 / n, n)[0] - np.exp(0.05))
            for n in (8, 16, 32, 64)]
    slope = np.polyfit(np.log([1 / 8, 1 / 16, 1 / 32, 1 / 64]), np.log(errs), 1)[0]
    assert abs(slope - 1.0) < 0.05
    m1, m2 = cf.euler_gbm_moments(1.0, 0.05, 0.2, 1e-5, 100000)
    assert m2 - m1**2 == pytest.approx(cf.gbm_var(1.0, 1.0, 0.05, 0.2), rel=1e-4)


def test_black_scholes_parity_and_expectation():
    S, K, r, sig, t = 90.0, 100.0, 0.03, 0.25, 0.7
    c, p = cf.black_scholes_call(S, K, r, sig, t), cf.black_scholes_put(S, K, r, sig, t)
    assert c - p == pytest.approx(S - K * np.exp(-r * t), abs=1e-12)
    disc = integrate.quad(lambda s: (s - K) * cf.gbm_density(s, S, t, r, sig), K, np.inf,
                          epsabs=1e-12)[0]
    assert c == pytest.approx(np.exp(-r * t) * disc, rel=1e-10)


# -------------------------------------------------------------------------------- V15, V16
def test_heat_dirichlet_mode_and_image_solution():
    L, x, t, e = 2.0, np.linspace(0.1, 1.9, 7), 0.3, 1e-4
    u = lambda z, s: cf.heat_dirichlet_mode(z, s, L, ALPHA)  # noqa: E731
    lhs = (u(x, t + e) - u(x, t - e)) / (2 * e)
    rhs = ALPHA / 2 * (u(x + e, t) - 2 * u(x, t) + u(x - e, t)) / e**2
    np.testing.assert_allclose(lhs, rhs, atol=1e-6)
    assert abs(u(0.0, t)) < 1e-15 and abs(u(L, t)) < 1e-15
    w = lambda z, s: cf.heat_absorbing_wall(z, s, 0.7, ALPHA)  # noqa: E731
    assert w(0.0, t) == 0.0
    lhs = (w(x, t + e) - w(x, t - e)) / (2 * e)
    rhs = ALPHA / 2 * (w(x + e, t) - 2 * w(x, t) + w(x - e, t)) / e**2
    np.testing.assert_allclose(lhs, rhs, atol=2e-5)
    # surviving mass equals 1 − P(hit 0) = 1 − 2Φ(−x0/s)
    mass = integrate.quad(w, 0, np.inf, args=(t,))[0]
    assert mass == pytest.approx(1 - 2 * stats.norm.cdf(-0.7 / np.sqrt(ALPHA * t)), abs=1e-10)


def test_double_well_density():
    p = lambda z: cf.double_well_stationary_density(z, ALPHA)  # noqa: E731
    assert integrate.quad(p, -np.inf, np.inf)[0] == pytest.approx(1.0, abs=1e-10)
    assert p(1.0) / p(0.0) == pytest.approx(np.exp(-2 * (-0.25) / ALPHA), rel=1e-13)
    # stationary: the flux −U' P − (α/2) P' vanishes
    x, e = np.linspace(-2, 2, 9), 1e-5
    flux = (x - x**3) * p(x) - ALPHA / 2 * (p(x + e) - p(x - e)) / (2 * e)
    np.testing.assert_allclose(flux, 0.0, atol=1e-8)


# ----------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, word", [
    (lambda: cf.heat_kernel(0.0, 0.0, 1.0, alpha=-1.0), "alpha"),
    (lambda: cf.walk_pmf(3, 1.5), "p"),
    (lambda: cf.walk_pmf(-1, 0.5), "n"),
    (lambda: cf.gamblers_ruin_probability(2, 5, -0.1), "p"),
    (lambda: cf.black_scholes_call(100, 100, 0.05, 0.0, 1.0), "sigma"),
    (lambda: cf.first_passage_cdf(1.0, -1.0), "a"),
    (lambda: cf.mehler_kernel(0, 0, 1.0, 1.0, 0.0), "alpha"),
])
def test_bad_input_names_the_argument(call, word):
    with pytest.raises(ValueError, match=rf"^{word} "):
        call()
