"""The fused path of :func:`~kexue.stochastic.solve` for SDEs affine in the state.

Euler–Maruyama and Milstein on ``dx = (a x + b) dt + (c x + d) dW`` (``SDE.linear``, or plain
callables recognised as affine by :func:`~kexue.stochastic._affine.affine_coefficients`) are
affine maps ``x_{k+1} = M_k x_k + A_k``, built a chunk of steps at a time (Kloeden & Platen,
*Numerical Solution of Stochastic Differential Equations*, Springer 1992, §10.2–10.3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from ._finite import CHECK_EVERY, all_finite


def _axpy(base: torch.Tensor, coef: torch.Tensor, dw: torch.Tensor,
          out: torch.Tensor) -> torch.Tensor:
    """``base + coef·dw`` into ``out``; a 0-d ``coef`` goes in as ``alpha`` (broadcasting
    ``addcmul`` over a stride-0 ``base`` runs ~3× slower than ``add`` with a scalar)."""
    if coef.ndim == 0:
        return torch.add(base, dw, alpha=float(coef), out=out)
    return torch.addcmul(base, coef, dw, out=out)


def _solve_linear(coefs: tuple[torch.Tensor, ...], additive: bool, milstein: bool,
                  chunks: Iterator, steps: np.ndarray, x0: torch.Tensor, n_out: int,
                  slot: list[int], locate: Callable | None = None) -> torch.Tensor:
    """Euler / Milstein for ``dx = (a x + b) dt + (c x + d) dW`` (``SDE.linear``), no autograd.

    Both schemes are affine in the state, ``x_{k+1} = M_k x_k + A_k`` with
    ``M_k = 1 + a h_k + c ΔW_k (+ c² q_k)`` and ``A_k = b h_k + d ΔW_k (+ c d q_k)``,
    ``q_k = (ΔW_k² − h_k)/2`` (Milstein's ``½ g g' (ΔW² − h)`` with ``g' = c``). ``M`` and ``A``
    are built for a whole chunk of steps with a few vectorised kernels; the loop is then one
    ``addcmul`` per step; when ``A ≡ 0`` (``b = d = 0``, e.g. GBM) not even that: one
    ``torch.cumprod`` of ``M`` over the chunk's steps gives every state. Returns
    ``(n_out, batch, d)`` like :func:`solve`. ``locate``: the finiteness check of :func:`solve`
    (``None``: no checks).
    """
    dtype, device = x0.dtype, x0.device
    a, b, c, d = (v.to(dtype=dtype, device=device) for v in coefs)
    out = torch.empty((n_out, *x0.shape), dtype=dtype, device=device)
    out[0] = x0
    rows = list(out.unbind(0))                                       # (batch, d) views
    priv = (torch.empty_like(x0), torch.empty_like(x0))              # ping-pong buffers
    x = rows[0]
    milstein = milstein and not additive          # Milstein's correction vanishes for c = 0
    homogeneous = not bool((b != 0).any() or (d != 0).any())         # A ≡ 0 (e.g. GBM)
    m_buf = a_buf = None                                             # (chunk, batch, d)
    saved = x0.clone() if locate is not None else None               # last checked state
    k_saved = 0
    slot_np = np.asarray(slot)

    for k0, terms in chunks:
        dw = terms[0]                                                # (n_c, batch, m)
        n_c = dw.shape[0]
        hk = torch.as_tensor(steps[k0:k0 + n_c], dtype=dtype, device=device).view(-1, 1, 1)
        M = (a * hk).add_(1.0)                                       # (n_c, 1, d or 1)
        if k0 == 0:                                                  # the largest chunk
            full = np.broadcast_shapes(M.shape, c.shape, dw.shape, x0.shape)  # (torch's: slow)
            m_buf = None if additive else torch.empty(full, dtype=dtype, device=device)
            a_buf = None if homogeneous else torch.empty(full, dtype=dtype, device=device)
        if not additive:
            M = _axpy(M, c, dw, m_buf[:n_c])                         # (n_c, batch, d)
        A = None if homogeneous else _axpy(b * hk, d, dw, a_buf[:n_c])
        if milstein:
            q = terms[1]                                             # (ΔW² − h)/2
            M.addcmul_(c * c, q)
            if A is not None:
                A.addcmul_(c * d, q)
        if A is None:
            # x_k = x_{k0} · M_{k0} ⋯ M_{k-1}: one cumulative product for the chunk, then the
            # output rows and the chunk's last state in one indexed multiply each
            P = torch.cumprod(M, dim=0)                              # (n_c, batch or 1, d)
            ks = (k0 + np.flatnonzero(slot_np[k0 + 1:k0 + n_c + 1] >= 0)).tolist()
            if ks:
                idx = torch.tensor([k - k0 for k in ks], device=device)
                out[[slot[k + 1] for k in ks]] = x * P.index_select(0, idx)
            s = slot[k0 + n_c]
            target = rows[s] if s >= 0 else (priv[1] if x is priv[0] else priv[0])
            if s < 0:
                torch.mul(x, P[-1], out=target)
            x = target
            if saved is not None:
                if not all_finite(x) or (ks and not all_finite(out)):
                    locate(saved, k_saved, k0 + n_c, terms, k0)
                saved.copy_(x)
                k_saved = k0 + n_c
            continue
        for k, (m_k, a_k) in enumerate(zip(M.unbind(0), A.unbind(0)), start=k0):
            s = slot[k + 1]
            target = rows[s] if s >= 0 else (priv[1] if x is priv[0] else priv[0])
            x = torch.addcmul(a_k, x, m_k, out=target)
            if saved is not None and (k + 1 - k_saved >= CHECK_EVERY or k + 1 == k0 + n_c):
                if not all_finite(x):
                    locate(saved, k_saved, k + 1, terms, k0)
                saved.copy_(x)
                k_saved = k + 1
    return out
