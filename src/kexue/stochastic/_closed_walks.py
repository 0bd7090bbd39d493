"""Closed forms V1–V5: random walks, gambler's ruin, exit and first passage of drifted BM.

Part of :mod:`kexue.stochastic.closed_forms` (the public module wraps these functions:
tensors in → tensors out, ``sigma=`` for ``alpha``). Float64 NumPy/SciPy, broadcasting.

* V1 finite walk ``+a`` w.p. ``p``, ``-b`` w.p. ``q``: :func:`walk_pmf`, :func:`walk_mean`,
  :func:`walk_var`
* V2 asymmetric walk → drift-diffusion ``N(x0 + p t, alpha t)``: :func:`drift_diffusion_density`
* V3 gambler's ruin on ``{0..N}``: :func:`gamblers_ruin_probability`,
  :func:`gamblers_ruin_duration`
* V4 exit of drifted BM from ``(a, b)``: :func:`exit_probability`, :func:`mean_exit_time`
* V5 first passage of drifted BM to ``a > 0``: :func:`first_passage_density`,
  :func:`first_passage_cdf`

Sources: Su Jianlin, "Random walks, SDEs and path-integral methods for PDEs" (kexue.fm archives
3749, 3750, 3757, 3762, 3766); Feller, *An Introduction to Probability Theory*, vol. 1 ch. XIV
(gambler's ruin); Karatzas & Shreve, *Brownian Motion and Stochastic Calculus* §3.5 (first passage).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from ._closed_common import _f64, _positive, _probability

__all__ = ["walk_pmf", "walk_mean", "walk_var", "drift_diffusion_density",
           "gamblers_ruin_probability", "gamblers_ruin_duration", "exit_probability",
           "mean_exit_time", "first_passage_density", "first_passage_cdf"]


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
