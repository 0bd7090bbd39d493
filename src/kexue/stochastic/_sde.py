"""The SDE object: ``dx = f(t, x) dt + g(t, x) dW`` (Itô), time-major, batched.

Su's thesis (kexue.fm archive 3762) writes the 1-D case as ``dx = p(x,t) dt + sqrt(alpha) dW``;
here ``f`` is the drift ``p`` and ``g`` the diffusion ``sqrt(alpha)``. Shapes follow the torchsde
convention: ``x`` is ``(batch, d)``; ``f(t, x)`` returns ``(batch, d)``; ``g(t, x)`` returns
something broadcastable to ``(batch, d)`` (a full ``(batch, d)`` tensor, or a 0-d / ``(d,)`` /
``(1, d)`` tensor when it does not depend on the path). ``noise="scalar"`` means one Brownian
motion per path shared by all components (``dW`` of shape ``(batch, 1)``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["SDE", "NOISE_TYPES", "ito_to_stratonovich", "stratonovich_to_ito"]

NOISE_TYPES = ("diagonal", "additive", "scalar")

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SDE:
    """An Itô SDE ``dx = drift(t, x) dt + diffusion(t, x) dW`` with diagonal-type noise.

    Args:
        drift: ``f(t, x) -> (batch, d)``; ``t`` is a 0-d tensor, ``x`` is ``(batch, d)``.
        diffusion: ``g(t, x)``; ``(batch, d)`` for diagonal noise (each component driven by its
            own Brownian motion), or anything broadcastable to ``(batch, d)`` for additive noise
            (``g`` independent of ``x``) and scalar noise (``d == 1``).
        noise: ``"diagonal"`` (default: component ``i`` is driven by its own Brownian motion
            ``W_i`` with coefficient ``g_i`` depending on ``x_i`` only), ``"additive"`` (diagonal
            with ``g`` independent of ``x``; enables ``sra1`` and makes Euler strong order 1) or
            ``"scalar"`` (one Brownian motion per path shared by all ``d`` components).
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
            if not gx.requires_grad:                # g does not depend on x at all
                return torch.zeros_like(x)
            (grad,) = torch.autograd.grad(gx.sum(), xr, allow_unused=True)
        return torch.zeros_like(x) if grad is None else grad

    def g_and_g_dx(self, t: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g, ∂g/∂x)`` at ``(t, x)`` with one diffusion call (values detached from autograd).

        Used by the no-grad Milstein step: with autograd the diffusion is evaluated once and
        differentiated, instead of once for ``g`` and again inside :meth:`g_dx`.
        """
        if self.diffusion_dx is not None or self.noise == "additive":
            return self.diffusion(t, x), self.g_dx(t, x)
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            gx = self.diffusion(t, xr)
            if not gx.requires_grad:                # g does not depend on x at all
                return gx, torch.zeros_like(x)
            (grad,) = torch.autograd.grad(torch.broadcast_to(gx, xr.shape).sum(), xr,
                                          allow_unused=True)
        return gx.detach(), torch.zeros_like(x) if grad is None else grad

    def noise_dim(self, d: int) -> int:
        """Number of independent Brownian components per path: ``d``, or 1 for scalar noise."""
        return 1 if self.noise == "scalar" else d

    def probe(self, t: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Call drift and diffusion once at ``(t, x)`` and check them (the solvers' boundary check).

        Args:
            t: 0-d tensor (the start time).
            x: state ``(batch, d)``.

        Returns:
            ``(f, g)`` evaluated at ``(t, x)``.

        Raises:
            TypeError: drift or diffusion does not return a tensor.
            ValueError: a result not broadcastable to ``x.shape`` (without enlarging it),
                non-finite values, a negative diffusion, or ``noise="additive"`` with a
                diffusion that depends on ``x``.
        """
        f = self.drift(t, x)
        g = self.diffusion(t, x)
        tval = float(t)
        for name, v in (("drift", f), ("diffusion", g)):
            if not isinstance(v, torch.Tensor):
                raise TypeError(
                    f"{name}(t, x) must return a tensor broadcastable to x.shape "
                    f"{tuple(x.shape)} = (batch, d); got {type(v).__name__}. Return e.g. "
                    "torch.full_like(x, c) for a constant."
                )
            try:
                shape = torch.broadcast_shapes(v.shape, x.shape)
            except RuntimeError:
                shape = None
            if shape != x.shape:
                raise ValueError(
                    f"{name}(t, x) must return shape (batch, d) = {tuple(x.shape)} (or "
                    f"something broadcastable to it); got {tuple(v.shape)} at t={tval:g}. "
                    "Keep the trailing state dimension, e.g. return -x rather than -x[:, 0]."
                )
            if not bool(torch.isfinite(v).all()):
                raise ValueError(
                    f"{name}(t, x) returned non-finite values at t={tval:g} for the initial "
                    "state; check the formula and x0."
                )
        if bool((g < 0).any()):
            raise ValueError(
                f"diffusion must be non-negative; got min {float(g.min()):g} at t={tval:g} "
                "for the initial state. Use abs() of the diffusion or flip the sign of g "
                "(the law of the solution depends only on g²)."
            )
        if self.noise == "additive" and self.diffusion_dx is None:
            g_shift = self.diffusion(t, x + 1.0)
            if isinstance(g_shift, torch.Tensor) and not torch.equal(
                    torch.broadcast_to(g_shift, x.shape), torch.broadcast_to(g, x.shape)):
                raise ValueError(
                    "noise='additive' declares a diffusion g(t) independent of x, but "
                    "diffusion(t0, x0) != diffusion(t0, x0 + 1). Declare noise='diagonal' "
                    "(and use euler, milstein or heun)."
                )
        return f, g

    def __repr__(self) -> str:
        return f"SDE(drift={self.drift!r}, diffusion={self.diffusion!r}, noise={self.noise!r})"


def _converted(sde: SDE, sign: float) -> SDE:
    if sde.noise == "additive":
        return SDE(sde.drift, sde.diffusion, noise="additive", diffusion_dx=sde.diffusion_dx)
    drift, diffusion, g_dx = sde.drift, sde.diffusion, sde.g_dx

    scalar = sde.noise == "scalar"

    def new_drift(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if scalar and x.shape[-1] != 1:
            raise ValueError(
                "Itô/Stratonovich conversion of scalar noise needs d == 1 (the correction is "
                f"g·∇g, not elementwise); got d={x.shape[-1]}. Use noise='diagonal' if each "
                "component has its own Brownian motion."
            )
        return drift(t, x) + (0.5 * sign) * diffusion(t, x) * g_dx(t, x)

    return SDE(new_drift, diffusion, noise=sde.noise, diffusion_dx=sde.diffusion_dx)


def ito_to_stratonovich(sde: SDE) -> SDE:
    """The Stratonovich SDE with the same solution as the Itô SDE ``sde`` (diagonal noise).

    ``dx = f dt + g dW`` (Itô) equals ``dx = (f - ½ g ∂g/∂x) dt + g ∘ dW`` (Stratonovich),
    componentwise for diagonal/scalar noise (Kloeden & Platen 1992, eq. 4.9.6). Additive noise
    needs no correction. ``∂g/∂x`` comes from ``sde.diffusion_dx`` or autograd.

    Use it before ``solve(..., method="heun")``, which integrates in the Stratonovich sense.
    """
    return _converted(sde, -1.0)


def stratonovich_to_ito(sde: SDE) -> SDE:
    """The Itô SDE equivalent to the Stratonovich SDE ``sde``: drift ``f + ½ g ∂g/∂x``.

    Inverse of :func:`ito_to_stratonovich` (Kloeden & Platen 1992, eq. 4.9.6).
    """
    return _converted(sde, +1.0)
