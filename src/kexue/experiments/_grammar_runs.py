"""Training and reading the language models of the onlstm-grammar experiment.

An ON-LSTM or a parameter-matched LSTM language model (Shen et al. 2019, arXiv:1810.09536;
kexue.fm archive 6621) is trained on a grammar's sentences; its distances are read as trees in
every reading, the reading is chosen on validation sentences, and the test trees are scored by
sentence-level F1 against the gold trees, beside trivial baselines (right/left-branching,
balanced, random) and the oracles (the decoder's ceiling, the gold distances), and the Spearman
correlation of a reading with the gold distances.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy import stats

from ..onlstm import (
    TrainConfig,
    Trainer,
    balanced_tree,
    build_tree,
    choose_reading,
    count_parameters,
    gold_distances,
    left_branching,
    lm_perplexity,
    parse_sentences,
    random_tree,
    reading_distances,
    readings,
    right_branching,
    sentence_distances,
    split_ceiling,
    tree_f1,
)

if TYPE_CHECKING:
    from .onlstm_grammar import Config

__all__ = ["PAPER_READING"]

PAPER_READING = "L2·forget"


def _all_readings(model, vocab, sents, gold) -> dict[str, float]:
    return choose_reading(model, vocab, sents, gold)[1]


def _per_sentence(pred, gold) -> np.ndarray:
    """Sentence-level F1 of each (predicted, gold) pair, ``(n_sentences,)``: the paired rows
    behind the margins of the comparative claims (their mean is ``tree_f1(...).sentence``)."""
    return np.array([tree_f1(p, g).sentence for p, g in zip(pred, gold)])


def _baselines(sents, gold, n_random, seed) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Trivial baselines' mean sentence F1 (and the oracles'), and per sentence for the four
    trivial ones (random: mean over ``n_random`` draws)."""
    gen = torch.Generator().manual_seed(50_000 + seed)
    per = {
        "right-branching": _per_sentence([right_branching(s) for s in sents], gold),
        "left-branching": _per_sentence([left_branching(s) for s in sents], gold),
        "balanced": _per_sentence([balanced_tree(s) for s in sents], gold),
        "random": np.mean([_per_sentence([random_tree(s, gen) for s in sents], gold)
                           for _ in range(n_random)], axis=0),
    }
    return {
        **{k: float(v.mean()) for k, v in per.items()},
        "ceiling": tree_f1([split_ceiling(t) for t in gold], gold).sentence,
        "gold closing distances": tree_f1(
            [build_tree(gold_distances(t), s) for t, s in zip(gold, sents)], gold).sentence,
        "gold pending distances": tree_f1(
            [build_tree(gold_distances(t, kind="pending"), s) for t, s in zip(gold, sents)],
            gold).sentence,
    }, per


def _oracle_correlation(reading: str, dists, gold, kind: str) -> float:
    """Mean over sentences (≥ 3 tokens) of Spearman's ρ between a reading and a gold oracle,
    first token excluded (it closes nothing)."""
    rhos = []
    for f, i, t in zip(dists[0], dists[1], gold):
        d = reading_distances(reading, f, i)[1:]
        o = gold_distances(t, kind=kind)[1:]
        if len(d) >= 2 and np.ptp(d) > 0 and np.ptp(o) > 0:
            rhos.append(stats.spearmanr(d, o).statistic)
    return float(np.mean(rhos)) if rhos else float("nan")


def _train_and_read(cfg: Config, grammar: str, kind: str, seed: int, val, test,
                    device: torch.device, **overrides) -> dict:
    tcfg = TrainConfig(grammar=grammar, kind=kind, embed_size=cfg.embed_size,
                       hidden_size=cfg.hidden_size, num_layers=cfg.num_layers,
                       chunk_size=cfg.chunk_size, n_train=cfg.n_train,
                       batch_size=cfg.batch_size, steps=cfg.steps, lr=cfg.lr,
                       lr_final=cfg.lr / 10, seed=seed)
    tcfg = dataclasses.replace(tcfg, **overrides)
    trainer = Trainer(tcfg, device=device)
    n_layers = tcfg.num_layers
    curve: list[tuple[int, dict[str, float]]] = []

    def record(tr: Trainer) -> None:
        curve.append((tr.step, _all_readings(tr.model, tr.vocab, val[0], val[1])))

    trainer.train(callback=record if cfg.curve_every else None,
                  callback_every=cfg.curve_every)
    model, vocab = trainer.model, trainer.vocab
    chosen, val_f1 = choose_reading(model, vocab, val[0], val[1])
    dists = sentence_distances(model, vocab, test[0])
    per_sentence = {r: _per_sentence(parse_sentences(r, dists, test[0]), test[1])
                    for r in readings(n_layers)}
    test_f1 = {r: float(v.mean()) for r, v in per_sentence.items()}
    sd = float(np.std(np.concatenate([d[-1] for d in dists[0]])))
    return {
        "ppl": lm_perplexity(model, vocab, test[0]),
        "params": count_parameters(model),
        "hidden": model.out.in_features,
        "val": val_f1,
        "test": test_f1,
        "test_per": per_sentence,
        "chosen": chosen,
        "corpus_chosen": tree_f1(parse_sentences(chosen, dists, test[0]), test[1]).corpus,
        "curve": curve,
        "dists": dists,
        "saturation_std": sd,
        "rho": {(r, kind): _oracle_correlation(r, dists, test[1], kind)
                for r in {chosen, PAPER_READING} for kind in ("closing", "pending")},
    }
