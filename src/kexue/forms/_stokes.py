"""The Stokes table: Newton–Leibniz, Green, Kelvin–Stokes and Gauss as one formula, with exact
values, and the counter-example where the hypothesis (ω smooth on M) fails.

Source: exterior differential series, part 5 "geometric meaning" (kexue.fm archive 4062,
2016-11-06): ``∫_{∂D} ω = ∫_D dω`` read as Green's formula and its relatives. Exact values are the
standard ones (reference note, section 3.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy
from sympy import Rational, cos, pi, sin

from ._chain import Chain
from ._form import Form, coords

__all__ = ["StokesCase", "STOKES_CASES", "disk", "ellipse", "annulus", "hemisphere", "ball",
           "unit_cube", "unit_square"]


def disk(radius: sympy.Expr = 1) -> Chain:
    """The disk of ``radius`` in R², positively oriented: ``(r cos θ, r sin θ)``, ``r ∈ [0, R]``,
    ``θ ∈ [0, 2π]``; its boundary is the counter-clockwise circle.

    Source: kexue.fm archive 4062 (Stokes checks).
    """
    r, t = sympy.symbols("r theta", real=True)
    return Chain((r * cos(t), r * sin(t)), (r, t), [(0, radius), (0, 2 * pi)])


def ellipse(a: sympy.Expr, b: sympy.Expr) -> Chain:
    """The filled ellipse with semi-axes ``a, b``: ``(a r cos θ, b r sin θ)``, ``[0,1]×[0,2π]``.

    Source: kexue.fm archive 4062 (Stokes checks).
    """
    r, t = sympy.symbols("r theta", real=True)
    return Chain((a * r * cos(t), b * r * sin(t)), (r, t), [(0, 1), (0, 2 * pi)])


def annulus(inner: sympy.Expr, outer: sympy.Expr) -> Chain:
    """The annulus ``inner ≤ r ≤ outer`` in R² (boundary: outer circle ccw, inner circle cw).

    Source: kexue.fm archive 4062 (Stokes checks).
    """
    r, t = sympy.symbols("r theta", real=True)
    return Chain((r * cos(t), r * sin(t)), (r, t), [(inner, outer), (0, 2 * pi)])


def hemisphere() -> Chain:
    """The upper unit hemisphere, outward normal: ``(sin φ cos θ, sin φ sin θ, cos φ)`` on
    ``φ ∈ [0, π/2]``, ``θ ∈ [0, 2π]``; its boundary is the counter-clockwise equator.

    Source: kexue.fm archive 4062 (Stokes checks).
    """
    p, t = sympy.symbols("phi theta", real=True)
    return Chain((sin(p) * cos(t), sin(p) * sin(t), cos(p)), (p, t), [(0, pi / 2), (0, 2 * pi)])


def ball(radius: sympy.Expr = 1) -> Chain:
    """The ball in spherical coordinates ``(ρ, φ, θ)`` (Jacobian ``ρ² sin φ > 0``); its boundary
    is the outward-oriented sphere.

    Source: kexue.fm archive 4062 (Stokes checks).
    """
    rho, p, t = sympy.symbols("rho phi theta", real=True)
    return Chain((rho * sin(p) * cos(t), rho * sin(p) * sin(t), rho * cos(p)), (rho, p, t),
                 [(0, radius), (0, pi), (0, 2 * pi)])


def unit_square() -> Chain:
    """``[0, 1]²`` in R² with the identity map.

    Source: kexue.fm archive 4062 (Stokes checks).
    """
    u, v = sympy.symbols("u v", real=True)
    return Chain((u, v), (u, v), [(0, 1), (0, 1)])


def unit_cube() -> Chain:
    """``[0, 1]³`` in R³ with the identity map.

    Source: kexue.fm archive 4062 (Stokes checks).
    """
    u, v, w = sympy.symbols("u v w", real=True)
    return Chain((u, v, w), (u, v, w), [(0, 1), (0, 1), (0, 1)])


@dataclass(frozen=True)
class StokesCase:
    """One row of the Stokes table.

    Source: kexue.fm archive 4062.

    Attributes:
        name: short identifier (``"green-disk"``).
        theorem: the classical theorem this instance of ``∫_{∂M} ω = ∫_M dω`` is.
        form_text, domain_text: the row as printed.
        form: ω, a (k−1)-form.
        chain: M, a k-chain.
        exact_boundary, exact_interior: exact ``∫_{∂M} ω`` and ``∫_M dω`` (equal unless the
            hypotheses fail).
        constants: numbers substituted for symbolic constants in numeric checks.
        expect_singular: whether ω is singular on M (the counter-example).
    """

    name: str
    theorem: str
    form_text: str
    domain_text: str
    form: Form
    chain: Chain
    exact_boundary: sympy.Expr
    exact_interior: sympy.Expr
    constants: dict = field(default_factory=dict)
    expect_singular: bool = False

    def numeric_form(self) -> Form:
        return self.form.subs(self.constants) if self.constants else self.form

    def numeric_chain(self) -> Chain:
        return self.chain.subs(self.constants) if self.constants else self.chain


def _cases() -> tuple[StokesCase, ...]:
    C1 = coords("x")
    (x,), _ = C1
    C2 = coords("x y")
    (x2, y2), (dx, dy) = C2
    C3 = coords("x y z")
    (X, Y, Z), _ = C3
    a, b = sympy.symbols("a b", positive=True)
    u = sympy.Symbol("u", real=True)
    winding = (x2 * dy - y2 * dx) / (x2**2 + y2**2)
    return (
        StokesCase("newton-leibniz", "Newton–Leibniz", "f = x³ (0-form)", "[0, 2]",
                   C1.form(x**3), Chain((u,), (u,), [(0, 2)]), sympy.Integer(8),
                   sympy.Integer(8)),
        StokesCase("green-ellipse-area", "Green (area)", "½(x dy − y dx)",
                   "ellipse, semi-axes a, b (numeric: a = 2, b = 3/2)",
                   Rational(1, 2) * (x2 * dy - y2 * dx), ellipse(a, b), pi * a * b, pi * a * b,
                   {a: 2, b: Rational(3, 2)}),
        StokesCase("green-disk", "Green (rotation)", "−y dx + x dy", "unit disk",
                   -y2 * dx + x2 * dy, disk(), 2 * pi, 2 * pi),
        StokesCase("green-square", "Green", "xy dx + x² dy  (dω = x dx∧dy)", "[0, 1]²",
                   x2 * y2 * dx + x2**2 * dy, unit_square(), Rational(1, 2), Rational(1, 2)),
        StokesCase("kelvin-stokes-hemisphere", "Kelvin–Stokes",
                   "F = (−y, x, 0), curl F = (0, 0, 2)",
                   "upper unit hemisphere (∂ = equator)", C3.work((-Y, X, 0)), hemisphere(),
                   2 * pi, 2 * pi),
        StokesCase("gauss-ball-linear", "Gauss", "F = (x, y, z), div F = 3", "unit ball",
                   C3.flux((X, Y, Z)), ball(), 4 * pi, 4 * pi),
        StokesCase("gauss-ball-cubic", "Gauss", "F = (x³, y³, z³), div F = 3r²", "unit ball",
                   C3.flux((X**3, Y**3, Z**3)), ball(), Rational(12, 5) * pi,
                   Rational(12, 5) * pi),
        StokesCase("gauss-cube", "Gauss", "F = (x²y, y²z, z²x), div F = 2xy + 2yz + 2zx",
                   "[0, 1]³", C3.flux((X**2 * Y, Y**2 * Z, Z**2 * X)), unit_cube(),
                   Rational(3, 2), Rational(3, 2)),
        StokesCase("counter-example", "counter-example (hypothesis fails)",
                   "(x dy − y dx)/(x² + y²), closed: dω = 0", "unit disk (contains the pole 0)",
                   winding, disk(), 2 * pi, sympy.Integer(0), expect_singular=True),
        StokesCase("annulus", "Green (pole excluded)", "(x dy − y dx)/(x² + y²)",
                   "annulus ½ ≤ r ≤ 1", winding, annulus(Rational(1, 2), 1), sympy.Integer(0),
                   sympy.Integer(0)),
    )


STOKES_CASES: tuple[StokesCase, ...] = _cases()
"""The Stokes table of the reference note (section 3.2) plus the annulus that repairs the
counter-example by removing the pole."""
