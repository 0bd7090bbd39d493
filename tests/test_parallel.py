"""kexue.parallel and kexue.rng: blocks, ownership, block seeds, the randomness rule; and the
distributed Monte Carlo of kexue.stochastic under 1, 2 and 3 gloo processes (spawned on CPU),
which must give bit-identical estimates and standard errors to one plain process."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from scipy import stats

from dist_helpers import free_port, member
from kexue import parallel
from kexue.rng import as_generator, block_generator, block_seed, seed_from

# ------------------------------------------------------------------- blocks and ownership


@pytest.mark.parametrize("n, block_size", [(1, 1), (10, 3), (12, 4), (1000, 1000), (7, 100)])
def test_block_ranges_tile_the_paths(n, block_size):
    ranges = parallel.block_ranges(n, block_size)
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))           # contiguous
    assert all(hi - lo == block_size for lo, hi in ranges[:-1])
    assert 1 <= ranges[-1][1] - ranges[-1][0] <= block_size
    assert len(ranges) == math.ceil(n / block_size)


@pytest.mark.parametrize("bad", [dict(n=0, block_size=1), dict(n=5, block_size=0),
                                 dict(n=2.0, block_size=1), dict(n=True, block_size=1)])
def test_block_ranges_bad_input(bad):
    with pytest.raises(ValueError, match="must be a positive int"):
        parallel.block_ranges(**bad)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_owned_blocks_cover_each_block_exactly_once(size):
    for n_blocks in range(size, 23):
        runs = [parallel.owned_blocks(n_blocks, r, size) for r in range(size)]
        flat = [b for run in runs for b in run]
        assert flat == list(range(n_blocks))                 # each once, in rank order
        lengths = [len(run) for run in runs]
        assert max(lengths) - min(lengths) <= 1 and min(lengths) >= 1


def test_more_processes_than_blocks_is_a_clear_error():
    with pytest.raises(ValueError, match=r"world size \(3 processes\) is larger than the number "
                                         r"of Monte Carlo blocks \(2\)"):
        parallel.owned_blocks(2, 0, 3)


def test_map_and_sum_blocks_in_one_process():
    assert parallel.world() == (0, 1) and parallel.is_main() and not parallel.is_distributed()
    parts = parallel.map_blocks(lambda b: torch.tensor([b, b * b], dtype=torch.float64), 4)
    assert [p.tolist() for p in parts] == [[0, 0], [1, 1], [2, 4], [3, 9]]
    x = [torch.tensor(v, dtype=torch.float64) for v in (1e16, 1.0, -1e16, 1.0)]
    # strictly left to right: ((1e16 + 1) - 1e16) + 1 = 1 in float64, not 2 or 0
    assert float(parallel.sum_blocks(x)) == float(((x[0] + x[1]) + x[2]) + x[3]) == 1.0
    with pytest.raises(ValueError, match="at least one block"):
        parallel.sum_blocks([])


# ---------------------------------------------------------------------------- block seeds
def test_block_seeds_are_distinct_deterministic_and_63_bit():
    seeds = [block_seed(s, b) for s in range(4) for b in range(500)]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= v < 2**63 for v in seeds)
    assert block_seed(3, 7) == block_seed(3, 7)
    with pytest.raises(ValueError, match="non-negative"):
        block_seed(-1, 0)


def test_block_streams_are_independent():
    """Normals of 200 blocks (2000 each): the sample correlations of neighbouring blocks are
    N(0, 1/2000)-distributed under independence (KS p > 1e-3); all draws together are N(0, 1)
    (KS); one block drawn twice is the same stream."""
    draws = torch.stack([torch.randn(2000, generator=block_generator(11, b), dtype=torch.float64)
                         for b in range(200)])                              # (200, 2000)
    z = (draws - draws.mean(1, keepdim=True)) / draws.std(1, keepdim=True)
    corr = (z[:-1] * z[1:]).sum(1) / (2000 - 1)                             # (199,)
    assert stats.kstest(corr.numpy() * math.sqrt(2000), "norm").pvalue > 1e-3
    assert stats.kstest(draws.reshape(-1).numpy(), "norm").pvalue > 1e-3
    again = torch.randn(2000, generator=block_generator(11, 5), dtype=torch.float64)
    assert torch.equal(draws[5], again)
    assert not torch.equal(draws[5], torch.randn(2000, generator=block_generator(12, 5),
                                                 dtype=torch.float64))


# ----------------------------------------------------------------------- randomness rule
def test_as_generator_rule():
    assert as_generator(None) is None
    torch.manual_seed(42)
    a = torch.randn(5, generator=as_generator(None))
    torch.manual_seed(42)
    assert torch.equal(a, torch.randn(5, generator=as_generator(None)))   # default generator
    g = torch.Generator()
    assert as_generator(g) is g
    s = as_generator(7, device="cpu")
    assert isinstance(s, torch.Generator) and s.device.type == "cpu"
    assert torch.equal(torch.randn(3, generator=s),
                       torch.randn(3, generator=torch.Generator().manual_seed(7)))
    assert as_generator(np.int64(7)).initial_seed() == 7


def test_as_generator_errors():
    with pytest.raises(ValueError, match=r"generator lives on cpu but the numbers are drawn on "
                                         r"cuda; create it with torch.Generator\(device='cuda'\)"):
        as_generator(torch.Generator(), device="cuda")
    with pytest.raises(TypeError, match="generator must be a torch.Generator, an int seed or None"):
        as_generator(np.random.default_rng(0))
    with pytest.raises(TypeError, match="noise must be a torch.Generator"):
        as_generator(1.5, name="noise")
    with pytest.raises(ValueError, match="non-negative int seed"):
        as_generator(-3)


def test_seed_from():
    assert seed_from(5) == 5
    g = torch.Generator().manual_seed(1)
    first, second = seed_from(g), seed_from(g)
    assert first != second and first == seed_from(torch.Generator().manual_seed(1))
    torch.manual_seed(9)
    a = seed_from(None)
    torch.manual_seed(9)
    assert a == seed_from(None)


# ------------------------------------------------- multi-process: kexue.stochastic estimators
N_PATHS, BLOCK = 20_000, 1000


def _compute(rank: int) -> dict:
    """Everything compared across world sizes (float64, CPU, one thread)."""
    from kexue.stochastic import SDE, RandomWalk, expectation, feynman_kac, first_passage

    out = {}
    fk = feynman_kac(lambda t, x: -0.6 * x**2, lambda x: torch.cos(x), [0.0, 0.5], 0.9,
                     alpha=0.7, n_paths=N_PATHS, n_steps=10, generator=11, block_size=BLOCK)
    out["fk_mean"], out["fk_se"] = fk.mean, fk.stderr
    bm = SDE(lambda t, x: x.new_tensor(0.3), lambda t, x: x.new_tensor(1.0), noise="additive")
    fp = first_passage(bm, 1.0, 1.0, n_paths=N_PATHS, n_steps=16, generator=5, block_size=BLOCK)
    out["fp"] = torch.tensor([fp.probability, fp.stderr], dtype=torch.float64)
    out["fp_cdf"], out["fp_est"] = fp.cdf, fp.estimates
    ex = expectation(SDE.linear(a=-1.0, d=0.5), 1.0, [0.0, 1.0], lambda xs: xs[-1, :, 0] ** 2,
                     n_paths=5000, block_size=BLOCK, seed=3, dt=0.1)
    out["ex_mean"], out["ex_se"] = ex.mean, ex.stderr
    rw = RandomWalk(0.4)
    wk = rw.expectation(lambda X: X[-1], 12, n_walkers=5000, block_size=BLOCK, seed=2)
    out["walk_mean"], out["walk_se"] = wk.mean, wk.stderr
    out["walk_sample"] = rw.sample(6, 3500, generator=4, block_size=BLOCK)  # last block short
    fp2 = first_passage(bm, 1.0, 1.0, n_paths=2500, n_steps=4, generator=6, block_size=BLOCK)
    out["fp_ragged_est"] = fp2.estimates                                  # blocks 1000, 1000, 500
    ragged = parallel.map_blocks(lambda b: (torch.arange(b + 1.0), torch.full((2, 3 - b), b)),
                                 3)                   # tuples of tensors of different sizes
    out["ragged_a"] = torch.cat([a for a, _ in ragged])
    out["ragged_b"] = torch.cat([b for _, b in ragged], dim=1)
    torch.manual_seed(100 + rank)      # None: rank 0's default generator decides the seed
    fk0 = feynman_kac(None, lambda x: x**2, 0.1, 1.0, alpha=1.0, n_paths=6000, n_steps=2,
                      block_size=BLOCK)
    out["none_mean"] = fk0.mean
    try:
        feynman_kac(None, 1.0, 0.0, 1.0, alpha=1.0, n_paths=2 * BLOCK, n_steps=1, generator=0,
                    block_size=BLOCK)
        out["too_many"] = ""
    except ValueError as e:
        out["too_many"] = str(e)
    return out


def _worker(rank: int, ports: tuple[int, int], out_dir: str) -> None:
    """One of three processes: a 3-process group, then (ranks 0, 1) a 2-process group, then
    (rank 0) one process with ``WORLD_SIZE=1`` — three world sizes for the start-up cost of
    three processes."""
    torch.set_num_threads(1)
    for world, port in ((3, ports[0]), (2, ports[1]), (1, 0)):
        if rank >= world:
            return
        with member(rank, world, port) as several:
            assert several == (world > 1)
            out = _compute(rank)
            out["world"] = torch.tensor(parallel.world())
            torch.save(out, os.path.join(out_dir, f"{world}_{rank}.pt"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``{world: [results of rank 0, 1, ...]}`` for world sizes 1, 2, 3, and the plain
    single-process results (no process group) under ``None``."""
    out_dir = str(tmp_path_factory.mktemp("dist"))
    job = mp.start_processes(_worker, args=((free_port(), free_port()), out_dir), nprocs=3,
                             join=False, start_method="spawn")
    deadline = time.monotonic() + 240
    while not job.join(timeout=1):
        if time.monotonic() > deadline:
            for p in job.processes:
                p.kill()
            pytest.fail("the multi-process jobs did not finish within 240 s")
    res = {world: [torch.load(os.path.join(out_dir, f"{world}_{r}.pt")) for r in range(world)]
           for world in (1, 2, 3)}
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res[None] = [_compute(0)]
    finally:
        torch.set_num_threads(n)
    return res


KEYS = ["fk_mean", "fk_se", "fp", "fp_cdf", "fp_est", "ex_mean", "ex_se", "walk_mean",
        "walk_se", "walk_sample", "none_mean", "fp_ragged_est", "ragged_a", "ragged_b"]


@pytest.mark.parametrize("world", [1, 2, 3])
def test_distributed_monte_carlo_is_bit_identical(runs, world):
    ref = runs[None][0]
    for rank, out in enumerate(runs[world]):
        assert out["world"].tolist() == [rank, world]
        for key in KEYS:
            assert torch.equal(out[key], ref[key]), (world, rank, key)


def test_distributed_results_are_right(runs):
    """The shared result is a correct estimate, not just a reproducible one: the drifted-BM
    passage against reference note V5, the walk mean against n(p − q)."""
    ref = runs[None][0]
    assert ref["fp_est"].shape == (N_PATHS,) and ref["walk_sample"].shape == (7, 3500)
    assert ref["fp_ragged_est"].shape == (2500,)
    assert torch.equal(ref["ragged_a"], torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 2.0]))
    assert torch.equal(ref["ragged_b"], torch.tensor([[0.0, 0, 0, 1, 1, 2]] * 2))
    v5 = 0.4183459                                                 # μ = 0.3, a = 1, T = 1
    assert abs(float(ref["fp"][0]) - v5) < 4 * float(ref["fp"][1])
    assert float(ref["fp_cdf"][-1]) == pytest.approx(float(ref["fp"][0]), abs=1e-13)
    assert float(ref["walk_mean"]) == pytest.approx(12 * (0.4 - 0.6), abs=4 * float(
        ref["walk_se"]))


def test_world_size_larger_than_blocks_is_a_clear_error(runs):
    assert [out["too_many"] for out in runs[1]] == [""]
    assert runs[2][0]["too_many"] == ""
    for out in runs[3]:
        assert "world size (3 processes) is larger than the number of Monte Carlo blocks (2)" \
            in out["too_many"]
