"""Evaluation of a trained ON-LSTM / LSTM language model: perplexity and syntactic distances.

Source: Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ._model import LanguageModel
from ._vocab import Vocab

__all__ = ["lm_perplexity", "sentence_distances"]


@torch.no_grad()
def lm_perplexity(model: LanguageModel, vocab: Vocab, sentences: Sequence[Sequence[str]],
                  *, batch_size: int = 256) -> float:
    """Per-token perplexity of ``model`` on ``sentences`` (``n + 1`` predictions per sentence,
    the last one ``<s>``), comparable with :meth:`PCFG.perplexity`.

    Source: Shen et al. 2019 (arXiv:1810.09536).
    """
    model.eval()
    nll, count = 0.0, 0
    order = sorted(range(len(sentences)), key=lambda k: len(sentences[k]))
    for lo in range(0, len(order), batch_size):
        batch = [sentences[k] for k in order[lo:lo + batch_size]]
        inp, tgt = vocab.batch(batch, eos=False)
        logits = model(inp.to(model.embed.weight.device))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).double(),
                               tgt.reshape(-1).to(logits.device), ignore_index=vocab.pad,
                               reduction="sum")
        nll += float(loss)
        count += int((tgt != vocab.pad).sum())
    return math.exp(nll / count)


@torch.no_grad()
def sentence_distances(model: LanguageModel, vocab: Vocab, sentences: Sequence[Sequence[str]],
                       *, batch_size: int = 256) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-sentence distances read from ``model`` on ``<s> w_1 … w_n <s>``, sentinels dropped.

    Source: the syntactic distances of Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.

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
        _, dist = model(inp.to(model.embed.weight.device), return_distances=True)  # (L, T, B)
        df = dist.forget.double().cpu().numpy()
        di = dist.input.double().cpu().numpy()
        for b, k in enumerate(chunk):
            n = len(sentences[k])
            forget[k] = df[:, 1:n + 1, b]
            inputs[k] = di[:, 1:n + 1, b]
    return forget, inputs  # type: ignore[return-value]
