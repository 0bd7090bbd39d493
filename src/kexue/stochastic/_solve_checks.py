"""Argument checks and the step grid of :func:`~kexue.stochastic.solve`.

``x0`` must be a finite floating ``(batch, d)`` tensor, ``dt`` a positive finite float or
``None``; :func:`step_grid` cuts each interval of ``ts`` into equal steps no longer than ``dt``
so that every output time is a grid point (the equidistant discretisation of Kloeden & Platen,
*Numerical Solution of Stochastic Differential Equations*, Springer 1992, §10.2, per interval).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["MIN_DEFAULT_STEPS", "CoarseStepWarning", "step_grid"]


def _check_x0(x0: torch.Tensor) -> torch.Tensor:
    if not isinstance(x0, torch.Tensor):
        raise TypeError(
            f"x0 must be a floating-point tensor of shape (batch, d); got {type(x0).__name__}. "
            "Use e.g. torch.full((n_paths, 1), 1.0, dtype=torch.float64)."
        )
    if not x0.is_floating_point():
        raise TypeError(f"x0 must be floating point; got dtype {x0.dtype}. Use x0.double().")
    if x0.device.type == "meta":
        raise ValueError("x0 is on the meta device (shapes only, no values): solve needs real "
                         "numbers; create it on 'cpu' or 'cuda'")
    if x0.ndim != 2:
        raise ValueError(
            f"x0 must have shape (batch, d); got {tuple(x0.shape)}. For a scalar SDE pass "
            "x0[:, None] (batch of 1-D states) or x0[None, :] (one d-dimensional state)."
        )
    if x0.shape[0] < 1 or x0.shape[1] < 1:
        raise ValueError(f"x0 must have batch >= 1 and d >= 1; got shape {tuple(x0.shape)}")
    if not bool(torch.isfinite(x0).all()):
        bad = x0[~torch.isfinite(x0)]
        raise ValueError(
            f"x0 must be finite; got {bad.numel()} non-finite entries (e.g. {float(bad[0])}). "
            "Replace NaN/inf initial states before solving."
        )
    return x0


#: Fewer steps than this with ``dt=None`` (steps on the ``ts`` grid) draw a
#: :class:`CoarseStepWarning`.
MIN_DEFAULT_STEPS = 20


class CoarseStepWarning(UserWarning):
    """:func:`solve` was called without ``dt`` on a ``ts`` grid so coarse (fewer than
    ``MIN_DEFAULT_STEPS`` steps) that the answer is probably dominated by discretisation error."""


def _check_dt(dt: float | None) -> float | None:
    if dt is None:
        return None
    if isinstance(dt, torch.Tensor) and dt.numel() == 1:
        dt = float(dt)
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise TypeError(f"dt must be a positive float or None; got {type(dt).__name__}")
    if not math.isfinite(dt) or dt <= 0:
        raise ValueError(
            f"dt must be a positive finite step size; got {dt!r}. Pass e.g. dt=1e-3, or "
            "dt=None to step exactly on the ts grid."
        )
    return float(dt)


def step_grid(ts: np.ndarray, dt: float | None) -> tuple[np.ndarray, list[int]]:
    """The solver's step grid and the positions of ``ts`` in it.

    With ``dt=None`` the steps are the intervals of ``ts``; otherwise interval ``i`` is cut into
    ``ceil((ts[i+1] - ts[i]) / dt)`` equal steps (a relative slack of 1e-9 absorbs rounding, so
    ``dt = 0.1`` on ``[0, 1]`` gives 10 steps).

    Returns:
        ``(grid (n+1,), out_index)`` with ``grid[out_index[i]] == ts[i]``.
    """
    if dt is None:
        return ts, list(range(ts.size))
    pieces, index, pos = [ts[:1]], [0], 0
    for a, b in zip(ts[:-1], ts[1:]):
        n = max(1, math.ceil((b - a) / dt * (1.0 - 1e-9)))
        inner = a + (b - a) * np.arange(1, n + 1) / n
        inner[-1] = b
        pieces.append(inner)
        pos += n
        index.append(pos)
    return np.concatenate(pieces), index
