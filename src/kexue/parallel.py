"""torch.distributed glue: the process group from torchrun's environment, and Monte Carlo cut
into seeded blocks so that any number of processes gives the same numbers.

Scale-out in kexue is PyTorch's own: ``torchrun --nproc-per-node N -m kexue ...`` (or
``kexue ... --nproc N``, which launches through ``torch.distributed.run``) starts N processes
with ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` in their environment;
:func:`init_from_env` joins them into a process group (gloo on CPU, NCCL on CUDA).

Monte Carlo sharding (the rule every estimator follows):

1. ``n`` paths are cut into fixed blocks of ``block_size`` (:func:`block_ranges`) — the cut
   depends on ``n`` and ``block_size`` only, never on the number of processes;
2. block ``b`` draws from its own generator :func:`kexue.rng.block_generator` ``(seed, b)``;
3. each rank computes a contiguous run of blocks (:func:`owned_blocks`), the per-block results
   (partial sums, counts, samples) are all-gathered (:func:`map_blocks`) and every rank combines
   them in block order (:func:`sum_blocks`).

So the estimate is bit-identical for 1, 2, 3 or 4 processes and equals the single-process one
(given the same device and thread count: a block's own arithmetic must not change).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["world", "rank", "world_size", "is_main", "is_distributed", "init_from_env",
           "leave", "session", "barrier", "block_ranges", "owned_blocks", "map_blocks",
           "sum_blocks", "broadcast_object", "average_gradients", "shared_seed",
           "check_block_size"]


def is_distributed() -> bool:
    """True inside an initialised process group with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world() -> tuple[int, int]:
    """``(rank, world_size)``: ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank() -> int:
    """This process's rank in the process group; 0 outside one."""
    return world()[0]


def world_size() -> int:
    """Number of processes in the process group; 1 outside one."""
    return world()[1]


def is_main() -> bool:
    """True on the process that writes reports, figures and checkpoints (rank 0)."""
    return world()[0] == 0


def init_from_env(*, device: torch.device | str | None = None, backend: str | None = None
                  ) -> bool:
    """Join the process group described by torchrun's environment, if there is one.

    Does nothing (returns ``False``) when ``WORLD_SIZE`` is unset or 1; returns ``True`` when a
    group with several processes is (already or now) initialised. The backend is NCCL for a
    CUDA ``device`` (with gloo for CPU tensors) and gloo otherwise, unless ``backend`` says.

    Raises:
        ValueError: the environment is incomplete (e.g. ``WORLD_SIZE`` without ``RANK``).
    """
    if is_distributed():
        return True
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return False
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={size} is set but {', '.join(missing)} is not; launch with "
                         "torchrun (or kexue ... --nproc N), which sets them all")
    dev = torch.device(device) if device is not None else torch.empty(0).device
    if backend is None:  # CPU tensors (e.g. Monte Carlo on the host) still go through gloo
        backend = "cpu:gloo,cuda:nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group(backend=backend)
    return True


def leave() -> None:
    """Destroy the process group, if any (a gloo group left to the interpreter's exit can abort
    the process instead of letting it exit cleanly)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def session(*, device: torch.device | str | None = None, backend: str | None = None
            ) -> Iterator[bool]:
    """Join torchrun's process group for the body (:func:`init_from_env`) and leave it after
    (only if this call joined). Yields whether several processes take part::

        with kexue.parallel.session(device="cuda"):
            result = kexue.stochastic.feynman_kac(...)   # sharded over the processes
    """
    joined = not is_distributed() and init_from_env(device=device, backend=backend)
    try:
        yield is_distributed()
    finally:
        if joined:
            leave()


def barrier() -> None:
    """Wait for every process of the group (``torch.distributed.barrier``); a no-op alone."""
    if is_distributed():
        dist.barrier()


def broadcast_object(obj: object, src: int = 0) -> object:
    """``obj`` from rank ``src`` on every rank (identity in one process)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def shared_seed(generator: torch.Generator | int | None, *, name: str = "generator") -> int:
    """The seed of a computation's Monte Carlo blocks, the same on every rank:
    :func:`kexue.rng.seed_from` (an int is the seed; a generator or ``None`` gives one draw), and
    under a process group rank 0's draw (an int needs no collective)."""
    from .rng import seed_from

    value = seed_from(generator, name=name)
    if is_distributed() and not isinstance(generator, int):
        value = int(broadcast_object(value))
    return value


def check_block_size(block_size: object, *, even: bool = False) -> int:
    """``block_size`` (items per Monte Carlo block) as a positive int — even when ``even``
    (antithetic pairs stay inside a block) — or a ValueError naming the fix."""
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or block_size < 1:
        raise ValueError(f"block_size must be a positive int (paths or rows per Monte Carlo "
                         f"block), e.g. 16384; got {block_size!r}")
    if even and block_size % 2:
        raise ValueError(f"block_size must be even with antithetic=True (each block holds whole "
                         f"pairs W, -W); got {block_size}. Use {int(block_size) + 1}.")
    return int(block_size)


def block_ranges(n: int, block_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: ``n`` items cut into blocks of ``block_size`` (the last may be
    shorter). Depends on ``n`` and ``block_size`` only.

    Raises:
        ValueError: ``n`` or ``block_size`` not a positive int.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}")
    block_size = check_block_size(block_size)
    return [(lo, min(lo + block_size, n)) for lo in range(0, n, block_size)]


def owned_blocks(n_blocks: int, rank: int | None = None, size: int | None = None) -> range:
    """The contiguous run of block indices rank ``rank`` of ``size`` computes (the first
    ``n_blocks % size`` ranks take one more).

    Raises:
        ValueError: more processes than blocks (some would have nothing to do).
    """
    r, s = world()
    rank = r if rank is None else rank
    size = s if size is None else size
    if size > n_blocks:
        raise ValueError(f"the world size ({size} processes) is larger than the number of Monte "
                         f"Carlo blocks ({n_blocks}); use at most {n_blocks} "
                         f"process{'es' if n_blocks > 1 else ''} or a smaller block_size")
    q, rem = divmod(n_blocks, size)
    lo = rank * q + min(rank, rem)
    return range(lo, lo + q + (1 if rank < rem else 0))


def map_blocks(fn: Callable[[int], Any], n_blocks: int) -> list[Any]:
    """Evaluate ``fn(b)`` for every block ``b`` across the process group, in block order.

    Each rank evaluates its :func:`owned_blocks`; the results are all-gathered, so every rank
    returns the same list of ``n_blocks`` results, ``[fn(b) for b in range(n_blocks)]`` bit for
    bit. A result is a tensor or a tuple of tensors (e.g. a block's partial sums and its
    per-path values); the blocks' tensors must agree in dtype and number of dimensions but not
    in size, so the last, shorter block of ``n`` paths needs no padding by the caller.

    Raises:
        ValueError: more processes than blocks; blocks whose results differ in structure, dtype
            or number of dimensions.
    """
    mine = owned_blocks(n_blocks)
    local = [fn(b) for b in mine]
    if not is_distributed():
        return local
    single = isinstance(local[0], torch.Tensor)
    parts = [(r,) if single else tuple(r) for r in local]
    for b, p in zip(mine, parts):
        if len(p) != len(parts[0]) or any(
                t.dtype != u.dtype or t.ndim != u.ndim for t, u in zip(p, parts[0])):
            raise ValueError(f"block {b} returned {[(tuple(t.shape), t.dtype) for t in p]}; "
                             f"block {mine[0]} {[(tuple(t.shape), t.dtype) for t in parts[0]]}: "
                             "blocks must agree in structure, dtype and dimensions")
    columns = [_gather([p[i] for p in parts], n_blocks) for i in range(len(parts[0]))]
    return columns[0] if single else list(zip(*columns))


def _gather(tensors: list[torch.Tensor], n_blocks: int) -> list[torch.Tensor]:
    """All-gather this rank's blocks (tensors of one dtype and ndim, sizes may differ): shapes
    first, then the data padded to the largest shape; every rank gets all blocks in order."""
    _, size = world()
    per = -(-n_blocks // size)  # the largest share
    dev, ndim = tensors[0].device, tensors[0].ndim
    shapes = torch.zeros(per, max(ndim, 1), dtype=torch.int64, device=dev)
    for j, t in enumerate(tensors):
        shapes[j, :ndim] = torch.tensor(t.shape, dtype=torch.int64)
    all_shapes = [torch.empty_like(shapes) for _ in range(size)]
    dist.all_gather(all_shapes, shapes)
    top = torch.stack(all_shapes).amax(dim=(0, 1)).tolist()[:ndim]  # elementwise largest shape
    buf = tensors[0].new_zeros((per, *top))
    for j, t in enumerate(tensors):
        buf[(j, *(slice(0, n) for n in t.shape))] = t
    out = [torch.empty_like(buf) for _ in range(size)]
    dist.all_gather(out, buf)
    blocks: list[torch.Tensor] = []
    for k in range(size):
        for j in range(len(owned_blocks(n_blocks, k, size))):
            shape = all_shapes[k][j, :ndim].tolist()
            blocks.append(out[k][(j, *(slice(0, n) for n in shape))].clone())
    return blocks


def sum_blocks(parts: Sequence[torch.Tensor]) -> torch.Tensor:
    """``parts[0] + parts[1] + ...`` added strictly in block order (so the bits do not depend on
    how the blocks were shared out)."""
    if not parts:
        raise ValueError("sum_blocks needs at least one block")
    acc = parts[0].clone()
    for p in parts[1:]:
        acc = acc + p
    return acc


def average_gradients(params: Sequence[torch.Tensor]) -> None:
    """Replace each parameter's ``.grad`` by its mean over the process group, in one
    all-reduce of a flat buffer (what DDP's reducer does, for loops that DDP cannot wrap, e.g.
    alternating GAN updates). Parameters without a gradient are skipped on every rank alike
    (they must be the same parameters on every rank). No-op in one process."""
    if not is_distributed():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n
