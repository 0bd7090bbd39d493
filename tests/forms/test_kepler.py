"""Kepler's second law from the area 1-form ω = ½(x dy − y dx) (kexue.fm 4062, issue 14), and the
reversed orientation convention dx∧dy ↔ −dx dy on the Stokes table."""

import math

import numpy as np
import pytest
import sympy

from kexue.forms import (
    STOKES_CASES,
    area_form,
    boundary,
    coords,
    d,
    eccentric_anomaly,
    integrate,
    integrate_orbit,
    integrate_oriented,
    kepler_orbit,
    linear_fit,
    orbit_chain,
    orientation_sign,
    pullback,
    sector_chain,
    stokes_sign,
    swept_area_closed,
)


def test_area_form_is_a_primitive_of_the_area_element():
    C = coords("x y")
    omega = area_form(C)
    (dx, dy) = C.basis
    assert d(omega) == (dx ^ dy)
    # on a ray from the origin ω vanishes: pull back along r ↦ (r cos θ0, r sin θ0)
    r, th = sympy.symbols("r theta0", real=True)
    assert pullback(omega, (r * sympy.cos(th), r * sympy.sin(th)), source=(r,)).is_zero()


def test_pullback_along_the_orbit_is_kepler_equation_exactly():
    """φ*ω = ½ab(1 − e cos E) dE, so the swept area from periapsis is ½ab(E − e sin E) = ½ab·M."""
    a, e = sympy.symbols("a e", positive=True)
    E1 = sympy.Symbol("E1", positive=True)
    A = integrate(area_form(), orbit_chain(a, e, 0, E1), method="symbolic")
    b = a * sympy.sqrt(1 - e**2)
    assert sympy.simplify(A - b * a / 2 * (E1 - e * sympy.sin(E1))) == 0
    # one full orbit: π a b
    full = integrate(area_form(), orbit_chain(a, e), method="symbolic")
    assert sympy.simplify(full - sympy.pi * a * b) == 0


def test_sector_area_equals_arc_integral_by_stokes():
    """∫_sector dx∧dy = ∮_∂sector ω = ∫_arc ω (the radial sides carry no ω), exactly."""
    a, e, E0, E1 = sympy.Rational(3, 2), sympy.Rational(3, 5), sympy.Rational(1, 3), 2
    sector = sector_chain(a, e, E0, E1)
    dxdy = d(area_form())
    inside = integrate(dxdy, sector, method="symbolic")
    around = integrate(area_form(), boundary(sector), method="symbolic")
    arc = integrate(area_form(), orbit_chain(a, e, E0, E1), method="symbolic")
    b = a * sympy.sqrt(1 - e**2)
    exact = a * b / 2 * ((E1 - e * sympy.sin(E1)) - (E0 - e * sympy.sin(E0)))
    for val in (inside, around, arc):
        assert sympy.simplify(val - exact) == 0


@pytest.mark.parametrize("e", [0.0, 0.3, 0.7, 0.95])
def test_eccentric_anomaly_solves_kepler_equation(e):
    M = np.linspace(-7, 7, 301)
    E = eccentric_anomaly(M, e)
    assert np.max(np.abs(E - e * np.sin(E) - M)) < 1e-13


def test_numerical_orbit_matches_closed_form_and_area_is_linear():
    a, e, mu = 1.3, 0.6, 2.0
    n = math.sqrt(mu / a**3)
    T = 2 * math.pi / n
    t = np.linspace(0, 2 * T, 241)
    r0 = np.array([a * (1 - e), 0.0])  # periapsis
    v0 = np.array([0.0, math.sqrt(mu / a * (1 + e) / (1 - e))])
    pos, vel, A = integrate_orbit(r0, v0, t, mu=mu)
    assert np.max(np.abs(pos - kepler_orbit(t, a=a, e=e, mu=mu))) < 1e-8
    exact = swept_area_closed(t, a=a, e=e, mu=mu)
    assert np.max(np.abs(A - exact)) < 1e-9 * exact[-1]
    beta, alpha, resid = linear_fit(t, A)
    b = a * math.sqrt(1 - e**2)
    assert abs(beta - 0.5 * a * b * n) < 1e-10 and abs(alpha) < 1e-9 and resid < 1e-9
    # equal areas in equal times: 12 equal time slices of each period, each π a b / 12
    slices = np.diff(A[::10])
    assert np.max(np.abs(slices - math.pi * a * b / 12)) < 1e-9


def test_non_central_force_breaks_the_law():
    """The control: a uniform field (a torque about the focus) makes the area non-linear."""
    t = np.linspace(0, 4 * math.pi, 201)
    _, _, A = integrate_orbit([0.5, 0.0], [0.0, math.sqrt(3.0)], t,
                              perturbation=lambda s, r, v: np.array([0.05, 0.0]))
    _, _, resid = linear_fit(t, A)
    assert resid > 1e-3


@pytest.mark.parametrize("case", STOKES_CASES, ids=lambda c: f"{c.theorem}-{c.domain_text}")
def test_stokes_with_both_orientation_conventions(case):
    """Under dx∧dy ↔ −dx dy (the reversed-order wedge) Stokes holds with the sign (−1)^{k−1}:
    Green and Kelvin–Stokes flip, Newton–Leibniz and Gauss do not; each side is computed by
    re-parametrising the cells, not by multiplying in the sign."""
    if case.expect_singular:
        pytest.skip("the counter-example has a pole inside M")
    form, chain = case.numeric_form(), case.numeric_chain()
    k = chain.dim
    std_b = integrate_oriented(form, boundary(chain), method="numeric")
    std_i = integrate_oriented(d(form), chain, method="numeric")
    rev_b = integrate_oriented(form, boundary(chain), orientation="reversed", method="numeric")
    rev_i = integrate_oriented(d(form), chain, orientation="reversed", method="numeric")
    assert abs(std_b - std_i) < 1e-10
    assert abs(rev_b - stokes_sign(k, "reversed") * rev_i) < 1e-10
    assert abs(rev_i - orientation_sign(k, "reversed") * std_i) < 1e-10
    if k == 2 and abs(std_i) > 1e-6:  # Green / Kelvin–Stokes: the sign really flips
        assert abs(rev_b - rev_i) > 1e-6


def test_reversed_convention_gives_negative_area():
    C = coords("x y")
    (dx, dy) = C.basis
    unit_disk = sector_chain(1, 0)  # e = 0: the focal sector is the unit disk
    assert sympy.simplify(integrate_oriented(dx ^ dy, unit_disk, method="symbolic") - sympy.pi) == 0
    rev = integrate_oriented(dx ^ dy, unit_disk, orientation="reversed", method="symbolic")
    assert sympy.simplify(rev + sympy.pi) == 0
    assert [orientation_sign(k, "reversed") for k in range(5)] == [1, 1, -1, -1, 1]
    assert [stokes_sign(k, "reversed") for k in (1, 2, 3)] == [1, -1, 1]


def test_bad_input():
    with pytest.raises(ValueError, match="eccentricity e must be in"):
        kepler_orbit(np.zeros(3), e=1.2)
    with pytest.raises(ValueError, match="semi-major axis a must be positive"):
        swept_area_closed(np.zeros(3), a=-1.0)
    with pytest.raises(ValueError, match="orientation must be one of standard, reversed"):
        orientation_sign(2, "clockwise")
    with pytest.raises(ValueError, match=r"r0 and v0 must have shape \(2,\)"):
        integrate_orbit([1, 0, 0], [0, 1], np.linspace(0, 1, 3))
    with pytest.raises(ValueError, match="increasing"):
        integrate_orbit([1, 0], [0, 1], np.array([0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="must be 2-D Coordinates"):
        area_form(coords("x y z"))
