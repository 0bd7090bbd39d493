"""Training a :class:`~kexue.onlstm.WordLM`: truncated BPTT with a carried state, on the engine.

The ON-LSTM paper's Penn Treebank recipe (Shen et al., ICLR 2019, arXiv:1810.09536; kexue.fm
archive 6621), after Zaremba et al. (arXiv:1409.2329) and AWD-LSTM (Merity et al.,
arXiv:1708.02182): windows of ``bptt`` steps down the ``batchify`` columns, the state at the end
of a window starting the next one (detached), reset at each pass; Adam with gradient-norm
clipping and a cosine learning-rate schedule. :class:`WordLMTrainer` is the
:class:`kexue.training.Task` of a :class:`kexue.training.Engine`, so checkpoints, exact resume
(the carried state and the dropout generator are saved), SIGINT/SIGTERM save-then-stop and the
NaN guard come from the engine.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import checkpoint
from ..devices import resolve_device
from ..training import Engine
from ._model import RNN_KINDS
from ._wordlm import Hidden, WordLM, _check_stream, batchify, matched_word_lm_hidden

__all__ = ["WordLMConfig", "WordLMTrainer"]


FORMAT = "kexue.onlstm.wordlm/1"


@dataclass
class WordLMConfig:
    """Training configuration of a :class:`WordLMTrainer`.

    Sizes and dropouts as :class:`WordLM`; ``match_params``: for ``kind="lstm"``, widen the
    hidden layers to the ON-LSTM model's parameter count (:func:`matched_word_lm_hidden`);
    ``batch_size`` columns, ``bptt`` steps per window; Adam with cosine decay ``lr`` →
    ``lr_final`` over ``steps``; ``clip``: gradient-norm clipping; ``checkpoint_every``: steps
    between checkpoints (when the trainer has an ``out_dir``).
    """

    kind: str = "onlstm"
    embed_size: int = 200
    hidden_size: int = 400
    num_layers: int = 2
    chunk_size: int = 10
    tie_weights: bool = True
    match_params: bool = True
    dropout: float = 0.3
    dropout_embed: float = 0.3
    dropout_out: float = 0.3
    batch_size: int = 20
    bptt: int = 35
    steps: int = 1000
    lr: float = 2e-3
    lr_final: float = 2e-4
    clip: float = 0.25
    seed: int = 0
    checkpoint_every: int = 500

    def validate(self) -> None:
        """Raises ValueError naming the first bad field."""
        if self.kind not in RNN_KINDS:
            raise ValueError(f"kind must be one of {RNN_KINDS}; got {self.kind!r}")
        for name in ("embed_size", "hidden_size", "num_layers", "chunk_size", "batch_size",
                     "bptt", "checkpoint_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(f"steps must be a non-negative int; got {self.steps!r}")
        if not (self.lr > 0 and self.lr_final > 0 and self.clip > 0):
            raise ValueError(f"lr, lr_final and clip must be positive; got {self.lr}, "
                             f"{self.lr_final}, {self.clip}")

    def hidden(self, vocab_size: int) -> int:
        """The hidden width actually built (widened for a parameter-matched LSTM)."""
        if self.kind == "lstm" and self.match_params:
            return matched_word_lm_hidden(vocab_size, self.embed_size, self.hidden_size,
                                          self.num_layers, self.chunk_size,
                                          tie_weights=self.tie_weights)
        return self.hidden_size


class _Carry(nn.Module):
    """The state carried from one training window to the next, as buffers (so that the engine
    saves it and a resumed run continues exactly)."""

    def __init__(self, widths: list[tuple[int, int]], batch_size: int) -> None:
        super().__init__()
        self.n = len(widths)
        for k, (_, out) in enumerate(widths):
            self.register_buffer(f"h{k}", torch.zeros(1, batch_size, out))
            self.register_buffer(f"c{k}", torch.zeros(1, batch_size, out))

    def get(self) -> Hidden:
        return tuple((getattr(self, f"h{k}"), getattr(self, f"c{k}")) for k in range(self.n))

    def set(self, hidden: Hidden) -> None:
        for k, (h, c) in enumerate(hidden):
            getattr(self, f"h{k}").copy_(h.detach())
            getattr(self, f"c{k}").copy_(c.detach())


class WordLMTrainer:
    """Train a :class:`WordLM` on a token stream by truncated BPTT (Zaremba et al. 2014).

    Step ``k`` reads window ``j = k mod n_windows`` of the batchified stream
    (``tokens[j·bptt : j·bptt + T]``, targets one step later), starting from the state the
    previous window ended in (zeros when ``j = 0``, i.e. at the start of every pass), and takes
    one Adam step on the mean cross-entropy with the gradient norm clipped to ``clip``. The
    loop, checkpoints (model, optimiser, carried state, dropout generator, history), exact
    resume, save-on-signal and the NaN guard are :class:`kexue.training.Engine`'s.

    Args:
        config: a :class:`WordLMConfig`.
        stream: ``(N,)`` int64 training token ids (e.g. ``Corpus.encode("train")``).
        vocab_size: ``V`` (every id must be below it).
        device: where to train (default: the stream's device).
        out_dir: where ``last.safetensors`` is written (None: no checkpoints); call
            :meth:`resume` to continue from it.
        log: a ``.csv``/``.jsonl`` loss log.
        dtype: parameter dtype (tests use float64).

    Raises:
        ValueError: a bad config, an empty or too short stream (fewer than
            ``2·batch_size`` tokens), or ids outside ``[0, vocab_size)``.
    """

    def __init__(self, config: WordLMConfig, stream: torch.Tensor, vocab_size: int, *,
                 device: str | torch.device | None = None, out_dir: str | Path | None = None,
                 log: str | Path | None = None, dtype: torch.dtype = torch.float32) -> None:
        config.validate()
        stream = _check_stream(stream, "stream (the training tokens)", 2 * config.batch_size)
        if int(stream.min()) < 0 or int(stream.max()) >= vocab_size:
            raise ValueError(f"stream ids must lie in [0, vocab_size={vocab_size}); got "
                             f"[{int(stream.min())}, {int(stream.max())}]")
        self.config = config
        self.vocab_size = vocab_size
        self.device = resolve_device(device) if device is not None else stream.device
        self.data = batchify(stream, config.batch_size).to(self.device)  # (R, B)
        self.n_windows = -(-(self.data.shape[0] - 1) // config.bptt)
        self.hidden_size = config.hidden(vocab_size)
        gen = torch.Generator().manual_seed(config.seed)
        model = WordLM(vocab_size, config.embed_size, self.hidden_size, config.num_layers,
                       kind=config.kind, chunk_size=config.chunk_size,
                       tie_weights=config.tie_weights, dropout=config.dropout,
                       dropout_embed=config.dropout_embed, dropout_out=config.dropout_out)
        model.reset_parameters(gen)
        self.model = model.to(dtype).to(self.device)
        self.carry = _Carry(self.model.widths, config.batch_size).to(dtype).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.generator = torch.Generator(device=self.device).manual_seed(10_000 + config.seed)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        train_cfg = {**dataclasses.asdict(config), "vocab_size": vocab_size,
                     "data_fingerprint": checkpoint.fingerprint(stream)}
        self.engine = Engine(
            _WordLMTask(self), fmt=FORMAT, config=train_cfg,
            checkpoint=(self.out_dir / "last.safetensors" if self.out_dir is not None else None),
            ckpt_every=config.checkpoint_every, description=f"{config.kind} word LM",
            fields="loss {loss}", log=log,
            hint=f"Lower lr (now {config.lr}) or clip (now {config.clip}) and resume or restart.")

    @property
    def step(self) -> int:
        return self.engine.step

    @property
    def history(self) -> list[float]:
        """Training loss (nats per token) of every step."""
        return list(self.engine.history["loss"])

    def resume(self) -> bool:
        """Continue from ``out_dir/last.safetensors`` if it exists (same config and data, except
        the safe overrides :data:`kexue.checkpoint.SAFE_OVERRIDES`: ``lr``; the metadata is
        validated first, see :func:`kexue.checkpoint.resume_engine`); returns whether it did."""
        return checkpoint.resume_engine(self.engine)

    def _lr(self, step: int) -> float:
        cfg = self.config
        if cfg.steps <= 1:
            return cfg.lr
        frac = min(step / cfg.steps, 1.0)
        return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * frac))

    def step_once(self, step: int) -> tuple[torch.Tensor]:
        """One truncated-BPTT step (the engine's ``task.step``); returns the loss (0-d)."""
        cfg = self.config
        j = step % self.n_windows
        lo = j * cfg.bptt
        T = min(cfg.bptt, self.data.shape[0] - 1 - lo)
        x, y = self.data[lo:lo + T], self.data[lo + 1:lo + 1 + T]  # (T, B) each
        hidden = None if j == 0 else self.carry.get()
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(step)
        logits, hidden = self.model(x, hidden, generator=self.generator)  # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        self.optimizer.step()
        self.carry.set(hidden)
        return (loss.detach(),)

    def train(self, steps: int | None = None, *, progress: bool = False,
              console: Any = None) -> list[float]:
        """Train until ``steps`` (default ``config.steps``) steps are done in total.

        Raises:
            TrainingDiverged: the loss became non-finite (the last checkpoint is kept).
            TrainingInterrupted: SIGINT/SIGTERM, after writing the checkpoint.
        """
        eng = self.engine
        eng.progress, eng.console = progress, console
        eng.run(self.config.steps if steps is None else steps)
        return self.history


class _WordLMTask:
    """The :class:`kexue.training.Task` of a :class:`WordLMTrainer`."""

    metrics = ("loss",)
    labels = {"loss": "language-model loss"}

    def __init__(self, trainer: WordLMTrainer) -> None:
        self.trainer = trainer

    def step(self, step: int) -> tuple[torch.Tensor]:
        return self.trainer.step_once(step)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.trainer.model, "carry": self.trainer.carry}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.trainer.optimizer}

    def generators(self) -> dict[str, torch.Generator]:
        return {"dropout": self.trainer.generator}

    def begin(self) -> None:
        self.trainer.model.train()

    def end(self) -> None:
        self.trainer.model.eval()
