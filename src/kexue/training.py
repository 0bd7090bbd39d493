"""One training engine for every model in kexue (score models, GAN-QP/BiGAN-QP, ON-LSTM).

A subpackage describes *one training step and the state to save* as a :class:`Task`; the
:class:`Engine` owns everything else:

* the step loop and the step counter;
* the non-finite check of the values each step reports (losses, gradient norms): they stay on
  the device and are read back once every ``check_every`` steps (1 on the CPU in one process,
  25 on a GPU or across processes), so there is no host synchronisation per step; a NaN/inf
  stops training with :class:`TrainingDiverged`, naming the step and the last good checkpoint,
  which is never overwritten (parameters are checked again before every write);
* periodic, atomic checkpoints through :mod:`kexue.checkpoint` (safetensors + JSON, never a
  pickle) holding the task's modules, optimisers, random generators and the per-step history,
  and exact resume from them: a run stopped at step ``k`` and resumed reproduces the
  uninterrupted run bit for bit (same device, same thread count);
* save-then-stop on SIGINT (Ctrl-C) and SIGTERM (a scheduler's stop): the current step is
  finished, a checkpoint is written and :class:`TrainingInterrupted` (a ``KeyboardInterrupt``)
  is raised; a second Ctrl-C interrupts at once;
* the progress bar and an optional loss log (``.csv`` or ``.jsonl``, one row per step, cut back
  to the resumed step on resume);
* several processes (``torchrun``): the reported values are averaged over the ranks, only rank
  0 writes checkpoints, logs and the bar, signals and stops are agreed on by all ranks, and
  :meth:`Engine.ddp` wraps a module in ``DistributedDataParallel`` (gloo on CPU, NCCL on CUDA).

The Task protocol (duck-typed)::

    metrics: tuple[str, ...]                    # names of the values step() returns
    def step(self, step: int) -> Sequence[Tensor]   # one optimisation step (0-based index);
                                                # returns 0-d tensors, detached, in metrics order
    def modules(self) -> Mapping[str, nn.Module]        # saved as "<name>/<key>"
    def optimizers(self) -> Mapping[str, Optimizer]     # saved as "opt/<name>/<i>/<key>"
    def generators(self) -> Mapping[str, Generator]     # saved as "rng/<name>"
    # optional:
    labels: Mapping[str, str]                   # metric -> words for errors ("DSM loss")
    def meta(self) -> Mapping[str, Any]         # extra JSON for the checkpoint
    def begin(self) / def end(self)             # e.g. model.train() / model.eval()

Randomness: a task draws every random number from its own generators (``generators()``), so
the global RNG is untouched and resume is exact; see :mod:`kexue.rng` for the library's rule.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from . import checkpoint as ckpt_io
from . import parallel
from ._progress import TrainingBar
from ._training_log import _Log
from ._training_signals import _Signals

__all__ = ["Engine", "Task", "TrainingDiverged", "TrainingInterrupted", "LOG_SUFFIXES"]

LOG_SUFFIXES = (".csv", ".jsonl")


class TrainingDiverged(FloatingPointError):
    """A loss, gradient norm or parameter became NaN/inf; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by SIGINT or SIGTERM after writing a checkpoint.

    Attributes:
        step: the step the checkpoint holds. signal_name: ``"SIGINT"`` or ``"SIGTERM"``.
        checkpoint: the path written (``None`` when training had no checkpoint).
    """

    def __init__(self, message: str, *, step: int, signal_name: str,
                 checkpoint: Path | None) -> None:
        super().__init__(message)
        self.step = step
        self.signal_name = signal_name
        self.checkpoint = checkpoint


@runtime_checkable
class Task(Protocol):
    """What a subpackage gives the :class:`Engine`: one step and the state to save."""

    metrics: tuple[str, ...]

    def step(self, step: int) -> Sequence[Tensor]: ...

    def modules(self) -> Mapping[str, nn.Module]: ...

    def optimizers(self) -> Mapping[str, torch.optim.Optimizer]: ...

    def generators(self) -> Mapping[str, torch.Generator]: ...


def _finite_modules(modules: Mapping[str, nn.Module]) -> bool:
    flags = [torch.isfinite(p).all() for m in modules.values() for p in m.parameters()]
    return bool(torch.stack(flags).all()) if flags else True


class Engine:
    """Run a :class:`Task` for a number of steps with checkpoints, resume and guards.

    Args:
        task: the :class:`Task`.
        fmt: the checkpoint format tag (``"kexue.diffusion.train/2"``); a resume refuses others.
        config: the training configuration (JSON-able); a resume refuses a checkpoint written
            with a different one (:func:`kexue.checkpoint.check_resume`). Include a
            ``"data_fingerprint"`` (:func:`kexue.checkpoint.fingerprint`) to refuse other data.
        checkpoint: ``.safetensors`` path, or ``None`` for no checkpoints.
        ckpt_every: write every this many steps (also at the end, on a stop and on a signal).
        meta: extra JSON metadata stored in every checkpoint.
        progress: show a rich progress bar (rank 0 only; none without rich, of the ``cli``
            extra). description: its label.
        fields: the bar's text after the counter, ``{metric}`` placeholders (default: all).
        console: a ``rich.console.Console`` for the bar.
        log: path of a loss log, ``.csv`` or ``.jsonl`` (rank 0 writes it).
        check_every: read the step values back (and check them) every this many steps; default
            1 when they live on the CPU in one process, else 25 (no host synchronisation or
            extra collective per step on a GPU or across processes).
        hint: the fix suggested when training diverges (e.g. ``"Lower lr (now 0.001)"``).
        callback: ``callback(step) -> bool | None`` every ``callback_every`` steps and at the
            end; ``True`` stops training after a checkpoint.
        handle_signals: turn SIGINT/SIGTERM into save-then-stop (main thread only).

    Attributes:
        step: steps done (and verified finite). start_step: where this engine's run began.
        history: ``{metric: [value per step since step 0]}`` (across resumes).
        last_saved: the step of the last checkpoint written or loaded (``None``: none).
        stopped: the callback asked to stop.
    """

    def __init__(self, task: Task, *, fmt: str, config: Mapping[str, Any],
                 checkpoint: str | os.PathLike | None = None, ckpt_every: int = 1000,
                 meta: Mapping[str, Any] | None = None, progress: bool = False,
                 description: str = "training", fields: str | None = None, console: Any = None,
                 log: str | os.PathLike | None = None, check_every: int | None = None,
                 hint: str = "", callback: Callable[[int], bool | None] | None = None,
                 callback_every: int = 1, handle_signals: bool = True) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"task must provide metrics, step(), modules(), optimizers() and "
                            f"generators() (kexue.training.Task); got {type(task).__name__}")
        for name, v in (("ckpt_every", ckpt_every), ("callback_every", callback_every),
                        ("check_every", 1 if check_every is None else check_every)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1; got {v!r}")
        if log is not None and Path(log).suffix not in LOG_SUFFIXES:
            raise ValueError(f"log must end in {' or '.join(LOG_SUFFIXES)}; got {str(log)!r}")
        self.task = task
        self.fmt = fmt
        self.config = dict(config)
        self.path = Path(checkpoint) if checkpoint is not None else None
        self.ckpt_every = ckpt_every
        self.user_meta = dict(meta or {})
        self.progress = progress
        self.description = description
        self.fields = fields or "  ".join(f"{m} {{{m}}}" for m in task.metrics)
        self.console = console
        self.log_path = Path(log) if log is not None else None
        self.check_every = check_every
        self.hint = hint
        self.callback = callback
        self.callback_every = callback_every
        self.handle_signals = handle_signals
        self.metrics = tuple(task.metrics)
        self.labels = dict(getattr(task, "labels", {}) or {})
        self.step = 0
        self.start_step = 0
        self.history: dict[str, list[float]] = {m: [] for m in self.metrics}
        self.last_saved: int | None = None
        self.stopped = False
        self._ddp_wrapped: list[nn.Module] = []

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Everything an exact resume needs, as ``(tensors, meta)``."""
        tensors: dict[str, Tensor] = {}
        for name, module in self.task.modules().items():
            for k, v in module.state_dict().items():
                tensors[f"{name}/{k}"] = v
        groups: dict[str, Any] = {}
        for name, opt in self.task.optimizers().items():
            sd = opt.state_dict()
            for i, st in sd["state"].items():
                for k, v in st.items():
                    tensors[f"opt/{name}/{i}/{k}"] = torch.as_tensor(v)
            groups[name] = sd["param_groups"]
        for name, gen in self.task.generators().items():
            tensors[f"rng/{name}"] = gen.get_state()
        for m in self.metrics:
            tensors[f"history/{m}"] = torch.tensor(self.history[m], dtype=torch.float64)
        extra = getattr(self.task, "meta", None)
        meta = {**self.user_meta, **(dict(extra()) if extra is not None else {}),
                "format": self.fmt, "step": self.step, "train": self.config,
                "optimizers": groups, "metrics": list(self.metrics)}
        return tensors, meta

    def save(self, path: str | os.PathLike | None = None) -> Path | None:
        """Write a checkpoint (rank 0 only; atomic). Refuses non-finite parameters and optimizer
        state (:func:`kexue.checkpoint.save` checks every tensor), so the file on disk is always
        the last good state.

        Raises:
            TrainingDiverged: a parameter or optimizer-state value is NaN/inf (the previous
                checkpoint is kept).
        """
        target = Path(path) if path is not None else self.path
        if target is None:
            return None
        if not _finite_modules(self.task.modules()):
            raise TrainingDiverged(
                f"parameters became non-finite by step {self.step} (not finite); "
                f"{self._kept()}. {self.hint}".rstrip())
        if parallel.is_main():
            tensors, meta = self.state()
            try:
                ckpt_io.save(target, tensors, meta)
            except ckpt_io.NonFiniteCheckpoint as exc:
                raise TrainingDiverged(f"{exc}; {self._kept()}. {self.hint}".rstrip()) from None
        if path is None:
            self.last_saved = self.step
        return target

    def load(self, path: str | os.PathLike, *, check: bool = True) -> dict[str, Any]:
        """Restore the task and the history from a checkpoint; returns its metadata.

        Args:
            check: refuse a checkpoint of another format or training configuration.

        Raises:
            ValueError: other format/configuration, different networks or optimisers, or a
                generator state written on another kind of device.
        """
        path = Path(path)
        tensors, meta = ckpt_io.load(path)
        if check:
            ckpt_io.check_resume(path, meta, self.fmt, self.config, what=self.fmt)
        elif meta.get("format") != self.fmt:
            raise ValueError(f"{str(path)!r} is not a {self.fmt} checkpoint "
                             f"(format {meta.get('format')!r})")
        for name, module in self.task.modules().items():
            ckpt_io.load_module(module, tensors, f"{name}/", path=path)
        groups = meta.get("optimizers", {})
        for name, opt in self.task.optimizers().items():
            prefix = f"opt/{name}/"
            state: dict[int, dict[str, Tensor]] = {}
            for k, v in tensors.items():
                if k.startswith(prefix):
                    i, key = k[len(prefix):].split("/", 1)
                    state.setdefault(int(i), {})[key] = v
            sd = opt.state_dict()
            saved = groups.get(name, sd["param_groups"])
            if [len(g["params"]) for g in saved] != [len(g["params"]) for g in sd["param_groups"]]:
                raise ValueError(f"checkpoint {str(path)!r} holds a different optimiser "
                                 f"({name}); resume=False starts afresh")
            opt.load_state_dict({"state": state, "param_groups": saved})
        for name, gen in self.task.generators().items():
            try:
                gen.set_state(tensors[f"rng/{name}"])
            except (KeyError, RuntimeError) as exc:
                raise ValueError(
                    f"checkpoint {str(path)!r} has no usable state for generator {name!r} "
                    f"({type(exc).__name__}); a checkpoint resumes on the same kind of device "
                    f"it was written on ({gen.device.type} here)") from None
        self.history = {m: tensors[f"history/{m}"].tolist() if f"history/{m}" in tensors else []
                        for m in self.metrics}
        self.step = self.start_step = self.last_saved = int(meta["step"])
        return meta

    def resume(self, resume: bool = True) -> bool:
        """Load the checkpoint if it exists and ``resume``; returns whether it did."""
        if self.path is not None and resume and self.path.exists():
            self.load(self.path)
            return True
        return False

    def _kept(self) -> str:
        if self.path is not None and self.last_saved is not None:
            return f"the last good checkpoint {str(self.path)!r} (step {self.last_saved}) is kept"
        return "no checkpoint was written"

    # ------------------------------------------------------------------ DDP
    def ddp(self, module: nn.Module, **kwargs: Any) -> nn.Module:
        """``module`` wrapped in ``DistributedDataParallel`` when several processes train
        (else ``module`` itself). Call the wrapper in the step's forward pass; save and load the
        plain module (``modules()``). Parameters are broadcast from rank 0 at wrapping."""
        if not parallel.is_distributed():
            return module
        from torch.nn.parallel import DistributedDataParallel

        params = list(module.parameters())
        device_ids = ([params[0].device.index] if params and params[0].device.type == "cuda"
                      else None)
        wrapped = DistributedDataParallel(module, device_ids=device_ids, **kwargs)
        self._ddp_wrapped.append(wrapped)
        return wrapped

    # ------------------------------------------------------------------ the loop
    def _read(self, pending: list[Tensor], flags: list[float]) -> list[list[float]]:
        """Pending step values → floats (one host sync), averaged over ranks with the flags."""
        rows = torch.stack(pending).to(torch.float64)  # (k, n_metrics)
        if parallel.is_distributed():
            import torch.distributed as dist

            extra = torch.tensor(flags, dtype=torch.float64, device=rows.device)
            packed = torch.cat([rows.reshape(-1), extra])
            dist.all_reduce(packed)
            rows = packed[: rows.numel()].reshape(rows.shape) / parallel.world_size()
            flags[:] = packed[rows.numel():].tolist()
        return rows.cpu().tolist()

    def _verify(self, pending: list[Tensor], flags: list[float], bar: Any,
                log: _Log | None) -> None:
        values = self._read(pending, flags)
        for k, row in enumerate(values):
            bad = [(m, v) for m, v in zip(self.metrics, row) if not math.isfinite(v)]
            if bad:
                m, v = bad[0]
                for name, good in zip(self.metrics, zip(*values[:k])):
                    self.history[name].extend(good)
                if log is not None and k:
                    log.write(self.step + 1, values[:k])
                self.step += k
                raise TrainingDiverged(
                    f"training stopped at step {self.step + 1}: the {self.labels.get(m, m)} is "
                    f"{v} (not finite); {self._kept()}. {self.hint}".rstrip())
        for name, col in zip(self.metrics, zip(*values)):
            self.history[name].extend(col)
        if log is not None:
            log.write(self.step + 1, values)
        self.step += len(values)
        pending.clear()
        if bar is not None:
            bar.update(self.step, **{m: f"{values[-1][i]:.4g}"
                                     for i, m in enumerate(self.metrics)})

    def run(self, steps: int) -> Engine:
        """Train until ``steps`` steps are done in total (a checkpoint already at or past
        ``steps`` is left as it is). Returns ``self``.

        Raises:
            TrainingDiverged: a reported value or a parameter is not finite.
            TrainingInterrupted: SIGINT/SIGTERM, after the checkpoint is written.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a non-negative int; got {steps!r}")
        self.stopped = False
        self.start_step = self.step
        main = parallel.is_main()
        bar = (TrainingBar(self.description, steps, self.step, self.fields, console=self.console)
               if self.progress and main and self.step < steps else None)
        log = (_Log(self.log_path, self.metrics, self.step)
               if self.log_path is not None and main else None)
        begin, end = getattr(self.task, "begin", None), getattr(self.task, "end", None)
        if begin is not None:
            begin()
        pending: list[Tensor] = []
        every = self.check_every
        try:
            with _Signals(self.handle_signals) as sig:
                while self.step + len(pending) < steps:
                    k = self.step + len(pending)
                    values = self.task.step(k)
                    if len(values) != len(self.metrics):
                        raise ValueError(f"task.step returned {len(values)} values for metrics "
                                         f"{self.metrics}")
                    row = torch.stack([v.detach().reshape(()) for v in values])
                    pending.append(row)
                    if every is None:  # per step only where reading back is free
                        every = (1 if row.device.type == "cpu" and not parallel.is_distributed()
                                 else 25)
                    done = k + 1
                    want_cb = self.callback is not None and (done % self.callback_every == 0
                                                            or done == steps)
                    due_save = done % self.ckpt_every == 0 or done == steps
                    signalled = sig.received is not None and not parallel.is_distributed()
                    if not (len(pending) >= every or want_cb or due_save or signalled
                            or done == steps):
                        continue
                    flags = [1.0 if sig.received else 0.0]
                    self._verify(pending, flags, bar, log)
                    stop = bool(self.callback(done)) if want_cb else False
                    if parallel.is_distributed():
                        if want_cb:
                            stop = bool(parallel.broadcast_object(stop))
                        got_signal = flags[0] > 0  # agreed by all ranks in _read
                    else:  # a signal that arrived during the callback counts for this step
                        got_signal = sig.received is not None
                    if got_signal or stop or due_save:
                        self.save()
                    if got_signal:
                        name = sig.received or "SIGTERM"
                        where = (str(self.path) if self.path is not None
                                 else "(none: no checkpoint path)")
                        raise TrainingInterrupted(
                            f"training interrupted at step {self.step} by {name}; checkpoint "
                            f"{where} — rerun to resume", step=self.step, signal_name=name,
                            checkpoint=self.path)
                    if stop:
                        self.stopped = True
                        break
        finally:
            if bar is not None:
                bar.stop()
            if log is not None:
                log.close()
        if end is not None:
            end()
        return self
