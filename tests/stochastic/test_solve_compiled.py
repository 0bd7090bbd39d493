"""``solve(..., compile=True)``: compiled blocks of steps equal the eager solve on the same noise.

float64; small blocks (``BLOCK_STEPS`` patched to 8) keep Inductor's compile time short; the step
counts are not multiples of the block, so leftover steps run eagerly in the same solve. Tests
that compile are marked slow (10–25 s each on 2 busy cores).
"""

from __future__ import annotations

import math

import pytest
import torch

from kexue.stochastic import SDE, CompileFallbackWarning, _affine, _compiled, solve


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(_compiled, "BLOCK_STEPS", 8)
    # these SDEs are mostly affine, which solve would run on its fused linear path instead of
    # compiling: turn the recognition off so the compiled path is what is tested
    monkeypatch.setattr(_affine, "RECOGNISE", False)


def test_affine_callables_take_the_fused_path_not_the_compiler(monkeypatch):
    monkeypatch.setattr(_affine, "RECOGNISE", True)
    monkeypatch.setattr(_compiled, "_unavailable", lambda: "must not be reached (test)")
    sde = SDE(lambda t, x: -x, lambda t, x: 0.2 * x)
    x0 = torch.ones(8, 3, dtype=torch.float64)
    plain = solve(sde, x0, [0.0, 0.5, 1.0], dt=1 / 30, generator=2)
    comp = solve(sde, x0, [0.0, 0.5, 1.0], dt=1 / 30, generator=2, compile=True)  # no warning
    assert torch.equal(comp, plain)


def _pair(sde, method, ts, dt, seed=3, batch=16, d=2):
    x0 = torch.linspace(0.5, 1.5, batch * d, dtype=torch.float64).view(batch, d)
    eager = solve(sde, x0, ts, method=method, dt=dt, generator=seed)
    comp = solve(sde, x0, ts, method=method, dt=dt, generator=seed, compile=True)
    return eager, comp


@pytest.mark.slow                        # compiles with Inductor (seconds)
def test_euler_time_dependent_matches_eager_on_same_noise():
    # drift depends on t: a wrong time slice per block would change the answer by O(h)
    sde = SDE(lambda t, x: -x * (1.0 + torch.sin(3.0 * t)) + t, lambda t, x: 0.3 * x)
    ts = [0.0, 0.37, 1.0]                       # output rows inside the grid, 8 ∤ step counts
    from torch._dynamo.utils import counters
    graphs = counters["stats"]["unique_graphs"]
    eager, comp = _pair(sde, "euler", ts, dt=1 / 101)
    assert counters["stats"]["unique_graphs"] > graphs       # the compiled path really ran
    assert comp.shape == eager.shape == (3, 16, 2)
    torch.testing.assert_close(comp, eager, rtol=1e-12, atol=1e-12)
    # not a vacuous comparison: the paths moved and differ between seeds
    other = solve(sde, comp[0], ts, dt=1 / 101, generator=4, compile=True)
    assert float((other[-1] - comp[-1]).abs().max()) > 1e-3


@pytest.mark.slow                        # compiles with Inductor (seconds)
def test_milstein_analytic_and_heun_match_eager():
    sde = SDE(lambda t, x: 0.1 * x, lambda t, x: 0.4 * x,
              diffusion_dx=lambda t, x: torch.full_like(x, 0.4))
    for method in ("milstein", "heun"):
        eager, comp = _pair(sde, method, [0.0, 1.0], dt=1 / 70)
        torch.testing.assert_close(comp, eager, rtol=1e-12, atol=1e-12)


@pytest.mark.slow                        # compiles with Inductor (seconds)
def test_gbm_mean_is_exact_in_expectation():
    # E S_T = exp(mu T) for Euler on GBM exactly: (1 + mu h)^n ≈ e^{mu}; 4000 paths
    mu, sigma, n = 0.5, 0.3, 40
    sde = SDE(lambda t, x: x * mu, lambda t, x: x * sigma)
    x0 = torch.ones(4000, 1, dtype=torch.float64)
    s = solve(sde, x0, [0.0, 1.0], dt=1 / n, generator=0, compile=True)[-1, :, 0]
    se = float(s.std()) / math.sqrt(s.numel())
    assert abs(float(s.mean()) - (1 + mu / n) ** n) < 4 * se


@pytest.mark.slow                        # compiles with Inductor (seconds)
def test_graph_break_falls_back_to_eager_with_warning():
    def drift(t, x):
        if float(x.mean()) > 10.0:                 # data-dependent Python branch: no full graph
            return x
        return -x
    sde = SDE(drift, lambda t, x: 0.2 * x)
    x0 = torch.ones(8, 1, dtype=torch.float64)
    eager = solve(sde, x0, [0.0, 1.0], dt=1 / 40, generator=1)
    with pytest.warns(CompileFallbackWarning, match="could not be compiled"):
        comp = solve(sde, x0, [0.0, 1.0], dt=1 / 40, generator=1, compile=True)
    torch.testing.assert_close(comp, eager, rtol=0, atol=0)
    with pytest.warns(CompileFallbackWarning, match="eager"):   # remembered: no second compile
        solve(sde, x0, [0.0, 1.0], dt=1 / 40, generator=1, compile=True)


def test_with_autograd_compile_is_ignored_and_gradients_flow():
    a = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    sde = SDE(lambda t, x: -a * x, lambda t, x: 0.1 * x)
    x0 = torch.ones(4, 1, dtype=torch.float64)
    y = solve(sde, x0, [0.0, 1.0], dt=1 / 20, generator=0, compile=True)[-1].sum()
    y.backward()
    assert a.grad is not None and float(a.grad) < 0


@pytest.mark.gpu
def test_cuda_compiled_matches_eager_and_stays_on_device():
    sde = SDE(lambda t, x: -x * (1.0 + t), lambda t, x: 0.3 * x)
    x0 = torch.ones(64, 2, dtype=torch.float64, device="cuda")
    gen = torch.Generator(device="cuda")
    eager = solve(sde, x0, [0.0, 1.0], dt=1 / 37, generator=gen.manual_seed(0))
    comp = solve(sde, x0, [0.0, 1.0], dt=1 / 37, generator=gen.manual_seed(0), compile=True)
    assert comp.device.type == "cuda"
    torch.testing.assert_close(comp, eager, rtol=1e-12, atol=1e-12)


def test_unavailable_compiler_falls_back_bit_identically(monkeypatch):
    monkeypatch.setattr(_compiled, "_unavailable", lambda: "no compiler here (test)")
    sde = SDE(lambda t, x: -x, lambda t, x: 0.2 * x)
    x0 = torch.ones(8, 3, dtype=torch.float64)
    eager = solve(sde, x0, [0.0, 0.5, 1.0], dt=1 / 30, generator=2)
    with pytest.warns(CompileFallbackWarning, match="no compiler here"):
        comp = solve(sde, x0, [0.0, 0.5, 1.0], dt=1 / 30, generator=2, compile=True)
    torch.testing.assert_close(comp, eager, rtol=0, atol=0)


def test_many_paths_short_noise_chunks_run_eagerly_bit_identically():
    # 40 000 paths: a noise chunk holds 262144 // 40000 = 6 < MIN_BLOCK_STEPS steps
    sde = SDE(lambda t, x: -x, lambda t, x: 0.2 * x)
    x0 = torch.ones(40_000, 1, dtype=torch.float64)
    eager = solve(sde, x0, [0.0, 1.0], dt=1 / 12, generator=5)
    comp = solve(sde, x0, [0.0, 1.0], dt=1 / 12, generator=5, compile=True)
    torch.testing.assert_close(comp, eager, rtol=0, atol=0)
