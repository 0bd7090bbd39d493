"""Dyson series of the thesis' propagator (kexue.fm archive 3757, eq. 47) against Mehler."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch
from scipy import integrate

from kexue.stochastic import closed_forms as cf
from kexue.stochastic._dyson import dyson_terms

ALPHA, T = 0.7, 0.9
XB = np.array([0.3, -0.5, 1.2, 0.0])
XA = np.array([0.1, 0.4, -0.8, 0.0])


def _harmonic(t, x):
    return -x**2 / 2  # V = λ·(−x²/2), coupling λ = ω²


def test_zeroth_and_first_order_closed_forms():
    terms = dyson_terms(_harmonic, XB, XA, T, alpha=ALPHA, order=1)
    assert terms.shape == (2, 4)
    np.testing.assert_allclose(terms[0], cf.heat_kernel(XB, XA, T, ALPHA), rtol=1e-14)
    np.testing.assert_allclose(terms[1], cf.mehler_first_order(XB, XA, T, ALPHA), rtol=1e-12)


def test_second_order_is_the_taylor_coefficient_of_mehler():
    mp.mp.dps = 30

    def mehler(lam, xb, xa):
        w = mp.sqrt(lam)
        s = mp.sinh(w * T) / w  # analytic in λ (even in ω)
        c = mp.cosh(w * T)
        return mp.sqrt(1 / (2 * mp.pi * ALPHA * s)) * mp.exp(
            -((xa**2 + xb**2) * c - 2 * xa * xb) / (2 * ALPHA * s))

    terms = dyson_terms(_harmonic, XB, XA, T, alpha=ALPHA, order=2)
    for k, (b, a) in enumerate(zip(XB, XA)):
        coeffs = mp.taylor(lambda lam, b=b, a=a: mehler(lam, mp.mpf(b), mp.mpf(a)),
                           mp.mpf("1e-40"), 2)
        assert terms[1, k] == pytest.approx(float(coeffs[1]), rel=1e-11)
        assert terms[2, k] == pytest.approx(float(coeffs[2]), rel=1e-10)


def test_truncation_error_falls_as_coupling_to_the_order_plus_one():
    terms = dyson_terms(_harmonic, XB, XA, T, alpha=ALPHA, order=2)
    lams = np.array([0.4, 0.2, 0.1, 0.05])
    errs = {1: [], 2: []}
    for lam in lams:
        exact = cf.mehler_kernel(XB, XA, T, math.sqrt(lam), ALPHA)
        errs[1].append(np.max(np.abs(exact - terms[0] - lam * terms[1])))
        errs[2].append(np.max(np.abs(exact - terms[0] - lam * terms[1] - lam**2 * terms[2])))
    for n in (1, 2):
        slope = np.polyfit(np.log(lams), np.log(errs[n]), 1)[0]
        assert abs(slope - (n + 1)) < 0.1


def test_non_polynomial_potential_against_gaussian_closed_forms():
    """V = cos x: E cos(X) = cos(m) e^{−v/2} on the bridge; second order by adaptive quadrature."""
    b, a = 0.7, -0.4
    terms = dyson_terms(lambda t, x: torch.cos(x), b, a, T,
                        alpha=ALPHA, order=2, n_time=24, n_space=24)
    K0 = cf.heat_kernel(b, a, T, ALPHA)

    def mv(s):
        return a + (b - a) * s / T, ALPHA * s * (T - s) / T

    def e1(s):
        m, v = mv(s)
        return math.cos(m) * math.exp(-v / 2)

    k1 = K0 / ALPHA * integrate.quad(e1, 0, T, epsabs=1e-14, epsrel=1e-13)[0]
    assert float(terms[1]) == pytest.approx(k1, rel=1e-11)

    def e2(s1, s2):  # s1 < s2: E[cos X1 cos X2] = ½ Σ± E cos(X1 ± X2)
        (m1, v1), (m2, v2) = mv(s1), mv(s2)
        c = ALPHA * s1 * (T - s2) / T
        plus = math.cos(m1 + m2) * math.exp(-(v1 + v2 + 2 * c) / 2)
        minus = math.cos(m1 - m2) * math.exp(-(v1 + v2 - 2 * c) / 2)
        return 0.5 * (plus + minus)

    inner = integrate.dblquad(lambda s1, s2: e2(s1, s2), 0, T, 0, lambda s2: s2,
                              epsabs=1e-13, epsrel=1e-12)[0]
    assert float(terms[2]) == pytest.approx(K0 / ALPHA**2 * inner, rel=1e-9)


def test_time_dependent_potential_orders_times():
    c, t0 = 0.8, 0.3
    terms = dyson_terms(lambda t, x: c * t + 0 * x, 0.2, -0.1, T, alpha=ALPHA, order=2, t0=t0)
    K0 = cf.heat_kernel(0.2, -0.1, T, ALPHA)
    I1 = c * ((t0 + T) ** 2 - t0**2) / 2  # ∫ V dt
    assert float(terms[1]) == pytest.approx(K0 * I1 / ALPHA, rel=1e-13)
    assert float(terms[2]) == pytest.approx(K0 * I1**2 / (2 * ALPHA**2), rel=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="order"):
        dyson_terms(_harmonic, 0.0, 0.0, T, alpha=ALPHA, order=3)
    with pytest.raises(ValueError, match="T must be"):
        dyson_terms(_harmonic, 0.0, 0.0, -1.0, alpha=ALPHA)
    with pytest.raises(TypeError, match="V must be"):
        dyson_terms("x**2", 0.0, 0.0, T, alpha=ALPHA)
    with pytest.raises(ValueError, match="broadcastable"):
        dyson_terms(lambda t, x: torch.zeros(2, 3), [0.0, 1.0], 0.0, T, alpha=ALPHA, order=1)


def test_many_points_are_chunked_consistently():
    xb = np.linspace(-1.0, 1.0, 40).reshape(4, 10)
    xa = -0.5 * xb
    many = dyson_terms(lambda t, x: torch.cos(x) * t, xb, xa, T, alpha=ALPHA, t0=0.2)
    one = dyson_terms(lambda t, x: torch.cos(x) * t, xb[3, 7], xa[3, 7], T, alpha=ALPHA, t0=0.2)
    assert many.shape == (3, 4, 10)
    np.testing.assert_allclose(many[:, 3, 7], one, rtol=1e-13)
