"""The geometric meaning of forms: a k-form evaluated on k vectors is a signed k-volume.

Source: Su Jianlin, exterior differential series (外微分浅谈), part 5 "geometric meaning"
(kexue.fm archive 4062, 2016-11-06): ``dx_{i₁}∧…∧dx_{i_k}(v₁, …, v_k)`` is the determinant of
the ``I``-rows of the vectors, i.e. the signed volume of their projection on the ``x_I`` plane,
and the unsigned k-volume of the parallelotope is ``√(Σ_I (dx_I(v₁…v_k))²)`` (Cauchy–Binet).

The determinants are alternating sums over permutations (the definition of the wedge product),
not elimination. This module sees a form only through its terms ``{I: c_I}``, its degree and its
coordinate symbols, so the form algebra (:mod:`._form`) can call it without a circle.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from ._coefficients import _perm_sign, _vector

__all__ = ["volume"]


def _minor(V: Any, I: Sequence[int], perms: Sequence[tuple[tuple[int, ...], int]],
           one: Any) -> Any:
    """``det[(v_j)_{i_l}]``, the k×k minor of the vectors ``V`` (k rows of length n) on the
    columns ``I``, as the alternating sum ``Σ_p sign(p) Π_l V[p(l)][i_l]``."""
    k = len(I)
    return sum((s * math.prod((V[p[l]][I[l]] for l in range(k)), start=one) for p, s in perms),
               start=one * 0)


def _point(at: Mapping | Sequence | None, symbols: Sequence[sympy.Symbol]) -> dict:
    """The base point ``at`` as a substitution ``{symbol: value}``."""
    if at is None:
        return {}
    if isinstance(at, Mapping):
        return dict(at)
    pt = _vector(at, len(symbols), "at")
    return dict(zip(symbols, pt))


def _evaluate(terms: Mapping[tuple[int, ...], sympy.Expr], degree: int,
              symbols: Sequence[sympy.Symbol], vectors: Sequence[Sequence[Any]],
              at: Mapping | Sequence | None) -> Any:
    """``Σ_I c_I(at) · det[(v_j)_{i_l}]``: the k-form ``Σ_I c_I dx_I`` on k vectors (kexue.fm
    4062); see :meth:`kexue.forms.Form.__call__`.

    Raises:
        ValueError: the number of vectors is not k, or a vector has the wrong length.
    """
    k, n = degree, len(symbols)
    if len(vectors) != k:
        raise ValueError(f"a {k}-form takes exactly {k} vectors; got {len(vectors)}. "
                         f"(sympy.diffgeom silently accepts this; see sympy issue 26401.)")
    V = [_vector(v, n, f"vector {j}") for j, v in enumerate(vectors)]
    subs = _point(at, symbols)
    perms = [(p, _perm_sign(p)) for p in itertools.permutations(range(k))]
    total = sympy.Integer(0)
    for I, c in terms.items():
        total += (c.subs(subs) if subs else c) * _minor(V, I, perms, sympy.Integer(1))
    total = sympy.sympify(total)
    if not total.free_symbols:
        val = complex(total.evalf())
        return val.real if val.imag == 0 else val
    return sympy.expand(total)


def volume(*vectors: Sequence[float]) -> float:
    """k-volume of the parallelotope spanned by k vectors in Rⁿ, ``√(Σ_I (dx_I(v₁…v_k))²)``.

    The sum of squared k×k minors (Cauchy–Binet), i.e. ``√det(VᵀV)`` (kexue.fm 4062): each minor
    is a k-form ``dx_I`` evaluated on the vectors.

    Args:
        *vectors: k vectors of length n (k ≤ n), numeric.

    Returns:
        The non-negative k-volume as a float.

    Raises:
        ValueError: no vectors, unequal lengths, or more vectors than dimensions.
    """
    if not vectors:
        raise ValueError("volume: expected at least one vector; got none.")
    V = np.asarray(vectors, dtype=np.float64)  # (k, n)
    if V.ndim != 2:
        raise ValueError(f"volume: vectors must all have the same length; got shape {V.shape}.")
    k, n = V.shape
    if k > n:
        raise ValueError(f"volume: {k} vectors in R^{n} span no {k}-volume (need k ≤ n); "
                         "drop vectors or embed them in a larger space.")
    perms = [(p, _perm_sign(p)) for p in itertools.permutations(range(k))]
    total = 0.0
    for I in itertools.combinations(range(n), k):
        minor = _minor(V, I, perms, 1.0)
        total += minor * minor
    return math.sqrt(total)
