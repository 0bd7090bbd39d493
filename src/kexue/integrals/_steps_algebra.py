"""Derivation steps of plain algebra on earlier results: a stated identity, a limit, solving an
equation, assembling named results, induction, and bringing in an earlier catalogue entry.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619):
the trick's derivations end in such steps (partial fractions, a known integral, a limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy

from ._derivation import Step, _expr_names, _fmt, _get
from ._same import same

__all__ = ["UseEntry", "Identity", "Limit", "Solve", "Compute", "Induction"]


@dataclass
class UseEntry(Step):
    """Bring in an earlier catalogue entry's closed form (its own derivation is replayed with
    that entry).

    The entry is looked up by id in ``catalogue``: the :class:`~kexue.integrals.Catalogue` that
    collects the entry whose derivation holds this step sets it (the first catalogue to collect
    it), so a step needs no import of the catalogue and the catalogue's data can use the step.
    """

    entry: str
    subs: dict = field(default_factory=dict)
    name: str | None = None
    text: str = ""
    catalogue: Mapping | None = field(default=None, repr=False, compare=False)
    kind = "use"

    def claim(self, ctx: dict | None = None) -> str:
        where = ", ".join(f"{k} = {v}" for k, v in self.subs.items())
        return f"{self.entry}" + (f" at {where}" if where else "")

    def _closed_form(self) -> tuple[str, sympy.Expr]:
        if self.catalogue is None:
            raise ValueError(f"UseEntry({self.entry!r}): the step belongs to no catalogue, so "
                             f"the entry cannot be looked up; collect the entry whose "
                             f"derivation holds it in a Catalogue([...]) first.")
        e = self.catalogue[self.entry]
        return e.id, e.closed_form.subs(self.subs, simultaneous=True)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        id_, value = self._closed_form()
        return True, f"from {id_}", value

    def preview(self, ctx: dict) -> Any:
        return self._closed_form()[1] if self.catalogue is not None else None


@dataclass
class Identity(Step):
    """A stated identity ``lhs = rhs`` (partial fractions, a series, a known integral)."""

    lhs: Any
    rhs: Any
    name: str | None = None
    text: str = ""
    ranges: dict = field(default_factory=dict)
    instances: dict = field(default_factory=dict)
    kind = "identity"

    def claim(self, ctx: dict | None = None) -> str:
        return f"{_fmt(self.lhs)} = {_fmt(self.rhs)}"

    def preview(self, ctx: dict) -> Any:
        return sympy.sympify(self.rhs)

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        lhs = _expr_names(sympy.sympify(self.lhs), ctx)
        rhs = _expr_names(sympy.sympify(self.rhs), ctx)
        if lhs.has(sympy.Integral, sympy.Sum):
            done = lhs.doit()
            if not done.has(sympy.Integral, sympy.Sum):
                lhs = done
        ok, how = same(lhs, rhs, ranges=self.ranges, instances=self.instances or None)
        return ok, how, rhs


@dataclass
class Limit(Step):
    """``lim_{a → at} expr = value``, computed by SymPy."""

    expr: Any
    param: sympy.Symbol
    at: Any
    value: Any
    direction: str = "+"
    name: str | None = None
    text: str = ""
    kind = "limit"

    def claim(self, ctx: dict | None = None) -> str:
        return f"lim {self.param}→{self.at}{self.direction if self.at != sympy.oo else ''} " \
               f"{_fmt(self.expr)} = {_fmt(self.value)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        expr = _expr_names(sympy.sympify(_get(ctx, self.expr)), ctx)
        at = sympy.sympify(self.at)
        got = sympy.limit(expr, self.param, at, self.direction if not at.is_infinite else "+")
        ok, how = same(got, self.value)
        return ok, how, sympy.sympify(self.value)


@dataclass
class Solve(Step):
    """Solve ``lhs = rhs`` for ``unknown`` (keeping the solution that satisfies ``positive``)."""

    lhs: Any
    rhs: Any
    unknown: sympy.Symbol
    value: Any
    positive: bool = False
    name: str | None = None
    text: str = ""
    kind = "solve"

    def claim(self, ctx: dict | None = None) -> str:
        return f"{_fmt(self.lhs)} = {_fmt(self.rhs)} ⇒ {self.unknown} = {_fmt(self.value)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        lhs = _expr_names(sympy.sympify(self.lhs), ctx)
        rhs = _expr_names(sympy.sympify(self.rhs), ctx)
        sols = sympy.solve(sympy.Eq(lhs, rhs), self.unknown)
        if self.positive:
            sols = [s for s in sols if s.is_positive]
        if len(sols) != 1:
            return False, f"solutions {sols}", None
        ok, how = same(sols[0], self.value)
        return ok, how, sols[0]


@dataclass
class Compute(Step):
    """Assemble a result from earlier named results (symbols named like them)."""

    expr: Any
    value: Any
    name: str | None = None
    text: str = ""
    ranges: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    kind = "compute"

    def claim(self, ctx: dict | None = None) -> str:
        return f"{_fmt(self.expr)} = {_fmt(self.value)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        got = _expr_names(sympy.sympify(self.expr), ctx)
        if self.after:
            got = got.subs(self.after)
        ok, how = same(got, self.value, ranges=self.ranges)
        return ok, how, sympy.sympify(self.value)


@dataclass
class Induction(Step):
    """``result(n)`` by induction on ``n``: base value at ``n = 0`` and the one-step recursion
    (the recursion is stated by the preceding identity steps)."""

    base: Any
    n: sympy.Symbol
    result: Any
    name: str | None = None
    text: str = "induction on n"
    kind = "induction"

    def claim(self, ctx: dict | None = None) -> str:
        return f"for all n ≥ 0: {_fmt(self.result)}"

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        base = _expr_names(sympy.sympify(_get(ctx, self.base)), ctx)
        ok, how = same(sympy.sympify(self.result).subs(self.n, 0), base)
        return ok, how, sympy.sympify(self.result)
