"""Closed forms V9–V12: the Mehler kernel and Feynman–Kac with harmonic and linear potentials.

Part of :mod:`kexue.stochastic.closed_forms` (the public module wraps these functions:
tensors in → tensors out, ``sigma=`` for ``alpha``). Float64 NumPy, broadcasting.

* V9 Mehler kernel (Euclidean harmonic oscillator): :func:`mehler_kernel`,
  :func:`harmonic_classical_action`, :func:`harmonic_classical_path`, :func:`van_vleck_kernel`
* V10 the thesis identity, SDE density = rescaled Mehler kernel:
  :func:`linear_density_from_mehler`
* V11 Feynman–Kac, harmonic potential: :func:`feynman_kac_harmonic`,
  :func:`feynman_kac_harmonic_gaussian`
* V12 Feynman–Kac, linear potential: :func:`feynman_kac_linear`
* beyond the thesis (issue 14): the Dyson series of the Mehler kernel to first order,
  :func:`mehler_first_order`

Sources: Su Jianlin, "Random walks, SDEs and path-integral methods for PDEs" (kexue.fm archives
3749, 3750, 3757, 3762, 3766); Mehler (1866).
"""

from __future__ import annotations

import numpy as np

from ._closed_common import _f64, _positive
from ._closed_heat import heat_kernel

__all__ = ["mehler_kernel", "harmonic_classical_action", "harmonic_classical_path",
           "van_vleck_kernel", "linear_density_from_mehler", "feynman_kac_harmonic",
           "feynman_kac_harmonic_gaussian", "feynman_kac_linear", "mehler_first_order"]


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
