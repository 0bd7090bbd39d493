"""Coefficients of differential forms: validation, canonical forms, and permutation signs.

Source: Su Jianlin, exterior differential series (外微分浅谈), part 5 "geometric meaning"
(kexue.fm archive 4062, 2016-11-06): a k-form ``Σ_I c_I dx_I`` is stored with strictly increasing
index tuples ``I``, so a wedge of basis 1-forms is sorted with the sign of its permutation.

The lowest layer of :mod:`kexue.forms`: SymPy helpers that both the form algebra
(:mod:`._form`) and the chains (:mod:`._chain`) use; it imports neither.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy

__all__: list[str] = []

_NOT_FINITE = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


def _coefficient(value: Any, where: str = "Form") -> sympy.Expr:
    """``value`` as a SymPy expression fit to be a coefficient: not a string (``sympify`` of a
    string evaluates it as Python code), an expression (not a matrix or a relation), and free
    of ``zoo``/``nan``/``±oo`` (a division by zero or an overflow upstream).

    Raises:
        TypeError: a string, or something SymPy cannot take as a scalar expression.
        ValueError: a coefficient containing ``zoo``, ``nan`` or ``oo``.
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{where}: coefficients must be SymPy expressions or numbers, not strings "
                        f"(got {value!r}): sympify would evaluate the text as code. Build it "
                        "from the coordinate symbols, e.g. x**2*y.")
    try:
        expr = sympy.sympify(value, strict=True)
    except (sympy.SympifyError, TypeError, ValueError):
        raise TypeError(f"{where}: a coefficient must be a SymPy expression or a number; got "
                        f"{type(value).__name__}.") from None
    if not isinstance(expr, sympy.Expr) or getattr(expr, "is_Matrix", False) \
            or isinstance(expr, sympy.MatrixExpr):
        raise TypeError(f"{where}: a coefficient must be a scalar SymPy expression; got "
                        f"{type(expr).__name__} {expr!r}.")
    if expr.has(*_NOT_FINITE):
        raise ValueError(f"{where}: the coefficient {expr} is not finite (it contains zoo, nan or "
                         "oo, e.g. from a division by zero); give finite coefficients.")
    return expr


def _normal(expr: sympy.Expr) -> sympy.Expr:
    """A cheap canonical form: rational functions are cancelled, the rest expanded.

    Enough to make ``d(d ω)``, graded antisymmetry and ``d ∘ pullback`` cancel exactly; use
    :meth:`Form.simplify` for trigonometric simplification.
    """
    expr = sympy.sympify(expr)
    if expr.is_Number or expr.is_Symbol:
        return expr
    if any(p.exp.is_negative for p in expr.atoms(sympy.Pow)):
        return sympy.cancel(sympy.together(expr))
    return sympy.expand(expr)


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """``_normal`` followed by ``trigsimp`` when trigonometric functions appear."""
    expr = _normal(expr)
    if expr.has(sympy.sin, sympy.cos, sympy.tan):
        expr = sympy.trigsimp(expr)
        expr = _normal(expr) if not expr.has(sympy.sin, sympy.cos) else sympy.factor_terms(expr)
    return expr


def _is_zero(expr: sympy.Expr) -> bool:
    """Whether ``expr`` is identically zero (cancel, then ``simplify`` as a fallback)."""
    expr = sympy.sympify(expr)
    if expr == 0:
        return True
    if _normal(expr) == 0:
        return True
    return sympy.simplify(expr) == 0


def _sort_sign(index: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    """``(sign, sorted index)`` of a wedge of basis 1-forms; sign 0 when an index repeats."""
    idx = list(index)
    if len(set(idx)) != len(idx):
        return 0, ()
    inversions = sum(1 for a, b in itertools.combinations(range(len(idx)), 2) if idx[a] > idx[b])
    return (-1 if inversions % 2 else 1), tuple(sorted(idx))


def _perm_sign(p: Sequence[int]) -> int:
    """The sign ``±1`` of the permutation ``p`` of ``0..k−1``."""
    return _sort_sign(p)[0]


def _vector(field: Sequence[Any], n: int, name: str) -> tuple[sympy.Expr, ...]:
    """``field`` as ``n`` coefficients (a vector, a point, a vector field's components).

    Raises:
        TypeError: ``field`` is not a sequence (or 1-D array) of scalars.
        ValueError: ``field`` has not ``n`` components.
    """
    if isinstance(field, np.ndarray):
        field = field.tolist() if field.ndim == 1 else field
    if isinstance(field, (str, bytes)) or not isinstance(field, Sequence):
        raise TypeError(f"{name}: expected a sequence of {n} components; got "
                        f"{type(field).__name__}.")
    if len(field) != n:
        raise ValueError(f"{name}: expected {n} components (one per coordinate); got "
                         f"{len(field)}.")
    return tuple(_coefficient(c, name) for c in field)

