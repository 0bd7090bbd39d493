"""Inpainting with an unconditional score model by imputation (Song et al. 2021, App. I.2).

The reverse SDE is run on all coordinates; after every step the *known* coordinates are replaced
by a forward-noised copy of the observation, ``a_t y + s_t z`` with fresh ``z`` — so the unknown
part always sees a known part at the right noise level (score_sde's ``get_pc_inpainter``; the
"replacement" method). With ``resample = r > 1`` every step is repeated ``r`` times, re-noising
the state back up by one step in between (the "resampling" of RePaint, Lugmayr et al., CVPR 2022,
arXiv:2201.09865), which lets the unknown part harmonise with the known one.

Imputation is an *approximation*: the unknown coordinates follow ``∇_u log p_t(u, k_t)`` with an
independent noisy ``k_t``, not the score of ``p_t(u_t | k_0)``. For a jointly Gaussian ``(u, k)``
with correlation ``ρ = 0.6`` (VP-SDE, unit variances) plain imputation gives ``E[u | k = 1] ≈ 0.33``
instead of ``0.6``; resampling converges to the exact conditional as ``r`` grows (0.599, variance
0.629 vs 0.64, with 40 steps and ``r = 10``). The tests check both statements against the exact
law of the discrete scheme.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..rng import as_generator
from ._checks import FiniteGuard
from ._loss import diffusion_sq
from ._net_parts import per_row
from ._nets import marginal_coefs

__all__ = ["inpaint"]

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _mask(mask: Any, x: torch.Tensor) -> torch.Tensor:
    m = torch.as_tensor(mask, device=x.device)
    if m.dtype != torch.bool:
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError("mask must be boolean or contain only 0 and 1 (1 = known)")
        m = m.bool()
    if m.shape == x.shape[1:]:
        m = m.expand_as(x)
    if m.shape != x.shape:
        raise ValueError(f"mask must have shape (D,) = {tuple(x.shape[1:])} (one row's shape; "
                         f"(C, H, W) for images) or x_known's shape {tuple(x.shape)}; got "
                         f"{tuple(m.shape)}")
    return m


def inpaint(score_fn: ScoreFn, sde: Any, x_known: torch.Tensor, mask: Any, *, steps: int = 500,
            generator: torch.Generator | int | None = None, resample: int = 1,
            t_end: float = 1e-3, denoise_last: bool = True,
            x_T: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """Fill in the unknown coordinates of ``x_known`` by imputation (Song et al., ICLR 2021,
    arXiv:2011.13456, Appendix I.2; kexue.fm 9209), optionally with RePaint resampling.

    On the uniform grid ``T = t_0 > t_1 > … > t_N = t_end`` each step does, ``resample`` times:
    an Euler–Maruyama step of the reverse SDE ``dx = [f_t x − g_t² s(x, t)] dt + g_t dw̄`` from
    ``t_i`` to ``t_{i+1}``, then ``x[known] ← a_{t_{i+1}} y + s_{t_{i+1}} z`` (fresh ``z``); between
    repeats the state is re-noised from ``t_{i+1}`` back to ``t_i`` with the exact forward
    transition. Finally (``denoise_last``) the unknown part gets Tweedie's denoising step
    ``x ← (x + s² ∇log p_t(x))/a`` at ``t_end``, and the known part is set to ``y`` exactly.

    Args:
        score_fn: ``score_fn(x, t) -> x's shape`` with ``t`` of shape ``(batch,)``.
        sde: diffusion SDE with ``marginal``, ``drift(t, x)``, ``diffusion``/``g2``,
            ``prior_sample`` and horizon ``T``.
        x_known: ``(batch, *shape)`` — flat ``(batch, D)`` or images ``(batch, C, H, W)``;
            entries where ``mask`` is false are ignored.
        mask: one row's shape ``shape`` (e.g. ``(D,)`` or ``(C, H, W)``) or ``x_known``'s shape,
            true/1 where the value is known.
        steps: number of grid steps ``N`` (``>= 1``).
        generator: following :mod:`kexue.rng`: a ``torch.Generator`` on ``x_known``'s device,
            an int seed (a new generator there), or ``None`` (PyTorch's default generator).
        resample: RePaint repeats per step ``r >= 1`` (1 = plain imputation).
        t_end: last time of the grid, in ``(0, T)``.
        denoise_last: apply the final Tweedie step.
        x_T: optional starting state of ``x_known``'s shape (default: a prior draw).

    Everything runs on ``x_known``'s device; on an accelerator the score's finiteness is read
    back once at the end, not every step.

    Returns:
        ``(x, info)``: ``x`` of ``x_known``'s shape with ``x[mask] == x_known[mask]``;
        ``info`` has ``nfe`` (score evaluations), ``steps``, ``resample``, ``t_end``.

    Raises:
        ValueError: bad shapes, ``steps < 1``, ``resample < 1``, ``t_end`` outside ``(0, T)``, or
            the score returned NaN/inf (the message names the step).
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable (x, t) -> x's shape; "
                        f"got {type(score_fn).__name__}")
    if not isinstance(x_known, torch.Tensor) or not x_known.is_floating_point() \
            or x_known.ndim < 2:
        raise ValueError("x_known must be a floating tensor of shape (batch, *shape), e.g. "
                         "(batch, D) or (batch, C, H, W)")
    for name, v in (("steps", steps), ("resample", resample)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an int >= 1; got {v!r}")
    T = float(getattr(sde, "T", 1.0))
    if not (0.0 < t_end < T):
        raise ValueError(f"t_end must lie in (0, T) = (0, {T}); got {t_end}")
    known = _mask(mask, x_known)
    b, dtype, dev = x_known.shape[0], x_known.dtype, x_known.device
    gen = as_generator(generator, device=dev)
    y = torch.where(known, x_known, torch.zeros_like(x_known))
    nfe = 0
    guard = FiniteGuard(dev, lambda bad, where: (
        f"score_fn returned NaN/inf at step {where[0]} (t = {where[1]:.6g}); {bad} non-finite "
        "values; check the model (or its checkpoint) and the input scaling"))

    def noise() -> torch.Tensor:
        return torch.randn(x_known.shape, generator=gen, dtype=dtype, device=dev)

    def coefs(t: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tt = torch.full((b,), t, dtype=dtype, device=dev)
        a, s = marginal_coefs(sde, tt)
        return tt, per_row(a, x_known), per_row(s, x_known)  # (batch, 1, …, 1)

    def score(x: torch.Tensor, tt: torch.Tensor, i: int, t: float) -> torch.Tensor:
        nonlocal nfe
        out = score_fn(x, tt)
        nfe += 1
        if out.shape != x.shape:
            raise ValueError(f"score_fn returned shape {tuple(out.shape)}; expected "
                             f"{tuple(x.shape)}")
        guard(out, (i, t))
        return out

    def impute(x: torch.Tensor, t: float) -> torch.Tensor:
        _, a, s = coefs(t)
        return torch.where(known, a * y + s * noise(), x)

    grid = torch.linspace(T, t_end, steps + 1, dtype=torch.float64).tolist()
    if x_T is None:
        x = sde.prior_sample(tuple(x_known.shape), gen, dtype=dtype, device=dev)
    else:
        if x_T.shape != x_known.shape:
            raise ValueError(f"x_T must have shape {tuple(x_known.shape)}; got {tuple(x_T.shape)}")
        x = x_T.to(dtype)
    x = impute(x, grid[0])
    with torch.no_grad():
        for i in range(steps):
            t, t_next = grid[i], grid[i + 1]
            h = t - t_next
            tt, a_t, s_t = coefs(t)
            _, a_n, s_n = coefs(t_next)
            g2 = per_row(diffusion_sq(sde, tt), x_known)  # (batch, 1, …, 1)
            for j in range(resample):
                drift = sde.drift(tt, x) - g2 * score(x, tt, i, t)  # (batch, *shape)
                x = x - drift * h + torch.sqrt(g2 * h) * noise()
                x = impute(x, t_next)
                if j < resample - 1:  # RePaint: back from t_{i+1} to t_i, exact forward kernel
                    ratio = a_t / a_n
                    std = torch.sqrt(torch.clamp(s_t**2 - ratio**2 * s_n**2, min=0.0))
                    x = ratio * x + std * noise()
        if denoise_last:
            tt, a, s = coefs(grid[-1])
            x = (x + s**2 * score(x, tt, steps, grid[-1])) / a
        x = torch.where(known, y, x)
    guard.finish()
    info = {"nfe": nfe, "steps": steps, "resample": resample, "t_end": t_end,
            "known_fraction": float(known.float().mean())}
    return x, info
