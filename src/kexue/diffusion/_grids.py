"""Sampling time grids: uniform in ``t``, uniform in log-SNR, and Karras et al.'s ρ-schedule.

A grid is a decreasing tensor ``t_0 = t_start > t_1 > … > t_N = t_end`` of diffusion times. All
three are defined through the SDE's own kernel, so they work for VE, VP, sub-VP and tables:

* ``"uniform"`` — ``t_i = t_start + (i/N)(t_end − t_start)`` (score_sde's samplers);
* ``"logsnr"`` — ``λ_i`` uniform between ``λ(t_start)`` and ``λ(t_end)``, ``λ = ln(ᾱ/β̄)``
  (DPM-Solver's "logSNR" steps, Lu et al. 2022, arXiv:2206.00927);
* ``"karras"`` — ``σ_i^{1/ρ}`` uniform, ``σ = β̄/ᾱ``, ``ρ = 7`` (Karras et al. 2022,
  arXiv:2206.00364, eq. 5);
* ``"cosine"`` — the angle ``θ = arctan(σ/c)`` uniform, ``c = scale``: for ``c = 1`` these are
  the uniform steps of the cosine schedule ``ᾱ_t = cos(πt/2)`` (Nichol & Dhariwal 2021,
  arXiv:2102.09672), for other ``c`` the same with data scale ``c`` (the TrigFlow angle of Lu &
  Song 2024, arXiv:2410.11081). Steps concentrate around ``σ ≈ c`` in log-σ. With
  ``t_end=None`` the uniform angles continue down to ``θ = 0`` (σ = 0), whose point is dropped:
  the grid then ends one angular step above the data, where the final step to ``t = 0`` begins.
"""

from __future__ import annotations

import math

import torch

from ._sde import GaussianPathSDE

__all__ = ["GRIDS", "time_grid"]

GRIDS = ("uniform", "logsnr", "karras", "cosine")


def time_grid(sde: GaussianPathSDE, steps: int, *, grid: str = "uniform",
              t_start: float | None = None, t_end: float | None = 1e-3, rho: float = 7.0,
              scale: float = 1.0) -> torch.Tensor:
    """The ``steps + 1`` sampling times from ``t_start`` (default ``sde.T``) down to ``t_end``.

    Source: Karras et al. 2022 (arXiv:2206.00364, eq. 5) for ``"karras"``; Lu et al. 2022
    (arXiv:2206.00927) for the log-SNR grid; Nichol and Dhariwal 2021 (arXiv:2102.09672) for the
    cosine grid.

    Args:
        sde: a :class:`GaussianPathSDE`.
        steps: number of intervals ``N >= 1``.
        grid: one of ``GRIDS``.
        t_start, t_end: ``0 < t_end < t_start <= T``; ``t_end=None`` (``"cosine"`` only) ends
            where uniform angles continuing to ``σ = 0`` put their last nonzero point.
        rho: the exponent of the ``"karras"`` grid.
        scale: the ``c`` of the ``"cosine"`` grid (a data scale, like EDM's ``σ_data``).

    Returns:
        ``(steps + 1,)`` float64, strictly decreasing, ends exactly at ``t_start`` and ``t_end``.

    Raises:
        ValueError: unknown ``grid`` (the message lists ``GRIDS``), ``steps < 1``, times outside
            ``(0, T]``, ``rho <= 0``, ``scale <= 0``, ``t_end=None`` with a grid other than
            ``"cosine"``.

    Examples:
        >>> from kexue.diffusion import VPSDE, time_grid
        >>> ts = time_grid(VPSDE(), 4, t_end=0.001)
        >>> [round(t, 4) for t in ts.tolist()]
        [1.0, 0.7502, 0.5005, 0.2508, 0.001]
    """
    if grid not in GRIDS:
        raise ValueError(f"unknown grid {grid!r}; valid grids: {', '.join(GRIDS)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1; got {steps!r}")
    T = sde.T
    t0 = T if t_start is None else float(t_start)
    if not (0.0 < t0 <= T * (1 + 1e-12)):
        raise ValueError(f"t_start must lie in (0, T] = (0, {T:g}]; got {t0:g}")
    t0 = min(t0, T)
    if grid == "cosine" and not (isinstance(scale, (int, float)) and math.isfinite(scale)
                                 and scale > 0):
        raise ValueError(f"scale must be a positive data scale; got {scale!r}")
    if t_end is None:
        if grid != "cosine":
            raise ValueError(f"t_end=None (an automatic end) is defined for grid='cosine' only; "
                             f"give t_end for grid {grid!r} (e.g. 1e-3)")
        th0 = math.atan(float(sde.sigma(t0)) / scale)
        t_end = float(sde.t_of_sigma(scale * math.tan(th0 / (steps + 1))))
    t1 = float(t_end)
    if not (math.isfinite(t1) and 0.0 < t1 < t0):
        raise ValueError(
            f"t_end must lie in (0, t_start) = (0, {t0:g}); got {t1:g}. Sampling stops at a "
            "small positive time (e.g. 1e-3 for VP, 1e-5 for VE); denoise_last finishes at t=0.")
    i = torch.arange(steps + 1, dtype=torch.float64) / steps                 # (N+1,)
    if grid == "uniform":
        ts = t0 + i * (t1 - t0)
    elif grid == "logsnr":
        l0, l1 = (float(sde.log_snr(v)) for v in (t0, t1))
        ts = sde.t_of_log_snr(l0 + i * (l1 - l0))
    elif grid == "cosine":
        th0, th1 = (math.atan(float(sde.sigma(v)) / scale) for v in (t0, t1))
        ts = sde.t_of_sigma(scale * torch.tan(th0 + i * (th1 - th0)))
    else:
        if not (math.isfinite(rho) and rho > 0):
            raise ValueError(f"rho must be positive; got {rho!r}")
        s0, s1 = (float(sde.sigma(v)) for v in (t0, t1))
        sig = (s0 ** (1 / rho) + i * (s1 ** (1 / rho) - s0 ** (1 / rho))) ** rho
        ts = sde.t_of_sigma(sig)
    ts = ts.clone()
    ts[0], ts[-1] = t0, t1
    if not bool((torch.diff(ts) < 0).all()):
        raise ValueError(
            f"grid {grid!r} with {steps} steps on [{t1:g}, {t0:g}] is not strictly decreasing "
            "(too many steps for the float64 resolution of this range); use fewer steps.")
    return ts
