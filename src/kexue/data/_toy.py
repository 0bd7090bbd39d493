"""2-D toy distributions used to test generative models (GAN-QP, score-based diffusion).

Each function returns ``(n, 2)`` float samples and takes an int seed or a ``torch.Generator``.
The mixtures are the standard mode-collapse benchmarks (8 Gaussians on a ring, a 5×5 grid of
25 Gaussians; e.g. Metz et al. 2017 arXiv:1611.02163, Lin et al. 2018 PacGAN arXiv:1712.04086).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._rng import as_generator, check_n

Gen = torch.Generator | int


def _mixture(centers: torch.Tensor, std: float, n: int, g: torch.Generator,
             dtype: torch.dtype) -> torch.Tensor:
    idx = torch.randint(len(centers), (n,), generator=g)
    noise = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return (centers[idx] + std * noise).to(dtype)


def ring_centers(n_modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """Centres of the ring mixture, ``(n_modes, 2)``."""
    ang = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return radius * torch.stack([ang.cos(), ang.sin()], dim=1)


def grid_centers(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    """Centres of the grid mixture, ``(side², 2)``, centred on the origin."""
    r = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def ring_of_gaussians(n: int, generator: Gen, *, n_modes: int = 8, radius: float = 2.0,
                      std: float = 0.02, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Equal-weight mixture of ``n_modes`` isotropic Gaussians on a circle. Returns ``(n, 2)``."""
    check_n(n)
    return _mixture(ring_centers(n_modes, radius), std, n, as_generator(generator), dtype)


def grid_of_gaussians(n: int, generator: Gen, *, side: int = 5, spacing: float = 2.0,
                      std: float = 0.05, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Equal-weight mixture of ``side²`` Gaussians on a square grid. Returns ``(n, 2)``."""
    check_n(n)
    return _mixture(grid_centers(side, spacing), std, n, as_generator(generator), dtype)


def two_moons(n: int, generator: Gen, *, noise: float = 0.05,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Two interleaving half circles (as scikit-learn's ``make_moons``). Returns ``(n, 2)``."""
    check_n(n)
    g = as_generator(generator)
    upper = torch.rand(n, generator=g) < 0.5
    th = math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    x = torch.where(upper, th.cos(), 1.0 - th.cos())
    y = torch.where(upper, th.sin(), 0.5 - th.sin())
    pts = torch.stack([x, y], dim=1) + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return pts.to(dtype)


def swiss_roll(n: int, generator: Gen, *, noise: float = 0.05,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """2-D swiss roll: ``t ~ U(1.5π, 4.5π)``, ``(t cos t, t sin t)/5`` plus noise. ``(n, 2)``."""
    check_n(n)
    g = as_generator(generator)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g, dtype=torch.float64))
    pts = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 5.0
    pts = pts + noise * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return pts.to(dtype)


def checkerboard(n: int, generator: Gen, *, squares: int = 4, size: float = 4.0,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform on the black squares of a ``squares × squares`` board of side ``size``,
    centred on the origin. Returns ``(n, 2)``."""
    check_n(n)
    if squares < 2 or squares % 2:
        raise ValueError(f"squares must be an even int >= 2; got {squares}")
    g = as_generator(generator)
    cell = size / squares
    # pick a black cell uniformly: (i + j) even
    i = torch.randint(squares, (n,), generator=g)
    j = torch.randint(squares // 2, (n,), generator=g) * 2 + (i % 2)
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    pts = torch.stack([i + u[:, 0], j + u[:, 1]], dim=1) * cell - size / 2
    return pts.to(dtype)


TOY_DATASETS: dict[str, Callable[..., torch.Tensor]] = {
    "ring": ring_of_gaussians,
    "grid": grid_of_gaussians,
    "moons": two_moons,
    "swissroll": swiss_roll,
    "checkerboard": checkerboard,
}


def toy(name: str, n: int, generator: Gen, **kwargs) -> torch.Tensor:
    """Sample the toy dataset ``name`` (one of ``TOY_DATASETS``). Returns ``(n, 2)``."""
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy dataset {name!r}; choose one of {', '.join(TOY_DATASETS)}")
    return TOY_DATASETS[name](n, generator, **kwargs)
