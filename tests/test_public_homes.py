"""The public homes of the top-level helpers the CLI and the library share: ``kexue.limits``
(size checks) and ``kexue.expr`` (the formula parser); ``kexue._limits``/``kexue._expr`` stay
importable (the implementation), and the names are the same objects."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_limits_public_names_are_the_implementation():
    from kexue import _limits, limits

    for name in limits.__all__:
        assert getattr(limits, name) is getattr(_limits, name), name
    assert issubclass(limits.SizeLimitError, ValueError)
    assert limits.check_memory.__module__ == "kexue.limits"
    with pytest.raises(limits.SizeLimitError, match="use less"):
        limits.check_work("the test", 10.0, limit=1.0, unit="steps", fix="use less")


def test_expr_public_names_are_the_implementation():
    from kexue import _expr, expr

    for name in expr.__all__:
        assert getattr(expr, name) is getattr(_expr, name), name
    assert str(expr.parse_expression("2x + t", name="--drift")) == "t + 2*x"
    with pytest.raises(ValueError, match="--drift"):
        expr.parse_expression("__import__('os')", name="--drift")


def test_extras_public_names_are_the_implementation():
    from kexue import _extras, data, extras

    for name in (*extras.__all__, "MissingExtraError"):
        assert getattr(extras, name) is getattr(_extras, name), name
    assert extras.MissingExtraError is data.MissingExtraError
    assert extras.extra_of("sympy.core") == "symbolic" and extras.extra_of("torch") is None
    with pytest.raises(extras.MissingExtraError, match=r"pip install 'kexue\[data\]'"):
        extras.require("sklearn_not_a_module", "the test", "data")


def test_limits_is_lean_and_expr_imports_sympy_with_itself():
    code = ("import sys, kexue.limits, kexue.extras, kexue.plotting; "
            "assert 'sympy' not in sys.modules, 'limits'; "
            "import kexue.expr; assert 'sympy' in sys.modules")
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
