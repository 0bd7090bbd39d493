"""Differential forms on Rⁿ with SymPy coefficients: coordinates, forms and their algebra
(sums, products with functions, the wedge product).

Source: Su Jianlin, exterior differential series (外微分浅谈), part 5 "geometric meaning"
(kexue.fm archive 4062, 2016-11-06); the algebra is the standard one on Rⁿ.

A k-form is stored as ``{I: c_I}`` with ``I`` a strictly increasing tuple of coordinate indices
and ``c_I`` a SymPy expression, meaning ``Σ_I c_I dx_{i₁}∧…∧dx_{i_k}``. :class:`Coordinates` and
:class:`Form` are one concept in two classes (a coordinate system hands out its basis 1-forms,
a form lives on a coordinate system), and :func:`wedge` is the form's ``^``, so they share this
module; the exterior derivative and the pullback are in :mod:`._calculus`, evaluation on vectors
in :mod:`._volume`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from ._coefficients import _coefficient, _is_zero, _sort_sign, _vector
from ._volume import _evaluate

__all__ = ["Coordinates", "Form", "coords", "wedge"]


class Coordinates:
    """An ordered coordinate system on Rⁿ: its symbols and basis 1-forms ``dx_i``.

    Source: exterior differential series, kexue.fm archive 4062 (dx as a basis of covectors).

    Unpacks as ``(symbols, basis)``: ``(x, y), (dx, dy) = coords("x y")``.

    Args:
        symbols: distinct SymPy symbols, in order (the order fixes the orientation).

    Raises:
        TypeError: an entry is not a SymPy ``Symbol``.
        ValueError: no symbols, or a repeated symbol.
    """

    __slots__ = ("symbols", "_basis")

    def __init__(self, symbols: Sequence[sympy.Symbol]):
        symbols = tuple(symbols)
        if not symbols:
            raise ValueError("coords: expected at least one coordinate symbol; got none. "
                             "Example: coords('x y z').")
        for s in symbols:
            if not isinstance(s, sympy.Symbol):
                raise TypeError(f"coords: each coordinate must be a sympy.Symbol; got "
                                f"{type(s).__name__} {s!r}. Use coords('x y') or sympy.symbols.")
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"coords: coordinate symbols must be distinct; got {symbols}. "
                             "Rename the repeated one.")
        self.symbols: tuple[sympy.Symbol, ...] = symbols
        self._basis: tuple[Form, ...] | None = None

    @property
    def dim(self) -> int:
        """n, the dimension of the space."""
        return len(self.symbols)

    @property
    def basis(self) -> tuple[Form, ...]:
        """The basis 1-forms ``(dx_1, …, dx_n)``."""
        if self._basis is None:
            self._basis = tuple(Form._make(self, {(i,): sympy.Integer(1)}, 1)
                                for i in range(self.dim))
        return self._basis

    def __iter__(self) -> Iterator[tuple]:
        return iter((self.symbols, self.basis))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Coordinates) and other.symbols == self.symbols

    def __hash__(self) -> int:
        return hash(self.symbols)

    def __repr__(self) -> str:
        return f"coords({' '.join(map(str, self.symbols))!r})"

    def index(self, symbol: sympy.Symbol) -> int:
        """Position of ``symbol`` among the coordinates.

        Raises:
            ValueError: ``symbol`` is not one of the coordinates.
        """
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise ValueError(f"{symbol!r} is not a coordinate of {self!r}; coordinates are "
                             f"{', '.join(map(str, self.symbols))}.") from None

    def form(self, f: Any) -> Form:
        """The 0-form (function) ``f``."""
        return Form._make(self, {(): _coefficient(f, "form")}, 0)

    @property
    def volume(self) -> Form:
        """The volume form ``dx_1∧…∧dx_n``."""
        return Form._make(self, {tuple(range(self.dim)): sympy.Integer(1)}, self.dim)

    def _need_r3(self, what: str) -> None:
        if self.dim != 3:
            raise ValueError(f"{what}: the vector-field dictionary is for R³; these coordinates "
                             f"have dimension {self.dim}. Use Form directly in other dimensions.")

    def work(self, field: Sequence[Any]) -> Form:
        """The work 1-form ``P dx + Q dy + R dz`` of ``F = (P, Q, R)`` (any n)."""
        field = _vector(field, self.dim, "field")
        return Form._make(self, {(i,): c for i, c in enumerate(field)}, 1)

    def flux(self, field: Sequence[Any]) -> Form:
        """The flux 2-form ``P dy∧dz + Q dz∧dx + R dx∧dy`` of ``F = (P, Q, R)`` in R³."""
        self._need_r3("flux")
        P, Q, R = _vector(field, 3, "field")
        return Form._make(self, {(1, 2): P, (0, 2): -Q, (0, 1): R}, 2)

    def density(self, f: Any) -> Form:
        """The 3-form ``f dx∧dy∧dz`` in R³ (any n: ``f`` times the volume form)."""
        return _coefficient(f, "density") * self.volume




def coords(names: str | Sequence[str | sympy.Symbol], **assumptions: Any) -> Coordinates:
    """Coordinates on Rⁿ and their basis 1-forms (exterior differential series, kexue.fm 4062).

    Args:
        names: ``"x y z"`` (space- or comma-separated) or a sequence of names / symbols.
        **assumptions: SymPy assumptions for new symbols; default ``real=True``.

    Returns:
        A :class:`Coordinates`; unpack it as ``(x, y, z), (dx, dy, dz) = coords("x y z")``.

    Raises:
        TypeError: ``names`` is neither a string nor a sequence of names/symbols.
        ValueError: no names, or a repeated name.
    """
    assumptions = assumptions or {"real": True}
    if isinstance(names, str):
        syms = sympy.symbols(names, seq=True, **assumptions)
    elif isinstance(names, Sequence):
        syms = []
        for n in names:
            if isinstance(n, sympy.Symbol):
                syms.append(n)
            elif isinstance(n, str):
                syms.append(sympy.Symbol(n, **assumptions))
            else:
                raise TypeError(f"coords: names must be strings or sympy Symbols; got "
                                f"{type(n).__name__} {n!r}.")
    else:
        raise TypeError(f"coords: names must be a string like 'x y z' or a sequence of names; "
                        f"got {type(names).__name__}.")
    return Coordinates(syms)


class Form:
    """A differential k-form on Rⁿ with SymPy coefficients (kexue.fm 4062, exterior calculus).

    ``Form({(0, 1): x}, C)`` is ``x dx∧dy`` on the coordinates ``C``; keys may also use the
    coordinate symbols themselves (``{(x, y): x}``). Keys are sorted with the sign of the
    permutation and repeated indices vanish (``dx∧dx = 0``).

    Operators: ``+``, ``-``, scalar/function multiplication ``f * ω``, wedge ``α ^ β``
    (mind Python's precedence: ``^`` binds *looser* than ``+``, so write ``(dx ^ dy) + …``),
    evaluation ``ω(v₁, …, v_k, at=point)``.

    Args:
        terms: ``{index tuple: coefficient}``; all index tuples have the same length k.
        coordinates: a :class:`Coordinates` or a sequence of symbols.
        degree: k; required only when ``terms`` is empty.

    Raises:
        TypeError: ``terms`` is not a mapping, a key is not a tuple of ints/symbols, or a
            coefficient is a string (never parsed: ``sympify`` would run it as code) or not a
            scalar expression.
        ValueError: keys of different lengths, an index out of range, a missing degree, or a
            coefficient containing ``zoo``/``nan``/``oo``.

    Examples:
        >>> from kexue.forms import Form, coords
        >>> C = coords("x y")
        >>> (x, y), (dx, dy) = C
        >>> Form({(0, 1): x}, C)
        x*dx^dy
        >>> (dx ^ dy)([1, 0], [0, 1])                    # the unit square's signed area
        1.0
    """

    __slots__ = ("_coords", "_terms", "_degree")
    __hash__ = None  # equality is mathematical (coefficients compared up to simplification)

    def __init__(self, terms: Mapping[Sequence[int | sympy.Symbol], Any],
                 coordinates: Coordinates | Sequence[sympy.Symbol], *, degree: int | None = None):
        C = coordinates if isinstance(coordinates, Coordinates) else Coordinates(coordinates)
        if not isinstance(terms, Mapping):
            raise TypeError(f"Form: terms must be a mapping {{index tuple: coefficient}}; got "
                            f"{type(terms).__name__}. Example: Form({{(0, 1): x}}, C).")
        lengths = set()
        raw: dict[tuple[int, ...], sympy.Expr] = {}
        for key, coeff in terms.items():
            key_t = (key,) if isinstance(key, (int, sympy.Symbol)) else key
            if not isinstance(key_t, (tuple, list)):
                raise TypeError(f"Form: each key must be a tuple of coordinate indices or "
                                f"symbols; got {key!r}.")
            idx = []
            for k in key_t:
                if isinstance(k, sympy.Symbol):
                    idx.append(C.index(k))
                elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
                    if not 0 <= int(k) < C.dim:
                        raise ValueError(f"Form: index {k} out of range for R^{C.dim} (indices "
                                         f"0..{C.dim - 1}); got key {key!r}.")
                    idx.append(int(k))
                else:
                    raise TypeError(f"Form: key entries must be ints or coordinate symbols; got "
                                    f"{type(k).__name__} {k!r} in key {key!r}.")
            lengths.add(len(idx))
            sign, sidx = _sort_sign(idx)
            if sign:
                raw[sidx] = raw.get(sidx, sympy.Integer(0)) + sign * _coefficient(coeff)
        if len(lengths) > 1:
            raise ValueError(f"Form: all terms must have the same degree; got index tuples of "
                             f"lengths {sorted(lengths)}. Add forms of equal degree only.")
        if lengths:
            k = lengths.pop()
            if degree is not None and degree != k:
                raise ValueError(f"Form: degree={degree} but the keys have length {k}.")
        elif degree is None:
            raise ValueError("Form: an empty form needs its degree; pass degree=k.")
        else:
            k = degree
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"Form: degree must be a non-negative int; got {k!r}.")
        self._coords = C
        self._terms = {i: c for i, c in raw.items() if c != 0}
        self._degree = k

    @classmethod
    def _make(cls, C: Coordinates, terms: Mapping[tuple[int, ...], Any], degree: int) -> Form:
        """Internal constructor: keys already sorted and unique."""
        obj = object.__new__(cls)
        obj._coords = C
        obj._terms = {i: e for i, e in ((i, _coefficient(c)) for i, c in terms.items())
                      if e != 0}
        obj._degree = degree
        return obj

    # ---------------------------------------------------------------- basic attributes
    @property
    def degree(self) -> int:
        """k, the degree."""
        return self._degree

    @property
    def coordinates(self) -> Coordinates:
        """The coordinate system of Rⁿ this form lives on."""
        return self._coords

    @property
    def dim(self) -> int:
        """n, the dimension of the space."""
        return self._coords.dim

    @property
    def terms(self) -> dict[tuple[int, ...], sympy.Expr]:
        """``{sorted index tuple: coefficient}`` (a copy)."""
        return dict(self._terms)

    def coefficient(self, *index: int | sympy.Symbol) -> sympy.Expr:
        """The coefficient of ``dx_{i₁}∧…∧dx_{i_k}`` (with the sign of the sorting)."""
        C = self._coords
        idx = [C.index(i) if isinstance(i, sympy.Symbol) else int(i) for i in index]
        if len(idx) != self._degree:
            raise ValueError(f"coefficient: this is a {self._degree}-form; give {self._degree} "
                             f"indices, got {len(idx)}.")
        sign, sidx = _sort_sign(idx)
        return sign * self._terms.get(sidx, sympy.Integer(0)) if sign else sympy.Integer(0)

    @property
    def free_symbols(self) -> set[sympy.Symbol]:
        """Symbols in the coefficients."""
        out: set[sympy.Symbol] = set()
        for c in self._terms.values():
            out |= c.free_symbols
        return out

    def is_zero(self) -> bool:
        """Whether every coefficient is identically zero."""
        return all(_is_zero(c) for c in self._terms.values())

    # ---------------------------------------------------------------- algebra
    def _check_same(self, other: Form, op: str) -> None:
        if other._coords != self._coords:
            raise ValueError(f"{op}: forms live on different coordinates ({self._coords!r} vs "
                             f"{other._coords!r}); pull one back or rebuild it on the same "
                             f"coords.")

    def __add__(self, other: Any) -> Form:
        if not isinstance(other, Form):
            if self._degree == 0 and _is_scalar(other):
                other = self._coords.form(other)
            elif _is_scalar(other) and sympy.sympify(other) == 0:
                return self
            else:
                return NotImplemented
        self._check_same(other, "+")
        if other._degree != self._degree:
            raise ValueError(f"+: cannot add a {self._degree}-form and a {other._degree}-form; "
                             "forms of different degree live in different spaces.")
        terms = dict(self._terms)
        for i, c in other._terms.items():
            terms[i] = terms.get(i, sympy.Integer(0)) + c
        return Form._make(self._coords, terms, self._degree)

    __radd__ = __add__

    def __neg__(self) -> Form:
        return Form._make(self._coords, {i: -c for i, c in self._terms.items()}, self._degree)

    def __sub__(self, other: Any) -> Form:
        if isinstance(other, Form):
            return self + (-other)
        if _is_scalar(other):
            return self + (-sympy.sympify(other))
        return NotImplemented

    def __rsub__(self, other: Any) -> Form:
        return (-self) + other

    def __mul__(self, other: Any) -> Form:
        if isinstance(other, Form):
            if self._degree == 0 or other._degree == 0:
                return wedge(self, other)
            raise TypeError(f"*: product of a {self._degree}-form and a {other._degree}-form is "
                            "ambiguous; use the wedge product α ^ β (or wedge(α, β)).")
        if not _is_scalar(other):
            return NotImplemented
        f = sympy.sympify(other)
        return Form._make(self._coords, {i: f * c for i, c in self._terms.items()},
                          self._degree)

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Form:
        if not _is_scalar(other):
            return NotImplemented
        return self * (1 / sympy.sympify(other))

    def __xor__(self, other: Any) -> Form:
        if isinstance(other, Form):
            return wedge(self, other)
        if _is_scalar(other):
            return self * other
        return NotImplemented

    def __rxor__(self, other: Any) -> Form:
        if _is_scalar(other):
            return self * other
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Form):
            if other._coords != self._coords or other._degree != self._degree:
                return False
            return (self - other).is_zero()
        if _is_scalar(other) and sympy.sympify(other) == 0:
            return self.is_zero()
        return NotImplemented

    # ---------------------------------------------------------------- transformations
    def subs(self, *args: Any, **kwargs: Any) -> Form:
        """Substitute in the coefficients (``sympy.Expr.subs`` arguments); coordinates stay."""
        return Form._make(self._coords, {i: c.subs(*args, **kwargs)
                                         for i, c in self._terms.items()}, self._degree)

    def simplify(self) -> Form:
        """``sympy.simplify`` every coefficient."""
        return Form._make(self._coords, {i: sympy.simplify(c) for i, c in self._terms.items()},
                          self._degree)

    def applyfunc(self, fn: Any) -> Form:
        """Apply ``fn`` to every coefficient."""
        return Form._make(self._coords, {i: fn(c) for i, c in self._terms.items()},
                          self._degree)

    # ---------------------------------------------------------------- geometric meaning
    def __call__(self, *vectors: Sequence[Any], at: Mapping | Sequence | None = None) -> Any:
        """Evaluate on k vectors: ``Σ_I c_I · det[(v_j)_{i_l}]``, the signed k-volume (4062).

        The determinant is computed as the alternating sum over permutations (the definition of
        the wedge product), not by elimination.

        Args:
            *vectors: k vectors of length n.
            at: the base point (``{symbol: value}`` or a sequence of n values) at which the
                coefficients are evaluated; needed when they depend on the coordinates.

        Returns:
            A SymPy expression, or a float when everything is numeric.

        Raises:
            ValueError: the number of vectors is not k, or a vector has the wrong length.
        """
        return _evaluate(self._terms, self._degree, self._coords.symbols, vectors, at)

    # ---------------------------------------------------------------- R³ dictionary
    def vector(self) -> tuple[sympy.Expr, ...] | sympy.Expr:
        """The vector-calculus reading in R³: 0-form → f, 1-form → (P, Q, R) of
        ``P dx + Q dy + R dz``, 2-form → (P, Q, R) of ``P dy∧dz + Q dz∧dx + R dx∧dy``,
        3-form → f of ``f dx∧dy∧dz``.

        Raises:
            ValueError: the form is not on R³.
        """
        self._coords._need_r3("vector")
        c = self.coefficient
        if self._degree == 0:
            return c()
        if self._degree == 1:
            return (c(0), c(1), c(2))
        if self._degree == 2:
            return (c(1, 2), c(2, 0), c(0, 1))
        return c(0, 1, 2)

    def __repr__(self) -> str:
        if not self._terms:
            return f"0 ({self._degree}-form)"
        names = [str(s) for s in self._coords.symbols]
        parts = []
        for I in sorted(self._terms):
            basis = "^".join(f"d{names[i]}" for i in I)
            c = self._terms[I]
            if not I:
                parts.append(f"{c}")
            elif c == 1:
                parts.append(basis)
            else:
                cs = str(c)
                if c.is_Add:
                    cs = f"({cs})"
                parts.append(f"{cs}*{basis}")
        return " + ".join(parts)

    __str__ = __repr__


def _is_scalar(x: Any) -> bool:
    if isinstance(x, (Form, str, bytes)):
        return False
    if isinstance(x, (int, float, complex, np.number, sympy.Basic)):
        return not isinstance(x, sympy.MatrixBase) and not isinstance(x, bool)
    return False


def _require_form(x: Any, name: str, fn: str) -> Form:
    if not isinstance(x, Form):
        hint = (" Wrap a function f as a 0-form with C.form(f) (C = coords(...))."
                if _is_scalar(x) else "")
        raise TypeError(f"{fn}: {name} must be a Form; got {type(x).__name__}.{hint}")
    return x


def wedge(*forms: Form) -> Form:
    """Wedge product ``α₁∧α₂∧…`` (antisymmetric; kexue.fm 4062).

    ``dx_i∧dx_j = −dx_j∧dx_i``, ``dx_i∧dx_i = 0``, and ``α∧β = (−1)^{kl} β∧α``.

    Args:
        *forms: one or more forms on the same coordinates.

    Returns:
        A form of degree ``Σ k_i`` (zero when the degrees add up to more than n).

    Raises:
        TypeError: an argument is not a Form.
        ValueError: no arguments, or forms on different coordinates.

    Examples:
        >>> from kexue.forms import coords, wedge
        >>> (x, y), (dx, dy) = coords("x y")
        >>> wedge(dx, dy) == (dx ^ dy), wedge(dy, dx) == -(dx ^ dy)
        (True, True)
        >>> wedge(x * dx, dx) == 0 * (dx ^ dy)             # dx∧dx = 0
        True
    """
    if not forms:
        raise ValueError("wedge: expected at least one form; got none.")
    out = _require_form(forms[0], "forms[0]", "wedge")
    for j, beta in enumerate(forms[1:], start=1):
        beta = _require_form(beta, f"forms[{j}]", "wedge")
        out._check_same(beta, "wedge")
        terms: dict[tuple[int, ...], sympy.Expr] = {}
        for I, a in out._terms.items():
            for J, b in beta._terms.items():
                sign, K = _sort_sign(I + J)
                if sign:
                    terms[K] = terms.get(K, sympy.Integer(0)) + sign * a * b
        out = Form._make(out._coords, terms, out._degree + beta._degree)
    return out

