"""A safe parser for formulas given as text: an allow-list over Python's ``ast``, bounded work.
The implementation; the public home of these names is :mod:`kexue.expr`.

Every place of kexue that accepts a formula as a string (``kexue sde --drift/--diffusion``,
string integrands of :class:`~kexue.integrals.ParametricIntegral`, string drifts of
:func:`~kexue.stochastic.schrodinger_potential` and
:func:`~kexue.stochastic.lamperti_transform`) goes through :func:`parse_expression`. The text is
never given to ``eval``, ``sympify`` or ``parse_expr``: it is split into tokens by a regular
grammar, parsed by :func:`ast.parse` (``mode="eval"``), checked node by node against an
allow-list, and the SymPy expression is built from the checked tree here.

Allowed: numbers (``2``, ``0.84``, ``1e-3``), the caller's variable names (``x``, ``t`` by
default), the constants ``pi`` and ``E``, the one-argument functions of :data:`FUNCTIONS`,
``+ - * / ** ^`` (``^`` is a power), unary minus, parentheses, and implicit multiplication of a
number or a closing parenthesis with what follows (``2x``, ``(x+1)(x-1)``). No attribute access,
no subscripts, no keywords, no strings.

Bounded work (each limit is a module constant): at most :data:`MAX_LENGTH` characters,
:data:`MAX_NODES` tree nodes, nesting depth :data:`MAX_DEPTH`, integer literals of at most
:data:`MAX_DIGITS` digits; every numeric exponent (after SymPy's own simplification, so
``x - x + 1000`` counts as 1000) of magnitude at most :data:`MAX_EXPONENT`; every constant
sub-expression a finite real number of magnitude at most :data:`MAX_MAGNITUDE`; and an upper
bound, computed from the tree before each node is built, on the size in bits of any exact
rational SymPy may form (``((9^64)^64)^64`` or ``((1 + 9^-64)^64)^64``) of at most
:data:`MAX_BITS`. Together these bound the time of a parse (milliseconds) whatever the text.
Bad text raises ``ValueError`` naming the problem and what is allowed.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping

from ._symbolic import sympy

__all__ = ["parse_expression", "FUNCTIONS", "MAX_LENGTH", "MAX_NODES", "MAX_DEPTH", "MAX_DIGITS",
           "MAX_EXPONENT", "MAX_BITS", "MAX_MAGNITUDE"]

FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan", "Abs",
             "erf", "sign")
"""One-argument functions allowed in an expression (their SymPy namesakes)."""

CONSTANTS = {"pi": sympy.pi, "E": sympy.E}

MAX_LENGTH = 300
MAX_NODES = 200
MAX_DEPTH = 100
MAX_DIGITS = 30
MAX_EXPONENT = 64
MAX_BITS = 4096
MAX_MAGNITUDE = 1e300

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(rf"\s*(?:(?P<num>{_NUMBER})|(?P<name>[A-Za-z][A-Za-z0-9]*)|"
                    r"(?P<op>\*\*|[-+*/^(),])|(?P<dot>\.)|(?P<bad>\S))")
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def _allowed(variables: Mapping[str, sympy.Symbol], functions: tuple[str, ...]) -> str:
    names = ", ".join([*variables, *CONSTANTS])
    return (f"numbers, the names {names}, the functions {', '.join(functions)}, "
            "+ - * / ** ^, unary minus and parentheses")


def _tokens(text: str, name: str, allowed: str) -> str:
    """Python source for ``text``: ``^`` → ``**`` and implicit products made explicit."""
    out: list[tuple[str, str]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None:  # only trailing whitespace is left
            break
        pos = m.end()
        kind = m.lastgroup
        tok = m.group(kind)
        if kind == "bad":
            raise ValueError(f"{name} {text!r}: characters other than digits, letters, "
                             f"+ - * / ^ ( ) , spaces and decimal points are not allowed; got "
                             f"{tok!r}; allowed: {allowed}")
        if kind == "dot":
            raise ValueError(f"{name} {text!r}: no attribute access ('.' outside a number); "
                             f"allowed: {allowed}")
        if kind == "op" and tok == "^":
            tok = "**"
        if out:
            prev_kind, prev = out[-1]
            # implicit multiplication: 2x, 2(x), (x)(y), (x)2; name( is a call
            if (prev_kind == "num" or prev == ")") and (kind == "name" or tok == "(") or (
                    prev == ")" and kind == "num"):
                out.append(("op", "*"))
        out.append((kind, tok))
    return " ".join(tok for _, tok in out)


class _Builder:
    """Walks the checked tree and builds the SymPy expression node by node."""

    def __init__(self, text: str, src: str, name: str, variables: Mapping[str, sympy.Symbol],
                 functions: tuple[str, ...]):
        self.text, self.src, self.name = text, src, name
        self.variables, self.functions = dict(variables), functions
        self.allowed = _allowed(variables, functions)
        self.nodes = 0

    def fail(self, what: str) -> ValueError:
        return ValueError(f"{self.name} {self.text!r}: {what}; allowed: {self.allowed}")

    def build(self, node: ast.AST, depth: int = 0) -> tuple[sympy.Expr, int]:
        """``(expr, bits)``: the expression and an upper bound on the bits of its exact
        rationals (numerator plus denominator)."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(f"more than {MAX_NODES} operations and operands")
        if depth > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels")
        expr, bits = self._build(node, depth + 1)
        if bits > MAX_BITS:
            raise self.fail(f"a constant of about {bits} bits would be formed (at most "
                            f"{MAX_BITS}); use smaller numbers or exponents")
        self._check_value(expr)
        return expr, bits

    def _check_value(self, expr: sympy.Expr) -> None:
        if not isinstance(expr, sympy.Expr):
            raise self.fail(f"{expr} is not a scalar expression")
        if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise self.fail(f"the sub-expression {expr} is undefined or infinite")
        # SymPy merges powers as it builds: (pi*pi)**(pi**3.25) is pi**(2*pi**3.25) and
        # x**40*x**40 is x**80, past the bound although every written exponent is within it
        for power in expr.atoms(sympy.Pow):
            if power.exp.is_number and abs(float(power.exp.evalf(15))) > MAX_EXPONENT:
                raise self.fail(f"numeric exponents must have magnitude <= {MAX_EXPONENT}; "
                                f"got {power.exp} once SymPy combines the powers into {power}")
        if expr.free_symbols:
            return
        value = complex(expr.evalf(15))
        if (value.imag != 0 or not math.isfinite(value.real)
                or abs(value.real) > MAX_MAGNITUDE):
            raise self.fail(f"the constant {expr} is not a finite real number of magnitude at "
                            f"most {MAX_MAGNITUDE:g}")

    def _build(self, node: ast.AST, depth: int) -> tuple[sympy.Expr, int]:
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            if node.id in self.variables:
                return self.variables[node.id], 1
            if node.id in CONSTANTS:
                return CONSTANTS[node.id], 2
            if node.id in self.functions:
                raise self.fail(f"the function {node.id} must be called, e.g. {node.id}(x)")
            raise self.fail(f"unknown names [{node.id!r}]")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            arg, bits = self.build(node.operand, depth)
            return (-arg if isinstance(node.op, ast.USub) else arg), bits
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, lbits = self.build(node.left, depth)
            right, rbits = self.build(node.right, depth)
            if isinstance(node.op, ast.Pow):
                return self._power(left, lbits, right, rbits)
            bits = lbits + rbits + 1
            if bits > MAX_BITS:  # refuse before SymPy forms the number
                return sympy.Integer(0), bits
            if isinstance(node.op, ast.Add):
                return left + right, bits
            if isinstance(node.op, ast.Sub):
                return left - right, bits
            if isinstance(node.op, ast.Mult):
                return left * right, bits
            if right == 0:
                raise self.fail("division by zero")
            return left / right, bits
        if isinstance(node, ast.Call):
            func = node.func
            fname = func.id if isinstance(func, ast.Name) else None
            if fname not in self.functions:
                shown = fname if fname is not None else type(func).__name__
                raise self.fail(f"calls unknown functions [{shown!r}]")
            if node.keywords or len(node.args) != 1:
                raise self.fail(f"{fname} takes exactly one argument")
            arg, bits = self.build(node.args[0], depth)
            return getattr(sympy, fname)(arg), bits
        raise self.fail(f"{type(node).__name__} syntax is not allowed")

    def _number(self, node: ast.Constant) -> tuple[sympy.Expr, int]:
        value = node.value
        text = ast.get_source_segment(self.src, node) or repr(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{text} is not a real number literal")
        if isinstance(value, int):
            if len(text) > MAX_DIGITS:
                raise self.fail(f"integer literals have at most {MAX_DIGITS} digits; got "
                                f"{len(text)}")
            return sympy.Integer(value), value.bit_length() + 1
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise self.fail(f"the number {text} is not finite or exceeds {MAX_MAGNITUDE:g}")
        digits = sum(c.isdigit() for c in text.split("e")[0].split("E")[0])
        return sympy.Float(text, max(15, digits)), 64

    def _power(self, base: sympy.Expr, bbits: int, exp: sympy.Expr,
               ebits: int) -> tuple[sympy.Expr, int]:
        if exp.free_symbols:  # a symbolic exponent: SymPy keeps the power unevaluated
            return base**exp, bbits + ebits
        e = float(exp.evalf(15))
        if abs(e) > MAX_EXPONENT:
            raise self.fail(f"numeric exponents must have magnitude <= {MAX_EXPONENT}; got "
                            f"{exp}")
        bits = max(bbits, 1) * max(1, math.ceil(abs(e))) + ebits
        if bits > MAX_BITS:
            return sympy.Integer(0), bits  # refused by build() before SymPy forms it
        if base == 0 and e < 0:
            raise self.fail("division by zero (0 to a negative power)")
        return base**exp, bits


def parse_expression(text: str, *, name: str = "expression",
                     variables: Mapping[str, sympy.Symbol] | None = None,
                     functions: tuple[str, ...] = FUNCTIONS,
                     max_length: int = MAX_LENGTH) -> sympy.Expr:
    """Parse a formula given as text into a SymPy expression, safely and in bounded time.

    Args:
        text: e.g. ``"-1.3*x"``, ``"sqrt(1 + x^2) * exp(-t)"``, ``"2x + sin(t)"``.
        name: what the text is (an option or argument name), for error messages.
        variables: name → SymPy Symbol allowed in the text (default ``x`` and ``t``, plain
            Symbols).
        functions: allowed one-argument functions (default :data:`FUNCTIONS`).
        max_length: most characters accepted.

    Returns:
        the expression, built from the checked tree (no ``zoo``/``nan``/``oo`` anywhere).

    Raises:
        TypeError: ``text`` is not a str.
        ValueError: empty or over-long text, a character, name, function or syntax outside the
            allow-list, a limit of the module docstring exceeded, or a constant that is
            undefined, infinite or not real; the message names what is allowed.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str; got {type(text).__name__}")
    if variables is None:
        variables = {"x": sympy.Symbol("x"), "t": sympy.Symbol("t")}
    allowed = _allowed(variables, functions)
    if not text.strip():
        raise ValueError(f"{name} must be a non-empty expression, e.g. '-1.3*x'; allowed: "
                         f"{allowed}")
    if len(text) > max_length:
        raise ValueError(f"{name}: use at most {max_length} characters; got {len(text)} "
                         f"characters")
    src = _tokens(text, name, allowed)
    try:
        tree = ast.parse(src, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        msg = getattr(exc, "msg", None) or str(exc)
        raise ValueError(f"{name} {text!r} is not a valid expression ({msg}); allowed: "
                         f"{allowed}") from None
    try:
        expr, _ = _Builder(text, src, name, variables, functions).build(tree.body)
    except RecursionError:
        raise ValueError(f"{name} {text!r}: nesting too deep; allowed: {allowed}") from None
    except (TypeError, ArithmeticError) as exc:  # SymPy refusing an operation on valid input
        raise ValueError(f"{name} {text!r} is not a valid expression ({exc}); allowed: "
                         f"{allowed}") from None
    return expr
