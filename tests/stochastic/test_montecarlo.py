"""Monte Carlo in seeded blocks (kexue.stochastic.expectation, feynman_kac, first_passage,
RandomWalk.expectation): standard errors against closed forms and against the sample standard
deviation, the seed/generator rule, and device follow-through (CPU here; CUDA tests marked gpu).

Closed forms used:
* Euler–Maruyama on ``dx = -θx dt + σ dW`` from ``x0`` with step ``h``: ``X_N`` is Gaussian with
  mean ``x0 a^N`` and variance ``σ² h (1 - a^{2N}) / (1 - a²)``, ``a = 1 - θh`` (exact for the
  scheme, so only Monte Carlo error remains).
* Reflection principle: ``P(max_{s<=T} σW_s >= a) = 2Φ(-a / (σ√T))``; the bridge-corrected
  first-passage estimator is exactly unbiased for Brownian motion at every Δt.
* Brownian motion ``x + √α W_T``: ``E[(x + √α W_T)²] = x² + αT`` (Euler is exact).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from kexue.rng import block_generator, seed_from
from kexue.stochastic import (
    SDE,
    BrownianIncrements,
    MonteCarloResult,
    RandomWalk,
    expectation,
    feynman_kac,
    first_passage,
    onsager_machlup_action,
    solve,
)

F64 = torch.float64
THETA, SIGMA, X0, T = 1.3, 0.8, 1.0, 1.0
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def ou() -> SDE:
    return SDE.linear(a=-THETA, d=SIGMA)


def euler_ou_moments(n_steps: int) -> tuple[float, float]:
    h = T / n_steps
    a = 1.0 - THETA * h
    return X0 * a**n_steps, SIGMA**2 * h * (1 - a ** (2 * n_steps)) / (1 - a * a)


def bm(sigma: float = 1.0) -> SDE:
    return SDE(lambda t, x: torch.zeros_like(x), lambda t, x: x.new_tensor(sigma),
               noise="additive")


def reflection(level: float, sigma: float = 1.0, horizon: float = 1.0) -> float:
    return float(2 * norm.cdf(-level / (sigma * math.sqrt(horizon))))


# --------------------------------------------------------------------------- expectation
def test_expectation_matches_per_path_values_of_the_blocks():
    """The estimate and its SE are the sample mean and std/sqrt(n) of the per-path values
    that solve() gives block by block with block_generator(seed, b)."""
    n, bs, seed, ts = 2500, 1000, 17, [0.0, 0.5, 1.0]
    fn = lambda xs: xs[-1, :, 0] ** 2 + xs[1, :, 0]  # noqa: E731 - a path functional
    r = expectation(ou(), X0, ts, fn, n_paths=n, block_size=bs, seed=seed, dt=0.05)
    ys = []
    for b, lo in enumerate(range(0, n, bs)):
        x = torch.full((min(bs, n - lo), 1), X0, dtype=F64)
        ys.append(fn(solve(ou(), x, ts, dt=0.05, generator=block_generator(seed, b))))
    y = torch.cat(ys)                                                      # (n,)
    assert isinstance(r, MonteCarloResult) and r.mean.shape == () and r.mean.dtype == F64
    torch.testing.assert_close(r.mean, y.mean(), rtol=1e-13, atol=0)
    torch.testing.assert_close(r.stderr, y.std() / math.sqrt(n), rtol=1e-12, atol=0)
    assert (r.n_paths, r.n_samples, r.block_size, r.seed) == (n, n, bs, seed)
    lo, hi = r.ci()
    z = float(norm.ppf(0.975))
    assert torch.equal(lo, r.mean - z * r.stderr) and torch.equal(hi, r.mean + z * r.stderr)


def test_expectation_ci_covers_the_closed_form():
    """E X_N and E X_N² of the Euler scheme (exact moments), vector-valued fn, seeds 0..4:
    the 99.9% interval covers both (failure probability ~1e-3 per check)."""
    m, v = euler_ou_moments(20)
    exact = torch.tensor([m, m * m + v], dtype=F64)
    for seed in range(5):
        r = expectation(ou(), torch.tensor([X0], dtype=F64), [0.0, T],
                        lambda xs: torch.cat([xs[-1], xs[-1] ** 2], dim=1),
                        n_paths=20_000, block_size=4096, seed=seed, dt=T / 20)
        lo, hi = r.ci(0.999)
        assert r.mean.shape == (2,)
        assert bool(((lo < exact) & (exact < hi)).all()), (seed, r.mean, r.stderr, exact)


def test_expectation_standard_error_is_calibrated():
    """60 independent runs of 500 paths: z = (mean - exact)/SE has sample std within
    [0.75, 1.25] (its sampling sd is ~0.09) and the 95% CI covers in 51..60 runs
    (binomial(60, 0.95): P(< 51) ≈ 1e-3). An SE off by a factor 1.5 either way fails."""
    m, _ = euler_ou_moments(10)
    z = []
    for seed in range(60):
        r = expectation(ou(), X0, [0.0, T], lambda xs: xs[-1, :, 0], n_paths=500,
                        block_size=128, seed=seed, dt=T / 10)
        z.append(float((r.mean - m) / r.stderr))
    z = np.array(z)
    assert 0.75 < z.std(ddof=1) < 1.25, z.std(ddof=1)
    assert 51 <= int((np.abs(z) < norm.ppf(0.975)).sum()) <= 60


def test_expectation_default_fn_device_and_dtype():
    r = expectation(ou(), torch.tensor([[X0, -X0]], dtype=torch.float32), [0.0, T],
                    n_paths=3000, block_size=1024, seed=3, dt=0.1, device="cpu")
    m, v = euler_ou_moments(10)
    assert r.mean.shape == (2,) and r.mean.dtype == F64 and r.mean.device.type == "cpu"
    assert bool((torch.abs(r.mean - torch.tensor([m, -m], dtype=F64)) < 5 * r.stderr).all())
    torch.testing.assert_close(r.stderr, torch.full((2,), math.sqrt(v / 3000), dtype=F64),
                               rtol=0.1, atol=0)


def test_expectation_bad_input():
    kw = dict(n_paths=100, seed=0)
    with pytest.raises(TypeError, match="sde must be a kexue.stochastic.SDE"):
        expectation(lambda t, x: x, X0, [0.0, 1.0], **kw)
    with pytest.raises(ValueError, match=r"x0 must be one start state of shape \(d,\) or \(1, d\)"):
        expectation(ou(), torch.zeros(3, 1, dtype=F64), [0.0, 1.0], **kw)
    with pytest.raises(ValueError, match=r"fn\(xs\) must return shape \(batch, ...\)"):
        expectation(ou(), X0, [0.0, 1.0], lambda xs: xs.mean(), **kw)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        expectation(ou(), X0, [0.0, 1.0], n_paths=100, block_size=0)
    with pytest.raises(ValueError, match="n_paths must be a positive int"):
        expectation(ou(), X0, [0.0, 1.0], n_paths=0)
    with pytest.raises(ValueError, match="seed= or generator=, not both"):
        expectation(ou(), X0, [0.0, 1.0], n_paths=10, seed=1, generator=1)


# ------------------------------------------------------------------ the seed/generator rule
def test_seed_generator_rule():
    kw = dict(alpha=0.5, n_paths=400, n_steps=4, block_size=100)
    f = lambda y: y**2  # noqa: E731
    a = feynman_kac(None, f, 0.2, 1.0, generator=5, **kw)
    assert a.seed == 5 and torch.equal(a.mean, feynman_kac(None, f, 0.2, 1.0, seed=5, **kw).mean)
    # a torch.Generator gives one seed drawn from it
    g = feynman_kac(None, f, 0.2, 1.0, generator=torch.Generator().manual_seed(9), **kw)
    assert g.seed == seed_from(torch.Generator().manual_seed(9))
    assert torch.equal(g.mean, feynman_kac(None, f, 0.2, 1.0, generator=g.seed, **kw).mean)
    # None: PyTorch's default generator, so torch.manual_seed reproduces the run
    torch.manual_seed(123)
    n1 = feynman_kac(None, f, 0.2, 1.0, **kw)
    torch.manual_seed(123)
    n2 = feynman_kac(None, f, 0.2, 1.0, **kw)
    assert n1.seed == n2.seed and torch.equal(n1.mean, n2.mean)
    assert not torch.equal(n1.mean, feynman_kac(None, f, 0.2, 1.0, **kw).mean)
    # blocks: the numbers depend on block_size (the unit of seeding), the seed only through it
    other = feynman_kac(None, f, 0.2, 1.0, generator=5, **(kw | {"block_size": 200}))
    assert not torch.equal(a.mean, other.mean)
    with pytest.raises(ValueError, match="block_size must be even with antithetic=True"):
        feynman_kac(None, f, 0.2, 1.0, generator=5, **(kw | {"block_size": 101}))
    with pytest.raises(ValueError, match="seed= or generator=, not both"):
        first_passage(bm(), 1.0, 1.0, n_paths=10, n_steps=2, seed=1, generator=2)


# ---------------------------------------------------------------------------- Feynman–Kac
def test_feynman_kac_se_is_the_sample_std_of_pair_means():
    """One block: mean/SE equal those of the antithetic pair means drawn with
    block_generator(seed, 0), rebuilt here step by step."""
    alpha, x, n, steps, seed = 0.6, torch.tensor([0.0, 0.7], dtype=F64), 600, 5, 4
    r = feynman_kac(None, lambda y: torch.cos(y), x, 1.0, alpha=alpha, n_paths=n,
                    n_steps=steps, seed=seed, block_size=1000)
    gen = block_generator(seed, 0)
    X = x.repeat(n, 1)
    for _ in range(steps):
        z = torch.randn(n // 2, 2, generator=gen, dtype=F64)
        X = X + math.sqrt(alpha / steps) * torch.cat([z, -z])
    Y = torch.cos(X)
    Y = 0.5 * (Y[: n // 2] + Y[n // 2:])
    torch.testing.assert_close(r.mean, Y.mean(0), rtol=1e-13, atol=0)
    torch.testing.assert_close(r.stderr, Y.std(0) / math.sqrt(n // 2), rtol=1e-12, atol=0)
    assert r.n_samples == n // 2 and r.mean.shape == (2,)


@pytest.mark.parametrize("antithetic", [True, False])
def test_feynman_kac_standard_error_is_calibrated(antithetic):
    """E[(x + √α W_T)²] = x² + αT, 50 seeds × 600 paths in blocks of 200: z-scores have std in
    [0.7, 1.3] and the 95% CI covers in 42..50 runs (binomial(50, .95): P(< 42) ≈ 2e-3)."""
    alpha, x = 0.7, 0.4
    z = []
    for seed in range(50):
        r = feynman_kac(None, lambda y: y**2, x, T, alpha=alpha, n_paths=600, n_steps=3,
                        block_size=200, seed=seed, antithetic=antithetic)
        z.append(float((r.mean - (x * x + alpha * T)) / r.stderr))
    z = np.array(z)
    assert 0.7 < z.std(ddof=1) < 1.3, z.std(ddof=1)
    assert 42 <= int((np.abs(z) < norm.ppf(0.975)).sum()) <= 50


def test_feynman_kac_follows_a_tensor_x_and_device():
    x = torch.tensor([0.0, 0.5], dtype=F64)
    r = feynman_kac(lambda t, y: -0.5 * y**2, 1.0, x, 0.5, alpha=1.0, n_paths=200, n_steps=4,
                    seed=0)
    assert r.mean.device == x.device and r.stderr.shape == (2,) and r.mean.dtype == F64
    r32 = feynman_kac(None, 1.0, 0.0, 0.5, alpha=1.0, n_paths=200, n_steps=4, seed=0,
                      dtype=torch.float32, device=torch.device("cpu"))
    assert r32.mean.dtype == F64 and float(r32.mean) == 1.0 and float(r32.stderr) == 0.0


# ----------------------------------------------------------------------------- first passage
def test_first_passage_reflection_principle_and_se():
    """BM to the level 1.2 by T = 1: 2Φ(-1.2) = 0.230139; the bridge estimator is unbiased
    at any Δt, so the 99.9% CI covers at seeds 0..4; SE = std(estimates)/sqrt(n) and the CDF
    is the block-order mean of the per-path crossing probabilities."""
    exact = reflection(1.2)
    for seed in range(5):
        r = first_passage(bm(), 1.2, 1.0, n_paths=12_000, n_steps=8, seed=seed,
                          block_size=5000)
        lo, hi = r.ci(norm.ppf(0.9995))
        assert lo < exact < hi, (seed, r.probability, r.stderr)
        est = r.estimates
        assert est.shape == (12_000,) and r.block_size == 5000 and r.seed == seed
        assert r.probability == pytest.approx(float(est.mean()), rel=1e-13)
        assert r.stderr == pytest.approx(float(est.std()) / math.sqrt(12_000), rel=1e-12)
        assert abs(float(r.cdf[-1]) - r.probability) < 1e-13


def test_first_passage_standard_error_is_calibrated():
    """40 seeds × 1000 paths (blocks of 300) of σ = 0.8 BM to 1: z-scores against the
    reflection principle have std in [0.7, 1.3]; 95% CI covers in 34..40 runs."""
    exact = reflection(1.0, sigma=0.8)
    z = []
    for seed in range(40):
        r = first_passage(bm(0.8), 1.0, 1.0, n_paths=1000, n_steps=4, seed=seed, block_size=300,
                          keep_estimates=False)
        assert r.estimates is None
        z.append((r.probability - exact) / r.stderr)
    z = np.array(z)
    assert 0.7 < z.std(ddof=1) < 1.3, z.std(ddof=1)
    assert 34 <= int((np.abs(z) < norm.ppf(0.975)).sum()) <= 40


def test_first_passage_brownian_blocks_use_their_columns():
    """Given increments, the blocks read their own columns: any block_size, same estimates."""
    grid = torch.linspace(0, 1, 9, dtype=F64)
    w = BrownianIncrements.sample(grid, 700, 1, generator=0)
    a = first_passage(bm(), 0.8, 1.0, n_paths=700, n_steps=8, brownian=w, block_size=700)
    b = first_passage(bm(), 0.8, 1.0, n_paths=700, n_steps=8, brownian=w, block_size=128)
    torch.testing.assert_close(a.estimates, b.estimates, rtol=0, atol=0)
    assert a.seed is None and a.probability == pytest.approx(b.probability, rel=1e-14)


def test_first_passage_on_cpu_device():
    r = first_passage(bm(), 1.0, 1.0, n_paths=100, n_steps=4, seed=0, device="cpu")
    for v in (r.estimates, r.cdf, r.times):
        assert v.device.type == "cpu" and v.dtype == F64
    assert r.cdf.shape == r.times.shape == (5,)


# ------------------------------------------------------------------------------------- walks
def test_walk_expectation_ci_and_sample_blocks():
    """E X_n = n(p·up − q·down) and Var X_n = n p q (up + down)²: the walk estimator's SE is
    sqrt(Var/n) to sampling accuracy and the 99.9% CI covers the mean; sample(block_size=...)
    concatenates the blocks in order, each drawn from block_generator(seed, b)."""
    rw = RandomWalk(0.3, up=2.0, down=0.5)
    r = rw.expectation(lambda X: X[-1], 30, n_walkers=20_000, block_size=3000, seed=2)
    lo, hi = r.ci(0.999)
    assert float(lo) < float(rw.mean(30)) < float(hi)
    assert float(r.stderr) == pytest.approx(math.sqrt(rw.var(30) / 20_000), rel=0.05)
    X = rw.sample(30, 2500, generator=2, block_size=1000, device="cpu")
    assert X.shape == (31, 2500) and X.device.type == "cpu" and bool((X[0] == 0).all())
    u = torch.rand(30, 500, generator=block_generator(2, 2), dtype=F64)
    torch.testing.assert_close(X[1:, 2000:], torch.where(u < 0.3, 2.0, -0.5).double().cumsum(0),
                               rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"fn\(X\) must return shape \(m, ...\)"):
        rw.expectation(lambda X: X.mean(), 3, n_walkers=10, seed=0)


def test_walk_sample_none_uses_default_generator():
    rw = RandomWalk(0.5)
    torch.manual_seed(4)
    a = rw.sample(10, 50)
    torch.manual_seed(4)
    assert torch.equal(a, rw.sample(10, 50))


# ------------------------------------------------------------------------ devices (CPU, CUDA)
def test_cpu_follow_through():
    x0 = torch.ones(8, 1, dtype=F64)
    assert solve(ou(), x0, [0.0, 1.0], dt=0.5, generator=0).device == x0.device
    w = BrownianIncrements.sample([0.0, 0.5, 1.0], 4, 1, generator=0, device="cpu")
    assert w.dW.device.type == "cpu" and w.ts.device.type == "cpu"
    path = torch.zeros(5, 3, dtype=F64)
    assert onsager_machlup_action(path, 0.3, 1.0, 0.1).device == path.device
    with pytest.raises(ValueError, match="lives on cpu but the numbers are drawn on cuda"):
        BrownianIncrements.sample([0.0, 1.0], 2, generator=torch.Generator(), device="cuda")


DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, cuda])]


@pytest.mark.parametrize("device", DEVICES)
def test_device_solve_brownian_expectation(device):
    x0 = torch.ones(4096, 1, dtype=F64, device=device)
    xs = solve(ou(), x0, [0.0, 0.5, 1.0], dt=0.05, generator=0)
    assert xs.device.type == device and xs.shape == (3, 4096, 1)
    assert torch.equal(xs, solve(ou(), x0, [0.0, 0.5, 1.0], dt=0.05, generator=0))
    gen = torch.Generator(device=device).manual_seed(1)
    assert solve(ou(), x0, [0.0, 1.0], dt=0.1, generator=gen).device.type == device
    w = BrownianIncrements.sample([0.0, 0.5, 1.0], 8, 1, levy_area=True, generator=0,
                                  device=device)
    assert w.dW.device.type == w.dZ.device.type == w.ts.device.type == device
    assert solve(ou(), x0[:8], [0.0, 1.0], method="sra1", dt=0.5, brownian=w).device == x0.device
    m, v = euler_ou_moments(20)
    r = expectation(ou(), torch.tensor([X0], dtype=F64, device=device), [0.0, T],
                    lambda xs: xs[-1, :, 0], n_paths=100_000, block_size=2**15, seed=0,
                    dt=T / 20)
    assert r.mean.device.type == device and abs(float(r.mean) - m) < 4 * float(r.stderr)
    assert float(r.stderr) == pytest.approx(math.sqrt(v / 100_000), rel=0.02)


@pytest.mark.parametrize("device", DEVICES)
def test_device_feynman_kac_first_passage_walks(device):
    from kexue.stochastic import closed_forms as cf

    r = feynman_kac(lambda t, y: -0.5 * 1.1**2 * y**2, 1.0, torch.tensor([0.5], device=device),
                    0.9, alpha=0.7, n_paths=40_000, n_steps=50, seed=0, block_size=2**14)
    exact = float(cf.feynman_kac_harmonic(np.array([0.5]), 0.9, 1.1, 0.7)[0])
    assert r.mean.device.type == device and r.mean.dtype == F64
    assert abs(float(r.mean[0]) - exact) < 4 * float(r.stderr[0])
    p = first_passage(bm(), 1.2, 1.0, n_paths=50_000, n_steps=16, seed=0, device=device)
    assert p.estimates.device.type == p.cdf.device.type == p.times.device.type == device
    assert abs(p.probability - reflection(1.2)) < 4 * p.stderr
    rw = RandomWalk(0.3, up=2.0, down=0.5)
    X = rw.sample(20, 1000, generator=0, device=device)
    assert X.device.type == device and X.shape == (21, 1000)
    assert rw.sample(20, 1000, generator=0, device=device, block_size=300).device.type == device
    e = rw.expectation(lambda X: X[-1], 20, n_walkers=50_000, seed=1, device=device)
    assert e.mean.device.type == device and abs(float(e.mean) - rw.mean(20)) < 4 * float(e.stderr)
