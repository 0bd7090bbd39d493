"""``trig_pc``: an Adams predictor–corrector on the angular form of the probability-flow ODE
(EDM-normalised / TrigFlow parametrisation; kexue's own sampler, see :func:`sample_trig_pc`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ._sampling_core import ScoreFn, _Run, check_float, drive
from ._sde import GaussianPathSDE

__all__ = ["sample_trig_pc"]


def _lagrange_weights(nodes: list[float], lo: float, hi: float) -> list[float]:
    """``∫_lo^hi ℓ_j(θ) dθ`` for the Lagrange basis ``ℓ_j`` on ``nodes`` (exact; plain floats).

    In ``u = (θ − lo)/h``, ``h = hi − lo``: ``ℓ_j = Π_{m≠j} (u − u_m)/(u_j − u_m)``, whose
    coefficients are integrated term by term over ``[0, 1]``."""
    h = hi - lo
    us = [(v - lo) / h for v in nodes]
    out = []
    for j, uj in enumerate(us):
        coef, den = [1.0], 1.0                       # coefficients of Π (u − u_m), low first
        for m, um in enumerate(us):
            if m != j:
                coef = [0.0] + coef                  # × u
                for p in range(len(coef) - 1):
                    coef[p] -= um * coef[p + 1]      # − u_m ×
                den *= uj - um
        out.append(h * sum(c / (p + 1) for p, c in enumerate(coef)) / den)
    return out


def _trig_pc(r: _Run, x: torch.Tensor) -> torch.Tensor:
    """Adams predictor–corrector on the angular form of the probability-flow ODE.

    With a data scale ``c`` (``sigma_data``), ``θ = arctan(σ/c)`` and
    ``w = (x/ᾱ)/√(c² + σ²)`` the PF-ODE ``dy/dσ = (y − D)/σ`` (``y = x/ᾱ``) becomes

        dw/dθ = −F,   F = ((c² + σ²) D − c² y) / (σ c √(c² + σ²))   (= α x + β S),

    EDM's normalised network output (Karras et al. 2022, eq. 7, ``c_skip``/``c_out``) and the
    TrigFlow velocity of Lu & Song 2024 (arXiv:2410.11081); for ``c = 1`` and VP it is the
    v-prediction ODE in the angle (Salimans & Ho 2022, arXiv:2202.00512). ``F ≡ 0`` for Gaussian
    data ``N(0, c²I)``, so the Gaussian part of the flow is integrated exactly and ``F`` only
    carries the non-Gaussian structure. Each step: Adams–Bashforth through the last ``order``
    values of ``F`` in ``θ``, one evaluation at the predicted point, then Adams–Moulton through it
    and the ``order`` previous values (the corrector of UniPC, Zhao et al. 2023,
    arXiv:2302.04867: one order higher at no extra evaluation; the next step reuses that
    evaluation). The final step to ``σ = 0`` (``θ = 0``) is a corrector step through the known
    ``F(θ = 0) = −lim ε̂ = 0`` (a density with a bounded score), so it costs nothing.
    """
    c = r.opts["sigma_data"]
    order = r.opts["order"]
    use_corr = r.opts["corrector"]
    final_ode = r.opts.get("final") == "ode"
    n = r.n
    sig, a, s = r.sig, r.a, r.s
    th = [math.atan(v / c) for v in sig]
    rad = [math.sqrt(c * c + v * v) for v in sig]
    kappa = [a[i] * rad[i] for i in range(n + 1)]                      # x = κ w
    alpha = [sig[i] / (a[i] * c * rad[i]) for i in range(n + 1)]       # F = α x + β S
    beta = [rad[i] * s[i] ** 2 / (a[i] * sig[i] * c) for i in range(n + 1)]
    a0, s0 = r.coefs(0.0)
    zero_end = final_ode and s0 == 0.0                                   # F(θ=0) = 0 known
    th_end = math.atan((s0 / a0) / c) if final_ode else None

    def F(xx: torch.Tensor, i: int) -> torch.Tensor:
        S = r.score(xx, i)
        return torch.add(xx, S, alpha=beta[i] / alpha[i]).mul_(alpha[i])

    # all Adams weights depend on the grid only: compute them before the loop
    pred_w, corr_w = [], []
    for i in range(n):
        lo_i = max(0, i - order + 1)
        pred_w.append(_lagrange_weights(th[lo_i:i + 1], th[i], th[i + 1]))
        lo_c = max(0, i - order + 1)
        corr_w.append(_lagrange_weights(th[lo_c:i + 2], th[i], th[i + 1]))
    callback = r.callback is not None

    w = x / kappa[0]
    Fs = [F(x, 0)]                                   # F at grid points max(0, i−order+1)..i
    for i in range(n):
        hist = Fs[-order:]
        last = i == n - 1
        w_pred = w.clone()
        for wt, fv in zip(pred_w[i], hist):
            w_pred.add_(fv, alpha=-wt)
        if last and not (use_corr or final_ode):
            w = w_pred
        else:
            F_new = F(w_pred.mul_(kappa[i + 1]), i + 1)     # w_pred now holds x_pred
            if use_corr:
                for wt, fv in zip(corr_w[i], hist + [F_new]):
                    w.add_(fv, alpha=-wt)                   # w is the sampler's own tensor
            else:
                w = w_pred.div_(kappa[i + 1])
            Fs.append(F_new)
            if len(Fs) > order + 1:
                Fs.pop(0)
        if callback:
            r.done(i, w * kappa[i + 1])
    if final_ode:
        if zero_end:                      # Adams–Moulton through the known F(0) = 0
            wc = _lagrange_weights(th[n - order + 1:n + 1] + [0.0] if n >= order - 1
                                   else th[:n + 1] + [0.0], th[n], 0.0)
            for wt, fv in zip(wc[:-1], Fs[-min(order, len(Fs)):]):
                w.add_(fv, alpha=-wt)
        else:                             # σ(0) > 0: Adams–Bashforth extrapolation
            hist_th = th[max(0, n - order + 1):n + 1]
            wp = _lagrange_weights(hist_th, th[n], th_end)
            for wt, fv in zip(wp, Fs[-len(hist_th):]):
                w.add_(fv, alpha=-wt)
        return w * (a0 * math.sqrt(c * c + (s0 / a0) ** 2))
    return w * kappa[n]


def sample_trig_pc(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
                   sigma_data: float = 1.0, order: int = 2, corrector: bool = True,
                   generator: Any = None, denoise_last: bool | str = True,
                   callback: Callable[[dict[str, Any]], None] | None = None,
                   check_finite: str | bool | None = None,
                   ) -> tuple[torch.Tensor, dict[str, Any]]:
    """Adams predictor–corrector on the angular PF-ODE ``dw/dθ = −F``, ``θ = arctan(σ/c)``
    (method ``"trig_pc"``; EDM's normalised output, Karras et al. 2022 arXiv:2206.00364 eq. 7,
    and the TrigFlow velocity of Lu & Song 2024, arXiv:2410.11081; UniPC-style corrector, Zhao et
    al. 2023, arXiv:2302.04867). One evaluation per step; with ``denoise_last`` the final step to
    ``σ = 0`` goes through the known ``F(θ = 0) = 0`` at no evaluation. Best on the ``"cosine"``
    grid of :func:`kexue.diffusion.time_grid` with ``scale = sigma_data``.

    Args:
        sigma_data: the data scale ``c > 0`` (1 makes it the VP v-prediction ODE in the angle).
        order: the Adams–Bashforth order ``p`` (1–3).
        corrector: whether the Adams–Moulton corrector runs (global order ``p + 1`` with it,
            ``p`` without).
        score_fn, sde, x_T, ts, generator, denoise_last, callback, check_finite: as for
            :func:`kexue.diffusion.sample_euler`.

    Returns:
        ``(x, info)`` as :func:`kexue.diffusion.sample_euler`.
    """
    c = check_float("sigma_data", sigma_data, positive=True)
    if isinstance(order, bool) or order not in (1, 2, 3):
        raise ValueError(f"order must be 1, 2 or 3; got {order!r}")
    opts = {"sigma_data": c, "order": order, "corrector": bool(corrector)}
    return drive(_trig_pc, score_fn, sde, x_T, ts, name="trig_pc", stochastic=False, opts=opts,
                 denoise_last=denoise_last, callback=callback, check_finite=check_finite,
                 own_final=True)
