"""Derivation steps that fix the constants of a general solution: one constant from a known
value (a limit at ±∞), or all of them from initial or boundary conditions — values of ``G`` or
its derivatives at a point, and boundedness as ``a → ∞`` (growing modes vanish).

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619);
part 7 (2013-03-27) for the boundary-value problem ``G(0) = π/2``, ``G`` bounded at ∞.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy

from ._derivation import Step, _expr_names, _fmt, _get
from ._same import same
from ._steps_ode import C
from ._symbolic import _limit_value

__all__ = ["FixConstant", "FixConstants", "ValueAt", "BoundedAt"]


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
