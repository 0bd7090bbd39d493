r"""The 1-D grid machinery of :mod:`kexue.stochastic._pde`: a uniform grid, coefficients sampled
on it, boundary conditions, the time stepping and the θ-scheme march with tridiagonal solves.

Algorithm: method of lines with second-order central differences, then the θ-scheme in time:
Crank & Nicolson (1947) (θ = ½), preceded by ``rannacher`` implicit-Euler half-steps (Rannacher
1984; Giles & Carter 2006) that damp the high-frequency error of non-smooth data (a delta, a
payoff kink) so the observed order stays 2. The tridiagonal systems are solved with
:func:`scipy.linalg.solve_banded`. Error ``O(Δt² + Δx²)`` for smooth coefficients; central
differences for the drift need a cell Péclet number ``|f| Δx / D`` below 2 to avoid wiggles.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..limits import check_memory, check_work
from ._sde import SDE

__all__ = ["BOUNDARY_CONDITIONS", "MAX_PDE_WORK"]


BOUNDARY_CONDITIONS = ("absorbing", "reflecting")

MAX_PDE_WORK = 4e9
"""Largest cost of one solve, in grid-node updates: ``steps × (N + 5000)`` (the 5000 stand for
the per-step overhead of building the operator). About 50 ns per node and 0.3 ms per step on
one CPU core, i.e. a few minutes at the limit; above it the solve is refused before it starts
(``KEXUE_ALLOW_LARGE=1`` lifts it, :mod:`kexue._limits`)."""

_STEP_OVERHEAD_NODES = 5000


def _uniform_grid(x, *, name: str = "x", min_points: int = 5) -> tuple[np.ndarray, float]:
    """Validate a strictly increasing uniform 1-D grid; return ``(x, spacing)``."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D grid of shape (N,); got shape {arr.shape}. "
                         "Use numpy.linspace(a, b, N).")
    if arr.size < min_points:
        raise ValueError(f"{name} must have at least {min_points} points; got {arr.size}. "
                         "Use a finer grid, e.g. numpy.linspace(a, b, 201).")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; it contains nan/inf.")
    d = np.diff(arr)
    h = (arr[-1] - arr[0]) / (arr.size - 1)
    if h <= 0 or np.any(d <= 0):
        raise ValueError(f"{name} must be strictly increasing; use numpy.linspace(a, b, N).")
    if np.max(np.abs(d - h)) > 1e-8 * h:
        raise ValueError(f"{name} must be uniformly spaced (max spacing deviation "
                         f"{np.max(np.abs(d - h)):.3g} vs spacing {h:.3g}); "
                         "use numpy.linspace(a, b, N).")
    return arr, float(h)


def _eval_1d(fn, t: float, x: np.ndarray, *, name: str) -> np.ndarray:
    """Evaluate a number or a ``(t, x)`` callable (torch, ``x`` of shape ``(N, 1)``) on a grid.

    Returns a float64 array of shape ``(N,)``.
    """
    n = x.shape[0]
    if fn is None:
        return np.zeros(n)
    if isinstance(fn, (int, float, np.floating, np.integer)):
        return np.full(n, float(fn))
    if not callable(fn):
        raise TypeError(f"{name} must be a number or a callable (t, x) -> tensor with x of shape "
                        f"(N, 1); got {type(fn).__name__}.")
    xt = torch.as_tensor(x, dtype=torch.float64).reshape(n, 1)  # (N, 1)
    with torch.no_grad():
        out = fn(torch.tensor(float(t), dtype=torch.float64), xt)
    out = torch.as_tensor(out, dtype=torch.float64)
    try:
        out = torch.broadcast_to(out, (n, 1)) if out.ndim != 1 else torch.broadcast_to(out, (n,))
    except RuntimeError:
        raise ValueError(f"{name}(t, x) must return a tensor broadcastable to (N, 1) = ({n}, 1) "
                         f"for x of shape ({n}, 1); got shape {tuple(out.shape)}.") from None
    res = out.reshape(n).detach().cpu().numpy().astype(np.float64, copy=True)
    if not np.all(np.isfinite(res)):
        raise ValueError(f"{name}(t, x) returned nan/inf at t={t:g}; check it on the grid "
                         f"[{x[0]:g}, {x[-1]:g}] or shrink the grid.")
    return res


def _parse_bc(bc) -> tuple[str, str]:
    pair = (bc, bc) if isinstance(bc, str) else tuple(bc)
    if len(pair) != 2 or any(b not in BOUNDARY_CONDITIONS for b in pair):
        raise ValueError(f"bc must be one of {', '.join(map(repr, BOUNDARY_CONDITIONS))} or a "
                         f"(left, right) pair of them; got {bc!r}.")
    return pair  # type: ignore[return-value]


def _times(ts, *, name: str = "ts") -> np.ndarray:
    arr = np.asarray(ts, dtype=np.float64).reshape(-1)
    if arr.size < 1 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite times; got {ts!r}.")
    if np.any(np.diff(arr) <= 0):
        raise ValueError(f"{name} must be strictly increasing; got {arr}. Sort it, e.g. "
                         "numpy.sort(ts), and drop duplicates.")
    return arr


def _steps_per_interval(length: float, dt, n_steps, default_dt: float) -> int:
    if n_steps is not None:
        return int(n_steps)
    step = default_dt if dt is None else float(dt)
    ratio = float(length) / step - 1e-9 if step > 0 else math.inf
    if not math.isfinite(ratio):
        raise ValueError(f"the time step {step:g} is too small for an interval of length "
                         f"{length:g}; use a larger dt")
    return max(1, math.ceil(ratio))


def _check_stepping(dt, n_steps, rannacher) -> None:
    if dt is not None and n_steps is not None:
        raise ValueError("give either dt or n_steps (steps per interval of ts), not both.")
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive time step; got {dt!r}.")
    if n_steps is not None and (int(n_steps) != n_steps or n_steps < 1):
        raise ValueError(f"n_steps must be a positive integer (steps per interval of ts); "
                         f"got {n_steps!r}.")
    if int(rannacher) != rannacher or rannacher < 0 or rannacher % 2:
        raise ValueError(f"rannacher must be a non-negative even number of implicit-Euler "
                         f"half-steps (each pair replaces one Crank–Nicolson step); got "
                         f"{rannacher!r}. Use 0 (plain CN), 2 or 4.")


def _check_sde(sde) -> None:
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be a kexue.stochastic.SDE; got {type(sde).__name__}. Build one "
                        "with SDE(drift, diffusion) where drift/diffusion take (t, x), x (N, 1).")


def _coefficients(sde: SDE, t: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = _eval_1d(sde.f, t, x, name="sde.drift")
    g = _eval_1d(sde.g, t, x, name="sde.diffusion")
    return f, g


# Tridiagonal operators are stored as (lower, diag, upper), each of shape (N,):
# (L u)_i = lower[i] u_{i-1} + diag[i] u_i + upper[i] u_{i+1}  (lower[0], upper[-1] unused).
Tri = tuple[np.ndarray, np.ndarray, np.ndarray]


def _matvec(op: Tri, u: np.ndarray) -> np.ndarray:
    lo, di, up = op
    out = di * u
    out[1:] += lo[1:] * u[:-1]
    out[:-1] += up[:-1] * u[1:]
    return out


def _solve(op: Tri, c: float, rhs: np.ndarray) -> np.ndarray:
    """Solve ``(I − c L) u = rhs`` for tridiagonal ``L``."""
    from scipy.linalg import solve_banded

    lo, di, up = op
    n = di.size
    ab = np.zeros((3, n))
    ab[0, 1:] = -c * up[:-1]
    ab[1] = 1.0 - c * di
    ab[2, :-1] = -c * lo[1:]
    return solve_banded((1, 1), ab, rhs, check_finite=False)


def _march(u0: np.ndarray, times: np.ndarray, operator: Callable[[float], Tri], *, dt, n_steps,
           rannacher: int, default_dt: float) -> list[np.ndarray]:
    """θ-scheme march of ``du/ds = L(t) u`` through ``times`` (monotone, either direction).

    The first ``rannacher // 2`` steps are each replaced by two implicit-Euler half-steps.
    Returns the solution at every entry of ``times`` (the first one is ``u0``).
    """
    cache: dict[float, Tri] = {}

    def op(t: float) -> Tri:
        if t not in cache:
            if len(cache) > 2:
                cache.clear()
            cache[t] = operator(t)
        return cache[t]

    counts = [_steps_per_interval(abs(b - a), dt, n_steps, default_dt)
              for a, b in zip(times[:-1], times[1:])]
    n = u0.size
    check_work(f"the Crank–Nicolson march ({sum(counts):.3g} time steps on {n} grid points)",
               float(sum(counts)) * (n + _STEP_OVERHEAD_NODES), limit=MAX_PDE_WORK,
               unit="grid-node updates",
               fix="use a larger dt (or fewer n_steps), fewer grid points or fewer output times")
    check_memory(f"the solution at {len(times)} output times on {n} grid points",
                 8.0 * len(times) * n, fix="ask for fewer output times ts")
    u = u0.copy()
    out = [u.copy()]
    ran_left = rannacher // 2
    for (a, b), m in zip(zip(times[:-1], times[1:]), counts):
        k = (b - a) / m  # signed time step
        for j in range(m):
            ta = a + j * k
            tb = b if j == m - 1 else a + (j + 1) * k
            if ran_left > 0:  # Rannacher: two implicit-Euler half-steps
                tm = ta + 0.5 * k
                u = _solve(op(tm), 0.5 * abs(k), u)
                u = _solve(op(tb), 0.5 * abs(k), u)
                ran_left -= 1
            else:  # Crank–Nicolson
                rhs = u + 0.5 * abs(k) * _matvec(op(ta), u)
                u = _solve(op(tb), 0.5 * abs(k), rhs)
        out.append(u.copy())
    return out
