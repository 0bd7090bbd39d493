"""The optional extras of kexue: which ``pip install 'kexue[<extra>]'`` a feature needs, and an
import that says so when it is missing.

The core install (``pip install kexue``) holds what the numerical library needs (torch, numpy,
scipy, torchdiffeq, safetensors, ninja); the extras of :data:`EXTRAS` are imported only where
they are used: ``cli`` (typer, rich, jinja2, matplotlib), ``symbolic`` (sympy, mpmath) and
``data`` (scikit-learn, mlxtend, scikit-image, treebank, Pillow). :func:`require` imports a
module of an extra or raises :class:`kexue.data.MissingExtraError` (an ``ImportError``; also
importable from here) whose one line names the extra and the command that
installs it (:func:`hint`); :func:`extra_of` tells which extra a module belongs to.

Example::

    from kexue.extras import MissingExtraError, require

    try:
        sympy = require("sympy", "my symbolic feature")
    except MissingExtraError as err:
        print(err)  # ... needs the optional extra 'symbolic': pip install 'kexue[symbolic]' ...
"""

from __future__ import annotations

from ._extras import EXTRAS, extra_of, hint, missing, require, symbolic
from ._extras import MissingExtraError as MissingExtraError  # documented in kexue.data

__all__ = ["EXTRAS", "require", "extra_of", "hint", "missing", "symbolic"]

# The implementation lives in kexue._extras (imported by the library's subpackages since
# before this module); this is its public home.
for _name in ("require", "extra_of", "hint", "missing"):
    globals()[_name].__module__ = __name__
del _name

