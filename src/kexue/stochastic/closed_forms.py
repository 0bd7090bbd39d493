r"""Closed forms of Su Jianlin's thesis (kexue.fm archives 3749–3766): test cases V1–V16.

Every function computes in float64 NumPy/SciPy and broadcasts over array arguments. **Inputs and
outputs:** NumPy arrays / Python numbers in → NumPy arrays / NumPy scalars out; **tensors in →
tensors out** on the tensors' device, in their (promoted) floating dtype (PyTorch's default dtype
for integer tensors) — the maths still runs in float64 on the host and is not differentiable
(tensors are detached). Tuples of results come back as tuples of tensors; a scipy law
(:func:`cir_distribution`) is returned as it is. A potential passed to :func:`gibbs_density`
receives NumPy arrays.

Notation follows the thesis: diffusion constant ``alpha`` (the variance rate,
``dx = p dt + sqrt(alpha) dW``), drift ``p``. **Every function with an ``alpha`` argument also
accepts ``sigma=`` instead** (keyword only; ``alpha = sigma**2``, the volatility of
``dx = p dt + sigma dW``; passing both is a ``TypeError``). The finance, first-passage and CIR
cases take the customary ``mu`` and volatility ``sigma`` directly. ``Φ`` is the standard normal
CDF.

Cases and functions:

* V1 finite walk ``+a`` w.p. ``p``, ``-b`` w.p. ``q``: :func:`walk_pmf`, :func:`walk_mean`,
  :func:`walk_var`
* V2 asymmetric walk → drift-diffusion ``N(x0 + p t, alpha t)``: :func:`drift_diffusion_density`
* V3 gambler's ruin on ``{0..N}``: :func:`gamblers_ruin_probability`,
  :func:`gamblers_ruin_duration`
* V4 exit of drifted BM from ``(a, b)``: :func:`exit_probability`, :func:`mean_exit_time`
* V5 first passage of drifted BM to ``a > 0``: :func:`first_passage_density`,
  :func:`first_passage_cdf`
* V6 heat kernel / free propagator: :func:`heat_kernel`
* V7 Ornstein–Uhlenbeck ``dx = -θ x dt + sqrt(alpha) dW``: :func:`ou_mean`, :func:`ou_var`,
  :func:`ou_transition_density`, :func:`ou_gaussian_evolution`, :func:`ou_stationary_density`
* V8 Su's linear SDE ``dx = x dt + sqrt(alpha) dW`` (eq. 49): :func:`linear_sde_density`
* V9 Mehler kernel (Euclidean harmonic oscillator): :func:`mehler_kernel`,
  :func:`harmonic_classical_action`, :func:`harmonic_classical_path`, :func:`van_vleck_kernel`
* V10 the thesis identity, SDE density = rescaled Mehler kernel:
  :func:`linear_density_from_mehler`
* V11 Feynman–Kac, harmonic potential: :func:`feynman_kac_harmonic`,
  :func:`feynman_kac_harmonic_gaussian`
* V12 Feynman–Kac, linear potential: :func:`feynman_kac_linear`
* V13 geometric Brownian motion: :func:`gbm_density`, :func:`gbm_mean`, :func:`gbm_var`,
  :func:`gbm_exact`, :func:`euler_gbm_moments`
* V14 Black–Scholes: :func:`black_scholes_call`, :func:`black_scholes_put`
* V15 heat equation with Dirichlet walls: :func:`heat_dirichlet_mode`, :func:`heat_absorbing_wall`
* V16 equilibrium density ``∝ exp(-2U/alpha)``: :func:`gibbs_density`,
  :func:`double_well_stationary_density`

Sources: Su Jianlin, "Random walks, SDEs and path-integral methods for PDEs" (kexue.fm archives
3749, 3750, 3757, 3762, 3766); Feller, *An Introduction to Probability Theory*, vol. 1 ch. XIV
(gambler's ruin); Karatzas & Shreve, *Brownian Motion and Stochastic Calculus* §3.5 (first
passage); Mehler (1866); Black & Scholes (1973).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import integrate, special, stats

__all__ = [
    "walk_pmf", "walk_mean", "walk_var",
    "drift_diffusion_density",
    "gamblers_ruin_probability", "gamblers_ruin_duration",
    "exit_probability", "mean_exit_time",
    "first_passage_density", "first_passage_cdf",
    "heat_kernel",
    "ou_mean", "ou_var", "ou_transition_density", "ou_gaussian_evolution", "ou_stationary_density",
    "linear_sde_density",
    "mehler_kernel", "harmonic_classical_action", "harmonic_classical_path", "van_vleck_kernel",
    "linear_density_from_mehler",
    "feynman_kac_harmonic", "feynman_kac_harmonic_gaussian", "feynman_kac_linear",
    "gbm_density", "gbm_mean", "gbm_var", "gbm_exact", "euler_gbm_moments",
    "black_scholes_call", "black_scholes_put",
    "heat_dirichlet_mode", "heat_absorbing_wall",
    "gibbs_density", "double_well_potential", "double_well_stationary_density",
    "mehler_first_order", "cir_mean", "cir_var", "cir_distribution",
    "linear_sde_nd_moments", "lyapunov_covariance", "gaussian_density_2d",
]


def _f64(*arrays):
    out = tuple(np.asarray(a, dtype=np.float64) for a in arrays)
    return out if len(out) > 1 else out[0]


def _positive(name: str, value, fix: str = "") -> None:
    v = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{name} must be finite and > 0; got {value!r}. {fix}".rstrip())


def _probability(name: str, value) -> None:
    v = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(v)) or np.any(v < 0) or np.any(v > 1):
        raise ValueError(f"{name} must be a probability in [0, 1]; got {value!r}.")


def _norm_pdf(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------------------------- V1
def walk_pmf(n: int, p: float, up: float = 1.0, down: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """V1: exact law of a walk after ``n`` steps of ``+up`` (prob. ``p``) or ``-down`` (``1-p``).

    ``X_n = k·up − (n−k)·down`` with ``k ~ Binomial(n, p)`` (thesis eq. 1, archive 3750).

    Returns:
        ``(positions, probabilities)``, both of shape ``(n + 1,)``, ordered by ``k = 0..n``
        (increasing positions).
    """
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer number of steps; got {n!r}.")
    _probability("p", p)
    n = int(n)
    k = np.arange(n + 1, dtype=np.float64)
    try:
        probs = stats.binom.pmf(np.arange(n + 1), n, p)
    except OverflowError:  # Boost overflows for subnormal p or q; the log form is safe there
        probs = np.exp(special.gammaln(n + 1.0) - special.gammaln(k + 1.0)
                       - special.gammaln(n - k + 1.0) + special.xlogy(k, p)
                       + special.xlog1py(n - k, -p))
    return k * up - (n - k) * down, probs


def walk_mean(n, p, up: float = 1.0, down: float = 1.0):
    """V1: ``E X_n = n (p·up − q·down)``.

    Source: random-walk model of Su's thesis, part 2 (kexue.fm archive 3750); reference case V1.
    """
    n, p = _f64(n, p)
    return n * (p * up - (1.0 - p) * down)


def walk_var(n, p, up: float = 1.0, down: float = 1.0):
    """V1: ``Var X_n = n p q (up + down)^2``.

    Source: random-walk model of Su's thesis, part 2 (kexue.fm archive 3750); reference case V1.
    """
    n, p = _f64(n, p)
    return n * p * (1.0 - p) * (up + down) ** 2


# --------------------------------------------------------------------------------------------- V2
def drift_diffusion_density(x, t, x0=0.0, p=0.0, alpha=1.0):
    """V2: density ``N(x0 + p t, alpha t)`` of ``dx = p dt + sqrt(alpha) dW`` (constant ``p``).

    The continuum limit of the asymmetric walk with ``w± = ½(1 ± p Δs/alpha)`` (archive 3750).
    """
    _positive("alpha", alpha)
    _positive("t", t)
    x, t, x0, p = _f64(x, t, x0, p)
    s2 = alpha * t
    return np.exp(-((x - x0 - p * t) ** 2) / (2.0 * s2)) / np.sqrt(2.0 * np.pi * s2)


# --------------------------------------------------------------------------------------------- V3
def gamblers_ruin_probability(k, N, p):
    """V3: probability that the ±1 walk started at ``k`` hits ``N`` before ``0``.

    Source: the classical ruin problem (Feller 1968, An Introduction to Probability Theory and Its
    Applications, vol. 1, ch. XIV); walks as in kexue.fm archive 3750.

    ``(1 − r^k)/(1 − r^N)`` with ``r = q/p``; ``k/N`` when ``p = q = 1/2`` (Feller vol. 1, XIV.2).
    ``p = 0`` and ``p = 1`` give 0 and 1 for interior ``k``.
    """
    _probability("p", p)
    k, N, p = _f64(k, N, p)
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        log_r = np.log(q) - np.log(p)
        asym = np.expm1(k * log_r) / np.expm1(N * log_r)
        out = np.where(p == q, k / N, asym)
        out = np.where(p == 0.0, np.where(k >= N, 1.0, 0.0), out)
        out = np.where(p == 1.0, np.where(k <= 0, 0.0, 1.0), out)
    out = np.where(k <= 0, 0.0, np.where(k >= N, 1.0, out))
    return out[()] if out.ndim == 0 else out


def gamblers_ruin_duration(k, N, p):
    """V3: expected number of steps until the ±1 walk from ``k`` hits ``0`` or ``N``.

    Source: the classical ruin problem (Feller 1968, An Introduction to Probability Theory and Its
    Applications, vol. 1, ch. XIV); walks as in kexue.fm archive 3750.

    ``k(N − k)`` when ``p = q``; otherwise ``k/(q − p) − N/(q − p) · (1 − r^k)/(1 − r^N)``,
    ``r = q/p`` (Feller vol. 1, XIV.3). The asymmetric form loses about ``eps/|q − p|`` relative
    accuracy as ``p → 1/2``.
    """
    _probability("p", p)
    k, N, p = _f64(k, N, p)
    q = 1.0 - p
    hit = gamblers_ruin_probability(k, N, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        asym = (k - N * hit) / (q - p)
        out = np.where(p == q, k * (N - k), asym)
    out = np.where((k <= 0) | (k >= N), 0.0, out)
    return out[()] if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------- V4
def exit_probability(x, a, b, mu, sigma):
    """V4: probability that ``dX = mu dt + sigma dW`` from ``x ∈ (a, b)`` exits at ``b`` first.

    Source: the scale function of drifted Brownian motion (Karlin and Taylor 1981, A Second Course
    in Stochastic Processes, ch. 15); the SDE of kexue.fm archive 3762 with constant drift.

    ``(1 − exp(−2mu(x−a)/sigma²)) / (1 − exp(−2mu(b−a)/sigma²))``, and ``(x − a)/(b − a)`` for
    ``mu = 0``. (Scale function of the diffusion; Karlin & Taylor, *A Second Course*, §15.3.)
    """
    _positive("sigma", sigma)
    x, a, b, mu, sigma = _f64(x, a, b, mu, sigma)
    s2 = sigma * sigma
    with np.errstate(divide="ignore", invalid="ignore"):
        drifted = np.expm1(-2.0 * mu * (x - a) / s2) / np.expm1(-2.0 * mu * (b - a) / s2)
        out = np.where(mu == 0.0, (x - a) / (b - a), drifted)
    return out[()] if out.ndim == 0 else out


def mean_exit_time(x, a, b, mu, sigma):
    """V4: ``E[τ]`` for the exit of ``dX = mu dt + sigma dW`` from ``(a, b)``, started at ``x``.

    Source: the scale function of drifted Brownian motion (Karlin and Taylor 1981, A Second Course
    in Stochastic Processes, ch. 15); the SDE of kexue.fm archive 3762 with constant drift.

    Solves ``mu u' + (sigma²/2) u'' = −1``, ``u(a) = u(b) = 0``:
    ``u = [(b − a) P_b(x) − (x − a)]/mu`` with ``P_b`` from :func:`exit_probability`, and
    ``(x − a)(b − x)/sigma²`` for ``mu = 0``.
    """
    x, a, b, mu, sigma = _f64(x, a, b, mu, sigma)
    pb = exit_probability(x, a, b, mu, sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mu == 0.0, (x - a) * (b - x) / sigma**2, ((b - a) * pb - (x - a)) / mu)
    return out[()] if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------- V5
def first_passage_density(t, a, mu=0.0, sigma=1.0):
    """V5: density of ``τ = inf{t: X_t = a}`` for ``X = mu t + sigma W``, level ``a > 0``.

    Source: the inverse-Gaussian first-passage law of drifted Brownian motion (Karatzas and Shreve
    1991, Brownian Motion and Stochastic Calculus, ch. 3); the SDE of kexue.fm archive 3762.

    ``a / (sigma sqrt(2π t³)) · exp(−(a − mu t)²/(2 sigma² t))`` (inverse Gaussian; defective
    when ``mu < 0``).
    """
    _positive("a", a, "The level must lie above the start X_0 = 0.")
    _positive("sigma", sigma)
    t, a, mu, sigma = _f64(t, a, mu, sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / (sigma * np.sqrt(2.0 * np.pi * t**3)) * np.exp(
            -((a - mu * t) ** 2) / (2.0 * sigma**2 * t))
    out = np.where(t > 0, out, 0.0)
    return out[()] if out.ndim == 0 else out


def first_passage_cdf(T, a, mu=0.0, sigma=1.0):
    """V5: ``P(τ ≤ T) = Φ((mu T − a)/(sigma√T)) + e^{2 mu a/sigma²} Φ((−a − mu T)/(sigma√T))``.

    Source: the first-passage law of drifted Brownian motion (Karatzas and Shreve 1991, Brownian
    Motion and Stochastic Calculus, ch. 3); the SDE of kexue.fm archive 3762.

    E.g. ``mu=0.3, sigma=1, a=1, T=1 → 0.418346``. The second term is evaluated in log space
    (``log Φ`` via :func:`scipy.special.log_ndtr`) so large ``2 mu a/sigma²`` does not overflow.
    """
    _positive("a", a, "The level must lie above the start X_0 = 0.")
    _positive("sigma", sigma)
    _positive("T", T)
    T, a, mu, sigma = _f64(T, a, mu, sigma)
    sq = sigma * np.sqrt(T)
    second = np.exp(2.0 * mu * a / sigma**2 + special.log_ndtr((-a - mu * T) / sq))
    return special.ndtr((mu * T - a) / sq) + second


# --------------------------------------------------------------------------------------------- V6
def heat_kernel(xb, xa, t, alpha=1.0):
    """V6: free propagator ``(2π alpha t)^{-1/2} exp(−(xb − xa)²/(2 alpha t))`` (thesis eq. 7, 28).

    Source: the free propagator of Su's thesis, path integral (kexue.fm archive 3757); reference
    case V6.

    The kernel of ``P_t = (alpha/2) P_xx``; also the VVPM formula with ``S_cl = (xb−xa)²/(2t)``.
    """
    _positive("alpha", alpha, "alpha is the diffusion constant (variance per unit time).")
    _positive("t", t)
    xb, xa, t = _f64(xb, xa, t)
    return np.exp(-((xb - xa) ** 2) / (2.0 * alpha * t)) / np.sqrt(2.0 * np.pi * alpha * t)


# ------------------------------------------------------------------------------------------ V7-V8
def _linear_var(t, theta, alpha):
    """Variance of ``dx = −θ x dt + sqrt(alpha) dW`` after ``t`` from a point (any real θ)."""
    t, theta = _f64(t, theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = -alpha * np.expm1(-2.0 * theta * t) / (2.0 * theta)
    return np.where(theta == 0.0, alpha * t, v)


def ou_mean(xa, t, theta):
    """V7: ``E[X_t | X_0 = xa] = xa e^{−θ t}`` for ``dx = −θ x dt + sqrt(alpha) dW``.

    Ornstein–Uhlenbeck (Uhlenbeck and Ornstein 1930) in the thesis' notation of kexue.fm archive
    3762; the mean does not depend on ``alpha``.

    Examples:
        >>> from kexue.stochastic import closed_forms
        >>> round(float(closed_forms.ou_mean(1.0, 1.0, 1.0)), 6)   # e^{-1}
        0.367879
    """
    xa, t, theta = _f64(xa, t, theta)
    return xa * np.exp(-theta * t)


def ou_var(t, theta, alpha):
    """V7: ``Var X_t = alpha (1 − e^{−2θ t})/(2θ)`` (``alpha t`` at θ = 0; any real θ).

    Source: Ornstein–Uhlenbeck (Uhlenbeck and Ornstein 1930) in the notation of kexue.fm archive
    3762.
    """
    _positive("alpha", alpha)
    out = _linear_var(t, theta, alpha)
    return out[()] if out.ndim == 0 else out


def ou_transition_density(xb, xa, t, theta, alpha):
    """V7: ``N(xa e^{−θt}, alpha(1 − e^{−2θt})/(2θ))`` evaluated at ``xb``.

    Source: Ornstein–Uhlenbeck (Uhlenbeck and Ornstein 1930) in the notation of kexue.fm archive
    3762.

    Valid for any real ``theta``; ``theta < 0`` is the unstable linear SDE (V8 is θ = −1).
    """
    _positive("alpha", alpha)
    _positive("t", t)
    xb, xa, t, theta = _f64(xb, xa, t, theta)
    v = _linear_var(t, theta, alpha)
    m = xa * np.exp(-theta * t)
    return np.exp(-((xb - m) ** 2) / (2.0 * v)) / np.sqrt(2.0 * np.pi * v)


def ou_gaussian_evolution(m0, s0, t, theta, alpha):
    """V7: a Gaussian start ``N(m0, s0²)`` stays Gaussian: returns ``(mean, var)`` at time ``t``.

    Source: Ornstein–Uhlenbeck (Uhlenbeck and Ornstein 1930) in the notation of kexue.fm archive
    3762.

    ``mean = m0 e^{−θt}``, ``var = s0² e^{−2θt} + alpha(1 − e^{−2θt})/(2θ)``.
    """
    _positive("alpha", alpha)
    m0, s0, t, theta = _f64(m0, s0, t, theta)
    return m0 * np.exp(-theta * t), s0**2 * np.exp(-2.0 * theta * t) + _linear_var(t, theta, alpha)


def ou_stationary_density(x, theta, alpha):
    """V7: stationary law ``N(0, alpha/(2θ))`` of the OU process (``theta > 0``).

    Source: Ornstein–Uhlenbeck (Uhlenbeck and Ornstein 1930) in the notation of kexue.fm archive
    3762.
    """
    _positive("theta", theta, "The OU process has a stationary law only for theta > 0.")
    _positive("alpha", alpha)
    x = _f64(x)
    v = alpha / (2.0 * theta)
    return np.exp(-x * x / (2.0 * v)) / np.sqrt(2.0 * np.pi * v)


def linear_sde_density(xb, xa, t, alpha, lam=1.0):
    """V8: transition density of ``dx = lam·x dt + sqrt(alpha) dW``; Su's eq. 49 is ``lam = 1``.

    Source: Su's thesis, SDE chapter (kexue.fm archive 3762), eq. 49 (reference case V8).

    ``N(xa e^{lam t}, alpha (e^{2 lam t} − 1)/(2 lam))``.
    """
    return ou_transition_density(xb, xa, t, -np.asarray(lam, dtype=np.float64), alpha)


# --------------------------------------------------------------------------------------------- V9
def mehler_kernel(xb, xa, T, omega, alpha):
    """V9: Mehler kernel of ``alpha φ_t = (alpha²/2) φ_xx − (omega² x²/2) φ`` (Euclidean HO).

    ``K = sqrt(ω/(2π alpha sinh ωT)) exp{−ω[(xa² + xb²) cosh ωT − 2 xa xb]/(2 alpha sinh ωT)}``;
    equivalently ``E_{xa}[exp(−(ω²/(2alpha))∫X²) ; X_T ∈ dxb]`` with ``X = xa + sqrt(alpha) W``
    (archive 3757, eq. 46 with ħ → alpha).
    """
    _positive("alpha", alpha)
    _positive("T", T)
    _positive("omega", omega, "Use heat_kernel for omega = 0.")
    xb, xa, T, omega = _f64(xb, xa, T, omega)
    s = np.sinh(omega * T)
    pref = np.sqrt(omega / (2.0 * np.pi * alpha * s))
    return pref * np.exp(-omega * ((xa**2 + xb**2) * np.cosh(omega * T) - 2.0 * xa * xb)
                         / (2.0 * alpha * s))


def harmonic_classical_action(xb, xa, T, omega):
    """V9: ``S_cl = ω[(xa² + xb²) cosh ωT − 2 xa xb]/(2 sinh ωT)``, ``S = ∫(ẋ²/2 + ω²x²/2)dt``.

    Source: the quadratic-action case of Su's thesis, path integral (kexue.fm archive 3757); Mehler
    1866 for the kernel it enters.
    """
    _positive("omega", omega)
    xb, xa, T, omega = _f64(xb, xa, T, omega)
    return omega * ((xa**2 + xb**2) * np.cosh(omega * T) - 2.0 * xa * xb) / (
        2.0 * np.sinh(omega * T))


def harmonic_classical_path(t, xa, xb, T, omega):
    """V9: the most probable path ``[xa sinh ω(T−t) + xb sinh ωt]/sinh ωT`` (solves ẍ = ω² x).

    Source: the most probable path of Su's thesis (kexue.fm archives 3757, 3762) for a harmonic
    potential.
    """
    t, xa, xb, T, omega = _f64(t, xa, xb, T, omega)
    return (xa * np.sinh(omega * (T - t)) + xb * np.sinh(omega * t)) / np.sinh(omega * T)


def van_vleck_kernel(action, mixed_second_derivative, alpha):
    """V9: Van Vleck–Pauli–Morette kernel ``(2π alpha)^{-1/2} sqrt(−∂²S/∂xa∂xb) exp(−S_cl/alpha)``.

    Exact for quadratic actions (archive 3757, eq. 46 with ħ → alpha). For the oscillator
    ``∂²S_cl/∂xa∂xb = −ω/sinh ωT`` and the result is :func:`mehler_kernel`.

    Args:
        action: ``S_cl(xb, xa)``, array.
        mixed_second_derivative: ``∂²S_cl/∂xa∂xb`` (must be negative), array.
        alpha: the diffusion constant (plays ħ).
    """
    _positive("alpha", alpha)
    action, d2 = _f64(action, mixed_second_derivative)
    if np.any(d2 >= 0):
        raise ValueError("mixed_second_derivative must be negative (−∂²S/∂xa∂xb > 0); "
                         f"got max {float(np.max(d2))}.")
    return np.sqrt(-d2 / (2.0 * np.pi * alpha)) * np.exp(-action / alpha)


# -------------------------------------------------------------------------------------------- V10
def linear_density_from_mehler(xb, xa, t, lam, alpha):
    """V10: the thesis identity — the density of ``dx = lam·x dt + sqrt(alpha) dW`` from Mehler.

    Su's transform ``P = e^{U/alpha} φ`` with ``U = ∫p dx = lam x²/2`` turns the Fokker–Planck
    equation into ``alpha φ_t = (alpha²/2) φ_xx + V φ``, ``V = −½(alpha p_x + p²)
    = −alpha·lam/2 − lam² x²/2`` (archive 3750 eqs. 18–19; archive 3762 eq. 68). Hence

        ``P(xb, t | xa) = exp(lam (xb² − xa²)/(2 alpha)) · e^{−lam t/2} · K_Mehler(ω = |lam|)``.

    ``lam = −θ`` is the OU case, ``lam = 1`` is eq. 49. Must equal :func:`ou_transition_density`
    with ``theta = −lam`` to rounding.
    """
    lam = np.asarray(lam, dtype=np.float64)
    xb, xa, t = _f64(xb, xa, t)
    return (np.exp(lam * (xb**2 - xa**2) / (2.0 * alpha) - lam * t / 2.0)
            * mehler_kernel(xb, xa, t, np.abs(lam), alpha))


# -------------------------------------------------------------------------------------------- V11
def feynman_kac_harmonic(x, T, omega, alpha):
    """V11: ``E_x[exp(−(ω²/(2alpha))∫_0^T X_s² ds)] = (cosh ωT)^{-½} exp(−ω x² tanh(ωT)/(2alpha))``.

    Source: Feynman–Kac (Kac 1949) as in Su's thesis, path integral (kexue.fm archive 3757);
    reference case V11.

    ``X = x + sqrt(alpha) W``; this is Feynman–Kac with ``V = −ω² x²/2`` and ``φ_0 ≡ 1``, i.e.
    ``∫ K_Mehler(y, x) dy``. Example: ``alpha=0.7, ω=1.1, T=0.9, x=0.5 → 0.6963794``.
    """
    _positive("alpha", alpha)
    x, T, omega = _f64(x, T, omega)
    return np.cosh(omega * T) ** -0.5 * np.exp(-omega * x**2 * np.tanh(omega * T) / (2.0 * alpha))


def feynman_kac_harmonic_gaussian(x, T, omega, alpha, beta):
    """V11: ``E_x[exp(−(ω²/(2alpha)) ∫_0^T X_s² ds) exp(−beta X_T²)]`` (Gaussian initial data).

    Source: Feynman–Kac (Kac 1949) as in Su's thesis, path integral (kexue.fm archive 3757);
    reference case V11.

    ``u = A sqrt(π/(c/2 + β)) exp(b² x²/(4(c/2 + β)) − c x²/2)`` with
    ``A = sqrt(ω/(2π alpha sinh ωT))``, ``c = ω cosh ωT/(alpha sinh ωT)``,
    ``b = ω/(alpha sinh ωT)``: the Mehler kernel integrated against ``e^{−β y²}``.
    Example: ``alpha=0.7, ω=1.1, T=0.9, β=0.5, x=0.6 → 0.5087535``.
    """
    _positive("alpha", alpha)
    x, T, omega, beta = _f64(x, T, omega, beta)
    s = np.sinh(omega * T)
    A = np.sqrt(omega / (2.0 * np.pi * alpha * s))
    c = omega * np.cosh(omega * T) / (alpha * s)
    b = omega / (alpha * s)
    h = c / 2.0 + beta
    return A * np.sqrt(np.pi / h) * np.exp(b * b * x * x / (4.0 * h) - c * x * x / 2.0)


# -------------------------------------------------------------------------------------------- V12
def feynman_kac_linear(x, T, c, alpha):
    """V12: ``E_x[exp(−c ∫_0^T X_s ds)] = exp(−c x T + c² alpha T³/6)``, ``X = x + sqrt(alpha) W``.

    Source: Feynman–Kac (Kac 1949) as in Su's thesis, path integral (kexue.fm archive 3757);
    reference case V12.

    Feynman–Kac with ``V(x) = −alpha c x`` (so that ``(1/alpha)∫V = −c∫X``).
    Example: ``x=0, c=0.8, alpha=0.7, T=0.9 → 1.05594``.
    """
    x, T, c, alpha = _f64(x, T, c, alpha)
    return np.exp(-c * x * T + c * c * alpha * T**3 / 6.0)


# -------------------------------------------------------------------------------------------- V13
def gbm_density(s, s0, t, mu, sigma):
    """V13: log-normal law of ``dS = S(mu dt + sigma dW)`` (archive 3766):

    ``1/(s sigma sqrt(2π t)) exp{−[ln(s/s0) − (mu − sigma²/2) t]²/(2 sigma² t)}``, zero for
    ``s ≤ 0``.
    """
    _positive("sigma", sigma)
    _positive("t", t)
    s, s0, t, mu, sigma = _f64(s, s0, t, mu, sigma)
    sp = np.where(s > 0, s, 1.0)
    z = (np.log(sp / s0) - (mu - 0.5 * sigma**2) * t) / (sigma * np.sqrt(t))
    out = np.where(s > 0, _norm_pdf(z) / (sp * sigma * np.sqrt(t)), 0.0)
    return out[()] if out.ndim == 0 else out


def gbm_mean(s0, t, mu):
    """V13: ``E S_t = s0 e^{mu t}``.

    Source: Su's thesis, part 5, the stock price (kexue.fm archive 3766); reference case V13.
    """
    s0, t, mu = _f64(s0, t, mu)
    return s0 * np.exp(mu * t)


def gbm_var(s0, t, mu, sigma):
    """V13: ``Var S_t = s0² e^{2 mu t}(e^{sigma² t} − 1)``.

    Source: Su's thesis, part 5, the stock price (kexue.fm archive 3766); reference case V13.
    """
    s0, t, mu, sigma = _f64(s0, t, mu, sigma)
    return s0**2 * np.exp(2.0 * mu * t) * np.expm1(sigma**2 * t)


def gbm_exact(s0, t, w, mu, sigma):
    """V13: the exact solution ``S_t = s0 exp((mu − sigma²/2) t + sigma W_t)`` for ``W_t = w``.

    Source: Su's thesis, part 5, the stock price (kexue.fm archive 3766); reference case V13.

    The strong-error reference: pass the same Brownian value the scheme used.
    """
    s0, t, w, mu, sigma = _f64(s0, t, w, mu, sigma)
    return s0 * np.exp((mu - 0.5 * sigma**2) * t + sigma * w)


def euler_gbm_moments(s0, mu, sigma, dt, n):
    """V13: exact first two moments of the Euler–Maruyama *scheme* for GBM after ``n`` steps.

    Source: the Euler–Maruyama scheme (Kloeden and Platen 1992, §10.2) applied to the GBM of
    kexue.fm archive 3766.

    ``S_{k+1} = S_k (1 + mu dt + sigma ΔW_k)`` gives ``E S_n = s0 (1 + mu dt)^n`` and
    ``E S_n² = s0² ((1 + mu dt)² + sigma² dt)^n``; a deterministic weak-order-1 test
    (``mu=0.05, sigma=0.2, dt=1/64, n=64 → 1.0512506`` against ``e^{0.05} = 1.0512711``).

    Returns:
        ``(E S_n, E S_n²)``.
    """
    if np.any(np.asarray(n) < 0):
        raise ValueError(f"n must be a non-negative number of steps; got {n!r}.")
    s0, mu, sigma, dt, n = _f64(s0, mu, sigma, dt, n)
    return s0 * (1.0 + mu * dt) ** n, s0**2 * ((1.0 + mu * dt) ** 2 + sigma**2 * dt) ** n


# -------------------------------------------------------------------------------------------- V14
def _d12(S, K, r, sigma, T):
    _positive("sigma", sigma, "sigma is the volatility.")
    _positive("T", T, "T is the time to maturity.")
    _positive("S", S)
    _positive("K", K)
    S, K, r, sigma, T = _f64(S, K, r, sigma, T)
    d1 = (np.log(S / K) + (r + 0.5 * sigma**2) * T) / (sigma * np.sqrt(T))
    return S, K, r, T, d1, d1 - sigma * np.sqrt(T)


def black_scholes_call(S, K, r, sigma, T):
    """V14: Black–Scholes (1973) call ``S Φ(d1) − K e^{−rT} Φ(d2)``.

    The Feynman–Kac representation ``e^{−rT} E[(S_T − K)^+]`` under ``dS = S(r dt + sigma dW)``.
    ``S = K = 100, r = 0.05, sigma = 0.2, T = 1 → 10.450584``.
    """
    S, K, r, T, d1, d2 = _d12(S, K, r, sigma, T)
    return S * special.ndtr(d1) - K * np.exp(-r * T) * special.ndtr(d2)


def black_scholes_put(S, K, r, sigma, T):
    """V14: Black–Scholes put ``K e^{−rT} Φ(−d2) − S Φ(−d1)`` (put–call parity).

    Source: Black and Scholes 1973 (put–call parity); Feynman–Kac pricing as in kexue.fm archive
    3766.
    """
    S, K, r, T, d1, d2 = _d12(S, K, r, sigma, T)
    return K * np.exp(-r * T) * special.ndtr(-d2) - S * special.ndtr(-d1)


# -------------------------------------------------------------------------------------------- V15
def heat_dirichlet_mode(x, t, L, alpha):
    """V15: ``u = exp(−(alpha/2)(π/L)² t) sin(πx/L)`` solves ``u_t = (alpha/2) u_xx`` on [0, L]
    with ``u(0) = u(L) = 0``.

    Source: the heat equation of Su's thesis (kexue.fm archive 3750, the walk's continuum limit),
    reference case V15.
    """
    _positive("L", L)
    _positive("alpha", alpha)
    x, t = _f64(x, t)
    return np.exp(-0.5 * alpha * (np.pi / L) ** 2 * t) * np.sin(np.pi * x / L)


def heat_absorbing_wall(x, t, x0, alpha):
    """V15: density of ``x0 + sqrt(alpha) W`` killed at the wall ``x = 0`` (method of images).

    Source: the method of images, i.e. the reflection principle (Feller 1968, An Introduction to
    Probability Theory and Its Applications, vol. 1, ch. III); reference case V15.

    ``[φ_N((x − x0)/s) − φ_N((x + x0)/s)]/s`` with ``s = sqrt(alpha t)``, for ``x, x0 ≥ 0``;
    it solves ``P_t = (alpha/2) P_xx`` with ``P(0, t) = 0``.
    """
    _positive("alpha", alpha)
    _positive("t", t)
    x, t, x0 = _f64(x, t, x0)
    s = np.sqrt(alpha * t)
    return (_norm_pdf((x - x0) / s) - _norm_pdf((x + x0) / s)) / s


# -------------------------------------------------------------------------------------------- V16
def gibbs_density(U: Callable[[np.ndarray], np.ndarray], x, alpha, *, bounds=(-np.inf, np.inf)):
    """V16: stationary density ``exp(−2U/alpha)/Z`` of ``dx = −U'(x) dt + sqrt(alpha) dW``.

    Source: the stationary Fokker–Planck density (Risken 1989, The Fokker–Planck Equation, ch. 5) of
    the SDE of kexue.fm archive 3762.

    The normalising constant ``Z = ∫ exp(−2U/alpha) dx`` over ``bounds`` is computed by adaptive
    quadrature (:func:`scipy.integrate.quad`).

    Args:
        U: NumPy-vectorised potential ``U(x)``.
        x: points, any shape.
        alpha: diffusion constant.
        bounds: integration range for ``Z`` (default the real line; ``U`` must grow at infinity).
    """
    _positive("alpha", alpha)
    x = _f64(x)
    # Shift by the minimum of U on a coarse grid to avoid overflow for small alpha.
    lo, hi = bounds
    probe = np.linspace(max(lo, -50.0), min(hi, 50.0), 20001)
    u_min = float(np.min(U(probe)))
    z, _ = integrate.quad(lambda y: math.exp(-2.0 * (float(U(np.float64(y))) - u_min) / alpha),
                          lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)
    return np.exp(-2.0 * (U(x) - u_min) / alpha) / z


def double_well_potential(x):
    """V16: the double well ``U(x) = x⁴/4 − x²/2`` (drift ``p = −U' = x − x³``).

    Source: reference case V16, the SDE of kexue.fm archive 3762 with a non-linear drift.
    """
    x = _f64(x)
    return 0.25 * x**4 - 0.5 * x**2


def double_well_stationary_density(x, alpha):
    """V16: ``∝ exp(−2U/alpha)`` for ``U = x⁴/4 − x²/2``, normalised by quadrature.

    Source: the stationary Fokker–Planck density (Risken 1989, The Fokker–Planck Equation, ch. 5) of
    the SDE of kexue.fm archive 3762.
    """
    return gibbs_density(double_well_potential, x, alpha)


# ------------------------------------------------------------ beyond the thesis (issue 14 items)
def mehler_first_order(xb, xa, T, alpha):
    """Dyson series, order 1, of the Mehler kernel in the coupling ``λ = ω²`` (``V = −λx²/2``).

    ``K = K_0 + λ K^{(1)} + O(λ²)`` with ``K^{(1)} = ∂K_Mehler/∂(ω²)`` at ``ω = 0``:
    ``K^{(1)} = −K_0(xb, xa; T)/(2 alpha) · [T(xa² + xa xb + xb²)/3 + alpha T²/6]`` (the
    Brownian-bridge mean of ``∫X²`` is ``T(xa² + xa xb + xb²)/3 + alpha T²/6``; archive 3757
    eq. 47).
    """
    _positive("alpha", alpha)
    _positive("T", T)
    xb, xa, T = _f64(xb, xa, T)
    return -heat_kernel(xb, xa, T, alpha) / (2.0 * alpha) * (
        T * (xa**2 + xa * xb + xb**2) / 3.0 + alpha * T**2 / 6.0)


def cir_mean(x0, t, kappa, theta):
    """CIR ``dX = κ(θ − X)dt + σ√X dW``: ``E X_t = θ + (x0 − θ)e^{−κt}``.

    Cox, Ingersoll & Ross (1985).
    """
    x0, t = _f64(x0, t)
    return theta + (x0 - theta) * np.exp(-kappa * t)


def cir_var(x0, t, kappa, theta, sigma):
    """CIR variance ``x0 σ²(e^{−κt} − e^{−2κt})/κ + θσ²(1 − e^{−κt})²/(2κ)``.

    Source: Cox, Ingersoll and Ross 1985 (Econometrica 53, 385–407).
    """
    x0, t = _f64(x0, t)
    e = np.exp(-kappa * t)
    return x0 * sigma**2 * (e - e * e) / kappa + theta * sigma**2 * (1.0 - e) ** 2 / (2.0 * kappa)


def cir_distribution(x0, t, kappa, theta, sigma):
    """CIR transition law (frozen ``scipy.stats``): ``2c X_t ~ χ'²(4κθ/σ², 2c x0 e^{−κt})``.

    Source: Cox, Ingersoll and Ross 1985 (Econometrica 53, 385–407): a scaled non-central chi-
    squared law.

    ``c = 2κ/(σ²(1 − e^{−κt}))``; returned with ``scale = 1/(2c)`` so that it is the law of
    ``X_t`` itself (``.pdf``, ``.cdf``, ``.mean()``, ``.var()``).
    """
    for name, v in (("t", t), ("kappa", kappa), ("theta", theta), ("sigma", sigma), ("x0", x0)):
        _positive(name, v)
    c = 2.0 * kappa / (sigma**2 * (1.0 - math.exp(-kappa * t)))
    return stats.ncx2(4.0 * kappa * theta / sigma**2, 2.0 * c * x0 * math.exp(-kappa * t),
                      scale=1.0 / (2.0 * c))


def linear_sde_nd_moments(A, b, Q, m0, S0, t):
    r"""Mean and covariance at ``t`` of ``dX = (AX + b) dt + B dW``, ``X_0 ~ N(m0, S0)``.

    ``m(t) = e^{At} m0 + ∫_0^t e^{As} b ds``,
    ``Σ(t) = e^{At} S0 e^{Aᵀt} + ∫_0^t e^{As} Q e^{Aᵀs} ds``
    (Särkkä & Solin 2019, §6.1): the moment ODEs ``ṁ = Am + b``,
    ``Σ̇ = AΣ + ΣAᵀ + Q`` solved exactly by augmented matrix exponentials (Van Loan 1978), valid
    for any real ``A`` (not necessarily symmetric or stable). For a stable ``A`` the covariance
    tends to the solution of the Lyapunov equation ``A Σ∞ + Σ∞ Aᵀ + Q = 0``
    (:func:`lyapunov_covariance`). ``Q = BBᵀ``.

    Returns:
        ``(m, S)`` of shapes ``(d,)`` and ``(d, d)``.
    """
    from scipy.linalg import expm

    A, b, Q, m0, S0 = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (A, b, Q, m0, S0))
    d = A.shape[0]
    if A.shape != (d, d) or Q.shape != (d, d) or S0.shape != (d, d) or m0.shape != (d,) \
            or b.shape != (d,):
        raise ValueError(f"shapes must be A (d, d), b (d,), Q (d, d), m0 (d,), S0 (d, d); got "
                         f"{A.shape}, {b.shape}, {Q.shape}, {m0.shape}, {S0.shape}.")
    _positive("t", t)
    # vec Σ solves d vecΣ/dt = (I⊗A + A⊗I) vecΣ + vec Q: one augmented exponential, no e^{−At}
    K = np.kron(np.eye(d), A) + np.kron(A, np.eye(d))  # (d², d²), column-major vec
    aug_c = np.zeros((d * d + 1, d * d + 1))
    aug_c[:-1, :-1], aug_c[:-1, -1] = K, Q.reshape(-1, order="F")
    cov = (expm(aug_c * t) @ np.append(S0.reshape(-1, order="F"), 1.0))[:-1].reshape(
        d, d, order="F")
    aug = np.zeros((d + 1, d + 1))
    aug[:d, :d], aug[:d, d] = A, b
    mean = (expm(aug * t) @ np.append(m0, 1.0))[:d]
    return mean, 0.5 * (cov + cov.T)


def lyapunov_covariance(A, Q):
    """Stationary covariance of ``dX = A X dt + B dW`` (stable ``A``): ``A Σ + Σ Aᵀ + Q = 0``.

    Source: the stationary covariance of a linear SDE, ``A S + S Aᵀ + Q = 0`` (Gardiner 1985,
    Handbook of Stochastic Methods, §4.4.6).
    """
    from scipy.linalg import solve_continuous_lyapunov

    A, Q = _f64(A, Q)
    if np.any(np.linalg.eigvals(A).real >= 0):
        raise ValueError(f"A must be stable (eigenvalues with negative real part); got "
                         f"{np.linalg.eigvals(A)}.")
    return solve_continuous_lyapunov(A, -Q)


def gaussian_density_2d(x, y, m, S):
    """Density of ``N(m, S)`` on the grid ``(x_i, y_j)``, shape ``(len(x), len(y))``."""
    x, y, m, S = _f64(x, y, m, S)
    X, Y = np.meshgrid(x, y, indexing="ij")
    P = np.linalg.inv(S)
    dx, dy = X - m[0], Y - m[1]
    q = P[0, 0] * dx * dx + 2.0 * P[0, 1] * dx * dy + P[1, 1] * dy * dy
    return np.exp(-0.5 * q) / (2.0 * math.pi * math.sqrt(np.linalg.det(S)))


# ------------------------------------------------------------------ tensors in, tensors out; σ
def _tensor_spec(values) -> tuple[torch.dtype, torch.device] | None:
    """``(dtype, device)`` of the results when any argument is a tensor, else ``None``.

    dtype: the promotion of the floating tensors' dtypes (PyTorch's default dtype if only integer
    tensors were given); device: the tensors' common device.
    """
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    if not tensors:
        return None
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise ValueError(f"closed forms: tensor arguments on several devices "
                         f"{sorted(map(str, devices))}; move them to one device (the result is "
                         "returned there).")
    floats = [t.dtype for t in tensors if t.is_floating_point()]
    dtype = torch.get_default_dtype()
    if floats:
        dtype = floats[0]
        for d in floats[1:]:
            dtype = torch.promote_types(dtype, d)
    return dtype, tensors[0].device


def _to_numpy(v):
    if isinstance(v, torch.Tensor):
        if v.is_complex():
            raise TypeError("closed forms take real tensors; got a complex tensor.")
        return v.detach().cpu().numpy()
    return v


def _to_torch(v, dtype, device):
    if isinstance(v, (np.ndarray, np.generic, float)) and not isinstance(v, (bool, np.bool_)):
        a = np.asarray(v)
        if a.dtype.kind == "f":
            return torch.as_tensor(a, dtype=dtype, device=device)
        if a.dtype.kind in "iub":
            return torch.as_tensor(a, device=device)
        return v
    if isinstance(v, tuple):
        return tuple(_to_torch(x, dtype, device) for x in v)
    if isinstance(v, list):
        return [_to_torch(x, dtype, device) for x in v]
    return v                                    # e.g. cir_distribution's frozen scipy law


def _tensors_and_sigma(fn: Callable) -> Callable:
    """Wrap a closed form: tensor arguments in → tensors out (same dtype/device; the maths runs
    in float64 NumPy on the host, without autograd); ``sigma=`` for ``alpha = sigma**2`` where the
    function takes ``alpha`` and no ``sigma`` of its own."""
    import functools
    import inspect

    params = inspect.signature(fn).parameters
    has_alpha = "alpha" in params and "sigma" not in params
    names = list(params)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if has_alpha and "sigma" in kwargs:
            sigma = kwargs.pop("sigma")
            if "alpha" in kwargs or len(args) > names.index("alpha"):
                raise TypeError(f"{fn.__name__}: pass either alpha= (the variance rate) or "
                                "sigma= (its square root, alpha = sigma**2), not both.")
            kwargs["alpha"] = sigma ** 2
        spec = _tensor_spec([*args, *kwargs.values()])
        if spec is None:
            return fn(*args, **kwargs)
        out = fn(*(_to_numpy(a) for a in args), **{k: _to_numpy(v) for k, v in kwargs.items()})
        return _to_torch(out, *spec)
    return wrapper


for _name in __all__:
    globals()[_name] = _tensors_and_sigma(globals()[_name])
del _name
