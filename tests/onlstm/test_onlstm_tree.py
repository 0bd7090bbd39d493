"""Tree induction from distances (greedy top-down split), unlabeled F1, baselines, the decoder's
ceiling (dynamic programme vs brute force over all distance orders)."""

import itertools

import numpy as np
import pytest
import torch

from kexue.onlstm import (
    balanced_tree,
    build_tree,
    gold_distances,
    left_branching,
    random_tree,
    right_branching,
    split_ceiling,
    tree_f1,
    tree_leaves,
    tree_spans,
    tree_to_str,
)

TOK = list("abcdef")


def test_build_tree_hand_examples():
    assert build_tree([0.1, 0.3, 0.9, 0.5], TOK[:4]) == (("a", "b"), ("c", "d"))
    # the largest distance starts the right constituent: (left, (token, right))
    assert build_tree([0.2, 0.1, 0.9, 0.3, 0.4], TOK[:5]) == (("a", "b"), ("c", ("d", "e")))
    assert build_tree([0.5, 0.9, 0.1], TOK[:3]) == ("a", ("b", "c"))
    assert build_tree([0.5, 0.1, 0.9], TOK[:3]) == (("a", "b"), "c")
    assert build_tree(torch.tensor([3.0]), ["x"]) == "x"
    # ties go to the first maximum
    assert build_tree([1.0, 1.0, 1.0], TOK[:3]) == ("a", ("b", "c"))


def test_monotone_distances_give_branching_baselines():
    n = 6
    dec = np.arange(n, 0, -1.0)
    assert build_tree(dec, TOK) == right_branching(TOK) == ("a", ("b", ("c", ("d", ("e", "f")))))
    assert build_tree(dec[::-1].copy(), TOK) == left_branching(TOK)
    assert left_branching(TOK[:4]) == ((("a", "b"), "c"), "d")
    assert balanced_tree(TOK[:4]) == (("a", "b"), ("c", "d"))
    assert balanced_tree(TOK[:5]) == ((("a", "b"), "c"), ("d", "e"))


def test_spans_exclude_whole_sentence_single_tokens_and_unary_chains():
    t = (("a", "b"), (("c",), "d"), "e")
    assert tree_spans(t) == {(0, 2), (2, 4)}
    assert tree_leaves(t) == list("abcde")
    assert tree_to_str(t) == "((a b) ((c) d) e)"
    assert tree_spans("a") == set() and tree_spans(("a", "b")) == set()


def test_tree_f1_hand_examples():
    pred = (("a", "b"), ("c", "d"))
    gold = (("a", "b"), "c", "d")  # gold spans {(0, 2)}; pred spans {(0, 2), (2, 4)}
    s = tree_f1(pred, gold)
    assert s.precision == 0.5 and s.recall == 1.0
    assert s.sentence == pytest.approx(2 / 3) and s.corpus == pytest.approx(2 / 3)
    assert tree_f1(gold, gold).sentence == 1.0
    # corpus F1 pools counts, sentence F1 averages: second pair has 0 of 2 right
    pred2 = ("a", ("b", ("c", ("d", "e"))))  # spans (1,5) (2,5) (3,5)
    gold2 = ((("a", "b"), "c"), ("d", "e"))  # spans (0,3) (0,2) (3,5)
    both = tree_f1([pred, pred2], [gold, gold2])
    f2 = 2 * (1 / 3) * (1 / 3) / (2 / 3)
    assert both.sentence == pytest.approx((2 / 3 + f2) / 2)
    p, r = 2 / 5, 2 / 4
    assert both.corpus == pytest.approx(2 * p * r / (p + r))
    assert both.n == 2
    # no gold brackets: recall counts as 1 (reference convention); nothing predicted: precision 1
    assert tree_f1(("a", ("b", "c")), ("a", "b", "c")).sentence == 0.0
    assert tree_f1(("a", "b"), ("a", "b")).sentence == 1.0


def test_tree_f1_and_build_tree_reject_bad_input():
    with pytest.raises(ValueError, match="empty sentence"):
        build_tree([], [])
    with pytest.raises(ValueError, match="3 distances for 2 tokens"):
        build_tree([1, 2, 3], ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        build_tree([1.0, float("nan")], ["a", "b"])
    with pytest.raises(TypeError, match="split"):
        build_tree([1.0, 2.0], "ab")
    with pytest.raises(ValueError, match="2 predicted and 1 gold"):
        tree_f1([("a", "b"), ("a", "b")], [("a", "b")])
    with pytest.raises(ValueError, match="prediction has 3 tokens, gold has 2"):
        tree_f1(("a", ("b", "c")), ("a", "b"))


def _all_decoder_trees(tokens):
    n = len(tokens)
    return {build_tree(np.array(perm, dtype=float), tokens)
            for perm in itertools.permutations(range(n))}


@pytest.mark.parametrize("gold", [
    (("a", "b"), ("c", "d"), ("e", "f")),
    ((("a", "b"), "c"), (("d", "e"), "f")),
    ("a", (("b", "c"), ("d", "e")), "f"),
    (((("a", "b"), "c"), "d"), "e"),
    ("a", "b", ("c", ("d", "e"))),
])
def test_split_ceiling_is_the_best_decoder_tree(gold):
    tokens = tree_leaves(gold)
    trees = _all_decoder_trees(tokens)
    best = max(tree_f1(t, gold).sentence for t in trees)
    ceiling = split_ceiling(gold)
    assert ceiling in trees  # the decoder can produce it
    assert tree_f1(ceiling, gold).sentence == pytest.approx(best, abs=1e-12)


def test_decoder_cannot_build_every_tree():
    # Dyer et al. 2019: the split token always starts a constituent running to the end of its
    # span, so a right constituent cannot open with a multi-token left child ...
    gold = (("a", "b"), (("c", "d"), "e"))
    assert tree_f1(split_ceiling(gold), gold).sentence == pytest.approx(2 / 3)
    # ... while its mirror image is reachable, as are both pure branchings.
    mirrored = (("e", ("d", "c")), ("b", "a"))
    assert tree_f1(split_ceiling(mirrored), mirrored).sentence == 1.0
    assert tree_f1(split_ceiling(right_branching(TOK)), right_branching(TOK)).sentence == 1.0
    assert tree_f1(split_ceiling(left_branching(TOK)), left_branching(TOK)).sentence == 1.0


def test_gold_distances_and_random_baseline():
    gold = ((("a", "b"), ("c", ("d", "e"))), ("f", ("g", "h")))
    d = gold_distances(gold)
    assert d.tolist() == [-4.0, -2.0, -1.0, -2.0, -3.0, 0.0, -1.0, -2.0]
    tokens = tree_leaves(gold)
    assert tree_f1(build_tree(d, tokens), gold).sentence == 1.0
    g = torch.Generator().manual_seed(0)
    trees = [random_tree(tokens, g) for _ in range(20)]
    assert len({tree_to_str(t) for t in trees}) > 5
    assert all(tree_leaves(t) == tokens for t in trees)


def test_pending_distances_are_the_prefix_arithmetic_counter_and_reach_the_ceiling():
    # In prefix arithmetic the top-down parser's stack size is the count of pending operator
    # arguments (1 at the start, +1 per operator, −1 per number); with the first token excluded
    # the decoder given −count reaches its ceiling on every sentence.
    from kexue.onlstm import get_grammar

    sents, trees = get_grammar("arithmetic").sample(60, torch.Generator().manual_seed(3))
    for s, t in zip(sents, trees):
        steps = [1 if w in "+-*/" else -1 for w in s[:-1]]
        count = 1 + np.concatenate([[0], np.cumsum(steps)])
        d = gold_distances(t, kind="pending")
        np.testing.assert_array_equal(d[1:], 1 - count[1:])
        assert d[0] < d[1:].min()
        assert tree_f1(build_tree(d, s), t).sentence == pytest.approx(
            tree_f1(split_ceiling(t), t).sentence, abs=1e-12)
    with pytest.raises(ValueError, match="closing' or 'pending"):
        gold_distances(trees[0], kind="depth")
