"""Part 7's two lessons as derivation steps: Euler's value of a divergent oscillating integral
as an explicit regularisation (Abel and Cesàro), and the caveat where differentiation under the
integral sign fails (a jump of ``G'``).

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 7 "a synthesis of Euler's
mathematics" (2013-03-27, archive number not confirmed); the rule is part 2, kexue.fm archive
1619.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy

from ._derivation import Step, _expr_names, _Family, _fmt, _get, _peek
from ._same import same

__all__ = ["Regularise", "DerivativeJump"]


@dataclass
class Regularise(Step):
    """Euler's value of a divergent oscillating integral, as an explicit regularisation.

    Source: Feynman's integration trick series, part 7 on Euler's mathematics (2013-03-27,
    archive number not confirmed); the differentiation rule is part 2, kexue.fm archive 1619.

    ``∫_m^∞ f dx`` does not converge (its partial integrals oscillate); it is *defined* as the
    Abel limit ``lim_{ε→0⁺} ∫_m^∞ e^{−εx} f dx`` and, equivalently where both exist, the Cesàro
    limit ``lim_{T→∞} (1/T) ∫_0^T P(X) dX`` of the partial integrals
    ``P(X) = ∫_m^{m+X} f dx``. For ``f = cos(ax)``, ``a > 0``: the partial
    integrals are ``sin(aX)/a``, the Abel integral is ``ε/(ε² + a²)`` and both limits are 0 —
    Euler's ``∫₀^∞ cos(ax) dx = 0`` used by part 7 (2013-03-27). Replay computes each requested
    limit with SymPy, checks the recorded value, and checks that the ordinary integral indeed
    does not converge (else the step is not a regularisation).

    Args:
        integrand: ``f(x)`` (may contain the parameter).
        x: the integration variable.
        lower: the finite lower limit ``m`` (the upper limit is ∞).
        value: the regularised value.
        methods: a subset of ``("abel", "cesaro")``.
    """

    integrand: Any
    x: sympy.Symbol
    lower: Any
    value: Any
    methods: tuple = ("abel", "cesaro")
    name: str | None = "reg"
    text: str = "Euler's regularised value (Abel and Cesàro summation agree)"
    ranges: dict = field(default_factory=dict)
    kind = "regularise"

    def claim(self, ctx: dict | None = None) -> str:
        how = " = ".join({"abel": "lim_{ε→0⁺} ∫ e^{−εx}·f dx",
                          "cesaro": "lim_{T→∞} (1/T)∫₀^T ∫ f dX"}[m] for m in self.methods)
        return (f"∫[{self.lower}, oo] {_fmt(self.integrand)} d{self.x} := {how} = "
                f"{_fmt(self.value)} (the integral itself diverges)")

    def preview(self, ctx: dict) -> Any:
        return sympy.sympify(self.value)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        bad = [m for m in self.methods if m not in ("abel", "cesaro")]
        if bad or not self.methods:
            return False, f"methods must be a non-empty subset of ('abel', 'cesaro'); got " \
                          f"{self.methods}", None
        f, x = sympy.sympify(self.integrand), self.x
        m, value = sympy.sympify(self.lower), sympy.sympify(self.value)
        X = sympy.Dummy("X", positive=True)
        partial = sympy.integrate(f, (x, m, m + X), conds="none")
        tail = sympy.limit(partial, X, sympy.oo)
        if not tail.has(sympy.AccumBounds) and tail.is_finite:
            return False, f"the ordinary integral converges (to {tail}): nothing to regularise", \
                None
        hows = [f"ordinary integral diverges (partial integrals {sympy.sstr(partial)})"]
        ok = True
        if "abel" in self.methods:
            eps = sympy.Dummy("epsilon", positive=True)
            damped = sympy.integrate(sympy.exp(-eps * x) * f, (x, m, sympy.oo), conds="none")
            abel = sympy.limit(sympy.simplify(damped), eps, 0, "+")
            ok_a, how_a = same(abel, value, ranges=self.ranges)
            ok &= ok_a
            hows.append(f"Abel: ∫e^(-εx)f = {sympy.sstr(sympy.simplify(damped))} → {abel}")
        if "cesaro" in self.methods:
            T = sympy.Dummy("T", positive=True)
            mean = sympy.integrate(partial, (X, 0, T)) / T
            ces = sympy.limit(mean, T, sympy.oo)
            ok_c, how_c = same(ces, value, ranges=self.ranges)
            ok &= ok_c
            hows.append(f"Cesàro mean of the partial integrals → {ces}")
        return ok, "; ".join(hows), value


@dataclass
class DerivativeJump(Step):
    """The caveat of the trick: ``G'`` jumps at ``a = a₀``, where differentiating under the
    integral sign gives a wrong value.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    For ``G(a) = ∫₀^∞ cos(ax)/(1+x²) dx = (π/2)e^{−|a|}`` (part 7): ``G'(0⁺) = −π/2``,
    ``G'(0⁻) = +π/2``, while ``∫₀^∞ ∂_a[cos(ax)/(1+x²)]|_{a=0} dx = 0`` — the differentiated
    integral ``−∫ x sin(ax)/(1+x²) dx`` does not converge uniformly near ``a = 0``.

    Replay checks (1) symbolically: the one-sided limits of the derivatives of the right and left
    closed forms, and that ``G`` itself is continuous at ``a₀``; (2) that the naive value
    (differentiate the integrand, set ``a = a₀``, integrate) differs from both; (3) numerically:
    one-sided difference quotients of the *quadrature* values ``G(a₀ ± h)``, ``G(a₀ ± 2h)``,
    ``G(a₀)`` with one Richardson step (error ``O(h²)``), to ``digits`` digits.

    Args:
        integral: the family with a real parameter (quadrature at ``a₀ ± h``; an oscillating
            family gives ``omega = |b·a|``, dropped where it vanishes).
        right, left: closed forms of ``G`` for ``a > a₀`` and ``a < a₀`` (expressions in the
            integral's parameter, or context names).
        at: ``a₀``.
        right_slope, left_slope: the recorded ``G'(a₀⁺)``, ``G'(a₀⁻)``.
        h: the difference step; digits: agreement required of the numeric quotients.
    """

    integral: Any
    right: Any
    left: Any
    right_slope: Any
    left_slope: Any
    at: Any = 0
    h: float = 1e-4
    digits: int = 6
    name: str | None = "jump"
    text: str = "caveat: differentiation under the integral sign fails at the kink"
    kind = "caveat"

    def claim(self, ctx: dict | None = None) -> str:
        G = _peek(ctx, self.integral)
        a = G.param if G is not None else "a"
        return (f"G'({a}→{self.at}⁺) = {_fmt(self.right_slope)}, G'({a}→{self.at}⁻) = "
                f"{_fmt(self.left_slope)}: G' jumps, yet ∫ ∂f/∂{a} dx at {a} = {self.at} "
                f"gives a single value")

    def _closed(self, ref: Any, G: _Family, ctx: dict) -> sympy.Expr:
        e = _expr_names(sympy.sympify(_get(ctx, ref)), ctx)
        # closed forms recorded with a positive parameter symbol → the family's real one
        sub = {s: G.param for s in e.free_symbols if s.name == G.param.name and s != G.param}
        return e.subs(sub)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        G = _get(ctx, self.integral)
        a, at = G.param, sympy.sympify(self.at)
        right, left = self._closed(self.right, G, ctx), self._closed(self.left, G, ctx)
        r_slope = sympy.limit(sympy.diff(right, a), a, at, "+")
        l_slope = sympy.limit(sympy.diff(left, a), a, at, "-")
        ok_r, _ = same(r_slope, self.right_slope)
        ok_l, _ = same(l_slope, self.left_slope)
        cont, _ = same(sympy.limit(right, a, at, "+"), sympy.limit(left, a, at, "-"))
        jump = not same(r_slope, l_slope)[0]
        naive_f = sympy.diff(G.integrand, a).subs(a, at)
        if naive_f == 0:
            naive = sympy.Integer(0)
        else:
            naive = sympy.integrate(naive_f, (G.x, G.lower.subs(a, at), G.upper.subs(a, at)))
        naive_differs = not same(naive, r_slope)[0] and not same(naive, l_slope)[0]
        # numeric: quadrature values, one-sided quotients with one Richardson step
        dps = self.digits + 14
        h = sympy.Rational(str(self.h))
        vals = {k: _evaluate_at(G, at + k * h, dps) for k in (-2, -1, 0, 1, 2)}
        with mpmath.workdps(dps):
            hm = mpmath.mpf(h.p) / h.q
            d_plus = [(vals[k] - vals[0]) / (k * hm) for k in (1, 2)]
            d_minus = [(vals[-k] - vals[0]) / (-k * hm) for k in (1, 2)]
            rich_p = 2 * d_plus[0] - d_plus[1]
            rich_m = 2 * d_minus[0] - d_minus[1]
            want_p = mpmath.mpf(sympy.N(self.right_slope, dps))
            want_m = mpmath.mpf(sympy.N(self.left_slope, dps))
            tiny = mpmath.mpf(10) ** -dps  # relative digits; absolute where the slope is 0
            dig_p = -mpmath.log10(abs(rich_p - want_p) / max(abs(want_p), 1) + tiny)
            dig_m = -mpmath.log10(abs(rich_m - want_m) / max(abs(want_m), 1) + tiny)
        num_ok = min(dig_p, dig_m) >= self.digits
        ok = ok_r and ok_l and cont and jump and naive_differs and num_ok
        how = (f"symbolic G'(0⁺) = {sympy.sstr(r_slope)}, G'(0⁻) = {sympy.sstr(l_slope)}, G "
               f"continuous: {cont}; naive ∫∂f/∂a = {sympy.sstr(naive)}; quadrature difference "
               f"quotients (h = {self.h:g}, Richardson) {mpmath.nstr(rich_p, 10)} and "
               f"{mpmath.nstr(rich_m, 10)} ({float(min(dig_p, dig_m)):.1f} digits)")
        produced = {"right": float(r_slope), "left": float(l_slope), "naive": float(naive),
                    "numeric_right": float(rich_p), "numeric_left": float(rich_m),
                    "digits": float(min(dig_p, dig_m))}
        return ok, how, produced


def _evaluate_at(G: _Family, value: sympy.Expr, dps: int) -> mpmath.mpf:
    """``G(value)`` by quadrature; an ``omega`` that vanishes there is dropped (no
    oscillation left)."""
    if G.omega is not None and sympy.sympify(G.omega).subs(G.param, value) == 0:
        G = G._replace(omega=None)
    return G.evaluate(value, digits=dps)
