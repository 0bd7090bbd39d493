"""Integration over chains and Stokes' theorem (kexue.fm 4062): the Stokes table, both sides."""

import math

import pytest
import sympy

from kexue.forms import (
    NUMERIC_NODES,
    STOKES_CASES,
    Chain,
    boundary,
    check_stokes,
    coords,
    d,
    disk,
    integrate,
    singularities,
    unit_cube,
    wedge,
)

CASES = {c.name: c for c in STOKES_CASES}


@pytest.mark.parametrize("name", list(CASES))
def test_stokes_table_symbolic_exact(name):
    case = CASES[name]
    res = check_stokes(case.form, case.chain, method="symbolic")
    assert sympy.simplify(res.boundary_side - case.exact_boundary) == 0
    assert sympy.simplify(res.interior_side - case.exact_interior) == 0
    if case.expect_singular:
        assert not res.hypotheses_hold and not res.verified
        assert res.status.startswith("hypothesis fails") and (0.0, 0.0) in res.singular_points
    else:
        assert res.verified and res.status == "verified" and res.singular_points == []


@pytest.mark.parametrize("name", list(CASES))
def test_stokes_table_numeric_1e10(name):
    case = CASES[name]
    res = check_stokes(case.numeric_form(), case.numeric_chain(), method="numeric")
    exact_b = float(case.exact_boundary.subs(case.constants))
    exact_i = float(case.exact_interior.subs(case.constants))
    assert abs(res.boundary_side - exact_b) <= 1e-10
    assert abs(res.interior_side - exact_i) <= 1e-10
    assert res.verified is (not case.expect_singular)


def test_counter_example_is_flagged_not_verified():
    case = CASES["counter-example"]
    res = check_stokes(case.form, case.chain)
    assert res.difference == pytest.approx(2 * math.pi)
    assert "singular at (0.0, 0.0)" in res.status and res.verified is False
    assert d(case.form).is_zero()  # closed, yet ∫_{∂M} ω = 2π: the pole breaks the hypothesis
    # excluding the pole (annulus) restores Stokes
    assert check_stokes(case.form, CASES["annulus"].chain).verified


def test_boundary_of_boundary_is_zero():
    assert boundary(boundary(unit_cube())).is_zero()
    assert boundary(boundary(disk())).is_zero()
    assert boundary(boundary(CASES["gauss-ball-linear"].chain)).is_zero()
    raw = boundary(boundary(unit_cube(), simplify=False), simplify=False)
    assert raw.is_zero()  # faces of faces cancel in pairs even without simplification


def test_boundary_of_disk_is_the_circle():
    circle = boundary(disk())
    assert circle.dim == 1 and len(circle.cells) == 1
    coef, cell = circle.cells[0]
    t = cell.params[0]
    assert coef == 1 and cell.map == (sympy.cos(t), sympy.sin(t))
    assert len(boundary(unit_cube()).cells) == 6


def test_newton_leibniz_points():
    (x,), (dx,) = coords("x")
    u = sympy.Symbol("u")
    seg = Chain((u,), (u,), [(0, 2)])
    assert integrate(coords("x").form(x**3), boundary(seg)) == 8
    assert integrate(3 * x**2 * dx, seg) == 8
    assert integrate(coords("x").form(x**3), Chain.point(2) - Chain.point(0)) == 8


def test_gauss_legendre_exact_for_polynomials_of_degree_2n_minus_1():
    (x, y), (dx, dy) = coords("x y")
    n = 4
    sq = Chain.box((0, 1), (0, 1))
    exact_ok = integrate(x**7 * y**7 * (dx ^ dy), sq, method="numeric", nodes=n)
    assert exact_ok == pytest.approx(1 / 64, abs=1e-15)
    too_high = integrate(x**8 * (dx ^ dy), sq, method="numeric", nodes=n)
    assert abs(too_high - 1 / 9) > 1e-8  # degree 2n: no longer exact


def test_numeric_converges_on_a_non_polynomial_form():
    (x, y), (dx, dy) = coords("x y")
    omega = sympy.exp(x * y) * dx + sympy.sin(x) * dy
    dom = disk()
    ref = integrate(omega, boundary(dom), method="numeric", nodes=64)  # 1-D side, converged
    errs = [abs(integrate(d(omega), dom, method="numeric", nodes=n) - ref)
            for n in (8, 16, NUMERIC_NODES)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-11


def test_auto_falls_back_to_numeric():
    (x, y), (dx, dy) = coords("x y")
    omega = sympy.gamma(1 + x * y) * (dx ^ dy)  # SymPy gives up quickly on this one
    val = integrate(omega, Chain.box((0, 1), (0, 1)), method="auto")
    assert isinstance(val, float) and 0.5 < val < 1.0
    with pytest.raises(RuntimeError, match="method='numeric'"):
        integrate(omega, Chain.box((0, 1), (0, 1)), method="symbolic")


def test_singularities_found_inside_not_outside():
    (x, y), (dx, dy) = coords("x y")
    omega = (dx + dy) / ((x - sympy.Rational(1, 3))**2 + (y - sympy.Rational(1, 5))**2)
    pts = singularities(omega, disk())
    assert len(pts) == 1 and pts[0] == pytest.approx((1 / 3, 1 / 5), abs=1e-6)
    line = dy / (x - sympy.Rational(1, 3))  # a denominator that changes sign
    assert any(p[0] == pytest.approx(1 / 3, abs=1e-6) for p in singularities(line, disk()))
    far = (dx + dy) / ((x - 3)**2 + y**2)
    assert singularities(far, disk()) == []


def test_bad_input():
    (x, y), (dx, dy) = coords("x y")
    t = sympy.Symbol("t")
    curve = Chain((sympy.cos(t), sympy.sin(t)), (t,), [(0, 2 * sympy.pi)])
    with pytest.raises(ValueError, match=r"a 2-form integrates over a 2-dimensional chain; "
                                         r"got a 1-dimensional chain.*boundary"):
        integrate(dx ^ dy, curve)
    with pytest.raises(ValueError, match=r"form lives on R\^2 but the chain maps into R\^3"):
        integrate(dx, Chain((t, t, t), (t,), [(0, 1)]))
    with pytest.raises(ValueError, match="method must be one of auto, symbolic, numeric"):
        integrate(dx, curve, method="exact")
    with pytest.raises(TypeError, match="chain must be a Chain"):
        integrate(dx, [(0, 1)])
    with pytest.raises(ValueError, match=r"substitute numbers first"):
        a = sympy.Symbol("a")
        integrate(a * dx, curve, method="numeric")
    with pytest.raises(ValueError, match="one \\(lo, hi\\) pair per parameter"):
        Chain((t, t), (t,), [(0, 1), (0, 2)])
    with pytest.raises(ValueError, match="lo < hi.*negate the chain"):
        Chain((t, t), (t,), [(1, 0)])
    with pytest.raises(ValueError, match="depend on the parameters"):
        s = sympy.Symbol("s")
        Chain((t, s), (t, s), [(0, 1), (0, t)])
    with pytest.raises(ValueError, match="Stokes pairs a \\(k−1\\)-form with a k-chain"):
        check_stokes(wedge(dx, dy), disk())
    with pytest.raises(ValueError, match="0-chain"):
        boundary(Chain.point(0, 0))
