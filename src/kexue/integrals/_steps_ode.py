"""Derivation steps that reduce the integral to a linear ODE in the parameter and solve it:
first order (integrate in x, or integrate by parts back to the integral) and any order (split
the n-th derivative's integrand), with the general solution checked by its residual and its
Wronskian.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619)
for the rule; part 7 "a synthesis of Euler's mathematics" (2013-03-27) for the second-order ODE
``G'' = G`` of ``∫₀^∞ cos(ax)/(1+x²) dx``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy

from ._derivation import Step, _expr_names, _fmt, _get, _join, _peek
from ._same import same
from ._symbolic import _limit_value

__all__ = ["C", "constants", "LinearODE", "ReduceToODE", "ReduceToLinearODE", "SolveODE"]

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
    """A step's ODE as a :class:`LinearODE` (also from a first-order ``(h, c, a)``)."""
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
