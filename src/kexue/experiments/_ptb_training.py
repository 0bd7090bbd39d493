"""The training runs of the onlstm-ptb experiment: equal training time for ON-LSTM and LSTM.

Both word-level language models (Shen et al. 2019, arXiv:1810.09536; kexue.fm archive 6621)
train with :class:`~kexue.onlstm.WordLMTrainer`; an interleaved calibration (``_calibrate``)
measures each model's seconds per step on the experiment's clock (``_clock``: CPU time of the
process, or wall time after a CUDA sync), and a ``_Run`` advances one model and seed one
validation-curve point at a time, so that the two models of a seed take turns on the same
machine.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..onlstm import (
    WordLMConfig,
    WordLMTrainer,
    count_parameters,
    stream_perplexity,
)

if TYPE_CHECKING:
    from .onlstm_ptb import Config

__all__ = ["KINDS", "CLOCKS"]

KINDS = ("onlstm", "lstm")


def _train_config(config: Config, kind: str, seed: int, steps: int) -> WordLMConfig:
    return WordLMConfig(kind=kind, embed_size=config.embed_size, hidden_size=config.hidden_size,
                        num_layers=config.num_layers, chunk_size=config.chunk_size,
                        tie_weights=True, match_params=True, dropout=config.dropout,
                        dropout_embed=config.dropout, dropout_out=config.dropout,
                        batch_size=config.batch_size, bptt=config.bptt, steps=steps,
                        lr=config.lr, lr_final=config.lr / 10, clip=config.clip, seed=seed,
                        checkpoint_every=max(1, min(200, steps)))


CLOCKS = ("auto", "wall", "cpu")


def _clock(config: Config, dev: torch.device):
    """The timer of ``budget_s``: CPU time of this process, or wall time (after a CUDA sync)."""
    kind = config.clock if config.clock != "auto" else ("wall" if dev.type == "cuda" else "cpu")
    if kind == "cpu":
        return kind, time.process_time

    def wall() -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return time.perf_counter()

    return kind, wall


def _calibrate(config: Config, train: torch.Tensor, vocab_size: int, dev: torch.device,
               clock) -> dict[str, float]:
    """Seconds per training step of each model, measured interleaved: after two untimed
    rounds, ``calib_steps`` rounds of one step of each model, the order alternating (ABBA), so
    that a change of machine load hits both. The ratio of the two is the median of the
    per-round ratios (robust to load drifting during the calibration); the scale is the
    geometric mean of the two medians."""
    trainers = {k: WordLMTrainer(_train_config(config, k, 90_000 + config.seed,
                                               2 + config.calib_steps), train, vocab_size,
                                 device=dev) for k in KINDS}
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    for r in range(2 + config.calib_steps):
        for k in (KINDS if r % 2 == 0 else KINDS[::-1]):
            t0 = clock()
            trainers[k].train(r + 1)
            if r >= 2:
                times[k].append(clock() - t0)
    ratio = float(np.median(np.array(times["onlstm"]) / np.array(times["lstm"])))
    scale = math.sqrt(float(np.median(times["onlstm"])) * float(np.median(times["lstm"])))
    return {"onlstm": scale * math.sqrt(ratio), "lstm": scale / math.sqrt(ratio)}


def _unigram_nll(train: torch.Tensor, stream: torch.Tensor, vocab_size: int) -> float:
    """Mean NLL of the add-one unigram model of the training stream on ``stream[1:]``."""
    counts = torch.bincount(train.cpu(), minlength=vocab_size).double() + 1.0
    logp = torch.log(counts / counts.sum())
    return float(-logp[stream[1:].cpu()].mean())


class _Run:
    """One model and seed: its trainer (resumed from ``checkpoint_dir`` if there), and the
    validation curve ``(step, training seconds, perplexity)``, advanced one curve point at a
    time so that the two models of a seed can take turns (both then see the same machine)."""

    def __init__(self, config: Config, kind: str, seed: int, steps: int, train: torch.Tensor,
                 vocab_size: int, dev: torch.device) -> None:
        out_dir = (Path(config.checkpoint_dir) / f"{kind}-seed{seed}" if config.checkpoint_dir
                   else None)
        self.config, self.steps = config, steps
        self.tr = WordLMTrainer(_train_config(config, kind, seed, steps), train, vocab_size,
                                device=dev, out_dir=out_dir)
        self.side = out_dir / "curve.json" if out_dir is not None else None
        self.curve: list[tuple[int, float, float]] = []
        self.elapsed = 0.0
        if self.tr.resume() and self.side is not None and self.side.exists():
            saved = json.loads(self.side.read_text())
            self.curve = [tuple(c) for c in saved["curve"] if c[0] <= self.tr.step]
            self.elapsed = self.curve[-1][1] if self.curve else 0.0
        self.n_points = max(1, min(config.curve_points, steps))

    def advance(self, p: int, curve_stream: torch.Tensor, clock) -> None:
        """Train to curve point ``p`` (1-based) and evaluate the curve slice there."""
        target = self.steps * p // self.n_points
        if p > self.n_points or (self.curve and self.curve[-1][0] >= target):
            return
        t0 = clock()
        self.tr.train(target)
        self.elapsed += clock() - t0
        ppl = stream_perplexity(self.tr.model, curve_stream, batch_size=self.config.eval_batch)
        self.curve.append((self.tr.step, self.elapsed, ppl))
        if self.side is not None:
            self.side.write_text(json.dumps({"curve": self.curve}))

    def result(self) -> dict:
        tr = self.tr
        return {"model": tr.model, "curve": self.curve, "train_s": self.elapsed,
                "params": count_parameters(tr.model), "hidden": tr.hidden_size,
                "final_loss": float(np.mean(tr.history[-20:]))}
