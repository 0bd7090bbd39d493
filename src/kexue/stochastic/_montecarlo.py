r"""Monte Carlo in seeded blocks: one estimate for any number of processes, and ``expectation``.

Every Monte Carlo estimator of :mod:`kexue.stochastic` (:func:`expectation`,
:func:`~kexue.stochastic.feynman_kac`, :func:`~kexue.stochastic.first_passage`,
:meth:`~kexue.stochastic.RandomWalk.expectation`) follows the rule of :mod:`kexue.parallel`:

1. the ``n_paths`` paths are cut into fixed blocks of ``block_size`` (the last may be shorter);
2. block ``b`` draws from :func:`kexue.rng.block_generator` ``(seed, b)`` on the device;
3. each block returns its float64 moments ``(sum, M2, count)`` — ``M2 = Σ (y − ȳ_b)²``, the sum
   of squares about the block's own mean —, :func:`kexue.parallel.map_blocks` gathers them from
   the processes that computed them, and every process combines them in block order
   (Chan, Golub & LeVeque 1983, "Algorithms for computing the sample variance", pairwise update
   ``M2 = Σ_b M2_b + Σ_b n_b (ȳ_b − ȳ)²``; the sums added with :func:`kexue.parallel.sum_blocks`).

So the estimate and its standard error are bit-identical for 1, 2, 3 or 4 processes (same device
kind and thread count) and equal to the single-process result with the same seed. Inside an
initialised process group (``torchrun``, or :func:`kexue.parallel.init_from_env`) the blocks are
shared out automatically; otherwise one process computes them all.

Seeds: ``generator`` follows :mod:`kexue.rng` — an ``int`` *is* the seed of the blocks; a
``torch.Generator`` gives one 63-bit seed drawn from it; ``None`` draws that seed from PyTorch's
default generator (so ``torch.manual_seed`` makes runs reproducible). In a process group the seed
of rank 0 is broadcast, so every rank uses the same blocks. ``seed=`` is the same as an ``int``
``generator``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import torch

from .. import parallel
from ..devices import infer_device
from ..parallel import check_block_size
from ..rng import block_generator
from ._sde import SDE
from ._solvers import solve

__all__ = ["MonteCarloResult", "expectation", "DEFAULT_BLOCK_SIZE"]

#: Paths per Monte Carlo block unless ``block_size=`` says otherwise. Small enough for CPU
#: caches and for sharing 10⁵ paths among several processes; raise it on a GPU (e.g. 2**18).
DEFAULT_BLOCK_SIZE = 2**14


@dataclass(frozen=True)
class MonteCarloResult:
    """A Monte Carlo mean with its standard error.

    Source: Chan, Golub and LeVeque 1983 for the merged block moments.

    Attributes:
        mean: the estimate, a float64 tensor on the device of the computation (0-d for a scalar
            quantity, else the shape of one sample).
        stderr: its standard error ``s / sqrt(n_samples)`` (``s`` the sample standard deviation,
            ``n_samples − 1`` in the denominator), same shape; ``nan`` with one sample.
        n_paths: simulated paths.
        n_samples: independent samples behind ``stderr`` (``n_paths``, or ``n_paths/2``
            antithetic pair means).
        block_size: paths per block (``None`` when the paths were not cut into seeded blocks).
        seed: the seed of the blocks (``None`` when the caller gave the noise).
    """

    mean: torch.Tensor
    stderr: torch.Tensor
    n_paths: int
    n_samples: int
    block_size: int | None = None
    seed: int | None = None

    def ci(self, level: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
        """Normal-approximation confidence interval ``mean ± z_{(1+level)/2} · stderr``."""
        if isinstance(level, bool) or not isinstance(level, (int, float)) \
                or not (0.0 < level < 1.0):
            raise ValueError(f"level must lie in (0, 1), e.g. 0.95; got {level!r}.")
        z = NormalDist().inv_cdf(0.5 * (1.0 + level))
        return self.mean - z * self.stderr, self.mean + z * self.stderr


# --------------------------------------------------------------------------------- machinery
def resolve_seed(generator: torch.Generator | int | None, seed: int | None = None) -> int:
    """The seed of the Monte Carlo blocks (see the module docstring), the same on every rank.

    Raises:
        ValueError: both ``seed`` and ``generator`` given, or a negative seed.
        TypeError: ``generator``/``seed`` of the wrong type.
    """
    if seed is not None:
        if generator is not None:
            raise ValueError("pass the Monte Carlo seed once: seed= or generator=, not both "
                             f"(got seed={seed!r} and generator={generator!r})")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be a non-negative int; got {type(seed).__name__}. For a "
                            "torch.Generator pass generator= instead.")
        generator = int(seed)
    if isinstance(generator, np.integer):
        generator = int(generator)
    return parallel.shared_seed(generator)        # every rank uses rank 0's blocks


def block_moments(y: torch.Tensor) -> torch.Tensor:
    """``(3, *shape)`` float64 moments of samples ``y (n, *shape)``: ``[Σ y, Σ (y − ȳ)², n]``."""
    y = y.to(torch.float64)
    n = y.shape[0]
    s = y.sum(0)                                              # (*shape)
    m2 = (y - s / n).square_().sum(0)                          # (*shape)
    return torch.stack([s, m2, torch.full_like(s, float(n))])


def combine_moments(parts: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, stderr)`` from per-block :func:`block_moments`, combined in block order.

    ``M2 = Σ_b M2_b + Σ_b n_b (ȳ_b − ȳ)²`` (Chan, Golub & LeVeque 1983): exact algebra, and stable
    where ``Σ y² − (Σ y)²/n`` would cancel. ``stderr = sqrt(M2 / ((n − 1) n))`` (``nan`` for one
    sample). No host synchronisation.
    """
    total = parallel.sum_blocks(list(parts))                   # (3, *shape)
    n = total[2]
    mean = total[0] / n
    m2 = parallel.sum_blocks([p[1] + p[2] * (p[0] / p[2] - mean).square() for p in parts])
    stderr = (m2 / ((n - 1.0) * n)).sqrt_()
    return mean, stderr


# ------------------------------------------------------------------------------- expectation
def _start_state(x0: object, device: torch.device | str | None,
                 dtype: torch.dtype | None) -> torch.Tensor:
    """``x0`` as one state ``(1, d)`` on the chosen device (number, ``(d,)`` or ``(1, d)``)."""
    if isinstance(x0, torch.Tensor):
        if not (x0.is_floating_point() or dtype is not None):
            raise TypeError(f"x0 must be floating point; got dtype {x0.dtype}. Use x0.double().")
        x = x0.detach()
    elif isinstance(x0, (int, float, np.floating, np.integer)) and not isinstance(x0, bool):
        x = torch.tensor([float(x0)], dtype=torch.float64)
    else:
        raise TypeError(f"x0 must be a number or a tensor of shape (d,) or (1, d) (one start "
                        f"state); got {type(x0).__name__}")
    if x.ndim == 1:
        x = x[None, :]                                          # (1, d)
    if x.ndim != 2 or x.shape[0] != 1 or x.shape[1] < 1:
        raise ValueError(f"x0 must be one start state of shape (d,) or (1, d); got "
                         f"{tuple(x0.shape)}. Every path starts from it; for several starting "
                         "points call expectation once per point (or use solve directly).")
    dev = infer_device(device, x0)
    return x.to(device=dev, dtype=dtype if dtype is not None else x.dtype)


def expectation(sde: SDE, x0: torch.Tensor | float, ts: torch.Tensor | Sequence[float],
                fn: Callable[[torch.Tensor], torch.Tensor] | None = None, *, n_paths: int,
                block_size: int = DEFAULT_BLOCK_SIZE, seed: int | None = None,
                generator: torch.Generator | int | None = None, method: str = "euler",
                dt: float | None = None, device: torch.device | str | None = None,
                dtype: torch.dtype | None = None) -> MonteCarloResult:
    r"""Monte Carlo ``E[fn(X)]`` over paths of ``dx = f dt + g dW`` from one start state, with a
    standard error and a confidence interval; identical for any number of processes.

    Source: plain Monte Carlo over the SDE of kexue.fm archive 3762; block moments merged as in
    Chan, Golub and LeVeque 1983.

    The paths are simulated by :func:`~kexue.stochastic.solve` (``method``, ``dt`` as there) in
    fixed blocks of ``block_size`` paths, block ``b`` driven by
    :func:`kexue.rng.block_generator` ``(seed, b)``; per-block float64 moments are combined in
    block order (see :mod:`kexue.parallel`). Under ``torchrun`` (an initialised process group)
    the blocks are shared among the processes and every process returns the same result,
    bit for bit the single-process one. Bias: the scheme's weak error, ``O(dt)`` for Euler;
    statistical error ``stderr = s/sqrt(n_paths)``.

    Example — ``E[X_1²]`` for Ornstein–Uhlenbeck ``dx = −x dt + dW`` from 1 (exact
    ``e^{−2} + (1 − e^{−2})/2``)::

        sde = SDE.linear(a=-1.0, d=1.0)
        r = expectation(sde, 1.0, [0.0, 1.0], lambda xs: xs[-1, :, 0] ** 2,
                        n_paths=100_000, dt=1e-2, seed=0)
        r.mean, r.stderr, r.ci()          # 0-d tensors; ci() is the 95% interval

    Args:
        sde: the :class:`~kexue.stochastic.SDE`.
        x0: the start state of every path: a number (``d = 1``), or a tensor ``(d,)`` or
            ``(1, d)``; its device and dtype are used unless ``device``/``dtype`` say otherwise.
        ts: times ``(n_out,)`` handed to ``solve``; ``ts[0]`` is the time of ``x0``.
        fn: the quantity, ``fn(xs) -> (batch,)`` or ``(batch, *k)`` for the solved paths
            ``xs`` of shape ``(len(ts), batch, d)`` (time-major, ``xs[0]`` is ``x0``); computed
            per block, so it must treat paths independently. ``None``: the state at ``ts[-1]``,
            ``xs[-1]`` (mean of shape ``(d,)``).
        n_paths: number of paths (≥ 2 for a standard error).
        block_size: paths per block; the result depends on it (the blocks are the unit of
            seeding) but not on the number of processes.
        seed: the seed of the blocks (an int); or give ``generator``.
        generator: the randomness rule of :mod:`kexue.rng` for the blocks' seed: an int is the
            seed itself, a ``torch.Generator`` gives one seed drawn from it, ``None`` draws it
            from PyTorch's default generator (``torch.manual_seed`` reproduces the run).
        method, dt: the scheme and step size, as in :func:`~kexue.stochastic.solve`.
        device: where to simulate (default: ``x0``'s device, else PyTorch's default device).
        dtype: simulation dtype (default: ``x0``'s, float64 for a number); moments are float64.

    Returns:
        :class:`MonteCarloResult`: ``.mean`` and ``.stderr`` (shape ``k`` of one sample of
        ``fn``, float64, on the device), ``.ci(level=0.95)``, ``n_paths``, ``seed``.

    Raises:
        TypeError: ``sde``/``x0``/``fn`` of the wrong kind; ``fn`` returning a non-tensor.
        ValueError: bad ``n_paths``/``block_size``, ``x0`` not one state, ``fn`` returning a
            first dimension other than the block's number of paths, both ``seed`` and
            ``generator``, or more processes than blocks.

    Examples:
        >>> import math
        >>> from kexue.stochastic import SDE, expectation
        >>> ou = SDE.linear(a=-1.0, d=1.0)
        >>> r = expectation(ou, 1.0, [0.0, 1.0], lambda xs: xs[-1, :, 0], n_paths=4000, dt=0.01,
        ...                 seed=0)
        >>> abs(r.mean.item() - math.exp(-1.0)) < 3 * r.stderr.item()   # E[X_1] = e^{-1}
        True
    """
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be a kexue.stochastic.SDE; got {type(sde).__name__}")
    if fn is not None and not callable(fn):
        raise TypeError(f"fn must be a callable xs -> (batch, ...) or None; got "
                        f"{type(fn).__name__}")
    if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
        raise ValueError(f"n_paths must be a positive int; got {n_paths!r}")
    n_paths = int(n_paths)
    block_size = check_block_size(block_size)
    start = _start_state(x0, device, dtype)                     # (1, d)
    dev = start.device
    seed_value = resolve_seed(generator, seed)
    ranges = parallel.block_ranges(n_paths, block_size)

    def block(b: int) -> torch.Tensor:
        lo, hi = ranges[b]
        x = start.expand(hi - lo, -1).clone()                   # (n_b, d)
        xs = solve(sde, x, ts, method=method, dt=dt,
                   generator=block_generator(seed_value, b, device=dev))  # (n_out, n_b, d)
        y = xs[-1] if fn is None else fn(xs)
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"fn(xs) must return a tensor (batch, ...); got {type(y).__name__}")
        if y.ndim < 1 or y.shape[0] != hi - lo:
            raise ValueError(f"fn(xs) must return shape (batch, ...) with batch = {hi - lo} "
                             f"paths for xs of shape {tuple(xs.shape)}; got {tuple(y.shape)}. "
                             "Reduce over time and state, not over paths (e.g. xs[-1, :, 0]).")
        return block_moments(y.detach())

    with torch.no_grad():
        parts = parallel.map_blocks(block, len(ranges))
        mean, stderr = combine_moments(parts)
    return MonteCarloResult(mean=mean, stderr=stderr, n_paths=n_paths, n_samples=n_paths,
                            block_size=block_size, seed=seed_value)

