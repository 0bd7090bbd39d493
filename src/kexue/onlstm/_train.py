"""Training ON-LSTM / LSTM language models on a grammar: exact resume, NaN guard, progress bar.

The model and its tree reading are ON-LSTM's (Shen et al. 2019, arXiv:1810.09536; kexue.fm
archive 6621); the training objective is next-word cross-entropy, as there.

A :class:`Trainer` owns the corpus (sampled from a :class:`~kexue.onlstm.PCFG` with a seed), the
model, an Adam optimiser and one ``torch.Generator`` for batches. A checkpoint
(:mod:`kexue.checkpoint`, safetensors) holds the model, the optimiser state, the generator state
and the step, so an interrupted run resumed from it continues bit for bit like an uninterrupted
one. A non-finite loss stops training with :class:`TrainingDiverged`, leaving the last good
checkpoint in place; SIGINT/SIGTERM write a checkpoint and stop. The loop is
:class:`kexue.training.Engine`'s.

Batches: every step picks a sentence length ``L`` with probability proportional to the number of
training sentences of that length, then ``batch_size`` sentences of length ``L`` (with
replacement): every sentence is equally likely overall and batches need no padding. The model
reads ``<s> w_1 … w_n`` and predicts ``w_1 … w_n <s>``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoint, parallel
from ..devices import resolve_device
from ..training import Engine, TrainingDiverged, TrainingInterrupted
from ._grammars import get_grammar
from ._lm_config import FORMAT, TrainConfig, _checked_meta, _lr_at, _resume_config
from ._model import LanguageModel, matched_lstm_hidden
from ._pcfg import PCFG
from ._vocab import CORPUS, Vocab, _check_sentences, corpus_fingerprint

__all__ = ["Trainer", "TrainingDiverged", "TrainingInterrupted"]


class Trainer:
    """Train a :class:`~kexue.onlstm._model.LanguageModel` on sentences of a grammar.

    Source: Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.

    The trainer is the :class:`kexue.training.Task` (one step + its state) of a
    :class:`kexue.training.Engine`, which owns the loop, checkpoints, the NaN guard,
    SIGINT/SIGTERM save-then-stop, the progress bar, the loss log and multi-process training.

    Args:
        config: a :class:`TrainConfig`.
        out_dir: where ``last.safetensors`` is written every ``checkpoint_every`` steps, at the
            end and on SIGINT/SIGTERM (None: no checkpoints).
        dtype: model dtype (float32 for speed; tests use float64).
        device: where to train (default: the CPU). Batches are assembled on the CPU from the
            trainer's generator and copied over, so a seed gives the same batches everywhere.
            Under several processes (torchrun) each rank trains on its columns of every global
            batch and DDP averages the gradients: without dropout this is the single-process
            run (to rounding); with dropout each rank draws its own columns' masks, so the run
            is reproducible but not the single-process one.
        log: a ``.csv``/``.jsonl`` file receiving the loss of every step.
        sentences: your own corpus (lists of tokens, e.g. from :func:`kexue.data.read_corpus`)
            with ``TrainConfig(grammar="corpus")``: the vocabulary is its sorted token set and
            ``n_train`` is ignored. The checkpoint records the corpus' fingerprint, so
            :meth:`load` needs the same sentences back.

    Attributes:
        grammar, vocab, train_sentences, model, optimizer, generator, engine, device: the
            training state.
        step, history, saved_step: from the engine (``history`` is a list of
            ``(step, loss)``).
    """

    def __init__(self, config: TrainConfig, *, out_dir: str | Path | None = None,
                 dtype: torch.dtype = torch.float32, device: str | torch.device | None = None,
                 log: str | Path | None = None,
                 sentences: Sequence[Sequence[str]] | None = None) -> None:
        config.validate()
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.dtype = dtype
        self.device = resolve_device(device) if device is not None else torch.empty(0).device
        self.corpus_fingerprint: str | None = None
        if config.grammar == CORPUS:
            self.grammar: PCFG | None = None
            self.train_sentences = _check_sentences(sentences)
            self.vocab = Vocab(sorted({w for s in self.train_sentences for w in s}))
            self.corpus_fingerprint = corpus_fingerprint(self.train_sentences)
        else:
            if sentences is not None:
                raise ValueError(f"sentences= trains on your own corpus: use "
                                 f"TrainConfig(grammar={CORPUS!r}); got grammar "
                                 f"{config.grammar!r}, whose sentences are sampled")
            self.grammar = get_grammar(config.grammar)
            self.vocab = Vocab(self.grammar.vocabulary)
            data_gen = torch.Generator().manual_seed(10_000 + config.seed)
            self.train_sentences, _ = self.grammar.sample(config.n_train, data_gen)
        lengths = np.array([len(s) for s in self.train_sentences])
        self._buckets = {int(L): torch.tensor(np.flatnonzero(lengths == L))
                         for L in np.unique(lengths)}
        self._bucket_lengths = torch.tensor(sorted(self._buckets))
        self._bucket_probs = torch.tensor(
            [len(self._buckets[int(L)]) for L in self._bucket_lengths], dtype=torch.float64)
        self._ids = [torch.tensor(self.vocab.encode(s)) for s in self.train_sentences]
        torch_gen = torch.Generator().manual_seed(config.seed)
        self.model = self._build_model(torch_gen).to(dtype).to(self.device)
        self._forward: torch.nn.Module = self.model
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.generator = torch.Generator().manual_seed(20_000 + config.seed)
        self.info: dict[str, Any] = {}  # free-form JSON metadata saved with checkpoints
        self.engine = Engine(
            _TrainerTask(self), fmt=FORMAT, config=dataclasses.asdict(config),
            checkpoint=(self.out_dir / "last.safetensors" if self.out_dir is not None else None),
            ckpt_every=config.checkpoint_every, description=f"{config.kind} on {config.grammar}",
            fields="loss {loss}", log=log,
            hint=f"Lower lr (now {config.lr}) or clip (now {config.clip}) and resume or restart.")
        self._distributed = False

    # ------------------------------------------------------------------ engine state
    @property
    def step(self) -> int:
        return self.engine.step

    @property
    def history(self) -> list[tuple[int, float]]:
        return [(k + 1, v) for k, v in enumerate(self.engine.history["loss"])]

    @property
    def saved_step(self) -> int | None:
        """Step of the last checkpoint written or loaded."""
        return self.engine.last_saved

    def _build_model(self, gen: torch.Generator) -> LanguageModel:
        cfg = self.config
        hidden = cfg.hidden_size
        if cfg.kind == "lstm" and cfg.match_params:
            hidden = matched_lstm_hidden(len(self.vocab), cfg.embed_size, cfg.hidden_size,
                                         cfg.num_layers, cfg.chunk_size)
        # Module initialisers draw from the global RNG: seed it inside a fork, which restores
        # the caller's global RNG state afterwards.
        with torch.random.fork_rng(devices=[]):
            torch.random.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
            model = LanguageModel(len(self.vocab), cfg.embed_size, hidden, cfg.num_layers,
                                  kind=cfg.kind, chunk_size=cfg.chunk_size,
                                  master_input=cfg.master_input, dropout=cfg.dropout)
        return model

    # ------------------------------------------------------------------ batches
    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = int(torch.multinomial(self._bucket_probs, 1, generator=self.generator))
        idx = self._buckets[int(self._bucket_lengths[k])]
        pick = idx[torch.randint(len(idx), (self.config.batch_size,), generator=self.generator)]
        ids = torch.stack([self._ids[int(i)] for i in pick], dim=1)  # (L, B)
        bos = torch.full((1, ids.shape[1]), self.vocab.bos, dtype=torch.long)
        inp, tgt = torch.cat([bos, ids]), torch.cat([ids, bos])  # (L + 1, B) each
        rank, world = parallel.world()
        if world > 1:  # this rank's columns of the global batch
            b = self.config.batch_size
            lo, hi = rank * b // world, (rank + 1) * b // world
            inp, tgt = inp[:, lo:hi], tgt[:, lo:hi]
        return (inp.to(self.device, non_blocking=True), tgt.to(self.device, non_blocking=True))

    @contextlib.contextmanager
    def _dropout_rng(self):
        """Dropout masks come from the global RNG (``nn.LSTM`` offers no generator): with
        dropout, seed it from the trainer's generator inside a fork, so runs are reproducible
        and resumable and the caller's global RNG state is untouched."""
        if not self.config.dropout:
            yield
            return
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.random.manual_seed(seed)
            yield

    # ------------------------------------------------------------------ training
    def step_once(self, step: int) -> tuple[torch.Tensor]:
        """One optimisation step (the engine's ``task.step``); returns the loss (0-d)."""
        for group in self.optimizer.param_groups:
            group["lr"] = _lr_at(self.config, step)
        inp, tgt = self._batch()
        with self._dropout_rng():
            logits = self._forward(inp)  # (T, B, V)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                   tgt.reshape(-1), ignore_index=self.vocab.pad)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
        self.optimizer.step()
        return (loss.detach(),)

    def train(self, steps: int | None = None, *, progress: bool = False, console=None,
              callback=None, callback_every: int = 0) -> list[tuple[int, float]]:
        """Train until ``steps`` (default ``config.steps``) steps have been done in total.

        Args:
            steps: the total step count to reach (resuming counts the steps already done).
            progress: show a rich progress bar (experiments leave it off).
            console: a ``rich.console.Console`` for the bar.
            callback: ``callback(trainer)`` called every ``callback_every`` steps (e.g. to
                record parsing F1 during training); it must not touch ``trainer.generator``.

        Returns:
            The loss history ``[(step, loss), ...]``.

        Raises:
            TrainingDiverged: the loss became non-finite (the last checkpoint is kept).
            TrainingInterrupted: SIGINT/SIGTERM, after writing the checkpoint.
        """
        total = self.config.steps if steps is None else steps
        if not self._distributed and parallel.is_distributed():
            self._forward = self.engine.ddp(self.model)
            self._distributed = True
        eng = self.engine
        eng.progress, eng.console = progress, console
        if callback is not None and callback_every:
            def after(step: int) -> None:
                callback(self)
                self.model.train()
            eng.callback, eng.callback_every = after, callback_every
        else:
            eng.callback, eng.callback_every = None, 1
        eng.run(total)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed for an exact resume, as ``(tensors, meta)``."""
        return self.engine.state()

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (atomic; rank 0 only)."""
        out = self.engine.save(path)
        self.engine.last_saved = self.engine.step
        return out

    @classmethod
    def load(cls, path: str | Path, *, out_dir: str | Path | None = None,
             device: str | torch.device | None = None, log: str | Path | None = None,
             sentences: Sequence[Sequence[str]] | None = None,
             expect: TrainConfig | dict[str, Any] | None = None) -> Trainer:
        """Rebuild a trainer from a checkpoint written by :meth:`save`, ready to resume.

        The metadata is validated first (:data:`META_SCHEMA`: types, bounded sizes, ``dtype``
        among float32/float64, ``config`` without unknown keys; unknown top-level keys are
        ignored) and the stored network is built on the meta device and compared with the
        stored weights, so edited metadata gives one ``ValueError`` naming the file and field.

        ``sentences``: the corpus of a ``grammar="corpus"`` run (the same one: its fingerprint
        is checked). ``expect``: the settings of the run that resumes (a :class:`TrainConfig`
        or a dict of some of its fields, e.g. the CLI's ``--hidden/--chunk/--layers``): the
        one resume rule of every kexue trainer applies — a field that differs from the
        checkpoint's is refused, naming it, except :data:`kexue.checkpoint.SAFE_OVERRIDES`
        (``lr``, ``lr_final``), which are taken from ``expect`` and used from the next step.

        Raises:
            ValueError: the file is not a kexue.onlstm language-model checkpoint, metadata of
                the wrong form, settings in ``expect`` that differ from the checkpoint's, or a
                corpus run without its sentences or with other sentences.
        """
        tensors, meta = checkpoint.load(path)
        cfg, _, _ = _checked_meta(path, meta, tensors)
        dtype = checkpoint.dtype_from_name(path, meta.get("dtype", "float32"))
        if expect is not None:
            cfg = _resume_config(path, cfg, expect)
        if cfg.grammar == CORPUS:
            if sentences is None:
                raise ValueError(f"{str(path)!r} was trained on your own corpus: pass the same "
                                 "sentences= (e.g. kexue.data.read_corpus(FILE)) to resume it")
            if corpus_fingerprint(_check_sentences(sentences)) != meta.get("corpus_fingerprint"):
                raise ValueError(f"{str(path)!r} was trained on a different corpus (the "
                                 "sentences' fingerprint differs); use another --out directory")
        self = cls(cfg, out_dir=out_dir, dtype=dtype, device=device, log=log,
                   sentences=sentences if cfg.grammar == CORPUS else None)
        if self.vocab.itos != meta["vocab"]:
            raise checkpoint.CorruptCheckpoint(
                f"checkpoint {str(path)!r}: metadata['vocab'] ({len(meta['vocab'])} tokens) is "
                f"not the vocabulary of its {cfg.grammar!r} data ({len(self.vocab)} tokens); "
                "the metadata was edited — use another checkpoint")
        checkpoint.check_engine_meta(path, meta)
        self.engine.load(path, check=False)
        self.info = dict(meta.get("info", {}))
        self.model.eval()
        return self


class _TrainerTask:
    """The :class:`kexue.training.Task` of a :class:`Trainer` (whose ``step`` is its count)."""

    metrics = ("loss",)
    labels = {"loss": "language-model loss"}

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def step(self, step: int) -> tuple[torch.Tensor]:
        return self.trainer.step_once(step)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.trainer.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.trainer.optimizer}

    def generators(self) -> dict[str, torch.Generator]:
        return {"batches": self.trainer.generator}

    def meta(self) -> dict[str, Any]:
        tr = self.trainer
        return {"config": dataclasses.asdict(tr.config),
                "dtype": str(tr.dtype).replace("torch.", ""), "vocab": tr.vocab.itos,
                "info": tr.info, "corpus_fingerprint": tr.corpus_fingerprint}

    def begin(self) -> None:
        self.trainer.model.train()

    def end(self) -> None:
        self.trainer.model.eval()
