"""Readings: which distances of a trained language model the tree decoder is given.

The paper (Shen et al., ICLR 2019, arXiv:1810.09536) parses with the master *forget* gate
distance ``1 − mean f̃`` of one layer (its 2nd of 3); the reference code also outputs the master
*input* gate distance ``mean ĩ`` (kexue.fm 6621). A reading is ``"<layer>·<gate>"`` with
``<layer>`` one of ``L1, L2, …`` or ``mean`` (the average over layers) and ``<gate>`` one of
``forget``, ``input`` or ``forget+input`` (their sum). A plain LSTM is read with the same names
through its ordinary gates (:func:`~kexue.onlstm.lstm_gate_distances`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._lm_eval import sentence_distances
from ._tree import build_tree, tree_f1

__all__ = ["GATES", "readings", "reading_distances", "parse_sentences", "choose_reading"]

GATES = ("forget", "input", "forget+input")


def readings(num_layers: int) -> list[str]:
    """All reading names for a model with ``num_layers`` layers, e.g. ``"L2·forget"``.

    Source: Shen et al. 2019 (arXiv:1810.09536) read the master forget gate; kexue.fm archive 6621
    the master input gate.
    """
    layers = [f"L{k + 1}" for k in range(num_layers)] + ["mean"]
    return [f"{layer}·{gate}" for layer in layers for gate in GATES]


def reading_distances(name: str, forget: np.ndarray, input: np.ndarray) -> np.ndarray:
    """One sentence's distances under reading ``name``.

    Source: Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.

    Args:
        name: a reading (see :func:`readings`).
        forget, input: ``(num_layers, n)`` distances of one sentence.

    Returns:
        ``(n,)`` distances.

    Raises:
        ValueError: a malformed name or a layer the model does not have.
    """
    layer, sep, gate = name.partition("·")
    n_layers = forget.shape[0]
    valid = readings(n_layers)
    if not sep or gate not in GATES or name not in valid:
        raise ValueError(f"unknown reading {name!r}; valid readings: {', '.join(valid)}")
    if layer == "mean":
        f, i = forget.mean(0), input.mean(0)
    else:
        f, i = forget[int(layer[1:]) - 1], input[int(layer[1:]) - 1]
    return f if gate == "forget" else i if gate == "input" else f + i


def parse_sentences(name: str, distances, sentences: Sequence[Sequence[str]]) -> list:
    """Trees of ``sentences`` from ``distances = (forget_list, input_list)`` (as returned by
    :func:`~kexue.onlstm.sentence_distances`) under reading ``name``.

    Source: Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.
    """
    forget, inp = distances
    return [build_tree(reading_distances(name, f, i), s) for f, i, s in zip(forget, inp, sentences)]


def choose_reading(model, vocab, sentences, gold) -> tuple[str, dict[str, float]]:
    """The reading with the best sentence-level F1 on ``(sentences, gold)`` (a validation split).

    Source: Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.

    Returns:
        ``(best_name, {name: F1})``; ties go to the earlier reading in :func:`readings` order.
    """
    dist = sentence_distances(model, vocab, sentences)
    names = readings(dist[0][0].shape[0])
    scores = {r: tree_f1(parse_sentences(r, dist, sentences), gold).sentence for r in names}
    best = max(names, key=lambda r: (scores[r], -names.index(r)))
    return best, scores
