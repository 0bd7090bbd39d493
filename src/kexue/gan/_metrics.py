"""Sample-quality metrics for the 2-D mixtures: mode coverage, high-quality share, energy distance.

Mode coverage follows the usual protocol for the ring/grid benchmarks (VEEGAN, Srivastava et al.
2017, arXiv:1705.07761; PacGAN, Lin et al. 2018, arXiv:1712.04086): a sample is *high quality*
when it lies within 3 standard deviations of its nearest mode centre, and a mode is *covered*
when at least ``min_count`` high-quality samples fall on it (20 out of 2500 in PacGAN).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ModeStats", "mode_coverage", "energy_distance"]


@dataclass(frozen=True)
class ModeStats:
    """Result of :func:`mode_coverage`.

    Source: VEEGAN (Srivastava et al. 2017, arXiv:1705.07761) and PacGAN (Lin et al. 2018,
    arXiv:1712.04086).

    Attributes:
        modes_covered: number of modes with at least ``min_count`` high-quality samples.
        n_modes: number of modes.
        high_quality: share of samples within ``k·std`` of their nearest centre.
        counts: ``(n_modes,)`` high-quality samples per mode.
    """

    modes_covered: int
    n_modes: int
    high_quality: float
    counts: Tensor


def mode_coverage(samples: Tensor, centers: Tensor, std: float, *, k: float = 3.0,
                  min_count: int = 20) -> ModeStats:
    """Count covered modes and the high-quality share of ``samples``.

    Source: the mode and high-quality counts of VEEGAN (Srivastava et al. 2017, arXiv:1705.07761)
    and PacGAN (Lin et al. 2018, arXiv:1712.04086).

    Args:
        samples: ``(n, dim)`` generated points (2500 in the standard protocol).
        centers: ``(n_modes, dim)`` mode centres.
        std: the modes' standard deviation.
        k: radius in standard deviations for a high-quality sample (3).
        min_count: high-quality samples a mode needs to count as covered.

    Returns:
        :class:`ModeStats`.
    """
    if samples.ndim != 2 or centers.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples (n, dim) and centers (n_modes, dim) must agree in dim; got "
                         f"{tuple(samples.shape)} and {tuple(centers.shape)}")
    if not std > 0:
        raise ValueError(f"std must be > 0; got {std}")
    x = samples.detach().to(torch.float64)
    c = centers.detach().to(torch.float64)
    dist = torch.cdist(x, c)  # (n, n_modes)
    nearest, idx = dist.min(dim=1)  # (n,)
    good = nearest <= k * std
    counts = torch.bincount(idx[good], minlength=c.shape[0])  # (n_modes,)
    return ModeStats(modes_covered=int((counts >= min_count).sum()), n_modes=int(c.shape[0]),
                     high_quality=float(good.double().mean()) if len(x) else 0.0, counts=counts)


def energy_distance(x: Tensor, y: Tensor) -> float:
    """Squared energy distance ``2E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖`` (Székely & Rizzo 2013),
    V-statistic (all pairs, including ``i = j``), so it is ``>= 0`` and 0 for identical sets.

    Args:
        x: ``(n, dim)``; y: ``(m, dim)``.

    Returns:
        float. (In 1-D, ``scipy.stats.energy_distance`` returns its square root.)
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x (n, dim) and y (m, dim) must agree in dim; got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    x = x.detach().to(torch.float64)
    y = y.detach().to(torch.float64)
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).mean()
    yy = torch.cdist(y, y).mean()
    return float(2 * xy - xx - yy)
