"""Every script in ``examples/`` runs (``--fast``), exits 0 and prints its own passed check.

The examples assert their maths themselves (closed forms, mode weights, quadrature digits) and
exit non-zero when the assertion fails, so a passing run here is a passed check, not only a
script that did not crash (issue 15, "examples run as tests").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DAY_ONE = {
    "ou_closed_form.py", "own_denoiser_2d.py", "onlstm_drop_in.py", "vat_training_loop.py",
    "feynman_integral.py",
}
SLOW: set[str] = set()  # scripts whose --fast run takes > ~20 s on a CPU (marked slow)
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


def _run(name: str, *args: str) -> subprocess.CompletedProcess:
    # One OpenMP thread per script, as the suite's own tests run (conftest): small tensors.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                          text=True, timeout=600, env=env, cwd=EXAMPLES.parent)


def test_day_one_examples_exist():
    missing = DAY_ONE - set(SCRIPTS)
    assert not missing, f"examples missing: {sorted(missing)}"


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else []) for n in SCRIPTS])
def test_example_runs_and_passes_its_check(name):
    proc = _run(name, "--fast")
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    assert "CHECK OK" in proc.stdout, f"{name} did not print its check:\n{proc.stdout}"


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_documents_itself(name):
    """A module docstring that names a kexue.fm archive or an arXiv id, and a --fast flag."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert text.startswith('"""'), f"{name} has no module docstring"
    doc = text.split('"""')[1]
    assert "kexue.fm" in doc or "arXiv" in doc, f"{name}'s docstring names no article"
    assert "--fast" in text, f"{name} takes no --fast flag"
    assert "._" not in "".join(line for line in text.splitlines() if line.startswith(
        ("from kexue", "import kexue"))), f"{name} imports a private kexue module"
