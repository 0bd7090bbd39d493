r"""2-D Fokker–Planck solves: Strang-split Crank–Nicolson and a time-sliced path integral.

Su's thesis (kexue.fm archives 3750, 3757, 3762) in 1-D; here the same chain for
``dX = f(t, X) dt + diag(sqrt(alpha_1), sqrt(alpha_2)) dW`` in the plane, whose density solves

``P_t = −∂_x(f_1 P) − ∂_y(f_2 P) + (alpha_1/2) P_xx + (alpha_2/2) P_yy``.

* :func:`fokker_planck_2d` — operator splitting (Strang 1968): half a Crank–Nicolson step along
  ``x``, a full one along ``y``, half along ``x`` (each a sparse LU factorised once for a
  time-independent drift). Second-order central differences; error ``O(Δx² + Δy² + Δt²)``.
  Absorbing walls (``P = 0`` outside the grid): the grid must be wide enough.
* :func:`path_integral_2d` — the time-sliced path integral of the SDE (Su's eq. 24/66 in 2-D,
  Itô pre-point slicing): ``P_{k+1}(x') = Σ_x K_Δt(x' | x) P_k(x) Δx Δy`` with the short-time
  (Euler–Maruyama) kernel ``K_Δt = N(x'; x + f(t_k, x)Δt, diag(alpha)Δt)``; error ``O(Δt)``
  (plus a spectrally small Riemann-sum error while ``Δx ≪ sqrt(alpha Δt)``).

Both take the grid as two 1-D uniform axes; densities are arrays of shape ``(Nx, Ny)`` indexed
``P[i, j] = P(x_i, y_j)``. The closed form for a linear drift ``f = A x + b`` (a 2-D OU, any real
``A``, symmetric or not) is in :func:`kexue.stochastic.closed_forms.linear_sde_nd_moments`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..limits import check_memory, check_work
from ._pde_grid import MAX_PDE_WORK, _uniform_grid

__all__ = ["fokker_planck_2d", "path_integral_2d", "PDE2D_ORDERS"]

PDE2D_ORDERS = {"fokker_planck_2d": 2, "path_integral_2d": 1}


def _alpha2(alpha) -> tuple[float, float]:
    arr = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (2,))
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"alpha must be a positive number or a pair (alpha_1, alpha_2) of "
                         f"positive numbers; got {alpha!r}.")
    return float(arr[0]), float(arr[1])


def _positive(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
            or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {v!r}.")
    return float(v)


def _count(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive integer; got {v!r}.")
    return int(v)


def _drift_on(drift, t: float, pts: np.ndarray) -> np.ndarray:
    """``f(t, X)`` at points ``pts`` of shape ``(M, 2)``; returns ``(M, 2)`` float64."""
    if not callable(drift):
        raise TypeError(f"drift must be a callable (t, X) with X of shape (M, 2); got "
                        f"{type(drift).__name__}.")
    xt = torch.as_tensor(pts, dtype=torch.float64)
    with torch.no_grad():
        out = torch.as_tensor(drift(torch.tensor(float(t), dtype=torch.float64), xt),
                              dtype=torch.float64)
    if tuple(out.shape) != tuple(pts.shape):
        raise ValueError(f"drift(t, X) must return shape (M, 2) = {pts.shape} for X of shape "
                         f"{pts.shape}; got {tuple(out.shape)}.")
    res = out.cpu().numpy()
    if not np.all(np.isfinite(res)):
        raise ValueError(f"drift(t, X) returned nan/inf at t={t:g} on the grid; shrink the grid.")
    return res


def _grid(x, y, p0) -> tuple[np.ndarray, float, np.ndarray, float, np.ndarray, np.ndarray]:
    x, hx = _uniform_grid(x, name="x")
    y, hy = _uniform_grid(y, name="y")
    P = np.asarray(p0, dtype=np.float64)
    if P.shape != (x.size, y.size):
        raise ValueError(f"p0 must have shape (len(x), len(y)) = ({x.size}, {y.size}), indexed "
                         f"p0[i, j] = p(x_i, y_j); got {P.shape}. Use numpy.meshgrid(x, y, "
                         "indexing='ij').")
    if not np.all(np.isfinite(P)):
        raise ValueError("p0 must be finite.")
    X, Y = np.meshgrid(x, y, indexing="ij")  # (Nx, Ny)
    pts = np.stack([X.reshape(-1), Y.reshape(-1)], axis=1)  # (Nx*Ny, 2)
    return x, hx, y, hy, P, pts


def _axis_operator(f: np.ndarray, h: float, D: float, axis: int, shape: tuple[int, int]):
    """Sparse central-difference ``−∂(f P) + D ∂²P`` along one axis, absorbing walls."""
    import scipy.sparse as sps

    nx, ny = shape
    n = nx * ny
    stride = ny if axis == 0 else 1
    size = shape[axis]
    idx = np.arange(n)
    pos = (idx // ny) if axis == 0 else (idx % ny)  # index along the axis
    diag = np.full(n, -2.0 * D / h**2)
    has_up = pos < size - 1
    has_dn = pos > 0
    rows_up = idx[has_up]
    rows_dn = idx[has_dn]
    # row k: coefficient of P_{k+stride} is −f_{k+stride}/(2h) + D/h²,
    # of P_{k−stride} it is +f_{k−stride}/(2h) + D/h²
    up = -f[rows_up + stride] / (2.0 * h) + D / h**2
    dn = f[rows_dn - stride] / (2.0 * h) + D / h**2
    rows = np.concatenate([idx, rows_up, rows_dn])
    cols = np.concatenate([idx, rows_up + stride, rows_dn - stride])
    vals = np.concatenate([diag, up, dn])
    return sps.csc_matrix((vals, (rows, cols)), shape=(n, n))


def fokker_planck_2d(drift, x, y, p0, T: float, *, alpha, n_steps: int,
                     t0: float = 0.0) -> np.ndarray:
    r"""Density at ``t0 + T`` of ``dX = f(X) dt + diag(sqrt(alpha)) dW`` by Strang-split CN.

    Strang (1968) splitting of the 2-D Fokker–Planck operator ``L = L_x + L_y`` (module
    docstring), each part advanced by Crank & Nicolson (1947):
    ``P ← C_x(Δt/2) C_y(Δt) C_x(Δt/2) P`` with ``C(τ) = (I − τL/2)^{-1}(I + τL/2)``.
    The drift is evaluated once at ``t0`` (time-independent drift). Error
    ``O(Δx² + Δy² + Δt²)`` (:data:`PDE2D_ORDERS`) for smooth initial data.

    Args:
        drift: ``f(t, X)`` on float64 tensors, ``X`` of shape ``(M, 2)``, returning ``(M, 2)``.
        x, y: uniform axes, shapes ``(Nx,)``, ``(Ny,)``.
        p0: initial density, shape ``(Nx, Ny)``, ``p0[i, j] = p(x_i, y_j)``.
        T: horizon (> 0).
        alpha: diffusion constants, a number or ``(alpha_1, alpha_2)`` (> 0).
        n_steps: time steps (≥ 1).
        t0: time at which the drift is evaluated.

    Returns:
        the density at ``t0 + T``, shape ``(Nx, Ny)``.

    Raises:
        ValueError: bad grid, ``p0``, ``T``, ``alpha`` or ``n_steps``;
            ``kexue._limits.SizeLimitError`` when ``6·n_steps·Nx·Ny`` exceeds
            :data:`~kexue.stochastic._pde_grid.MAX_PDE_WORK` or the LU factors would not fit in half
            the available memory (checked before work).
    """
    x, hx, y, hy, P, pts = _grid(x, y, p0)
    T = _positive("T", T)
    a1, a2 = _alpha2(alpha)
    n = _count("n_steps", n_steps)
    dt = T / n
    m = pts.shape[0]
    # three sparse solves and three products per step, each O(M) (banded LU)
    check_work(f"fokker_planck_2d ({n} steps on {x.size}×{y.size} = {m} grid points)",
               6.0 * n * m, limit=MAX_PDE_WORK, unit="grid-node updates",
               fix="use fewer n_steps or a coarser grid")
    # the LU factors of the y-sweep have a band of width Ny around the diagonal (row-major)
    check_memory(f"fokker_planck_2d's sparse LU factors on {x.size}×{y.size} grid points",
                 2 * 12.0 * m * (min(x.size, y.size) + 3), fix="use a coarser grid")
    f = _drift_on(drift, t0, pts)  # (M, 2)
    shape = (x.size, y.size)
    Lx = _axis_operator(f[:, 0], hx, a1 / 2.0, 0, shape)
    Ly = _axis_operator(f[:, 1], hy, a2 / 2.0, 1, shape)
    import scipy.sparse as sps
    from scipy.sparse.linalg import splu

    eye = sps.identity(Lx.shape[0], format="csc")
    solve_x = splu((eye - 0.25 * dt * Lx).tocsc()).solve
    solve_y = splu((eye - 0.5 * dt * Ly).tocsc()).solve
    Bx = (eye + 0.25 * dt * Lx).tocsr()
    By = (eye + 0.5 * dt * Ly).tocsr()
    u = P.reshape(-1).copy()  # (Nx*Ny,)
    for _ in range(n):
        u = solve_x(Bx @ u)
        u = solve_y(By @ u)
        u = solve_x(Bx @ u)
    return u.reshape(shape)


def path_integral_2d(drift, x, y, p0, T: float, *, alpha, n_slices: int,
                     t0: float = 0.0) -> np.ndarray:
    r"""Density at ``t0 + T`` by the time-sliced (Itô, Euler–Maruyama-kernel) path integral in 2-D.

    Su's thesis, kexue.fm archive 3757 eqs. 23–28 (product of short-time kernels integrated over
    the intermediate points) with the SDE's Onsager–Machlup/Itô short-time kernel of archive 3762:
    ``K_Δt(x' | x) = N(x'; x + f(t_k, x)Δt, diag(alpha)Δt)``. The intermediate integrals are
    Riemann sums on the grid, so one slice is a dense ``(Nx·Ny, Nx·Ny)`` matrix (memory
    ``8 (Nx Ny)²`` bytes; rebuilt only when the drift values change between slices). Error
    ``O(Δt)`` (:data:`PDE2D_ORDERS`).

    Args:
        drift: ``f(t, X)`` on float64 tensors ``(M, 2) -> (M, 2)``.
        x, y: uniform axes; p0: initial density ``(Nx, Ny)``.
        T: horizon (> 0); alpha: number or pair (> 0); n_slices: number of slices (≥ 1).
        t0: start time.

    Returns:
        the density at ``t0 + T``, shape ``(Nx, Ny)``.

    Raises:
        ValueError: a grid spacing above the short-time kernel width ``sqrt(alpha_i T/n)``, or
            more than 20 000 grid points (the dense slice matrix would not fit);
            ``kexue._limits.SizeLimitError`` when ``3·8·M²`` bytes exceed half the available
            memory or ``n_slices·M²`` exceeds ``50 × MAX_PDE_WORK`` (checked before work).
    """
    x, hx, y, hy, P, pts = _grid(x, y, p0)
    T = _positive("T", T)
    a1, a2 = _alpha2(alpha)
    n = _count("n_slices", n_slices)
    dt = T / n
    for name, h, a in (("x", hx, a1), ("y", hy, a2)):
        if h > math.sqrt(a * dt):
            raise ValueError(f"grid spacing along {name} ({h:.3g}) exceeds the short-time kernel "
                             f"width sqrt(alpha*T/n_slices) = {math.sqrt(a * dt):.3g}; use a "
                             "finer grid or fewer slices.")
    m = pts.shape[0]
    if m > 20_000:
        raise ValueError(f"path_integral_2d builds a dense (M, M) slice matrix; M = {m} grid "
                         "points is too many (at most 20000). Use a coarser grid.")
    # the slice matrix and two (M, M) temporaries while it is built
    check_memory(f"path_integral_2d's dense ({m}, {m}) slice matrix", 3 * 8.0 * m * m,
                 fix="use a coarser grid")
    check_work(f"path_integral_2d ({n} slices of a ({m}, {m}) matrix product)", float(n) * m * m,
               limit=50 * MAX_PDE_WORK, unit="multiply-adds",
               fix="use fewer n_slices or a coarser grid")
    u = P.reshape(-1).copy()
    prev_f, M = None, None
    for k in range(n):
        f = _drift_on(drift, t0 + k * dt, pts)  # (M, 2)
        if prev_f is None or not np.array_equal(f, prev_f):
            mean = pts + f * dt  # (M, 2): the kernel's mean for each departure point
            gx = np.exp(-(pts[:, None, 0] - mean[None, :, 0]) ** 2 / (2.0 * a1 * dt))  # (M, M)
            gx *= np.exp(-(pts[:, None, 1] - mean[None, :, 1]) ** 2 / (2.0 * a2 * dt))
            M = gx * (hx * hy / (2.0 * math.pi * dt * math.sqrt(a1 * a2)))  # M[arrive, depart]
            prev_f = f
        u = M @ u
    return u.reshape(x.size, y.size)
