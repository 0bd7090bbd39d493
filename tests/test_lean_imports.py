"""A lean install (issue 15, "Packaging"): the core library needs only its core dependencies.

``pip install kexue`` installs torch, numpy, scipy, torchdiffeq, safetensors and ninja; the
extras ``cli`` (typer, rich, jinja2, matplotlib), ``symbolic`` (sympy, mpmath) and ``data``
(scikit-learn, mlxtend, scikit-image, treebank, Pillow) are imported only where used, and a
missing one raises :class:`kexue.data.MissingExtraError` naming ``pip install 'kexue[<extra>]'``.

Each check runs in a fresh interpreter (``sys.modules`` of this one is shared by every test). A
package is "blocked" by ``sys.modules[name] = None``: importing it then raises ``ImportError``,
as on a machine without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The packages of the extras (import names), by extra.
EXTRA_MODULES = {
    "cli": ("typer", "rich", "jinja2", "matplotlib"),
    "symbolic": ("sympy", "mpmath"),
    "data": ("sklearn", "mlxtend", "skimage", "treebank", "PIL"),
}
EXTRAS_ALL = tuple(m for mods in EXTRA_MODULES.values() for m in mods)
#: What a core install lacks: torch itself requires sympy (so mpmath) and jinja2, and imports
#: sympy inside some of its functions, so those cannot be blocked for the library's functions.
LEAN_ABSENT = tuple(m for m in EXTRAS_ALL if m not in ("sympy", "mpmath", "jinja2"))
#: Core, but imported only by the functions that compute with it.
ON_USE = ("scipy", "torchdiffeq")

#: The numerical library: importing any of these imports no extra and neither scipy nor
#: torchdiffeq (the functions that need those import them when called).
LIBRARY = ("kexue", "kexue.stochastic", "kexue.diffusion", "kexue.gan", "kexue.onlstm",
           "kexue.smooth", "kexue.regularize", "kexue.metrics", "kexue.checkpoint",
           "kexue.training", "kexue.data", "kexue.devices", "kexue.rng", "kexue.parallel")


def _python(code: str, blocked=(), timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where importing any of ``blocked`` fails."""
    block = "".join(f"sys.modules[{m!r}] = None\n" for m in blocked)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-c", "import sys\n" + block + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def loaded_after_import() -> dict[str, list[str]]:
    """For each package of :data:`LIBRARY`, imported in turn in one fresh interpreter, the
    extras' and on-use modules present after its import. As none may be loaded, importing them
    one after the other is as strict as one interpreter per package (the first package that
    loads one is the one reported)."""
    watched = EXTRAS_ALL + ON_USE
    done = _python(f"""
        import importlib, json, sys
        out = {{}}
        for name in {LIBRARY + ("kexue.forms",)!r}:  # forms last: the check's control
            importlib.import_module(name)
            out[name] = sorted(m for m in {watched!r} if m in sys.modules)
        print(json.dumps(out))
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("package", LIBRARY)
def test_importing_the_library_imports_no_extra(loaded_after_import, package):
    assert loaded_after_import[package] == [], (
        f"import {package} imports {loaded_after_import[package]}: import them in the functions "
        f"that use them (and through kexue._extras.require for an extra's package)")


def test_the_import_check_can_fail(loaded_after_import):
    """kexue.forms, imported after the library, is seen to import sympy and mpmath."""
    assert {"sympy", "mpmath"} <= set(loaded_after_import["kexue.forms"])


def test_the_library_works_without_any_extra():
    """What a core install lacks blocked: the library's main entry points run on tiny inputs,
    training with ``progress=True`` shows no bar instead of failing on rich."""
    done = _python("""
        import math, tempfile
        import torch
        from kexue import checkpoint, metrics, regularize, smooth
        from kexue.data import ring_of_gaussians
        from kexue.diffusion import VPSDE, GaussianMixture, sample
        from kexue.gan import train_gan
        from kexue.onlstm import ONLSTM
        from kexue.stochastic import SDE, fokker_planck, solve

        sde = SDE.linear(-1.0, 0.0, 0.0, 1.0)  # OU
        xs = solve(sde, torch.ones(64, 1, dtype=torch.float64), [0.0, 1.0], dt=0.01, generator=0)
        assert xs.shape == (2, 64, 1)
        x = torch.linspace(-4, 4, 81, dtype=torch.float64)
        p = fokker_planck(sde, x, torch.exp(-x**2), [0.0, 0.1], n_steps=10)  # scipy: core
        assert p.shape[0] == 2

        mix = GaussianMixture(torch.full((2,), 0.5), torch.tensor([[-1.0, 0], [1, 0]]),
                              torch.full((2,), 0.1))
        vp = VPSDE()
        out = sample(mix.score_fn(vp), vp, vp.prior_sample((8, 2), generator=0), method="em",
                     steps=5)[0]
        assert out.shape == (8, 2)

        assert smooth.smooth_max(torch.tensor([1.0, 2.0])).ndim == 0
        net = torch.nn.Linear(2, 3)
        assert regularize.vat_loss(net, torch.randn(4, 2), generator=0).ndim == 0
        a, b = torch.randn(50, 2), torch.randn(50, 2)
        assert math.isfinite(float(metrics.frechet_distance(a, b)))
        y, _ = ONLSTM(4, 8, chunk_size=2)(torch.randn(3, 2, 4))
        assert y.shape == (3, 2, 8)
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint.save(tmp + "/t.safetensors", {"w": torch.ones(2)}, {"k": 1})
            assert checkpoint.load(tmp + "/t.safetensors")[0]["w"].sum() == 2
            res = train_gan("gan-qp", ring_of_gaussians(64, generator=0), steps=3,
                            batch_size=16, progress=True, checkpoint=tmp + "/gan.safetensors")
        assert res is not None
        print("LEAN OK")
    """, LEAN_ABSENT, timeout=600)
    assert done.returncode == 0 and "LEAN OK" in done.stdout, done.stderr[-3000:]


def _missing_extra(code: str, blocked, extra: str) -> str:
    """Run ``code`` with ``blocked`` modules; it must raise MissingExtraError naming ``extra``.
    Returns the message."""
    body = textwrap.indent(textwrap.dedent(code), "    ")
    done = _python("from kexue.data import MissingExtraError\ntry:\n" + body + textwrap.dedent("""
        except MissingExtraError as err:
            assert isinstance(err, ImportError)
            print("MESSAGE", str(err).replace(chr(10), "<newline>"))
        else:
            raise SystemExit("no MissingExtraError")
    """), blocked)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-3000:]
    (message,) = [ln[len("MESSAGE "):] for ln in done.stdout.splitlines()
                  if ln.startswith("MESSAGE ")]
    assert "<newline>" not in message, f"not one line: {message!r}"
    assert f"pip install 'kexue[{extra}]'" in message, message
    assert f"optional extra '{extra}'" in message, message
    return message


@pytest.mark.parametrize("code", [
    "import kexue.forms",
    "import kexue.integrals",
    "from kexue.integrals import verify; verify('F1')",
    "from kexue.stochastic import schrodinger_potential; schrodinger_potential(0.5, alpha=1.0)",
], ids=["forms", "integrals", "verify", "schrodinger_potential"])
def test_symbolic_maths_without_sympy_names_the_extra(code):
    message = _missing_extra(code, ("sympy", "mpmath"), "symbolic")
    assert "could not import sympy" in message


@pytest.mark.parametrize(("code", "blocked"), [
    ("from kexue.data import digits; digits()", ("sklearn",)),
    ("import tempfile, pathlib\nfrom kexue.data import image_folder\n"
     "d = tempfile.mkdtemp(); pathlib.Path(d, 'a.png').write_bytes(b'')\nimage_folder(d)",
     ("PIL",)),
    ("from kexue.gan import load_gan_data; load_gan_data('digits')", ("sklearn",)),
], ids=["digits", "image_folder", "gan_digits"])
def test_data_without_its_extra_names_it(code, blocked):
    _missing_extra(code, blocked, "data")


@pytest.mark.parametrize(("code", "blocked", "extra"), [
    ("from kexue.experiments import registry; registry()", ("matplotlib",), "cli"),
    ("from kexue.experiments._listing import load_experiment_module\n"
     "load_experiment_module('forms_stokes')", ("sympy", "mpmath"), "symbolic"),
    ("from kexue.experiments._listing import load_experiment_module\n"
     "load_experiment_module('smooth_f1')", ("sklearn",), "data"),
], ids=["cli", "symbolic", "data"])
def test_experiments_without_an_extra_name_it(code, blocked, extra):
    """The experiments (``kexue reproduce``) need every extra; a missing one is named (the
    registry loads every experiment module through ``load_experiment_module``)."""
    message = _missing_extra(code, blocked, extra)
    assert "the experiment kexue.experiments." in message


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _names(requirements) -> set[str]:
    """Distribution names of PEP 508 requirement strings, lower case (``a[b]>=1`` -> ``a``)."""
    out = set()
    for req in requirements:
        name = req.split(";")[0]
        for stop in "[<>=!~ ":
            name = name.split(stop)[0]
        out.add(name.strip().lower())
    return out


#: Distribution names of the extras' packages (what must not be a core dependency).
EXTRA_DISTRIBUTIONS = {
    "cli": {"typer", "rich", "jinja2", "matplotlib"},
    "symbolic": {"sympy", "mpmath"},
    "data": {"scikit-learn", "mlxtend", "scikit-image", "treebank", "pillow"},
}


def test_core_dependencies_hold_no_extra():
    project = _pyproject()["project"]
    core = _names(project["dependencies"])
    assert {"torch", "numpy", "safetensors", "ninja", "scipy", "torchdiffeq"} <= core
    extras = project["optional-dependencies"]
    for extra, dists in EXTRA_DISTRIBUTIONS.items():
        assert not core & dists, f"core dependencies include the {extra} extra's {core & dists}"
        assert dists <= _names(extras[extra]), (extra, extras[extra])
    assert core <= {"torch", "numpy", "scipy", "torchdiffeq", "safetensors", "ninja"}, core


def test_every_extra_a_module_names_is_declared():
    """The extras listed in kexue._extras (the error messages) are those of pyproject."""
    done = _python("from kexue._extras import EXTRAS; import json; print(json.dumps(EXTRAS))")
    assert done.returncode == 0, done.stderr[-2000:]
    declared = json.loads(done.stdout)
    assert declared == {k: list(v) for k, v in EXTRA_MODULES.items()}
    extras = _pyproject()["project"]["optional-dependencies"]
    assert set(declared) <= set(extras)
    assert set(extras["all"]) == {"kexue[cli,symbolic,data]"}


def test_make_installs_the_extras_the_tests_and_run_use():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    (line,) = [ln for ln in makefile.splitlines() if ln.startswith("EXTRAS")]
    used = {e.strip() for e in line.split(":=")[1].split(",")}
    assert {"dev", "docs", "cli", "symbolic", "data"} <= used, used
