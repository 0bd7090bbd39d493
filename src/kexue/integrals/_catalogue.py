"""The catalogue's types: :class:`CatalogueEntry` (one classical integral, its closed form and
recorded derivation) and :class:`Catalogue` (the entries in order, by position, id or slug).

Source: Su Jianlin, Feynman's integration trick series (费曼积分法, 2012–2013): part 2 (kexue.fm
archive 1619) for the rule. The entries themselves (F1–F24) are in ``_entries_elementary`` and
``_entries_special``, assembled into :data:`~kexue.integrals.CATALOGUE` by ``_entries``; the
checks against quadrature are in ``_verify``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy

from ._derivation import Derivation, Replay
from ._parametric import ParametricIntegral
from ._same import same
from ._steps_algebra import UseEntry

__all__ = ["CatalogueEntry", "Catalogue", "UNKNOWN_PART"]

UNKNOWN_PART = "series (2012–2013); part not confirmed"
"""``CatalogueEntry.part`` where the article that treats the integral is not known."""

_REPLAYS: dict[str, Replay] = {}


@dataclass(frozen=True)
class CatalogueEntry:
    """One classical integral: the parametric family, its closed form, and how it is derived.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Attributes:
        id: ``"F1"`` … ``"F22"``.
        slug: a short name (``"dirichlet"``).
        title: the integral in words.
        integral: the :class:`ParametricIntegral` family; the named integral is the family at
            ``at``.
        closed_form: the value, a SymPy expression in the remaining symbols.
        at: parameter values that turn the family into the named integral (``{a: 0}``).
        conditions: where the closed form holds, in words.
        check_points: assignments at which :func:`verify` compares closed form and numerics.
        derivation: the recorded :class:`Derivation`.
        numeric: an equivalent integral (related by a recorded substitution) used for the
            numerics when the family itself is awkward for quadrature.
        also: other integrals with the same value, ``(text, integral, values)``; checked at the
            check points compatible with ``values``.
        notes: remarks (hypotheses, interchanges of limits).
        part: which article of the series treats it, where known (else :data:`UNKNOWN_PART`).
        domain: where :func:`random_points` draws the free parameters: ``{symbol: (lo, hi)}``,
            or a tuple of such intervals (one chosen at random); integer symbols draw an int in
            ``[lo, hi]``. Empty for an entry without free parameters.
    """

    id: str
    slug: str
    title: str
    integral: ParametricIntegral
    closed_form: sympy.Expr
    conditions: str
    check_points: tuple[dict, ...]
    derivation: Derivation
    at: dict = field(default_factory=dict)
    numeric: ParametricIntegral | None = None
    also: tuple = ()
    notes: str = ""
    part: str = UNKNOWN_PART
    domain: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.id

    def named_integral(self) -> sympy.Expr:
        """The integral as the catalogue names it (the family at ``at``), unevaluated."""
        return self.integral.subs(self.at).to_sympy() if self.at else self.integral.to_sympy()

    def replay(self) -> Replay:
        """Replay the derivation (see :meth:`Derivation.replay`); cached per entry, since the
        entries are immutable and SymPy's limits and simplifications cost seconds."""
        if self.id not in _REPLAYS:
            _REPLAYS[self.id] = self.derivation.replay()
        return _REPLAYS[self.id]

    def rederived(self) -> tuple[bool, str]:
        """Whether the replayed derivation ends in this entry's closed form (at ``derivation.at``).

        Returns:
            ``(ok, how)``; ``ok`` needs every step to replay and the final value to match.
        """
        rep = self.replay()
        if not rep.ok:
            bad = rep.failures()[0]
            return False, f"step {bad.index} ({bad.kind}) fails: {bad.how}"
        target = self.closed_form.subs(self.derivation.at) if self.derivation.at else \
            self.closed_form
        return same(rep.result, target)


class Catalogue(Sequence):
    """The entries in order; index by position, by id (``"F3"``) or by slug (``"dirichlet"``),
    case-insensitive.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Collecting an entry binds its derivation's :class:`UseEntry` steps (those not yet bound) to
    this catalogue, where they look up the entries they use.

    Raises:
        ValueError: an entry's derivation uses an entry that is not in the catalogue.
    """

    def __init__(self, entries: Sequence[CatalogueEntry]):
        self._entries = tuple(entries)
        self._by_name: dict[str, CatalogueEntry] = {}
        for e in self._entries:
            self._by_name[e.id.lower()] = e
            self._by_name[e.slug.lower()] = e
        # the entries' UseEntry steps look the entries they use up here (checked, then bound)
        unbound = [(e, step) for e in self._entries for step in e.derivation.steps
                   if isinstance(step, UseEntry) and step.catalogue is None]
        for e, step in unbound:
            if step.entry.strip().lower() not in self._by_name:
                raise ValueError(f"Catalogue: {e.id} uses the entry {step.entry!r}, which is "
                                 f"not in the catalogue; valid names: "
                                 f"{', '.join(self.names())}.")
        for _, step in unbound:
            step.catalogue = self

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CatalogueEntry]:
        return iter(self._entries)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, slice)):
            return self._entries[key]
        if isinstance(key, str):
            e = self._by_name.get(key.strip().lower())
            if e is None:
                raise KeyError(f"unknown catalogue entry {key!r}; valid names: "
                               f"{', '.join(self.names())}")
            return e
        raise TypeError(f"catalogue keys are ints, ids like 'F3' or slugs; got "
                        f"{type(key).__name__}")

    def __contains__(self, key: object) -> bool:
        if isinstance(key, CatalogueEntry):
            return key in self._entries
        return isinstance(key, str) and key.strip().lower() in self._by_name

    def names(self) -> list[str]:
        """``"F1 (log-ratio)"``, … for messages."""
        return [f"{e.id} ({e.slug})" for e in self._entries]
