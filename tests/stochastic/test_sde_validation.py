"""Bad input to SDE / solve / BrownianIncrements: each raises ValueError or TypeError naming the
argument, what was expected and how to fix it (property tests with hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue.stochastic._brownian import BrownianIncrements
from kexue.stochastic._sde import SDE
from kexue.stochastic._solvers import METHODS, solve

F64 = torch.float64
FAST = settings(max_examples=25, deadline=None)


def ou(noise: str = "additive") -> SDE:
    return SDE(lambda t, x: -x, lambda t, x: x.new_tensor(0.5), noise=noise)


X0 = torch.ones(4, 1, dtype=F64)


@given(bad=st.sampled_from([math.nan, math.inf, -math.inf]), row=st.integers(0, 3),
       col=st.integers(0, 1))
@FAST
def test_nonfinite_x0(bad, row, col):
    x0 = torch.ones(4, 2, dtype=F64)
    x0[row, col] = bad
    with pytest.raises(ValueError, match=r"x0 must be finite"):
        solve(ou(), x0, [0.0, 1.0], generator=0)


@pytest.mark.parametrize("x0, exc, pattern", [
    (torch.ones(4, dtype=F64), ValueError, r"x0 must have shape \(batch, d\).*x0\[:, None\]"),
    (torch.ones(2, 3, 1, dtype=F64), ValueError, r"x0 must have shape \(batch, d\)"),
    (torch.ones(4, 1, dtype=torch.int64), TypeError, r"x0 must be floating point.*double"),
    ([[1.0], [2.0]], TypeError, r"x0 must be a floating-point tensor"),
])
def test_bad_x0(x0, exc, pattern):
    with pytest.raises(exc, match=pattern):
        solve(ou(), x0, [0.0, 1.0], generator=0)


@given(ts=st.lists(st.floats(-10, 10, allow_nan=False), min_size=2, max_size=8)
       .filter(lambda v: any(b <= a for a, b in zip(v, v[1:]))))
@FAST
def test_ts_not_strictly_increasing(ts):
    with pytest.raises(ValueError, match=r"ts must be strictly increasing.*Sort the times"):
        solve(ou(), X0, ts, generator=0)


@pytest.mark.parametrize("ts, pattern", [
    (torch.zeros(2, 2), r"ts must be 1-D with at least 2 times"),
    ([0.0], r"ts must be 1-D with at least 2 times"),
    ([0.0, math.nan], r"ts must be finite"),
])
def test_bad_ts_shape_or_values(ts, pattern):
    with pytest.raises(ValueError, match=pattern):
        solve(ou(), X0, ts, generator=0)


@given(dt=st.one_of(st.floats(max_value=0.0, allow_nan=False),
                    st.sampled_from([math.nan, math.inf])))
@FAST
def test_nonpositive_dt(dt):
    with pytest.raises(ValueError, match=r"dt must be a positive finite step size"):
        solve(ou(), X0, [0.0, 1.0], dt=dt, generator=0)


def test_dt_wrong_type():
    with pytest.raises(TypeError, match=r"dt must be a positive float or None"):
        solve(ou(), X0, [0.0, 1.0], dt="0.1", generator=0)


def test_unknown_method_lists_accepted_names():
    with pytest.raises(ValueError, match=r"unknown method 'rk4'; accepted: ") as info:
        solve(ou(), X0, [0.0, 1.0], method="rk4", generator=0)
    for name in METHODS:
        assert name in str(info.value)


@given(d=st.integers(1, 3), extra=st.sampled_from(["drop", "widen", "transpose"]))
@FAST
def test_drift_wrong_shape(d, extra):
    def drift(t, x):
        if extra == "drop":
            return -x[:, 0]                        # (batch,) broadcasts to (batch, batch)
        if extra == "widen":
            return torch.cat([x, x], dim=1)        # (batch, 2d)
        return -x.T                                # (d, batch)

    sde = SDE(drift, lambda t, x: torch.ones_like(x))
    with pytest.raises(ValueError, match=r"drift\(t, x\) must return shape \(batch, d\)"):
        solve(sde, torch.ones(5, d, dtype=F64), [0.0, 1.0], generator=0)


@given(g=st.floats(-100, -1e-6), row=st.integers(0, 3))
@FAST
def test_negative_diffusion(g, row):
    def diffusion(t, x):
        out = torch.ones_like(x)
        out[row] = g
        return out

    sde = SDE(lambda t, x: -x, diffusion)
    with pytest.raises(ValueError, match=r"diffusion must be non-negative; got min .* Use abs"):
        solve(sde, X0, [0.0, 1.0], generator=0)


def test_nontensor_and_nonfinite_coefficients():
    with pytest.raises(TypeError, match=r"diffusion\(t, x\) must return a tensor.*full_like"):
        solve(SDE(lambda t, x: -x, lambda t, x: 0.5), X0, [0.0, 1.0], generator=0)
    with pytest.raises(ValueError, match=r"drift\(t, x\) returned non-finite values"):
        solve(SDE(lambda t, x: x / 0.0, lambda t, x: torch.ones_like(x)), X0, [0.0, 1.0],
              generator=0)


def test_method_noise_compatibility():
    with pytest.raises(ValueError, match=r"method 'sra1' needs additive noise.*noise='diagonal'"):
        solve(ou("diagonal"), X0, [0.0, 1.0], method="sra1", generator=0)
    with pytest.raises(ValueError, match=r"'milstein' supports scalar noise only for d == 1"):
        solve(ou("scalar"), torch.ones(3, 2, dtype=F64), [0.0, 1.0], method="milstein",
              generator=0)
    lying = SDE(lambda t, x: -x, lambda t, x: 0.1 * x.abs(), noise="additive")
    with pytest.raises(ValueError, match=r"noise='additive' declares .* independent of x"):
        solve(lying, X0, [0.0, 1.0], generator=0)


def test_bad_brownian():
    grid = torch.linspace(0, 1, 9, dtype=F64)
    with pytest.raises(ValueError, match=r"brownian must have shape \(n_steps, batch, m\) = "
                                         r"\(4, 4, 1\)"):
        solve(ou(), X0, [0.0, 1.0], dt=0.25, brownian=torch.zeros(8, 4, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"needs dZ as well as dW"):
        solve(ou(), X0, [0.0, 1.0], dt=0.25, method="sra1",
              brownian=torch.zeros(4, 4, 1, dtype=F64))
    bm = BrownianIncrements.sample(grid, 4, 1, generator=0)
    with pytest.raises(ValueError, match=r"levy_area=True"):
        solve(ou(), X0, [0.0, 1.0], dt=0.25, method="sra1", brownian=bm)
    with pytest.raises(ValueError, match=r"time 0\.1 is not a point of the Brownian grid"):
        solve(ou(), X0, [0.0, 1.0], dt=0.1, brownian=bm)
    with pytest.raises(ValueError, match=r"\(batch, m\) = \(4, 1\), but the solve needs \(4, 2\)"):
        solve(ou(), torch.ones(4, 2, dtype=F64), [0.0, 1.0], dt=0.25, brownian=bm)
    with pytest.raises(TypeError, match=r"brownian must be None, a BrownianIncrements"):
        solve(ou(), X0, [0.0, 1.0], brownian=np.zeros((1, 4, 1)))


def test_bad_generator_and_sde():
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator, an int seed"):
        solve(ou(), X0, [0.0, 1.0], generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"sde must be a kexue.stochastic.SDE"):
        solve(lambda t, x: x, X0, [0.0, 1.0], generator=0)


def test_sde_constructor():
    with pytest.raises(TypeError, match=r"drift must be a callable"):
        SDE(1.0, lambda t, x: x)
    with pytest.raises(ValueError, match=r"noise must be one of diagonal, additive, scalar, "
                                         r"general"):
        SDE(lambda t, x: x, lambda t, x: x, noise="matrix")


def test_brownian_increments_validation():
    grid = torch.linspace(0, 1, 5, dtype=F64)
    with pytest.raises(ValueError, match=r"dW must have shape \(len\(ts\) - 1, batch, m\)"):
        BrownianIncrements(grid, torch.zeros(3, 2, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"dZ must have the shape of dW"):
        BrownianIncrements(grid, torch.zeros(4, 2, 1, dtype=F64), torch.zeros(4, 1, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"batch must be a positive int"):
        BrownianIncrements.sample(grid, 0)


# --------------------------------------------------------------------------- CLI (kexue sde)
def test_cli_expression_parser_values_and_noise_type():
    from kexue.cli._sde import parse_coefficient

    x = torch.tensor([[2.0], [-1.0]], dtype=F64)
    t = torch.tensor(0.5, dtype=F64)
    fn, dep, _ = parse_coefficient("-1.3*x", "--drift")
    torch.testing.assert_close(fn(t, x), -1.3 * x)
    assert dep
    fn, dep, _ = parse_coefficient("0.84", "--diffusion")
    assert not dep and float(fn(t, x)) == pytest.approx(0.84)
    fn, _, _ = parse_coefficient("sin(t) * x^2 + exp(-t) + 2x", "--drift")
    torch.testing.assert_close(fn(t, x), math.sin(0.5) * x**2 + math.exp(-0.5) + 2 * x)


@pytest.mark.parametrize("text, pattern", [
    ("__import__('os')", r"characters"),
    ("x.func", r"no attribute access"),
    ("(x).conjugate()", r"no attribute access"),
    ("9**9**9**9", r"numeric exponents"),
    ("x**100", r"numeric exponents"),
    ("foo(x)", r"unknown"),
    ("y * x", r"unknown names \['y'\]"),
    ("", r"non-empty"),
    ("x +* ", r"not a valid expression"),
    ("x" * 400, r"at most 300 characters"),
])
def test_cli_expression_parser_rejects(text, pattern):
    from kexue.cli._sde import parse_coefficient

    with pytest.raises(ValueError, match=pattern):
        parse_coefficient(text, "--drift")


def test_cli_simulate_and_errors(tmp_path):
    from typer.testing import CliRunner

    from kexue.cli._sde import app

    runner = CliRunner()
    out = tmp_path / "paths.png"
    res = runner.invoke(app, ["simulate", "--drift", "-1.3*x", "--diffusion", "0.84", "--x0", "1",
                              "--T", "1", "--paths", "2000", "--steps", "50", "--seed", "0",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "mean" in res.stdout and out.stat().st_size > 0
    # the OU mean e^{-1.3} within 4 SE (std ~0.5, 2000 paths): parse the printed mean
    mean = float(res.stdout.split("mean ")[1].split(" ")[0])
    assert abs(mean - math.exp(-1.3)) < 4 * 0.51 / math.sqrt(2000)
    for args, pattern in (
        (["--diffusion", "-1"], "diffusion must be non-negative"),
        (["--method", "rk4"], "unknown method 'rk4'; accepted: euler, milstein, heun, sra1"),
        (["--diffusion", "x", "--method", "sra1"], "needs additive noise"),
        (["--drift", "os.system(1)"], "no attribute access"),
        (["--T", "-1"], "--T must be a finite positive number"),
    ):
        base = {"--drift": "-x", "--diffusion": "0.5", "--paths": "10", "--steps": "5"}
        merged = base | dict(zip(args[::2], args[1::2]))
        argv = ["simulate", *[v for kv in merged.items() for v in kv], "--out", str(out)]
        res = runner.invoke(app, argv)
        assert res.exit_code == 2, (args, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and pattern in lines[0]


def test_cli_density_against_fokker_planck(tmp_path):
    from typer.testing import CliRunner

    from kexue.cli._sde import app

    out = tmp_path / "density.png"
    res = CliRunner().invoke(app, ["density", "--drift", "-1.3*x", "--diffusion", "0.84",
                                   "--x0", "1", "--paths", "20000", "--steps", "100",
                                   "--points", "301", "--out", str(out)])
    assert res.exit_code == 0, res.output
    l1 = float(res.stdout.split("L1 distance histogram vs PDE ")[1].split(";")[0])
    assert l1 < 0.05 and out.stat().st_size > 0
