"""A safe parser for formulas given as text (``"-1.3*x"``, ``"sqrt(1 + x^2) * exp(-t)"``):
:func:`parse_expression` returns a SymPy expression without ever calling ``eval``, ``sympify`` or
``parse_expr`` — the text is tokenised by a regular grammar, parsed by :func:`ast.parse`, checked
node by node against an allow-list (numbers, the caller's variables, ``pi``, ``E``, the
one-argument functions of :data:`FUNCTIONS`, ``+ - * / ** ^``, implicit multiplication such as
``2x``) and built here, in bounded time: at most :data:`MAX_LENGTH` characters,
:data:`MAX_NODES` tree nodes, nesting :data:`MAX_DEPTH`, :data:`MAX_DIGITS`-digit integers,
exponents up to :data:`MAX_EXPONENT` in magnitude, constants up to :data:`MAX_MAGNITUDE`, exact
rationals of at most :data:`MAX_BITS` bits.

Every place of kexue that accepts a formula as a string uses it (``kexue sde --drift``, string
integrands of :class:`kexue.integrals.ParametricIntegral`, string drifts of
:func:`kexue.stochastic.schrodinger_potential`). Needs the ``symbolic`` extra (SymPy), imported
with this module.

Example::

    import sympy
    from kexue.expr import parse_expression

    x = sympy.Symbol("x")
    f = parse_expression("2x + sin(x)^2", name="--drift", variables={"x": x})
"""

from __future__ import annotations

from ._expr import (
    FUNCTIONS,
    MAX_BITS,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_MAGNITUDE,
    MAX_NODES,
    parse_expression,
)

__all__ = ["parse_expression", "FUNCTIONS", "MAX_LENGTH", "MAX_NODES", "MAX_DEPTH", "MAX_DIGITS",
           "MAX_EXPONENT", "MAX_BITS", "MAX_MAGNITUDE"]

parse_expression.__module__ = __name__  # its public home (the implementation: kexue._expr)
