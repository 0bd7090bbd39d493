"""The ``>>>`` examples in kexue's docstrings run and print what they show (issue 15).

Every module of the library's public surface (the packages of ``PUBLIC`` with their private
modules — where most docstrings live — and the public top-level modules) is searched
with :class:`doctest.DocTestFinder`, and each example is run with ``ELLIPSIS`` and
``NORMALIZE_WHITESPACE``, so floats can be shown as ``0.27...``. Each module's examples run with
PyTorch's global RNG seeded to 0 and restored afterwards. The test fails if no example at all
was found, so it cannot pass vacuously.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# The public surface (as in tests/test_docs.py): packages, searched with all their modules.
PUBLIC = ["stochastic", "diffusion", "gan", "onlstm", "regularize", "smooth", "forms", "integrals",
          "data", "metrics", "checkpoint", "training", "rng", "devices", "parallel"]


def _module_names() -> list[str]:
    names = ["kexue"]
    for public in PUBLIC:
        module = importlib.import_module(f"kexue.{public}")
        names.append(module.__name__)
        if hasattr(module, "__path__"):  # a package: its private modules hold the docstrings
            names += [info.name for info in pkgutil.walk_packages(module.__path__,
                                                                   f"{module.__name__}.")]
    return sorted(set(names))


def _run_module(name: str) -> tuple[int, int, str]:
    """``(failed, attempted, report)`` of the doctests defined in module ``name``."""
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(module, name) if t.examples]
    out: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS, verbose=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for test in sorted(tests, key=lambda t: t.name):
            runner.run(test, out=out.append)
    return runner.failures, runner.tries, "".join(out)


def test_docstring_examples_pass():
    attempted_total, failures = 0, []
    for name in _module_names():
        failed, attempted, report = _run_module(name)
        attempted_total += attempted
        if failed:
            failures.append(f"{name}: {failed} of {attempted} examples failed\n{report}")
    assert not failures, "\n".join(failures)
    assert attempted_total >= 1, "no >>> example found in kexue's docstrings"
    print(f"{attempted_total} docstring examples passed")


def test_runner_fails_on_a_wrong_example():
    """The runner this file uses reports a wrong expected output (the test can fail)."""
    test = doctest.DocTestParser().get_doctest(">>> 1 + 1\n3\n", {}, "wrong", None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=lambda s: None)
    assert (runner.failures, runner.tries) == (1, 1)


@pytest.mark.parametrize("shown, printed", [("0.27...", "0.2734"), ("tensor([1.,  2.])",
                                                                      "tensor([1., 2.])")])
def test_flags_allow_elided_floats_and_spacing(shown, printed):
    test = doctest.DocTestParser().get_doctest(f">>> print({printed!r})\n{shown}\n", {}, "ok",
                                               None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=lambda s: None)
    assert (runner.failures, runner.tries) == (0, 1)
