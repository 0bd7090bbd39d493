"""The reversible Heun method and its exact discrete adjoint (Kidger et al. 2021, arXiv:2105.13493).

For the Stratonovich SDE ``dy = f(t, y) dt + g(t, y) ∘ dW`` the method carries a second state
``z`` (``z_0 = y_0``) and evaluates ``f``, ``g`` once per step, at ``(t_{k+1}, z_{k+1})``::

    z_{k+1} = 2 y_k - z_k + f(t_k, z_k) h_k + g(t_k, z_k) ΔW_k
    y_{k+1} = y_k + ½[f(t_k, z_k) + f(t_{k+1}, z_{k+1})] h_k
                  + ½[g(t_k, z_k) + g(t_{k+1}, z_{k+1})] ΔW_k

It is algebraically reversible: from ``(y_{k+1}, z_{k+1})`` and the same ``ΔW_k``::

    z_k = 2 y_{k+1} - z_{k+1} - f(t_{k+1}, z_{k+1}) h_k - g(t_{k+1}, z_{k+1}) ΔW_k
    y_k = y_{k+1} - ½[f(t_k, z_k) + f(t_{k+1}, z_{k+1})] h_k
                  - ½[g(t_k, z_k) + g(t_{k+1}, z_{k+1})] ΔW_k

so the backward pass rebuilds every forward state (up to rounding) instead of storing it, and
back-propagates through each step: the gradient is the gradient of the discrete forward pass
itself, with memory independent of the number of steps. Strong order 0.5 in general, 1.0 for
additive noise (Kidger et al. 2021, Theorem 3.3 and §3).

**The backward recursion** (derived here from the two lines above). Write ``φ_k(z) = f(t_k, z) h_k
+ g(t_k, z) ΔW_k`` and ``φ'_k(z) = f(t_{k+1}, z) h_k + g(t_{k+1}, z) ΔW_k``, ``a_k = ∂L/∂y_k`` and
``ā_k`` the total ``∂L/∂z_k``. Then::

    a_k = a_{k+1} + 2 ā_{k+1}  (+ the output cotangent of y_k)
    ā_k = J_{φ_k}(z_k)ᵀ u_k + J_{φ'_{k-1}}(z_k)ᵀ v_k - ā_{k+1}
    u_k = ½ a_{k+1} + ā_{k+1},   v_k = ½ a_k

and the parameters gather the same two vector–Jacobian products. Both products at node ``k`` use
the one evaluation of ``(f, g)(t_k, z_k)``, which the reconstruction needs anyway, so the
backward pass costs one ``f``/``g`` evaluation and one vector–Jacobian product per step
(``u_N = 0``, ``v_0 = 0``; ``∂L/∂y_0 = a_0 + ā_0`` since ``z_0 = y_0``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Declared strong orders of reversible Heun (Kidger et al. 2021, §3): by noise type.
STRONG_ORDER = {"additive": 1.0, "diagonal": 0.5, "scalar": 0.5, "general": 0.5}


def noise_product(noise: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(g, ΔW) -> g ΔW`` for a noise type: elementwise (diagonal/additive/scalar, where a
    ``(batch, 1)`` ``ΔW`` broadcasts) or the matrix–vector product for ``"general"``
    (``g (batch or 1, d, m)``, ``ΔW (batch, m)``)."""
    if noise == "general":
        return lambda g, dw: torch.matmul(g, dw.unsqueeze(-1)).squeeze(-1)
    return torch.mul


def noise_cotangent(noise: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(u, ΔW) -> c`` with ``Σ g·c = u·(g ΔW)``: the cotangent of ``g`` for the cotangent ``u``
    ``(batch, d)`` of ``g ΔW`` (``u ΔW`` elementwise, ``u ⊗ ΔW`` ``(batch, d, m)`` for general)."""
    if noise == "general":
        return lambda u, dw: u.unsqueeze(-1) * dw.unsqueeze(-2)
    return torch.mul


def rh_forward(f: Fn, g: Fn, noise: str, x0: torch.Tensor, t: torch.Tensor,
               h: Sequence[float], dw_at: Callable[[int], torch.Tensor],
               slot: Sequence[int], n_out: int,
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reversible Heun from ``x0`` ``(batch, d)`` over the grid ``t`` ``(n+1,)``.

    Runs with whatever autograd mode the caller set (no grad: the adjoint's forward; grad: plain
    backprop through the solver, memory ``O(n)``). ``dw_at(k)`` is ``ΔW_k`` ``(batch, m)``;
    ``slot[k] >= 0`` marks grid point ``k`` as output row ``slot[k]``.

    Returns:
        ``(ys (n_out, batch, d), y_N, z_N)``.
    """
    gdw = noise_product(noise)
    y = z = x0
    F, G = f(t[0], z), g(t[0], z)
    ys = [x0]
    for k, hk in enumerate(h):
        dw = dw_at(k)
        z1 = 2.0 * y - z + F * hk + gdw(G, dw)
        F1, G1 = f(t[k + 1], z1), g(t[k + 1], z1)
        y = y + (F + F1) * (0.5 * hk) + gdw(G + G1, dw) * 0.5
        z, F, G = z1, F1, G1
        if slot[k + 1] >= 0:
            ys.append(y)
    if len(ys) != n_out:
        raise RuntimeError("internal: output slots do not match ts")
    return torch.stack(ys), y, z


def rh_backward(f: Fn, g: Fn, noise: str, params: Sequence[torch.Tensor], t: torch.Tensor,
                h: Sequence[float], dw_at: Callable[[int], torch.Tensor],
                slot: Sequence[int], ys: torch.Tensor, y_n: torch.Tensor, z_n: torch.Tensor,
                grad_ys: torch.Tensor,
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The exact adjoint of :func:`rh_forward` by reversal (module docstring's recursion).

    Args:
        ys: the forward outputs ``(n_out, batch, d)`` (the reconstructed ``y`` is reset to them
            at output times, which only removes rounding).
        y_n, z_n: the terminal states ``(batch, d)``.
        grad_ys: ``∂L/∂ys`` ``(n_out, batch, d)``.

    Returns:
        ``(∂L/∂x0 (batch, d), [∂L/∂p for p in params])``.
    """
    gdw, gcot = noise_product(noise), noise_cotangent(noise)
    n = len(h)
    params = tuple(params)
    gp = [torch.zeros_like(p) for p in params]

    def node(k: int, z: torch.Tensor, u: torch.Tensor | None, v: torch.Tensor | None):
        """``(f, g)`` at ``(t_k, z)`` (detached) and ``J_{φ_k}ᵀu + J_{φ'_{k-1}}ᵀv`` for ``z`` and
        the parameters."""
        with torch.enable_grad():
            zr = z.detach().requires_grad_(True)
            F, G = f(t[k], zr), g(t[k], zr)
            cf = cg = None
            if u is not None:
                dw = dw_at(k)
                cf, cg = u * h[k], gcot(u, dw)
            if v is not None:
                dw = dw_at(k - 1)
                cf = v * h[k - 1] if cf is None else cf + v * h[k - 1]
                cg = gcot(v, dw) if cg is None else cg + gcot(v, dw)
            outs, cots = [], []
            for val, cot in ((F, cf), (G, cg)):
                if val.requires_grad:                   # a broadcast (batch-free) f or g gets
                    outs.append(val)                    # its cotangent summed to its shape
                    cots.append(cot if cot.shape == val.shape else cot.sum_to_size(val.shape))
            if outs:
                # retain_graph: f/g may use tensors computed from the parameters outside the
                # solve (e.g. sigma = log_sigma.exp()), whose graph every step shares.
                grads = torch.autograd.grad(outs, (zr, *params), grad_outputs=cots,
                                            retain_graph=True, allow_unused=True)
            else:
                grads = (None,) * (1 + len(params))
        for i, gi in enumerate(grads[1:]):
            if gi is not None:
                gp[i].add_(gi)
        gz = torch.zeros_like(z) if grads[0] is None else grads[0]
        return F.detach(), G.detach(), gz

    out_row = {k: s for k, s in enumerate(slot) if s >= 0}
    a = grad_ys[out_row[n]].clone()
    y, z = y_n, z_n
    F, G, gz = node(n, z, None, 0.5 * a)
    abar = gz                                             # ā_N (u_N = 0, ā_{N+1} = 0)
    for k in range(n - 1, -1, -1):
        dw, hk = dw_at(k), h[k]
        z_prev = 2.0 * y - z - F * hk - gdw(G, dw)
        a_prev = a + 2.0 * abar
        if k in out_row and k > 0:
            a_prev = a_prev + grad_ys[out_row[k]]
        u = 0.5 * a + abar
        F0, G0, gz = node(k, z_prev, u, 0.5 * a_prev if k > 0 else None)
        y = y - (F0 + F) * (0.5 * hk) - gdw(G0 + G, dw) * 0.5
        if k in out_row and k > 0:
            y = ys[out_row[k]]
        abar = gz - abar
        z, F, G, a = z_prev, F0, G0, a_prev
    grad_x0 = a + abar + grad_ys[0]
    return grad_x0, gp
