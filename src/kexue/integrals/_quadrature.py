"""Numerical quadrature to many digits for parametric integrals: tanh-sinh on substituted
endpoint pieces, power-law tails mapped to bounded integrands, oscillating tails summed by period.

Source: Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619) and part 7
(2013-03-27): every closed form the trick produces is checked against mpmath quadrature to 30
digits. The method: each finite piece ``[m, n]`` is split at its midpoint and mapped with
``x = m + c·u^K`` / ``x = n − c·u^K``, infinite tails with ``x = c − 1 + u^{−K}``, with K chosen
from the endpoint exponent measured by two probes (see :data:`SUBSTITUTION_POWER`,
:data:`TAIL_POWER`); ``mpmath.quad`` (tanh-sinh) integrates the bounded results and
``mpmath.quadosc`` sums oscillating tails.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import sympy

from ._symbolic import _gt

__all__ = ["quad", "SUBSTITUTION_POWER", "TAIL_POWER"]

SUBSTITUTION_POWER = (3, 40)
"""Range of the power K of the endpoint substitution ``x = end ± c·u^K``. An endpoint behaviour
``|x − end|^α`` (α measured from two probes near the end) becomes ``u^{K(1+α)−1}``; K is the
smallest power in the range that makes this at least ``u¹``."""

TAIL_POWER = (3, 40)
"""Range of the power K of the tail substitution ``x = c − 1 + u^{−K}``: a tail ``x^{−1−β}``
(β measured from two far probes) becomes ``u^{Kβ−1}``; K as above."""


def quad(f: sympy.Expr, x: sympy.Symbol, lo: sympy.Expr, hi: sympy.Expr,
         omega: sympy.Expr | None, dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``(∫_lo^hi f dx, error estimate)`` at ``dps`` working digits; either limit may be
    ±∞, and limits in decreasing order give the negated integral. ``omega`` (the angular
    frequency of an oscillating tail) sums the tail period by period.

    Raises:
        ValueError: a divergent-looking endpoint or tail, a complex integrand, or a
            singularity the substitutions cannot remove.
    """
    if lo == hi:
        return mpmath.mpf(0), mpmath.mpf(0)
    sign = 1
    if (lo.is_infinite and lo.is_positive) or (hi.is_infinite and hi.is_negative) or (
            lo.is_finite and hi.is_finite and _gt(lo, hi)):
        lo, hi, sign = hi, lo, -1
    with mpmath.workdps(dps):
        w = None if omega is None else mpmath.mpf(sympy.N(omega, dps))
        if lo.is_infinite and hi.is_infinite:  # split at 0
            v1, e1 = _half_line(f.subs(x, -x), x, sympy.Integer(0), w, dps)
            v2, e2 = _half_line(f, x, sympy.Integer(0), w, dps)
            return sign * (v1 + v2), e1 + e2
        if lo.is_infinite:  # (−∞, hi]: reflect x → −x
            v, e = _half_line(f.subs(x, -x), x, -hi, w, dps)
            return sign * v, e
        if hi.is_infinite:
            v, e = _half_line(f, x, lo, w, dps)
            return sign * v, e
        v, e = _finite(f, x, lo, hi, dps)
        return sign * v, e


def _safe(fn: Callable, dps: int) -> Callable:
    """Wrap an mpmath integrand: re-evaluate at more precision when a node rounds onto a
    removable or integrable singularity (0/0, log 0), and reject complex values. The first try
    runs at the caller's precision (mpmath raises it inside ``quadosc``/``nsum``)."""

    def g(x: mpmath.mpf) -> mpmath.mpf:
        for extra in (0, dps, 3 * dps):
            try:
                if extra:
                    with mpmath.workdps(mpmath.mp.dps + extra):
                        v = fn(x)
                else:
                    v = fn(x)
            except (ZeroDivisionError, ValueError):
                continue
            if isinstance(v, mpmath.mpc):
                if abs(v.imag) > mpmath.mpf(10) ** (-dps) * max(1, abs(v.real)):
                    raise ValueError(f"evaluate: the integrand is complex ({v}) at x = {x}; "
                                     "check the range and the parameter values.")
                v = v.real
            if mpmath.isfinite(v):
                return +v
        raise _Singular(x)

    return g


class _Singular(ValueError):
    def __init__(self, x: mpmath.mpf):
        super().__init__(f"evaluate: the integrand is not finite at x = {mpmath.nstr(x, 12)}; "
                         "the integral may diverge there, or split the range at that point.")
        self.x = x


def _mp(fn_expr: sympy.Expr, var: sympy.Symbol, dps: int) -> Callable:
    return _safe(sympy.lambdify(var, fn_expr, modules="mpmath"), dps)


def _probe(fn: Callable, x1: mpmath.mpf, x2: mpmath.mpf) -> mpmath.mpf | None:
    """``log|f(x2)/f(x1)|`` from two probes, or None when either is 0 or not finite."""
    try:
        v1, v2 = abs(fn(x1)), abs(fn(x2))
    except ValueError:
        return None
    if v1 == 0 or v2 == 0 or not (mpmath.isfinite(v1) and mpmath.isfinite(v2)):
        return None
    return mpmath.log(v2 / v1)


def _tail_excess(fn: Callable, X1: mpmath.mpf, X2: mpmath.mpf) -> mpmath.mpf | None:
    """β of a tail ``|f| ~ x^{−1−β}`` from the largest |f| over a few probes near ``X1`` and
    near ``X2`` (robust to zeros of oscillating integrands); None for faster-than-any-power
    decay or failed probes."""
    tiny = mpmath.mpf(10) ** (-2 * mpmath.mp.dps)
    try:
        m1 = max(abs(fn(X1 * (1 + mpmath.mpf(k) / 7))) for k in range(6))
        m2 = max(abs(fn(X2 * (1 + mpmath.mpf(k) / 7))) for k in range(6))
    except ValueError:
        return None
    if m1 < tiny or m2 == 0 or not (mpmath.isfinite(m1) and mpmath.isfinite(m2)):
        return None
    return -mpmath.log(m2 / m1) / mpmath.log(X2 / X1) - 1


def _power(excess: mpmath.mpf | None, bounds: tuple[int, int]) -> int:
    """Smallest K in ``bounds`` with ``K·excess − 1 ≥ 1`` (excess = 1 + α or β)."""
    lo, hi = bounds
    if excess is None or excess >= mpmath.mpf(2) / lo:
        return lo
    if excess <= 0:
        return hi
    return int(min(hi, max(lo, int(mpmath.ceil(2 / excess)))))


def _endpoint_piece(f: sympy.Expr, x: sympy.Symbol, end: sympy.Expr, c: sympy.Expr,
                    direction: int, dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``∫`` over ``[end, end + direction·c]`` (oriented away from ``end``; the caller fixes the
    sign). The shift ``x = end + direction·y`` is done symbolically, so the distance ``y`` to the
    endpoint keeps full relative precision (``1 − (1 − y)`` is ``y``, ``sin(π − y)`` is
    ``sin y``); then ``y = c·u^K`` with K from the endpoint exponent measured by two probes."""
    y = sympy.Dummy("y", positive=True)
    g = _mp(f.subs(x, end + direction * y), y, dps)
    cm = mpmath.mpf(sympy.N(c, dps))
    h1, h2 = cm * mpmath.mpf(10) ** -8, cm * mpmath.mpf(10) ** -16
    ratio = _probe(g, h1, h2)
    alpha = None if ratio is None else ratio / mpmath.log(h2 / h1)
    if alpha is not None and alpha <= -0.999:
        raise ValueError(f"evaluate: the integrand behaves like |x − {end}|^α with α ≈ "
                         f"{mpmath.nstr(alpha, 3)} ≤ −1 at x = {end}, so the integral diverges "
                         "there; check the limits and the parameter range.")
    K = _power(None if alpha is None else 1 + alpha, SUBSTITUTION_POWER)
    tiny = mpmath.mpf(10) ** (-mpmath.mp.dps)

    def h(u: mpmath.mpf) -> mpmath.mpf:
        uk = u**K
        if uk == 0:
            return mpmath.mpf(0)
        try:
            return g(cm * uk) * K * cm * u ** (K - 1)
        except _Singular:
            if uk < tiny:  # node within 10^-dps of the endpoint: its weight is negligible
                return mpmath.mpf(0)
            raise

    return mpmath.quad(h, [0, 1], error=True)


def _finite(f: sympy.Expr, x: sympy.Symbol, a: sympy.Expr, b: sympy.Expr,
            dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``∫_a^b`` as two endpoint pieces meeting at the midpoint."""
    half = (b - a) / 2
    v1, e1 = _endpoint_piece(f, x, a, half, +1, dps)
    v2, e2 = _endpoint_piece(f, x, b, half, -1, dps)
    return v1 + v2, e1 + e2


def _half_line(f: sympy.Expr, x: sympy.Symbol, a: sympy.Expr, omega: mpmath.mpf | None,
               dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``∫_a^∞``: ``[a, c]`` by :func:`_finite`, the tail by ``x = c − 1 + u^{−K}`` (K from the
    decay exponent measured by two far probes) or, when oscillating, by ``mpmath.quadosc``."""
    if omega is not None:
        if omega <= 0:
            raise ValueError(f"evaluate: omega must be positive; got {omega}.")
        c = a + 2 * sympy.pi / sympy.Float(omega, dps)
        v1, e1 = _finite(f, x, a, c, dps)
        v2 = mpmath.quadosc(_mp(f, x, dps), [mpmath.mpf(sympy.N(c, dps)), mpmath.inf],
                            omega=omega)
        return v1 + v2, e1
    c = a + 1
    v1, e1 = _finite(f, x, a, c, dps)
    fn = _mp(f, x, dps)
    cm = mpmath.mpf(sympy.N(c, dps))
    X1, X2 = cm + mpmath.mpf(10) ** 8, cm + mpmath.mpf(10) ** 16
    beta = _tail_excess(fn, X1, X2)
    if beta is not None and beta <= 0.001:
        raise ValueError(f"evaluate: the integrand decays like x^−(1+β) with β ≈ "
                         f"{mpmath.nstr(beta, 3)} ≤ 0, so the integral diverges at ∞ unless it "
                         "oscillates — then pass omega= (the angular frequency) to "
                         "ParametricIntegral.")
    K = _power(beta, TAIL_POWER)

    def tail(u: mpmath.mpf) -> mpmath.mpf:
        if u == 0:
            return mpmath.mpf(0)
        return fn(cm - 1 + u ** (-K)) * K * u ** (-K - 1)

    v2, e2 = mpmath.quad(tail, [0, 1], error=True)
    return v1 + v2, e1 + e2
