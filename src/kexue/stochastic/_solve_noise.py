"""Brownian increments for :func:`~kexue.stochastic.solve`: drawn in chunks, or given.

Drawn: one ``torch.randn`` call per chunk of steps (``_CHUNK_ELEMENTS`` numbers), the chunk-level
quantities a method needs (Milstein's ``(dW² - h)/2``, SRA1's ``dZ/h``) computed once per chunk,
vectorised over steps. Given: a :class:`~kexue.stochastic.BrownianInterval`, a
:class:`~kexue.stochastic.BrownianIncrements`, a raw ``(n_steps, batch, m)`` tensor or a
torchsde-style callable ``bm(s, t)``, checked against the step grid and restricted onto it.
Sources: Kloeden & Platen 1992, §10.4 (the increments and ``I10``); Rößler 2010 (SRA1's ``dZ``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ._brownian import BrownianIncrements, _draw
from ._brownian_interval import BrownianInterval
from ._methods import Method

# Elements (steps × batch × noise dim) of Brownian increments drawn per torch.randn call.
_CHUNK_ELEMENTS = 1 << 18


def _noise_chunks(method: Method, steps: np.ndarray, batch: int, m: int, dtype: torch.dtype,
                  device: torch.device, generator: torch.Generator | None,
                  ) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
    """Yield ``(k0, noise_terms)`` for consecutive chunks of steps, drawn on the fly."""
    n = steps.size
    chunk = max(1, min(n, _CHUNK_ELEMENTS // max(1, batch * m)))
    uniform = bool(np.all(np.abs(steps - steps[0]) <= 1e-12 * steps[0]))
    h_all = None if uniform else torch.as_tensor(steps, dtype=dtype, device=device).view(-1, 1, 1)
    for k0 in range(0, n, chunk):
        k1 = min(n, k0 + chunk)
        h = float(steps[0]) if uniform else h_all[k0:k1]        # float or (n_chunk, 1, 1)
        dw, dz = _draw((k1 - k0, batch, m), h, levy_area=method.levy_area,
                       generator=generator, dtype=dtype, device=device)
        yield k0, method.noise_terms(dw, dz, h)


def _callable_noise(method: Method, brownian, grid: np.ndarray
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Increments from a duck-typed Brownian path (torchsde's ``BrownianInterval``: ``bm(ta, tb)``
    → ``W(tb) - W(ta)``; ``bm(ta, tb, return_U=True)`` → ``(W, U)`` with ``U = ∫(W - W(ta))``),
    queried step by step in order and stacked to ``(n, batch, m)``."""
    ws, us = [], []
    for a, b in zip(grid[:-1].tolist(), grid[1:].tolist()):
        if method.levy_area:
            try:
                w, u = brownian(a, b, return_U=True)
            except TypeError:
                raise ValueError(
                    f"brownian: method {method.name!r} needs the space-time integral; the "
                    "callable must accept return_U=True (torchsde: levy_area_approximation="
                    "'space-time')."
                ) from None
            us.append(u)
        else:
            w = brownian(a, b)
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"brownian(s, t) must return a tensor (batch, m); got "
                            f"{type(w).__name__}")
        ws.append(w)
    return torch.stack(ws), (torch.stack(us) if us else None)


def _given_noise(method: Method, brownian, grid: np.ndarray,
                 batch: int, m: int, dtype: torch.dtype, device: torch.device,
                 ) -> tuple[int, tuple[torch.Tensor, ...]]:
    """Caller-provided increments, checked against the step grid and restricted onto it."""
    n = grid.size - 1
    if isinstance(brownian, BrownianInterval):
        if method.levy_area and brownian.levy_area is None:
            raise ValueError(
                f"brownian: method {method.name!r} needs the space-time integral dZ; build the "
                "BrownianInterval with levy_area='space-time'."
            )
        if brownian.t0 > grid[0] or brownian.t1 < grid[-1]:
            raise ValueError(
                f"brownian: the BrownianInterval covers [{brownian.t0!r}, {brownian.t1!r}] but "
                f"the solve runs over [{float(grid[0])!r}, {float(grid[-1])!r}]; build it over "
                "the whole solve interval."
            )
        if len(brownian.shape) != 2:
            raise ValueError(
                f"brownian: the BrownianInterval has shape {brownian.shape}; the solve needs "
                f"(batch, m) = ({batch}, {m})."
            )
        dw, dz = brownian.increments(grid)
    elif isinstance(brownian, BrownianIncrements):
        bm = brownian.restrict(grid)
        dw, dz = bm.dW, bm.dZ
        if method.levy_area and dz is None:
            raise ValueError(
                f"brownian: method {method.name!r} needs the space-time integral dZ; sample it "
                "with BrownianIncrements.sample(ts, batch, dim, levy_area=True)."
            )
    elif isinstance(brownian, torch.Tensor):
        if method.levy_area:
            raise ValueError(
                f"brownian: method {method.name!r} needs dZ as well as dW; pass a "
                "BrownianIncrements(ts, dW, dZ) instead of a raw increment tensor."
            )
        if brownian.ndim != 3 or brownian.shape[0] != n:
            raise ValueError(
                f"brownian must have shape (n_steps, batch, m) = ({n}, {batch}, {m}) for this "
                f"step grid; got {tuple(brownian.shape)}. Pass a BrownianIncrements to reuse "
                "one path on several grids."
            )
        if not bool(torch.isfinite(brownian).all()):
            raise ValueError("brownian contains non-finite increments.")
        dw, dz = brownian, None
    elif callable(brownian):
        dw, dz = _callable_noise(method, brownian, grid)
    else:
        raise TypeError(
            f"brownian must be None, a BrownianIncrements, a BrownianInterval, a tensor "
            f"(n_steps, batch, m) or a callable bm(s, t) (e.g. torchsde's BrownianInterval); "
            f"got {type(brownian).__name__}"
        )
    if dw.shape[1:] != (batch, m):
        raise ValueError(
            f"brownian: increments have (batch, m) = {tuple(dw.shape[1:])}, but the solve needs "
            f"({batch}, {m}) (m = d for diagonal/additive noise, 1 for scalar noise, "
            "diffusion(t, x).shape[-1] for general noise)."
        )
    dw = dw.to(dtype=dtype, device=device)
    dz = None if dz is None else dz.to(dtype=dtype, device=device)
    h = torch.as_tensor(np.diff(grid), dtype=dtype, device=device).view(-1, 1, 1)  # (n, 1, 1)
    return 0, method.noise_terms(dw, dz, h)
