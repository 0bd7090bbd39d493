"""The SDE object: ``dx = f(t, x) dt + g(t, x) dW`` (Itô), time-major, batched.

Su's thesis (kexue.fm archive 3762) writes the 1-D case as ``dx = p(x,t) dt + sqrt(alpha) dW``;
here ``f`` is the drift ``p`` and ``g`` the diffusion ``sqrt(alpha)``. Shapes follow the torchsde
convention: ``x`` is ``(batch, d)``; ``f(t, x)`` returns ``(batch, d)``; ``g(t, x)`` returns
``(batch, d)`` for ``noise="diagonal"``, and may return something broadcastable to it (a scalar or
a ``(d,)``/``(1, d)`` tensor) for ``noise="additive"``/``"scalar"``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["SDE", "NOISE_TYPES"]

NOISE_TYPES = ("diagonal", "additive", "scalar")

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SDE:
    """An Itô SDE ``dx = drift(t, x) dt + diffusion(t, x) dW`` with diagonal-type noise.

    Args:
        drift: ``f(t, x) -> (batch, d)``; ``t`` is a 0-d tensor, ``x`` is ``(batch, d)``.
        diffusion: ``g(t, x)``; ``(batch, d)`` for diagonal noise (each component driven by its
            own Brownian motion), or anything broadcastable to ``(batch, d)`` for additive noise
            (``g`` independent of ``x``) and scalar noise (``d == 1``).
        noise: ``"diagonal"`` (default), ``"additive"`` (``g`` does not depend on ``x``; enables
            ``sra1`` and makes Euler strong order 1) or ``"scalar"``.
        diffusion_dx: optional ``∂g/∂x (t, x) -> (batch, d)`` (elementwise, diagonal noise) used
            by Milstein; if absent it is computed with autograd.

    Raises:
        TypeError: ``drift``/``diffusion``/``diffusion_dx`` not callable.
        ValueError: ``noise`` not one of ``NOISE_TYPES``.
    """

    def __init__(self, drift: Fn, diffusion: Fn, *, noise: str = "diagonal",
                 diffusion_dx: Fn | None = None) -> None:
        for name, fn in (("drift", drift), ("diffusion", diffusion)):
            if not callable(fn):
                raise TypeError(
                    f"{name} must be a callable f(t, x) -> tensor of shape (batch, d); "
                    f"got {type(fn).__name__}. Wrap constants as lambda t, x: c."
                )
        if diffusion_dx is not None and not callable(diffusion_dx):
            raise TypeError(
                f"diffusion_dx must be None or a callable (t, x) -> (batch, d); "
                f"got {type(diffusion_dx).__name__}"
            )
        if noise not in NOISE_TYPES:
            raise ValueError(
                f"noise must be one of {', '.join(NOISE_TYPES)}; got {noise!r}. "
                "Use 'additive' when the diffusion does not depend on x."
            )
        self.drift = drift
        self.diffusion = diffusion
        self.noise = noise
        self.diffusion_dx = diffusion_dx

    def f(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Drift ``(batch, d)``."""
        return self.drift(t, x)

    def g(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Diffusion, broadcastable to ``(batch, d)``."""
        return self.diffusion(t, x)

    def g_dx(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Elementwise ``∂g_i/∂x_i`` ``(batch, d)``: analytic if given, else autograd."""
        if self.diffusion_dx is not None:
            return self.diffusion_dx(t, x)
        if self.noise == "additive":
            return torch.zeros_like(x)
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            gx = torch.broadcast_to(self.diffusion(t, xr), xr.shape)
            (grad,) = torch.autograd.grad(gx.sum(), xr, allow_unused=True)
        return torch.zeros_like(x) if grad is None else grad

    def __repr__(self) -> str:
        return f"SDE(drift={self.drift!r}, diffusion={self.diffusion!r}, noise={self.noise!r})"
