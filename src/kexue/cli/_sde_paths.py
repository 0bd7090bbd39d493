"""The Monte Carlo engine of ``kexue sde``: the size checks made before any work, and ``X_T`` of
many paths simulated in seeded blocks shared out over the process group
(:func:`kexue.parallel.map_blocks`), on fixed steps, a Brownian tree or adaptive steps."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # numpy, torch load with a command that runs, not with --help
    import numpy as np
    import torch

    from ..stochastic import SDE

__all__ = ["MAX_PATH_STEPS", "MAX_SHOW", "MAX_POINTS", "Stepping"]


def _check(name: str, value: float, *, positive: bool = False) -> None:
    if not math.isfinite(value) or (positive and value <= 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number; "
                         f"got {value}")


_MAX_BLOCKS = 16
_MIN_BLOCK = 1024

MAX_PATH_STEPS = 3e9
"""Largest Monte Carlo cost of ``simulate``/``density``: ``max(paths, 1024) × steps``
path-steps (about 100 ns each on one CPU core, so some minutes at the limit). Above it the
command is refused before any work (``KEXUE_ALLOW_LARGE=1`` lifts it, :mod:`kexue.limits`)."""
MAX_SHOW = 1000
"""Most sample paths ``simulate`` draws in its figure."""
MAX_POINTS = 100_001
"""Most Fokker–Planck grid points of ``density``."""
_BYTES_PER_PATH = 32  # X_T (float64) in the block, its padded copy, the gathered array, NumPy


def _check_sizes(paths: int, steps: int, device: Any, *, show: int | None = None,
                 points: int | None = None) -> None:
    """The size options against their documented bounds and the memory here, before any work.

    Raises:
        ValueError: ``kexue.limits.SizeLimitError`` with the estimate and the fix.
    """
    from ..limits import check_memory, check_work

    if show is not None and show > MAX_SHOW:
        raise ValueError(f"--show must be <= {MAX_SHOW} (paths drawn in the figure); got {show}")
    if points is not None and points > MAX_POINTS:
        raise ValueError(f"--points must be <= {MAX_POINTS} (Fokker–Planck grid points); got "
                         f"{points}")
    check_memory(f"--paths {paths}: the final states", float(paths) * _BYTES_PER_PATH,
                 device=device, fix="use fewer --paths")
    check_work(f"--paths {paths} × --steps {steps}", float(max(paths, _MIN_BLOCK)) * steps,
               limit=MAX_PATH_STEPS, unit="path-steps", fix="use fewer --paths or --steps")
    if show is not None:
        check_memory(f"--show {show} × --steps {steps}: the drawn paths",
                     8.0 * min(show, paths) * (steps + 1) * 4, fix="use fewer --show or --steps")


def _block_size(paths: int) -> int:
    """Paths per Monte Carlo block: at least 1024, at most 16 blocks. Depends on ``paths`` only
    (never on the number of processes), so the numbers do not either."""
    return max(_MIN_BLOCK, -(-paths // _MAX_BLOCKS))


class Stepping(NamedTuple):
    """How ``simulate`` steps: fixed steps (``adaptive`` False) on pre-drawn increments or a
    Brownian tree, or adaptive steps with tolerances ``rtol``/``atol`` on a tree."""

    adaptive: bool = False
    rtol: float = 1e-3
    atol: float = 1e-4
    tree: bool = False


_FIXED = Stepping()


def _solve_block(sde: SDE, x: torch.Tensor, ts: list[float] | torch.Tensor, dt: float | None,
                 method: str, seed: int, stepping: Stepping,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[int]]:
    """One batch ``x (n, 1)``: ``(states at ts, [accepted, rejected, f calls, g calls])`` (the
    counts are zero for fixed steps). ``dt``: the step (None: one step per interval of ``ts``;
    the first step with ``--adaptive``). ``seed`` seeds the Brownian tree; ``generator``
    (default: ``seed``) the pre-drawn increments."""
    from ..stochastic import METHODS, BrownianInterval, solve, solve_adaptive

    h = float(ts[1] - ts[0]) if dt is None else dt
    if not stepping.tree:
        return solve(sde, x, ts, method=method, dt=dt,
                     generator=seed if generator is None else generator), [0, 0, 0, 0]
    levy = "space-time" if METHODS.get(method) is not None and METHODS[method].levy_area \
        else None
    t_end = float(ts[-1])
    bm = BrownianInterval(0.0, t_end, (x.shape[0], 1), seed=seed, dtype=x.dtype,
                          device=x.device, levy_area=levy, tol=min(h / 64, t_end * 2.0**-20))
    if not stepping.adaptive:
        return solve(sde, x, ts, method=method, dt=dt, brownian=bm), [0, 0, 0, 0]
    r = solve_adaptive(sde, x, ts, method=method, rtol=stepping.rtol, atol=stepping.atol,
                       dt0=h, brownian=bm)
    return r.xs, [r.n_accepted, r.n_rejected, r.n_f, r.n_g]


def _simulate_final(sde: SDE, x0: float, T: float, paths: int, steps: int, method: str,
                    seed: int, device: torch.device | None = None,
                    stepping: Stepping = _FIXED) -> tuple[np.ndarray, np.ndarray]:
    """``X_T`` for ``paths`` paths, ``(paths,)`` float64, computed in seeded blocks shared out
    over the process group (:func:`kexue.parallel.map_blocks`; every rank gets all of them),
    and the per-block counts ``(n_blocks, 4)`` (accepted, rejected steps, f and g calls; zero
    for fixed steps)."""
    import torch

    from ..parallel import block_ranges, map_blocks
    from ..rng import block_generator, block_seed

    size = _block_size(paths)
    ranges = block_ranges(paths, size)

    def block(b: int) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = ranges[b]
        x = torch.full((hi - lo, 1), x0, dtype=torch.float64, device=device)
        gen = None if stepping.tree else block_generator(seed, b, device=x.device)
        with torch.no_grad():
            out, counts = _solve_block(sde, x, [0.0, T], T / steps, method,
                                       block_seed(seed, b), stepping, gen)
        last = out[-1, :, 0]  # (hi - lo,)
        pad = last.new_full((size - (hi - lo),), math.nan)  # equal shapes for the all-gather
        return torch.cat([last, pad]), torch.tensor(counts, dtype=torch.float64,
                                                    device=last.device)

    parts = map_blocks(block, len(ranges))
    xT = torch.cat([p[0] for p in parts])[:paths].cpu().numpy()
    return xT, torch.stack([p[1] for p in parts]).cpu().numpy()
