"""Whether two expressions are identically equal: exactly where SymPy can decide it, else
numerically to 30 significant digits at fixed pseudo-random points.

Source: Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619): every
recorded step of a derivation is checked against its recomputation with this test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mpmath
import numpy as np
import sympy

__all__ = ["same"]

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
