"""PCFG: the inside algorithm against brute-force enumeration of derivations, the length
normaliser, sampling frequencies (chi-square at a fixed seed), mirror grammars, the built-in
grammars and bad input."""

import math
from collections import Counter

import numpy as np
import pytest
import torch
from scipy import stats

from kexue.onlstm import PCFG, get_grammar, grammars, tree_leaves, tree_to_str

TINY = {
    # a terminal inside a longer rule ("and", "v"), unary rules (S → VP, NP → N), a ternary rule
    # and ambiguity ("S and S and S" has two bracketings)
    "S": [(("NP", "VP"), 0.6), (("S", "and", "S"), 0.15), (("VP",), 0.25)],
    "NP": [(("N",), 0.7), (("N", "N"), 0.3)],
    "VP": [("v", 0.5), (("v", "NP"), 0.5)],
    "N": [("x", 0.5), ("y", 0.5)],
}


def brute_force(rules, start, max_len):
    """Total probability of every yield with ≤ max_len tokens, summed over its derivations
    (leftmost expansion of sentential forms; every symbol yields ≥ 1 token, so prune by
    length)."""
    out: Counter = Counter()
    stack = [((start,), 1.0)]
    while stack:
        form, p = stack.pop()
        k = next((i for i, s in enumerate(form) if s in rules), None)
        if k is None:
            out[form] += p
            continue
        for rhs, q in rules[form[k]]:
            rhs = (rhs,) if isinstance(rhs, str) else tuple(rhs)
            new = form[:k] + rhs + form[k + 1:]
            if len(new) <= max_len:
                stack.append((new, p * q))
    return out


@pytest.fixture(scope="module")
def tiny():
    return PCFG(TINY, "S", min_len=2, max_len=7, name="tiny")


@pytest.fixture(scope="module")
def tiny_exact():
    return brute_force(TINY, "S", 7)


def test_inside_matches_brute_force(tiny, tiny_exact):
    z = sum(p for s, p in tiny_exact.items() if 2 <= len(s) <= 7)
    assert math.exp(tiny.log_z) == pytest.approx(z, rel=1e-12)
    sents = [list(s) for s in tiny_exact if len(s) >= 2]
    assert len(sents) > 100
    got = np.exp(tiny.log_probs(sents))
    want = np.array([tiny_exact[tuple(s)] / z for s in sents])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    for L in range(1, 8):
        exact = sum(p for s, p in tiny_exact.items() if len(s) == L)
        assert tiny.length_probs[L] == pytest.approx(exact, rel=1e-12, abs=1e-300)
    # ambiguous sentence: both bracketings of "v and v and v" count
    assert tiny_exact[("v", "and", "v", "and", "v")] == pytest.approx(
        2 * 0.25**3 * 0.5**3 * 0.15**2)


def test_impossible_sentences_have_zero_probability(tiny):
    assert tiny.log_prob(["v"]) == -math.inf  # below min_len
    assert tiny.log_prob(["x", "z"]) == -math.inf  # unknown token
    assert tiny.log_prob(["and", "v"]) == -math.inf  # not derivable
    assert tiny.log_prob(["v"] * 8) == -math.inf  # above max_len


def test_sampling_frequencies_follow_the_inside_probabilities(tiny):
    sents, trees = tiny.sample(20000, torch.Generator().manual_seed(7))
    assert all(tree_leaves(t) == s for s, t in zip(sents, trees))
    counts = Counter(tuple(s) for s in sents)
    common = [s for s, _ in counts.most_common(25)]
    probs = np.exp(tiny.log_probs([list(s) for s in common]))
    observed = [counts[s] for s in common] + [20000 - sum(counts[s] for s in common)]
    expected = list(20000 * probs) + [20000 * (1 - probs.sum())]
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # same seed, same corpus; an int seed works too
    assert tiny.sample(50, torch.Generator().manual_seed(7))[0] == sents[:50]
    assert tiny.sample(5, 3)[0] == tiny.sample(5, torch.Generator().manual_seed(3))[0]


def test_gold_trees_collapse_unary_nodes(tiny):
    sents, trees = tiny.sample(300, 1)
    for s, t in zip(sents, trees):
        if s == ["v", "x"]:
            assert t == ("v", "x")  # S → VP → v NP → v N → v x
            break
    else:
        pytest.fail("'v x' not sampled")


def test_mirror_grammar_reverses_sentences_and_trees(tiny):
    mirror = tiny.mirror()
    sents, trees = tiny.sample(200, 2)
    lp = tiny.log_probs(sents)
    np.testing.assert_allclose(mirror.log_probs([s[::-1] for s in sents]), lp, rtol=1e-12)
    msents, mtrees = mirror.sample(200, 2)

    def rev(t):
        return t if isinstance(t, str) else tuple(rev(c) for c in reversed(t))

    # every mirror sample, read backwards, is a sentence of the original with its tree reversed
    assert np.isfinite(tiny.log_probs([s[::-1] for s in msents])).all()
    assert all(tree_leaves(rev(t)) == s[::-1] for s, t in zip(msents, mtrees))
    assert any(tree_leaves(t) != tree_leaves(rev(t)) for t in mtrees)


@pytest.mark.parametrize("name", list(grammars))
def test_builtin_grammars(name):
    g = get_grammar(name)
    sents, trees = g.sample(60, torch.Generator().manual_seed(0))
    assert all(tree_leaves(t) == s for s, t in zip(sents, trees))
    assert all(g.min_len <= len(s) <= g.max_len for s in sents)
    assert set(w for s in sents for w in s) <= set(g.vocabulary)
    lp = g.log_probs(sents)
    assert np.isfinite(lp).all() and (lp < 0).all()
    ppl = g.perplexity(sents)
    assert 1.0 < ppl < len(g.vocabulary) + 1
    assert sum(g.length_probs[g.min_len:g.max_len + 1]) == pytest.approx(math.exp(g.log_z))
    assert isinstance(tree_to_str(trees[0]), str)


def test_english_and_mirror_are_mirror_images():
    e, m = get_grammar("english"), get_grammar("mirror")
    sents, _ = e.sample(40, 5)
    np.testing.assert_allclose(m.log_probs([s[::-1] for s in sents]), e.log_probs(sents),
                               rtol=1e-12)


def test_bad_grammars_and_sentences_are_rejected(tiny):
    with pytest.raises(ValueError, match="sum to 0.9"):
        PCFG({"S": [("a", 0.5), ("b", 0.4)]})
    with pytest.raises(ValueError, match="empty right-hand sides"):
        PCFG({"S": [((), 1.0)]})
    with pytest.raises(ValueError, match="start symbol 'T'"):
        PCFG({"S": [("a", 1.0)]}, "T")
    with pytest.raises(ValueError, match="min_len ≤ max_len"):
        PCFG({"S": [("a", 1.0)]}, min_len=3, max_len=2)
    with pytest.raises(ValueError, match="no sentence of length"):
        PCFG({"S": [("a", 1.0)]}, min_len=2, max_len=4)
    with pytest.raises(ValueError, match="cycle"):
        PCFG({"S": [("A", 1.0)], "A": [("S", 1.0)]})
    with pytest.raises(ValueError, match="empty"):
        tiny.log_prob([])
    with pytest.raises(TypeError, match="split"):
        tiny.log_prob("v x")
    with pytest.raises(ValueError, match="unknown grammar 'latin'.*english"):
        get_grammar("latin")


def test_sample_follows_the_randomness_rule():
    """None draws from PyTorch's default generator (so torch.manual_seed reproduces it); an int
    is a seed; both give the same sentences as the seeded generator."""

    g = get_grammar("english")
    torch.manual_seed(3)
    a = g.sample(20)
    torch.manual_seed(3)
    assert g.sample(20) == a
    assert g.sample(20)[0] != a[0]  # the default generator moved on
    assert g.sample(20, 7) == g.sample(20, torch.Generator().manual_seed(7))
