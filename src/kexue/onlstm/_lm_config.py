"""Language-model training configuration and its checkpoint format.

:class:`TrainConfig` (the settings of :class:`~kexue.onlstm.Trainer`), its learning-rate
schedule, the checkpoint metadata schema, the one resume rule and :func:`load_model` (a
checkpoint's model without its corpus or optimiser). Model: ON-LSTM (Shen et al. 2019,
arXiv:1810.09536; kexue.fm archive 6621).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint
from ._grammars import get_grammar
from ._model import RNN_KINDS, LanguageModel
from ._vocab import BOS, CORPUS, PAD, Vocab

__all__ = ["TrainConfig", "load_model"]

# Checkpoint metadata schema (kexue.checkpoint.validate_meta). Rule: ``config`` (the keyword
# arguments of TrainConfig) refuses unknown keys; unknown top-level keys are ignored. Sizes have
# upper bounds and the network is built on the meta device and compared with the stored weights
# before any memory is allocated, so a shortened vocabulary or ``hidden_size = 200000`` is
# refused with one line.
_F = checkpoint.Field
_MAXW = 1 << 15
CONFIG_SCHEMA = {
    "grammar": _F(str, 1, 100), "kind": _F(str, choices=RNN_KINDS),
    "embed_size": _F(int, 1, _MAXW), "hidden_size": _F(int, 1, _MAXW),
    "num_layers": _F(int, 1, 64), "chunk_size": _F(int, 1, _MAXW),
    "master_input": _F(str, choices=("paper", "symmetric")), "match_params": _F(bool),
    "dropout": _F(float, 0.0, 1.0), "n_train": _F(int, 1, 10**8),
    "batch_size": _F(int, 1, 1 << 20), "steps": _F(int, 0, 10**12),
    "lr": _F(float, 0.0, 1e6), "lr_final": _F(float, 0.0, 1e6), "clip": _F(float, 0.0, 1e12),
    "seed": _F(int, 0, 2**63 - 1), "checkpoint_every": _F(int, 1, 10**12)}
META_SCHEMA = {
    "format": _F(str, high=200), "step": _F(int, 0, 10**12),
    "config": _F(dict, schema=CONFIG_SCHEMA),
    "dtype": _F(str, choices=checkpoint.DTYPE_NAMES, required=False),
    "vocab": _F(list, 3, 1 << 21, items=str), "info": _F(dict, required=False),
    "corpus_fingerprint": _F((str, type(None)), high=200, required=False)}


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
        if self.grammar != CORPUS:
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


FORMAT = "kexue.onlstm.lm/2"


def _resume_config(path: str | Path, cfg: TrainConfig, expect: Any) -> TrainConfig:
    """The one resume rule (as :func:`kexue.checkpoint.check_resume`): every setting in
    ``expect`` must equal the checkpoint's, except :data:`kexue.checkpoint.SAFE_OVERRIDES`
    (the learning rate), which are taken from ``expect``."""
    if isinstance(expect, TrainConfig):
        expect = dataclasses.asdict(expect)
    if not isinstance(expect, dict):
        raise TypeError(f"expect must be a TrainConfig or a dict of its fields; got "
                        f"{type(expect).__name__}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(expect) - fields)
    if unknown:
        raise ValueError(f"expect has unknown TrainConfig fields {unknown}; valid: "
                         f"{', '.join(sorted(fields))}")
    old = dataclasses.asdict(cfg)
    overrides = checkpoint.check_resume(path, {"format": FORMAT, "train": old}, FORMAT, expect,
                                        what="kexue.onlstm language-model",
                                        safe=checkpoint.SAFE_OVERRIDES)
    new = dataclasses.replace(cfg, **{k: v for k, (_, v) in overrides.items()})
    new.validate()
    return new


def _checked_meta(path: str | Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor]
                  ) -> tuple[TrainConfig, Vocab, LanguageModel]:
    """Validate a language-model checkpoint's metadata and build its model (meta device first,
    compared with the stored weights). Returns ``(config, vocab, model)``."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a kexue.onlstm language-model checkpoint "
                         f"(format {meta.get('format')!r}); write one with `kexue onlstm train`")
    checkpoint.validate_meta(path, meta, META_SCHEMA, extra="ignore")
    where = f"checkpoint {str(path)!r}"
    try:
        cfg = TrainConfig(**meta["config"])
        cfg.validate()
        if meta["vocab"][:2] != [PAD, BOS]:
            raise ValueError(f"metadata['vocab'] must start with {[PAD, BOS]}")
        vocab = Vocab(meta["vocab"][2:])
    except (ValueError, TypeError) as exc:
        raise checkpoint.CorruptCheckpoint(f"{where}: {str(exc).splitlines()[0]}; use another "
                                           "checkpoint") from None
    dtype = checkpoint.dtype_from_name(path, meta.get("dtype", "float32"))
    out = tensors.get("model/out.weight")
    if out is None or out.ndim != 2 or not 1 <= out.shape[1] <= _MAXW:
        raise checkpoint.CorruptCheckpoint(f"{where}: no usable model/out.weight (the output "
                                           "layer); use another checkpoint")
    hidden = int(out.shape[1])

    def build() -> LanguageModel:
        return LanguageModel(len(vocab), cfg.embed_size, hidden, cfg.num_layers, kind=cfg.kind,
                             chunk_size=cfg.chunk_size, master_input=cfg.master_input,
                             dropout=cfg.dropout).to(dtype)

    with torch.random.fork_rng(devices=[]):  # initialisers draw from the global RNG
        model = checkpoint.build_module(path, build, tensors, "model/")
    return cfg, vocab, model


def load_model(path: str | Path) -> tuple[LanguageModel, Vocab, dict[str, Any]]:
    """The language model of a checkpoint written by :meth:`Trainer.save`, without rebuilding
    the corpus or the optimiser (for parsing). Returns ``(model, vocab, meta)``, the model in
    eval mode.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a kexue.onlstm language-model checkpoint.
    """
    tensors, meta = checkpoint.load(path)
    _, vocab, model = _checked_meta(path, meta, tensors)
    model.eval()
    return model, vocab, meta
