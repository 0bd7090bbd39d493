"""Feynman's trick, part 7 (2013-03-27, as stated in issue 14): ODEs of any order in the parameter,
initial and boundary conditions (a = 0, boundedness as a → ∞), Euler's regularised integrals and
the kink of G' at a = 0 — and the random-point checks of the catalogue."""

import dataclasses

import mpmath
import pytest
import sympy
from sympy import Abs, cos, cosh, exp, oo, pi, sin, sinh
from typer.testing import CliRunner

from kexue.cli._integrals import app
from kexue.integrals import (
    CATALOGUE,
    UNKNOWN_PART,
    BoundedAt,
    DerivativeJump,
    FixConstants,
    LinearODE,
    ParametricIntegral,
    ReduceToLinearODE,
    Regularise,
    SolveODE,
    ValueAt,
    constants,
    random_points,
    verify,
)

x = sympy.Symbol("x", positive=True)
a = sympy.Symbol("a", positive=True)
ar = sympy.Symbol("a", real=True)


def test_f23_derivation_is_second_order_with_regularisation_and_caveat():
    e = CATALOGUE["F23"]
    rep = e.replay()
    assert rep.ok, [(c.index, c.kind, c.how) for c in rep.failures()]
    kinds = [c.kind for c in rep.checks]
    assert kinds.count("differentiate") == 2
    for k in ("regularise", "reduce to ODE", "solve ODE", "fix the constants", "caveat"):
        assert k in kinds
    ode = next(c.produced for c in rep.checks if c.kind == "reduce to ODE")
    assert isinstance(ode, LinearODE) and ode.order == 2 and str(ode) == "G''(a) = G(a)"
    assert sympy.simplify(rep.result - pi / 2 * exp(-a)) == 0
    assert e.rederived()[0]
    assert e.part.startswith("part 7") and CATALOGUE["F24"].part.startswith("part 7")
    assert CATALOGUE["F1"].part == UNKNOWN_PART


def test_f23_f24_against_independent_quadosc_to_30_digits():
    """Independent of the catalogue's evaluator: mpmath.quadosc on the raw integrands."""
    with mpmath.workdps(40):
        for av in (mpmath.mpf("1.25"),):
            inf = [0, mpmath.inf]
            f23 = mpmath.quadosc(lambda t, av=av: mpmath.cos(av * t) / (1 + t * t), inf,
                                 omega=av)
            f24 = mpmath.quadosc(lambda t, av=av: mpmath.cos(t) / (av * av + t * t), inf,
                                 omega=1)
            assert abs(f23 - mpmath.pi / 2 * mpmath.exp(-av)) < mpmath.mpf(10) ** -30
            assert abs(f24 - mpmath.pi * mpmath.exp(-av) / (2 * av)) < mpmath.mpf(10) ** -30
    # the catalogue's own evaluator at the same point (the check points run in the catalogue
    # tests); it must agree with the independent quadrature
    v = verify("F24", points=[{a: sympy.Rational(5, 4)}])
    assert v.ok and abs(v.checks[0].numeric - f24) < mpmath.mpf(10) ** -30


def test_the_kink_of_g_prime_at_zero():
    e = CATALOGUE["F23"]
    rep = e.replay()
    jump = next(c for c in rep.checks if c.kind == "caveat")
    p = jump.produced
    assert jump.ok and p["naive"] == 0.0
    assert p["right"] == pytest.approx(-float(pi) / 2, abs=1e-15)
    assert p["left"] == pytest.approx(float(pi) / 2, abs=1e-15)
    # Richardson error of the one-sided quotient is (π/2)(h²/3) = 5.2e-9 at h = 1e-4
    assert abs(p["numeric_right"] + float(pi) / 2 - float(pi) / 6 * 1e-8) < 1e-11
    assert abs(p["numeric_left"] - float(pi) / 2 + float(pi) / 6 * 1e-8) < 1e-11


def test_a_smooth_family_has_no_jump_and_the_caveat_step_fails():
    G = ParametricIntegral(exp(-x**2) * cos(ar * x), x, ar, 0, oo)
    closed = sympy.sqrt(pi) / 2 * exp(-ar**2 / 4)
    step = DerivativeJump(G, closed, closed, 0, 0, digits=4)
    ok, how, produced = step.replay({})
    assert not ok and produced["right"] == produced["left"] == 0.0


def test_regularise_abel_and_cesaro():
    ok, how, val = Regularise(cos(a * x), x, 0, 0).replay({})
    assert ok and val == 0 and "Abel" in how and "Cesàro" in how
    ok, how, _ = Regularise(sin(a * x), x, 0, 1 / a).replay({})  # Abel a/(ε²+a²) → 1/a
    assert ok, how
    ok, how, _ = Regularise(cos(a * x), x, 0, 1).replay({})  # a wrong value
    assert not ok
    ok, how, _ = Regularise(exp(-x), x, 0, 1).replay({})  # converges: not a regularisation
    assert not ok and "nothing to regularise" in how
    ok, how, _ = Regularise(cos(a * x), x, 0, 0, methods=("borel",)).replay({})
    assert not ok and "methods" in how


def test_solve_ode_any_order_checks_residual_and_wronskian():
    C1, C2, C3 = constants(3)
    assert constants(1) == (sympy.Symbol("C"),)
    ode3 = LinearODE(a, (0, 1, 0))  # G''' = G'
    assert SolveODE(ode3, C1 + C2 * exp(a) + C3 * exp(-a)).replay({})[0]
    assert not SolveODE(ode3, C1 + C2 * exp(a) + C3 * exp(a)).replay({})[0]  # dependent
    assert not SolveODE(ode3, C1 + C2 * exp(a)).replay({})[0]  # a constant missing
    assert not SolveODE(ode3, C1 + C2 * exp(a) + C3 * exp(-2 * a)).replay({})[0]  # wrong
    ode2 = LinearODE(a, (1, 0), h=a)  # G'' = G + a
    assert SolveODE(ode2, C1 * exp(a) + constants(2)[1] * exp(-a) - a).replay({})[0]
    with pytest.raises(ValueError, match="order must be a positive int"):
        constants(0)


def test_fix_constants_initial_and_boundary_problems():
    C1, C2 = constants(2)
    ivp = FixConstants(C1 * cos(a) + C2 * sin(a), a, (ValueAt(0, 1), ValueAt(0, 0, order=1)))
    ok, _, closed = ivp.replay({})
    assert ok and sympy.simplify(closed - cos(a)) == 0
    # boundedness with a basis in which both modes grow (cosh, sinh): 2e^{−a}
    bvp = FixConstants(C1 * cosh(a) + C2 * sinh(a), a, (BoundedAt(oo), ValueAt(0, 2)))
    ok, how, closed = bvp.replay({})
    assert ok and sympy.simplify(closed - 2 * exp(-a)) == 0, how
    # a value at infinity (a limit)
    ok, _, closed = FixConstants(C1 + C2 * exp(-a), a, (ValueAt(oo, 3), ValueAt(0, 5))).replay({})
    assert ok and sympy.simplify(closed - (3 + 2 * exp(-a))) == 0
    # boundedness alone leaves C2 free: not determined
    ok, how, _ = FixConstants(C1 * exp(a) + C2 * exp(-a), a, (BoundedAt(oo),)).replay({})
    assert not ok


def test_reduce_to_linear_ode_catches_a_wrong_coefficient():
    e = CATALOGUE["F23"]
    G = e.integral
    ctx = {"G": G, "dG": G.derivative(), "d2G": G.derivative().derivative(),
           "reg": sympy.Integer(0)}
    good = ReduceToLinearODE("d2G", ("G", "dG"), (1, 0), rest=-cos(a * x),
                             rest_value=-sympy.Symbol("reg"))
    assert good.replay(ctx)[0]
    bad = dataclasses.replace(good, coefficients=(-1, 0))  # G'' = −G would give cos, sin
    assert not bad.replay(ctx)[0]
    wrong_h = dataclasses.replace(good, h=1)
    assert not wrong_h.replay(ctx)[0]


def test_random_points_are_seeded_and_inside_the_domain():
    p0 = random_points("F12", 5, seed=0)
    assert p0 == random_points("F12", 5, seed=0) != random_points("F12", 5, seed=1)
    for pt in p0:
        (v,) = pt.values()
        assert 1.04 < Abs(v) <= 4 or Abs(v) < 0.96
    for pt in random_points("F15", 6, seed=3):
        n = next(k for k in pt if k.is_integer)
        assert pt[n].is_Integer and 0 <= pt[n] <= 8
    assert random_points("F4", 3, seed=0) == []  # no free parameter
    with pytest.raises(ValueError, match="count must be a non-negative int"):
        random_points("F1", -1, seed=0)


def test_random_point_check_catches_a_wrong_closed_form():
    e = CATALOGUE["F9"]
    wrong = dataclasses.replace(e, closed_form=e.closed_form * (1 + sympy.Rational(1, 10**25)))
    pts = random_points(e, 2, seed=0)
    assert verify(e, points=pts).ok
    assert not verify(wrong, points=pts).ok


def test_cli_show_replays_part7():
    res = CliRunner().invoke(app, ["show", "F23"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    out = res.stdout
    for needle in ("[regularise]", "[reduce to ODE]", "G''(a) = G(a)", "[fix the constants]",
                   "G bounded as a → oo", "[caveat]", "source     part 7",
                   "re-derived closed form: yes"):
        assert needle in out, needle
    assert "FAILED" not in out
