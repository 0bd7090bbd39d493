"""One training loop for GAN-QP, BiGAN-QP, WGAN-GP and the standard GAN.

``train_gan(model=..., data=...)`` alternates ``critic_steps`` (2) critic updates with one
generator (and, for BiGAN-QP, encoder) update, both with Adam(lr 2e-4, β = (0.5, 0.999)) — the
reference settings of bojone/gan-qp (kexue.fm 6163, 6214). Every random draw (initial weights,
mini-batches, ``z``, the WGAN-GP interpolation weights) comes from one ``torch.Generator`` seeded
with ``seed`` on the training device; global RNG state is never touched. The loop itself is
:class:`kexue.training.Engine`'s; this module is one GAN step and its state.

Checkpoints go through :mod:`kexue.checkpoint` (safetensors + JSON, atomic) and hold the three
networks, both optimisers' states, the generator state and the loss history, so resuming from a
checkpoint written at step ``k`` and training to ``n`` reproduces the uninterrupted run bit for
bit. A non-finite loss or parameter stops training with :class:`TrainingDiverged`, whose message
names the step and the last good checkpoint (which is never overwritten by a bad state).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .. import checkpoint as ckpt_io
from ..devices import resolve_device
from ._datasets import DATASET_ALIASES, dataset_name, load_gan_data
from ._losses import DISTANCES
from ._nets import ACTIVATIONS, MLP, PairCritic
from ._result import GANTrainResult
from ._schemas import TRAIN_FORMAT
from ._task import MODELS, _check_batch_per_rank, _GANTask, run_gan_task

__all__ = ["train_gan"]


def _build(model: str, dim: int, z_dim: int, hidden: int, depth: int, image: bool,
           critic_act: str = "lrelu") -> tuple[nn.Module, nn.Module, nn.Module | None]:
    g = MLP(z_dim, dim, hidden, depth, "relu", "tanh" if image else None)
    if model == "bigan-qp":
        c: nn.Module = PairCritic(dim, z_dim, hidden, max(1, depth - 1), critic_act)
        e: nn.Module | None = MLP(dim, z_dim, hidden, depth, "lrelu")
    else:
        c = MLP(dim, 1, hidden, depth, critic_act)
        e = None
    return g, c, e


def _init_(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default ``nn.Linear`` initialisation, U(±1/sqrt(fan_in)), from ``gen``."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)


def train_gan(model: str = "gan-qp", data: str | Tensor = "grid", *, steps: int = 1000,
              batch_size: int = 256, z_dim: int | None = None, hidden: int | None = None,
              depth: int = 3, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
              critic_steps: int = 2, lam: float = 10.0, distance: str = "l1",
              penalty: float = 10.0, beta1: float = 2.0, beta2: float = 3.0,
              stop_gradient: bool = True, critic_act: str = "lrelu", seed: int = 0,
              dtype: torch.dtype = torch.float32,
              checkpoint: str | Path | None = None, ckpt_every: int = 500, resume: bool = True,
              progress: bool = True, meta: Mapping[str, Any] | None = None,
              callback: Callable[[int, GANTrainResult], bool | None] | None = None,
              callback_every: int = 100, description: str | None = None,
              device: str | torch.device | None = None, log: str | Path | None = None,
              check_every: int | None = None) -> GANTrainResult:
    """Train GAN-QP / BiGAN-QP (kexue.fm 6163, 6214; arXiv:1811.07296) or a baseline.

    Each generator step is preceded by ``critic_steps`` critic steps, each on a fresh real batch
    and fresh ``z``. Losses: :func:`qp_critic_loss`/:func:`qp_generator_loss` (``"gan-qp"``),
    :func:`bigan_qp_losses` (``"bigan-qp"``), :func:`wgan_gp_losses` (``"wgan-gp"``, Gulrajani et
    al. arXiv:1704.00028), :func:`sgan_losses` (``"sgan"``, non-saturating).

    Args:
        model: one of ``MODELS``.
        data: ``"ring"``, ``"grid"``, ``"digits"`` (see :func:`load_gan_data`; the deprecated
            ``"ring8"``/``"grid25"`` too) or an ``(N, D)`` tensor of training samples.
        steps: total generator steps (including any already in the checkpoint).
        batch_size: samples per batch (real and fake, paired by row).
        z_dim: latent size (default 8 for 2-D data, 16 otherwise). hidden: width (default 128
            for 2-D data, 256 otherwise). depth: hidden layers per network.
        lr, betas: Adam's settings for every network (2e-4, (0.5, 0.999)).
        critic_steps: critic updates per generator update (2).
        lam, distance: GAN-QP's λ and ``d`` (``"l1"``/``"l2"``). penalty: WGAN-GP's weight.
        beta1, beta2, stop_gradient: BiGAN-QP's reconstruction weights and stop-gradients.
        critic_act: the critic's hidden activation (``"lrelu"``, LeakyReLU 0.2 as in
            bojone/gan-qp; ``"relu"`` as in Gulrajani et al.'s toy script).
        seed: seeds the single generator behind all randomness.
        dtype: parameter and data dtype.
        checkpoint: ``.safetensors`` path, written every ``ckpt_every`` steps and at the end;
            an existing file is resumed from when ``resume``.
        progress: show a rich progress bar (experiments pass ``False``).
        meta: extra JSON metadata for the checkpoint.
        callback: ``callback(step, partial_result)`` every ``callback_every`` steps (and at the
            end); returning ``True`` stops after writing a checkpoint. Used for snapshots.
        description: progress-bar label.
        device: where to train (``None``: the data tensor's device, the CPU for named data).
            CPU and CUDA generators seeded alike draw different numbers.
        log: a ``.csv``/``.jsonl`` file receiving the losses of every step.
        check_every: read the losses back every this many steps (default 1 on CPU, 25 on GPU).

    The loop, checkpoints, resume, NaN guard, SIGINT/SIGTERM save-then-stop, progress, loss log
    and multi-process training are :class:`kexue.training.Engine`'s.

    Returns:
        :class:`GANTrainResult`.

    Raises:
        TrainingDiverged: a loss or parameter is not finite (message: step, last good checkpoint).
        TrainingInterrupted: SIGINT/SIGTERM, after writing the checkpoint.
        ValueError: bad arguments or a checkpoint from a different configuration.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")
    name = dataset_name(data) if isinstance(data, str) else None
    if isinstance(data, str):
        with warnings.catch_warnings():  # warned once, above
            warnings.simplefilter("ignore", DeprecationWarning)
            x_all = load_gan_data(data, seed=seed, dtype=dtype)
        if checkpoint is not None and resume:  # a checkpoint of the old name resumes
            name = _stored_spelling(Path(checkpoint), name)
    elif isinstance(data, Tensor) and data.ndim == 2 and data.shape[0] >= 1:
        x_all = data.detach().to(dtype)
    else:
        got = tuple(data.shape) if isinstance(data, Tensor) else type(data).__name__
        raise ValueError(f"data must be 'ring', 'grid', 'digits' or an (N, D) tensor; got {got}")
    if not bool(torch.isfinite(x_all).all()):
        raise ValueError("data contains NaN or inf; clean it before training")
    for k, v, lo in (("steps", steps, 0), ("batch_size", batch_size, 1),
                     ("critic_steps", critic_steps, 1), ("ckpt_every", ckpt_every, 1),
                     ("depth", depth, 1), ("callback_every", callback_every, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{k} must be an int >= {lo}; got {v!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1); got {betas!r}")
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be a positive finite number (10 in the article); got {lam!r}")
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; valid: {', '.join(DISTANCES)}")
    if critic_act not in ACTIVATIONS:
        raise ValueError(f"unknown critic_act {critic_act!r}; valid: {', '.join(ACTIVATIONS)}")
    dim = int(x_all.shape[1])
    image = name == "digits"
    z_dim = z_dim if z_dim is not None else (8 if dim == 2 else 16)
    hidden = hidden if hidden is not None else (128 if dim == 2 else 256)

    t0 = time.perf_counter()
    dev = resolve_device(device) if device is not None else x_all.device
    _check_batch_per_rank(batch_size)
    gen = torch.Generator(device=dev).manual_seed(seed)
    g_net, c_net, e_net = _build(model, dim, z_dim, hidden, depth, image, critic_act)
    for m in (g_net, c_net, e_net):
        if m is not None:
            m.to(dev)
            _init_(m, gen)
            m.to(dtype)
    config = {"model": model, "data": name, "dim": dim, "z_dim": z_dim, "hidden": hidden,
              "depth": depth, "batch_size": batch_size, "lr": lr, "betas": list(betas),
              "critic_steps": critic_steps, "lam": lam, "distance": distance,
              "penalty": penalty, "beta1": beta1, "beta2": beta2,
              "stop_gradient": stop_gradient, "seed": seed, "dtype": str(dtype),
              "n_data": int(x_all.shape[0]), "data_fingerprint": ckpt_io.fingerprint(x_all)}
    if critic_act != "lrelu":  # stored only when set, so older checkpoints still resume
        config["critic_act"] = critic_act
    task = _GANTask(model, g_net, c_net, e_net, x_all.to(dev), gen, batch_size=batch_size,
                    z_dim=z_dim, dtype=dtype, lr=lr, betas=tuple(betas),
                    critic_steps=critic_steps, lam=lam, distance=distance, penalty=penalty,
                    beta1=beta1, beta2=beta2, stop_gradient=stop_gradient)
    return run_gan_task(
        task, (g_net, c_net, e_net), fmt=TRAIN_FORMAT, config=config, checkpoint=checkpoint,
        ckpt_every=ckpt_every, resume=resume, steps=steps, t0=t0, meta=meta,
        progress=progress, description=description or f"{model} on {name or 'data'}",
        log=log, check_every=check_every, lr=lr, callback=callback,
        callback_every=callback_every)


def _stored_spelling(path: Path, name: str) -> str:
    """The dataset name as the checkpoint at ``path`` spells it when that is a deprecated alias
    of ``name`` (a run started as ``"ring8"`` resumes as ``"ring"``), else ``name``."""
    import json

    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            stored = json.loads((fh.metadata() or {}).get(ckpt_io.META_KEY, "{}"))["train"]["data"]
    except Exception:  # no file or not ours: the resume itself reports it
        return name
    return stored if DATASET_ALIASES.get(stored) == name else name
