"""Parametric integrals ``G(a) = offset(a) + ∫_{m(a)}^{n(a)} f(x, a) dx``: the Leibniz rule,
change of variables and a 30-digit mpmath evaluator.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 2, kexue.fm archive 1619
(2012-06-12), for the rule with variable limits (formula D0 of the reference note):
``G'(a) = ∫_m^n ∂f/∂a dx + f(n(a), a)·n'(a) − f(m(a), a)·m'(a)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import mpmath
import sympy

from .._expr import parse_expression

__all__ = ["ParametricIntegral", "GUARD_DIGITS", "MAX_DIGITS", "SUBSTITUTION_POWER",
           "TAIL_POWER"]

GUARD_DIGITS = 10
"""Extra working digits of ``evaluate`` beyond the requested ones."""

MAX_DIGITS = 200
"""Most significant digits :meth:`ParametricIntegral.evaluate` and :func:`~kexue.integrals.verify`
accept (the CLI's ``--digits`` too): tanh-sinh quadrature costs grow about as ``digits³``, so
200 digits take seconds to a minute per entry and 10⁶ would never finish."""
"""Extra working digits of ``evaluate`` beyond the requested ones."""

SUBSTITUTION_POWER = (3, 40)
"""Range of the power K of the endpoint substitution ``x = end ± c·u^K``. An endpoint behaviour
``|x − end|^α`` (α measured from two probes near the end) becomes ``u^{K(1+α)−1}``; K is the
smallest power in the range that makes this at least ``u¹``."""

TAIL_POWER = (3, 40)
"""Range of the power K of the tail substitution ``x = c − 1 + u^{−K}``: a tail ``x^{−1−β}``
(β measured from two far probes) becomes ``u^{Kβ−1}``; K as above."""


def _sym(value: Any, name: str,
         variables: Mapping[str, sympy.Symbol] | None = None) -> sympy.Expr:
    """``value`` as a SymPy expression. A string is never given to ``sympify`` (which would
    ``eval`` it): it is parsed by the allow-list parser :func:`kexue._expr.parse_expression`
    with the names ``variables`` (plus ``pi``, ``E`` and a fixed list of functions), and refused
    where no variables are known."""
    if isinstance(value, str):
        if variables is None:
            raise TypeError(f"{name} must be a SymPy expression or a number; got the string "
                            f"{value!r}. Build it with SymPy, e.g. sympy.exp(-a*x).")
        return parse_expression(value, name=name, variables=variables)
    try:
        return sympy.sympify(value, strict=True)
    except (sympy.SympifyError, TypeError):
        raise TypeError(f"{name} must be a SymPy expression or a number; got "
                        f"{type(value).__name__} {value!r}.") from None


def _exact(value: Any, dps: int, name: str) -> sympy.Expr:
    """A SymPy number from ``value``; mpmath/float values keep all their binary digits."""
    if isinstance(value, (mpmath.mpf, float)):
        return sympy.Float(value, max(dps, 17))
    return _sym(value, name)


def _limit_value(expr: sympy.Expr, x: sympy.Symbol, at: sympy.Expr, side: str) -> sympy.Expr:
    """``expr`` at ``x = at``: plain substitution when finite, else a one-sided limit."""
    if at.is_infinite:
        return sympy.limit(expr, x, at)
    val = expr.subs(x, at)
    if val.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo) or val.has(sympy.AccumBounds):
        return sympy.limit(expr, x, at, side)
    return val


def _gt(a: sympy.Expr, b: sympy.Expr) -> bool:
    """``a > b`` when SymPy can decide it, else False."""
    try:
        return bool(a > b)
    except TypeError:
        return False


class ParametricIntegral:
    """``G(a) = offset(a) + ∫_{lower(a)}^{upper(a)} f(x, a) dx`` — Feynman's trick's object.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619) and part 7
    "a synthesis of Euler's mathematics" (2013-03-27).

    Args:
        integrand: ``f(x, a)``, a SymPy expression.
        x: the integration variable (a Symbol).
        param: the parameter ``a`` (a Symbol); it must appear in the integrand, the limits or
            the offset.
        lower, upper: the limits ``m(a)``, ``n(a)`` (may be ``sympy.oo``); they must not
            contain ``x``.
        offset: an additive term outside the integral (the Leibniz boundary terms of a
            derivative live here).
        omega: angular frequency of an oscillating integrand on an infinite range (``sin(bx)/x``:
            ``omega = b``); the tail is then summed period by period (``mpmath.quadosc``).

    Raises:
        TypeError: a symbol argument is not a Symbol, or an expression does not sympify.
            Strings are parsed by the allow-list parser :func:`kexue._expr.parse_expression`
            (names ``x``/``param`` by their names, ``pi``, ``E``, a fixed list of functions;
            never ``sympify``/``eval``); text outside it raises ``ValueError``.
        ValueError: ``x`` equals ``param``, a limit contains ``x``, or ``param`` does not appear.
    """

    __slots__ = ("integrand", "x", "param", "lower", "upper", "offset", "omega")

    def __init__(self, integrand: Any, x: sympy.Symbol, param: sympy.Symbol, lower: Any,
                 upper: Any, *, offset: Any = 0, omega: Any = None, _check: bool = True):
        for name, s in (("x", x), ("param", param)):
            if not isinstance(s, sympy.Symbol):
                raise TypeError(f"ParametricIntegral: {name} must be a sympy.Symbol; got "
                                f"{type(s).__name__} {s!r}. Example: x, a = sympy.symbols('x a').")
        if x == param:
            raise ValueError(f"ParametricIntegral: x and param are the same symbol {x}; the "
                             "parameter must differ from the integration variable.")
        self.x: sympy.Symbol = x
        self.param: sympy.Symbol = param
        names = {x.name: x, param.name: param}  # the names a string may use
        self.integrand = _sym(integrand, "integrand", names)
        self.lower = _sym(lower, "lower", names)
        self.upper = _sym(upper, "upper", names)
        self.offset = _sym(offset, "offset", names)
        self.omega = None if omega is None else _sym(omega, "omega", names)
        for name, lim in (("lower", self.lower), ("upper", self.upper)):
            if x in lim.free_symbols:
                raise ValueError(f"ParametricIntegral: the {name} limit {lim} contains the "
                                 f"integration variable {x}; limits may depend on {param} only.")
        if _check and param not in (self.integrand.free_symbols | self.lower.free_symbols
                                    | self.upper.free_symbols | self.offset.free_symbols):
            present = sorted(map(str, self.integrand.free_symbols - {x}))
            raise ValueError(f"ParametricIntegral: param {param} does not appear in the "
                             f"integrand {self.integrand} or the limits, so there is nothing "
                             f"to differentiate; got symbols {present or 'none'}. Introduce the "
                             f"parameter into the integrand (e.g. a factor e^(-{param}*{x})) or "
                             f"pass one of the symbols that appear.")

    # ---------------------------------------------------------------- presentation
    def __repr__(self) -> str:
        body = f"∫[{self.lower}, {self.upper}] {self.integrand} d{self.x}"
        if self.offset != 0:
            body = f"{self.offset} + {body}"
        return body

    def to_sympy(self) -> sympy.Expr:
        """``offset + Integral(f, (x, lower, upper))`` as an unevaluated SymPy expression."""
        return self.offset + sympy.Integral(self.integrand, (self.x, self.lower, self.upper))

    def subs(self, mapping: Mapping) -> ParametricIntegral:
        """Substitute constants (not ``x``); the parameter may disappear (no check)."""
        if self.x in mapping:
            raise ValueError(f"subs: cannot substitute the integration variable {self.x}; use "
                             "substitute(x_of_t, t, t_lower, t_upper) for a change of variables.")
        return ParametricIntegral(self.integrand.subs(mapping), self.x, self.param,
                                  self.lower.subs(mapping), self.upper.subs(mapping),
                                  offset=self.offset.subs(mapping),
                                  omega=None if self.omega is None else self.omega.subs(mapping),
                                  _check=False)

    # ---------------------------------------------------------------- the Leibniz rule
    def derivative(self) -> ParametricIntegral:
        """``G'(a)`` by the Leibniz rule with variable limits (kexue.fm 1619, formula D0).

        ``G'(a) = offset'(a) + f(n(a), a)·n'(a) − f(m(a), a)·m'(a) + ∫_m^n ∂f/∂a dx``; the
        boundary terms go into the returned integral's ``offset``.

        Returns:
            A :class:`ParametricIntegral` for ``G'`` (same ``x``, ``param`` and limits).
        """
        a, x = self.param, self.x
        boundary = sympy.diff(self.offset, a)
        dn, dm = sympy.diff(self.upper, a), sympy.diff(self.lower, a)
        if dn != 0:
            boundary += _limit_value(self.integrand, x, self.upper, "-") * dn
        if dm != 0:
            boundary -= _limit_value(self.integrand, x, self.lower, "+") * dm
        return ParametricIntegral(sympy.diff(self.integrand, a), x, a, self.lower, self.upper,
                                  offset=sympy.simplify(boundary) if boundary != 0 else 0,
                                  omega=self.omega, _check=False)

    # ---------------------------------------------------------------- change of variables
    def substitute(self, x_of_t: Any, t: sympy.Symbol, t_lower: Any,
                   t_upper: Any) -> ParametricIntegral:
        """Change of variables ``x = φ(t)``: ``∫_m^n f(x) dx = ∫_{t_lower}^{t_upper} f(φ(t))
        φ'(t) dt``, with the limits swapped (and the sign flipped) when ``t_lower > t_upper``.

        Args:
            x_of_t: ``φ(t)``.
            t: the new variable.
            t_lower, t_upper: the t-values with ``φ(t_lower) = lower``, ``φ(t_upper) = upper``.

        Returns:
            The transformed :class:`ParametricIntegral` in ``t``.

        Raises:
            TypeError: ``t`` is not a Symbol.
            ValueError: ``φ`` does not map ``t_lower``/``t_upper`` to the old limits.
        """
        if not isinstance(t, sympy.Symbol):
            raise TypeError(f"substitute: t must be a sympy.Symbol; got {type(t).__name__}.")
        phi = _sym(x_of_t, "x_of_t")
        tl, tu = _sym(t_lower, "t_lower"), _sym(t_upper, "t_upper")
        flipped = _gt(tl, tu)
        for name, tv, want, side in (("t_lower", tl, self.lower, "+"),
                                     ("t_upper", tu, self.upper, "-")):
            side_ = side if not flipped else ("-" if side == "+" else "+")
            got = _limit_value(phi, t, tv, side_)
            if sympy.simplify(got - want) != 0 and got != want:
                raise ValueError(f"substitute: x = {phi} maps {name} = {tv} to {got}, not to "
                                 f"the limit {want}; choose t-limits with φ(t) equal to the old "
                                 f"limits.")
        new = self.integrand.subs(self.x, phi) * sympy.diff(phi, t)
        new = sympy.powsimp(sympy.powdenest(new, force=False))
        if flipped:
            new, tl, tu = -new, tu, tl
        return ParametricIntegral(new, t, self.param, tl, tu, offset=self.offset, _check=False)

    # ---------------------------------------------------------------- the trick, automated
    def derive(self, *, anchor: tuple[Any, Any] | None = None, antiderivative: Any = None,
               check_at: Mapping | None = None, digits: int = 30) -> Any:
        """Feynman's trick as recorded steps: differentiate, integrate in x, solve the ODE in the
        parameter, fix the constant, check (kexue.fm 1619; part 7, 2013-03-27).

        1. ``G'(a)`` by :meth:`derivative` (Leibniz rule, boundary terms included);
        2. an antiderivative ``F`` of ``∂f/∂a`` in ``x`` (``sympy.integrate`` unless given),
           and ``h(a) = [F]_m^n`` by one-sided limits;
        3. ``G(a) = ∫ h(a) da + C`` (``sympy.integrate`` in ``a``);
        4. ``C`` from ``anchor = (a0, G(a0))`` — by default the first of ``0, ∞, 1`` and the other
           symbols at which the integrand vanishes identically (then ``G(a0) = 0``);
        5. the closed form against :meth:`evaluate` at ``check_at`` to ``digits`` digits.

        SymPy's ``integrate`` can be slow or fail on ``∂f/∂a``; pass ``antiderivative`` then.

        Args:
            anchor: ``(a0, value)`` with ``G(a0) = value`` known.
            antiderivative: ``F(x, a)`` with ``∂F/∂x = ∂f/∂a``.
            check_at: values for the numeric check (default ``{param: 3/4}``).
            digits: digits required by the check.

        Returns:
            A :class:`~kexue.integrals.Derivation`; ``replay().result`` is the closed form.

        Raises:
            RuntimeError: SymPy cannot integrate in ``x`` or in the parameter.
            ValueError: no anchor given and none found.
        """
        from ._derivation import (
            C,
            Derivation,
            Differentiate,
            FixConstant,
            NumericCheck,
            ReduceToODE,
            SolveODE,
        )

        a, x = self.param, self.x
        D = self.derivative()
        if antiderivative is None:
            F = sympy.integrate(D.integrand, x, conds="none")
            if F.has(sympy.Integral):
                raise RuntimeError(f"derive: SymPy cannot integrate ∂f/∂{a} = {D.integrand} in "
                                   f"{x}; pass antiderivative=F with ∂F/∂{x} = that integrand.")
        else:
            F = _sym(antiderivative, "antiderivative")
        h = sympy.simplify(_limit_value(F, x, D.upper, "-") - _limit_value(F, x, D.lower, "+")
                           + D.offset)
        prim = sympy.integrate(h, a)
        if prim.has(sympy.Integral):
            raise RuntimeError(f"derive: SymPy cannot integrate G'({a}) = {h} in {a}.")
        general = sympy.simplify(prim) + C
        if anchor is None:
            anchor = self._find_anchor()
        a0, g0 = (_sym(v, "anchor") for v in anchor)
        closed_name = "closed"
        point = dict(check_at) if check_at is not None else {a: sympy.Rational(3, 4)}
        steps = [
            Differentiate("G", D.integrand, D.offset),
            ReduceToODE("dG", "G", F, h),
            SolveODE("ode", general),
            FixConstant("general", a, a0, g0, name=closed_name),
            NumericCheck("G", closed_name, point, digits),
        ]
        return Derivation(steps, initial={"G": self}, result=closed_name)

    def _find_anchor(self) -> tuple[sympy.Expr, sympy.Expr]:
        a, x = self.param, self.x
        candidates = [sympy.Integer(0), sympy.oo, sympy.Integer(1)] + sorted(
            self.integrand.free_symbols - {a, x}, key=str)
        for a0 in candidates:
            try:
                if a0.is_infinite:
                    f0 = sympy.limit(self.integrand, a, a0)
                else:
                    f0 = sympy.simplify(self.integrand.subs(a, a0))
            except (NotImplementedError, ValueError):
                continue
            lo, hi = self.lower.subs(a, a0), self.upper.subs(a, a0)
            if (f0 == 0 or lo == hi) and self.offset.subs(a, a0) == 0:
                return a0, sympy.Integer(0)
        raise ValueError(f"derive: no anchor found (the integrand does not vanish at {a} = 0, ∞, "
                         f"1 or another symbol); pass anchor=(a0, G(a0)) with a known value.")

    # ---------------------------------------------------------------- numerics
    def evaluate(self, value: Any = None, *, digits: int = 30,
                 subs: Mapping | None = None) -> mpmath.mpf:
        """``G(value)`` to ``digits`` significant digits with mpmath (tanh-sinh quadrature).

        Endpoints are handled by substitution: each finite piece ``[m, n]`` is split at its
        midpoint and mapped with ``x = m + c·u^K`` / ``x = n − c·u^K``, infinite tails with
        ``x = c − 1 + u^{−K}``, where K (3 to 40) is chosen from the endpoint exponent measured
        by two probes, so that algebraic endpoint singularities ``|x − m|^α`` and slow tails
        ``x^{−1−β}`` become bounded (for α ≥ −0.95 and β ≥ 0.05); nodes that round onto a
        singular endpoint are re-evaluated at higher precision. Oscillating tails (``omega``
        set) are summed by ``mpmath.quadosc``. Work precision is ``digits + GUARD_DIGITS``;
        when mpmath's error estimate is too large the computation is repeated at twice the
        precision, and a divergent-looking endpoint, tail or estimate raises.

        Args:
            value: the value of ``param`` (omit when it is fixed by ``subs``).
            digits: significant digits wanted.
            subs: values for other symbols (``{b: 2}``).

        Returns:
            ``G(value)`` as an ``mpmath.mpf`` carrying the working precision.

        Raises:
            ValueError: symbols other than ``x`` remain, the integrand is not finite or complex
                somewhere inside the range, or the quadrature does not converge (a divergent
                integral, an interior singularity).
            TypeError: ``digits`` is not an int.
            ValueError: ``digits`` outside ``1..MAX_DIGITS``.
        """
        if isinstance(digits, bool) or not isinstance(digits, int):
            raise TypeError(f"evaluate: digits must be an int in 1..{MAX_DIGITS}; got "
                            f"{digits!r}.")
        if not 1 <= digits <= MAX_DIGITS:
            raise ValueError(f"evaluate: digits must be an int in 1..{MAX_DIGITS}; got "
                             f"{digits!r}.")
        dps = digits + GUARD_DIGITS
        mapping = {k: _exact(v, dps, "subs") for k, v in (subs or {}).items()}
        if value is not None:
            mapping[self.param] = _exact(value, dps, "value")
        f = self.integrand.subs(mapping)
        lo, hi = self.lower.subs(mapping), self.upper.subs(mapping)
        off = self.offset.subs(mapping)
        omega = None if self.omega is None else self.omega.subs(mapping)
        left = (f.free_symbols - {self.x}) | lo.free_symbols | hi.free_symbols | \
            off.free_symbols | (omega.free_symbols if omega is not None else set())
        if left:
            names = ", ".join(sorted(map(str, left)))
            raise ValueError(f"evaluate: symbols {names} have no value; pass value= for the "
                             f"parameter {self.param} and subs={{...}} for the others.")
        result, err = self._quad(f, lo, hi, omega, dps)
        if err > mpmath.mpf(10) ** (-(digits + 3)) * max(1, abs(result)):
            result, err = self._quad(f, lo, hi, omega, 2 * dps)
            if err > mpmath.mpf(10) ** (-digits) * max(1, abs(result)):
                raise ValueError(f"evaluate: the quadrature did not converge (error estimate "
                                 f"{mpmath.nstr(err, 3)} for the value {mpmath.nstr(result, 8)}"
                                 f"); the integral may diverge, or the integrand has a "
                                 f"singularity or kink inside the range — split it there.")
        with mpmath.workdps(dps):
            return +(result + mpmath.mpf(sympy.N(off, dps)) if off != 0 else +result)

    def _quad(self, f: sympy.Expr, lo: sympy.Expr, hi: sympy.Expr, omega: sympy.Expr | None,
              dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
        x = self.x
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
