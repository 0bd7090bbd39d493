"""The CLI's error convention, shared by every command group: one ``error: ...`` line on stderr
and an exit status (2 for bad input)."""

from __future__ import annotations

import typer
from rich.console import Console

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on one line to stderr and return a ``typer.Exit(code)`` to raise."""
    err_console.print(f"error: {message}", markup=False)
    return typer.Exit(code)
