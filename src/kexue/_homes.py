"""One line for a public module that re-exports names implemented in private modules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["claim_home"]


def claim_home(namespace: Mapping[str, object], names: Iterable[str], module: str) -> None:
    """Make ``module`` the ``__module__`` of the callables ``namespace[name]`` (functions and
    classes), so tracebacks, ``repr`` and the docs name their public home."""
    for name in names:
        obj = namespace[name]
        if callable(obj):
            obj.__module__ = module
