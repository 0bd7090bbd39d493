"""``n`` samples of a diffusion model in seeded blocks shared across processes
(:func:`sample_n`; kexue.fm 9209/9228), optionally each block on one Brownian tree (issue 18)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import parallel
from ..devices import infer_device
from ..rng import block_generator, block_seed
from ..stochastic import BrownianInterval
from ._blocks import gather_rows
from ._checks import check_score_and_sde
from ._sampling_core import ScoreFn
from ._sde import GaussianPathSDE

__all__ = ["sample_n", "BROWNIAN_MODES"]

#: the noise of :func:`sample_n`'s stochastic samplers: fresh draws per step, or one Brownian tree
BROWNIAN_MODES = ("increments", "tree")


def sample_n(score_fn: ScoreFn, sde: GaussianPathSDE, n: int, shape: int | tuple[int, ...], *,
             method: str, steps: int | None = None, seed: torch.Generator | int | None = 0,
             block_size: int = 1024, device: torch.device | str | None = None,
             dtype: torch.dtype | None = None,
             prior: Callable[[int, torch.Generator], torch.Tensor] | None = None,
             brownian: str | None = None,
             **sample_kwargs: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """``n`` samples by :func:`sample`, cut into seeded blocks and shared across processes — the
    same ``(n, *shape)`` result, bit for bit, for any number of processes.

    Source: kexue.fm archives 9209 and 9228; Song et al. 2021 (arXiv:2011.13456).

    Rows are cut into fixed blocks of ``block_size`` (:func:`kexue.parallel.block_ranges`);
    block ``b`` uses one generator, :func:`kexue.rng.block_generator` ``(seed, b)`` on
    ``device``, first for its prior draw ``x_T`` and then for the sampler's noise. Inside a
    process group (``torchrun``, :func:`kexue.parallel.init_from_env`) each rank samples its own
    blocks and the blocks are all-gathered in block order, so every rank returns all ``n``
    samples; without one, everything runs here. Results match across process counts on the
    same kind of device and thread count (a block's own arithmetic must not change).

    Args:
        score_fn, sde, method, steps: as for :func:`sample`.
        n: number of samples, ``>= 1``.
        shape: the shape of one sample (an int ``D`` for flat data).
        seed: an int (or a generator / ``None``, from which one seed is drawn on rank 0 and
            broadcast, see :func:`kexue.rng.seed_from`).
        block_size: rows per block; the number of processes may not exceed the number of blocks
            ``ceil(n / block_size)``.
        device: where to sample (default PyTorch's default device); checked by
            :func:`kexue.devices.resolve_device`.
        dtype: floating dtype of the samples (default ``torch.get_default_dtype()``).
        prior: ``prior(rows, generator) -> (rows, *shape)`` draws a block's starting states
            (e.g. the exact ``p_T`` of a :class:`GaussianMixture`); default
            ``sde.prior_sample``.
        brownian: the noise of stochastic samplers: ``None``/``"increments"`` — fresh normal
            draws per step from the block's generator; ``"tree"`` — each block's noise read off
            one :class:`kexue.stochastic.BrownianInterval` on ``[0, T]`` (float64, on ``device``)
            seeded by ``block_seed(block_seed(seed, b), 0)`` (:func:`kexue.rng.block_seed`), so
            a block's samples change little when only ``steps`` changes (issue 18; the
            "Brownian tree noise sampler" of k-diffusion). ``pc``'s corrector still draws from
            the block's generator.
        **sample_kwargs: the other options of :func:`sample` (``grid``, ``t_end``, ``eta``, …;
            not ``generator``, which the blocks own).

    Returns:
        ``(x, info)``: ``x (n, *shape)`` on ``device``; ``info`` has ``"nfe"`` (summed over
        blocks), ``"nfe_per_block"``, ``"n_blocks"``, ``"block_size"``, ``"seed"``,
        ``"world_size"``, ``"brownian"``, and ``"method"``, ``"grid"``, ``"t_final"``, ``"ts"``
        of the last block sampled here.

    Raises:
        TypeError: ``generator`` or ``x_T`` among ``sample_kwargs``; ``brownian`` not a string
            or ``None``; the errors of :func:`sample`.
        ValueError: ``n`` or ``block_size`` not a positive int, a bad ``shape``, an unknown
            ``brownian`` mode, ``"tree"`` with a method that draws no noise, more processes than
            blocks, a ``prior`` returning the wrong shape; the errors of :func:`sample`.
    """
    check_score_and_sde(score_fn, sde)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (number of samples); got {n!r}")
    if "generator" in sample_kwargs:
        raise TypeError("sample_n draws from per-block generators derived from seed; pass "
                        "seed=... instead of generator=...")
    if "x_T" in sample_kwargs:
        raise TypeError("sample_n draws x_T itself (per block, from prior); use sample() to "
                        "start from given states")
    if brownian is not None and not isinstance(brownian, str):
        raise TypeError(f"sample_n's brownian must be 'increments', 'tree' or None (each block "
                        f"gets its own seeded path); got {type(brownian).__name__}. To drive "
                        "samples by a path of your own call sample(..., brownian=path).")
    if brownian is not None and brownian not in BROWNIAN_MODES:
        raise ValueError(f"brownian must be one of {BROWNIAN_MODES} or None; got {brownian!r}")
    tree = brownian == "tree"
    dims = (shape,) if isinstance(shape, int) and not isinstance(shape, bool) else shape
    if not (isinstance(dims, tuple) and dims and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims)):
        raise ValueError(f"shape must be a positive int D or a tuple of positive ints; got "
                         f"{shape!r}")
    from ._samplers import sample, sampler_spec

    sampler_spec(method)
    dev = infer_device(device)
    dtype = dtype or torch.get_default_dtype()
    base = parallel.shared_seed(seed, name="seed")
    D = math.prod(dims)
    last: dict[str, Any] = {}

    def block(b: int, lo: int, hi: int) -> tuple[torch.Tensor, int]:
        gen = block_generator(base, b, device=dev)
        rows = hi - lo
        if prior is None:
            x_T = sde.prior_sample((rows, *dims), gen, dtype=dtype, device=dev)
        else:
            x_T = prior(rows, gen)
            if not isinstance(x_T, torch.Tensor) or tuple(x_T.shape) != (rows, *dims):
                got = tuple(x_T.shape) if isinstance(x_T, torch.Tensor) else type(x_T).__name__
                raise ValueError(f"prior(rows, generator) must return a tensor of shape "
                                 f"{(rows, *dims)}; got {got}")
            x_T = x_T.to(dev, dtype)
        extra: dict[str, Any] = {}
        if tree:
            extra["brownian"] = BrownianInterval(
                0.0, float(sde.T), (rows, *dims), seed=block_seed(block_seed(base, b), 0),
                dtype=torch.float64, device=dev)
        x, info = sample(score_fn, sde, x_T, method=method, steps=steps, generator=gen,
                         **extra, **sample_kwargs)
        last.update(info)
        return x.reshape(rows, D), int(info["nfe"])

    flat, nfes = gather_rows(block, n, block_size)
    info = {"nfe": sum(nfes), "nfe_per_block": nfes, "n_blocks": len(nfes),
            "block_size": block_size, "seed": base, "world_size": parallel.world_size(),
            "brownian": brownian or "increments",
            **{k: last[k] for k in ("method", "grid", "t_final", "ts") if k in last}}
    return flat.reshape(n, *dims), info
