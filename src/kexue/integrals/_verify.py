"""Checks of the catalogue against quadrature: each entry's closed form against mpmath to 30 (or
more) significant digits at its check points or at random points of its parameter domain.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法, kexue.fm archive 1619; part 7,
2013-03-27): "never trust a symbolic result without the numeric check" (reference note,
section 4.4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy
from sympy import Rational

from ._catalogue import CatalogueEntry
from ._entries import CATALOGUE
from ._parametric import GUARD_DIGITS, MAX_DIGITS

__all__ = ["Check", "Verification", "verify", "random_points"]


def random_points(entry: CatalogueEntry | str, count: int, *, seed: int) -> list[dict]:
    """``count`` random assignments of the entry's free parameters, drawn from its ``domain``
    with ``numpy.random.default_rng((seed, entry number))`` and rounded to 4 decimals (exact
    rationals, so the closed form is evaluated without rounding error).

    Source: Feynman's integration trick series (kexue.fm archive 1619): check symbolic results
    numerically.

    Args:
        entry: a :class:`CatalogueEntry` or its id/slug.
        count: how many points.
        seed: the seed (the same seed and entry give the same points).

    Returns:
        A list of ``{symbol: Rational or Integer}``; empty when the entry has no free
        parameters.

    Raises:
        ValueError: ``count`` is negative or not an int.
    """
    if isinstance(entry, str):
        entry = CATALOGUE[entry]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"random_points: count must be a non-negative int; got {count!r}.")
    if not entry.domain:
        return []
    rng = np.random.default_rng([int(seed), int(entry.id[1:])])
    out = []
    for _ in range(count):
        pt = {}
        for sym, dom in entry.domain.items():
            if isinstance(dom[0], tuple):
                dom = dom[int(rng.integers(len(dom)))]
            lo, hi = dom
            if sym.is_integer:
                pt[sym] = sympy.Integer(int(rng.integers(int(lo), int(hi) + 1)))
            else:
                pt[sym] = Rational(round(float(rng.uniform(lo, hi)) * 10**4), 10**4)
        out.append(pt)
    return out


@dataclass
class Check:
    """Closed form against numerics at one point.

    Source: Feynman's integration trick series (kexue.fm archive 1619).
    """

    integral: str
    point: dict
    exact: mpmath.mpf
    numeric: mpmath.mpf
    digits: float
    ok: bool


@dataclass
class Verification:
    """The result of :func:`verify`: one :class:`Check` per point (and per extra form).

    Source: Feynman's integration trick series (kexue.fm archive 1619).
    """

    entry: CatalogueEntry
    digits: int
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def min_digits(self) -> float:
        return min(c.digits for c in self.checks)


def _agreement(exact: mpmath.mpf, numeric: mpmath.mpf, cap: int) -> float:
    """Significant digits agreed (absolute digits when the exact value is 0), capped."""
    err = abs(exact - numeric)
    if err == 0:
        return float(cap)
    scale = abs(exact) if exact != 0 else mpmath.mpf(1)
    return float(min(cap, -mpmath.log10(err / scale)))


def _check_points(entry: CatalogueEntry, points: Sequence[Mapping] | None) -> list[dict]:
    """``points`` (default: the entry's) as dicts whose keys are the entry's symbols (a name
    string is mapped to its symbol) and whose values are real numbers, covering every free
    symbol of the closed form.

    Raises:
        TypeError: ``points`` is not a sequence of mappings.
        ValueError: an unknown symbol, a missing one, or a value that is not a finite real
            number; the message names the entry's symbols.
    """
    if points is None:
        return [dict(p) for p in entry.check_points]
    if isinstance(points, (str, bytes, Mapping)) or not isinstance(points, Sequence):
        raise TypeError(f"verify: points must be a sequence of mappings {{symbol: value}}; got "
                        f"{type(points).__name__}.")
    free = entry.closed_form.free_symbols - set(entry.at)
    by_name = {str(sym): sym for sym in free | set(entry.at)}
    shown = ", ".join(sorted(str(sym) for sym in free)) or "none"
    out = []
    for pt in points:
        if not isinstance(pt, Mapping):
            raise TypeError(f"verify: each point must be a mapping {{symbol: value}}; got "
                            f"{type(pt).__name__}.")
        fixed = {}
        for key, val in pt.items():
            sym = by_name.get(str(key))
            if sym is None or (not isinstance(key, (str, sympy.Symbol))):
                raise ValueError(f"verify: {entry.id} has no symbol {key!r}; its closed form's "
                                 f"symbols are: {shown}.")
            try:
                num = sympy.sympify(val) if not isinstance(val, str) else None
            except (sympy.SympifyError, TypeError):
                num = None
            if num is None or not num.is_number or not num.is_extended_real \
                    or not num.is_finite:
                raise ValueError(f"verify: the value of {key} must be a finite real number; got "
                                 f"{val!r}.")
            fixed[sym] = num
        missing = sorted(str(sym) for sym in free if sym not in fixed)
        if missing:
            raise ValueError(f"verify: point {pt!r} gives no value for {', '.join(missing)} "
                             f"({entry.id}'s symbols: {shown}).")
        out.append(fixed)
    return out


def verify(entry: CatalogueEntry | str, *, digits: int = 30,
           points: Sequence[Mapping] | None = None) -> Verification:
    """Compare an entry's closed form with mpmath quadrature to ``digits`` significant digits.

    Source: Feynman's integration trick series (kexue.fm 1619; part 7, 2013-03-27): "never trust
    a symbolic result without the numeric check" (reference note, section 4.4).

    Args:
        entry: a :class:`CatalogueEntry` or its id/slug.
        digits: significant digits required (absolute digits where the value is 0).
        points: assignments to check at (default: the entry's ``check_points``).

    Returns:
        A :class:`Verification` with one :class:`Check` per point and per extra form.

    Raises:
        KeyError: an unknown name (the message lists the valid ones).
        TypeError: ``entry`` is neither an entry nor a string, ``digits`` is not an int, or
            ``points`` is not a sequence of mappings.
        ValueError: ``digits`` above :data:`~kexue.integrals.MAX_DIGITS` (200);
            a point naming a symbol the entry does not have, missing one, or giving a value
            that is not a finite real number.
    """
    if isinstance(entry, str):
        entry = CATALOGUE[entry]
    if not isinstance(entry, CatalogueEntry):
        raise TypeError(f"verify: entry must be a CatalogueEntry or a name like 'F3'; got "
                        f"{type(entry).__name__}.")
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise TypeError(f"verify: digits must be a positive int; got {digits!r}.")
    if digits > MAX_DIGITS:
        raise ValueError(f"verify: digits must be at most {MAX_DIGITS} (the quadrature's cost "
                         f"grows about as digits³); got {digits}.")
    fam = entry.numeric or entry.integral
    cap = digits + GUARD_DIGITS
    checks = []
    for pt in _check_points(entry, points):
        values = {**dict(pt), **entry.at}
        with mpmath.workdps(cap):
            exact = mpmath.mpf(sympy.N(entry.closed_form.subs(pt), cap))
        num = fam.evaluate(digits=digits, subs=values)
        agreed = _agreement(exact, num, cap)
        checks.append(Check(entry.title, dict(pt), exact, num, agreed, agreed >= digits))
        for text, other, extra in entry.also:
            if any(k in pt and pt[k] != v for k, v in extra.items()):
                continue  # this form equals the closed form only at its own values
            num2 = other.evaluate(digits=digits, subs={**dict(pt), **extra})
            agreed2 = _agreement(exact, num2, cap)
            checks.append(Check(text, dict(pt), exact, num2, agreed2, agreed2 >= digits))
    return Verification(entry, digits, checks)
