"""The ``kexue`` command line (the application layer: it imports the library's public names,
the library never imports it).

``kexue = "kexue.cli:main"`` is the console script, and ``python -m kexue`` runs the same
:func:`main`. The root command and ``kexue list`` live in :mod:`kexue.cli._app`, ``kexue
reproduce`` in ``_reproduce``; each command group in its own module (``_sde``, ``_diffusion``,
``_gan``, ``_onlstm``, ``_integrals``; a large group split by concept, e.g. ``_sde_paths``,
``_diffusion_train``), imported only when a command line names it, so ``kexue --help`` loads neither
torch, sympy, scipy nor matplotlib. Shared helpers: ``_errors`` (the one-line ``error:``
convention, choice options with "did you mean"), ``_launch`` (``--device``, ``--nproc`` and
torchrun), ``_outputs`` (output paths checked before any work, ``--save`` files).

Importing this package needs nothing beyond the standard library: :func:`main` checks that the
``cli`` extra (typer, rich) is installed and otherwise prints one line and exits with status 2;
:data:`app` and :data:`GROUPS` are loaded on first access.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["main", "app", "GROUPS", "MISSING_EXTRA"]

MISSING_EXTRA = "error: the kexue command line needs its extra: pip install 'kexue[cli]'"
"""The one line :func:`main` prints (status 2) when typer or rich is not installed."""


def _extra_missing() -> bool:
    """Whether typer or rich cannot be imported (a lean install without ``kexue[cli]``)."""
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError:
        return True
    return False


def main() -> None:
    """Console-script entry point (also ``python -m kexue``, and what torchrun runs): the
    ``kexue`` command on ``sys.argv``; without the ``cli`` extra one ``error:`` line on stderr
    and exit status 2."""
    if _extra_missing():
        print(MISSING_EXTRA, file=sys.stderr)
        sys.exit(2)
    from ._app import main as run

    run()


def __getattr__(name: str) -> Any:
    if name in ("app", "GROUPS"):  # typer and rich load here, not on `import kexue.cli`
        from . import _app

        return getattr(_app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
