"""Latent codes through the probability-flow ODE: encode, decode, spherical interpolation.

kexue.fm 9228 ("Generative diffusion models (6): the ODE framework"): the probability-flow ODE
``dx/dt = f_t x − ½ g_t² ∇log p_t(x)`` is deterministic and invertible, so like a flow model it
*encodes* data into latents ``z = x_T`` (solve from ``t_end ≈ 0`` up to ``T``) and *decodes*
latents back (solve down), which allows interpolation and editing in latent space (Song et al.
2021, arXiv:2011.13456, §4.3). Both directions are Dormand–Prince (torchdiffeq ``dopri5``) with
the log-SNR ``λ`` as the independent variable (:func:`kexue.diffusion.pf_ode_lambda`), where the
right-hand side is bounded at both ends; decoding is ``sample(method="rk45",
denoise_last=False)``'s solve.

Latents of a prior ``N(0, σ_T² I)`` in ``D`` dimensions live near the shell ``‖z‖ ≈ σ_T √D``;
two of them are nearly orthogonal, so the straight line between them passes at ``≈ 1/√2`` of the
shell's radius at its midpoint, a region the prior (and the decoder's training) never sees.
Spherical interpolation (Shoemake 1985) follows the great circle instead: the direction is
slerped and the norm interpolated linearly, so ``‖z(α)‖ = (1 − α)‖z₀‖ + α‖z₁‖`` stays on the
shell.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._checks import check_score_and_sde, check_states
from ._ode_samplers import pf_ode_lambda, sample_norm
from ._sampling_core import ScoreFn
from ._sampling_core import check_float as _check_float
from ._sde import GaussianPathSDE

__all__ = ["pf_ode_encode", "pf_ode_decode", "slerp", "interpolate_latents"]


def _flow(score_fn: ScoreFn, sde: GaussianPathSDE, x: torch.Tensor, t_from: float, t_to: float,
          rtol: float, atol: float) -> tuple[torch.Tensor, int]:
    """The PF-ODE solution from ``x`` at ``t_from`` to ``t_to`` (either direction) and the NFE."""
    from torchdiffeq import odeint

    counter = {"nfe": 0}

    def score(xx: torch.Tensor, tb: torch.Tensor, t: float) -> torch.Tensor:
        out = score_fn(xx, tb)
        counter["nfe"] += 1
        if not isinstance(out, torch.Tensor) or out.shape != xx.shape:
            raise ValueError(f"score_fn(x, t) must return x's shape {tuple(xx.shape)}; got "
                             f"{tuple(out.shape) if isinstance(out, torch.Tensor) else out}")
        if not bool(torch.isfinite(out).all()):
            raise ValueError(f"score_fn returned non-finite values at t={t:.6g}")
        return out

    l_from, l_to = float(sde.log_snr(t_from)), float(sde.log_snr(t_to))
    rhs = pf_ode_lambda(sde, score, min(l_from, l_to), max(l_from, l_to))
    lam = torch.tensor([l_from, l_to], dtype=x.dtype, device=x.device)
    with torch.no_grad():
        out = odeint(rhs, x, lam, method="dopri5", rtol=rtol, atol=atol,
                     options={"norm": sample_norm})[-1]
    return out, counter["nfe"]


def _times(sde: GaussianPathSDE, t_end: float, rtol: float, atol: float) -> tuple[float, ...]:
    t_end = _check_float("t_end", t_end)
    if not 0.0 < t_end < sde.T:
        raise ValueError(f"t_end must lie in (0, T) = (0, {sde.T:g}); got {t_end:g}. Use a "
                         "small positive time such as 1e-3.")
    return (t_end, _check_float("rtol", rtol, positive=True),
            _check_float("atol", atol, positive=True))


def pf_ode_encode(score_fn: ScoreFn, sde: GaussianPathSDE, x: torch.Tensor, *,
                  t_end: float = 1e-3, rtol: float = 1e-6, atol: float = 1e-6,
                  ) -> tuple[torch.Tensor, dict[str, Any]]:
    """PF-ODE encoder (kexue.fm 9228; Song et al. 2021 §4.3): ``x (batch, *shape)``, read as the
    state at ``t_end``, to its latent code ``z = x_T (batch, *shape)`` by dopri5 in ``λ``.

    ``rtol``/``atol`` bound each sample's error norm (:func:`~kexue.diffusion.sample_norm`).
    Returns ``(z, info)`` with ``info["nfe"]``. Raises TypeError/ValueError for bad
    ``score_fn``/``sde``/``x``, ``t_end`` outside ``(0, T)``, non-positive tolerances, or a
    score of the wrong shape or non-finite."""
    check_score_and_sde(score_fn, sde)
    check_states(x, "x")
    t_end, rtol, atol = _times(sde, t_end, rtol, atol)
    z, nfe = _flow(score_fn, sde, x, t_end, float(sde.T), rtol, atol)
    return z, {"nfe": nfe, "t_end": t_end}


def pf_ode_decode(score_fn: ScoreFn, sde: GaussianPathSDE, z: torch.Tensor, *,
                  t_end: float = 1e-3, rtol: float = 1e-6, atol: float = 1e-6,
                  ) -> tuple[torch.Tensor, dict[str, Any]]:
    """PF-ODE decoder, the inverse of :func:`pf_ode_encode`: latents ``z (batch, *shape)`` at
    ``T`` to the state at ``t_end``, ``(batch, *shape)`` (the same solve as
    ``sample(method="rk45", denoise_last=False)``). Returns ``(x, info)``; raises as
    :func:`pf_ode_encode`.

    Source: kexue.fm archive 9228; Song et al. 2021 (arXiv:2011.13456, §4.3).
    """
    check_score_and_sde(score_fn, sde)
    check_states(z, "z")
    t_end, rtol, atol = _times(sde, t_end, rtol, atol)
    x, nfe = _flow(score_fn, sde, z, float(sde.T), t_end, rtol, atol)
    return x, {"nfe": nfe, "t_end": t_end}


def _alphas(alphas: Any) -> torch.Tensor:
    a = torch.as_tensor(alphas, dtype=torch.float64)
    if a.ndim != 1 or a.numel() < 1 or not bool(torch.isfinite(a).all()):
        raise ValueError(f"alphas must be a non-empty 1-D sequence of finite numbers (e.g. "
                         f"torch.linspace(0, 1, 9)); got shape {tuple(a.shape)}")
    return a


def slerp(z0: torch.Tensor, z1: torch.Tensor, alphas: Any) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985) of two latents ``z0, z1`` (same shape ``(*shape)``
    — one latent each, all dimensions flattened): for each ``α`` in ``alphas (k,)``

        z(α) = ((1 − α)‖z0‖ + α‖z1‖) · (sin((1 − α)θ) u0 + sin(αθ) u1)/sin θ,

    ``u = z/‖z‖``, ``θ = ∠(z0, z1)``: the direction moves along the great circle at constant
    angular speed and the norm linearly (for ``‖z0‖ = ‖z1‖`` this is Shoemake's formula and the
    norm is constant). ``z(0) = z0``, ``z(1) = z1``. Nearly parallel latents (``sin θ < 1e-8``)
    fall back to normalised linear interpolation of the directions.

    Returns ``(k, *shape)`` in ``z0``'s dtype and device.

    Raises:
        TypeError: non-floating tensors.
        ValueError: shapes differ, a zero latent, antipodal latents (no unique great circle),
            ``alphas`` not a non-empty 1-D sequence of finite numbers.
    """
    for name, v in (("z0", z0), ("z1", z1)):
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor; got {type(v).__name__}")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape; got {tuple(z0.shape)} and "
                         f"{tuple(z1.shape)}")
    a = _alphas(alphas).to(z0.device)[:, None]                                  # (k, 1)
    v0 = z0.reshape(-1).to(torch.float64)
    v1 = z1.reshape(-1).to(device=z0.device, dtype=torch.float64)
    n0, n1 = v0.norm(), v1.norm()
    if float(n0) == 0.0 or float(n1) == 0.0:
        raise ValueError("slerp needs non-zero latents (the direction of 0 is undefined)")
    u0, u1 = v0 / n0, v1 / n1
    cos = float((u0 * u1).sum().clamp(-1.0, 1.0))
    theta = math.acos(cos)
    sin = math.sin(theta)
    if sin < 1e-8 and cos < 0:
        raise ValueError("z0 and z1 are antipodal: the great circle between them is not "
                         "unique; perturb one of them")
    if sin < 1e-8:
        d = (1 - a) * u0[None] + a * u1[None]
        d = d / d.norm(dim=1, keepdim=True)
    else:
        d = (torch.sin((1 - a) * theta) * u0[None] + torch.sin(a * theta) * u1[None]) / sin
    r = (1 - a) * n0 + a * n1                                                    # (k, 1)
    return (r * d).reshape(-1, *z0.shape).to(z0.dtype)


def interpolate_latents(score_fn: ScoreFn, sde: GaussianPathSDE, x0: torch.Tensor,
                        x1: torch.Tensor, *, alphas: Any = None, n: int = 9,
                        t_end: float = 1e-3, rtol: float = 1e-6, atol: float = 1e-6,
                        ) -> tuple[torch.Tensor, dict[str, Any]]:
    """Latent interpolation through the PF-ODE (kexue.fm 9228): encode ``x0, x1 (*shape)``
    (:func:`pf_ode_encode`), :func:`slerp` their latents at ``alphas`` (default ``n`` equally
    spaced values in ``[0, 1]``) and decode (:func:`pf_ode_decode`).

    Returns:
        ``(x, info)``: ``x (k, *shape)`` the decoded path (``x[0] ≈ x0``, ``x[-1] ≈ x1`` to the
        ODE tolerance when the alphas start at 0 and end at 1); ``info`` has ``"z0"``,
        ``"z1"`` (latents), ``"z" (k, *shape)`` (interpolated latents), ``"alphas" (k,)`` and
        ``"nfe"`` (encode + decode).

    Raises:
        ValueError / TypeError: ``x0``/``x1`` of different shapes or not floating tensors; the
            errors of :func:`pf_ode_encode` and :func:`slerp`.
    """
    for name, v in (("x0", x0), ("x1", x1)):
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor (*shape); got "
                            f"{type(v).__name__}")
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape (one sample each, without a batch "
                         f"dimension); got {tuple(x0.shape)} and {tuple(x1.shape)}")
    if alphas is None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"n must be an int >= 2; got {n!r}")
        alphas = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    a = _alphas(alphas)
    z, info_e = pf_ode_encode(score_fn, sde, torch.stack([x0, x1.to(x0)]), t_end=t_end,
                              rtol=rtol, atol=atol)
    zs = slerp(z[0], z[1], a)                                                    # (k, *shape)
    x, info_d = pf_ode_decode(score_fn, sde, zs, t_end=t_end, rtol=rtol, atol=atol)
    return x, {"z0": z[0], "z1": z[1], "z": zs, "alphas": a,
               "nfe": info_e["nfe"] + info_d["nfe"]}
