"""Training ON-LSTM / LSTM language models on a grammar: exact resume, NaN guard, progress bar.

A :class:`Trainer` owns the corpus (sampled from a :class:`~kexue.onlstm.PCFG` with a seed), the
model, an Adam optimiser and one ``torch.Generator`` for batches. A checkpoint
(:mod:`kexue.checkpoint`, safetensors) holds the model, the optimiser state, the generator state
and the step, so an interrupted run resumed from it continues bit for bit like an uninterrupted
one. A non-finite loss stops training with :class:`TrainingDiverged`, leaving the last good
checkpoint in place.

Batches: every step picks a sentence length ``L`` with probability proportional to the number of
training sentences of that length, then ``batch_size`` sentences of length ``L`` (with
replacement): every sentence is equally likely overall and batches need no padding. The model
reads ``<s> w_1 … w_n`` and predicts ``w_1 … w_n <s>``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoint
from .._progress import TrainingBar
from ._grammars import get_grammar
from ._model import RNN_KINDS, LanguageModel, matched_lstm_hidden
from ._pcfg import PCFG

__all__ = ["TrainConfig", "Trainer", "TrainingDiverged", "Vocab", "sentence_distances",
           "lm_perplexity", "load_model"]

PAD, BOS = "<pad>", "<s>"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the last good checkpoint."""


class Vocab:
    """Token ↔ id: ``<pad>`` = 0, ``<s>`` = 1 (start and end of sentence), then the tokens."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.itos = [PAD, BOS, *tokens]
        self.stoi = {w: k for k, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("duplicate tokens in the vocabulary")

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad(self) -> int:
        return 0

    @property
    def bos(self) -> int:
        return 1

    def encode(self, sentence: Sequence[str]) -> list[int]:
        """Token ids; ``ValueError`` naming the first unknown token."""
        try:
            return [self.stoi[w] for w in sentence]
        except KeyError as exc:
            raise ValueError(f"unknown token {exc.args[0]!r}; the vocabulary is "
                             f"{' '.join(self.itos[2:])}") from None

    def batch(self, sentences: Sequence[Sequence[str]], *, eos: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, targets)``, each ``(T, B)``: ``<s> w…`` and ``w… <s>``, right-padded.

        With ``eos=True`` the inputs also end with ``<s>`` (``T = n + 1`` for the longest
        sentence), so that the final ``<s>`` is read too (used for distances)."""
        T = max(len(s) for s in sentences) + 1
        inp = torch.full((T, len(sentences)), self.pad, dtype=torch.long)
        tgt = torch.full((T, len(sentences)), self.pad, dtype=torch.long)
        for b, s in enumerate(sentences):
            ids = self.encode(s)
            inp[: len(ids) + 1, b] = torch.tensor([self.bos, *ids])
            tgt[: len(ids) + 1, b] = torch.tensor([*ids, self.bos])
        if eos:
            inp = torch.cat([inp, torch.full((1, len(sentences)), self.pad, dtype=torch.long)])
            for b, s in enumerate(sentences):
                inp[len(s) + 1, b] = self.bos
            tgt = torch.cat([tgt, torch.full((1, len(sentences)), self.pad, dtype=torch.long)])
        return inp, tgt


@dataclass
class TrainConfig:
    """Language-model training configuration (defaults: the experiment's full preset).

    ``kind="lstm"`` with ``match_params=True`` widens the LSTM to the ON-LSTM model's parameter
    count (:func:`~kexue.onlstm._model.matched_lstm_hidden`)."""

    grammar: str = "english"
    kind: str = "onlstm"
    embed_size: int = 64
    hidden_size: int = 128
    num_layers: int = 2
    chunk_size: int = 8
    master_input: str = "paper"
    match_params: bool = True
    dropout: float = 0.0
    n_train: int = 20000
    batch_size: int = 64
    steps: int = 3000
    lr: float = 3e-3
    lr_final: float = 3e-4
    clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 500

    def validate(self) -> None:
        get_grammar(self.grammar)
        if self.kind not in RNN_KINDS:
            raise ValueError(f"kind must be one of {RNN_KINDS}; got {self.kind!r}")
        for name in ("embed_size", "hidden_size", "num_layers", "chunk_size", "n_train",
                     "batch_size", "checkpoint_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        if not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(f"steps must be a non-negative int; got {self.steps!r}")
        if self.hidden_size % self.chunk_size:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be a multiple of "
                             f"chunk_size ({self.chunk_size})")
        if not (self.lr > 0 and self.lr_final > 0 and self.clip > 0):
            raise ValueError("lr, lr_final and clip must be positive")


def _lr_at(cfg: TrainConfig, step: int) -> float:
    """Cosine decay from ``lr`` to ``lr_final`` over ``steps``."""
    if cfg.steps <= 1:
        return cfg.lr
    frac = min(step / cfg.steps, 1.0)
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * frac))


class Trainer:
    """Train a :class:`~kexue.onlstm._model.LanguageModel` on sentences of a grammar.

    Args:
        config: a :class:`TrainConfig`.
        out_dir: where ``last.safetensors`` is written every ``checkpoint_every`` steps and at
            the end (None: no checkpoints).
        dtype: model dtype (float32 for speed; tests use float64).

    Attributes:
        grammar, vocab, train_sentences, model, optimizer, generator, step, history (list of
        ``(step, loss)``).
    """

    def __init__(self, config: TrainConfig, *, out_dir: str | Path | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        config.validate()
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.dtype = dtype
        self.grammar: PCFG = get_grammar(config.grammar)
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
        self.model = self._build_model(torch_gen).to(dtype)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.generator = torch.Generator().manual_seed(20_000 + config.seed)
        self.step = 0
        self.history: list[tuple[int, float]] = []
        self.info: dict[str, Any] = {}  # free-form JSON metadata saved with checkpoints
        self.saved_step: int | None = None  # step of the last checkpoint written or loaded

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
        return torch.cat([bos, ids]), torch.cat([ids, bos])  # (L + 1, B) each

    @contextlib.contextmanager
    def _dropout_rng(self):
        """Dropout masks come from the global RNG (``nn.LSTM`` offers no generator): with
        dropout, seed it from the trainer's generator inside a fork, so runs are reproducible
        and resumable and the caller's global RNG state is untouched."""
        if not self.config.dropout:
            yield
            return
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        with torch.random.fork_rng(devices=[]):
            torch.random.manual_seed(seed)
            yield

    # ------------------------------------------------------------------ training
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
        """
        total = self.config.steps if steps is None else steps
        cfg = self.config
        bar = (TrainingBar(f"{cfg.kind} on {cfg.grammar}", total, self.step, "loss {loss}",
                           console=console) if progress and total > self.step else None)
        self.model.train()
        try:
            while self.step < total:
                for group in self.optimizer.param_groups:
                    group["lr"] = _lr_at(cfg, self.step)
                inp, tgt = self._batch()
                with self._dropout_rng():
                    logits = self.model(inp)  # (T, B, V)
                    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           tgt.reshape(-1), ignore_index=self.vocab.pad)
                value = loss.item()
                if not math.isfinite(value):
                    where = (f"the last good checkpoint is {self.out_dir / 'last.safetensors'}"
                             if self.out_dir is not None and
                             (self.out_dir / "last.safetensors").exists()
                             else "no checkpoint was written")
                    raise TrainingDiverged(
                        f"loss became {value} at step {self.step + 1} ({cfg.kind} on "
                        f"{cfg.grammar}); training stopped, {where}. Lower lr (now {cfg.lr}) "
                        f"or clip (now {cfg.clip}) and resume or restart.")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
                self.optimizer.step()
                self.step += 1
                self.history.append((self.step, value))
                if bar is not None:
                    bar.update(self.step, loss=f"{value:.3f}")
                if self.out_dir is not None and (self.step % cfg.checkpoint_every == 0
                                                 or self.step == total):
                    self.save(self.out_dir / "last.safetensors")
                if callback is not None and callback_every and self.step % callback_every == 0:
                    callback(self)
                    self.model.train()
        finally:
            if bar is not None:
                bar.stop()
        self.model.eval()
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything needed for an exact resume, as ``(tensors, meta)``."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        opt = self.optimizer.state_dict()
        for pid, st in opt["state"].items():
            for name, v in st.items():
                t = v if isinstance(v, torch.Tensor) else torch.tensor(v)
                tensors[f"optim.{pid}.{name}"] = t
        tensors["rng.batches"] = self.generator.get_state()
        tensors["history"] = torch.tensor(self.history, dtype=torch.float64).reshape(-1, 2)
        meta = {
            "format": "kexue.onlstm.lm/1",
            "step": self.step,
            "config": dataclasses.asdict(self.config),
            "dtype": str(self.dtype).replace("torch.", ""),
            "vocab": self.vocab.itos,
            "param_groups": opt["param_groups"],
            "info": self.info,
        }
        return tensors, meta

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (atomic)."""
        tensors, meta = self.state_tensors()
        out = checkpoint.save(path, tensors, meta)
        self.saved_step = self.step
        return out

    @classmethod
    def load(cls, path: str | Path, *, out_dir: str | Path | None = None) -> Trainer:
        """Rebuild a trainer from a checkpoint written by :meth:`save`, ready to resume.

        Raises:
            ValueError: the file is not a kexue.onlstm language-model checkpoint.
        """
        tensors, meta = checkpoint.load(path)
        if meta.get("format") != "kexue.onlstm.lm/1":
            raise ValueError(f"{str(path)!r} is not a kexue.onlstm language-model checkpoint "
                             f"(format {meta.get('format')!r}); write one with `kexue onlstm "
                             "train`")
        cfg = TrainConfig(**meta["config"])
        dtype = getattr(torch, meta.get("dtype", "float32"))
        self = cls(cfg, out_dir=out_dir, dtype=dtype)
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items()
                                    if k.startswith("model.")})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, pid, name = k.split(".", 2)
                state.setdefault(int(pid), {})[name] = v
        self.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        self.generator.set_state(tensors["rng.batches"])
        self.step = int(meta["step"])
        self.history = [(int(s), float(v)) for s, v in tensors["history"].tolist()]
        self.info = dict(meta.get("info", {}))
        self.saved_step = self.step
        self.model.eval()
        return self


def load_model(path: str | Path) -> tuple[LanguageModel, Vocab, dict[str, Any]]:
    """The language model of a checkpoint written by :meth:`Trainer.save`, without rebuilding
    the corpus or the optimiser (for parsing). Returns ``(model, vocab, meta)``, the model in
    eval mode.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a kexue.onlstm language-model checkpoint.
    """
    tensors, meta = checkpoint.load(path)
    if meta.get("format") != "kexue.onlstm.lm/1":
        raise ValueError(f"{str(path)!r} is not a kexue.onlstm language-model checkpoint "
                         f"(format {meta.get('format')!r}); write one with `kexue onlstm train`")
    cfg = TrainConfig(**meta["config"])
    vocab = Vocab(meta["vocab"][2:])
    weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    hidden = weights["out.weight"].shape[1]
    model = LanguageModel(len(vocab), cfg.embed_size, hidden, cfg.num_layers, kind=cfg.kind,
                          chunk_size=cfg.chunk_size, master_input=cfg.master_input,
                          dropout=cfg.dropout)
    model = model.to(getattr(torch, meta.get("dtype", "float32")))
    model.load_state_dict(weights)
    model.eval()
    return model, vocab, meta


# ---------------------------------------------------------------------- evaluation
@torch.no_grad()
def lm_perplexity(model: LanguageModel, vocab: Vocab, sentences: Sequence[Sequence[str]],
                  *, batch_size: int = 256) -> float:
    """Per-token perplexity of ``model`` on ``sentences`` (``n + 1`` predictions per sentence,
    the last one ``<s>``), comparable with :meth:`PCFG.perplexity`."""
    model.eval()
    nll, count = 0.0, 0
    order = sorted(range(len(sentences)), key=lambda k: len(sentences[k]))
    for lo in range(0, len(order), batch_size):
        batch = [sentences[k] for k in order[lo:lo + batch_size]]
        inp, tgt = vocab.batch(batch, eos=False)
        logits = model(inp.to(model.embed.weight.device))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).double(), tgt.reshape(-1),
                               ignore_index=vocab.pad, reduction="sum")
        nll += float(loss)
        count += int((tgt != vocab.pad).sum())
    return math.exp(nll / count)


@torch.no_grad()
def sentence_distances(model: LanguageModel, vocab: Vocab, sentences: Sequence[Sequence[str]],
                       *, batch_size: int = 256) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-sentence distances read from ``model`` on ``<s> w_1 … w_n <s>``, sentinels dropped.

    Returns:
        ``(forget, input)``: lists (one per sentence) of ``(num_layers, n)`` arrays. For a plain
        LSTM they are ``1 − mean(f_t)`` and ``mean(i_t)``.
    """
    model.eval()
    forget: list[np.ndarray | None] = [None] * len(sentences)
    inputs: list[np.ndarray | None] = [None] * len(sentences)
    order = sorted(range(len(sentences)), key=lambda k: len(sentences[k]))
    for lo in range(0, len(order), batch_size):
        chunk = order[lo:lo + batch_size]
        inp, _ = vocab.batch([sentences[k] for k in chunk], eos=True)
        _, dist = model(inp, return_distances=True)  # (L, T, B)
        df = dist.forget.double().numpy()
        di = dist.input.double().numpy()
        for b, k in enumerate(chunk):
            n = len(sentences[k])
            forget[k] = df[:, 1:n + 1, b]
            inputs[k] = di[:, 1:n + 1, b]
    return forget, inputs  # type: ignore[return-value]
