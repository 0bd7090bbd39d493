"""One GAN training step and its run on :class:`kexue.training.Engine`: :class:`_GANTask` (GAN-QP,
BiGAN-QP, WGAN-GP, SGAN: ``critic_steps`` critic updates, then one generator/encoder update,
multi-process aware) and :func:`run_gan_task` (resume, checkpoints, callback), shared by
:func:`kexue.gan.train_gan` and :func:`kexue.gan.train_image_gan`."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import checkpoint as ckpt_io
from .. import parallel
from ..training import Engine
from ._losses import (
    bigan_qp_losses,
    qp_critic_loss,
    qp_generator_loss,
    sgan_losses,
    wgan_gp_losses,
)
from ._result import _HIST, GANTrainResult, sample_latent
from ._schemas import META_SCHEMA

__all__ = ["MODELS", "run_gan_task"]


MODELS = ("gan-qp", "bigan-qp", "wgan-gp", "sgan")


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
