"""Brownian increments on a time grid, with the space-time integral needed by order-1.5 schemes.

A Brownian path is stored by its increments on a grid ``t_0 < t_1 < ... < t_n``:

* ``dW_k = W(t_{k+1}) - W(t_k)`` ~ ``N(0, h_k)`` with ``h_k = t_{k+1} - t_k``;
* optionally ``dZ_k = ∫_{t_k}^{t_{k+1}} (W(s) - W(t_k)) ds`` — the iterated integral
  ``I_(1,0)`` of Kloeden & Platen (1992, §5.8), which Rößler's SRA1 scheme needs.

``(dW_k, dZ_k)`` is a centred Gaussian pair with ``Var dW = h``, ``Cov(dW, dZ) = h²/2`` and
``Var dZ = h³/3``; it is drawn exactly from two independent standard normals ``U1, U2``::

    dW = sqrt(h) U1,        dZ = (h / 2) (dW + sqrt(h / 3) U2).

The same path can be *restricted* to any sub-grid (a coarser grid whose points all lie on this
one), which is how strong convergence is measured on nested grids (Kloeden & Platen 1992,
§9.3; kexue.fm archive 3762 for the SDE itself). With ``W_j = W(t_j) - W(t_0)`` and the
running integral ``I_j = ∫_{t_0}^{t_j} (W(s) - W(t_0)) ds``, both known exactly on the fine grid
(``I_{k+1} = I_k + h_k W_k + dZ_k``), a coarse step ``[t_i, t_j]`` has

    ΔW = W_j - W_i,        ΔZ = ∫_{t_i}^{t_j} (W(s) - W(t_i)) ds = I_j - I_i - (t_j - t_i) W_i,

which for two adjacent fine steps ``[a, b], [b, c]`` is ``Z_ac = Z_ab + Z_bc + (c - b) ΔW_ab``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..rng import as_generator

__all__ = ["BrownianIncrements"]


def _grid_floats(ts: torch.Tensor | Sequence[float], name: str) -> np.ndarray:
    """``ts`` as a float64 NumPy array ``(n+1,)``, checked 1-D, finite, strictly increasing."""
    if isinstance(ts, torch.Tensor):
        arr = ts.detach().to(dtype=torch.float64).cpu().numpy()
    else:
        try:
            arr = np.asarray(ts, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a 1-D tensor or sequence of floats; got {type(ts).__name__}"
            ) from None
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(
            f"{name} must be 1-D with at least 2 times (start and end); got shape "
            f"{tuple(arr.shape)}. Use e.g. torch.linspace(0, 1, 101)."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; got {arr[~np.isfinite(arr)][:3].tolist()}")
    steps = np.diff(arr)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0))
        raise ValueError(
            f"{name} must be strictly increasing; got {name}[{k}]={arr[k]!r} followed by "
            f"{name}[{k + 1}]={arr[k + 1]!r}. Sort the times and drop duplicates."
        )
    return arr


def _draw(shape: tuple[int, ...], h: torch.Tensor | float, *, levy_area: bool,
          generator: torch.Generator | None, dtype: torch.dtype, device: torch.device | str,
          ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Draw ``(dW, dZ)`` of shape ``shape = (n, batch, m)`` for step sizes ``h`` (a float, or a
    tensor ``(n, 1, 1)``) in one ``torch.randn`` call on ``device`` (``generator=None``: PyTorch's
    default generator there). ``dZ`` is ``None`` unless ``levy_area``."""
    if not levy_area:
        dw = torch.randn(shape, generator=generator, dtype=dtype, device=device)
        return dw.mul_(h.sqrt() if isinstance(h, torch.Tensor) else math.sqrt(h)), None
    u = torch.randn((2, *shape), generator=generator, dtype=dtype, device=device)  # (2, n, b, m)
    sqrt_h = h.sqrt() if isinstance(h, torch.Tensor) else math.sqrt(h)
    dw = u[0].mul_(sqrt_h)                                   # (n, batch, m), N(0, h)
    dz = u[1].mul_(sqrt_h * (1.0 / math.sqrt(3.0))).add_(dw).mul_(h * 0.5)  # (n, batch, m)
    return dw, dz


class BrownianIncrements:
    """Increments of one batch of Brownian paths on a fixed grid; reusable on any sub-grid.

    Pass it as ``solve(..., brownian=bm)``: the solver restricts it to its own step grid, so the
    same path drives every step size of a convergence study (Kloeden & Platen 1992, §9.3). The
    first restriction caches the running sums ``W`` and ``∫W dt`` (memory of ``dW`` and ``dZ``
    once more), so further restrictions only gather and subtract.

    Args:
        ts: grid times ``(n+1,)``, strictly increasing (tensor or sequence of floats).
        dW: increments ``(n, batch, m)``; ``dW[k] = W(ts[k+1]) - W(ts[k])``.
        dZ: optional ``(n, batch, m)``, ``dZ[k] = ∫_{ts[k]}^{ts[k+1]} (W(s) - W(ts[k])) ds``
            (needed by ``sra1``).

    Raises:
        TypeError: ``dW``/``dZ`` not floating-point tensors.
        ValueError: shapes inconsistent with ``ts`` or with each other, or non-finite values.
    """

    def __init__(self, ts: torch.Tensor | Sequence[float], dW: torch.Tensor,
                 dZ: torch.Tensor | None = None) -> None:
        grid = _grid_floats(ts, "ts")
        for name, v in (("dW", dW), ("dZ", dZ)):
            if v is None:
                continue
            if not isinstance(v, torch.Tensor) or not v.is_floating_point():
                raise TypeError(
                    f"{name} must be a floating-point tensor of shape (n_steps, batch, m); got "
                    f"{type(v).__name__ if not isinstance(v, torch.Tensor) else v.dtype}"
                )
            if v.ndim != 3 or v.shape[0] != grid.size - 1:
                raise ValueError(
                    f"{name} must have shape (len(ts) - 1, batch, m) = ({grid.size - 1}, batch, "
                    f"m); got {tuple(v.shape)}. Draw it with BrownianIncrements.sample(ts, ...)."
                )
            if not bool(torch.isfinite(v).all()):
                raise ValueError(f"{name} contains non-finite values; draw fresh increments.")
        if dZ is not None and dZ.shape != dW.shape:
            raise ValueError(f"dZ must have the shape of dW {tuple(dW.shape)}; got "
                             f"{tuple(dZ.shape)}")
        self._grid = grid
        self.ts = torch.as_tensor(grid, dtype=torch.float64, device=dW.device)
        self.dW = dW
        self.dZ = dZ
        self._cum: tuple[torch.Tensor, torch.Tensor | None] | None = None  # (W, I), lazily

    @classmethod
    def sample(cls, ts: torch.Tensor | Sequence[float], batch: int, dim: int = 1, *,
               levy_area: bool = False, generator: torch.Generator | int | None = None,
               dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
               ) -> BrownianIncrements:
        """Draw exact Brownian increments (and ``dZ`` if ``levy_area``) on the grid ``ts``.

        Args:
            ts: grid ``(n+1,)``.
            batch: number of independent paths.
            dim: number of independent Brownian components ``m`` per path.
            levy_area: also draw ``dZ = ∫(W - W(t_k)) ds`` jointly with ``dW`` (for ``sra1``).
            generator: the randomness rule of :mod:`kexue.rng`: a ``torch.Generator`` on
                ``device``, an int seed, or ``None`` (PyTorch's default generator, so
                ``torch.manual_seed`` reproduces the draw).
            dtype: of the increments.
            device: of the increments (default: PyTorch's default device).

        Returns:
            ``BrownianIncrements`` with ``dW`` (and ``dZ``) of shape ``(n, batch, dim)``.
        """
        grid = _grid_floats(ts, "ts")
        for name, v in (("batch", batch), ("dim", dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        dev = torch.device(device) if device is not None else torch.empty(0).device
        gen = as_generator(generator, device=dev)
        h = torch.as_tensor(np.diff(grid), dtype=dtype, device=dev).view(-1, 1, 1)  # (n,1,1)
        dw, dz = _draw((grid.size - 1, batch, dim), h, levy_area=levy_area, generator=gen,
                       dtype=dtype, device=dev)
        return cls(grid, dw, dz)

    @property
    def n_steps(self) -> int:
        return self._grid.size - 1

    @property
    def batch(self) -> int:
        return self.dW.shape[1]

    @property
    def dim(self) -> int:
        return self.dW.shape[2]

    @property
    def grid(self) -> np.ndarray:
        """The grid times as float64 NumPy array ``(n+1,)``."""
        return self._grid

    def W(self) -> torch.Tensor:
        """The path ``W(t_k) - W(t_0)`` on the grid, ``(n+1, batch, m)``."""
        return self._cumulative()[0]

    def _cumulative(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(W, I)`` on the grid, each ``(n+1, batch, m)``: ``W_k = W(t_k) - W(t_0)`` and
        ``I_k = ∫_{t_0}^{t_k} (W(s) - W(t_0)) ds`` (``None`` without ``dZ``). Computed once and
        kept, so restricting one fine path to many grids costs one cumulative sum."""
        if self._cum is None:
            zero = torch.zeros_like(self.dW[:1])                 # (1, batch, m)
            W = torch.cat([zero, self.dW.cumsum(0)], dim=0)       # (n+1, batch, m)
            I = None
            if self.dZ is not None:
                h = torch.as_tensor(np.diff(self._grid), dtype=self.dW.dtype,
                                    device=self.dW.device).view(-1, 1, 1)  # (n, 1, 1)
                # I_{k+1} = I_k + h_k W_k + dZ_k,  I_0 = 0
                inc = torch.addcmul(self.dZ, h, W[:-1])          # (n, batch, m)
                I = torch.cat([zero, inc.cumsum(0)], dim=0)       # (n+1, batch, m)
            self._cum = (W, I)
        return self._cum

    def _indices(self, ts: np.ndarray) -> np.ndarray:
        """Positions of the times ``ts`` in this grid; ValueError if one is not a grid point."""
        fine = self._grid
        tol = 1e-9 * max(1.0, float(np.max(np.abs(fine))))
        pos = np.clip(np.searchsorted(fine, ts), 1, fine.size - 1)
        left, right = fine[pos - 1], fine[pos]
        idx = np.where(np.abs(ts - left) <= np.abs(right - ts), pos - 1, pos)
        err = np.abs(fine[idx] - ts)
        if np.any(err > tol):
            k = int(np.argmax(err > tol))               # the first time off the grid
            raise ValueError(
                f"brownian: time {float(ts[k])!r} is not a point of the Brownian grid "
                f"[{float(fine[0])!r}, ..., {float(fine[-1])!r}] ({fine.size - 1} steps); "
                "sample the increments on a grid that contains every solver step (e.g. a "
                "power-of-two refinement of the coarsest grid)."
            )
        return idx

    def restrict(self, ts: torch.Tensor | Sequence[float] | np.ndarray) -> BrownianIncrements:
        """The same path on the sub-grid ``ts`` (every time must be a point of this grid).

        ``dW`` is summed exactly; ``dZ`` is aggregated exactly with
        ``ΔZ_[t_i, t_j] = I_j - I_i - (t_j - t_i) W_i`` (see the module docstring).

        Returns:
            ``BrownianIncrements`` on ``ts`` with ``dW`` (and ``dZ``) ``(len(ts)-1, batch, m)``.

        Raises:
            ValueError: a time of ``ts`` is not on this grid.
        """
        coarse = _grid_floats(ts, "ts")
        idx = self._indices(coarse)
        if idx.size == self._grid.size:
            return self
        W, I = self._cumulative()                                # (n+1, batch, m) each
        it = torch.as_tensor(idx, device=self.dW.device)
        dw = W[it[1:]] - W[it[:-1]]                              # (n_coarse, batch, m)
        dz = None
        if I is not None:
            span = torch.as_tensor(np.diff(coarse), dtype=self.dW.dtype,
                                   device=self.dW.device).view(-1, 1, 1)  # (n_coarse, 1, 1)
            dz = I[it[1:]] - I[it[:-1]] - span * W[it[:-1]]      # (n_coarse, batch, m)
        return BrownianIncrements(coarse, dw, dz)

    def __repr__(self) -> str:
        return (f"BrownianIncrements(n_steps={self.n_steps}, batch={self.batch}, dim={self.dim}, "
                f"t=[{self._grid[0]:g}, {self._grid[-1]:g}], levy_area={self.dZ is not None})")
