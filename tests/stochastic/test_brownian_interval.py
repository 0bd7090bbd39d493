"""BrownianInterval (virtual Brownian tree; Li et al. 2020, arXiv:2001.01328): exact additivity,
the Brownian law of increments (variance, independence, the (W, ∫W) pair) by fixed-seed
statistical tests, query-order invariance, bounded cache, the counter-based normals, pathwise
strong convergence of every solver on one path (fitted slope = declared order), duck-typed
Brownian callables (torchsde's BrownianInterval), bad input. All float64.

Statistical tests: each z-score bound is 4 SE (two-sided p ≈ 6e-5 under the null) and each
chi-square/KS test uses p > 1e-3, at fixed seeds, so a correct tree passes deterministically and a
wrong variance (e.g. a bridge with h/2 instead of h/4) fails by tens of SE.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from kexue.stochastic import SDE, BrownianIncrements, BrownianInterval, solve
from kexue.stochastic._counter_rng import _mix, counter_normals
from kexue.stochastic._ito_stratonovich import ito_to_stratonovich
from kexue.stochastic._solvers import METHODS

F64 = torch.float64
MU, SIGMA = 0.5, 0.5


def _slope(dts, errs) -> float:
    """Least-squares slope of log(err) against log(dt)."""
    return float(np.polyfit(np.log(dts), np.log(errs), 1)[0])


def gbm(sde_type: str = "ito") -> SDE:
    drift = MU if sde_type == "ito" else MU - SIGMA**2 / 2
    return SDE(lambda t, x: drift * x, lambda t, x: SIGMA * x,
               diffusion_dx=lambda t, x: torch.full_like(x, SIGMA), sde_type=sde_type)


# --------------------------------------------------------------------------- exact identities
@pytest.mark.parametrize("levy", [None, "space-time"])
def test_additivity_exact(levy):
    """W(a,c) = W(a,b) + W(b,c) to 1e-12 at dyadic and non-dyadic times; with Lévy area also
    Z(a,c) = Z(a,b) + Z(b,c) + (c - b) W(a,b) (Z = ∫(W - W(a)) du)."""
    bm = BrownianInterval(-1.0, 2.0, (7, 3), seed=11, levy_area=levy, tol=3 * 2.0**-12)
    rng = np.random.default_rng(0)
    triples = [(-1.0, 0.5, 2.0), (-0.25, 0.5, 1.25)] + \
        [tuple(np.sort(rng.uniform(-1, 2, 3))) for _ in range(20)]
    for a, b, c in triples:
        if levy is None:
            ac, ab, bc = bm(a, c), bm(a, b), bm(b, c)
            torch.testing.assert_close(ac, ab + bc, rtol=0, atol=1e-12)
        else:
            (ac, zac), (ab, zab), (bc, zbc) = (bm(a, c, return_U=True),
                                               bm(a, b, return_U=True), bm(b, c, return_U=True))
            torch.testing.assert_close(ac, ab + bc, rtol=0, atol=1e-12)
            torch.testing.assert_close(zac, zab + zbc + (c - b) * ab, rtol=0, atol=1e-12)


def test_grid_increments_equal_queries_and_sum_to_total():
    """``increments(grid)`` (vectorised, no cache) equals per-query ``bm(s, t)`` to 1e-13, and the
    increments over a grid sum to ``W(t0, t1)``."""
    bm = BrownianInterval(0.0, 3.0, (5, 2), seed=3, levy_area="space-time", tol=3 * 2.0**-14)
    grid = np.concatenate([np.linspace(0, 1.5, 13), [1.7, 2.05, 2.5, 3.0]])
    dw, dz = bm.increments(grid)
    assert dw.shape == dz.shape == (grid.size - 1, 5, 2)
    for k in range(grid.size - 1):
        w, z = bm(grid[k], grid[k + 1], return_U=True)
        torch.testing.assert_close(dw[k], w, rtol=0, atol=1e-13)
        torch.testing.assert_close(dz[k], z, rtol=0, atol=1e-13)
    torch.testing.assert_close(dw.sum(0), bm(0.0, 3.0), rtol=0, atol=1e-13)


def test_grid_chunking_does_not_change_the_path(monkeypatch):
    """``increments`` descends the grid in chunks of points to bound its work memory; chunks of
    7 points give bit-identical increments to one chunk."""
    import kexue.stochastic._brownian_interval as bi

    bm = BrownianInterval(0.0, 1.0, (50, 3), seed=9, levy_area="space-time")
    grid = np.linspace(0, 1, 301)
    whole = bm.increments(grid)
    monkeypatch.setattr(bi, "_CHUNK_NUMBERS", 150 * 7)
    parts = bm.increments(grid)
    assert torch.equal(whole[0], parts[0]) and torch.equal(whole[1], parts[1])


def test_query_order_and_cache_invariance():
    """The path is a pure function of the seed: forward, reversed and shuffled queries, and
    cache sizes 1 and 4096, give bit-identical increments; dtype only casts the float64 path."""
    rng = np.random.default_rng(5)
    pairs = [tuple(np.sort(rng.uniform(0, 1, 2))) for _ in range(60)] + \
        [(k / 16, (k + 1) / 16) for k in range(16)]
    ref = BrownianInterval(0.0, 1.0, (3, 2), seed=42, levy_area="space-time", tol=2.0**-12)
    forward = [ref(s, t, return_U=True) for s, t in pairs]
    for order, cache in ((list(reversed(range(len(pairs)))), 1),
                         (list(rng.permutation(len(pairs))), 4096)):
        bm = BrownianInterval(0.0, 1.0, (3, 2), seed=42, levy_area="space-time",
                              cache_size=cache, tol=2.0**-12)
        got = {i: bm(*pairs[i], return_U=True) for i in order}
        for i, (w, z) in enumerate(forward):
            assert torch.equal(got[i][0], w) and torch.equal(got[i][1], z)
    f32 = BrownianInterval(0.0, 1.0, (3, 2), seed=42, dtype=torch.float32,
                           levy_area="space-time", tol=2.0**-12)
    for (s, t), (w, z) in zip(pairs[:10], forward[:10]):
        w32, z32 = f32(s, t, return_U=True)
        assert w32.dtype == z32.dtype == torch.float32
        assert torch.equal(w32, w.to(torch.float32)) and torch.equal(z32, z.to(torch.float32))


def test_seeds_and_generators():
    """Same seed → same path; another seed → another; generator=int equals seed=int; a
    torch.Generator or None (PyTorch's default generator) is turned into a seed by one draw."""
    a = BrownianInterval(0.0, 1.0, (4, 1), seed=7)(0.0, 1.0)
    assert torch.equal(a, BrownianInterval(0.0, 1.0, (4, 1), seed=7)(0.0, 1.0))
    assert torch.equal(a, BrownianInterval(0.0, 1.0, (4, 1), generator=7)(0.0, 1.0))
    assert not torch.equal(a, BrownianInterval(0.0, 1.0, (4, 1), seed=8)(0.0, 1.0))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert BrownianInterval(0, 1, (2, 1), generator=g1).seed == \
        BrownianInterval(0, 1, (2, 1), generator=g2).seed
    torch.manual_seed(3)
    s1 = BrownianInterval(0, 1, (2, 1)).seed
    torch.manual_seed(3)
    assert BrownianInterval(0, 1, (2, 1)).seed == s1


def test_counter_normals_hash_and_law():
    """The SplitMix64 finaliser in NumPy's wrapping uint64 arithmetic equals the same integer
    function in Python's exact integers mod 2^64; the normals pass KS against N(0, 1) (p > 1e-3)
    and are uncorrelated across nodes and streams (4 SE)."""
    mask = (1 << 64) - 1

    def mix_py(z: int) -> int:
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    zs = [0, 1, 12345, (1 << 64) - 1, 0x9E3779B97F4A7C15 * 3 & mask]
    got = _mix(np.array(zs, dtype=np.uint64))
    assert [int(v) for v in got] == [mix_py(z) for z in zs]
    key = np.uint64(987654321)
    z = counter_normals(key, np.arange(1, 201), 0, 500)                  # (200, 500)
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    z1 = counter_normals(key, np.arange(1, 201), 1, 500)
    n = z.size
    for a, b in ((z[:-1], z[1:]), (z, z1)):                               # nodes, streams
        r = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        assert abs(r) < 4 / math.sqrt(n)
    assert np.array_equal(z, counter_normals(key, np.arange(1, 201), 0, 500))


# --------------------------------------------------------------------------- Brownian law
@pytest.mark.parametrize("levy", [None, "space-time"])
def test_increment_variance_and_normality(levy):
    """Var W(s,t) = (t - s) I for dyadic and non-dyadic (s, t): chi-square test of the sample
    variance of 24000 iid components (p > 1e-3 two-sided), KS normality (p > 1e-3). The tree's
    leaves (tol = 2^-22) are far shorter than the shortest query (1e-4), as the docstring asks:
    with tol comparable to t - s the interpolated end points lose up to tol/4 of variance each
    (at tol = 2^-15 this test measures 0.95 (t - s) and fails)."""
    n, d = 8000, 3
    bm = BrownianInterval(0.0, 2.0, (n, d), seed=2024, levy_area=levy, tol=2.0**-22)
    for s, t in ((0.0, 2.0), (0.5, 0.75), (0.1, 0.37), (1.3, 1.3001), (0.2, 1.9)):
        w = bm(s, t).reshape(-1).numpy() / math.sqrt(t - s)              # ~ N(0, 1)
        chi2 = float((w * w).sum())
        p = stats.chi2.cdf(chi2, w.size)
        assert 1e-3 < p < 1 - 1e-3, (s, t, chi2 / w.size)
        assert stats.kstest(w, "norm").pvalue > 1e-3, (s, t)


def test_disjoint_increments_independent():
    """Increments over disjoint intervals and distinct components are uncorrelated (4 SE) and
    W(0,1)^2 is uncorrelated with W(1,2)^2 (4 SE): independence beyond second moments."""
    n = 20000
    bm = BrownianInterval(0.0, 2.0, (n, 2), seed=99)
    cuts = [0.0, 0.3, 0.5, 1.0, 1.37, 2.0]
    inc = torch.stack([bm(a, b) for a, b in zip(cuts[:-1], cuts[1:])])  # (5, n, 2)
    z = (inc / torch.tensor(np.diff(cuts), dtype=F64).sqrt().view(-1, 1, 1)).reshape(5, n * 2)
    intervals = torch.corrcoef(z)                                        # (5, 5)
    assert float(intervals[~torch.eye(5, dtype=torch.bool)].abs().max()) < 4 / math.sqrt(2 * n)
    parts = torch.corrcoef(inc.permute(0, 2, 1).reshape(10, n))         # (interval, component)
    assert float(parts[~torch.eye(10, dtype=torch.bool)].abs().max()) < 4 / math.sqrt(n)
    sq = z**2
    r = float(torch.corrcoef(sq[[2, 4]])[0, 1])
    assert abs(r) < 4 / math.sqrt(2 * n)


def test_levy_pair_law_and_bridge():
    """(W, Z) over [s, t] with Z = ∫(W - W(s)): Var W = h, Cov(W, Z) = h²/2, Var Z = h³/3 (4 SE)
    on a dyadic and a non-dyadic interval; the midpoint given the endpoints has the bridge
    variance h/4: Var(W(s,m) - W(s,t)/2) = h/4 (4 SE)."""
    n = 30000
    bm = BrownianInterval(0.0, 1.0, (n, 1), seed=5, levy_area="space-time", tol=2.0**-18)
    for s, t in ((0.25, 0.5), (0.3, 0.71)):
        h = t - s
        w, z = (v.reshape(-1) for v in bm(s, t, return_U=True))
        for est, exact in ((w * w, h), (w * z, h**2 / 2), (z * z, h**3 / 3)):
            assert abs(float(est.mean()) - exact) < 4 * float(est.std()) / math.sqrt(n)
        m = (s + t) / 2
        b = (bm(s, m) - 0.5 * bm(s, t)).reshape(-1)
        assert abs(float((b * b).mean()) - h / 4) < 4 * float((b * b).std()) / math.sqrt(n)


# --------------------------------------------------------------------------- memory
def _random_queries(bm: BrownianInterval, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    u = np.round(np.sort(rng.uniform(0, 1, (n, 2)), axis=1) * 64) / 64  # dyadic, depth 6
    for s, t in u:
        if s < t:
            bm(float(s), float(t))


def _tree() -> BrownianInterval:
    """A depth-6 tree (63 inner nodes) with ``cache_size=16``: it evicts all the time."""
    return BrownianInterval(0.0, 1.0, (16, 2), seed=1, cache_size=16, tol=2.0**-6)


def test_bounded_cache_and_memory():
    """10^4 random queries: the cache holds at most ``cache_size`` nodes at every checkpoint
    and the bytes of path values held stay under the documented bound (16·2·8 bytes per array,
    2 + 4·16 + 4 + 6·6 arrays), the same after 1000 and after 10^4 queries."""
    bm = _tree()
    bound = (2 + 4 * 16 + 4 + 6 * 6) * 16 * 2 * 8
    held = []
    for k in range(10):
        _random_queries(bm, 1000, k)
        assert bm.cache_len == 16                   # full: evictions happen all the time
        held.append(bm.held_nbytes)
        assert held[-1] <= bound
    assert max(held) <= bound and held[-1] <= max(held[:2]) + 4 * 16 * 2 * 8


@pytest.mark.slow
def test_bounded_cache_million_queries():
    """10^6 queries (the issue's figure): the cache stays at ``cache_size``, the held path
    values under the documented bound, and the process's peak resident memory grows by less
    than 8 MB between query 10^5 and query 10^6 (``ru_maxrss``; tracemalloc would slow the
    loop several-fold). 334 s wall, 140 s CPU on the shared 2-core machine (load 5–9)."""
    import resource

    bm = _tree()
    bound = (2 + 4 * 16 + 4 + 6 * 6) * 16 * 2 * 8
    _random_queries(bm, 100_000, 0)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss          # kB on Linux
    for k in range(9):
        _random_queries(bm, 100_000, k + 1)
        assert bm.cache_len <= 16 and bm.held_nbytes <= bound
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rss1 - rss0 < 8 * 1024, (rss0, rss1)


# --------------------------------------------------------------------------- solvers on one path
@pytest.fixture(scope="module")
def path_tree():
    return BrownianInterval(0.0, 1.0, (3000, 1), seed=20240601)


@pytest.mark.parametrize("name", ["euler", "milstein", "heun", "midpoint"])
def test_strong_order_gbm_on_brownian_interval(path_tree, name):
    """GBM on dt = 2^-3..2^-8, all driven by one BrownianInterval; error against the exact
    S(T) = exp((μ - σ²/2)T + σ W(0, T)) from the same tree; fitted slope within 0.1 of the
    method's declared strong order (Euler ½, Milstein/Heun/midpoint 1). Heun and midpoint get
    the Itô GBM and convert it to Stratonovich inside solve."""
    method = METHODS[name]
    exact = torch.exp((MU - SIGMA**2 / 2) + SIGMA * path_tree(0.0, 1.0))
    x0 = torch.ones(3000, 1, dtype=F64)
    dts = 2.0 ** -np.arange(3, 9)
    errs = [float((solve(gbm(), x0, [0.0, 1.0], method=name, dt=dt, brownian=path_tree)[-1]
                   - exact).abs().mean()) for dt in dts]
    slope = _slope(dts, errs)
    assert abs(slope - method.strong_order_for(gbm())) < 0.1, (slope, errs)


def test_strong_order_sra1_against_fine_solution():
    """Additive noise, nonlinear drift: SRA1 (needs the tree's Lévy area) on dt = 2^-2..2^-6
    converges to its own fine solution (dt = 2^-10, error 2^-6 of the finest level's) on the
    same tree with slope 1.5 ± 0.15."""
    tree = BrownianInterval(0.0, 1.0, (1500, 1), seed=7, levy_area="space-time")
    sde = SDE(lambda t, x: torch.cos(3 * t) - torch.sin(x),
              lambda t, x: (2.0 * (1.0 + t)).expand(1, 1), noise="additive")
    x0 = torch.full((1500, 1), 0.5, dtype=F64)
    ref = solve(sde, x0, [0.0, 1.0], method="sra1", dt=2.0**-10, brownian=tree)[-1]
    dts = 2.0 ** -np.arange(2, 7)
    errs = [float((solve(sde, x0, [0.0, 1.0], method="sra1", dt=dt, brownian=tree)[-1]
                   - ref).abs().mean()) for dt in dts]
    assert abs(_slope(dts, errs) - 1.5) < 0.15, (_slope(dts, errs), errs)


def test_brownian_interval_equals_its_restriction():
    """solve with a BrownianInterval equals solve with its BrownianIncrements restriction on a
    fine grid (bit for bit up to 1e-14), and with a duck-typed callable bm(s, t) (the torchsde
    protocol, here a thin wrapper) to 1e-13, including sra1 through return_U=True."""
    bm = BrownianInterval(0.0, 1.0, (50, 1), seed=4, levy_area="space-time")
    fine = bm.restrict(np.linspace(0, 1, 65))
    x0 = torch.ones(50, 1, dtype=F64)

    class TorchsdeLike:                 # torchsde.BrownianInterval's call protocol
        def __call__(self, ta, tb, return_U=False):  # noqa: N803
            return bm(ta, tb, return_U=return_U)

    add = SDE(lambda t, x: -x, lambda t, x: x.new_tensor(0.7), noise="additive")
    for sde, name in ((gbm(), "euler"), (gbm(), "milstein"), (add, "sra1")):
        a = solve(sde, x0, [0.0, 0.5, 1.0], method=name, dt=1 / 16, brownian=bm)
        b = solve(sde, x0, [0.0, 0.5, 1.0], method=name, dt=1 / 16, brownian=fine)
        c = solve(sde, x0, [0.0, 0.5, 1.0], method=name, dt=1 / 16, brownian=TorchsdeLike())
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)
        torch.testing.assert_close(a, c, rtol=0, atol=1e-13)


def test_real_torchsde_brownian_interval():
    """torchsde's own BrownianInterval is accepted (duck-typed) when torchsde is installed: the
    solve matches Euler on the increments queried from it."""
    torchsde = pytest.importorskip("torchsde")
    bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(20, 1), dtype=F64, entropy=3)
    x0 = torch.ones(20, 1, dtype=F64)
    got = solve(gbm(), x0, [0.0, 1.0], dt=0.25, brownian=bm)
    x = x0
    for k in range(4):
        x = x + MU * x * 0.25 + SIGMA * x * bm(k / 4, (k + 1) / 4)
    torch.testing.assert_close(got[-1], x, rtol=1e-12, atol=1e-12)


def test_heun_on_stratonovich_equals_converted():
    """The Stratonovich form built by ito_to_stratonovich and an SDE declared with
    sde_type='stratonovich' give identical Heun solutions on one tree."""
    bm = BrownianInterval(0.0, 1.0, (30, 1), seed=8)
    x0 = torch.ones(30, 1, dtype=F64)
    a = solve(ito_to_stratonovich(gbm()), x0, [0.0, 1.0], method="heun", dt=1 / 32, brownian=bm)
    b = solve(gbm("stratonovich"), x0, [0.0, 1.0], method="heun", dt=1 / 32, brownian=bm)
    torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


# --------------------------------------------------------------------------- bad input
def test_bad_queries_and_arguments():
    bm = BrownianInterval(0.0, 1.0, (2, 1), seed=0)
    with pytest.raises(ValueError, match=r"need s < t.*got s=0\.5, t=0\.5.*Swap"):
        bm(0.5, 0.5)
    with pytest.raises(ValueError, match=r"need s < t.*got s=0\.7, t=0\.2"):
        bm(0.7, 0.2)
    with pytest.raises(ValueError, match=r"t=1\.5 is outside the Brownian interval \[t0, t1\] = "
                                         r"\[0\.0, 1\.0\]; build the BrownianInterval over"):
        bm(0.5, 1.5)
    with pytest.raises(ValueError, match=r"s=-0\.1 is outside the Brownian interval"):
        bm(-0.1, 0.5)
    with pytest.raises(ValueError, match=r"return_U needs the Lévy area.*levy_area='space-time'"):
        bm(0.0, 0.5, return_U=True)
    with pytest.raises(ValueError, match=r"ts: time 1\.25 is outside the Brownian interval"):
        bm.increments([0.0, 0.5, 1.25])
    with pytest.raises(ValueError, match=r"t0 must be < t1"):
        BrownianInterval(1.0, 0.0, (2, 1), seed=0)
    with pytest.raises(ValueError, match=r"either seed= or generator="):
        BrownianInterval(0.0, 1.0, (2, 1), seed=0, generator=1)
    with pytest.raises(ValueError, match=r"levy_area must be one of"):
        BrownianInterval(0.0, 1.0, (2, 1), levy_area="davie")
    with pytest.raises(ValueError, match=r"tol must be in \(0, t1 - t0\]"):
        BrownianInterval(0.0, 1.0, (2, 1), tol=0.0)
    with pytest.raises(ValueError, match=r"shape must have positive sizes"):
        BrownianInterval(0.0, 1.0, (0, 1))
    with pytest.raises(ValueError, match=r"cache_size must be a positive int"):
        BrownianInterval(0.0, 1.0, (2, 1), cache_size=0)
    with pytest.raises(TypeError, match=r"t0 must be a real number"):
        BrownianInterval("0", 1.0, (2, 1))


def test_bad_brownian_interval_in_solve():
    x0 = torch.ones(2, 1, dtype=F64)
    add = SDE(lambda t, x: -x, lambda t, x: x.new_tensor(0.7), noise="additive")
    short = BrownianInterval(0.0, 0.5, (2, 1), seed=0)
    with pytest.raises(ValueError, match=r"covers \[0\.0, 0\.5\] but the solve runs over "
                                         r"\[0\.0, 1\.0\]; build it over the whole"):
        solve(gbm(), x0, [0.0, 1.0], dt=0.1, brownian=short)
    with pytest.raises(ValueError, match=r"'sra1' needs the space-time integral dZ; build the "
                                         r"BrownianInterval with levy_area='space-time'"):
        solve(add, x0, [0.0, 1.0], method="sra1", brownian=BrownianInterval(0, 1, (2, 1)))
    with pytest.raises(ValueError, match=r"\(batch, m\) = \(3, 1\), but the solve needs "
                                         r"\(2, 1\)"):
        solve(gbm(), x0, [0.0, 1.0], dt=0.5, brownian=BrownianInterval(0, 1, (3, 1), seed=0))
    with pytest.raises(ValueError, match=r"has shape \(2,\); the solve needs \(batch, m\)"):
        solve(gbm(), x0, [0.0, 1.0], dt=0.5, brownian=BrownianInterval(0, 1, (2,), seed=0))
    assert isinstance(BrownianInterval(0, 1, (2, 1), seed=0).restrict([0.0, 1.0]),
                      BrownianIncrements)


@pytest.mark.gpu
def test_cuda_path_equals_cpu_path():
    """The tree is computed on the host, so a CUDA BrownianInterval returns the CPU path exactly
    (increments and grid increments), and solve on CUDA accepts it and matches the CPU solve."""
    cpu = BrownianInterval(0.0, 1.0, (64, 2), seed=3, levy_area="space-time")
    gpu = BrownianInterval(0.0, 1.0, (64, 2), seed=3, levy_area="space-time", device="cuda")
    for s, t in ((0.0, 1.0), (0.1, 0.37), (0.25, 0.5)):
        w, z = gpu(s, t, return_U=True)
        assert w.device.type == "cuda"
        wc, zc = cpu(s, t, return_U=True)
        assert torch.equal(w.cpu(), wc) and torch.equal(z.cpu(), zc)
    assert torch.equal(gpu.increments(np.linspace(0, 1, 33))[0].cpu(),
                       cpu.increments(np.linspace(0, 1, 33))[0])
    x0 = torch.ones(64, 2, dtype=F64)
    a = solve(gbm(), x0.cuda(), [0.0, 1.0], method="milstein", dt=1 / 32, brownian=gpu)
    b = solve(gbm(), x0, [0.0, 1.0], method="milstein", dt=1 / 32, brownian=cpu)
    torch.testing.assert_close(a.cpu(), b, rtol=1e-12, atol=1e-12)
