"""Readings (layer × gate) of a model's distances and the choice of one on a validation split."""

import numpy as np
import pytest
import torch

from kexue.onlstm import (
    GATES,
    LanguageModel,
    Vocab,
    build_tree,
    choose_reading,
    get_grammar,
    parse_sentences,
    reading_distances,
    readings,
    sentence_distances,
    tree_f1,
)


def test_reading_names_and_values():
    assert readings(2) == [f"{layer}·{gate}" for layer in ("L1", "L2", "mean") for gate in GATES]
    f = np.array([[0.1, 0.2, 0.3], [0.5, 0.4, 0.9]])
    i = np.array([[1.0, 0.0, 0.5], [0.2, 0.2, 0.2]])
    np.testing.assert_array_equal(reading_distances("L2·forget", f, i), f[1])
    np.testing.assert_array_equal(reading_distances("L1·input", f, i), i[0])
    np.testing.assert_allclose(reading_distances("mean·forget+input", f, i),
                               f.mean(0) + i.mean(0))
    for bad in ("L3·forget", "L1·output", "forget", "L1.forget"):
        with pytest.raises(ValueError, match="unknown reading.*L2·forget"):
            reading_distances(bad, f, i)


@pytest.mark.parametrize("kind", ["onlstm", "lstm"])
def test_choose_reading_scores_every_reading_and_takes_the_best(kind):
    g = get_grammar("english")
    sents, gold = g.sample(25, torch.Generator().manual_seed(2))
    vocab = Vocab(g.vocabulary)
    torch.manual_seed(0)
    model = LanguageModel(len(vocab), 8, 8, 2, kind=kind, chunk_size=4).double()
    best, scores = choose_reading(model, vocab, sents, gold)
    assert list(scores) == readings(2)
    assert scores[best] == max(scores.values())
    dist = sentence_distances(model, vocab, sents)
    for name, f1 in scores.items():
        trees = parse_sentences(name, dist, sents)
        assert trees == [build_tree(reading_distances(name, f, i), s)
                         for f, i, s in zip(dist[0], dist[1], sents)]
        assert tree_f1(trees, gold).sentence == pytest.approx(f1, abs=1e-12)
