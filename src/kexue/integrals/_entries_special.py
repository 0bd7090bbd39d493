"""Catalogue entries F13–F24: logarithms of trigonometric forms, moments by induction, the Gamma
and Beta functions and the reflection formula, ζ(2), Fresnel-type integrals, and part 7's
second-order example with its companion.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法, 2012–2013): part 2 (kexue.fm
archive 1619) for the rule; part 7 "a synthesis of Euler's mathematics" (2013-03-27) for F23 =
∫₀^∞ cos(ax)/(1+x²) dx (G'' = G with Euler's regularised ∫₀^∞ cos(ax) dx = 0) and its companion
F24 = ∫₀^∞ cos x/(a²+x²) dx — these two as stated in issue 14; the article text could not be
found to confirm them, nor which part treats F13–F22, whose closed forms and derivations are the
standard ones (reference note, section 4.3).
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy import (
    Abs,
    Integral,
    Rational,
    Sum,
    atan,
    cos,
    exp,
    factorial,
    gamma,
    log,
    oo,
    pi,
    sin,
    sqrt,
    tan,
    zeta,
)

from ._catalogue import CatalogueEntry
from ._derivation import Derivation
from ._parametric import ParametricIntegral
from ._steps_algebra import Compute, Identity, Induction, Limit, Solve, UseEntry
from ._steps_calculus import ChangeVariable, Differentiate, Integrate, Jacobian
from ._steps_constants import BoundedAt, FixConstant, FixConstants, ValueAt
from ._steps_euler import DerivativeJump, Regularise
from ._steps_ode import C, ReduceToLinearODE, ReduceToODE, SolveODE, constants
from ._symbols import a, ar, b, m, n, p, q, r, s, t, u, v, w, x, y

__all__ = ["BUILDERS"]


def _f13() -> CatalogueEntry:
    G = ParametricIntegral(log(a**2 * cos(x)**2 + b**2 * sin(x)**2), x, a, 0, pi / 2)
    anti = 2 * a / (a**2 - b**2) * (x - b / a * atan(b / a * tan(x)))
    return CatalogueEntry(
        "F13", "log-ellipse", "∫₀^{π/2} ln(a² cos²x + b² sin²x) dx", G,
        pi * log((a + b) / 2), "a, b > 0", ({a: Rational(3, 2), b: Rational(5, 2)},
                                             {a: 4, b: Rational(1, 3)}),
        Derivation([
            Differentiate("G", 2 * a * cos(x)**2 / (a**2 * cos(x)**2 + b**2 * sin(x)**2)),
            ReduceToODE("dG", "G", anti, pi / (a + b), text="u = tan x and partial fractions"),
            SolveODE("ode", pi * log(a + b) + C),
            FixConstant("general", a, b, pi * log(b), text="G(a = b) = ∫ ln b² dx = π ln b"),
        ], initial={"G": G}))


def _f14() -> CatalogueEntry:
    G = ParametricIntegral(log(a**2 * cos(x)**2 + sin(x)**2) / 2, x, a, 0, pi / 2)
    F13 = ParametricIntegral(log(a**2 * cos(x)**2 + b**2 * sin(x)**2), x, a, 0, pi / 2)
    return CatalogueEntry(
        "F14", "log-sine", "∫₀^{π/2} ln sin x dx", G, -pi / 2 * log(2), "—", ({},),
        Derivation([
            Identity(G.integrand, F13.integrand.subs(b, 1) / 2, text="G(a) = F13(a, b = 1)/2"),
            UseEntry("F13", {b: 1}, name="F13"),
            Compute(sympy.Symbol("F13") / 2, pi / 2 * log((a + 1) / 2), name="half"),
            Limit("half", a, 0, -pi / 2 * log(2), text="a → 0⁺: ln(a² cos²x + sin²x)/2 "
                  "decreases to ln sin x (monotone convergence)"),
        ]), at={a: 0})


def _power_entry(id_: str, slug: str, title: str, G: ParametricIntegral, base: ParametricIntegral,
                 base_anti: Any, base_value: Any, step_x: tuple, step_v: tuple,
                 closed: sympy.Expr, conditions: str, points: tuple) -> CatalogueEntry:
    return CatalogueEntry(
        id_, slug, title, G, closed, conditions, points,
        Derivation([
            Integrate("base", base_anti, base_value, name="base", text="n = 0"),
            Identity(*step_x, text="one more d/da multiplies the integrand by the next factor"),
            Identity(*step_v, text="…and the candidate obeys the same recursion"),
            Induction("base", n, closed),
        ], initial={"G": G, "base": base}))


def _f15() -> CatalogueEntry:
    G = ParametricIntegral(x**n * exp(-a * x), x, a, 0, oo)
    base = ParametricIntegral(exp(-a * x), x, a, 0, oo)
    closed = factorial(n) / a**(n + 1)
    return _power_entry(
        "F15", "power-exponential", "∫₀^∞ xⁿ e^{−ax} dx", G, base, -exp(-a * x) / a, 1 / a,
        (-sympy.diff(x**n * exp(-a * x), a), x**(n + 1) * exp(-a * x)),
        (-sympy.diff(closed, a), closed.subs(n, n + 1)), closed, "a > 0, n = 0, 1, 2, …",
        ({a: Rational(5, 2), n: 3}, {a: Rational(1, 3), n: 0}, {a: 2, n: 7}))


def _f16() -> CatalogueEntry:
    G = ParametricIntegral(x**a * log(x)**n, x, a, 0, 1)
    base = ParametricIntegral(x**a, x, a, 0, 1)
    closed = (-1)**n * factorial(n) / (a + 1)**(n + 1)
    return _power_entry(
        "F16", "power-log", "∫₀¹ x^a (ln x)ⁿ dx", G, base, x**(a + 1) / (a + 1), 1 / (a + 1),
        (sympy.diff(x**a * log(x)**n, a), x**a * log(x)**(n + 1)),
        (sympy.diff(closed, a), closed.subs(n, n + 1)), closed, "a > −1, n = 0, 1, 2, …",
        ({a: Rational(3, 2), n: 3}, {a: Rational(-1, 2), n: 2}, {a: 4, n: 0}))


def _f17() -> CatalogueEntry:
    G = ParametricIntegral(x**(s - 1) * exp(-x), x, s, 0, oo)
    return CatalogueEntry(
        "F17", "gamma", "Γ(s) = ∫₀^∞ x^{s−1} e^{−x} dx, Γ(½) = √π", G, gamma(s), "s > 0",
        ({s: Rational(1, 2)}, {s: Rational(1, 3)}, {s: Rational(7, 3)}),
        Derivation([
            Identity(x**s * exp(-x), -sympy.diff(x**s * exp(-x), x) + s * x**(s - 1) * exp(-x),
                     text="by parts: Γ(s + 1) = s·Γ(s) (boundary terms vanish for s > 0)"),
            ChangeVariable("G", u**2, u, 0, oo, 2 * u**(2 * s - 1) * exp(-u**2), name="Gu",
                           text="x = u²"),
            Compute((2 * u**(2 * s - 1) * exp(-u**2)).subs(s, Rational(1, 2)), 2 * exp(-u**2),
                    text="at s = ½ the integrand is 2e^{−u²}"),
            UseEntry("F6", name="gauss"),
            Compute(2 * sympy.Symbol("gauss"), sqrt(pi), text="Γ(½) = 2·√π/2"),
        ], initial={"G": G}, at={s: Rational(1, 2)}))


def _f18() -> CatalogueEntry:
    G = ParametricIntegral(x**(p - 1) * (1 - x)**(q - 1), x, p, 0, 1)
    Bv = sympy.Symbol("B", positive=True)
    density = x**(p - 1) * y**(q - 1) * exp(-x - y)
    polar = r**(p + q - 1) * u**(p - 1) * (1 - u)**(q - 1) * exp(-r)
    closed = gamma(p) * gamma(q) / gamma(p + q)
    return CatalogueEntry(
        "F18", "beta", "Beta B(p, q) = ∫₀¹ x^{p−1}(1 − x)^{q−1} dx", G, closed, "p, q > 0",
        ({p: Rational(1, 3), q: Rational(5, 2)}, {p: Rational(7, 2), q: Rational(3, 2)}),
        Derivation([
            Identity((x**(p - 1) * exp(-x)) * (y**(q - 1) * exp(-y)), density,
                     text="Γ(p)Γ(q) = ∬ x^{p−1} y^{q−1} e^{−x−y} dx dy over the quadrant"),
            Jacobian(density, (x, y), (r * u, r * (1 - u)), (r, u), polar,
                     ranges={u: (0.05, 0.95)},
                     text="x = ru, y = r(1 − u), r > 0, 0 < u < 1 (|J| = r, via pullback)"),
            Identity(polar, sympy.Mul(r**(p + q - 1) * exp(-r), u**(p - 1) * (1 - u)**(q - 1),
                                      evaluate=False),
                     ranges={u: (0.05, 0.95)},
                     text="the integral factorises: Γ(p)Γ(q) = Γ(p + q)·B(p, q)"),
            Solve(gamma(p) * gamma(q), gamma(p + q) * Bv, Bv, closed),
        ], initial={"G": G}))


def _f19() -> CatalogueEntry:
    G = ParametricIntegral(x**(s - 1) / (1 + x), x, s, 0, oo)
    k = sympy.Symbol("k", integer=True, positive=True)
    half = {s: (0.05, 0.95)}
    return CatalogueEntry(
        "F19", "reflection", "∫₀^∞ x^{s−1}/(1 + x) dx = Γ(s)Γ(1 − s) = π/sin(πs)", G,
        pi / sin(pi * s), "0 < s < 1",
        ({s: Rational(1, 3)}, {s: Rational(4, 5)}, {s: Rational(1, 2)}),
        Derivation([
            ChangeVariable("G", u / (1 - u), u, 0, 1, u**(s - 1) * (1 - u)**(-s), ranges=half,
                           text="x = u/(1 − u) gives the Beta integral B(s, 1 − s)"),
            UseEntry("F18", {p: s, q: 1 - s}, name="beta"),
            Identity(sympy.Symbol("beta"), gamma(s) * gamma(1 - s), ranges=half,
                     text="Γ(1) = 1"),
            Identity(1 / s + Sum((-1)**k * 2 * s / (s**2 - k**2), (k, 1, oo)), pi / sin(pi * s),
                     ranges=half, text="Euler: partial fractions of π/sin(πs)"),
            Identity(gamma(s) * gamma(1 - s), pi / sin(pi * s), ranges=half,
                     text="Euler's reflection formula"),
        ], initial={"G": G}))


def _f20() -> CatalogueEntry:
    G = ParametricIntegral(x**(s - 1) / (exp(x) - 1), x, s, 0, oo)
    also_G = ParametricIntegral(-log(1 - a * x) / x, x, a, 0, 1)
    return CatalogueEntry(
        "F20", "zeta-2", "ζ(2) = ∫₀^∞ x/(eˣ − 1) dx = −∫₀¹ ln(1 − x)/x dx = π²/6", G,
        gamma(s) * zeta(s), "s > 1 (Γ(s)ζ(s)); s = 2 gives π²/6",
        ({s: 2}, {s: Rational(7, 2)}),
        Derivation([
            Identity(Sum(exp(-m * x), (m, 1, oo)), 1 / (exp(x) - 1), ranges={x: (0.2, 3)},
                     text="geometric series for x > 0"),
            UseEntry("F15", {n: 1, a: m}, name="term",
                     text="∫₀^∞ x e^{−mx} dx = 1/m² (termwise, monotone convergence)"),
            Compute(Sum(sympy.Symbol("term"), (m, 1, oo)), zeta(2), name="zeta2",
                    text="Σ 1/m² = ζ(2)"),
            Identity(sympy.series(sin(x) / x, x, 0, 4).removeO().coeff(x, 2), Rational(-1, 6),
                     text="x² coefficient of sin x/x …"),
            Identity(-Sum(1 / (m**2 * pi**2), (m, 1, oo)), Rational(-1, 6),
                     text="… equals that of Euler's product Π(1 − x²/(m²π²)): Σ 1/m² = π²/6"),
            Integrate(ParametricIntegral(1 / (1 - a * x * y), y, a, 0, 1),
                      -log(1 - a * x * y) / (a * x), -log(1 - a * x) / (a * x),
                      ranges={x: (0.05, 0.95), a: (0.05, 0.95)}, name=None,
                      text="∫₀¹∫₀¹ dx dy/(1 − xy) = −∫₀¹ ln(1 − x)/x dx (a = 1)"),
            Compute(sympy.Symbol("zeta2"), pi**2 / 6),
        ], initial={"G": G}, at={s: 2}),
        also=(("−∫₀¹ ln(1 − x)/x dx", also_G, {a: 1, s: 2}),))


def _f21() -> CatalogueEntry:
    G = ParametricIntegral(sin(b * x**2), x, b, 0, oo)
    numeric = ParametricIntegral(sin(t) / (2 * sqrt(b * t)), t, b, 0, oo, omega=1)
    numeric_cos = ParametricIntegral(cos(t) / (2 * sqrt(b * t)), t, b, 0, oo, omega=1)
    gauss_t = ParametricIntegral(exp(-t * u**2), u, t, 0, oo)
    inner = ParametricIntegral(sin(t) * exp(-t * u**2), t, u, 0, oo)
    closed = sqrt(pi / (8 * b))
    return CatalogueEntry(
        "F21", "fresnel", "Fresnel ∫₀^∞ sin(bx²) dx = ∫₀^∞ cos(bx²) dx", G, closed, "b > 0",
        ({b: 1}, {b: Rational(7, 3)}),
        Derivation([
            ChangeVariable("G", sqrt(t / b), t, 0, oo, sin(t) / (2 * sqrt(b) * sqrt(t)),
                           text="x = √(t/b)"),
            ChangeVariable(gauss_t, v / sqrt(t), v, 0, oo, exp(-v**2) / sqrt(t),
                           text="1/√t = (2/√π)∫₀^∞ e^{−tu²} du (Gaussian F6, scaled)"),
            Integrate(inner, -exp(-u**2 * t) * (u**2 * sin(t) + cos(t)) / (1 + u**4),
                      1 / (1 + u**4), name="inner",
                      text="swap the integrals; the t-integral is F3's antiderivative at a = u²"),
            Identity(Integral(1 / (1 + u**4), (u, 0, oo)), pi / (2 * sqrt(2)), name="J"),
            Compute(1 / (2 * sqrt(b)) * 2 / sqrt(pi) * sympy.Symbol("J"), closed,
                    text="(1/(2√b))·(2/√π)·π/(2√2)"),
        ], initial={"G": G}),
        numeric=numeric,
        also=(("∫₀^∞ cos(bx²) dx", numeric_cos, {}),))


def _f22() -> CatalogueEntry:
    G = ParametricIntegral(sin(x) / x**p, x, p, 0, oo, omega=1)
    gam = ParametricIntegral(t**(p - 1) * exp(-x * t), t, p, 0, oo)
    inner = ParametricIntegral(sin(x) * exp(-x * t), x, t, 0, oo)
    rest = ParametricIntegral(t**(p - 1) / (1 + t**2), t, p, 0, oo)
    closed = pi / (2 * gamma(p) * sin(pi * p / 2))
    two = {p: (0.1, 1.9)}
    return CatalogueEntry(
        "F22", "sine-power", "∫₀^∞ sin x / x^p dx", G, closed,
        "0 < p < 2; = Γ(1 − p)·cos(πp/2) for p ≠ 1",
        ({p: Rational(1, 2)}, {p: Rational(3, 2)}, {p: Rational(1, 3)}),
        Derivation([
            ChangeVariable(gam, v / x, v, 0, oo, x**(-p) * v**(p - 1) * exp(-v), ranges=two,
                           text="1/x^p = (1/Γ(p))∫₀^∞ t^{p−1} e^{−xt} dt (Γ of F17, scaled)"),
            Integrate(inner, -exp(-t * x) * (t * sin(x) + cos(x)) / (1 + t**2), 1 / (1 + t**2),
                      text="swap the integrals (0 < p < 2); the x-integral is F3's "
                      "antiderivative"),
            ChangeVariable(rest, sqrt(w), w, 0, oo, w**(p / 2 - 1) / (2 * (1 + w)), ranges=two,
                           text="t = √w: half the reflection integral F19 at s = p/2"),
            UseEntry("F19", {s: p / 2}, name="refl"),
            Compute(sympy.Symbol("refl") / (2 * gamma(p)), closed, ranges=two),
            Identity(closed, gamma(1 - p) * cos(pi * p / 2), ranges={p: (0.1, 0.9)},
                     text="reflection Γ(p)Γ(1 − p) = π/sin(πp) (p ≠ 1)"),
        ], initial={"G": G}))


_PART7 = ("part 7 'a synthesis of Euler's mathematics' (2013-03-27), as stated in issue 14 — the "
          "article text was not found to confirm it")


def _f23() -> CatalogueEntry:
    G = ParametricIntegral(cos(a * x) / (1 + x**2), x, a, 0, oo, omega=a)
    G_real = ParametricIntegral(cos(ar * x) / (1 + x**2), x, ar, 0, oo, omega=Abs(ar))
    C1, C2 = constants(2)
    closed = pi / 2 * exp(-a)
    return CatalogueEntry(
        "F23", "laplace-cosine", "Laplace's ∫₀^∞ cos(ax)/(1 + x²) dx (G'' = G)", G, closed,
        "a ≥ 0; (π/2)e^{−|a|} for real a (even in a)",
        ({a: Rational(13, 10)}, {a: Rational(1, 3)}, {a: 4}),
        Derivation([
            Differentiate("G", -x * sin(a * x) / (1 + x**2), name="dG",
                          text="G'(a) = −∫ x sin(ax)/(1+x²) dx: converges for a > 0, but not "
                          "uniformly near a = 0 (see the caveat below)"),
            Differentiate("dG", -x**2 * cos(a * x) / (1 + x**2), name="d2G",
                          text="once more, formally: this integral diverges — it is read with "
                          "Euler's regularisation of the next step"),
            Regularise(cos(a * x), x, 0, 0, name="reg",
                       text="Euler's ∫₀^∞ cos(ax) dx = 0 for a > 0 (Abel and Cesàro agree)"),
            ReduceToLinearODE("d2G", ("G", "dG"), (1, 0), h=0, rest=-cos(a * x),
                              rest_value=-sympy.Symbol("reg"),
                              text="−x²/(1+x²) = −1 + 1/(1+x²), so G'' = −∫cos(ax) dx + G"),
            SolveODE("ode", C1 * exp(a) + C2 * exp(-a),
                     text="constant coefficients: roots ±1 of λ² = 1"),
            Identity(Integral(1 / (1 + x**2), (x, 0, oo)), pi / 2, name="G0",
                     text="boundary value G(0) = ∫₀^∞ dx/(1+x²)"),
            FixConstants("general", a, (ValueAt(0, "G0"), BoundedAt(oo)),
                         text="|G(a)| ≤ G(0) = π/2 for all a, so the growing mode e^a is absent"),
            Identity(cos(-ar * x, evaluate=False) / (1 + x**2), cos(ar * x) / (1 + x**2),
                     text="G is even in a: G(a) = (π/2)e^{−|a|} on the whole line"),
            DerivativeJump(G_real, "closed", pi / 2 * exp(ar), -pi / 2, pi / 2, at=0,
                           text="the kink of e^{−|a|}: G'(0⁺) = −π/2, G'(0⁻) = +π/2, while "
                           "differentiating under the integral sign at a = 0 gives 0"),
        ], initial={"G": G}, result="closed"),
        part=_PART7,
        notes="G'' = G needs the regularised ∫₀^∞ cos(ax) dx = 0; a route with only convergent "
              "integrals writes G' = −π/2 + ∫₀^∞ sin(ax)/(x(1+x²)) dx (a > 0) and differentiates "
              "that once more. Either way the ODE holds for a > 0 only: G' jumps at a = 0.")


def _f24() -> CatalogueEntry:
    H = ParametricIntegral(cos(x) / (a**2 + x**2), x, a, 0, oo, omega=1)
    closed = pi * exp(-a) / (2 * a)
    return CatalogueEntry(
        "F24", "laplace-cosine-companion", "∫₀^∞ cos x/(a² + x²) dx", H, closed, "a > 0",
        ({a: Rational(7, 5)}, {a: Rational(1, 4)}),
        Derivation([
            ChangeVariable("G", a * t, t, 0, oo, cos(a * t) / (a * (1 + t**2)),
                           text="x = at: H(a) = G(a)/a with G of F23"),
            UseEntry("F23", name="F23"),
            Compute(sympy.Symbol("F23") / a, closed, text="(π/2)e^{−a}/a"),
        ], initial={"G": H}),
        part=_PART7)


BUILDERS = (_f13, _f14, _f15, _f16, _f17, _f18, _f19, _f20, _f21, _f22, _f23, _f24)
"""The builders of F13–F24, in order: each returns its :class:`CatalogueEntry`."""
