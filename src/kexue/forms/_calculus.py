"""Exterior derivative, pullback and the R³ vector-calculus dictionary.

Source: Su Jianlin, exterior differential series (外微分浅谈), part 5 "geometric meaning"
(kexue.fm archive 4062, 2016-11-06): ``d`` generalises grad, curl and div, and the pullback
makes a change of variables automatic (``φ*(dx₁∧…∧dxₙ) = det(Dφ) du₁∧…∧duₙ``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import sympy

from ._chain import Chain
from ._coefficients import _coefficient, _normal, _sort_sign, _tidy
from ._form import Coordinates, Form, _require_form

__all__ = ["d", "pullback", "grad", "curl", "div"]


def d(form: Form) -> Form:
    """Exterior derivative ``d(f dx_I) = Σ_j ∂_j f dx_j∧dx_I`` (kexue.fm 4062).

    Satisfies ``d∘d = 0`` and ``d(α∧β) = dα∧β + (−1)^k α∧dβ``. Coefficients are put in a
    canonical form (rational functions cancelled) so that identities cancel exactly.

    Args:
        form: a k-form.

    Returns:
        The (k+1)-form ``dω``.

    Raises:
        TypeError: ``form`` is not a Form (wrap functions with ``C.form(f)``).

    Examples:
        >>> from kexue.forms import coords, d
        >>> (x, y, z), (dx, dy, dz) = coords("x y z")
        >>> d(x * y * dz)
        y*dx^dz + x*dy^dz
        >>> d(d(x**2 * y * dz)) == 0 * (dx ^ dy ^ dz)
        True
    """
    form = _require_form(form, "form", "d")
    xs = form._coords.symbols
    terms: dict[tuple[int, ...], sympy.Expr] = {}
    for I, c in form._terms.items():
        for j, xj in enumerate(xs):
            if j in I:
                continue
            dc = sympy.diff(c, xj)
            if dc == 0:
                continue
            sign, K = _sort_sign((j,) + I)
            terms[K] = terms.get(K, sympy.Integer(0)) + sign * dc
    return Form._make(form._coords, {K: _normal(c) for K, c in terms.items()},
                      form._degree + 1)


def _map_exprs(mapping: Any, target: Coordinates) -> tuple[sympy.Expr, ...]:
    """The images ``(φ_1, …, φ_n)`` of the target coordinates, validated."""
    if isinstance(mapping, Mapping):
        missing = [s for s in target.symbols if s not in mapping]
        extra = [s for s in mapping if s not in target.symbols]
        if missing or extra:
            raise ValueError(f"pullback: map must give one expression per coordinate of "
                             f"{target!r}; missing {missing}, unknown {extra}.")
        return tuple(_coefficient(mapping[s], "pullback") for s in target.symbols)
    if isinstance(mapping, (str, bytes)) or not isinstance(mapping, Sequence):
        raise TypeError(f"pullback: map must be a sequence of {target.dim} expressions (the "
                        f"images of {', '.join(map(str, target.symbols))}) or a dict; got "
                        f"{type(mapping).__name__}.")
    if len(mapping) != target.dim:
        raise ValueError(f"pullback: the form lives on R^{target.dim} ({target!r}), so the map "
                         f"needs {target.dim} components; got {len(mapping)}. Give one "
                         f"expression per target coordinate.")
    return tuple(_coefficient(m, "pullback") for m in mapping)


def pullback(form: Form, map: Any, *, source: Coordinates | Sequence[sympy.Symbol] | None = None,
             simplify: bool = True) -> Form:
    """Pullback ``φ*ω`` along ``φ: Rᵐ → Rⁿ`` (kexue.fm 4062: change of variables is automatic).

    ``φ*(c dx_I) = (c∘φ) Σ_J det(∂φ_I/∂u_J) du_J``; in particular
    ``φ*(dx₁∧…∧dxₙ) = det(Dφ) du₁∧…∧duₙ``. Commutes with ``d`` and ``∧``.

    Args:
        form: a k-form on Rⁿ.
        map: ``(φ_1, …, φ_n)`` — the images of the form's coordinates as expressions in the
            source coordinates — or a dict ``{x_i: φ_i}``, or a one-cell :class:`Chain`
            (then ``source`` is its parameters).
        source: the source coordinates ``u`` (a :class:`Coordinates` or symbols), in order.
        simplify: tidy the coefficients (cancel, trigsimp).

    Returns:
        The k-form ``φ*ω`` on the source coordinates.

    Raises:
        TypeError: ``form`` is not a Form or ``map`` is not a sequence/dict/chain.
        ValueError: ``map`` has the wrong number of components, or ``source`` is missing.

    Examples:
        >>> import sympy
        >>> from kexue.forms import coords, pullback
        >>> (x, y), (dx, dy) = coords("x y")
        >>> (r, t), _ = coords("r t")
        >>> pullback(dx ^ dy, (r * sympy.cos(t), r * sympy.sin(t)), source=(r, t))   # polar area
        r*dr^dt
    """
    form = _require_form(form, "form", "pullback")
    if isinstance(map, Chain):
        if len(map.cells) != 1:
            raise ValueError(f"pullback: a chain with {len(map.cells)} cells has no single map; "
                             "pull back along each cell (chain.cells) instead.")
        coef, cell = map.cells[0]
        map, source = cell.map, cell.params
    if source is None:
        raise ValueError("pullback: source coordinates are required (their order fixes the "
                         "orientation); pass source=coords('u v') or source=(u, v).")
    S = source if isinstance(source, Coordinates) else Coordinates(tuple(source))
    phi = _map_exprs(map, form._coords)
    sub = dict(zip(form._coords.symbols, phi))
    J = [[sympy.diff(p, u) for u in S.symbols] for p in phi]  # (n, m) Jacobian
    k, m = form._degree, S.dim
    cols_all = list(itertools.combinations(range(m), k))
    terms: dict[tuple[int, ...], sympy.Expr] = {}
    for I, c in form._terms.items():
        c_phi = c.subs(sub, simultaneous=True)
        for cols in cols_all:
            minor = sympy.Matrix([[J[i][j] for j in cols] for i in I]).det() if k else 1
            if minor == 0:
                continue
            terms[cols] = terms.get(cols, sympy.Integer(0)) + c_phi * minor
    tidy = _tidy if simplify else _normal
    return Form._make(S, {K: tidy(c) for K, c in terms.items()}, k)


def grad(f: Any, coordinates: Coordinates) -> tuple[sympy.Expr, ...]:
    """Gradient as ``d`` of a 0-form: the components of ``df`` (kexue.fm 4062, R³ dictionary)."""
    return tuple(d(coordinates.form(f)).coefficient(i) for i in range(coordinates.dim))


def curl(field: Sequence[Any], coordinates: Coordinates) -> tuple[sympy.Expr, ...]:
    """Curl in R³ as ``d`` of the work 1-form, read as a flux 2-form (kexue.fm 4062).

    Raises:
        ValueError: the coordinates are not 3-dimensional or ``field`` has not 3 components.
    """
    coordinates._need_r3("curl")
    return d(coordinates.work(field)).vector()


def div(field: Sequence[Any], coordinates: Coordinates) -> sympy.Expr:
    """Divergence in R³ as ``d`` of the flux 2-form, read as a density (kexue.fm 4062).

    Raises:
        ValueError: the coordinates are not 3-dimensional or ``field`` has not 3 components.
    """
    coordinates._need_r3("div")
    return d(coordinates.flux(field)).vector()
