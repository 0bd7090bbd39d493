"""Packaging (issue 15): the sdist carries the tests and the licence, the wheel marks kexue as
typed (PEP 561 ``py.typed``) and carries the licence and the package data it needs at run time."""

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _build(kind: str, src: Path, out: Path) -> Path:
    code = ("import sys; from setuptools import build_meta as b; "
            f"print('DIST', b.build_{kind}(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=src, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out / [ln for ln in done.stdout.splitlines() if ln.startswith("DIST ")][-1].split()[1]


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """The sdist built from the checkout, and the wheel built from the unpacked sdist (as pip
    does), so the sdist is also shown to be complete enough to build."""
    out = tmp_path_factory.mktemp("dist")
    sdist = _build("sdist", ROOT, out)
    with tarfile.open(sdist) as t:
        t.extractall(out / "unpacked", filter="data")
    (top,) = (out / "unpacked").iterdir()
    return sdist, _build("wheel", top, out)


def test_sdist_carries_tests_and_licence(dists):
    with tarfile.open(dists[0]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", "tests/conftest.py"} <= names
    assert sum(n.startswith("tests/") and n.endswith(".py") for n in names) >= 50
    assert not any("__pycache__" in n for n in names)


def test_wheel_is_typed_and_has_its_data(dists):
    with zipfile.ZipFile(dists[1]) as z:
        names = set(z.namelist())
    assert "kexue/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "kexue/report/templates/index.html" in names
    assert "kexue/onlstm/csrc/onlstm_layer.cpp" in names
    assert not any(n.startswith("tests/") for n in names)


def test_wheel_metadata_lists_core_and_extras(dists):
    """The wheel's METADATA: the core requirements unconditional, each extra's packages behind
    ``extra == "<name>"`` (a lean ``pip install kexue``; ``kexue[cli]`` etc. add the rest)."""
    with zipfile.ZipFile(dists[1]) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        lines = z.read(meta).decode().splitlines()
    extras = {ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Provides-Extra:")}
    assert {"cli", "symbolic", "data", "all", "dev", "docs", "bench"} <= extras, extras
    requires = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Requires-Dist:")]

    def name(req: str) -> str:
        return re.match(r"[A-Za-z0-9._-]+", req).group(0)

    core = {name(r).lower() for r in requires if "extra ==" not in r}
    assert core == {"torch", "numpy", "scipy", "torchdiffeq", "safetensors", "ninja"}, core
    for extra, packages in {"cli": {"typer", "rich", "jinja2", "matplotlib"},
                            "symbolic": {"sympy", "mpmath"},
                            "data": {"scikit-learn", "mlxtend", "scikit-image", "pillow"}}.items():
        got = {name(r).lower() for r in requires if f'extra == "{extra}"' in r}
        assert packages <= got, (extra, got)
