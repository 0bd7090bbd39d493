"""Shared parts of the score networks: argument checks, seeded initialisation, placement, time.

:func:`per_row` broadcasts a ``(batch,)`` tensor against ``x (batch, *shape)``; ``_time_vector``
turns a scalar or ``(batch,)`` time into ``(batch,)``; :class:`FourierTimeFeatures` embeds time
as ``[sin(ω_k t), cos(ω_k t)]`` (Ho et al. 2020, arXiv:2006.11239; Song et al. 2021,
arXiv:2011.13456). ``_init_rng`` seeds PyTorch's initialisers from a forked CPU generator, so a
seed gives the same weights on every device.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..devices import resolve_device

__all__ = ["FourierTimeFeatures", "per_row"]


def _check_pos_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return value


@contextlib.contextmanager
def _init_rng(seed: int | None) -> Iterator[None]:
    """Seed PyTorch's default initialisers without changing the global RNG state afterwards."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def _place(module: nn.Module, device: torch.device | str | None) -> None:
    """Move ``module`` to ``device`` (checked by :func:`kexue.devices.resolve_device`)."""
    if device is not None:
        module.to(resolve_device(device))


def per_row(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A ``(batch,)`` tensor as ``(batch, 1, …, 1)`` to broadcast against ``x (batch, *shape)``
    (``v[:, None]`` for flat ``x``)."""
    return v.reshape(v.shape[0], *([1] * (x.ndim - 1)))


def _time_vector(t: Any, batch: int, like: torch.Tensor) -> torch.Tensor:
    """``t`` (float, 0-d, ``(1,)`` or ``(batch,)``) as a ``(batch,)`` tensor of ``like``'s dtype."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0 or t.numel() == 1:
        return t.reshape(1).expand(batch)
    if t.shape != (batch,):
        raise ValueError(
            f"t must be a scalar or have shape (batch,) = ({batch},); got {tuple(t.shape)}"
        )
    return t


class FourierTimeFeatures(nn.Module):
    """Sinusoidal features of time, ``[sin(ω_k t), cos(ω_k t)]`` with geometric ``ω_k``.

    The frequencies run from ``2π·min_freq`` to ``2π·max_freq`` (fixed, not learned), the
    continuous-time version of the Transformer/DDPM timestep embedding (Ho et al. 2020) and of the
    Fourier features of Song et al. (2021). With ``t`` in [0, 1] the defaults resolve time
    differences down to about 1e-3.

    Args:
        n_freq: number of frequencies; the output has ``2·n_freq`` features.
        min_freq, max_freq: lowest and highest frequency in cycles per unit time.

    Shapes: ``t`` ``(batch,)`` → ``(batch, 2·n_freq)``.
    """

    def __init__(self, n_freq: int = 16, *, min_freq: float = 0.1, max_freq: float = 500.0):
        super().__init__()
        _check_pos_int("n_freq", n_freq)
        if not (0 < min_freq <= max_freq):
            raise ValueError(f"need 0 < min_freq <= max_freq; got {min_freq}, {max_freq}")
        freqs = 2 * math.pi * torch.logspace(math.log10(min_freq), math.log10(max_freq), n_freq)
        self.register_buffer("freqs", freqs, persistent=False)
        self.out_features = 2 * n_freq

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        arg = t[:, None] * self.freqs.to(t.dtype)  # (batch, n_freq)
        return torch.cat([arg.sin(), arg.cos()], dim=1)  # (batch, 2·n_freq)
