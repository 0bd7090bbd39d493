"""Derivations as recorded, replayable steps: differentiate under the integral sign, integrate
in x, solve the ODE in the parameter, fix the constant.

Source: Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619) for the
rule, part 7 "a synthesis of Euler's mathematics" (2013-03-27) for the programme.

Every step both *records* a mathematical claim (for the report) and *replays* it: it recomputes
the claim from earlier results with SymPy (derivatives, limits, solving for constants) and checks
the recorded expression — exactly where SymPy can decide the identity, otherwise numerically to
30 significant digits at fixed pseudo-random points inside the stated ranges (and says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy

from ._parametric import ParametricIntegral, _limit_value

__all__ = ["Step", "StepCheck", "Replay", "Derivation", "Differentiate", "ChangeVariable",
           "Integrate", "ReduceToODE", "SolveODE", "FixConstant", "UseEntry", "Identity",
           "Limit", "Solve", "Compute", "Induction", "Jacobian", "NumericCheck", "same", "C"]

C = sympy.Symbol("C")
"""The constant of integration in recorded general solutions."""

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
    """The outcome of replaying one step."""

    index: int
    kind: str
    ok: bool
    how: str
    produced: Any = None


class Step:
    """A recorded step: ``kind``, a one-line ``text`` (why), and ``replay(ctx)``.

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


@dataclass
class ReduceToODE(Step):
    """``∂f/∂a = ∂F/∂x + c(a)·f`` under the integral, hence ``G' = [F] + c·G``: an ODE in a.

    With ``c = 0`` this is "integrate in x"; ``c ≠ 0`` covers integration by parts back to the
    original integral (``∫ e^{−x²} cos bx``) and substitutions that reproduce it
    (``x → a/x`` in ``∫ e^{−x² − a²/x²}``).
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
        return ok1 and ok2, _join(how1, how2), (sympy.sympify(self.h), c, G.param)

    def preview(self, ctx: dict) -> Any:
        G = _peek(ctx, self.family)
        return None if G is None else (sympy.sympify(self.h), sympy.sympify(self.c), G.param)


@dataclass
class SolveODE(Step):
    """The general solution of ``G' = h(a) + c(a)·G`` (recorded with the constant ``C``)."""

    ode: Any
    general: Any
    name: str | None = "general"
    text: str = "solve the ODE in the parameter"
    ranges: dict = field(default_factory=dict)
    kind = "solve ODE"

    def claim(self, ctx: dict | None = None) -> str:
        ode = _peek(ctx, self.ode)
        a = ode[2] if isinstance(ode, tuple) else "a"
        return f"G({a}) = {_fmt(self.general)}"

    def preview(self, ctx: dict) -> Any:
        return sympy.sympify(self.general)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        h, c, a = _get(ctx, self.ode)
        Gen = sympy.sympify(self.general)
        if C not in Gen.free_symbols:
            return False, "the general solution has no constant C", Gen
        ok, how = same(sympy.diff(Gen, a), h + c * Gen, ranges=self.ranges)
        # one free constant that actually matters: dG/dC ≠ 0
        ok = ok and sympy.diff(Gen, C) != 0
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
    """The outcome of replaying a derivation."""

    checks: list[StepCheck]
    result: Any
    ok: bool

    def failures(self) -> list[StepCheck]:
        return [c for c in self.checks if not c.ok]


@dataclass
class Derivation:
    """A Feynman-trick derivation: steps, the name of the final result, and where it applies.

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
