"""Row blocks shared across processes: the sharding rule of :mod:`kexue.parallel` for per-row
results (samples, per-row log-likelihoods).

``n`` rows are cut into fixed blocks of ``block_size`` (the cut depends on ``n`` and
``block_size`` only); block ``b`` is computed by ``fn(b, lo, hi)`` — which draws its randomness
from :func:`kexue.rng.block_generator` ``(seed, b)`` — on whichever rank owns it, and the rows
are all-gathered in block order. So every rank returns the same ``(n, C)`` tensor, bit for bit
the one a single process computes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import parallel

__all__ = ["gather_rows"]


def gather_rows(fn: Callable[[int, int, int], tuple[torch.Tensor, int]], n: int,
                block_size: int) -> tuple[torch.Tensor, list[int]]:
    """Evaluate ``fn(b, lo, hi) -> (rows (hi − lo, C), count)`` for every block across the
    process group and return ``(rows (n, C), counts)`` in block order on every rank.

    ``count`` is a non-negative int per block (e.g. score evaluations); it travels with the
    rows. The rows of every block must share dtype, device and ``C``.

    Raises:
        ValueError: more processes than blocks (from :func:`kexue.parallel.owned_blocks`), a
            block of the wrong shape.
    """
    ranges = parallel.block_ranges(n, block_size)

    def one(b: int) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = ranges[b]
        rows, count = fn(b, lo, hi)
        if rows.ndim != 2 or rows.shape[0] != hi - lo:
            raise ValueError(f"block {b} returned shape {tuple(rows.shape)}; expected "
                             f"({hi - lo}, C)")
        return rows, torch.tensor(count, dtype=torch.int64, device=rows.device)

    blocks = parallel.map_blocks(one, len(ranges))  # the short last block needs no padding
    return (torch.cat([rows for rows, _ in blocks]),                   # (n, C)
            [int(c) for c in torch.stack([c for _, c in blocks]).tolist()])
