"""2-D toy distributions used to test generative models (GAN-QP, score-based diffusion).

Each function returns ``(n, 2)`` float samples, drawn on ``device`` (default: the generator's
device, else PyTorch's default device) with ``generator`` following :mod:`kexue.rng`: a
``torch.Generator`` on that device, an ``int`` seed (a new generator there), or ``None``
(PyTorch's default generator, so ``torch.manual_seed`` makes a run reproducible).
The mixtures are the standard mode-collapse benchmarks (8 Gaussians on a ring, a 5×5 grid of
25 Gaussians; e.g. Metz et al. 2017 arXiv:1611.02163, Lin et al. 2018 PacGAN arXiv:1712.04086).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..devices import resolve_device
from ..rng import as_generator

Gen = torch.Generator | int | None
Device = torch.device | str | None


def check_n(n: object, name: str = "n") -> int:
    """Validate a positive sample count."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name} must be a positive int; got {type(n).__name__}")
    if n <= 0:
        raise ValueError(f"{name} must be a positive int (number of samples); got {n}")
    return n


def _setup(n: int, generator: Gen, device: Device) -> tuple[torch.Generator | None,
                                                             torch.device]:
    """Check ``n``; the drawing device (``device``, else the generator's, else the default
    device) and the generator for it (the randomness rule of :mod:`kexue.rng`)."""
    check_n(n)
    if device is not None:
        dev = resolve_device(device)
    elif isinstance(generator, torch.Generator):
        dev = torch.device(generator.device)
    else:
        dev = torch.empty(0).device
    return as_generator(generator, device=dev), dev


def _mixture(centers: torch.Tensor, std: float, n: int, g: torch.Generator | None,
             dev: torch.device, dtype: torch.dtype) -> torch.Tensor:
    centers = centers.to(dev)
    idx = torch.randint(len(centers), (n,), generator=g, device=dev)
    noise = torch.randn(n, 2, generator=g, dtype=torch.float64, device=dev)
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


def ring_of_gaussians(n: int, generator: Gen = None, *, n_modes: int = 8, radius: float = 2.0,
                      std: float = 0.02, dtype: torch.dtype = torch.float32,
                      device: Device = None) -> torch.Tensor:
    """Equal-weight mixture of ``n_modes`` isotropic Gaussians on a circle. Returns ``(n, 2)``
    on ``device``.

    Source: Metz et al. 2017 (arXiv:1611.02163).
    """
    g, dev = _setup(n, generator, device)
    return _mixture(ring_centers(n_modes, radius), std, n, g, dev, dtype)


def grid_of_gaussians(n: int, generator: Gen = None, *, side: int = 5, spacing: float = 2.0,
                      std: float = 0.05, dtype: torch.dtype = torch.float32,
                      device: Device = None) -> torch.Tensor:
    """Equal-weight mixture of ``side²`` Gaussians on a square grid. Returns ``(n, 2)`` on
    ``device``.

    Source: Lin et al. 2018, PacGAN (arXiv:1712.04086).
    """
    g, dev = _setup(n, generator, device)
    return _mixture(grid_centers(side, spacing), std, n, g, dev, dtype)


def two_moons(n: int, generator: Gen = None, *, noise: float = 0.05,
              dtype: torch.dtype = torch.float32, device: Device = None) -> torch.Tensor:
    """Two interleaving half circles (as scikit-learn's ``make_moons``). Returns ``(n, 2)`` on
    ``device``.

    Source: scikit-learn's ``make_moons`` (Pedregosa et al. 2011).
    """
    g, dev = _setup(n, generator, device)
    upper = torch.rand(n, generator=g, device=dev) < 0.5
    th = math.pi * torch.rand(n, generator=g, dtype=torch.float64, device=dev)
    x = torch.where(upper, th.cos(), 1.0 - th.cos())
    y = torch.where(upper, th.sin(), 0.5 - th.sin())
    pts = torch.stack([x, y], dim=1) + noise * torch.randn(n, 2, generator=g,
                                                           dtype=torch.float64, device=dev)
    return pts.to(dtype)


def swiss_roll(n: int, generator: Gen = None, *, noise: float = 0.05,
               dtype: torch.dtype = torch.float32, device: Device = None) -> torch.Tensor:
    """2-D swiss roll: ``t ~ U(1.5π, 4.5π)``, ``(t cos t, t sin t)/5`` plus noise. ``(n, 2)`` on
    ``device``.

    Source: the 2-D swiss roll of Sohl-Dickstein et al. 2015 (arXiv:1503.03585).
    """
    g, dev = _setup(n, generator, device)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g, dtype=torch.float64, device=dev))
    pts = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 5.0
    pts = pts + noise * torch.randn(n, 2, generator=g, dtype=torch.float64, device=dev)
    return pts.to(dtype)


def checkerboard(n: int, generator: Gen = None, *, squares: int = 4, size: float = 4.0,
                 dtype: torch.dtype = torch.float32, device: Device = None) -> torch.Tensor:
    """Uniform on the black squares of a ``squares × squares`` board of side ``size``,
    centred on the origin. Returns ``(n, 2)`` on ``device``.

    Source: the 2-D checkerboard of FFJORD (Grathwohl et al. 2019, arXiv:1810.01367).
    """
    if squares < 2 or squares % 2:
        raise ValueError(f"squares must be an even int >= 2; got {squares}")
    g, dev = _setup(n, generator, device)
    cell = size / squares
    # pick a black cell uniformly: (i + j) even
    i = torch.randint(squares, (n,), generator=g, device=dev)
    j = torch.randint(squares // 2, (n,), generator=g, device=dev) * 2 + (i % 2)
    u = torch.rand(n, 2, generator=g, dtype=torch.float64, device=dev)
    pts = torch.stack([i + u[:, 0], j + u[:, 1]], dim=1) * cell - size / 2
    return pts.to(dtype)


TOY_DATASETS: dict[str, Callable[..., torch.Tensor]] = {
    "ring": ring_of_gaussians,
    "grid": grid_of_gaussians,
    "moons": two_moons,
    "swissroll": swiss_roll,
    "checkerboard": checkerboard,
}


def toy(name: str, n: int, generator: Gen = None, **kwargs) -> torch.Tensor:
    """Sample the toy dataset ``name`` (one of ``TOY_DATASETS``). Returns ``(n, 2)``.

    Source: Metz et al. 2017 (arXiv:1611.02163) and Lin et al. 2018 (arXiv:1712.04086) for the
    Gaussian mixtures.

    ``generator`` follows :mod:`kexue.rng` (``None``: PyTorch's default generator); ``kwargs``
    go to the generator function (``dtype``, ``device``, its shape parameters)."""
    if name not in TOY_DATASETS:
        raise ValueError(f"unknown toy dataset {name!r}; choose one of {', '.join(TOY_DATASETS)}")
    return TOY_DATASETS[name](n, generator, **kwargs)
