"""Parametrised chains: boxes mapped into Rⁿ, with orientation, formal sums and a boundary.

Source: exterior differential series, part 5 (kexue.fm archive 4062): integration of forms over
parametrised domains, ``∫_{φ(D)} ω = ∫_D φ*ω``, and the boundary operator that makes
``∫_{∂M} ω = ∫_M dω`` one formula for Newton–Leibniz, Green, Kelvin–Stokes and Gauss.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from ._coefficients import _coefficient, _tidy

__all__ = ["Cell", "Chain", "boundary"]


@dataclass(frozen=True)
class Cell:
    """One oriented k-cell: the box ``Π [lo_j, hi_j]`` in the parameters, mapped into Rⁿ.

    Source: exterior differential series, part 5 (kexue.fm archive 4062).

    Attributes:
        map: ``(φ_1, …, φ_n)`` in terms of ``params`` (the images of the ambient coordinates).
        params: the k parameters ``(u_1, …, u_k)``; their order is the orientation.
        bounds: ``((lo_1, hi_1), …)``, constants (may contain symbolic constants like ``pi``).
    """

    map: tuple[sympy.Expr, ...]
    params: tuple[sympy.Symbol, ...]
    bounds: tuple[tuple[sympy.Expr, sympy.Expr], ...]

    @property
    def dim(self) -> int:
        return len(self.params)

    @property
    def ambient_dim(self) -> int:
        return len(self.map)

    def face(self, j: int, end: int) -> Cell:
        """The face ``u_j = bounds[j][end]`` (``end`` 0 for lo, 1 for hi), a (k−1)-cell."""
        value = self.bounds[j][end]
        return Cell(tuple(m.subs(self.params[j], value) for m in self.map),
                    self.params[:j] + self.params[j + 1:],
                    self.bounds[:j] + self.bounds[j + 1:])

    def is_degenerate(self) -> bool:
        """Whether the map has rank < k everywhere (all k×k Jacobian minors vanish): such a cell
        has zero k-volume and contributes nothing to any integral (e.g. the centre ``r = 0`` of
        a disk in polar coordinates)."""
        k = self.dim
        if k == 0:
            return False
        J = sympy.Matrix([[sympy.diff(m, u) for u in self.params] for m in self.map])  # (n, k)
        minors = [J.extract(list(rows), list(range(k))).det()
                  for rows in itertools.combinations(range(self.ambient_dim), k)]
        # fast path: a minor that is non-zero at a random point proves full rank
        free = sorted(set().union(*(m.free_symbols for m in minors)), key=str)
        for seed in (1, 2):
            rng = np.random.default_rng(seed)
            point = {s: sympy.Float(rng.uniform(0.13, 0.87)) for s in free}
            for m in minors:
                val = complex(m.subs(point).evalf(30))
                if abs(val) > 1e-20:
                    return False
        return all(_tidy(m) == 0 for m in minors)

    def subs(self, *args: Any, **kwargs: Any) -> Cell:
        return Cell(tuple(m.subs(*args, **kwargs) for m in self.map), self.params,
                    tuple((lo.subs(*args, **kwargs), hi.subs(*args, **kwargs))
                          for lo, hi in self.bounds))


def _as_cell(map: Any, params: Any, bounds: Any) -> Cell:
    if isinstance(map, (str, bytes)) or not isinstance(map, Sequence):
        raise TypeError(f"Chain: map must be a sequence of expressions (the images of the "
                        f"ambient coordinates); got {type(map).__name__}.")
    if not map:
        raise ValueError("Chain: map must have at least one component (the ambient dimension); "
                         "got an empty sequence.")
    exprs = tuple(_coefficient(m, "Chain") for m in map)
    if isinstance(params, sympy.Symbol):
        params = (params,)
    params = tuple(params)
    for p in params:
        if not isinstance(p, sympy.Symbol):
            raise TypeError(f"Chain: params must be sympy Symbols; got {type(p).__name__} "
                            f"{p!r}. Example: r, t = sympy.symbols('r t').")
    if len(set(params)) != len(params):
        raise ValueError(f"Chain: params must be distinct; got {params}.")
    bounds = tuple(bounds)
    if len(bounds) == 2 and len(params) == 1 and not isinstance(bounds[0], (tuple, list)):
        bounds = (bounds,)
    if len(bounds) != len(params):
        raise ValueError(f"Chain: expected one (lo, hi) pair per parameter ({len(params)}); got "
                         f"{len(bounds)}. Example: Chain(map, (r, t), [(0, 1), (0, 2*pi)]).")
    out = []
    for p, b in zip(params, bounds):
        if not isinstance(b, (tuple, list)) or len(b) != 2:
            raise ValueError(f"Chain: bounds for {p} must be a (lo, hi) pair; got {b!r}.")
        lo, hi = _coefficient(b[0], "Chain"), _coefficient(b[1], "Chain")
        if (lo.free_symbols | hi.free_symbols) & set(params):
            raise ValueError(f"Chain: the bounds of {p} depend on the parameters; a cell is a "
                             f"box with constant bounds. Map a box onto the region instead "
                             f"(e.g. the triangle as (u, (1 - u)*v) on [0, 1]²).")
        if lo.is_number and hi.is_number and bool(lo >= hi):
            raise ValueError(f"Chain: bounds for {p} must have lo < hi; got ({lo}, {hi}). To "
                             "reverse the orientation negate the chain (-chain).")
        out.append((lo, hi))
    return Cell(exprs, params, tuple(out))


class Chain:
    """A parametrised k-chain in Rⁿ: a formal integer sum of oriented cells (kexue.fm 4062).

    ``Chain(map, params, bounds)`` is one cell: the box ``Π [lo_j, hi_j]`` in the parameters
    mapped into Rⁿ by ``map``. Chains add (``+``, ``-``) and scale by integers; ``-c`` reverses
    the orientation. The parameter order is the orientation: ``(r, θ) ↦ (r cos θ, r sin θ)``
    is the positively oriented disk.

    Args:
        map: ``(φ_1, …, φ_n)``, the images of the ambient coordinates in the parameters.
        params: the k parameters (a symbol or a sequence; empty for a point).
        bounds: one ``(lo, hi)`` per parameter, constants with ``lo < hi``.

    Raises:
        TypeError: ``map`` is not a sequence, or a parameter is not a Symbol.
        ValueError: wrong number of bounds, bounds depending on the parameters, ``lo ≥ hi``.
    """

    __slots__ = ("_cells", "_dim", "_ambient")

    def __init__(self, map: Sequence[Any], params: Sequence[sympy.Symbol] | sympy.Symbol = (),
                 bounds: Sequence[Sequence[Any]] = ()):
        cell = _as_cell(map, params, bounds)
        self._cells: tuple[tuple[int, Cell], ...] = ((1, cell),)
        self._dim = cell.dim
        self._ambient = cell.ambient_dim

    @classmethod
    def _from_cells(cls, cells: Iterable[tuple[int, Cell]], dim: int, ambient: int) -> Chain:
        obj = object.__new__(cls)
        obj._cells = tuple((int(c), cell) for c, cell in cells if c != 0)
        obj._dim = dim
        obj._ambient = ambient
        return obj

    @classmethod
    def point(cls, *coordinates: Any) -> Chain:
        """The 0-chain at one point of Rⁿ."""
        return cls(coordinates, (), ())

    @classmethod
    def box(cls, *bounds: Sequence[Any], params: Sequence[sympy.Symbol] | None = None) -> Chain:
        """The box ``Π [lo_j, hi_j]`` in Rᵏ with the identity map (standard orientation)."""
        if params is None:
            params = sympy.symbols(f"u1:{len(bounds) + 1}", real=True)
        params = tuple(params)
        return cls(params, params, bounds)

    @classmethod
    def zero(cls, dim: int, ambient: int) -> Chain:
        """The empty k-chain in Rⁿ."""
        return cls._from_cells((), dim, ambient)

    @property
    def dim(self) -> int:
        """k, the dimension of the chain (number of parameters)."""
        return self._dim

    @property
    def ambient_dim(self) -> int:
        """n, the dimension of the space the chain maps into."""
        return self._ambient

    @property
    def cells(self) -> tuple[tuple[int, Cell], ...]:
        """``((coefficient, Cell), …)``."""
        return self._cells

    def is_zero(self) -> bool:
        """Whether the chain has no cells left (after cancellation)."""
        return not self._cells

    def _check(self, other: Chain, op: str) -> None:
        if (other._dim, other._ambient) != (self._dim, self._ambient):
            raise ValueError(f"{op}: chains must have the same dimension and ambient space; got "
                             f"a {self._dim}-chain in R^{self._ambient} and a {other._dim}-chain "
                             f"in R^{other._ambient}.")

    def __add__(self, other: Any) -> Chain:
        if not isinstance(other, Chain):
            return NotImplemented
        self._check(other, "+")
        return _combine(self._cells + other._cells, self._dim, self._ambient)

    def __neg__(self) -> Chain:
        return Chain._from_cells(((-c, cell) for c, cell in self._cells), self._dim,
                                 self._ambient)

    def __sub__(self, other: Any) -> Chain:
        if not isinstance(other, Chain):
            return NotImplemented
        return self + (-other)

    def __mul__(self, n: Any) -> Chain:
        if isinstance(n, bool) or not isinstance(n, int):
            return NotImplemented
        return Chain._from_cells(((n * c, cell) for c, cell in self._cells), self._dim,
                                 self._ambient)

    __rmul__ = __mul__

    def subs(self, *args: Any, **kwargs: Any) -> Chain:
        """Substitute constants (e.g. ``{a: 2}``) in every cell's map and bounds."""
        return Chain._from_cells(((c, cell.subs(*args, **kwargs)) for c, cell in self._cells),
                                 self._dim, self._ambient)

    def __repr__(self) -> str:
        if not self._cells:
            return f"Chain(0, dim={self._dim}, ambient={self._ambient})"
        parts = []
        for c, cell in self._cells:
            box = " × ".join(f"{p}∈[{lo}, {hi}]" for p, (lo, hi) in zip(cell.params,
                                                                          cell.bounds))
            parts.append(f"{c:+d}·[{', '.join(map(str, cell.map))}]" + (f" on {box}"
                                                                            if box else ""))
        return " ".join(parts)


def _combine(cells: Iterable[tuple[int, Cell]], dim: int, ambient: int) -> Chain:
    """Sum coefficients of identical cells, drop zeros (keeps first-seen order)."""
    acc: dict[Cell, int] = {}
    for c, cell in cells:
        acc[cell] = acc.get(cell, 0) + c
    return Chain._from_cells(((c, cell) for cell, c in acc.items() if c != 0), dim, ambient)


def boundary(chain: Chain, *, simplify: bool = True) -> Chain:
    """The oriented boundary ``∂M`` of a chain of boxes (kexue.fm 4062, Stokes ``∫_{∂M} ω =
    ∫_M dω``).

    For a cell with parameters ``u_1…u_k`` on ``Π [a_j, b_j]``:
    ``∂ = Σ_j (−1)^{j−1} (face(u_j = b_j) − face(u_j = a_j))``, so ``∂∂ = 0``.

    Args:
        chain: a k-chain with k ≥ 1.
        simplify: drop degenerate faces (rank-deficient maps, e.g. the centre of a polar disk or
            the poles of a sphere, which carry no (k−1)-volume) and cancel identical faces of
            opposite sign (e.g. the seam ``θ = 0`` / ``θ = 2π``).

    Returns:
        The (k−1)-chain ``∂M``.

    Raises:
        TypeError: ``chain`` is not a Chain.
        ValueError: ``chain`` is a 0-chain (points have no boundary).
    """
    if not isinstance(chain, Chain):
        raise TypeError(f"boundary: chain must be a Chain; got {type(chain).__name__}. Build one "
                        "with Chain(map, params, bounds).")
    if chain.dim == 0:
        raise ValueError("boundary: a 0-chain (points) has no boundary; pass a chain of "
                         "dimension ≥ 1.")
    faces: list[tuple[int, Cell]] = []
    for c, cell in chain.cells:
        for j in range(cell.dim):
            sign = 1 if j % 2 == 0 else -1
            faces.append((c * sign, cell.face(j, 1)))
            faces.append((-c * sign, cell.face(j, 0)))
    if simplify:
        faces = [(c, f) for c, f in faces if not f.is_degenerate()]
    return _combine(faces, chain.dim - 1, chain.ambient_dim)
