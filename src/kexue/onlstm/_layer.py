"""One ON-LSTM layer over a whole sequence, with a hand-written backward pass.

The recurrence of Shen et al. (ICLR 2019, arXiv:1810.09536) runs as a Python loop over time in
which each step is about fifteen tensor operations and no autograd graph is recorded; the backward
pass is the exact adjoint of that loop (back-propagation through time written out). Three things
keep the per-step operation count low, which is what matters at CPU language-model sizes where
per-operation overhead, not arithmetic, dominates:

* the two master gates are one softmax over a ``(B, 2, n)`` view, and both cumulative sums are one
  matrix product with a fixed 0/1 matrix ``Q`` (``[ĩ | f̃] = [p_i | p_f] Q``; the paper's
  ``1 − cumsum p`` equals the strict upper sum ``Σ_{j>k} p_j`` because ``Σ p = 1``), whose adjoint
  is the product with ``Qᵀ``;
* ``î`` and ``f̂`` are one ``addcmul`` over a ``(B, 2, n, chunk)`` view of ``[i | f]``;
* every factor of the backward that does not depend on the incoming gradient (``o·(1 − tanh²c)``,
  ``ω·σ'``, ``î·(1 − ĉ²)``...) is computed once for all time steps, vectorised, before the loop.

:func:`layer_reference` runs the same maths through autograd (a loop of
:func:`~kexue.onlstm._cell.onlstm_step`); the tests compare the two in float64 to 1e-12.

On the CPU (float32/float64) :func:`onlstm_layer` runs the same loop, forward and backward, in C++
(:mod:`kexue.onlstm._ext`, compiled on first use): one GEMM per step plus one fused pass per batch
row instead of ~12 tensor operations, and a forward that keeps nothing for the backward when no
gradient is needed (and then splits the batch rows over threads once for the whole sequence,
not per step). The Python loop here is the fallback (CUDA, other dtypes, no compiler, or
``KEXUE_ONLSTM_EXT=0``).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ._cell import check_float, onlstm_step
from ._ext import load_extension

__all__ = ["onlstm_layer", "layer_reference", "master_matrix", "LAYER_BACKENDS"]

LAYER_BACKENDS = ("auto", "cpp", "python")


def master_matrix(n_chunk: int, symmetric: bool, *, dtype=None, device=None) -> torch.Tensor:
    """The 0/1 matrix ``Q`` with ``[ĩ | f̃] = [p_i | p_f] Q`` (both ``(…, n)`` blocks flattened).

    ``f̃_k = Σ_{j≤k} p_f,j``; paper ``ĩ_k = 1 − Σ_{j≤k} p_i,j = Σ_{j>k} p_i,j``; Su's symmetric
    ``ĩ_k = Σ_{j≥k} p_i,j``. Returns a ``(2n, 2n)`` block-diagonal matrix.
    """
    j = torch.arange(n_chunk).unsqueeze(1)  # row index: source j
    k = torch.arange(n_chunk).unsqueeze(0)  # column index: level k
    q = torch.zeros(2 * n_chunk, 2 * n_chunk, dtype=dtype, device=device)
    q[:n_chunk, :n_chunk] = ((j >= k) if symmetric else (j > k)).to(q.dtype)
    q[n_chunk:, n_chunk:] = (j <= k).to(q.dtype)
    return q


class _ONLSTMLayerFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xproj, weight_hh, h0, c0, n_chunk, symmetric):
        T, B, G = xproj.shape
        H = h0.shape[-1]
        n = n_chunk
        C = H // n
        wt = weight_hh.t().contiguous()  # (H, G); contiguous: ~25% faster GEMM per step
        q = master_matrix(n, symmetric, dtype=xproj.dtype, device=xproj.device)  # (2n, 2n)
        hs = xproj.new_empty(T + 1, B, H)  # hs[0] = h0, hs[t + 1] = h_t
        cs = xproj.new_empty(T + 1, B, H)  # cs[0] = c0
        P = xproj.new_empty(T, B, 2, n)  # softmax of [z_i | z_f]
        M = xproj.new_empty(T, B, 2, n)  # [ĩ | f̃]
        A = xproj.new_empty(T, B, 4 * H)  # σ(i), σ(f), tanh(g), σ(o)
        IF = xproj.new_empty(T, B, 2, H)  # [î | f̂]
        TC = xproj.new_empty(T, B, H)  # tanh(c_t)
        A_if = A[:, :, :2 * H].view(T, B, 2, n, C)  # (T, B, 2, n, C)
        IF5 = IF.view(T, B, 2, n, C)
        hs[0] = h0
        cs[0] = c0
        # Per-step views, made once (indexing inside the loop costs as much as the arithmetic).
        W = xproj.new_empty(T, B, n)  # ω
        steps = zip(xproj.unbind(0), hs[:-1].unbind(0), hs[1:].unbind(0), cs[:-1].unbind(0),
                    cs[1:].unbind(0), P.unbind(0), M.view(T, B, 2 * n).unbind(0),
                    M.unbind(0), M[:, :, 0].unbind(0), M[:, :, 1].unbind(0), W.unbind(0),
                    W.view(T, B, 1, n).unbind(0), W.view(T, B, 1, n, 1).unbind(0), A.unbind(0),
                    A[:, :, 2 * H:3 * H].unbind(0), A[:, :, 3 * H:].unbind(0),
                    A_if.unbind(0), IF5.unbind(0), IF[:, :, 0].unbind(0), IF[:, :, 1].unbind(0),
                    TC.unbind(0))
        gates = xproj.new_empty(B, G)
        g_m = gates[:, :2 * n].view(B, 2, n)
        g_sig = gates[:, 2 * n:]
        g_tanh = gates[:, 2 * n + 2 * H:2 * n + 3 * H]
        base = xproj.new_empty(B, 2, n)
        base4 = base.view(B, 2, n, 1)
        for (x_t, h_prev, h_t, c_prev, c_t, p_t, m_flat, m, m_i, m_f, w, w3, w4, a, a_g, a_o,
             a_if, if5, i_hat, f_hat, tc) in steps:
            torch.addmm(x_t, h_prev, wt, out=gates)  # (B, G)
            torch.softmax(g_m, -1, out=p_t)  # (B, 2, n)
            torch.mm(p_t.view(B, 2 * n), q, out=m_flat)  # [ĩ | f̃], (B, 2n)
            torch.mul(m_i, m_f, out=w)  # ω, (B, n)
            torch.sub(m, w3, out=base)  # [ĩ − ω | f̃ − ω], (B, 2, n)
            torch.sigmoid(g_sig, out=a)
            torch.tanh(g_tanh, out=a_g)
            # [î | f̂] = [i | f] ω + [ĩ − ω | f̃ − ω], (B, 2, n, C)
            torch.addcmul(base4, a_if, w4, out=if5)
            torch.mul(f_hat, c_prev, out=c_t)
            c_t.addcmul_(i_hat, a_g)  # c = f̂ c_prev + î ĉ
            torch.mul(a_o, torch.tanh(c_t, out=tc), out=h_t)
        ctx.save_for_backward(weight_hh, hs, cs, P, M, A, IF, TC, q)
        ctx.n_chunk = n
        return hs[1:], cs[T].clone(), M[:, :, 1], M[:, :, 0]

    @staticmethod
    def backward(ctx, g_hs, g_cT, g_mf, g_mi):
        weight_hh, hs, cs, P, M, A, IF, TC, q = ctx.saved_tensors
        n = ctx.n_chunk
        T, B, H = TC.shape
        C = H // n
        G = 2 * n + 4 * H
        # Factors that do not depend on the incoming gradient, for all t at once.
        o = A[:, :, 3 * H:]
        g = A[:, :, 2 * H:3 * H]
        a_if = A[:, :, :2 * H].view(T, B, 2, H)
        w = (M[:, :, 0] * M[:, :, 1]).view(T, B, 1, n, 1)  # ω, broadcast over blocks/chunks
        k_o = o * (1.0 - TC * TC)  # dc += dh · o (1 − tanh² c)
        k_o2 = TC * o * (1.0 - o)  # d o_pre = dh · tanh c · σ'(o)
        X = torch.stack([g, cs[:-1]], dim=2)  # (T, B, 2, H): d[î | f̂] = dc · [ĉ | c_prev]
        k_if = (w * (a_if * (1.0 - a_if)).view(T, B, 2, n, C)).view(T, B, 2, H)
        k_g = IF[:, :, 0] * (1.0 - g * g)  # d ĉ_pre = dc · î (1 − ĉ²)
        km1 = a_if - 1.0  # dω = Σ d[î | f̂] ([i | f] − 1)
        m_swap = M.flip(2)  # [f̃ | ĩ]: d[ĩ | f̃] += dω [f̃ | ĩ]
        f_hat = IF[:, :, 1]
        qt = q.t()
        g_m = None
        if g_mf is not None or g_mi is not None:
            g_m = torch.stack([g_mi if g_mi is not None else torch.zeros_like(M[:, :, 0]),
                               g_mf if g_mf is not None else torch.zeros_like(M[:, :, 1])],
                              dim=2)  # (T, B, 2, n)
        dgates = hs.new_empty(T, B, G)
        d_m = dgates[:, :, :2 * n].view(T, B, 2, n)
        d_if = dgates[:, :, 2 * n:2 * n + 2 * H].view(T, B, 2, H)
        d_g = dgates[:, :, 2 * n + 2 * H:2 * n + 3 * H]
        d_o = dgates[:, :, 2 * n + 3 * H:]
        dh = hs.new_zeros(B, H)
        dc = g_cT.clone() if g_cT is not None else hs.new_zeros(B, H)
        steps = zip(range(T - 1, -1, -1), *(u.unbind(0)[::-1] for u in (
            k_o2, k_o, X, k_if, k_g, km1, m_swap, P, dgates, f_hat, d_o, d_if, d_g, d_m)))
        for t, ko2, ko, x_t, kif, kg, kmm, msw, p, dg_t, fh, do_t, dif_t, dgg_t, dm_t in steps:
            if g_hs is not None:
                dh = dh + g_hs[t]
            torch.mul(dh, ko2, out=do_t)
            dc = torch.addcmul(dc, dh, ko)
            dx = dc.unsqueeze(1) * x_t  # [dî | df̂], (B, 2, H)
            torch.mul(dx, kif, out=dif_t)
            torch.mul(dc, kg, out=dgg_t)
            dw = (dx * kmm).view(B, 2, n, C).sum((1, 3))  # (B, n)
            dm = torch.addcmul(dx.view(B, 2, n, C).sum(-1), dw.unsqueeze(1), msw)
            if g_m is not None:
                dm = dm + g_m[t]  # [dĩ | df̃], (B, 2, n)
            dp = torch.mm(dm.view(B, 2 * n), qt).view(B, 2, n)  # adjoint of the cumsums
            torch.mul(p, dp - (p * dp).sum(-1, keepdim=True), out=dm_t)  # softmax adjoint
            dh = torch.mm(dg_t, weight_hh)  # (B, H)
            dc = dc * fh
        d_w = dgates.reshape(T * B, G).t() @ hs[:-1].reshape(T * B, H)  # Σ_t dgates_tᵀ h_{t−1}
        return dgates, d_w, dh, dc, None, None


class _ONLSTMLayerCppFn(torch.autograd.Function):
    """The same layer with forward and backward loops in C++ (``csrc/onlstm_layer.cpp``)."""

    @staticmethod
    def forward(ctx, xproj, weight_hh, h0, c0, n_chunk, symmetric, ops):
        T, B, _ = xproj.shape
        hs, cs, M, A, P, TC = ops.layer_forward(xproj, weight_hh, h0, c0, n_chunk, symmetric,
                                                True)
        ctx.save_for_backward(weight_hh, hs, cs, M, A, P, TC)
        ctx.n_chunk, ctx.symmetric, ctx.ops = n_chunk, symmetric, ops
        ctx.set_materialize_grads(False)  # absent output gradients stay None (no zeros built)
        M = M.view(T, B, 2, n_chunk)  # [ĩ | f̃]
        return hs[1:], cs[T].clone(), M[:, :, 1], M[:, :, 0]

    @staticmethod
    @once_differentiable
    def backward(ctx, g_hs, g_cT, g_mf, g_mi):
        weight_hh, hs, cs, M, A, P, TC = ctx.saved_tensors
        dx, dw, dh0, dc0 = ctx.ops.layer_backward(weight_hh, hs, cs, M, A, P, TC, g_hs, g_cT,
                                                  g_mi, g_mf, ctx.n_chunk, ctx.symmetric)
        return dx, dw, dh0, dc0, None, None, None


def _cpp_ops(tensors, backend: str):
    """The compiled ops if this call can use them (CPU, one float32/float64 dtype), else None."""
    if backend == "python":
        return None
    dtype = tensors[0].dtype
    ok = dtype in (torch.float32, torch.float64) and all(
        t.device.type == "cpu" and t.dtype == dtype for t in tensors)
    ops = load_extension() if ok else None
    if backend == "cpp" and ops is None:
        from ._ext import extension_status

        raise RuntimeError(
            "backend='cpp' needs CPU float32/float64 tensors of one dtype and the compiled "
            f"extension (status: {extension_status()}); use backend='auto' to fall back")
    return ops


def onlstm_layer(xproj: torch.Tensor, weight_hh: torch.Tensor, h0: torch.Tensor,
                 c0: torch.Tensor, n_chunk: int, symmetric: bool, *, backend: str = "auto"):
    """Run one ON-LSTM layer over a sequence (Shen et al. 2019), fused forward and backward.

    Args:
        xproj: input projections ``W_ih x_t + b_ih + b_hh``, ``(T, B, 2n + 4H)``.
        weight_hh: recurrent weights, ``(2n + 4H, H)``.
        h0, c0: initial states, ``(B, H)``.
        n_chunk: number of levels ``n``.
        symmetric: Su's symmetric master input gate instead of the paper's.
        backend: ``"auto"`` (C++ loop on the CPU when it is built, else the Python loop),
            ``"cpp"`` (C++ or an error) or ``"python"``.

    Returns:
        ``(hs, c_T, f̃, ĩ)``: hidden states ``(T, B, H)``, last cell state ``(B, H)``, master
        forget and input gates ``(T, B, n)`` each. All four are differentiable (once: the
        backward is hand-written, so no double backward).

    Raises:
        TypeError: a tensor that is not real floating point (integer, bool).
        ValueError: an unknown ``backend``.
        RuntimeError: ``backend="cpp"`` where the C++ loop cannot run.
    """
    if backend not in LAYER_BACKENDS:
        raise ValueError(f"backend must be one of {LAYER_BACKENDS}; got {backend!r}")
    args = (xproj, weight_hh, h0, c0)
    for name, t in zip(("xproj", "weight_hh", "h0", "c0"), args):
        check_float(t, name)
    ops = _cpp_ops(args, backend)
    if ops is None:
        return _ONLSTMLayerFn.apply(*args, n_chunk, symmetric)
    if torch.is_grad_enabled() and any(t.requires_grad for t in args):
        return _ONLSTMLayerCppFn.apply(*args, n_chunk, symmetric, ops)
    # no gradient wanted: a forward that keeps nothing for the backward
    T, B, _ = xproj.shape
    hs, c_last, M = ops.layer_forward(*args, n_chunk, symmetric, False)
    M = M.view(T, B, 2, n_chunk)  # [ĩ | f̃]
    return hs[1:], c_last, M[:, :, 1], M[:, :, 0]


def layer_reference(xproj: torch.Tensor, weight_hh: torch.Tensor, h0: torch.Tensor,
                    c0: torch.Tensor, n_chunk: int, symmetric: bool):
    """Autograd version of :func:`onlstm_layer` (a loop of ``onlstm_step``); same returns."""
    h, c = h0, c0
    hs, mfs, mis = [], [], []
    mode = "symmetric" if symmetric else "paper"
    for t in range(xproj.shape[0]):
        gates = xproj[t] + h @ weight_hh.t()  # (B, G)
        h, c, mf, mi = onlstm_step(gates, c, n_chunk, master_input=mode)
        hs.append(h)
        mfs.append(mf)
        mis.append(mi)
    return torch.stack(hs), c, torch.stack(mfs), torch.stack(mis)
