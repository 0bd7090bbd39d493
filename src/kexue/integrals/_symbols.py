"""The symbols of the catalogue's entries, shared by the entry modules and their parameter
domains.

Source: Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive 1619): the
parameters of F1–F24 and their assumptions (positive, real, integer), which fix the branch SymPy
takes in each derivation.
"""

from __future__ import annotations

import sympy

__all__: list[str] = []

x, t, u, v, y, r, w = sympy.symbols("x t u v y r w", positive=True)
a, b, p, q, s = sympy.symbols("a b p q s", positive=True)
n = sympy.Symbol("n", integer=True, nonnegative=True)
m = sympy.Symbol("m", integer=True, positive=True)
br = sympy.Symbol("b", real=True)  # F5, F7: any real b
ar = sympy.Symbol("a", real=True)  # F12: any real a
