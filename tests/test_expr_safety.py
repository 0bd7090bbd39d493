"""The safe expression parser (``kexue._expr``) and every place that accepts a formula as text:
issue 16's hostile examples, hypothesis-generated text (parsed to the reference value, or refused
with ``ValueError`` within a time bound), and the CLI's one-line exit 2."""

from __future__ import annotations

import math
import time

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kexue._expr import FUNCTIONS, MAX_EXPONENT, parse_expression

X, T = sympy.symbols("x t")
TIME_BOUND = 2.0  # seconds; a parse takes milliseconds


def parse(text: str) -> sympy.Expr:
    return parse_expression(text, name="--drift", variables={"x": X, "t": T})


def refused_quickly(text: str, pattern: str = "") -> ValueError:
    start = time.perf_counter()
    with pytest.raises(ValueError, match=pattern) as info:
        parse(text)
    assert time.perf_counter() - start < TIME_BOUND, text
    return info.value


# ------------------------------------------------------------------ the examples
@pytest.mark.parametrize("text, pattern", [
    ("-x + 0*(((((9^64)^64)^64)^64)^64)", r"constant of about \d+ bits"),
    ("((9^64)^64)^64", r"constant of about \d+ bits"),
    ("((1 + 9^-64)^64)^64", r"constant of about \d+ bits"),  # value near 1, huge rationals
    ("2 .evalf(50)", r"no attribute access"),
    ("1 .evalf(100000000)", r"no attribute access"),
    ("2.evalf(50)", r"unknown functions \['evalf'\]"),
    ("x.func", r"no attribute access"),
    ("(x).conjugate()", r"no attribute access"),
    ("__import__('os').system('true')", r"characters other than"),
    ("9**9**9**9", r"numeric exponents must have magnitude <= 64"),
    ("x^(x - x + 1000)", r"numeric exponents.*got 1000"),  # exponent after simplification
    ("x**100", r"numeric exponents"),
    ("exp(exp(exp(exp(10))))", r"not a finite real number"),
    ("sqrt(-1)", r"not a finite real number"),
    ("log(0)", r"undefined or infinite"),
    ("tan(pi/2)", r"undefined or infinite"),
    ("1/0", r"division by zero"),
    ("x/(x - x)", r"division by zero"),
    ("1e400", r"not finite"),
    ("1" * 40, r"at most 30 digits"),
    ("x if t else x", r"IfExp syntax is not allowed"),
    ("sin(x, t)", r"exactly one argument"),
    ("y * x", r"unknown names \['y'\]"),
    ("sin", r"must be called"),
    ("x" * 400, r"at most 300 characters"),
    ("", r"non-empty"),
    ("x +* ", r"not a valid expression"),
    ("-" * 110 + "x", r"nesting deeper than 100"),
    ("*".join(["(x+x+x)"] * 37), r"more than 200"),
])
def test_hostile_examples_are_refused_in_one_line_naming_what_is_allowed(text, pattern):
    err = refused_quickly(text, pattern)
    msg = str(err)
    assert "\n" not in msg
    if "characters" not in msg and "non-empty" not in pattern:
        assert "allowed:" in msg and "exp, log" in msg


@pytest.mark.parametrize("text, reference", [
    ("-1.3*x", -1.3 * X),
    ("sin(t) * x^2 + exp(-t) + 2x", sympy.sin(T) * X**2 + sympy.exp(-T) + 2 * X),
    ("x^2+1", X**2 + 1),  # ^ is a power with the power's precedence
    ("(x+1)(x-1)", (X + 1) * (X - 1)),
    ("2(x + 1)", 2 * X + 2),
    ("x^-2", X**-2),
    ("-x^2", -X**2),
    ("+".join(["x"] * 99), 99 * X),  # a long flat sum is within the bounds
    ("2^3^2", sympy.Integer(512)),  # right-associative like **
    ("9^64", sympy.Integer(9)**64),
    ("sqrt(1 + x^2) * exp(-t)", sympy.sqrt(1 + X**2) * sympy.exp(-T)),
    ("pi*E*x", sympy.pi * sympy.E * X),
    ("1e-3 * Abs(x)", sympy.Float("1e-3") * sympy.Abs(X)),
])
def test_allowed_text_gives_the_reference_expression(text, reference):
    assert sympy.simplify(parse(text) - reference) == 0


def test_float_literals_keep_their_decimal_digits():
    value = parse("0.1234567890123456789012345")
    assert isinstance(value, sympy.Float)
    assert sympy.Abs(value - sympy.Rational("0.1234567890123456789012345")) < sympy.Float("1e-24")


# ------------------------------------------------------------------ hypothesis
_ATOMS = st.sampled_from(["x", "t", "pi", "E", "0", "1", "2", "0.5", "3.25", "9", "64", "1e3"])


def _expressions(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**", "^"]), children).map(
            lambda p: f"({p[0]}){p[1]}({p[2]})"),
        st.tuples(st.sampled_from(FUNCTIONS), children).map(lambda p: f"{p[0]}({p[1]})"),
        children.map(lambda c: f"-({c})"),
    )


VALID_SHAPED = st.recursive(_ATOMS, _expressions, max_leaves=12)


def _reference(text: str) -> sympy.Expr:
    """The same text through SymPy's own parser (test input only, generated here)."""
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    local = {"x": X, "t": T, "pi": sympy.pi, "E": sympy.E,
             **{f: getattr(sympy, f) for f in FUNCTIONS}}
    return parse_expr(text, local_dict=local,
                      transformations=standard_transformations + (convert_xor,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALID_SHAPED)
def test_generated_formulas_parse_to_the_reference_or_are_refused_quickly(text):
    start = time.perf_counter()
    try:
        expr = parse(text)
    except ValueError as err:
        assert time.perf_counter() - start < TIME_BOUND, text
        assert "\n" not in str(err) and "allowed:" in str(err)
        return
    assert time.perf_counter() - start < TIME_BOUND, text
    assert not expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
    for power in expr.atoms(sympy.Pow):  # no numeric exponent beyond the bound
        if power.exp.is_number:
            assert abs(float(power.exp)) <= MAX_EXPONENT
    # the value agrees with SymPy's own parse of the same text at a generic point
    point = {X: sympy.Rational(7, 10), T: sympy.Rational(3, 10)}
    ours = complex(expr.subs(point).evalf(30))
    ref = complex(_reference(text).subs(point).evalf(30))
    if all(map(math.isfinite, (ours.real, ours.imag, ref.real, ref.imag))):
        assert abs(ours - ref) <= 1e-9 * (1 + abs(ref)), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="x t0123456789.e+-*/^()_,'\"[]:;=abcdfglmnoprsuvwzEIj ", max_size=60))
def test_arbitrary_text_parses_or_raises_value_error_quickly(text):
    start = time.perf_counter()
    try:
        expr = parse(text)
    except ValueError:
        pass
    else:
        assert isinstance(expr, sympy.Expr) and expr.free_symbols <= {X, T}
    assert time.perf_counter() - start < TIME_BOUND, text


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 9), st.integers(2, 64), st.integers(1, 5))
def test_nested_powers_are_bounded(base, exponent, depth):
    text = f"{base}"
    for _ in range(depth):
        text = f"({text})^{exponent}"
    start = time.perf_counter()
    try:
        value = parse(f"-x + 0*{text}")
    except ValueError as err:
        assert "bits" in str(err) or "finite real" in str(err)
    else:
        assert value == -X and base ** (exponent ** depth) < 1e300
    assert time.perf_counter() - start < TIME_BOUND


def test_non_str_is_a_type_error():
    with pytest.raises(TypeError, match="--drift must be a str; got int"):
        parse(3)


# ------------------------------------------------------------------ the API entry points
def test_parametric_integral_parses_strings_safely_and_never_evaluates_them():
    from kexue.integrals import ParametricIntegral

    x, a = sympy.symbols("x a", positive=True)
    G = ParametricIntegral("exp(-a*x^2)", x, a, 0, sympy.oo)
    assert G.integrand == sympy.exp(-a * x**2)
    with pytest.raises(ValueError, match="characters other than"):
        ParametricIntegral("__import__('os').getcwd() + a*x", x, a, 0, 1)
    with pytest.raises(ValueError, match=r"unknown names \['b'\]"):
        ParametricIntegral("b*x*a", x, a, 0, 1)
    with pytest.raises(ValueError, match="no attribute access"):
        ParametricIntegral("a .evalf(100000000)*x", x, a, 0, 1)


def test_lamperti_refuses_string_coefficients():
    from kexue.stochastic import lamperti_transform

    x = sympy.Symbol("x")
    with pytest.raises(TypeError, match="drift must be a sympy expression.*Strings are not"):
        lamperti_transform("__import__('os').getcwd()", sympy.Float(0.3) * x)


def test_schrodinger_potential_refuses_strings():
    from kexue.stochastic import schrodinger_potential

    with pytest.raises(TypeError, match="drift must be"):
        schrodinger_potential("__import__('os').getcwd()", 1.0)


# ------------------------------------------------------------------ the CLI
@pytest.mark.parametrize("option, text", [
    ("--drift", "-x + 0*(((((9^64)^64)^64)^64)^64)"),
    ("--drift", "2 .evalf(50)"),
    ("--drift", "1 .evalf(100000000)"),
    ("--diffusion", "((9^64)^64)^64"),
    ("--diffusion", "__import__('os')"),
])
def test_cli_exits_2_with_one_line(tmp_path, option, text):
    from typer.testing import CliRunner

    from kexue.cli._sde import app

    args = {"--drift": "-x", "--diffusion": "1"}
    args[option] = text
    start = time.perf_counter()
    res = CliRunner().invoke(app, ["simulate", "--drift", args["--drift"], "--diffusion",
                                   args["--diffusion"], "--paths", "100", "--steps", "5",
                                   "--out", str(tmp_path / "p.png")])
    assert time.perf_counter() - start < 10 * TIME_BOUND
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("text", ["-(-(((pi)*(pi))**((pi)**(3.25))))", "(x*x)**33", "(pi*pi)**33",
                                  "pi**40*pi**40", "x**40/x**(-40)", "(x**40)**2"])
def test_exponents_merged_by_sympy_past_the_bound_are_refused(text):
    """Found by the generated-formula test: every written exponent is within MAX_EXPONENT, but
    SymPy merges powers ((a*a)**e into a**(2e), a**e*a**e into a**(2e)) past it; the parser
    refuses the merged power."""
    with pytest.raises(ValueError, match="numeric exponents must have magnitude"):
        parse(text)
    assert parse("(pi*pi)**30") == sympy.pi**60
