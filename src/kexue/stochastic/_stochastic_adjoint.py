"""The stochastic adjoint of Li, Wong, Chen & Duvenaud 2020 (arXiv:2001.01328, §3) for
:func:`~kexue.stochastic.solve_adjoint`.

The state and the adjoint ``a = ∂L/∂y`` solve the augmented Stratonovich SDE backwards in time::

    dy = f dt + g ∘ dW,   da = -aᵀ ∂f/∂y dt - aᵀ ∂g/∂y ∘ dW,   dθ̄ = -aᵀ ∂f/∂θ dt - aᵀ ∂g/∂θ ∘ dW

from ``t_N`` to ``t_0`` on the forward pass's Brownian increments, with an Euler, midpoint or
Heun step; per step the augmented drift and diffusion are one vector–Jacobian product of
``f h + g ΔW`` with cotangent ``a``. An Itô SDE is read in its Stratonovich form (drift
``f - ½ g ∂g/∂x``, differentiated through ``∂g/∂x`` too). The reversible-Heun alternative is
in :mod:`kexue.stochastic._reversible_heun`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ._reversible_heun import noise_product
from ._sde import SDE

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _stratonovich_drift(sde: SDE, d: int) -> Fn:
    """The drift of ``sde`` in Stratonovich form, differentiable in the parameters of ``g``.

    Itô diagonal noise (and scalar with ``d == 1``): ``f - ½ g ∂g/∂x`` with ``∂g/∂x`` from
    ``diffusion_dx`` or autograd with ``create_graph`` (so the backward pass sees the
    correction's dependence on the parameters)."""
    if sde.sde_type == "stratonovich" or sde.noise == "additive":
        return sde.drift
    if sde.noise == "general" or (sde.noise == "scalar" and d != 1):
        raise ValueError(
            f"sde: an Itô SDE with noise={sde.noise!r} (d={d}) has no differentiable "
            "Stratonovich form here; build the SDE in Stratonovich form (sde_type="
            "'stratonovich', drift f - c with c the Itô–Stratonovich correction), or use "
            "diagonal/additive noise."
        )
    drift, diffusion, dgdx = sde.drift, sde.diffusion, sde.diffusion_dx

    def strat_drift(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if dgdx is not None:
            return drift(t, x) - 0.5 * diffusion(t, x) * dgdx(t, x)
        outer = torch.is_grad_enabled()
        with torch.enable_grad():
            xr = x if x.requires_grad else x.detach().requires_grad_(True)
            gx = diffusion(t, xr)
            dg = None
            if gx.requires_grad:
                (dg,) = torch.autograd.grad(gx.sum(), xr, create_graph=outer, allow_unused=True)
        if dg is None:
            return drift(t, x)
        corr = 0.5 * gx * dg
        return drift(t, x) - (corr if outer else corr.detach())

    return strat_drift


def _method_forward(step, x0: torch.Tensor, n: int, dw_at, slot: Sequence[int],
                    ) -> torch.Tensor:
    """A kexue fixed-step method (out-of-place step closure) over ``n`` steps; ``(n_out, b, d)``."""
    x, ys = x0, [x0]
    for k in range(n):
        x = step(k, x, (dw_at(k),), None)
        if slot[k + 1] >= 0:
            ys.append(x)
    return torch.stack(ys)


def _stratonovich_backward(f: Fn, g: Fn, noise: str, params: Sequence[torch.Tensor],
                           scheme: str, t: torch.Tensor, h: Sequence[float], dw_at,
                           slot: Sequence[int], ys: torch.Tensor, grad_ys: torch.Tensor,
                           ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Li et al. (2020) adjoint: the augmented Stratonovich SDE from ``t_N`` back to ``t_0``.

    One reverse step ``k`` (``t_{k+1} → t_k``) of state ``S = (y, a, θ̄)`` with
    ``Ψ(t, y, a) = (Δ, -aᵀ∂Δ/∂y, -aᵀ∂Δ/∂θ)``, ``Δ = f(t, y) h_k + g(t, y) ΔW_k``:
    euler ``S - Ψ(t_{k+1}, S)``; midpoint ``S_m = S - ½Ψ(t_{k+1}, S)``, ``S - Ψ(t_k + h/2, S_m)``;
    heun ``S̃ = S - Ψ(t_{k+1}, S)``, ``S - ½[Ψ(t_{k+1}, S) + Ψ(t_k, S̃)]``.
    At output times ``y`` is reset to the stored forward state and ``a`` gets the output's
    cotangent.
    """
    gdw = noise_product(noise)
    params = tuple(params)
    gp = [torch.zeros_like(p) for p in params]

    def psi(tk, y, a, hk, dw, with_params: bool):
        with torch.enable_grad():
            yr = y.detach().requires_grad_(True)
            delta = f(tk, yr) * hk + gdw(g(tk, yr), dw)
            inputs = (yr, *params) if with_params else (yr,)
            if delta.requires_grad:
                grads = torch.autograd.grad(delta, inputs, grad_outputs=a, retain_graph=True,
                                            allow_unused=True)      # see rh_backward
            else:
                grads = (None,) * len(inputs)
        va = torch.zeros_like(y) if grads[0] is None else grads[0]
        return delta.detach(), va, grads[1:]

    def add(grads, w: float) -> None:
        for i, gi in enumerate(grads):
            if gi is not None:
                gp[i].add_(gi, alpha=w)

    n = len(h)
    out_row = {k: s for k, s in enumerate(slot) if s >= 0}
    y, a = ys[-1], grad_ys[-1].clone()
    for k in range(n - 1, -1, -1):
        hk, dw = h[k], dw_at(k)
        t1 = t[k + 1]
        if scheme == "euler":
            d1, va1, gt1 = psi(t1, y, a, hk, dw, True)
            y, a = y - d1, a + va1
            add(gt1, 1.0)
        elif scheme == "midpoint":
            d1, va1, _ = psi(t1, y, a, hk, dw, False)
            d2, va2, gt2 = psi(t[k] + 0.5 * hk, y - 0.5 * d1, a + 0.5 * va1, hk, dw, True)
            y, a = y - d2, a + va2
            add(gt2, 1.0)
        else:                                                    # heun
            d1, va1, gt1 = psi(t1, y, a, hk, dw, True)
            d2, va2, gt2 = psi(t[k], y - d1, a + va1, hk, dw, True)
            y, a = y - 0.5 * (d1 + d2), a + 0.5 * (va1 + va2)
            add(gt1, 0.5)
            add(gt2, 0.5)
        if k in out_row:
            y = ys[out_row[k]]
            a = a + grad_ys[out_row[k]]
    return a, gp
