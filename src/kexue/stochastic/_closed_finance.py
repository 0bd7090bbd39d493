"""Closed forms V13–V14 and CIR: geometric Brownian motion, Black–Scholes, square-root diffusion.

Part of :mod:`kexue.stochastic.closed_forms` (the public module wraps these functions:
tensors in → tensors out). Float64 NumPy/SciPy, broadcasting; the customary ``mu`` and
volatility ``sigma``.

* V13 geometric Brownian motion: :func:`gbm_density`, :func:`gbm_mean`, :func:`gbm_var`,
  :func:`gbm_exact`, :func:`euler_gbm_moments`
* V14 Black–Scholes: :func:`black_scholes_call`, :func:`black_scholes_put`
* beyond the thesis (issue 14): the CIR process ``dX = κ(θ − X)dt + σ√X dW``,
  :func:`cir_mean`, :func:`cir_var`, :func:`cir_distribution`

Sources: Su Jianlin, "Random walks, SDEs and path-integral methods for PDEs" (kexue.fm archives
3749, 3750, 3757, 3762, 3766); Black & Scholes (1973); Cox, Ingersoll and Ross (1985) (CIR).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from ._closed_common import _f64, _norm_pdf, _positive

__all__ = ["gbm_density", "gbm_mean", "gbm_var", "gbm_exact", "euler_gbm_moments",
           "black_scholes_call", "black_scholes_put", "cir_mean", "cir_var",
           "cir_distribution"]


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
