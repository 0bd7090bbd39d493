"""Training GAN-QP / BiGAN-QP / WGAN-GP / SGAN on images with the convolutional networks.

:func:`train_image_gan` is :func:`kexue.gan.train_gan` for ``(N, C, H, W)`` images: the same
step (``critic_steps`` critic updates, then one generator/encoder update, every random draw from
one seeded ``torch.Generator``), the same :class:`kexue.training.Engine` (checkpoints with exact
resume, NaN guard, save-on-interrupt, progress), with the DCGAN-style networks of
:mod:`kexue.gan._conv` instead of MLPs, and each method's own optimiser settings passed in
(GAN-QP: Adam(2e-4, (0.5, 0.999)), 2 critic steps, kexue.fm 6163; WGAN-GP: Adam(1e-4, (0.5,
0.9)), 5 critic steps, arXiv:1704.00028; DCGAN/SGAN: Adam(2e-4, (0.5, 0.999)), 1 step,
arXiv:1511.06434).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from .. import checkpoint as ckpt_io
from ..devices import resolve_device
from ._conv import (
    ConvCritic,
    ConvEncoder,
    ConvGenerator,
    ConvPairCritic,
    check_penalty_norm,
    init_conv_,
)
from ._losses import DISTANCES
from ._result import GANTrainResult
from ._task import MODELS, _check_batch_per_rank, _GANTask, run_gan_task

__all__ = ["train_image_gan", "IMAGE_TRAIN_FORMAT"]

IMAGE_TRAIN_FORMAT = "kexue.gan.train-image/1"

_F = ckpt_io.Field
_MAXW = 1 << 15
_IMAGE = {"channels": _F(int, 1, 64), "image_size": _F(list, 2, 2, items=int),
          "norm": _F(str, choices=("none", "batch", "layer"))}
#: Schemas of the image networks' specs in a checkpoint (:func:`kexue.gan.load_gan`; unknown
#: keys refused, sizes bounded; see :data:`kexue.gan._schemas.NET_SCHEMAS`).
IMAGE_NET_SCHEMAS = {
    "conv-generator": {"z_dim": _F(int, 1, _MAXW), "dim": _F(int, 1, 4096), **_IMAGE},
    "conv-critic": {"dim": _F(int, 1, 4096), "out_dim": _F(int, 1, _MAXW), **_IMAGE},
    "conv-encoder": {"z_dim": _F(int, 1, _MAXW), "dim": _F(int, 1, 4096), **_IMAGE},
    "conv-pair-critic": {"z_dim": _F(int, 1, _MAXW), "dim": _F(int, 1, 4096),
                         "hidden": _F(int, 1, _MAXW), **_IMAGE},
}


def train_image_gan(model: str, data: Tensor, *, steps: int = 1000, batch_size: int = 64,
                    z_dim: int = 128, dim: int = 64, critic_norm: str = "none",
                    generator_norm: str = "none", pair_hidden: int = 512, lr: float = 2e-4,
                    betas: tuple[float, float] = (0.5, 0.999), critic_steps: int = 2,
                    lam: float = 10.0, distance: str = "l2", penalty: float = 10.0,
                    beta1: float = 2.0, beta2: float = 3.0, stop_gradient: bool = True,
                    seed: int = 0, device: str | torch.device | None = None,
                    checkpoint: str | Path | None = None, ckpt_every: int = 500,
                    resume: bool = True, progress: bool = False,
                    callback: Callable[[int, GANTrainResult], bool | None] | None = None,
                    callback_every: int = 100) -> GANTrainResult:
    """Train GAN-QP / BiGAN-QP (kexue.fm 6163, 6214; arXiv:1811.07296) or WGAN-GP / SGAN on images.

    Args:
        model: one of ``MODELS`` (``"gan-qp"``, ``"bigan-qp"``, ``"wgan-gp"``, ``"sgan"``).
        data: training images ``(N, C, H, W)`` in [−1, 1] (``H``, ``W`` multiples of 4).
        steps: total generator steps (including any already in the checkpoint).
        batch_size: images per batch (real and fake, paired by row).
        z_dim, dim: latent size and base width of :class:`ConvGenerator` / :class:`ConvCritic`
            (and :class:`ConvEncoder` / :class:`ConvPairCritic` for BiGAN-QP).
        critic_norm, generator_norm: ``"none"``, ``"batch"`` or ``"layer"`` (a ``"batch"``
            critic is refused with WGAN-GP's penalty; the BiGAN-QP encoder uses ``critic_norm``).
        pair_hidden: width of the BiGAN-QP critic's MLP head.
        lr, betas: Adam's settings (both networks). critic_steps: critic updates per G step.
        lam, distance: GAN-QP's λ and ``d``. penalty: WGAN-GP's weight.
        beta1, beta2, stop_gradient: BiGAN-QP's reconstruction weights and stop-gradients.
        seed: seeds the one generator behind the weights, batches, ``z`` and interpolates.
        device: where to train (default: ``data``'s device).
        checkpoint, ckpt_every, resume, progress, callback, callback_every: as
            :func:`kexue.gan.train_gan` (``callback(step, result)``; ``True`` stops).

    Returns:
        :class:`kexue.gan.GANTrainResult`; ``result.sample(n)`` gives ``(n, C, H, W)``.

    Raises:
        TypeError: ``data`` is not a tensor.
        ValueError: wrong image shape, NaN data, bad settings (each message names the
            argument and the fix).
        TrainingDiverged: as :func:`kexue.gan.train_gan`.
        TrainingInterrupted: as :func:`kexue.gan.train_gan`.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")
    if not isinstance(data, Tensor):
        raise TypeError(f"data must be a torch.Tensor of images (N, C, H, W); got "
                        f"{type(data).__name__}")
    if data.ndim != 4 or data.shape[0] < 1:
        raise ValueError(f"data must be images of shape (N, C, H, W); got {tuple(data.shape)}. "
                         "Add the channel axis with x.unsqueeze(1).")
    if not data.is_floating_point():
        raise TypeError(f"data must be floating point images in [-1, 1]; got {data.dtype}")
    if not bool(torch.isfinite(data).all()):
        raise ValueError("data contains NaN or inf; clean it before training")
    for k, v, lo in (("steps", steps, 0), ("batch_size", batch_size, 1),
                     ("critic_steps", critic_steps, 1), ("ckpt_every", ckpt_every, 1),
                     ("callback_every", callback_every, 1), ("z_dim", z_dim, 1),
                     ("dim", dim, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{k} must be an int >= {lo}; got {v!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1); got {betas!r}")
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; valid: {', '.join(DISTANCES)}")
    _check_batch_per_rank(batch_size)  # the DDP rule of train_gan
    t0 = time.perf_counter()
    dev = resolve_device(device) if device is not None else data.device
    dtype = data.dtype
    shape = tuple(data.shape[1:])
    c, size = shape[0], shape[1:]
    g_net = ConvGenerator(z_dim, dim, c, size, generator_norm)
    if model == "bigan-qp":
        c_net: torch.nn.Module = ConvPairCritic(z_dim, dim, c, size, critic_norm, pair_hidden)
        e_net: torch.nn.Module | None = ConvEncoder(z_dim, dim, c, size, critic_norm)
    else:
        c_net = ConvCritic(dim, c, size, critic_norm)
        e_net = None
    if model == "wgan-gp":
        check_penalty_norm(c_net, penalty)
    gen = torch.Generator(device=dev).manual_seed(seed)
    for m in (g_net, c_net, e_net):
        if m is not None:
            m.to(device=dev, dtype=dtype)
            init_conv_(m, gen)
    x_all = data.detach().to(dev)
    config = {"model": model, "image_shape": list(shape), "z_dim": z_dim, "dim": dim,
              "critic_norm": critic_norm, "generator_norm": generator_norm,
              "pair_hidden": pair_hidden, "batch_size": batch_size, "lr": lr,
              "betas": list(betas), "critic_steps": critic_steps, "lam": lam,
              "distance": distance, "penalty": penalty, "beta1": beta1, "beta2": beta2,
              "stop_gradient": stop_gradient, "seed": seed, "dtype": str(dtype),
              "n_data": int(x_all.shape[0]), "data_fingerprint": ckpt_io.fingerprint(x_all)}
    task = _GANTask(model, g_net, c_net, e_net, x_all, gen, batch_size=batch_size, z_dim=z_dim,
                    dtype=dtype, lr=lr, betas=tuple(betas), critic_steps=critic_steps,
                    lam=lam, distance=distance, penalty=penalty, beta1=beta1, beta2=beta2,
                    stop_gradient=stop_gradient)
    return run_gan_task(
        task, (g_net, c_net, e_net), fmt=IMAGE_TRAIN_FORMAT, config=config,
        checkpoint=checkpoint, ckpt_every=ckpt_every, resume=resume, steps=steps, t0=t0,
        progress=progress, description=f"{model} on images {shape}", lr=lr,
        callback=callback, callback_every=callback_every)
