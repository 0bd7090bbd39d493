"""Closed form V16: the equilibrium density ``∝ exp(-2U/alpha)`` of a gradient diffusion.

Part of :mod:`kexue.stochastic.closed_forms` (the public module wraps these functions:
tensors in → tensors out, ``sigma=`` for ``alpha``). :func:`gibbs_density` normalises by
quadrature (SciPy); :func:`double_well_stationary_density` is the double-well case.

Source: Su Jianlin, "Random walks, SDEs and path-integral methods for PDEs" (kexue.fm archives
3749, 3750, 3757, 3762, 3766).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import integrate

from ._closed_common import _f64, _positive

__all__ = ["gibbs_density", "double_well_potential", "double_well_stationary_density"]


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
