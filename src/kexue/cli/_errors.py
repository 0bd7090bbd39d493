"""The CLI's error convention, shared by every command group: one ``error: ...`` line on stderr
and an exit status (2 for bad input); and the choice options (``--method``, ``--data``,
``--sde``), whose typos get a "did you mean" on that one line."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import typer
from rich.console import Console

__all__ = ["err_console", "fail", "did_you_mean", "check_choice", "choice_option"]

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on one line to stderr and return a ``typer.Exit(code)`` to raise."""
    err_console.print(f"error: {message}", markup=False)
    return typer.Exit(code)


def did_you_mean(value: str, choices: Sequence[str]) -> str:
    """``" (did you mean 'x'?)"`` for the choices close to ``value`` (:func:`difflib.
    get_close_matches`, case-insensitive), or ``""`` when none is close."""
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(value.lower(), list(lower), n=3, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(lower[c]) for c in close)}?)"


def check_choice(option: str, value: str, choices: Sequence[str], *,
                 noun: str | None = None, aliases: Mapping[str, str] | None = None) -> str:
    """``value`` when it is one of ``choices``; for a deprecated spelling in ``aliases`` its new
    name, after a one-line ``note:`` on stderr; otherwise one ``error:`` line naming ``option``
    (``--sde must be one of vp, subvp, ve; got 'vpp' (did you mean 'vp'?)``; with ``noun``:
    ``unknown data 'rng'; accepted: ring, grid, digits (did you mean 'ring'?)``, the
    library's wording), and status 2
    (``typer.Exit``)."""
    if value in choices:
        return value
    if aliases and value in aliases:
        err_console.print(f"note: {option} {value} is deprecated; use {aliases[value]} (the same "
                          "data)", markup=False)
        return aliases[value]
    hint = did_you_mean(value, choices)
    if noun is not None:
        raise fail(f"unknown {noun} {value!r}; accepted: {', '.join(choices)}{hint}")
    raise fail(f"{option} must be one of {', '.join(choices)}; got {value!r}{hint}")


def choice_option(option: str, choices: Sequence[str] | Callable[[], Sequence[str]], *,
                  noun: str | None = None,
                  aliases: Callable[[], Mapping[str, str]] | None = None) -> dict[str, Any]:
    """Keyword arguments of ``typer.Option`` for a choice: a ``callback`` that checks the value
    with :func:`check_choice` while the command line is parsed (before the command runs) and an
    ``autocompletion`` for the shell. ``choices`` may be a function, called only when a value is
    checked or completed (so a list that needs torch is not built for ``--help``); ``noun``
    as in :func:`check_choice`; ``aliases``: a function giving the deprecated spellings
    (``{old: new}``), accepted and replaced by their new names but neither listed nor
    completed."""

    def names() -> list[str]:
        return list(choices() if callable(choices) else choices)

    def callback(ctx: typer.Context, value: str | None) -> str | None:
        if value is None or ctx.resilient_parsing:
            return value
        return check_choice(option, value, names(), noun=noun,
                            aliases=aliases() if aliases is not None else None)

    def complete(incomplete: str) -> list[str]:
        return [c for c in names() if c.startswith(incomplete)]

    return {"callback": callback, "autocompletion": complete}
