"""Derivations as recorded, replayable steps: differentiate under the integral sign (as often
as needed), integrate in x, regularise a divergent oscillating integral (Abel/Cesàro), solve the
linear ODE of any order in the parameter, fix its constants from initial or boundary conditions
(a value at a = 0, boundedness as a → ∞), and state where differentiation under the integral
sign fails (a jump of G').

Source: Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619) for the
rule, part 7 "a synthesis of Euler's mathematics" (2013-03-27) for the programme and for the
second-order example ``∫₀^∞ cos(ax)/(1+x²) dx`` with Euler's ``∫₀^∞ cos(ax) dx = 0`` (as stated in
issue 14; the article text itself was not available to check).

Every step both *records* a mathematical claim (for the report) and *replays* it: it recomputes
the claim from earlier results with SymPy (derivatives, limits, solving for constants) and checks
the recorded expression — exactly where SymPy can decide the identity, otherwise numerically to
30 significant digits at fixed pseudo-random points inside the stated ranges (and says so).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy

from ._parametric import ParametricIntegral, _limit_value

__all__ = ["Step", "StepCheck", "Replay", "Derivation", "Differentiate", "ChangeVariable",
           "Integrate", "ReduceToODE", "ReduceToLinearODE", "LinearODE", "SolveODE",
           "FixConstant", "FixConstants", "ValueAt", "BoundedAt", "Regularise", "DerivativeJump",
           "UseEntry", "Identity", "Limit", "Solve", "Compute", "Induction", "Jacobian",
           "NumericCheck", "same", "C", "constants"]

C = sympy.Symbol("C")
"""The constant of integration in recorded general solutions of first-order ODEs."""


def constants(order: int) -> tuple[sympy.Symbol, ...]:
    """The constants of a general solution of a linear ODE of ``order``: ``(C,)`` for order 1,
    ``(C1, …, Cn)`` otherwise.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Raises:
        ValueError: ``order`` is not a positive int.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"constants: order must be a positive int; got {order!r}.")
    return (C,) if order == 1 else sympy.symbols(f"C1:{order + 1}")

_NUMERIC_POINTS = 3
_NUMERIC_DIGITS = 30


def _default_range(s: sympy.Symbol) -> tuple[float, float]:
    if s.is_integer:
        return (0, 5)
    if s.is_positive:
        return (0.3, 2.7)
    return (-1.7, 2.3)


def same(lhs: Any, rhs: Any, *, ranges: Mapping | None = None,
         instances: Mapping | None = None) -> tuple[bool, str]:
    """Whether ``lhs == rhs`` identically: ``(ok, how)``.

    Tries structural equality, then ``cancel``/``simplify``/``gammasimp``/``expand_log``; if
    SymPy cannot decide, compares numerically with 50-digit arithmetic at three fixed
    pseudo-random points (symbols drawn from ``ranges``, default by their assumptions) and
    requires 30 agreeing digits. Integer symbols listed in ``instances`` are checked at each of
    the given values instead.

    Returns:
        ``(True, "exact")``, ``(True, "numeric: 30 digits at 3 points")`` or ``(False, why)``.
    """
    lhs, rhs = sympy.sympify(lhs), sympy.sympify(rhs)
    if instances:
        (n, values), *rest = instances.items()
        hows = []
        for v in values:
            ok, how = same(lhs.subs(n, v), rhs.subs(n, v), ranges=ranges,
                           instances=dict(rest) or None)
            if not ok:
                return False, f"fails at {n} = {v}: {how}"
            hows.append(how)
        kind = "exact" if all(h == "exact" for h in hows) else "numeric"
        return True, f"{kind} for {n} in {list(values)}"
    if lhs == rhs:
        return True, "exact"
    diff = lhs - rhs
    try:
        for fn in (sympy.cancel, lambda e: sympy.simplify(e),
                   lambda e: sympy.simplify(sympy.gammasimp(sympy.expand_log(e, force=True)))):
            if fn(diff) == 0:
                return True, "exact"
    except (TypeError, ValueError, NotImplementedError, RecursionError):
        pass
    return _numeric_same(lhs, rhs, ranges or {})


def _numeric_same(lhs: sympy.Expr, rhs: sympy.Expr, ranges: Mapping) -> tuple[bool, str]:
    syms = sorted(lhs.free_symbols | rhs.free_symbols, key=str)
    rng = np.random.default_rng(20130327)
    worst = mpmath.mpf(0)
    with mpmath.workdps(_NUMERIC_DIGITS + 20):
        for _ in range(_NUMERIC_POINTS if syms else 1):
            point = {}
            for s in syms:
                lo, hi = ranges.get(s, _default_range(s))
                if s.is_integer:
                    point[s] = sympy.Integer(int(rng.integers(int(lo), int(hi) + 1)))
                else:  # a Float (a Rational would make SymPy take exact rational powers)
                    frac = int(rng.integers(0, 10**6)) / 10**6
                    point[s] = sympy.Float(repr(lo + frac * (hi - lo)),
                                           _NUMERIC_DIGITS + 30)
            try:
                a = sympy.N(lhs.subs(point), _NUMERIC_DIGITS + 20)
                b = sympy.N(rhs.subs(point), _NUMERIC_DIGITS + 20)
                va = mpmath.mpc(str(sympy.re(a)), str(sympy.im(a)))
                vb = mpmath.mpc(str(sympy.re(b)), str(sympy.im(b)))
            except (TypeError, ValueError) as exc:
                return False, f"not comparable numerically ({exc})"
            err = abs(va - vb) / max(1, abs(va))
            if not mpmath.isfinite(err):
                return False, f"not finite at {point}"
            worst = max(worst, err)
    if worst <= mpmath.mpf(10) ** (-_NUMERIC_DIGITS):
        return True, f"numeric: {_NUMERIC_DIGITS} digits at {_NUMERIC_POINTS} points"
    return False, f"differs by {mpmath.nstr(worst, 3)} (relative)"


def _fmt(e: Any) -> str:
    if isinstance(e, ParametricIntegral):
        return repr(e)
    return sympy.sstr(e)


@dataclass
class StepCheck:
    """The outcome of replaying one step.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).
    """

    index: int
    kind: str
    ok: bool
    how: str
    produced: Any = None


class Step:
    """A recorded step: ``kind``, a one-line ``text`` (why), and ``replay(ctx)``.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    ``ctx`` maps names to earlier results (``ParametricIntegral`` s, expressions, ODEs).
    """

    kind = "step"
    name: str | None = None
    text: str = ""

    def claim(self, ctx: dict | None = None) -> str:
        """The recorded statement as text."""
        raise NotImplementedError

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        """Recompute and check; return ``(ok, how, produced value)``."""
        raise NotImplementedError

    def render(self, ctx: dict | None = None) -> str:
        """``[kind] claim — why``; ``ctx`` (earlier results) makes the claim concrete."""
        why = f" — {self.text}" if self.text else ""
        return f"[{self.kind}] {self.claim(ctx or {})}{why}"

    def preview(self, ctx: dict) -> Any:
        """The recorded result, cheaply (no checks), for rendering later steps; or None."""
        return None


def _get(ctx: dict, ref: Any) -> Any:
    if isinstance(ref, str):
        if ref not in ctx:
            raise KeyError(f"derivation refers to {ref!r} before it is produced; known: "
                           f"{', '.join(ctx)}")
        return ctx[ref]
    return ref


def _expr_names(expr: sympy.Expr, ctx: dict) -> sympy.Expr:
    """Replace symbols named like context entries by those entries' values."""
    sub = {s: ctx[s.name] for s in expr.free_symbols
           if s.name in ctx and isinstance(ctx[s.name], sympy.Basic)}
    return expr.subs(sub) if sub else expr


@dataclass
class Differentiate(Step):
    """``G'(a)`` by the Leibniz rule: records the new integrand and boundary terms."""

    integral: Any
    integrand: Any
    offset: Any = 0
    name: str | None = "dG"
    text: str = "differentiate under the integral sign (Leibniz rule)"
    ranges: dict = field(default_factory=dict)
    kind = "differentiate"

    def claim(self, ctx: dict | None = None) -> str:
        G = _peek(ctx, self.integral)
        g = self.integral if isinstance(self.integral, str) else "G"
        order = re.fullmatch(r"d(\d*)G", g)
        if order:  # "dG" is G', "d2G" is G'': the claim is about the next derivative
            g = "G" + "'" * int(order.group(1) or 1)
        if G is None:
            return f"{g}' = ∫ {_fmt(self.integrand)}" + (f" + {_fmt(self.offset)}"
                                                         if self.offset != 0 else "")
        return f"{g}'({G.param}) = {_fmt(self.preview(ctx))}"

    def preview(self, ctx: dict) -> Any:
        G = _peek(ctx, self.integral)
        if G is None:
            return None
        return ParametricIntegral(self.integrand, G.x, G.param, G.lower, G.upper,
                                  offset=self.offset, _check=False)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        G = _get(ctx, self.integral)
        D = G.derivative()
        ok1, how1 = same(D.integrand, self.integrand, ranges=self.ranges)
        ok2, how2 = same(D.offset, self.offset, ranges=self.ranges)
        rec = ParametricIntegral(self.integrand, G.x, G.param, G.lower, G.upper,
                                 offset=self.offset, _check=False)
        return ok1 and ok2, _join(how1, how2), rec


def _peek(ctx: dict | None, ref: Any) -> Any:
    """``ref`` resolved in ``ctx`` without raising (None when unknown)."""
    if isinstance(ref, str):
        return (ctx or {}).get(ref)
    return ref


def _decided_gt(a: Any, b: Any) -> bool:
    try:
        return bool(sympy.sympify(a) > sympy.sympify(b))
    except TypeError:
        return False


def _join(*hows: str) -> str:
    kinds = {h for h in hows}
    if kinds == {"exact"}:
        return "exact"
    return "; ".join(sorted(kinds))


@dataclass
class ChangeVariable(Step):
    """``x = φ(t)``: records the transformed integrand (limits from ``t_lower``/``t_upper``)."""

    integral: Any
    x_of_t: Any
    t: sympy.Symbol
    t_lower: Any
    t_upper: Any
    integrand: Any
    name: str | None = None
    text: str = "change of variables"
    ranges: dict = field(default_factory=dict)
    kind = "substitute"

    def claim(self, ctx: dict | None = None) -> str:
        G = _peek(ctx, self.integral)
        x = G.x if G is not None else sympy.Symbol("x")
        lo, hi = self.t_lower, self.t_upper
        if _decided_gt(lo, hi):
            lo, hi = hi, lo
        return (f"{x} = {_fmt(self.x_of_t)}: ∫ … d{x} = ∫[{lo}, {hi}] {_fmt(self.integrand)} "
                f"d{self.t}")

    def preview(self, ctx: dict) -> Any:
        G = _peek(ctx, self.integral)
        if G is None:
            return None
        lo, hi = sympy.sympify(self.t_lower), sympy.sympify(self.t_upper)
        if _decided_gt(lo, hi):
            lo, hi = hi, lo
        return ParametricIntegral(self.integrand, self.t, G.param, lo, hi, offset=G.offset,
                                  _check=False)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        G = _get(ctx, self.integral)
        H = G.substitute(self.x_of_t, self.t, self.t_lower, self.t_upper)
        ranges = dict(self.ranges)
        if self.t not in ranges and H.lower.is_number and H.upper.is_number:
            lo = float(H.lower)
            hi = float(H.upper) if H.upper.is_finite else lo + 3.0
            ranges[self.t] = (lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo))
        ok, how = same(H.integrand, self.integrand, ranges=ranges)
        rec = ParametricIntegral(self.integrand, self.t, H.param, H.lower, H.upper,
                                 offset=H.offset, omega=None, _check=False)
        return ok, how, rec


@dataclass
class Integrate(Step):
    """``∫_m^n f dx = [F]_m^n (+ offset)``: checks ``∂F/∂x = f`` and evaluates the limits.

    ``domain`` substitutes a parametrisation of the parameter range (``{a: 1/(1 + s)}`` with
    ``s > 0`` encodes ``0 < a < 1``) so that SymPy can take the limits.
    """

    integral: Any
    antiderivative: Any
    value: Any
    name: str | None = "h"
    text: str = "integrate in x"
    domain: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)
    kind = "integrate in x"

    def claim(self, ctx: dict | None = None) -> str:
        return (f"antiderivative {_fmt(self.antiderivative)}, so the x-integral is "
                f"{_fmt(self.value)}")

    def _value(self, G: ParametricIntegral) -> tuple[bool, str, sympy.Expr]:
        F = sympy.sympify(self.antiderivative)
        ok1, how1 = same(sympy.diff(F, G.x), G.integrand, ranges=self.ranges)
        dom = self.domain
        Fd, lo, hi = F.subs(dom), G.lower.subs(dom), G.upper.subs(dom)
        got = (_limit_value(Fd, G.x, hi, "-") - _limit_value(Fd, G.x, lo, "+")
               + G.offset.subs(dom))
        ok2, how2 = same(got, sympy.sympify(self.value).subs(dom), ranges=self.ranges)
        return ok1 and ok2, _join(how1, how2), got

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        G = _get(ctx, self.integral)
        ok, how, _ = self._value(G)
        return ok, how, sympy.sympify(self.value)


@dataclass(frozen=True)
class LinearODE:
    """``G⁽ⁿ⁾(a) = h(a) + Σ_{k<n} c_k(a)·G⁽ᵏ⁾(a)``: the linear ODE in the parameter that a
    Feynman-trick reduction produces (order ``n = len(coefficients)``).

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Attributes:
        param: the parameter ``a``.
        coefficients: ``(c_0, …, c_{n−1})``.
        h: the inhomogeneous term.
    """

    param: sympy.Symbol
    coefficients: tuple
    h: Any = 0

    @property
    def order(self) -> int:
        return len(self.coefficients)

    def residual(self, G: Any) -> sympy.Expr:
        """``G⁽ⁿ⁾ − h − Σ c_k G⁽ᵏ⁾`` for a candidate ``G(a)`` (zero for a solution)."""
        a, G = self.param, sympy.sympify(G)
        out = sympy.diff(G, a, self.order) - sympy.sympify(self.h)
        for k, c in enumerate(self.coefficients):
            out -= sympy.sympify(c) * sympy.diff(G, a, k)
        return out

    def __str__(self) -> str:
        a = self.param
        lhs = f"G{chr(39) * self.order}({a})" if self.order <= 3 else f"G^({self.order})({a})"
        terms = [] if sympy.sympify(self.h) == 0 else [_fmt(self.h)]
        for k, c in enumerate(self.coefficients):
            c = sympy.sympify(c)
            if c != 0:
                g = f"G{chr(39) * k}({a})"
                terms.append(g if c == 1 else f"({_fmt(c)})·{g}")
        return f"{lhs} = {' + '.join(terms) or '0'}"


def _as_ode(ode: Any) -> LinearODE:
    if isinstance(ode, LinearODE):
        return ode
    if isinstance(ode, tuple) and len(ode) == 3:  # (h, c, a) of a first-order reduction
        h, c, a = ode
        return LinearODE(a, (c,), h)
    raise TypeError(f"expected a LinearODE from a reduction step; got {type(ode).__name__}")


@dataclass
class ReduceToODE(Step):
    """``∂f/∂a = ∂F/∂x + c(a)·f`` under the integral, hence ``G' = [F] + c·G``: an ODE in a.

    With ``c = 0`` this is "integrate in x"; ``c ≠ 0`` covers integration by parts back to the
    original integral (``∫ e^{−x²} cos bx``) and substitutions that reproduce it
    (``x → a/x`` in ``∫ e^{−x² − a²/x²}``). Produces a first-order :class:`LinearODE`; see
    :class:`ReduceToLinearODE` for higher orders.
    """

    derivative: Any
    family: Any
    antiderivative: Any
    h: Any
    c: Any = 0
    name: str | None = "ode"
    text: str = "integrate in x"
    domain: dict = field(default_factory=dict)
    ranges: dict = field(default_factory=dict)
    kind = "integrate in x"

    def claim(self, ctx: dict | None = None) -> str:
        F = sympy.sympify(self.antiderivative)
        c, h = sympy.sympify(self.c), sympy.sympify(self.h)
        G = _peek(ctx, self.family)
        a = G.param if G is not None else sympy.Symbol("a")
        terms = [] if h == 0 and c != 0 else [_fmt(h)]
        if c != 0:
            terms.append(f"({_fmt(c)})·G({a})")
        part = f"antiderivative {_fmt(F)}; " if F != 0 else ""
        return f"{part}G'({a}) = {' + '.join(terms)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        D = _get(ctx, self.derivative)
        G = _get(ctx, self.family)
        F = sympy.sympify(self.antiderivative)
        c = sympy.sympify(self.c)
        f_same_var = G.integrand.subs(G.x, D.x)
        ok1, how1 = same(D.integrand, sympy.diff(F, D.x) + c * f_same_var, ranges=self.ranges)
        dom = self.domain
        Fd = F.subs(dom)
        got = (_limit_value(Fd, D.x, D.upper.subs(dom), "-")
               - _limit_value(Fd, D.x, D.lower.subs(dom), "+") + D.offset.subs(dom))
        ok2, how2 = same(got, sympy.sympify(self.h).subs(dom), ranges=self.ranges)
        return ok1 and ok2, _join(how1, how2), LinearODE(G.param, (c,), sympy.sympify(self.h))

    def preview(self, ctx: dict) -> Any:
        G = _peek(ctx, self.family)
        return None if G is None else LinearODE(G.param, (sympy.sympify(self.c),),
                                                sympy.sympify(self.h))


@dataclass
class ReduceToLinearODE(Step):
    """An ODE of order n in the parameter from the n-th derivative under the integral sign.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Records ``∂ⁿf/∂aⁿ = ∂F/∂x + r(x, a) + Σ_{k<n} c_k(a)·∂ᵏf/∂aᵏ`` (an identity of integrands,
    checked) and ``R(a) = ∫ r dx`` (a known value — typically the result of a
    :class:`Regularise` step), hence ``G⁽ⁿ⁾ = h + Σ c_k G⁽ᵏ⁾`` with
    ``h = [F] + R + offset_n − Σ c_k offset_k`` (the offsets are Leibniz boundary terms). Part 7's
    ``∫₀^∞ cos(ax)/(1+x²) dx`` gives ``−x² cos(ax)/(1+x²) = −cos(ax) + cos(ax)/(1+x²)``, so
    ``G'' = −∫₀^∞ cos(ax) dx + G = G``.

    Args:
        derivative: the n-th derivative integral (a context name from :class:`Differentiate`).
        lower: the integrals ``G, G', …, G⁽ⁿ⁻¹⁾`` (context names), in order.
        coefficients: ``(c_0, …, c_{n−1})``.
        antiderivative: ``F`` (0 when no part integrates in closed form).
        rest: ``r(x, a)``.
        rest_value: ``R(a)`` or the context name of a step that produced it.
        h: the recorded inhomogeneous term.
    """

    derivative: Any
    lower: tuple
    coefficients: tuple
    h: Any = 0
    antiderivative: Any = 0
    rest: Any = 0
    rest_value: Any = 0
    name: str | None = "ode"
    text: str = "split the integrand and collect the ODE"
    ranges: dict = field(default_factory=dict)
    kind = "reduce to ODE"

    def _ode(self, ctx: dict | None) -> LinearODE | None:
        G = _peek(ctx, self.lower[0]) if self.lower else None
        if G is None:
            return None
        return LinearODE(G.param, tuple(sympy.sympify(c) for c in self.coefficients),
                         sympy.sympify(self.h))

    def claim(self, ctx: dict | None = None) -> str:
        ode = self._ode(ctx)
        parts = []
        if sympy.sympify(self.rest) != 0:
            rv = sympy.sympify(_peek(ctx, self.rest_value) if isinstance(self.rest_value, str)
                               else self.rest_value)
            named = _expr_names(rv, ctx or {}) if rv is not None else None
            text = _fmt(rv) if rv is not None else str(self.rest_value)
            if named is not None and named != rv:
                text += f" = {_fmt(named)}"
            parts.append(f"∫ {_fmt(self.rest)} dx = {text}")
        if sympy.sympify(self.antiderivative) != 0:
            parts.append(f"antiderivative {_fmt(self.antiderivative)}")
        pre = "; ".join(parts)
        body = str(ode) if ode is not None else f"order-{len(self.coefficients)} ODE"
        return f"{pre}; so {body}" if pre else body

    def preview(self, ctx: dict) -> Any:
        return self._ode(ctx)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        if len(self.lower) != len(self.coefficients) or not self.coefficients:
            return False, (f"give one coefficient per lower derivative; got {len(self.lower)} "
                           f"integrals and {len(self.coefficients)} coefficients"), None
        D = _get(ctx, self.derivative)
        lows = [_get(ctx, ref) for ref in self.lower]
        F, rest = sympy.sympify(self.antiderivative), sympy.sympify(self.rest)
        cs = [sympy.sympify(c) for c in self.coefficients]
        rhs = sympy.diff(F, D.x) + rest + sum(c * L.integrand.subs(L.x, D.x)
                                               for c, L in zip(cs, lows))
        ok1, how1 = same(D.integrand, rhs, ranges=self.ranges)
        R = _expr_names(sympy.sympify(_get(ctx, self.rest_value)), ctx)
        bracket = (_limit_value(F, D.x, D.upper, "-") - _limit_value(F, D.x, D.lower, "+")
                   if F != 0 else sympy.Integer(0))
        got = bracket + R + D.offset - sum(c * L.offset for c, L in zip(cs, lows))
        ok2, how2 = same(got, self.h, ranges=self.ranges)
        return ok1 and ok2, _join(how1, how2), LinearODE(lows[0].param, tuple(cs),
                                                         sympy.sympify(self.h))


@dataclass
class SolveODE(Step):
    """The general solution of a :class:`LinearODE` of any order, with its constants:
    ``C`` for order 1, ``C1, …, Cn`` for order n (see :func:`constants`).

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Replay substitutes the recorded solution into the ODE (the residual must vanish) and checks
    that its n constants are independent: the matrix ``∂G⁽ʲ⁾/∂C_i`` (i, j < n) — the Wronskian
    of the basis solutions — must be non-singular, so every initial-value problem is solvable
    and, by uniqueness for linear ODEs, this is *the* general solution.
    """

    ode: Any
    general: Any
    name: str | None = "general"
    text: str = "solve the ODE in the parameter"
    ranges: dict = field(default_factory=dict)
    kind = "solve ODE"

    def claim(self, ctx: dict | None = None) -> str:
        ode = _peek(ctx, self.ode)
        a = _as_ode(ode).param if ode is not None else "a"
        return f"G({a}) = {_fmt(self.general)}"

    def preview(self, ctx: dict) -> Any:
        return sympy.sympify(self.general)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        ode = _as_ode(_get(ctx, self.ode))
        Gen = sympy.sympify(self.general)
        consts = constants(ode.order)
        missing = [str(k) for k in consts if k not in Gen.free_symbols]
        if missing:
            return False, (f"the general solution of an order-{ode.order} ODE needs the "
                           f"constants {', '.join(map(str, consts))}; missing "
                           f"{', '.join(missing)}"), Gen
        ok, how = same(ode.residual(Gen), 0, ranges=self.ranges)
        a = ode.param
        W = sympy.Matrix([[sympy.diff(sympy.diff(Gen, k), a, j) for j in range(ode.order)]
                          for k in consts])  # (n, n): row i = basis solution i and derivatives
        singular, _ = same(W.det(), 0, ranges=self.ranges)
        if singular:
            return False, "the constants are not independent (the Wronskian vanishes)", Gen
        return ok, how, Gen


@dataclass
class FixConstant(Step):
    """Fix ``C`` from a known value ``G(at) = value`` (a limit when ``at`` is ±∞)."""

    general: Any
    param: sympy.Symbol
    at: Any
    value: Any
    name: str | None = "closed"
    text: str = ""
    ranges: dict = field(default_factory=dict)
    kind = "fix the constant"

    def claim(self, ctx: dict | None = None) -> str:
        value = self.value if not isinstance(self.value, str) else \
            _fmt((ctx or {}).get(self.value, self.value))
        return f"G({self.param} = {self.at}) = {_fmt(value)} fixes C"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        Gen = _get(ctx, self.general)
        value = _expr_names(sympy.sympify(_get(ctx, self.value)), ctx)
        at = sympy.sympify(self.at)
        anchor = _limit_value(Gen, self.param, at, "+")
        sols = sympy.solve(sympy.Eq(anchor, value), C)
        if len(sols) != 1:
            return False, f"C is not determined uniquely ({sols})", None
        raw = Gen.subs(C, sols[0])
        simple = sympy.simplify(raw)
        closed = min((raw, simple, sympy.expand_log(simple, force=True)), key=sympy.count_ops)
        return True, "exact", closed


@dataclass(frozen=True)
class ValueAt:
    """A condition ``G⁽ᵒʳᵈᵉʳ⁾(at) = value`` (a one-sided limit from ``side``; ``at`` may be ±∞).
    ``value`` may name an earlier result.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).
    """

    at: Any
    value: Any
    order: int = 0
    side: str = "+"

    def render(self, a: Any, ctx: dict | None = None) -> str:
        v = self.value
        if isinstance(v, str):
            v = (ctx or {}).get(v, v)
        at = sympy.sympify(self.at)
        where = f"{at}" if at.is_infinite else f"{at}{'⁺' if self.side == '+' else '⁻'}"
        return f"G{chr(39) * self.order}({a} → {where}) = {_fmt(v)}"


@dataclass(frozen=True)
class BoundedAt:
    """A condition ``G`` bounded as ``a → at`` (default ``+∞``).

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).
    """

    at: Any = sympy.oo

    def render(self, a: Any, ctx: dict | None = None) -> str:
        return f"G bounded as {a} → {self.at}"


def _bounded_growth(expr: sympy.Expr, a: sympy.Symbol, at: sympy.Expr, consts: list,
                    side: str) -> tuple[sympy.Expr, list[str]]:
    """Impose ``expr`` bounded as ``a → at`` by eliminating growing modes one at a time: take a
    basis function ψ = ∂expr/∂C_i that is unbounded there, require lim expr/ψ = 0 (a linear
    equation in the constants), solve it for one constant, substitute, repeat."""
    log = []
    for _ in range(len(consts) + 1):
        live = [k for k in consts if k in expr.free_symbols]
        growing = None
        for k in live:
            phi = sympy.diff(expr, k)
            lim = sympy.limit(phi, a, at, side)
            if isinstance(lim, sympy.AccumBounds):
                if lim.min.is_infinite or lim.max.is_infinite:
                    raise ValueError(f"cannot decide boundedness of the oscillating, growing "
                                     f"mode {phi}")
                continue
            if lim.is_infinite or lim is sympy.zoo:
                growing = (k, phi)
                break
        if growing is None:
            return expr, log
        k, psi = growing
        lin = sympy.limit(sympy.expand(expr / psi), a, at, side)
        sol = sympy.solve(sympy.Eq(lin, 0), k, dict=True)
        if len(sol) != 1:
            raise ValueError(f"boundedness does not fix {k} (lim G/{psi} = {lin})")
        log.append(f"{k} = {sympy.sstr(sol[0][k])}")
        expr = expr.subs(sol[0])
    raise ValueError("boundedness elimination did not terminate")


@dataclass
class FixConstants(Step):
    """Fix all constants of a general solution from initial or boundary conditions:
    :class:`ValueAt` (``G⁽ᵏ⁾(a₀) = v``, a limit when ``a₀`` is ±∞ or a one-sided point) and
    :class:`BoundedAt` (``G`` bounded as ``a → ∞``: its growing modes vanish). An initial-value
    problem is ``[ValueAt(0, v0), ValueAt(0, v1, order=1)]``; part 7's boundary-value problem is
    ``[ValueAt(0, π/2), BoundedAt(∞)]``.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Replay imposes the conditions with SymPy limits and solves for the constants; it fails
    unless every constant is determined uniquely.
    """

    general: Any
    param: sympy.Symbol
    conditions: tuple
    name: str | None = "closed"
    text: str = ""
    kind = "fix the constants"

    def claim(self, ctx: dict | None = None) -> str:
        conds = "; ".join(c.render(self.param, ctx) for c in self.conditions)
        return f"{conds} fix the constants"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        Gen = sympy.sympify(_get(ctx, self.general))
        a = self.param
        consts = [k for k in (C, *sympy.symbols("C1:10")) if k in Gen.free_symbols]
        expr, log = Gen, []
        for cond in self.conditions:
            if isinstance(cond, BoundedAt):
                at = sympy.sympify(cond.at)
                expr, steps = _bounded_growth(expr, a, at, consts, "+" if at != -sympy.oo
                                              else "-")
                log += steps
        eqs = []
        for cond in self.conditions:
            if isinstance(cond, ValueAt):
                value = _expr_names(sympy.sympify(_get(ctx, cond.value)), ctx)
                at = sympy.sympify(cond.at)
                g = sympy.diff(expr, a, cond.order)
                lhs = sympy.limit(g, a, at, cond.side) if at.is_infinite else \
                    _limit_value(g, a, at, cond.side)
                eqs.append(sympy.Eq(lhs, value))
            elif not isinstance(cond, BoundedAt):
                return False, f"unknown condition {cond!r}; use ValueAt or BoundedAt", None
        live = [k for k in consts if k in expr.free_symbols]
        sols = sympy.solve(eqs, live, dict=True) if live else [{}]
        if len(sols) != 1 or any(k not in sols[0] for k in live):
            return False, f"the constants are not determined uniquely ({sols})", None
        raw = expr.subs(sols[0])
        left = [str(k) for k in consts if k in raw.free_symbols]
        if left:
            return False, f"constants {', '.join(left)} remain free", None
        for eq in eqs:  # the conditions hold for the result
            if not same(eq.lhs.subs(sols[0]), eq.rhs)[0]:
                return False, f"condition {eq} does not hold after solving", None
        simple = sympy.simplify(raw)
        closed = min((raw, simple), key=sympy.count_ops)
        how = "exact" + (f" (bounded: {', '.join(log)})" if log else "")
        return True, how, closed


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

    def _closed(self, ref: Any, G: ParametricIntegral, ctx: dict) -> sympy.Expr:
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


def _evaluate_at(G: ParametricIntegral, value: sympy.Expr, dps: int) -> mpmath.mpf:
    """``G(value)`` by quadrature; an ``omega`` that vanishes there is dropped (no
    oscillation left)."""
    if G.omega is not None and sympy.sympify(G.omega).subs(G.param, value) == 0:
        G = ParametricIntegral(G.integrand, G.x, G.param, G.lower, G.upper, offset=G.offset,
                               _check=False)
    return G.evaluate(value, digits=dps)


@dataclass
class UseEntry(Step):
    """Bring in an earlier catalogue entry's closed form (its own derivation is replayed with
    that entry)."""

    entry: str
    subs: dict = field(default_factory=dict)
    name: str | None = None
    text: str = ""
    kind = "use"

    def claim(self, ctx: dict | None = None) -> str:
        where = ", ".join(f"{k} = {v}" for k, v in self.subs.items())
        return f"{self.entry}" + (f" at {where}" if where else "")

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        from ._catalogue import CATALOGUE

        e = CATALOGUE[self.entry]
        return True, f"from {e.id}", e.closed_form.subs(self.subs, simultaneous=True)

    def preview(self, ctx: dict) -> Any:
        from ._catalogue import CATALOGUE

        e = CATALOGUE[self.entry]
        return e.closed_form.subs(self.subs, simultaneous=True)


@dataclass
class Identity(Step):
    """A stated identity ``lhs = rhs`` (partial fractions, a series, a known integral)."""

    lhs: Any
    rhs: Any
    name: str | None = None
    text: str = ""
    ranges: dict = field(default_factory=dict)
    instances: dict = field(default_factory=dict)
    kind = "identity"

    def claim(self, ctx: dict | None = None) -> str:
        return f"{_fmt(self.lhs)} = {_fmt(self.rhs)}"

    def preview(self, ctx: dict) -> Any:
        return sympy.sympify(self.rhs)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        lhs = _expr_names(sympy.sympify(self.lhs), ctx)
        rhs = _expr_names(sympy.sympify(self.rhs), ctx)
        if lhs.has(sympy.Integral, sympy.Sum):
            done = lhs.doit()
            if not done.has(sympy.Integral, sympy.Sum):
                lhs = done
        ok, how = same(lhs, rhs, ranges=self.ranges, instances=self.instances or None)
        return ok, how, rhs


@dataclass
class Limit(Step):
    """``lim_{a → at} expr = value``, computed by SymPy."""

    expr: Any
    param: sympy.Symbol
    at: Any
    value: Any
    direction: str = "+"
    name: str | None = None
    text: str = ""
    kind = "limit"

    def claim(self, ctx: dict | None = None) -> str:
        return f"lim {self.param}→{self.at}{self.direction if self.at != sympy.oo else ''} " \
               f"{_fmt(self.expr)} = {_fmt(self.value)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        expr = _expr_names(sympy.sympify(_get(ctx, self.expr)), ctx)
        at = sympy.sympify(self.at)
        got = sympy.limit(expr, self.param, at, self.direction if not at.is_infinite else "+")
        ok, how = same(got, self.value)
        return ok, how, sympy.sympify(self.value)


@dataclass
class Solve(Step):
    """Solve ``lhs = rhs`` for ``unknown`` (keeping the solution that satisfies ``positive``)."""

    lhs: Any
    rhs: Any
    unknown: sympy.Symbol
    value: Any
    positive: bool = False
    name: str | None = None
    text: str = ""
    kind = "solve"

    def claim(self, ctx: dict | None = None) -> str:
        return f"{_fmt(self.lhs)} = {_fmt(self.rhs)} ⇒ {self.unknown} = {_fmt(self.value)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        lhs = _expr_names(sympy.sympify(self.lhs), ctx)
        rhs = _expr_names(sympy.sympify(self.rhs), ctx)
        sols = sympy.solve(sympy.Eq(lhs, rhs), self.unknown)
        if self.positive:
            sols = [s for s in sols if s.is_positive]
        if len(sols) != 1:
            return False, f"solutions {sols}", None
        ok, how = same(sols[0], self.value)
        return ok, how, sols[0]


@dataclass
class Compute(Step):
    """Assemble a result from earlier named results (symbols named like them)."""

    expr: Any
    value: Any
    name: str | None = None
    text: str = ""
    ranges: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    kind = "compute"

    def claim(self, ctx: dict | None = None) -> str:
        return f"{_fmt(self.expr)} = {_fmt(self.value)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        got = _expr_names(sympy.sympify(self.expr), ctx)
        if self.after:
            got = got.subs(self.after)
        ok, how = same(got, self.value, ranges=self.ranges)
        return ok, how, sympy.sympify(self.value)


@dataclass
class Induction(Step):
    """``result(n)`` by induction on ``n``: base value at ``n = 0`` and the one-step recursion
    (the recursion is stated by the preceding identity steps)."""

    base: Any
    n: sympy.Symbol
    result: Any
    name: str | None = None
    text: str = "induction on n"
    kind = "induction"

    def claim(self, ctx: dict | None = None) -> str:
        return f"for all n ≥ 0: {_fmt(self.result)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        base = _expr_names(sympy.sympify(_get(ctx, self.base)), ctx)
        ok, how = same(sympy.sympify(self.result).subs(self.n, 0), base)
        return ok, how, sympy.sympify(self.result)


@dataclass
class Jacobian(Step):
    """A change of variables in a double integral, checked with :func:`kexue.forms.pullback`:
    ``|φ*(f dx∧dy)|`` must be the recorded density."""

    density: Any
    variables: tuple
    map: tuple
    new_variables: tuple
    result: Any
    name: str | None = None
    text: str = ""
    ranges: dict = field(default_factory=dict)
    kind = "change variables (2-D)"

    def claim(self, ctx: dict | None = None) -> str:
        old = ", ".join(map(str, self.variables))
        m = ", ".join(_fmt(e) for e in self.map)
        return (f"({old}) = ({m}): {_fmt(self.density)} d{self.variables[0]} "
                f"d{self.variables[1]} = {_fmt(self.result)} d{self.new_variables[0]} "
                f"d{self.new_variables[1]}")

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        from ..forms import Form, pullback

        omega = Form({(0, 1): self.density}, self.variables)
        pulled = pullback(omega, self.map, source=self.new_variables, simplify=False)
        coef = pulled.coefficient(0, 1)
        # |J| is the density: an orientation-reversing map gives −|J| dr∧du
        ok, how = same(coef, self.result, ranges=self.ranges)
        if not ok:
            ok, how = same(-coef, self.result, ranges=self.ranges)
            how = f"{how} (orientation reversed)" if ok else how
        return ok, how, sympy.sympify(self.result)


@dataclass
class NumericCheck(Step):
    """Closed form against :meth:`ParametricIntegral.evaluate` at one point, to ``digits``."""

    integral: Any
    closed: Any
    point: dict
    digits: int = 30
    name: str | None = None
    text: str = "check with mpmath"
    kind = "check"

    def claim(self, ctx: dict | None = None) -> str:
        where = ", ".join(f"{k} = {v}" for k, v in self.point.items())
        return f"closed form = mpmath quadrature at {where} to {self.digits} digits"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        G = _get(ctx, self.integral)
        closed = _expr_names(sympy.sympify(_get(ctx, self.closed)), ctx)
        num = G.evaluate(digits=self.digits, subs=self.point)
        with mpmath.workdps(self.digits + 10):
            exact = mpmath.mpf(sympy.N(closed.subs(self.point), self.digits + 10))
            err = abs(num - exact) / max(abs(exact), mpmath.mpf(10) ** -self.digits)
        agreed = float(min(self.digits + 10, -mpmath.log10(err))) if err else \
            float(self.digits + 10)
        return agreed >= self.digits, f"{agreed:.1f} digits agree", closed


@dataclass
class Replay:
    """The outcome of replaying a derivation.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).
    """

    checks: list[StepCheck]
    result: Any
    ok: bool

    def failures(self) -> list[StepCheck]:
        return [c for c in self.checks if not c.ok]


@dataclass
class Derivation:
    """A Feynman-trick derivation: steps, the name of the final result, and where it applies.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Attributes:
        steps: the recorded steps, in order.
        result: the context name of the final closed form (default: the last produced value).
        at: the parameter values where the final expression equals the entry's closed form
            (``{s: 1/2}`` for ``Γ(1/2) = √π``); empty when it is the general closed form.
        initial: named starting objects (the integral ``"G"``, helpers).
    """

    steps: Sequence[Step]
    initial: dict = field(default_factory=dict)
    result: str | None = None
    at: dict = field(default_factory=dict)

    def render(self) -> list[str]:
        """The steps as numbered lines of text."""
        lines = [f"{k} = {_fmt(v)}" for k, v in self.initial.items()]
        ctx: dict[str, Any] = dict(self.initial)
        for i, step in enumerate(self.steps, start=1):
            lines.append(f"{i}. {step.render(ctx)}")
            value = step.preview(ctx)
            if step.name and value is not None:
                ctx[step.name] = value
        return lines

    def render_steps(self) -> list[str]:
        """Only the numbered step lines of :meth:`render`."""
        return self.render()[len(self.initial):]

    def replay(self) -> Replay:
        """Replay every step in order; the final value is the re-derived closed form."""
        ctx: dict[str, Any] = dict(self.initial)
        checks: list[StepCheck] = []
        last = None
        for i, step in enumerate(self.steps, start=1):
            try:
                ok, how, produced = step.replay(ctx)
            except Exception as exc:  # noqa: BLE001 - a failing step is reported, not raised
                ok, how, produced = False, f"{type(exc).__name__}: {exc}", None
            checks.append(StepCheck(i, step.kind, ok, how, produced))
            if step.name and produced is not None:
                ctx[step.name] = produced
            if produced is not None:
                last = produced
        result = ctx.get(self.result, last) if self.result else last
        return Replay(checks, result, all(c.ok for c in checks))
