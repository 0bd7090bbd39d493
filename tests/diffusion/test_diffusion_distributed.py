"""Distributed Monte Carlo in kexue.diffusion: sample_n and block_size= of log_likelihood /
bits_per_dim give bit-identical results (torch.equal) for 1, 2 and 3 gloo processes and equal
the single-process call; the blocks are exactly the per-block computations with
kexue.rng.block_generator; more processes than blocks is a clear ValueError. float64, the exact
score of a Gaussian mixture, one torch thread per process."""

from __future__ import annotations

import pytest
import torch
import torch.multiprocessing as mp

from dist_helpers import free_port, member
from kexue.diffusion import (
    VPSDE,
    GaussianMixture,
    bits_per_dim,
    log_likelihood,
    sample,
    sample_n,
)
from kexue.rng import block_generator

F64 = torch.float64
T_END = 1e-2          # a cheap data end: these tests check structure, not accuracy


def _problem():
    sde = VPSDE()
    gm = GaussianMixture.ring()
    return gm, sde, gm.score_fn(sde)


def _data():
    gm, sde, _ = _problem()
    x = gm.at(sde, T_END).sample(7, 4)                                 # (7, 2)
    levels = torch.randint(0, 16, (5, 2), generator=torch.Generator().manual_seed(1))
    return x, levels


def _compute() -> dict[str, torch.Tensor]:
    """Everything the processes compute (the same calls on every rank)."""
    gm, sde, sc = _problem()
    x, levels = _data()
    p_T = gm.at(sde, sde.T)
    out = {}
    out["em"], info = sample_n(sc, sde, 10, 2, method="em", steps=8, seed=3, block_size=3,
                               dtype=F64)
    out["em_nfe"] = torch.tensor(info["nfe_per_block"])
    out["ode"], _ = sample_n(sc, sde, 10, 2, method="dpmpp_2m", steps=8, seed=3, block_size=4,
                             dtype=F64, prior=lambda rows, g: p_T.sample(rows, g))
    out["logp"], info = log_likelihood(sc, sde, x, divergence="hutchinson", rtol=1e-3,
                                       atol=1e-3, generator=5, block_size=2, t_end=T_END)
    out["z"] = info["z"]
    out["delta"] = info["delta_logp"]
    out["bpd"], info = bits_per_dim(sc, sde, levels, n_bins=16, generator=6, block_size=2,
                                    divergence="hutchinson", rtol=1e-3, atol=1e-3,
                                    t_end=T_END)
    out["bpd_logp"] = info["logp"]
    return out


def _worker(rank: int, size: int, port: int, path: str) -> None:
    torch.set_num_threads(1)
    with member(rank, size, port):
        out = _compute()
        _, sde, sc = _problem()
        try:                                              # 2 blocks for `size` processes
            sample_n(sc, sde, 2, 2, method="ddim", steps=2, block_size=1)
            out["too_many"] = "no error"
        except ValueError as e:
            out["too_many"] = str(e)
        torch.save(out, f"{path}.{rank}")


@pytest.fixture(scope="module")
def single():
    return _compute()


@pytest.mark.parametrize("size", [1, 2, 3])
def test_bit_identical_for_any_number_of_processes(size, single, tmp_path):
    # fork: the children inherit the imported modules (a fresh interpreter pays seconds of
    # imports); the parent has one torch thread and no process group, so forking is safe here
    mp.start_processes(_worker, args=(size, free_port(), str(tmp_path / "out")), nprocs=size,
                       join=True, start_method="fork")
    for rank in range(size):
        got = torch.load(f"{tmp_path / 'out'}.{rank}", weights_only=False)
        for key, ref in single.items():
            assert torch.equal(got[key], ref), (size, rank, key)
        if size == 3:
            assert "world size (3 processes) is larger than the number of Monte Carlo blocks " \
                   "(2)" in got["too_many"]
        else:
            assert got["too_many"] == "no error"


def test_sample_n_is_the_blocks_of_sample():
    """Block b: x_T from block_generator(seed, b), then sample() with the same generator; the
    blocks concatenated in order, the last one shorter."""
    gm, sde, sc = _problem()
    x, info = sample_n(sc, sde, 10, 2, method="ancestral", steps=5, seed=7, block_size=4,
                       dtype=F64, t_end=1e-2)
    parts = []
    for b, (lo, hi) in enumerate([(0, 4), (4, 8), (8, 10)]):
        g = block_generator(7, b)
        x_T = sde.prior_sample((hi - lo, 2), g, dtype=F64)
        parts.append(sample(sc, sde, x_T, method="ancestral", steps=5, generator=g,
                            t_end=1e-2)[0])
    assert torch.equal(x, torch.cat(parts))
    assert info["n_blocks"] == 3 and info["nfe"] == 3 * 6 and info["world_size"] == 1


def test_sample_n_keeps_the_sample_shape_and_checks_input():
    gm, sde, sc = _problem()

    def flat_score(x, t):                                     # (batch, 1, 2) images
        return sc(x.reshape(len(x), 2), t).reshape(x.shape)

    y, _ = sample_n(flat_score, sde, 5, (1, 2), method="ddim", steps=3, seed=1, block_size=2,
                    dtype=F64)
    z, _ = sample_n(sc, sde, 5, 2, method="ddim", steps=3, seed=1, block_size=2, dtype=F64)
    assert y.shape == (5, 1, 2) and torch.equal(y.reshape(5, 2), z)
    with pytest.raises(ValueError, match="n must be a positive int"):
        sample_n(sc, sde, 0, 2, method="ddim", steps=3)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        sample_n(sc, sde, 4, 2, method="ddim", steps=3, block_size=0)
    with pytest.raises(ValueError, match="shape must be a positive int"):
        sample_n(sc, sde, 4, (2, 0), method="ddim", steps=3)
    with pytest.raises(TypeError, match="pass seed="):
        sample_n(sc, sde, 4, 2, method="em", steps=3, generator=0)
    with pytest.raises(ValueError, match=r"prior\(rows, generator\) must return"):
        sample_n(sc, sde, 4, 2, method="ddim", steps=3, prior=lambda r, g: torch.zeros(r, 3))
    with pytest.raises(ValueError, match="unknown method"):
        sample_n(sc, sde, 4, 2, method="euler", steps=3)


def test_blocked_likelihood_is_the_blocks_of_the_plain_call():
    """block_size: each block is log_likelihood on its rows with block_generator(seed, b) probes;
    for the exact divergence the values agree with one solve of the whole batch to the solver
    tolerance."""
    gm, sde, sc = _problem()
    x, _ = _data()
    kw = dict(divergence="hutchinson", n_probes=2, rtol=1e-3, atol=1e-3, t_end=T_END)
    lp, info = log_likelihood(sc, sde, x, generator=5, block_size=3, **kw)
    parts = [log_likelihood(sc, sde, x[lo:hi], generator=block_generator(5, b), **kw)
             for b, (lo, hi) in enumerate([(0, 3), (3, 6), (6, 7)])]
    assert torch.equal(lp, torch.cat([p[0] for p in parts]))
    assert torch.equal(info["z"], torch.cat([p[1]["z"] for p in parts]))
    assert info["nfe"] == sum(p[1]["nfe"] for p in parts) and info["nfe_per_block"][2] > 0
    exact_b, _ = log_likelihood(sc, sde, x, rtol=1e-6, atol=1e-6, t_end=T_END, block_size=2)
    exact, _ = log_likelihood(sc, sde, x, rtol=1e-6, atol=1e-6, t_end=T_END)
    torch.testing.assert_close(exact_b, exact, rtol=0, atol=1e-4)
    assert not torch.equal(exact_b, exact)               # blocks take their own adaptive steps
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        log_likelihood(sc, sde, x, block_size=-1)


def test_blocked_bits_per_dim_is_the_blocks_of_the_plain_call():
    """Block b dequantises with block_generator(seed, b), then draws its probes from it."""
    _, sde, sc = _problem()
    _, levels = _data()
    kw = dict(n_bins=16, divergence="hutchinson", rtol=1e-3, atol=1e-3, t_end=T_END)
    bpd, info = bits_per_dim(sc, sde, levels, generator=6, block_size=2, **kw)
    parts = [bits_per_dim(sc, sde, levels[lo:hi], generator=block_generator(6, b), **kw)[0]
             for b, (lo, hi) in enumerate([(0, 2), (2, 4), (4, 5)])]
    assert torch.equal(bpd, torch.cat(parts))
    assert info["offset"] == 3.0 and info["block_size"] == 2
