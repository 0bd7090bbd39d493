"""Closed forms V6 and V15: the heat kernel, and the heat equation with Dirichlet walls.

Part of :mod:`kexue.stochastic.closed_forms` (the public module wraps these functions:
tensors in → tensors out, ``sigma=`` for ``alpha``). Float64 NumPy, broadcasting.

* V6 heat kernel / free propagator: :func:`heat_kernel`
* V15 heat equation with Dirichlet walls: :func:`heat_dirichlet_mode`, :func:`heat_absorbing_wall`

Source: Su Jianlin, "Random walks, SDEs and path-integral methods for PDEs" (kexue.fm archives
3749, 3750, 3757, 3762, 3766).
"""

from __future__ import annotations

import numpy as np

from ._closed_common import _f64, _norm_pdf, _positive

__all__ = ["heat_kernel", "heat_dirichlet_mode", "heat_absorbing_wall"]


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
