"""`kexue sde simulate --adaptive --rtol --atol --brownian tree|increments`: the law of X_T
against closed forms (OU, GBM), the step statistics it prints, determinism, and bad input (one
`error:` line, exit status 2)."""

from __future__ import annotations

import math
import re

import pytest
from typer.testing import CliRunner

from kexue.cli._sde import app

RUNNER = CliRunner()


def run(tmp_path, *args: str):
    return RUNNER.invoke(app, ["simulate", *args, "--out", str(tmp_path / "paths.png")])


def mean_of(stdout: str) -> float:
    return float(stdout.split("mean ")[1].split(" ")[0])


def test_adaptive_ou_mean_and_step_statistics(tmp_path):
    """OU dx = -1.3 x dt + 0.84 dW from x0 = 1: with --adaptive (additive noise: the Euler/Heun
    pair) the mean of X_T is e^{-1.3} within 4 SE (std of X_T is 0.51 at T = 1), the printed
    counts are consistent (per block accepted steps > 1, f calls = g calls for the FSAL pair), and
    a tighter rtol takes more steps."""
    counts = {}
    for rtol in ("1e-1", "1e-3"):
        res = run(tmp_path, "--drift", "-1.3*x", "--diffusion", "0.84", "--x0", "1", "--paths",
                  "4000", "--seed", "0", "--adaptive", "--rtol", rtol, "--atol", "1e-4")
        assert res.exit_code == 0, res.output
        assert abs(mean_of(res.stdout) - math.exp(-1.3)) < 4 * 0.51 / math.sqrt(4000)
        m = re.search(r"adaptive rtol [0-9.e-]+ atol 0\.0001: (\d+) accepted steps .* (\d+) "
                      r"rejected, (\d+) f / (\d+) g calls", res.stdout)
        assert m, res.stdout
        acc, rej, nf, ng = (int(v) for v in m.groups())
        assert acc > 4 and nf == ng >= acc
        counts[rtol] = acc
        assert (tmp_path / "paths.png").stat().st_size > 0
    assert counts["1e-3"] > 2 * counts["1e-1"], counts


def test_adaptive_milstein_gbm_by_doubling(tmp_path):
    """GBM dx = 0.5 x dt + 0.3 x dW (diagonal noise: milstein falls back to step doubling): mean
    of X_T = e^{0.5} within 4 SE (sd of X_T = e^{0.5} sqrt(e^{0.09} - 1) = 0.50)."""
    res = run(tmp_path, "--drift", "0.5*x", "--diffusion", "0.3*x", "--x0", "1", "--paths",
              "4000", "--method", "milstein", "--adaptive", "--rtol", "1e-2")
    assert res.exit_code == 0, res.output
    assert abs(mean_of(res.stdout) - math.exp(0.5)) < 4 * 0.50 / math.sqrt(4000)
    acc, nf, ng = (int(v) for v in re.search(r"(\d+) accepted steps.* (\d+) f / (\d+) g ",
                                             res.stdout).groups())
    assert nf >= 3 * acc                  # doubling: three Milstein steps per attempt
    assert ng == nf                       # ∂g/∂x is symbolic: no extra diffusion call


@pytest.mark.parametrize("text", ["0.3*x", "sqrt(1 + x^2) * exp(-t)", "Abs(x) + 0.1",
                                  "tanh(x)^2 + erf(x/2)", "sqrt(2)*x + pi"])
def test_symbolic_diffusion_derivative_equals_autograd(text):
    """The CLI's SDE carries ∂g/∂x from SymPy: equal to the autograd derivative of g (float64,
    to 1e-12) at random states, and broadcast to (batch, d)."""
    import torch

    from kexue.cli._sde import _build_sde

    sde, _ = _build_sde("-x", text)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, generator=gen, dtype=torch.float64) * 2 + 0.05
    t = torch.tensor(0.7, dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(torch.broadcast_to(sde.diffusion(t, xr), x.shape).sum(), xr)
    symbolic = sde.diffusion_dx(t, x)
    assert symbolic.shape == x.shape
    torch.testing.assert_close(symbolic, auto, rtol=1e-12, atol=1e-12)
    assert _build_sde("-x", "0.5")[0].diffusion_dx is None       # additive: no derivative


def test_numeric_constants_in_expressions(tmp_path):
    """sqrt(2), 1/sqrt(pi) and the like are numbers, not tensors: evaluated before torch sees
    them (``--diffusion 'sqrt(2)*x'`` used to fail with a TypeError from torch.sqrt). GBM
    dx = 0.1 x dt + sqrt(2)/10 x dW: mean e^{0.1} within 4 SE (sd 0.16)."""
    res = run(tmp_path, "--drift", "0.1*x", "--diffusion", "sqrt(2)/10*x", "--x0", "1",
              "--paths", "4000", "--method", "milstein")
    assert res.exit_code == 0, res.output
    assert abs(mean_of(res.stdout) - math.exp(0.1)) < 4 * 0.16 / math.sqrt(4000)


def test_brownian_tree_fixed_steps_deterministic(tmp_path):
    """--brownian tree with fixed steps: the OU mean within 4 SE, the same numbers on a rerun,
    and a different path from --brownian increments (another generator)."""
    base = ["--drift", "-1.3*x", "--diffusion", "0.84", "--x0", "1", "--paths", "3000",
            "--steps", "50"]
    a = run(tmp_path, *base, "--brownian", "tree")
    b = run(tmp_path, *base, "--brownian", "tree")
    c = run(tmp_path, *base, "--brownian", "increments")
    for res in (a, b, c):
        assert res.exit_code == 0, res.output
        assert abs(mean_of(res.stdout) - math.exp(-1.3)) < 4 * 0.51 / math.sqrt(3000)
    assert "Brownian tree" in a.stdout and "Brownian tree" not in c.stdout
    assert a.stdout == b.stdout and mean_of(a.stdout) != mean_of(c.stdout)


def test_help_states_defaults():
    res = RUNNER.invoke(app, ["simulate", "--help"])
    text = " ".join(res.stdout.split())
    assert "--adaptive" in text and "Default: fixed steps" in text
    assert "Default 1e-3" in text and "Default 1e-4" in text
    assert "'auto' (default: tree with --adaptive, increments otherwise)" in text


@pytest.mark.parametrize("args, pattern", [
    (["--rtol", "1e-3"], "--rtol sets the tolerance of adaptive steps; add --adaptive"),
    (["--atol", "1e-3"], "--atol sets the tolerance of adaptive steps; add --adaptive"),
    (["--adaptive", "--rtol", "0"], "--rtol must be a finite number > 0; got 0.0"),
    (["--adaptive", "--rtol", "-1e-3"], "--rtol must be a finite number > 0; got -0.001"),
    (["--adaptive", "--rtol", "nan"], "--rtol must be a finite number > 0; got nan"),
    (["--adaptive", "--atol", "-1"], "--atol must be a finite number >= 0; got -1.0"),
    (["--adaptive", "--brownian", "increments"], "use --brownian tree"),
    (["--brownian", "bridge"], "--brownian must be one of auto, tree, increments; got 'bridge'"),
    (["--adaptive", "--method", "rk4"], "unknown method 'rk4'"),
    (["--adaptive", "--diffusion", "x", "--method", "sra1"], "needs additive noise"),
])
def test_bad_input_one_line_exit_2(tmp_path, args, pattern):
    merged = {"--drift": "-x", "--diffusion": "0.5", "--paths": "10", "--steps": "5"}
    flags = []
    it = iter(args)
    for key in it:
        if key == "--adaptive":
            flags.append(key)
        else:
            merged[key] = next(it)
    res = run(tmp_path, *[v for kv in merged.items() for v in kv], *flags)
    assert res.exit_code == 2, (args, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0], lines
