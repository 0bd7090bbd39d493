"""SymPy and mpmath, the optional extra ``symbolic``: imported here or a one-line error.

:mod:`kexue.forms`, :mod:`kexue.integrals`, the formula parser :mod:`kexue._expr` and the
symbolic paths of :mod:`kexue.stochastic` import them from this module, so that a missing
package raises :class:`kexue.data.MissingExtraError` naming ``pip install 'kexue[symbolic]'``
instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from ._extras import symbolic

__all__ = ["mpmath", "sympy"]

sympy, mpmath = symbolic()
