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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .. import checkpoint as ckpt_io
from .. import parallel
from ..devices import resolve_device
from ..rng import as_generator
from ..training import Engine, TrainingDiverged, TrainingInterrupted
from ._losses import (
    DISTANCES,
    bigan_qp_losses,
    qp_critic_loss,
    qp_generator_loss,
    sgan_losses,
    wgan_gp_losses,
)
from ._nets import ACTIVATIONS, MLP, PairCritic, net_from_spec

__all__ = ["MODELS", "DATASETS", "DATASET_ALIASES", "TOY_STD", "dataset_name", "train_gan",
           "GANTrainResult", "TrainingDiverged", "TrainingInterrupted", "load_gan",
           "load_gan_data", "sample_latent", "TRAIN_FORMAT"]

MODELS = ("gan-qp", "bigan-qp", "wgan-gp", "sgan")
#: Named datasets ``train_gan`` accepts besides a tensor: :data:`kexue.data.TOY_DATASETS`'s names.
DATASETS = ("ring", "grid", "digits")
#: Deprecated spellings of :data:`DATASETS` (accepted with a ``DeprecationWarning``; the same data).
DATASET_ALIASES = {"ring8": "ring", "grid25": "grid"}
#: The mixtures' standard deviation for GANs: GAN-QP's paper settings (arXiv:1811.07296; the
#: 8-Gaussian ring of radius 2 with std 0.02, the 5×5 grid of spacing 2 with std 0.05), also
#: :func:`kexue.data.ring_of_gaussians`/:func:`kexue.data.grid_of_gaussians`'s defaults.
TOY_STD = {"ring": 0.02, "grid": 0.05}
TRAIN_FORMAT = "kexue.gan.train/2"
_HIST = ("critic", "generator", "latent_rec", "image_rec")

# Checkpoint metadata schemas (kexue.checkpoint.validate_meta). Rule: the objects a network is
# built from refuse unknown keys (they would reach a constructor); unknown top-level keys are
# free user metadata (train_gan(meta=...)) and are ignored. Sizes have upper bounds, and the
# networks are then built on the meta device and compared with the stored weights first.
_F = ckpt_io.Field
MAX_WIDTH = 1 << 15  # hidden / z_dim / dim bounds of a stored network
MAX_DEPTH = 64
NET_SCHEMAS = {
    "mlp": {"in_dim": _F(int, 1, MAX_WIDTH), "out_dim": _F(int, 1, MAX_WIDTH),
            "hidden": _F(int, 1, MAX_WIDTH), "depth": _F(int, 1, MAX_DEPTH),
            "act": _F(str, choices=tuple(ACTIVATIONS)),
            "out_act": _F((str, type(None)), choices=(None, "tanh"))},
    "pair": {"x_dim": _F(int, 1, MAX_WIDTH), "z_dim": _F(int, 1, MAX_WIDTH),
             "hidden": _F(int, 1, MAX_WIDTH), "depth": _F(int, 1, MAX_DEPTH),
             "act": _F(str, choices=tuple(ACTIVATIONS))},
}
_NETS = {"generator": _F(dict), "critic": _F(dict), "encoder": _F((dict, type(None)))}
META_SCHEMA = {"format": _F(str, high=200), "step": _F(int, 0, 10**12),
               "train": _F(dict),
               "nets": _F(dict, schema=_NETS)}


def dataset_name(name: str) -> str:
    """The name of :data:`DATASETS` that ``name`` spells: itself, or for a deprecated alias
    (``"ring8"``, ``"grid25"``; :data:`DATASET_ALIASES`) its new name, with a
    ``DeprecationWarning``.

    Raises:
        ValueError: an unknown name (the message lists :data:`DATASETS`).
    """
    if name in DATASET_ALIASES:
        new = DATASET_ALIASES[name]
        warnings.warn(f"dataset name {name!r} is deprecated; use {new!r} (the same data)",
                      DeprecationWarning, stacklevel=3)
        return new
    if name in DATASETS:
        return name
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)} or an (N, D) tensor")


def load_gan_data(name: str, *, n: int = 50_000, seed: int = 0,
                  dtype: torch.dtype = torch.float32) -> Tensor:
    """The training set behind a dataset name: ``"ring"``/``"grid"`` draw ``n`` points of the
    8-Gaussian ring / 25-Gaussian grid of :mod:`kexue.data` with the stds of :data:`TOY_STD`
    (GAN-QP's paper settings; seed ``10_000 + seed``); ``"digits"`` is the 8×8 digits training
    split in [−1, 1]. The old names ``"ring8"``/``"grid25"`` still work, with a
    ``DeprecationWarning``. Returns ``(N, D)``."""
    from ..data import digits, toy

    name = dataset_name(name)
    if name in TOY_STD:
        return toy(name, n, 10_000 + seed, std=TOY_STD[name], dtype=dtype)
    return digits(dtype=dtype).x_train


def sample_latent(n: int, z_dim: int, generator: torch.Generator | None,
                  dtype: torch.dtype = torch.float32,
                  device: torch.device | str | None = None) -> Tensor:
    """The prior ``z ~ N(0, I)``: ``(n, z_dim)``, on ``device`` (default: the generator's).

    Source: GAN-QP (kexue.fm archive 6163, arXiv:1811.07296).
    """
    if device is None and generator is not None:
        device = generator.device
    return torch.randn(n, z_dim, generator=generator, dtype=dtype, device=device)


def _init_(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default ``nn.Linear`` initialisation, U(±1/sqrt(fan_in)), from ``gen``."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)


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


def _check_batch_per_rank(batch_size: int) -> None:
    world = parallel.world_size()
    if batch_size % world:
        raise ValueError(f"batch_size ({batch_size}) must be a multiple of the number of "
                         f"processes ({world}) so that every rank gets an equal slice")


def run_gan_task(task: _GANTask, nets: tuple, *, fmt: str, config: dict, checkpoint, ckpt_every,
                 resume, steps: int, t0: float, meta=None, progress=True, description: str,
                 log=None, check_every=None, lr: float, callback=None,
                 callback_every: int = 1) -> GANTrainResult:
    """Run a :class:`_GANTask` for ``steps`` generator steps on the training engine (resume,
    checkpoints, DDP, callback) and return its :class:`GANTrainResult`; shared by
    :func:`train_gan` and :func:`kexue.gan.train_image_gan`. ``nets``: ``(generator, critic,
    encoder or None)``."""
    g_net, c_net, e_net = nets
    path = Path(checkpoint) if checkpoint is not None else None

    def result(step: int, stopped: bool = False) -> GANTrainResult:
        n = len(engine.history["critic"])
        hist = {k: torch.tensor(engine.history[k], dtype=torch.float64) if k in engine.history
                else torch.full((n,), float("nan"), dtype=torch.float64) for k in _HIST}
        return GANTrainResult(
            generator=g_net, critic=c_net, encoder=e_net, history=hist,
            step=step, start_step=engine.start_step, stopped=stopped,
            seconds=time.perf_counter() - t0, checkpoint=path, config=config)

    engine = Engine(
        task, fmt=fmt, config=config, checkpoint=path, ckpt_every=ckpt_every,
        meta={**dict(meta or {}), "nets": {
            "generator": g_net.spec, "critic": c_net.spec,
            "encoder": e_net.spec if e_net is not None else None}},
        progress=progress, description=description,
        fields="D {critic} G {generator}", log=log, check_every=check_every,
        hint=f"Lower lr (now {lr}) or check the data for NaN/inf.",
        callback=(None if callback is None else lambda step: callback(step, result(step))),
        callback_every=callback_every)
    ckpt_io.resume_engine(engine, resume, schema=META_SCHEMA)
    task.distribute(engine)
    engine.run(steps)
    return result(engine.step, engine.stopped)


class _GANTask:
    """One generator step of GAN-QP / BiGAN-QP / WGAN-GP / SGAN, preceded by ``critic_steps``
    critic steps (the :class:`kexue.training.Task` of :func:`train_gan`).

    With several processes every rank draws the global batch (indices and ``z``) from the same
    seeded generator and keeps its slice; gradients are averaged over the ranks before each
    optimiser step (:func:`kexue.parallel.average_gradients`: the alternating updates freeze one
    network while the other trains, which DDP's reducer does not support), so the update is the
    single-process one (WGAN-GP's interpolation weights too: drawn for the global batch, sliced)."""

    def __init__(self, model: str, g_net: nn.Module, c_net: nn.Module, e_net: nn.Module | None,
                 data: Tensor, gen: torch.Generator, *, batch_size: int, z_dim: int,
                 dtype: torch.dtype, lr: float, betas: tuple[float, float], critic_steps: int,
                 lam: float, distance: str, penalty: float, beta1: float, beta2: float,
                 stop_gradient: bool) -> None:
        self.model, self.g, self.c, self.e = model, g_net, c_net, e_net
        self.data, self.gen, self.batch_size, self.z_dim, self.dtype = (data, gen, batch_size,
                                                                        z_dim, dtype)
        self.critic_steps, self.lam, self.distance, self.penalty = (critic_steps, lam, distance,
                                                                    penalty)
        self.beta1, self.beta2, self.stop_gradient = beta1, beta2, stop_gradient
        self.c_params = list(c_net.parameters())
        self.ge_params = list(g_net.parameters()) + (list(e_net.parameters()) if e_net else [])
        self.opt_c = torch.optim.Adam(self.c_params, lr=lr, betas=betas)
        self.opt_g = torch.optim.Adam(self.ge_params, lr=lr, betas=betas)
        self.metrics = ("critic", "generator") + (("latent_rec", "image_rec")
                                                  if model == "bigan-qp" else ())
        self.labels = {"critic": "critic loss", "generator": "generator loss",
                       "latent_rec": "latent reconstruction loss",
                       "image_rec": "image reconstruction loss"}
        self._sync = False

    def distribute(self, engine: Engine) -> None:
        self._sync = parallel.is_distributed()

    def modules(self) -> dict[str, nn.Module]:
        nets = {"generator": self.g, "critic": self.c}
        if self.e is not None:
            nets["encoder"] = self.e
        return nets

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"critic": self.opt_c, "generator": self.opt_g}

    def generators(self) -> dict[str, torch.Generator]:
        return {"batches": self.gen}

    def _batch(self) -> tuple[Tensor, Tensor]:
        b = self.batch_size
        idx = torch.randint(self.data.shape[0], (b,), generator=self.gen,
                            device=self.data.device)
        x, z = self.data[idx], sample_latent(b, self.z_dim, self.gen, self.dtype)  # (B, D), (B, z)
        rank, world = parallel.world()
        if world > 1:
            lo, hi = rank * b // world, (rank + 1) * b // world
            x, z = x[lo:hi], z[lo:hi]
        return x, z

    def _critic_loss(self, x: Tensor, z: Tensor) -> Tensor:
        c, g = self.c, self.g
        if self.model == "bigan-qp":
            return bigan_qp_losses(c, self.e, g, x, z, lam=self.lam, beta1=self.beta1,
                                   beta2=self.beta2, distance=self.distance,
                                   part="critic").critic
        with torch.no_grad():
            fake = g(z)  # (B, D)
        if self.model == "gan-qp":
            return qp_critic_loss(c(x), c(fake), x, fake, lam=self.lam, distance=self.distance)
        if self.model == "wgan-gp":
            u = None
            rank, world = parallel.world()
            if world > 1:  # the global batch's interpolation weights, this rank's slice
                b = self.batch_size
                u = torch.rand((b,) + (1,) * (x.ndim - 1), generator=self.gen, dtype=x.dtype,
                               device=x.device)[rank * b // world:(rank + 1) * b // world]
            return wgan_gp_losses(c, x, fake, penalty=self.penalty, generator=self.gen,
                                  part="critic", u=u).critic
        return sgan_losses(c(x), c(fake)).critic

    def _generator_loss(self, x: Tensor, z: Tensor) -> tuple[Tensor, ...]:
        c, g = self.c, self.g
        if self.model == "bigan-qp":
            out = bigan_qp_losses(c, self.e, g, x, z, lam=self.lam, beta1=self.beta1,
                                  beta2=self.beta2, distance=self.distance,
                                  stop_gradient=self.stop_gradient, part="generator")
            return out.generator, out.latent_rec, out.image_rec
        fake = g(z)
        if self.model == "gan-qp":
            with torch.no_grad():
                t_real = c(x)
            return (qp_generator_loss(t_real, c(fake)),)
        if self.model == "wgan-gp":
            return (wgan_gp_losses(c, x, fake, part="generator").generator,)
        t_fake = c(fake)
        return (sgan_losses(t_fake.detach(), t_fake).generator,)

    def step(self, step: int) -> tuple[Tensor, ...]:
        self.c.requires_grad_(True)
        for _ in range(self.critic_steps):
            loss_c = self._critic_loss(*self._batch())
            self.opt_c.zero_grad(set_to_none=True)
            loss_c.backward()
            if self._sync:
                parallel.average_gradients(self.c_params)
            self.opt_c.step()
        self.c.requires_grad_(False)
        try:
            losses = self._generator_loss(*self._batch())
            self.opt_g.zero_grad(set_to_none=True)
            losses[0].backward()
            if self._sync:
                parallel.average_gradients(self.ge_params)
            self.opt_g.step()
        finally:
            self.c.requires_grad_(True)
        return (loss_c.detach(), *(v.detach() for v in losses))


def _stored_history(tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
    n = len(tensors["history/critic"])
    return {k: tensors.get(f"history/{k}", torch.full((n,), float("nan"), dtype=torch.float64))
            for k in _HIST}


def _check_train(path: Path, train: dict) -> torch.dtype:
    """The parts of ``meta["train"]`` a loader reads: ``dtype`` and ``z_dim``."""
    if "z_dim" not in train:
        raise ckpt_io.CorruptCheckpoint(f"checkpoint {str(path)!r}: metadata['train'] lacks "
                                        "the key 'z_dim'; use another checkpoint")
    ckpt_io.validate_meta(path, {"z_dim": train["z_dim"]}, {"z_dim": _F(int, 1, MAX_WIDTH)},
                          where="metadata['train']")
    return ckpt_io.dtype_from_name(path, train.get("dtype"), where="metadata['train']['dtype']")


def load_gan(path: str | Path) -> tuple[GANTrainResult, dict[str, Any]]:
    """Rebuild the networks stored by :func:`train_gan` (or :func:`kexue.gan.train_image_gan`)
    at ``path``.

    The metadata is checked first (:data:`META_SCHEMA`; network specs against
    :data:`NET_SCHEMAS` / the image networks' schemas, unknown keys refused there, unknown
    top-level keys ignored; ``dtype`` among float32/float64; sizes bounded), and every network
    is built on the meta device and compared with the stored weights before any memory is
    allocated (:func:`kexue.checkpoint.build_module`).

    Returns:
        ``(result, meta)``: a :class:`GANTrainResult` with the networks in eval mode, and the
        checkpoint's metadata (``meta["train"]`` is the training configuration).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a kexue.gan training checkpoint, or metadata of the wrong form (one
            line naming the file and the field).
    """
    from ._conv import conv_net_from_spec
    from ._image import IMAGE_NET_SCHEMAS, IMAGE_TRAIN_FORMAT

    path = Path(path)
    tensors, meta = ckpt_io.load(path)
    if meta.get("format") not in (TRAIN_FORMAT, IMAGE_TRAIN_FORMAT):
        raise ValueError(f"{str(path)!r} is not a kexue.gan training checkpoint (written by "
                         "kexue.gan.train_gan / kexue gan train)")
    ckpt_io.validate_meta(path, meta, META_SCHEMA, extra="ignore")
    image = meta["format"] == IMAGE_TRAIN_FORMAT
    schemas, from_spec = (IMAGE_NET_SCHEMAS, conv_net_from_spec) if image else (
        NET_SCHEMAS, net_from_spec)
    nets = meta["nets"]
    for name in ("generator", "critic", "encoder"):
        if nets[name] is not None:
            ckpt_io.validate_spec(path, nets[name], schemas, where=f"metadata['nets'][{name!r}]")
    dtype = _check_train(path, meta["train"])
    built = {}
    for name in ("generator", "critic", "encoder"):
        spec = nets[name]
        built[name] = None if spec is None else ckpt_io.build_module(
            path, lambda spec=spec: from_spec(spec).to(dtype), tensors, f"{name}/")
    g, c, e = built["generator"], built["critic"], built["encoder"]
    if "history/critic" not in tensors:
        raise ckpt_io.CorruptCheckpoint(f"checkpoint {str(path)!r} has no loss history "
                                        "(history/critic); use another checkpoint")
    for m in (g, c, e):
        if m is not None:
            m.eval()
    res = GANTrainResult(generator=g, critic=c, encoder=e,
                         history=_stored_history(tensors), step=meta["step"],
                         start_step=meta["step"], stopped=False, seconds=0.0,
                         checkpoint=path, config=meta["train"])
    return res, meta
