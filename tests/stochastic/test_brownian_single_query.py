"""BrownianInterval's single query (one backward sweep of bridge coefficients over the levels,
kexue.fm-independent; the virtual Brownian tree of Li et al. 2020, arXiv:2001.01328) equals the
level-by-level descent of ``increments`` at the default depth 20, at random, dyadic and end
times, in any order, with and without Lévy area. float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue.stochastic import BrownianInterval


@pytest.mark.parametrize("levy", [None, "space-time"])
def test_single_queries_equal_the_level_by_level_descent(levy):
    rng = np.random.default_rng(7)
    pts = np.concatenate([rng.uniform(-0.5, 1.5, 40), [-0.5, 1.5, 0.5, 0.25, 0.75, 1.0 / 1024,
                                                        -0.5 + 2.0 * 3 / 2**20]])
    grid = np.unique(pts)                                    # (n+1,), inside [t0, t1]
    ref = BrownianInterval(-0.5, 1.5, (6, 3), seed=123, levy_area=levy)
    dw_ref, dz_ref = ref.increments(grid)
    assert float(dw_ref.abs().max()) > 0.1                   # a real path
    bm = BrownianInterval(-0.5, 1.5, (6, 3), seed=123, levy_area=levy, cache_size=8)
    for k in rng.permutation(grid.size - 1):                 # random order of the queries
        if levy is None:
            w = bm(grid[k], grid[k + 1])
        else:
            w, z = bm(grid[k], grid[k + 1], return_U=True)
            torch.testing.assert_close(z, dz_ref[k], rtol=0, atol=1e-13)
        torch.testing.assert_close(w, dw_ref[k], rtol=0, atol=1e-13)


def test_query_draws_only_below_the_shared_levels(monkeypatch):
    """Grid queries at dt = 2^-10 (depth 20): after the first, each draws the nodes of the
    levels below the one its path shares with the previous point — on average about
    log2(dt / tol) = 10 (at most 20), not the whole depth."""
    import kexue.stochastic._brownian_interval as bi

    drawn = []
    real = bi._counter_rows

    def counting(key, counters, n):
        drawn.append(len(counters))
        return real(key, counters, n)
    monkeypatch.setattr(bi, "_counter_rows", counting)
    bm = BrownianInterval(0.0, 1.0, (4, 1), seed=1)
    drawn.clear()                                            # the root, drawn at construction
    grid = (np.arange(1, 201) + 0.37) / 1024                 # non-dyadic: full depth 20
    bm(0.0, float(grid[0]))
    first = sum(drawn)
    drawn.clear()
    for a, b in zip(grid[:-1], grid[1:]):
        bm(float(a), float(b))
    assert first == 20
    assert len(drawn) == grid.size - 1                       # one vectorised draw per query
    assert 9.5 <= np.mean(drawn) <= 12.0 and max(drawn) <= 20
