"""What a GAN training run returns: :class:`GANTrainResult` (the networks, the loss history, the
configuration) and the latent prior :func:`sample_latent` its ``sample`` draws from. The
training loop behind it is GAN-QP's / BiGAN-QP's (Su 2018, arXiv:1811.07296; kexue.fm 6163,
6214)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..rng import as_generator

__all__ = ["GANTrainResult", "sample_latent"]


_HIST = ("critic", "generator", "latent_rec", "image_rec")


def sample_latent(n: int, z_dim: int, generator: torch.Generator | None,
                  dtype: torch.dtype = torch.float32,
                  device: torch.device | str | None = None) -> Tensor:
    """The prior ``z ~ N(0, I)``: ``(n, z_dim)``, on ``device`` (default: the generator's).

    Source: GAN-QP (kexue.fm archive 6163, arXiv:1811.07296).
    """
    if device is None and generator is not None:
        device = generator.device
    return torch.randn(n, z_dim, generator=generator, dtype=dtype, device=device)


@dataclass
class GANTrainResult:
    """What :func:`train_gan` returns.

    Attributes:
        generator: ``(batch, z_dim) -> (batch, D)``; critic: ``T``; encoder: BiGAN-QP only.
        history: per generator step, ``"critic"`` (last critic loss), ``"generator"``, and for
            BiGAN-QP ``"latent_rec"``/``"image_rec"``; float64 tensors over all steps since 0.
        step, start_step: generator steps done, and the step this call resumed from.
        stopped: ``callback`` asked to stop early.
        seconds: wall time of this call.
        checkpoint: the checkpoint path, if any.
        config: the training configuration (as stored in the checkpoint).
    """

    generator: nn.Module
    critic: nn.Module
    encoder: nn.Module | None
    history: dict[str, Tensor]
    step: int
    start_step: int
    stopped: bool
    seconds: float
    checkpoint: Path | None
    config: dict[str, Any] = field(default_factory=dict)

    def sample(self, n: int, generator: torch.Generator | int = 0) -> Tensor:
        """``n`` generated samples ``G(z)``, ``(n, D)``, without gradient."""
        p = next(self.generator.parameters())
        gen = as_generator(generator, device=p.device)
        with torch.no_grad():
            return self.generator(sample_latent(n, self.config["z_dim"], gen, p.dtype, p.device))
