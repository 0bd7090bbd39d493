"""SymPy helpers shared by the parametric integrals and the derivation steps: expressions from
user input (never ``sympify`` of a string), values at a limit, decided comparisons.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 2, kexue.fm archive 1619
(2012-06-12): the Leibniz rule evaluates the integrand at the (possibly infinite or singular)
limits, here by substitution or a one-sided limit.

The lowest layer of :mod:`kexue.integrals`: it imports no other module of the package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mpmath
import sympy

from ..expr import parse_expression

__all__: list[str] = []


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


def _decided_gt(a: Any, b: Any) -> bool:
    """``a > b`` for anything ``sympify`` takes, when SymPy can decide it; else False."""
    return _gt(sympy.sympify(a), sympy.sympify(b))
