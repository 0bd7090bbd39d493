"""Training loop for score models: Adam, EMA, checkpoints with exact resume, NaN guard, progress.

``train(model, sde, data, steps=...)`` minimises :func:`dsm_loss` (denoising score matching,
Vincent 2011; Song et al., ICLR 2021, arXiv:2011.13456) with Adam and keeps an exponential moving
average of the weights (the EMA weights are the ones to sample from, as in Song et al. and Ho et
al. 2020). All randomness (mini-batch indices, ``t``, ``ε``, augmentation) comes from one
``torch.Generator`` seeded with ``seed``.

Checkpoints go through :mod:`kexue.checkpoint` (safetensors + JSON, atomic) and hold the model,
the EMA weights, Adam's moments and step counts, the generator state, the per-step loss history
and the training configuration. Resuming from a checkpoint written at step ``k`` and training to
``n`` reproduces the uninterrupted ``n``-step run bit for bit (with the same number of torch
threads: parallel reductions change the last bits). SIGINT/SIGTERM finish the current step,
write a checkpoint and raise :class:`~kexue.training.TrainingInterrupted` (a
``KeyboardInterrupt``); a non-finite loss or gradient stops training with a
:class:`~kexue.training.TrainingDiverged` error and never overwrites the last good checkpoint.
The loop itself is :class:`kexue.training.Engine`'s; this module is one DSM step and its state.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint as ckpt_io
from .. import parallel
from ..devices import resolve_device
from ..training import Engine, TrainingDiverged, TrainingInterrupted
from ._guidance import drop_labels
from ._loss import WEIGHTINGS, dsm_loss
from ._nets import ScoreModel
from ._score_checkpoint import TRAIN_FORMAT, sde_spec

__all__ = ["train", "TrainResult", "TrainingDiverged", "TrainingInterrupted"]

LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: the trained :class:`ScoreModel` (raw weights).
        ema: a copy with the EMA weights (use these for sampling and likelihoods).
        losses: ``(step,)`` float64, the training loss of every step since step 0 (across resumes).
        step: steps done.
        start_step: the step training resumed from (0 for a fresh run).
        stopped: ``callback`` asked to stop before ``steps``.
        seconds: wall time of this call.
        checkpoint: the checkpoint path, if any.
        grad_norms: ``(step,)`` float64, the gradient norm (before clipping) of every step.
    """

    model: ScoreModel
    ema: ScoreModel
    losses: torch.Tensor
    step: int
    start_step: int
    stopped: bool
    seconds: float
    checkpoint: Path | None
    grad_norms: torch.Tensor | None = None


class _DSMTask:
    """One DSM training step (the :class:`kexue.training.Task` of :func:`train`).

    With several processes every rank draws the whole global batch (indices, augmentation,
    ``t``, ``ε``) from the same seeded generator and keeps its own contiguous slice, so the
    global batch, and with DDP's gradient averaging the update, are those of one process."""

    metrics = ("loss", "grad_norm")
    labels = {"loss": "DSM loss", "grad_norm": "gradient norm"}

    def __init__(self, model: ScoreModel, ema: ScoreModel, sde: Any, data: torch.Tensor,
                 gen: torch.Generator, *, batch_size: int, lr: float, warmup: int,
                 lr_schedule: str, steps: int, grad_clip: float, ema_decay: float,
                 weighting: str, t_min: float,
                 augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None,
                 labels: torch.Tensor | None = None, p_uncond: float = 0.0) -> None:
        self.model, self.ema, self.sde, self.data, self.gen = model, ema, sde, data, gen
        self.class_labels, self.p_uncond = labels, p_uncond  # (N,) int64 or None
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(self.params, lr=lr, foreach=True)
        self.batch_size, self.lr, self.warmup = batch_size, lr, warmup
        self.lr_schedule, self.steps, self.grad_clip = lr_schedule, steps, grad_clip
        self.ema_decay, self.weighting, self.t_min, self.augment = (ema_decay, weighting, t_min,
                                                                    augment)
        self.forward_model: ScoreModel = model
        self._ema_params, self._model_params = list(ema.parameters()), list(model.parameters())

    def distribute(self, wrap: Callable[[torch.nn.Module], torch.nn.Module]) -> None:
        """Route the forward pass through ``wrap(model.net)`` (DDP); the state stays in model."""
        view = copy.copy(self.model)  # a shallow view: same parameters, the wrapped net
        view._modules = dict(self.model._modules)
        view._modules["net"] = wrap(self.model.net)
        self.forward_model = view

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "ema": self.ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.opt}

    def generators(self) -> dict[str, torch.Generator]:
        return {"batches": self.gen}

    def begin(self) -> None:
        self.model.train()

    def end(self) -> None:
        self.model.eval()
        self.ema.eval()

    def step(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        lr_now = self.lr * min(1.0, (step + 1) / self.warmup) if self.warmup else self.lr
        if self.lr_schedule == "cosine":
            lr_now *= 0.5 * (1.0 + math.cos(math.pi * step / self.steps))
        for group in self.opt.param_groups:
            group["lr"] = lr_now
        data, gen, b = self.data, self.gen, self.batch_size
        idx = torch.randint(data.shape[0], (b,), generator=gen, device=data.device)
        x0 = data[idx]  # (batch, *shape), the global batch
        if self.augment is not None:
            x0 = self.augment(x0, gen)
        lab = None
        if self.class_labels is not None:  # classifier-free guidance: some labels → null class
            lab = drop_labels(self.class_labels[idx], self.p_uncond, gen,
                              null_class=self.model.num_classes)  # (batch,)
        rank, world = parallel.world()
        if world == 1:
            loss = dsm_loss(self.forward_model, self.sde, x0, weighting=self.weighting,
                            t_min=self.t_min, generator=gen, labels=lab)
        else:  # draw t and ε for the global batch as dsm_loss does, keep this rank's slice
            T = float(getattr(self.sde, "T", 1.0))
            t = self.t_min + (T - self.t_min) * torch.rand(b, generator=gen, dtype=x0.dtype,
                                                           device=x0.device)  # (batch,)
            eps = torch.randn(x0.shape, generator=gen, dtype=x0.dtype, device=x0.device)
            lo, hi = rank * b // world, (rank + 1) * b // world
            loss = dsm_loss(self.forward_model, self.sde, x0[lo:hi], weighting=self.weighting,
                            t_min=self.t_min, t=t[lo:hi], eps=eps[lo:hi],
                            labels=None if lab is None else lab[lo:hi])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(
            self.params, self.grad_clip if self.grad_clip > 0 else math.inf)
        self.opt.step()
        d = min(self.ema_decay, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            torch._foreach_lerp_(self._ema_params, self._model_params, 1.0 - d)
        return loss.detach(), gnorm.detach()


def train(model: ScoreModel, sde: Any, data: torch.Tensor, *, steps: int, batch_size: int = 128,
          lr: float = 1e-3, ema_decay: float = 0.999, warmup: int = 100,
          lr_schedule: str = "constant", grad_clip: float = 1.0, weighting: str = "sigma2",
          t_min: float = 1e-5, seed: int = 0,
          checkpoint: str | Path | None = None, ckpt_every: int = 1000, resume: bool = True,
          progress: bool = True, augment: Callable[[torch.Tensor, torch.Generator],
                                                   torch.Tensor] | None = None,
          meta: Mapping[str, Any] | None = None,
          callback: Callable[[int, float], bool | None] | None = None,
          description: str = "training", device: str | torch.device | None = None,
          log: str | Path | None = None, check_every: int | None = None,
          labels: torch.Tensor | None = None, p_uncond: float = 0.1) -> TrainResult:
    """Train a score model by denoising score matching (Vincent 2011; Song et al. 2021).

    Each step draws ``batch_size`` rows of ``data`` with replacement, optionally ``augment``-s them
    (e.g. uniform dequantisation), takes one Adam step on :func:`dsm_loss` with the learning rate
    warmed up linearly over ``warmup`` steps (then constant, or ``lr_schedule="cosine"``:
    ``lr·½(1 + cos(π k/steps))``) and the gradient norm clipped to ``grad_clip``, then
    updates the EMA ``θ̄ ← d θ̄ + (1 − d) θ`` with ``d = min(ema_decay, (1 + k)/(10 + k))`` at step
    ``k`` (the usual warm-up of the EMA decay, so short runs are not dominated by the
    initialisation). The loop, checkpoints, resume, NaN guard, signals, progress, loss log and
    DDP are :class:`kexue.training.Engine`'s.

    Args:
        model: a :class:`ScoreModel` (trained in place; moved to ``device``).
        sde: the diffusion SDE (``marginal``; ``diffusion`` for the likelihood weighting).
        data: ``(N, D)`` or ``(N, C, H, W)`` (any ``(N, *shape)`` the network takes) training
            set (moved to ``device``).
        steps: total number of steps (including any already in the checkpoint; a checkpoint
            already at or past ``steps`` is returned as it is).
        batch_size, lr, ema_decay, warmup, lr_schedule, grad_clip, weighting, t_min: as above;
            ``grad_clip=0`` disables clipping. A cosine schedule depends on ``steps``, so a run
            with it can be resumed (after a stop) but not extended. With several processes
            ``batch_size`` is the global batch (each rank takes an equal slice).
        seed: seeds the single generator (on ``device``) behind every random draw.
        checkpoint: ``.safetensors`` path; written every ``ckpt_every`` steps, at the end, and on
            SIGINT/SIGTERM or a callback stop. With ``resume=True`` an existing file is resumed
            from.
        progress: show a rich progress bar (experiments pass ``False``).
        augment: ``(x0, generator) -> x0`` applied to every (global) batch.
        meta: extra JSON metadata stored in the checkpoint (e.g. the data); the SDE is recorded
            automatically for VP, sub-VP and VE (:func:`sde_spec`), the network from its
            ``spec``.
        callback: called as ``callback(step, loss)`` after every step; returning ``True`` stops
            training after writing a checkpoint.
        description: progress-bar label.
        device: where to train (``None``: the model's device). CPU and CUDA generators seeded
            alike draw different numbers: a seed reproduces a run on the same kind of device.
        log: a ``.csv``/``.jsonl`` file receiving ``step, loss, grad_norm, time_s`` per step.
        check_every: read the loss back every this many steps (default 1 on CPU, 25 on GPU).
        labels: ``(N,)`` int64 class labels for a class-conditional model (``model.num_classes``
            set, e.g. ``UNet(..., num_classes=10)``): classifier-free guidance training (Ho &
            Salimans 2022, arXiv:2207.12598), each label dropped to the null class with
            probability ``p_uncond`` (:func:`drop_labels`), so one network learns ``ε(x, t, c)``
            and ``ε(x, t)``; sample with :func:`guided`.
        p_uncond: the label-dropout probability (0.1; Ho & Salimans use 0.1–0.2).

    Returns:
        :class:`TrainResult`.

    Raises:
        TrainingDiverged: the loss or gradient norm is not finite (the message names the step and
            the last good checkpoint, which is left untouched).
        TrainingInterrupted: (a ``KeyboardInterrupt``) after SIGINT/SIGTERM, once the checkpoint
            is written.
        ValueError: bad arguments, or a checkpoint from a different configuration.
    """
    if not isinstance(model, ScoreModel):
        raise TypeError(f"model must be a ScoreModel (wrap your ε-network: ScoreModel(net, sde)); "
                        f"got {type(model).__name__}")
    if not isinstance(data, torch.Tensor) or data.ndim < 2 or data.shape[0] < 1:
        raise ValueError(f"data must be a tensor of shape (N, D) or (N, C, H, W); got "
                         f"{tuple(data.shape) if isinstance(data, torch.Tensor) else type(data)}")
    if labels is not None:
        k = model.num_classes
        if k is None:
            raise ValueError("labels were given but the model is unconditional; build the "
                             "network with num_classes=K (e.g. UNet(1, num_classes=10))")
        if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 \
                or labels.shape != (data.shape[0],):
            got = (f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, torch.Tensor)
                   else type(labels).__name__)
            raise ValueError(f"labels must be an int64 tensor of shape (N,) = "
                             f"({data.shape[0]},); got {got}")
        if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < k):
            raise ValueError(f"labels must lie in 0..{k - 1} (the model has {k} classes); got "
                             f"values in {int(labels.min())}..{int(labels.max())}")
        if not 0.0 <= p_uncond <= 1.0:
            raise ValueError(f"p_uncond must lie in [0, 1]; got {p_uncond}")
    for name, v, lo in (("steps", steps, 1), ("batch_size", batch_size, 1),
                        ("ckpt_every", ckpt_every, 1), ("warmup", warmup, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}; got {v!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number; got {lr}")
    if not (0.0 <= ema_decay < 1.0):
        raise ValueError(f"ema_decay must lie in [0, 1); got {ema_decay}")
    if grad_clip < 0:
        raise ValueError(f"grad_clip must be >= 0 (0 disables clipping); got {grad_clip}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}; "
                         f"got {lr_schedule!r}")
    world = parallel.world_size()
    if batch_size % world:
        raise ValueError(f"batch_size ({batch_size}) must be a multiple of the number of "
                         f"processes ({world}) so that every rank gets an equal slice")

    t_start = time.perf_counter()
    if device is None:
        first = next(model.parameters(), None)
        dev = first.device if first is not None else data.device
    else:
        dev = resolve_device(device)
    model.to(dev)
    config = {"batch_size": batch_size, "lr": lr, "ema_decay": ema_decay, "warmup": warmup,
              "lr_schedule": lr_schedule, "grad_clip": grad_clip, "weighting": weighting,
              "t_min": t_min, "seed": seed,
              "n_data": int(data.shape[0]),
              "dim": int(data.shape[1]) if data.ndim == 2 else list(data.shape[1:]),
              "data_fingerprint": ckpt_io.fingerprint(data)}
    if labels is not None:
        config.update(p_uncond=p_uncond, labels_fingerprint=ckpt_io.fingerprint(labels))
    if lr_schedule == "cosine":
        config["steps"] = steps
    data = data.to(dev)
    ema = copy.deepcopy(model).requires_grad_(False)
    gen = torch.Generator(device=dev).manual_seed(seed)
    task = _DSMTask(model, ema, sde, data, gen, batch_size=batch_size, lr=lr, warmup=warmup,
                    lr_schedule=lr_schedule, steps=steps, grad_clip=grad_clip,
                    ema_decay=ema_decay, weighting=weighting, t_min=t_min, augment=augment,
                    labels=None if labels is None else labels.to(dev), p_uncond=p_uncond)
    info = {"sde": sde_spec(sde), **dict(meta or {}),
            "net": getattr(model.net, "spec", None), "sigma_data": model.sigma_data}
    engine = Engine(
        task, fmt=TRAIN_FORMAT, config=config, checkpoint=checkpoint, ckpt_every=ckpt_every,
        meta=info, progress=progress, description=description, fields="loss {loss}", log=log,
        check_every=check_every,
        hint=f"Lower lr (now {lr}), keep grad_clip > 0, or check the data for NaN/inf.",
        callback=(None if callback is None
                  else lambda step: callback(step, engine.history["loss"][-1])))
    ckpt_io.resume_engine(engine, resume, schema={"format": ckpt_io.Field(str, high=200)})
    task.distribute(engine.ddp)
    engine.run(steps)
    return TrainResult(model=model, ema=ema,
                       losses=torch.tensor(engine.history["loss"], dtype=torch.float64),
                       step=engine.step, start_step=engine.start_step, stopped=engine.stopped,
                       seconds=time.perf_counter() - t_start, checkpoint=engine.path,
                       grad_norms=torch.tensor(engine.history["grad_norm"], dtype=torch.float64))
