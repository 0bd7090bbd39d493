"""Differential forms on Rⁿ with SymPy coefficients: wedge, exterior derivative, pullback.

Source: Su Jianlin, exterior differential series (外微分浅谈), part 5 "geometric meaning"
(kexue.fm archive 4062, 2016-11-06); the algebra is the standard one on Rⁿ.

A k-form is stored as ``{I: c_I}`` with ``I`` a strictly increasing tuple of coordinate indices
and ``c_I`` a SymPy expression, meaning ``Σ_I c_I dx_{i₁}∧…∧dx_{i_k}``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import sympy

__all__ = ["Coordinates", "Form", "coords", "wedge", "d", "pullback", "grad", "curl", "div",
           "volume"]


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


def _vector(field: Sequence[Any], n: int, name: str) -> tuple[sympy.Expr, ...]:
    if isinstance(field, np.ndarray):
        field = field.tolist() if field.ndim == 1 else field
    if isinstance(field, (str, bytes)) or not isinstance(field, Sequence):
        raise TypeError(f"{name}: expected a sequence of {n} components; got "
                        f"{type(field).__name__}.")
    if len(field) != n:
        raise ValueError(f"{name}: expected {n} components (one per coordinate); got "
                         f"{len(field)}.")
    return tuple(_coefficient(c, name) for c in field)


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
        k, n = self._degree, self.dim
        if len(vectors) != k:
            raise ValueError(f"a {k}-form takes exactly {k} vectors; got {len(vectors)}. "
                             f"(sympy.diffgeom silently accepts this; see sympy issue 26401.)")
        V = [_vector(v, n, f"vector {j}") for j, v in enumerate(vectors)]
        subs = self._point(at)
        perms = [(p, _perm_sign(p)) for p in itertools.permutations(range(k))]
        total = sympy.Integer(0)
        for I, c in self._terms.items():
            minor = sympy.Integer(0)
            for p, s in perms:
                minor += s * math.prod((V[p[l]][I[l]] for l in range(k)), start=sympy.Integer(1))
            total += (c.subs(subs) if subs else c) * minor
        total = sympy.sympify(total)
        if not total.free_symbols:
            val = complex(total.evalf())
            return val.real if val.imag == 0 else val
        return sympy.expand(total)

    def _point(self, at: Mapping | Sequence | None) -> dict:
        if at is None:
            return {}
        if isinstance(at, Mapping):
            return dict(at)
        pt = _vector(at, self.dim, "at")
        return dict(zip(self._coords.symbols, pt))

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


def _perm_sign(p: Sequence[int]) -> int:
    return _sort_sign(p)[0]


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
    from ._chain import Chain  # local: _chain imports this module

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


def volume(*vectors: Sequence[float]) -> float:
    """k-volume of the parallelotope spanned by k vectors in Rⁿ, ``√(Σ_I (dx_I(v₁…v_k))²)``.

    The sum of squared k×k minors (Cauchy–Binet), i.e. ``√det(VᵀV)`` (kexue.fm 4062).

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
        minor = sum(s * math.prod(V[p[l], I[l]] for l in range(k)) for p, s in perms)
        total += minor * minor
    return math.sqrt(total)
