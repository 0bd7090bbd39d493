r"""Parabolic PDEs of a 1-D SDE on a uniform grid: Fokker–Planck (forward) and
Kolmogorov/Feynman–Kac (backward), by Crank–Nicolson with a Rannacher start.

For ``dX = f(t, X) dt + g(t, X) dW`` (Su's thesis writes ``f = p``, ``g = sqrt(alpha)``; kexue.fm
archives 3750, 3762):

* forward, for the density ``P(x, t)`` (thesis eq. 12):
  ``P_t = −∂x J``, ``J = f P − ∂x(D P)``, ``D = g²/2`` (flux-conservative form);
* backward, for ``u(x, t) = E[exp(∫_t^T V(s, X_s) ds) · h(X_T) | X_t = x]`` (Feynman–Kac):
  ``u_t + f u_x + D u_xx + V u = 0``, ``u(x, T) = h(x)``.

Sign convention of the potential: ``+V u``, so a *negative* ``V`` discounts/kills. Black–Scholes is
``V = −r`` in log-price ``x = ln S`` with ``f = r − sigma²/2``, ``g = sigma``. Su's imaginary-time
Schrödinger equation ``alpha φ_t = (alpha²/2) φ_xx + V_Su φ`` with ``φ(x, t) =
E_x[exp((1/alpha)∫V_Su) φ_0(X_t)]`` is this backward equation with ``f = 0``, ``g = sqrt(alpha)``
and ``V = V_Su/alpha`` (for time-independent ``V_Su``).

Algorithm (:mod:`kexue.stochastic._pde_grid`): second-order central differences in space and
Crank & Nicolson (1947) in time after a Rannacher (1984) implicit-Euler start; error
``O(Δt² + Δx²)`` for smooth coefficients; central differences for the drift need a cell Péclet
number ``|f| Δx / D`` below 2 to avoid wiggles.

Boundary conditions (``bc``: one string for both ends, or a ``(left, right)`` pair):

* ``"absorbing"`` — forward ``P = 0`` (walkers killed at the wall); backward ``u = 0``.
* ``"reflecting"`` — forward zero flux ``J = 0`` with half control volumes at the end nodes, so
  the trapezoid mass ``Δx·(P_0/2 + P_1 + … + P_{N−2} + P_{N−1}/2)`` is conserved to rounding;
  backward ``u_x = 0`` (Neumann, ghost-point reflection).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from ._pde_grid import (
    Tri,
    _check_sde,
    _check_stepping,
    _coefficients,
    _eval_1d,
    _march,
    _parse_bc,
    _times,
    _uniform_grid,
)
from ._sde import SDE

__all__ = ["fokker_planck", "kolmogorov_backward", "NegativeDensityWarning"]


class NegativeDensityWarning(UserWarning):
    """:func:`fokker_planck` produced a density with negative values beyond rounding: central
    differences oscillate when the cell Péclet number ``|f|Δx/D`` exceeds 2 or the time step is
    too long for a delta start. The message gives the minimum and the fix."""


# ------------------------------------------------------------------------------ forward equation
def _fp_operator(sde: SDE, x: np.ndarray, h: float, bcs: tuple[str, str]) -> Callable[[float], Tri]:
    xm = 0.5 * (x[:-1] + x[1:])  # (N-1,) cell faces

    def build(t: float) -> Tri:
        f_face = _eval_1d(sde.f, t, xm, name="sde.drift")  # (N-1,)
        g = _eval_1d(sde.g, t, x, name="sde.diffusion")  # (N,)
        D = 0.5 * g * g
        # J_{i+1/2} = a_i P_i + b_i P_{i+1}
        a = 0.5 * f_face + D[:-1] / h
        b = 0.5 * f_face - D[1:] / h
        n = x.size
        lo, di, up = np.zeros(n), np.zeros(n), np.zeros(n)
        # dP_i/dt = (J_{i-1/2} - J_{i+1/2}) / h
        lo[1:-1] = a[:-1] / h
        di[1:-1] = (b[:-1] - a[1:]) / h
        up[1:-1] = -b[1:] / h
        if bcs[0] == "reflecting":  # half cell [x_0, x_0 + h/2], J_{-1/2} = 0
            di[0] = -2.0 * a[0] / h
            up[0] = -2.0 * b[0] / h
        if bcs[1] == "reflecting":
            lo[-1] = 2.0 * a[-1] / h
            di[-1] = 2.0 * b[-1] / h
        return lo, di, up

    return build


def fokker_planck(sde: SDE, x, p0, ts, *, bc: str | Sequence[str] = "absorbing",
                  rannacher: int = 2, dt: float | None = None,
                  n_steps: int | None = None) -> np.ndarray:
    r"""Solve the Fokker–Planck equation of a 1-D SDE by Crank–Nicolson with a Rannacher start.

    ``P_t = −∂x[f P − ∂x(D P)]``, ``D = g²/2`` (Su's eq. 12, kexue.fm archive 3750), in
    flux-conservative finite-volume form on the uniform grid ``x``; Crank & Nicolson (1947),
    Rannacher (1984). See the module docstring for the boundary conditions.

    Args:
        sde: a 1-D :class:`~kexue.stochastic.SDE`; ``drift``/``diffusion`` are evaluated on
            ``(N, 1)`` float64 tensors (drift at the cell faces, diffusion at the nodes).
        x: uniform grid, shape ``(N,)``, ``N ≥ 5``.
        p0: initial density on ``x``, shape ``(N,)`` (a delta is ``e_j/Δx``).
        ts: strictly increasing output times, shape ``(T,)``; ``p0`` is the density at ``ts[0]``.
        bc: ``"absorbing"`` (default), ``"reflecting"``, or a ``(left, right)`` pair.
        rannacher: number of implicit-Euler half-steps at the start (even; default 2, i.e. the
            first CN step is replaced; use 4 for a delta, 0 for plain CN).
        dt: time step; each interval ``[ts[k], ts[k+1]]`` is cut into ``ceil(len/dt)`` equal steps.
        n_steps: alternatively, the number of equal steps per interval. Default (neither given):
            ``dt = Δx`` (numerically, in time units).

    Returns:
        ``(T, N)`` array: the density at each time in ``ts`` (row 0 is ``p0``).

    Raises:
        TypeError: ``sde`` is not an ``SDE``.
        ValueError: non-uniform/short grid, ``p0`` of the wrong shape or non-finite, ``ts`` not
            increasing, bad ``bc``/``rannacher``/``dt``/``n_steps``, drift or diffusion of the
            wrong shape or non-finite, a diffusion that is zero on the whole grid (the
            equation degenerates to transport of a delta), or a cost above
            :data:`MAX_PDE_WORK` grid-node updates (``kexue._limits.SizeLimitError``, checked
            before the march starts).

    Warns:
        NegativeDensityWarning: the solution has values below ``-1e-6 ×`` its peak (the
            message gives the minimum, where, the cell Péclet number and the fix; no clipping).
    """
    _check_sde(sde)
    x, h = _uniform_grid(x)
    t = _times(ts)
    _check_stepping(dt, n_steps, rannacher)
    bcs = _parse_bc(bc)
    p = np.asarray(p0, dtype=np.float64)
    if p.shape != x.shape:
        raise ValueError(f"p0 must have the grid's shape {x.shape}; got {p.shape}.")
    if not np.all(np.isfinite(p)):
        raise ValueError("p0 must be finite; it contains nan/inf.")
    g0 = _eval_1d(sde.g, float(t[0]), x, name="sde.diffusion")
    if not np.any(g0 != 0.0):
        raise ValueError("fokker_planck: the diffusion is zero on the whole grid at t = "
                         f"{float(t[0]):g}; without diffusion the density is transported as a "
                         "delta that no grid resolves (the equation is first order). Simulate "
                         "paths with kexue.stochastic.solve instead, or give a positive "
                         "diffusion.")
    u = p.copy()
    if bcs[0] == "absorbing":
        u[0] = 0.0
    if bcs[1] == "absorbing":
        u[-1] = 0.0
    sols = _march(u, t, _fp_operator(sde, x, h, bcs), dt=dt, n_steps=n_steps,
                  rannacher=rannacher, default_dt=h)
    sols[0] = p.copy()
    out = np.stack(sols)  # (T, N)
    _warn_negative(out, x, t, sde, h)
    return out


NEGATIVE_TOLERANCE = 1e-6
"""Negative density values below ``-NEGATIVE_TOLERANCE × max P`` raise
:class:`NegativeDensityWarning` (values above are rounding)."""


def _warn_negative(P: np.ndarray, x: np.ndarray, t: np.ndarray, sde: SDE, h: float) -> None:
    """Warn (:class:`NegativeDensityWarning`) when ``P`` (T, N) has values below
    ``-NEGATIVE_TOLERANCE · max P``, naming the minimum, where it is and the fix; no clipping."""
    peak = float(np.max(P))
    low = float(np.min(P))
    if not (np.isfinite(low) and np.isfinite(peak)) or peak <= 0 \
            or low >= -NEGATIVE_TOLERANCE * peak:
        return
    k, i = np.unravel_index(int(np.argmin(P)), P.shape)
    f = _eval_1d(sde.f, float(t[0]), x, name="sde.drift")
    g = _eval_1d(sde.g, float(t[0]), x, name="sde.diffusion")
    D = 0.5 * g * g
    with np.errstate(divide="ignore", invalid="ignore"):
        peclet = float(np.max(np.where(D > 0, np.abs(f) * h / D, np.inf)))
    warnings.warn(
        f"fokker_planck: the density went negative: minimum {low:.3g} ({-low / peak:.2g} of the "
        f"peak) at x = {float(x[i]):.4g}, t = {float(t[k]):.4g}; the cell Péclet number "
        f"max |f|Δx/D is {peclet:.3g} (wiggles above 2). Use a finer grid (more points), a "
        "smaller dt, or rannacher=4 for a delta start; the values are not clipped.",
        NegativeDensityWarning, stacklevel=3)


# ----------------------------------------------------------------------------- backward equation
def _bk_operator(sde: SDE, x: np.ndarray, h: float, bcs: tuple[str, str],
                 potential) -> Callable[[float], Tri]:
    def build(t: float) -> Tri:
        f, g = _coefficients(sde, t, x)
        D = 0.5 * g * g
        V = _eval_1d(potential, t, x, name="potential")
        n = x.size
        lo = -f / (2.0 * h) + D / h**2
        up = f / (2.0 * h) + D / h**2
        di = -2.0 * D / h**2 + V
        for end, side in ((0, bcs[0]), (n - 1, bcs[1])):
            if side == "absorbing":
                lo[end] = di[end] = up[end] = 0.0
            elif end == 0:  # u_x = 0: ghost u_{-1} = u_1
                up[0] = 2.0 * D[0] / h**2
            else:
                lo[-1] = 2.0 * D[-1] / h**2
        return lo, di, up

    return build


def kolmogorov_backward(sde: SDE, x, terminal, ts, *, potential=None,
                        bc: str | Sequence[str] = "absorbing", rannacher: int = 2,
                        dt: float | None = None, n_steps: int | None = None) -> np.ndarray:
    r"""Solve the Kolmogorov backward / Feynman–Kac PDE backwards from a terminal condition.

    ``u_t + f u_x + (g²/2) u_xx + V u = 0``, ``u(·, ts[-1]) = terminal``; its solution is
    ``u(x, t) = E[exp(∫_t^T V(s, X_s) ds) terminal(X_T) | X_t = x]`` (Feynman–Kac). Central
    differences, Crank–Nicolson (1947) with a Rannacher (1984) start at the terminal time (for
    payoff kinks). Black–Scholes: log-price grid, ``f = r − sigma²/2``, ``g = sigma``,
    ``potential = −r``.

    Args:
        sde: a 1-D :class:`~kexue.stochastic.SDE` (coefficients evaluated on ``(N, 1)`` tensors).
        x: uniform grid, shape ``(N,)``.
        terminal: terminal values on ``x``, shape ``(N,)``.
        ts: strictly increasing times, shape ``(T,)``; the terminal condition holds at ``ts[-1]``.
        potential: ``V`` — ``None`` (0), a number, or a callable ``(t, x) -> (N, 1)``. Sign:
            ``+V u`` (``V < 0`` discounts). Su's potential enters as ``V_Su / alpha``.
        bc: ``"absorbing"`` (``u = 0``, default), ``"reflecting"`` (``u_x = 0``) or a pair.
        rannacher, dt, n_steps: as in :func:`fokker_planck` (steps per interval of ``ts``).

    Returns:
        ``(T, N)`` array, row ``k`` is ``u(x, ts[k])`` (the last row is ``terminal``).
    """
    _check_sde(sde)
    x, h = _uniform_grid(x)
    t = _times(ts)
    _check_stepping(dt, n_steps, rannacher)
    bcs = _parse_bc(bc)
    term = np.asarray(terminal, dtype=np.float64)
    if term.shape != x.shape:
        raise ValueError(f"terminal must have the grid's shape {x.shape}; got {term.shape}.")
    if not np.all(np.isfinite(term)):
        raise ValueError("terminal must be finite; it contains nan/inf.")
    u = term.copy()
    if bcs[0] == "absorbing":
        u[0] = 0.0
    if bcs[1] == "absorbing":
        u[-1] = 0.0
    sols = _march(u, t[::-1], _bk_operator(sde, x, h, bcs, potential), dt=dt, n_steps=n_steps,
                  rannacher=rannacher, default_dt=h)
    sols[0] = term.copy()
    return np.stack(sols[::-1])  # (T, N)
