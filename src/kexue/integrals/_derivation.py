"""Derivations as recorded, replayable steps: differentiate under the integral sign (as often
as needed), integrate in x, regularise a divergent oscillating integral (Abel/Cesàro), solve the
linear ODE of any order in the parameter, fix its constants from initial or boundary conditions
(a value at a = 0, boundedness as a → ∞), and state where differentiation under the integral
sign fails (a jump of G').

Source: Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619) for the
rule, part 7 "a synthesis of Euler's mathematics" (2013-03-27) for the programme and for the
second-order example ``∫₀^∞ cos(ax)/(1+x²) dx`` with Euler's ``∫₀^∞ cos(ax) dx = 0`` (as stated in
issue 14; the article text itself was not available to check).

This module holds what every derivation shares: :class:`Step` (the interface of a step),
:class:`Derivation` (steps in order, rendered and replayed) and :class:`Replay` (the outcome).
The step types live by concept in ``_steps_calculus`` (differentiate, change variables,
integrate, check numerically), ``_steps_ode`` (the linear ODE in the parameter and its general
solution), ``_steps_constants`` (initial and boundary conditions), ``_steps_euler`` (part 7:
regularisation and the caveat) and ``_steps_algebra`` (identities, limits, solving, earlier
entries).

Every step both *records* a mathematical claim (for the report) and *replays* it: it recomputes
the claim from earlier results with SymPy (derivatives, limits, solving for constants) and checks
the recorded expression — exactly where SymPy can decide the identity, otherwise numerically to
30 significant digits at fixed pseudo-random points inside the stated ranges (and says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import mpmath
import sympy

__all__ = ["Step", "StepCheck", "Replay", "Derivation"]


def _fmt(e: Any) -> str:
    """``e`` as text for a claim (``sympy.sstr``; an integral family prints itself through its
    ``_sympystr``)."""
    return sympy.sstr(e)


class _Family(Protocol):
    """What the steps use of an integral family: :class:`~kexue.integrals.ParametricIntegral`
    satisfies it. The steps see families only through this interface (they build the integrals
    they record with ``_replace``), so they import no family class and
    :meth:`ParametricIntegral.derive` can build a :class:`Derivation` from them.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).
    """

    integrand: sympy.Expr
    x: sympy.Symbol
    param: sympy.Symbol
    lower: sympy.Expr
    upper: sympy.Expr
    offset: sympy.Expr
    omega: sympy.Expr | None

    def derivative(self) -> _Family: ...

    def substitute(self, x_of_t: Any, t: sympy.Symbol, t_lower: Any,
                   t_upper: Any) -> _Family: ...

    def evaluate(self, value: Any = None, *, digits: int = 30,
                 subs: Mapping | None = None) -> mpmath.mpf: ...

    def _replace(self, **changes: Any) -> _Family: ...


@dataclass
class StepCheck:
    """The outcome of replaying one step.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).
    """

    index: int
    kind: str
    ok: bool
    how: str
    produced: Any = None


class Step:
    """A recorded step: ``kind``, a one-line ``text`` (why), and ``replay(ctx)``.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    ``ctx`` maps names to earlier results (``ParametricIntegral`` s, expressions, ODEs).
    """

    kind = "step"
    name: str | None = None
    text: str = ""

    def claim(self, ctx: dict | None = None) -> str:
        """The recorded statement as text."""
        raise NotImplementedError

    def replay(self, ctx: dict) -> tuple[bool, str, Any]:
        """Recompute and check; return ``(ok, how, produced value)``."""
        raise NotImplementedError

    def render(self, ctx: dict | None = None) -> str:
        """``[kind] claim — why``; ``ctx`` (earlier results) makes the claim concrete."""
        why = f" — {self.text}" if self.text else ""
        return f"[{self.kind}] {self.claim(ctx or {})}{why}"

    def preview(self, ctx: dict) -> Any:
        """The recorded result, cheaply (no checks), for rendering later steps; or None."""
        return None


def _get(ctx: dict, ref: Any) -> Any:
    """``ref`` resolved in ``ctx`` (a name of an earlier result, or the object itself)."""
    if isinstance(ref, str):
        if ref not in ctx:
            raise KeyError(f"derivation refers to {ref!r} before it is produced; known: "
                           f"{', '.join(ctx)}")
        return ctx[ref]
    return ref


def _expr_names(expr: sympy.Expr, ctx: dict) -> sympy.Expr:
    """Replace symbols named like context entries by those entries' values."""
    sub = {s: ctx[s.name] for s in expr.free_symbols
           if s.name in ctx and isinstance(ctx[s.name], sympy.Basic)}
    return expr.subs(sub) if sub else expr


def _peek(ctx: dict | None, ref: Any) -> Any:
    """``ref`` resolved in ``ctx`` without raising (None when unknown)."""
    if isinstance(ref, str):
        return (ctx or {}).get(ref)
    return ref


def _join(*hows: str) -> str:
    """One "how" for several checks: "exact" when all were exact."""
    kinds = {h for h in hows}
    if kinds == {"exact"}:
        return "exact"
    return "; ".join(sorted(kinds))


@dataclass
class Replay:
    """The outcome of replaying a derivation.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).
    """

    checks: list[StepCheck]
    result: Any
    ok: bool

    def failures(self) -> list[StepCheck]:
        return [c for c in self.checks if not c.ok]


@dataclass
class Derivation:
    """A Feynman-trick derivation: steps, the name of the final result, and where it applies.

    Source: Feynman's integration trick series, part 2 (kexue.fm archive 1619).

    Attributes:
        steps: the recorded steps, in order.
        result: the context name of the final closed form (default: the last produced value).
        at: the parameter values where the final expression equals the entry's closed form
            (``{s: 1/2}`` for ``Γ(1/2) = √π``); empty when it is the general closed form.
        initial: named starting objects (the integral ``"G"``, helpers).
    """

    steps: Sequence[Step]
    initial: dict = field(default_factory=dict)
    result: str | None = None
    at: dict = field(default_factory=dict)

    def render(self) -> list[str]:
        """The steps as numbered lines of text."""
        lines = [f"{k} = {_fmt(v)}" for k, v in self.initial.items()]
        ctx: dict[str, Any] = dict(self.initial)
        for i, step in enumerate(self.steps, start=1):
            lines.append(f"{i}. {step.render(ctx)}")
            value = step.preview(ctx)
            if step.name and value is not None:
                ctx[step.name] = value
        return lines

    def render_steps(self) -> list[str]:
        """Only the numbered step lines of :meth:`render`."""
        return self.render()[len(self.initial):]

    def replay(self) -> Replay:
        """Replay every step in order; the final value is the re-derived closed form."""
        ctx: dict[str, Any] = dict(self.initial)
        checks: list[StepCheck] = []
        last = None
        for i, step in enumerate(self.steps, start=1):
            try:
                ok, how, produced = step.replay(ctx)
            except Exception as exc:  # noqa: BLE001 - a failing step is reported, not raised
                ok, how, produced = False, f"{type(exc).__name__}: {exc}", None
            checks.append(StepCheck(i, step.kind, ok, how, produced))
            if step.name and produced is not None:
                ctx[step.name] = produced
            if produced is not None:
                last = produced
        result = ctx.get(self.result, last) if self.result else last
        return Replay(checks, result, all(c.ok for c in checks))
