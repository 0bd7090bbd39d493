"""Derivation steps on the integral itself: differentiate under the integral sign (Leibniz
rule), change variables (in one variable, and in a double integral through the pullback of
:mod:`kexue.forms`), integrate in x, and check a closed form against quadrature.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619,
2012-06-12) for the Leibniz rule with variable limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import mpmath
import sympy

from ._derivation import Step, _expr_names, _Family, _fmt, _get, _join, _peek
from ._same import same
from ._symbolic import _decided_gt, _limit_value

__all__ = ["Differentiate", "ChangeVariable", "Integrate", "Jacobian", "NumericCheck"]


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
        return G._replace(integrand=self.integrand, offset=self.offset, omega=None)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        G = _get(ctx, self.integral)
        D = G.derivative()
        ok1, how1 = same(D.integrand, self.integrand, ranges=self.ranges)
        ok2, how2 = same(D.offset, self.offset, ranges=self.ranges)
        rec = G._replace(integrand=self.integrand, offset=self.offset, omega=None)
        return ok1 and ok2, _join(how1, how2), rec


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
        return G._replace(integrand=self.integrand, x=self.t, lower=lo, upper=hi, omega=None)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        G = _get(ctx, self.integral)
        H = G.substitute(self.x_of_t, self.t, self.t_lower, self.t_upper)
        ranges = dict(self.ranges)
        if self.t not in ranges and H.lower.is_number and H.upper.is_number:
            lo = float(H.lower)
            hi = float(H.upper) if H.upper.is_finite else lo + 3.0
            ranges[self.t] = (lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo))
        ok, how = same(H.integrand, self.integrand, ranges=ranges)
        rec = H._replace(integrand=self.integrand, x=self.t, omega=None)
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

    def _value(self, G: _Family) -> tuple[bool, str, sympy.Expr]:
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
        from ..forms import Form, pullback  # here: forms loads scipy, needed by this step only

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
