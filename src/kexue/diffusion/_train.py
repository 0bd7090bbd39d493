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
threads: parallel reductions change the last bits). Ctrl-C (SIGINT) finishes the current
step, writes a checkpoint and raises ``KeyboardInterrupt``; a non-finite loss or gradient stops
training with a :class:`TrainingDiverged` error and never overwrites the last good checkpoint.
"""

from __future__ import annotations

import copy
import math
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint as ckpt_io
from .._progress import TrainingBar
from ._loss import WEIGHTINGS, dsm_loss
from ._nets import ScoreModel, net_from_spec
from ._sde import VESDE, VPSDE, SubVPSDE

__all__ = ["train", "TrainResult", "TrainingDiverged", "load_score_model", "TRAIN_FORMAT",
           "SDE_KINDS", "make_sde", "sde_spec", "sde_from_spec"]

SDE_KINDS = {"vp": VPSDE, "subvp": SubVPSDE, "ve": VESDE}
LR_SCHEDULES = ("constant", "cosine")


def make_sde(kind: str, **params: float) -> Any:
    """``"vp"`` → :class:`VPSDE`, ``"subvp"`` → :class:`SubVPSDE`, ``"ve"`` → :class:`VESDE`,
    with the constructor's keyword parameters (e.g. ``sigma_max=4.0``)."""
    if kind not in SDE_KINDS:
        raise ValueError(f"unknown SDE {kind!r}; valid: {', '.join(SDE_KINDS)}")
    return SDE_KINDS[kind](**params)


def sde_spec(sde: Any) -> dict[str, Any] | None:
    """A JSON-able description of a VP/sub-VP/VE SDE (``None`` for other SDEs)."""
    for kind, cls in (("subvp", SubVPSDE), ("vp", VPSDE), ("ve", VESDE)):
        if type(sde) is cls:
            keys = ("sigma_min", "sigma_max") if kind == "ve" else ("beta_min", "beta_max")
            return {"kind": kind, **{k: getattr(sde, k) for k in keys}, "T": sde.T}
    return None


def sde_from_spec(spec: Mapping[str, Any]) -> Any:
    """Inverse of :func:`sde_spec`."""
    spec = dict(spec)
    return make_sde(spec.pop("kind", None), **spec)

TRAIN_FORMAT = "kexue.diffusion.train/1"


class TrainingDiverged(FloatingPointError):
    """The loss or the gradient became NaN/inf; the last good checkpoint is kept."""


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
    """

    model: ScoreModel
    ema: ScoreModel
    losses: torch.Tensor
    step: int
    start_step: int
    stopped: bool
    seconds: float
    checkpoint: Path | None


def _state_tensors(model: torch.nn.Module, ema: torch.nn.Module, opt: torch.optim.Optimizer,
                   gen: torch.Generator, losses: list[float]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        out[f"model/{k}"] = v
    for k, v in ema.state_dict().items():
        out[f"ema/{k}"] = v
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"opt/{i}/{k}"] = torch.as_tensor(v)
    out["rng"] = gen.get_state()
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    return out


def _load_prefixed(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], prefix: str,
                   path: Path) -> None:
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    own = module.state_dict()
    if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
        raise ValueError(
            f"checkpoint {str(path)!r} holds a different network ({prefix.rstrip('/')}); "
            "train into a new --out directory or pass resume=False")
    module.load_state_dict(state)


def _all_finite(module: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


class _SigintFlag:
    """Turns the first Ctrl-C into a flag checked between steps (main thread only)."""

    def __init__(self, enabled: bool):
        self.set = False
        self._old: Any = None
        self._on = enabled and threading.current_thread() is threading.main_thread()

    def __enter__(self) -> _SigintFlag:
        if self._on:
            def handler(signum: int, frame: Any) -> None:
                self.set = True
                signal.signal(signal.SIGINT, self._old)  # a second Ctrl-C interrupts at once
            self._old = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._on:
            signal.signal(signal.SIGINT, self._old)


def train(model: ScoreModel, sde: Any, data: torch.Tensor, *, steps: int, batch_size: int = 128,
          lr: float = 1e-3, ema_decay: float = 0.999, warmup: int = 100,
          lr_schedule: str = "constant", grad_clip: float = 1.0, weighting: str = "sigma2",
          t_min: float = 1e-5, seed: int = 0,
          checkpoint: str | Path | None = None, ckpt_every: int = 1000, resume: bool = True,
          progress: bool = True, augment: Callable[[torch.Tensor, torch.Generator],
                                                   torch.Tensor] | None = None,
          meta: Mapping[str, Any] | None = None,
          callback: Callable[[int, float], bool | None] | None = None,
          description: str = "training") -> TrainResult:
    """Train a score model by denoising score matching (Vincent 2011; Song et al. 2021).

    Each step draws ``batch_size`` rows of ``data`` with replacement, optionally ``augment``-s them
    (e.g. uniform dequantisation), takes one Adam step on :func:`dsm_loss` with the learning rate
    warmed up linearly over ``warmup`` steps (then constant, or ``lr_schedule="cosine"``:
    ``lr·½(1 + cos(π k/steps))``) and the gradient norm clipped to ``grad_clip``, then
    updates the EMA ``θ̄ ← d θ̄ + (1 − d) θ`` with ``d = min(ema_decay, (1 + k)/(10 + k))`` at step
    ``k`` (the usual warm-up of the EMA decay, so short runs are not dominated by the
    initialisation).

    Args:
        model: a :class:`ScoreModel` (trained in place).
        sde: the diffusion SDE (``marginal``; ``diffusion`` for the likelihood weighting).
        data: ``(N, D)`` training set.
        steps: total number of steps (including any already in the checkpoint; a checkpoint
            already at or past ``steps`` is returned as it is).
        batch_size, lr, ema_decay, warmup, lr_schedule, grad_clip, weighting, t_min: as above;
            ``grad_clip=0`` disables clipping. A cosine schedule depends on ``steps``, so a run
            with it can be resumed (after a stop) but not extended.
        seed: seeds the single generator behind every random draw.
        checkpoint: ``.safetensors`` path; written every ``ckpt_every`` steps, at the end, and on
            Ctrl-C or a callback stop. With ``resume=True`` an existing file is resumed from.
        progress: show a rich progress bar (experiments pass ``False``).
        augment: ``(x0, generator) -> x0`` applied to every batch.
        meta: extra JSON metadata stored in the checkpoint (e.g. the data); the SDE is recorded
            automatically for VP, sub-VP and VE (:func:`sde_spec`), the network from its
            ``spec``.
        callback: called as ``callback(step, loss)`` after every step; returning ``True`` stops
            training after writing a checkpoint.
        description: progress-bar label.

    Returns:
        :class:`TrainResult`.

    Raises:
        TrainingDiverged: the loss or gradient norm is not finite (the message names the step and
            the last good checkpoint, which is left untouched).
        KeyboardInterrupt: after Ctrl-C, once the checkpoint is written.
        ValueError: bad arguments, or a checkpoint from a different configuration.
    """
    if not isinstance(model, ScoreModel):
        raise TypeError(f"model must be a ScoreModel (wrap your ε-network: ScoreModel(net, sde)); "
                        f"got {type(model).__name__}")
    if not isinstance(data, torch.Tensor) or data.ndim != 2 or data.shape[0] < 1:
        raise ValueError(f"data must be a tensor of shape (N, D); got "
                         f"{tuple(data.shape) if isinstance(data, torch.Tensor) else type(data)}")
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

    t_start = time.perf_counter()
    path = Path(checkpoint) if checkpoint is not None else None
    config = {"batch_size": batch_size, "lr": lr, "ema_decay": ema_decay, "warmup": warmup,
              "lr_schedule": lr_schedule, "grad_clip": grad_clip, "weighting": weighting,
              "t_min": t_min, "seed": seed,
              "n_data": int(data.shape[0]), "dim": int(data.shape[1]),
              "data_fingerprint": ckpt_io.fingerprint(data)}
    if lr_schedule == "cosine":
        config["steps"] = steps
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, foreach=True)
    ema = copy.deepcopy(model).requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    start = 0
    last_saved: int | None = None

    if path is not None and resume and path.exists():
        tensors, old = ckpt_io.load(path)
        ckpt_io.check_resume(path, old, TRAIN_FORMAT, config, what="kexue.diffusion training")
        _load_prefixed(model, tensors, "model/", path)
        _load_prefixed(ema, tensors, "ema/", path)
        n_params = len(opt.state_dict()["param_groups"][0]["params"])
        state = {i: {k.split("/")[2]: v for k, v in tensors.items()
                     if k.startswith(f"opt/{i}/")} for i in range(n_params)}
        opt.load_state_dict({"state": {i: s for i, s in state.items() if s},
                             "param_groups": opt.state_dict()["param_groups"]})
        gen.set_state(tensors["rng"])
        losses = tensors["losses"].tolist()
        start = last_saved = int(old["step"])

    user_meta = dict(meta or {})

    def save(step: int) -> None:
        nonlocal last_saved
        if path is None:
            return
        if not (_all_finite(model) and _all_finite(ema)):
            raise TrainingDiverged(
                f"parameters became non-finite by step {step}; not overwriting the last good "
                f"checkpoint {str(path)!r} (step {last_saved}). Lower lr ({lr}).")
        info = {"sde": sde_spec(sde), **user_meta, "format": TRAIN_FORMAT, "step": step,
                "train": config,
                "net": getattr(model.net, "spec", None), "sigma_data": model.sigma_data,
                "final_loss": losses[-1] if losses else None}
        ckpt_io.save(path, _state_tensors(model, ema, opt, gen, losses), info)
        last_saved = step

    def diverged(step: int, what: str, value: float) -> TrainingDiverged:
        kept = (f"the last good checkpoint {str(path)!r} (step {last_saved}) is kept"
                if path is not None and last_saved is not None else "no checkpoint was written")
        return TrainingDiverged(
            f"training stopped at step {step + 1}: the {what} is {value} (not finite); {kept}. "
            f"Lower lr (now {lr}), keep grad_clip > 0, or check the data for NaN/inf.")

    bar = (TrainingBar(description, steps, start, "loss {loss}")
           if progress and start < steps else None)
    stopped = False
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    model.train()
    try:
        with _SigintFlag(enabled=True) as sigint:
            for step in range(start, steps):
                lr_now = lr * min(1.0, (step + 1) / warmup) if warmup else lr
                if lr_schedule == "cosine":
                    lr_now *= 0.5 * (1.0 + math.cos(math.pi * step / steps))
                for group in opt.param_groups:
                    group["lr"] = lr_now
                idx = torch.randint(data.shape[0], (batch_size,), generator=gen)
                x0 = data[idx]  # (batch, D)
                if augment is not None:
                    x0 = augment(x0, gen)
                loss = dsm_loss(model, sde, x0, weighting=weighting, t_min=t_min, generator=gen)
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise diverged(step, "DSM loss", value)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                gnorm = torch.nn.utils.clip_grad_norm_(
                    params, grad_clip if grad_clip > 0 else math.inf)
                if not math.isfinite(float(gnorm)):
                    raise diverged(step, "gradient norm", float(gnorm))
                opt.step()
                d = min(ema_decay, (1.0 + step) / (10.0 + step))
                with torch.no_grad():
                    torch._foreach_lerp_(ema_params, model_params, 1.0 - d)
                losses.append(value)
                done = step + 1
                if bar is not None:
                    bar.update(done, loss=f"{value:.4g}")
                want_stop = bool(callback(done, value)) if callback is not None else False
                if sigint.set or want_stop or done % ckpt_every == 0 or done == steps:
                    save(done)
                if sigint.set:
                    raise KeyboardInterrupt(
                        f"training interrupted at step {done}; checkpoint "
                        f"{str(path) if path is not None else '(none)'} — rerun to resume")
                if want_stop:
                    stopped = True
                    break
    finally:
        if bar is not None:
            bar.stop()
    model.eval()
    ema.eval()
    return TrainResult(model=model, ema=ema, losses=torch.tensor(losses, dtype=torch.float64),
                       step=len(losses), start_step=start, stopped=stopped,
                       seconds=time.perf_counter() - t_start, checkpoint=path)


def load_score_model(path: str | Path, sde: Any = None, *, ema: bool = True
                     ) -> tuple[ScoreModel, dict[str, Any]]:
    """Rebuild the score model stored by :func:`train` at ``path``.

    Args:
        path: a training checkpoint.
        sde: the SDE it was trained with; ``None`` rebuilds it from ``meta["sde"]`` (VP, sub-VP
            and VE SDEs are recorded automatically).
        ema: load the EMA weights (default) or the raw weights.

    Returns:
        ``(model, meta)``, the model in eval mode; ``model.sde`` is the SDE.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a training checkpoint, or ``sde=None`` and no SDE recorded.
    """
    path = Path(path)
    tensors, meta = ckpt_io.load(path)
    if meta.get("format") != TRAIN_FORMAT or not meta.get("net"):
        raise ValueError(f"{str(path)!r} is not a kexue.diffusion training checkpoint "
                         "(written by kexue.diffusion.train / kexue diffusion train)")
    if sde is None:
        if not meta.get("sde"):
            raise ValueError(f"{str(path)!r} does not record its SDE; pass sde=...")
        sde = sde_from_spec(meta["sde"])
    model = ScoreModel(net_from_spec(meta["net"]), sde, sigma_data=meta.get("sigma_data", 1.0))
    _load_prefixed(model, tensors, "ema/" if ema else "model/", path)
    return model.eval(), meta
