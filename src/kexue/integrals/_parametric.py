"""Parametric integrals ``G(a) = offset(a) + ∫_{m(a)}^{n(a)} f(x, a) dx``: the Leibniz rule,
change of variables, Feynman's trick as recorded steps, and a 30-digit mpmath evaluator.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 2, kexue.fm archive 1619
(2012-06-12), for the rule with variable limits (formula D0 of the reference note):
``G'(a) = ∫_m^n ∂f/∂a dx + f(n(a), a)·n'(a) − f(m(a), a)·m'(a)``.

The quadrature itself is in :mod:`._quadrature`; :meth:`ParametricIntegral.derive` records its
steps with the step types of the ``_steps_*`` modules, which see an integral only through its
attributes and methods (see ``_derivation._Family``) and so do not import this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mpmath
import sympy

from ._derivation import Derivation
from ._quadrature import quad
from ._steps_calculus import Differentiate, NumericCheck
from ._steps_constants import FixConstant
from ._steps_ode import C, ReduceToODE, SolveODE
from ._symbolic import _exact, _gt, _limit_value, _sym

__all__ = ["ParametricIntegral", "GUARD_DIGITS", "MAX_DIGITS"]

GUARD_DIGITS = 10
"""Extra working digits of ``evaluate`` beyond the requested ones."""

MAX_DIGITS = 200
"""Most significant digits :meth:`ParametricIntegral.evaluate` and :func:`~kexue.integrals.verify`
accept (the CLI's ``--digits`` too): tanh-sinh quadrature costs grow about as ``digits³``, so
200 digits take seconds to a minute per entry and 10⁶ would never finish."""


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

    def _sympystr(self, printer: Any) -> str:
        """How ``sympy.sstr`` (and so a derivation's claims) shows the integral: its repr."""
        return repr(self)

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

    def _replace(self, **changes: Any) -> ParametricIntegral:
        """A copy with some of ``integrand``, ``x``, ``lower``, ``upper``, ``offset`` and
        ``omega`` replaced (the parameter need not appear). The derivation steps build the
        integrals they record with it.

        Raises:
            TypeError: a name that is not one of these.
        """
        keep = {"integrand": self.integrand, "x": self.x, "lower": self.lower,
                "upper": self.upper, "offset": self.offset, "omega": self.omega}
        unknown = sorted(set(changes) - set(keep))
        if unknown:
            raise TypeError(f"_replace: unknown fields {unknown}; give some of "
                            f"{', '.join(keep)}.")
        keep.update(changes)
        return type(self)(keep["integrand"], keep["x"], self.param, keep["lower"],
                          keep["upper"], offset=keep["offset"], omega=keep["omega"],
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
        result, err = quad(f, self.x, lo, hi, omega, dps)
        if err > mpmath.mpf(10) ** (-(digits + 3)) * max(1, abs(result)):
            result, err = quad(f, self.x, lo, hi, omega, 2 * dps)
            if err > mpmath.mpf(10) ** (-digits) * max(1, abs(result)):
                raise ValueError(f"evaluate: the quadrature did not converge (error estimate "
                                 f"{mpmath.nstr(err, 3)} for the value {mpmath.nstr(result, 8)}"
                                 f"); the integral may diverge, or the integrand has a "
                                 f"singularity or kink inside the range — split it there.")
        with mpmath.workdps(dps):
            return +(result + mpmath.mpf(sympy.N(off, dps)) if off != 0 else +result)
