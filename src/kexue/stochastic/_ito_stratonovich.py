"""Itô ⇄ Stratonovich: the drift correction and the converted SDE.

The two readings of ``g dW`` describe the same process when the drifts differ by the
Itô–Stratonovich correction (Kloeden & Platen 1992, eq. 4.9.6)::

    f_ito,i = f_strat,i + ½ Σ_j Σ_k g_kj ∂g_ij/∂x_k        (j over noise columns)

which is ``½ g ∂g/∂x`` componentwise for diagonal noise (``∂g/∂x`` from :meth:`SDE.g_dx`) and
zero for additive noise; for general noise each column's derivative is one double-backward
Jacobian–vector product.
"""

from __future__ import annotations

import torch

from ._sde import SDE

__all__ = ["ito_to_stratonovich", "stratonovich_to_ito", "ito_stratonovich_correction"]


def ito_stratonovich_correction(sde: SDE, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The drift correction ``c`` with ``f_ito = f_strat + c`` (Kloeden & Platen 1992, eq. 4.9.6).

    ``c_i = ½ Σ_j Σ_k g_kj ∂g_ij/∂x_k`` (``j`` over the ``m`` noise columns): ``½ g ∂g/∂x``
    componentwise for diagonal noise and for scalar noise with ``d == 1``, zero for additive
    noise. For general noise (and scalar noise with ``d > 1``, read as ``(batch, d, 1)``) each
    column's directional derivative ``(∂g_·j/∂x) g_·j`` is one double-backward Jacobian–vector
    product (rows of the batch are assumed independent, as everywhere in the solvers).

    Args:
        sde: the :class:`SDE` (its ``sde_type`` is not used: the same ``c`` converts both ways).
        t: 0-d tensor.
        x: state ``(batch, d)``.

    Returns:
        ``c`` of shape ``(batch, d)``, detached from autograd.
    """
    if sde.noise == "additive":
        return torch.zeros_like(x)
    d = x.shape[-1]
    if sde.noise == "diagonal" or (sde.noise == "scalar" and d == 1):
        return 0.5 * sde.diffusion(t, x) * sde.g_dx(t, x)
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        g = sde.diffusion(t, xr)
        g = torch.broadcast_to(g, x.shape)[..., None] if sde.noise == "scalar" else \
            torch.broadcast_to(g, (x.shape[0], *g.shape[1:]))          # (batch, d, m)
        out = torch.zeros_like(x)
        if not g.requires_grad:                   # g does not depend on x at all
            return out
        gd = g.detach()
        for j in range(g.shape[-1]):
            col = g[..., j]                                              # (batch, d)
            u = torch.zeros_like(col, requires_grad=True)
            (vjp,) = torch.autograd.grad(col, xr, grad_outputs=u, create_graph=True,
                                         allow_unused=True)
            if vjp is None or not vjp.requires_grad:
                continue
            (jv,) = torch.autograd.grad(vjp, u, grad_outputs=gd[..., j], retain_graph=True,
                                        allow_unused=True)
            if jv is not None:
                out += jv
    return 0.5 * out


def _converted(sde: SDE, sign: float, target: str) -> SDE:
    if sde.sde_type == target:
        raise ValueError(
            f"the SDE is already {target} (sde_type={sde.sde_type!r}); convert an SDE of the "
            "other type, or build it with the sde_type it has."
        )
    if sde.noise == "additive":
        return SDE(sde.drift, sde.diffusion, noise="additive", diffusion_dx=sde.diffusion_dx,
                   sde_type=target)
    drift, diffusion, g_dx = sde.drift, sde.diffusion, sde.g_dx
    if sde.noise == "diagonal" or sde.noise == "scalar":
        scalar = sde.noise == "scalar"

        def new_drift(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            if scalar and x.shape[-1] != 1:
                return drift(t, x) + sign * ito_stratonovich_correction(sde, t, x)
            return drift(t, x) + (0.5 * sign) * diffusion(t, x) * g_dx(t, x)
    else:
        def new_drift(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return drift(t, x) + sign * ito_stratonovich_correction(sde, t, x)

    return SDE(new_drift, diffusion, noise=sde.noise, diffusion_dx=sde.diffusion_dx,
               sde_type=target)


def ito_to_stratonovich(sde: SDE) -> SDE:
    """The Stratonovich SDE with the same solution as the Itô SDE ``sde``.

    ``dx = f dt + g dW`` (Itô) equals ``dx = (f - c) dt + g ∘ dW`` (Stratonovich) with the
    correction ``c`` of :func:`ito_stratonovich_correction` — ``½ g ∂g/∂x`` componentwise for
    diagonal/scalar noise (Kloeden & Platen 1992, eq. 4.9.6), the sum over noise columns for
    general noise; additive noise needs none. ``∂g/∂x`` comes from ``sde.diffusion_dx`` or
    autograd. The result has ``sde_type="stratonovich"``.

    Raises:
        ValueError: ``sde`` is already Stratonovich.
    """
    return _converted(sde, -1.0, "stratonovich")


def stratonovich_to_ito(sde: SDE) -> SDE:
    """The Itô SDE equivalent to the Stratonovich SDE ``sde``: drift ``f + c``.

    Inverse of :func:`ito_to_stratonovich` (Kloeden & Platen 1992, eq. 4.9.6).

    Raises:
        ValueError: ``sde`` is already Itô.
    """
    return _converted(sde, +1.0, "ito")
