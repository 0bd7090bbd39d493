"""Closed forms V7–V8 and their n-dimensional extension: linear (Gaussian) SDEs.

Part of :mod:`kexue.stochastic.closed_forms` (the public module wraps these functions:
tensors in → tensors out, ``sigma=`` for ``alpha``). Float64 NumPy, broadcasting.

* V7 Ornstein–Uhlenbeck ``dx = -θ x dt + sqrt(alpha) dW``: :func:`ou_mean`, :func:`ou_var`,
  :func:`ou_transition_density`, :func:`ou_gaussian_evolution`, :func:`ou_stationary_density`
* V8 Su's linear SDE ``dx = x dt + sqrt(alpha) dW`` (eq. 49): :func:`linear_sde_density`
* beyond the thesis (issue 14): ``dX = (AX + b) dt + B dW`` in ``n`` dimensions,
  :func:`linear_sde_nd_moments`, :func:`lyapunov_covariance`, :func:`gaussian_density_2d`

Source: Su Jianlin, "Random walks, SDEs and path-integral methods for PDEs" (kexue.fm archives
3749, 3750, 3757, 3762, 3766).
"""

from __future__ import annotations

import math

import numpy as np

from ._closed_common import _f64, _positive

__all__ = ["ou_mean", "ou_var", "ou_transition_density", "ou_gaussian_evolution",
           "ou_stationary_density", "linear_sde_density", "linear_sde_nd_moments",
           "lyapunov_covariance", "gaussian_density_2d"]


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
