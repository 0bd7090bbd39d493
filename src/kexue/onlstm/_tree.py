"""Trees from syntactic distances, unlabeled bracket F1, trivial baselines and the decoder ceiling.

A tree is a token (``str``) or a tuple of trees; sentences are sequences of tokens. The decoder is
the greedy top-down split of Shen et al., ICLR 2019 (arXiv:1810.09536) as described in kexue.fm
6621: in a span take the position ``k`` of the largest distance; the result is
``(parse(left of k), (token_k, parse(right of k)))`` — the token with the largest distance *starts*
the right constituent. Dyer, Melis & Blunsom (arXiv:1909.09428) show that this decoder is biased
towards right-branching trees, which is why :func:`split_ceiling` (the best F1 the decoder can
reach on a gold tree) and grammars that branch left belong in every evaluation.

Scoring (:func:`tree_f1`) is unlabeled: a tree contributes the set of its spans ``(i, j)`` (token
``i`` up to but excluding ``j``) of length ≥ 2, *excluding the whole-sentence span*; single
tokens and unary chains therefore never count. Sentence-level F1 is the mean over sentences of the
per-sentence F1 (precision 1 when a tree has no spans, recall 1 when the gold tree has none, as in
the reference evaluation); corpus-level F1 pools the counts over all sentences (EVALB style).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

__all__ = [
    "build_tree", "tree_spans", "tree_leaves", "tree_f1", "TreeF1", "tree_to_str",
    "right_branching", "left_branching", "balanced_tree", "random_tree", "split_ceiling",
    "gold_distances",
]

Tree = Any  # str | tuple[Tree, ...]


def _as_distances(distances, n_tokens: int) -> np.ndarray:
    if isinstance(distances, torch.Tensor):
        distances = distances.detach().to("cpu", torch.float64).numpy()
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 1:
        raise ValueError(f"distances must be 1-D (one per token); got shape {d.shape}")
    if d.shape[0] != n_tokens:
        raise ValueError(f"got {d.shape[0]} distances for {n_tokens} tokens; give one distance "
                         "per token (drop the sentinels' distances first)")
    if not np.all(np.isfinite(d)):
        raise ValueError("distances contain NaN or inf; check the model's output")
    return d


def _check_tokens(tokens) -> list:
    if isinstance(tokens, str):
        raise TypeError("tokens must be a sequence of tokens, not one string; use s.split()")
    tokens = list(tokens)
    if not tokens:
        raise ValueError("empty sentence: give at least one token")
    return tokens


def build_tree(distances, tokens: Sequence[str]) -> Tree:
    """Greedy top-down tree from syntactic distances (Shen et al. 2019; kexue.fm 6621).

    Args:
        distances: ``(n,)`` array/tensor/list, one distance per token (sentinels removed).
        tokens: the ``n`` tokens.

    Returns:
        A binary tree of nested tuples (a single token for ``n == 1``). Ties go to the first
        maximum.

    Raises:
        ValueError: empty sentence, a length mismatch, non-1-D or non-finite distances.
        TypeError: ``tokens`` is a string.
    """
    tokens = _check_tokens(tokens)
    d = _as_distances(distances, len(tokens))

    def rec(i: int, j: int) -> Tree:
        if j - i == 1:
            return tokens[i]
        k = i + int(np.argmax(d[i:j]))
        right = tokens[k] if k + 1 == j else (tokens[k], rec(k + 1, j))
        if k == i:
            return right
        return (rec(i, k), right)

    return rec(0, len(tokens))


def tree_leaves(tree: Tree) -> list:
    """The tokens of ``tree`` left to right."""
    if isinstance(tree, str):
        return [tree]
    if not isinstance(tree, tuple) or not tree:
        raise TypeError(f"a tree is a str or a non-empty tuple of trees; got {tree!r}")
    out = []
    for child in tree:
        out.extend(tree_leaves(child))
    return out


def tree_spans(tree: Tree) -> set[tuple[int, int]]:
    """Spans ``(i, j)`` of the constituents of length ≥ 2, whole sentence excluded.

    Source: the unsupervised-parsing evaluation of Shen et al. 2019 (arXiv:1810.09536).
    """
    spans: set[tuple[int, int]] = set()

    def rec(t: Tree, i: int) -> int:
        if isinstance(t, str):
            return i + 1
        j = i
        for child in t:
            j = rec(child, j)
        if j - i >= 2:
            spans.add((i, j))
        return j

    n = rec(tree, 0)
    spans.discard((0, n))
    return spans


class TreeF1(NamedTuple):
    """Unlabeled bracket F1: ``sentence`` (mean of per-sentence F1), ``corpus`` (pooled counts),
    pooled ``precision`` and ``recall``, and ``n`` sentences. All in [0, 1].

    Source: the unsupervised-parsing evaluation of Shen et al. 2019 (arXiv:1810.09536).
    """

    sentence: float
    corpus: float
    precision: float
    recall: float
    n: int


def _prf(overlap: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = overlap / n_pred if n_pred else 1.0
    r = overlap / n_gold if n_gold else 1.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return p, r, f


def tree_f1(pred, gold) -> TreeF1:
    """Unlabeled bracket F1 of predicted against gold trees (module docstring: conventions).

    Source: the unsupervised-parsing evaluation of Shen et al. 2019 (arXiv:1810.09536).

    Args:
        pred, gold: one tree each, or equally long lists of trees with the same leaves pairwise.

    Returns:
        :class:`TreeF1` (``sentence`` and ``corpus`` coincide for a single pair).

    Raises:
        ValueError: different numbers of trees, an empty list, or a pair with different lengths.

    Examples:
        >>> from kexue.onlstm import tree_f1, right_branching, balanced_tree
        >>> words = ["the", "big", "dog", "barked"]
        >>> gold = right_branching(words)
        >>> tree_f1(gold, gold).sentence
        1.0
        >>> round(tree_f1(balanced_tree(words), gold).sentence, 3)
        0.5
    """
    single = not isinstance(pred, list)
    preds = [pred] if single else pred
    golds = [gold] if not isinstance(gold, list) else gold
    if len(preds) != len(golds):
        raise ValueError(f"got {len(preds)} predicted and {len(golds)} gold trees; pair them up")
    if not preds:
        raise ValueError("no trees to score")
    tot_o = tot_p = tot_g = 0
    f_sum = 0.0
    for k, (p, g) in enumerate(zip(preds, golds)):
        np_, ng = len(tree_leaves(p)), len(tree_leaves(g))
        if np_ != ng:
            raise ValueError(f"tree {k}: prediction has {np_} tokens, gold has {ng}")
        sp, sg = tree_spans(p), tree_spans(g)
        o = len(sp & sg)
        f_sum += _prf(o, len(sp), len(sg))[2]
        tot_o, tot_p, tot_g = tot_o + o, tot_p + len(sp), tot_g + len(sg)
    prec, rec, f = _prf(tot_o, tot_p, tot_g)
    return TreeF1(f_sum / len(preds), f, prec, rec, len(preds))


def tree_to_str(tree: Tree) -> str:
    """Bracketed string, e.g. ``"(the (big dog))"``."""
    if isinstance(tree, str):
        return tree
    return "(" + " ".join(tree_to_str(c) for c in tree) + ")"


def right_branching(tokens: Sequence[str]) -> Tree:
    """``(w1 (w2 (… (w_{n−1} w_n))))``.

    Source: a baseline of Shen et al. 2019 (arXiv:1810.09536).
    """
    tokens = _check_tokens(tokens)
    t: Tree = tokens[-1]
    for w in reversed(tokens[:-1]):
        t = (w, t)
    return t


def left_branching(tokens: Sequence[str]) -> Tree:
    """``((((w1 w2) w3) …) w_n)``.

    Source: a baseline of Shen et al. 2019 (arXiv:1810.09536).
    """
    tokens = _check_tokens(tokens)
    t: Tree = tokens[0]
    for w in tokens[1:]:
        t = (t, w)
    return t


def balanced_tree(tokens: Sequence[str]) -> Tree:
    """Split every span in the middle (the left half gets the extra token).

    Source: a baseline of Shen et al. 2019 (arXiv:1810.09536).
    """
    tokens = _check_tokens(tokens)

    def rec(i: int, j: int) -> Tree:
        if j - i == 1:
            return tokens[i]
        m = (i + j + 1) // 2
        return (rec(i, m), rec(m, j))

    return rec(0, len(tokens))


def random_tree(tokens: Sequence[str], generator: torch.Generator) -> Tree:
    """The decoder applied to i.i.d. uniform distances (the random baseline of the same decoder).

    Source: the greedy top-down decoder of Shen et al. 2019 (arXiv:1810.09536); its bias: Dyer,
    Melis and Blunsom 2019 (arXiv:1909.09428).
    """
    tokens = _check_tokens(tokens)
    d = torch.rand(len(tokens), generator=generator, dtype=torch.float64)
    return build_tree(d, tokens)


def split_ceiling(gold: Tree) -> Tree:
    """The decoder output with the best F1 against ``gold`` over all possible distances.

    Source: the greedy top-down decoder of Shen et al. 2019 (arXiv:1810.09536); its bias: Dyer,
    Melis and Blunsom 2019 (arXiv:1909.09428).

    Every decoder output is a full binary tree, so it has ``n − 2`` scored spans whatever the
    distances; the best F1 is therefore the one with most gold spans, found by dynamic
    programming over spans: ``best(i, j) = max_k [left (i, k) | node (k, j) | right (k+1, j)]``.

    Returns:
        A tree :func:`build_tree` can produce whose F1 against ``gold`` is maximal.
    """
    tokens = tree_leaves(gold)
    n = len(tokens)
    gold_spans = tree_spans(gold)

    def g(i: int, j: int) -> int:
        return int(j - i >= 2 and (i, j) in gold_spans)

    best: dict[tuple[int, int], tuple[int, int]] = {}  # (i, j) -> (score inside, argmax k)
    for length in range(1, n + 1):
        for i in range(0, n - length + 1):
            j = i + length
            if length == 1:
                best[(i, j)] = (0, i)
                continue
            top = (-1, i)
            for k in range(i, j):
                s = 0
                if k > i:
                    s += g(i, k) + best[(i, k)][0] + g(k, j)
                if k + 1 < j:
                    s += g(k + 1, j) + best[(k + 1, j)][0]
                if s > top[0]:
                    top = (s, k)
            best[(i, j)] = top

    def rebuild(i: int, j: int) -> Tree:
        if j - i == 1:
            return tokens[i]
        k = best[(i, j)][1]
        right = tokens[k] if k + 1 == j else (tokens[k], rebuild(k + 1, j))
        return right if k == i else (rebuild(i, k), right)

    return rebuild(0, n)


def gold_distances(gold: Tree, *, kind: str = "closing") -> np.ndarray:
    """Distances computed from a gold tree: what an ideal model would signal (two oracles).

    Source: the syntactic distances of Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.

    * ``kind="closing"``: ``d_t = −depth(LCA(w_{t−1}, w_t))`` for ``t ≥ 1`` — large when a high
      constituent ends just before ``w_t``, which is what the ON-LSTM master forget gate is
      designed to signal (it erases the levels of the finished constituents). Equivalently the
      negative depth of the highest constituent that ``w_t`` opens, minus one.
    * ``kind="pending"``: ``d_t = −s_t`` with ``s_t`` the number of constituents a top-down
      (left-to-right, predictive) parser still has to build when the highest constituent
      starting at ``w_t`` opens — its stack size. In prefix arithmetic this is the count of
      pending operator arguments, the only state a language model of that language needs.

    The first token closes nothing and opens the whole sentence, so ``d_0`` is set below every
    other value (it never wins a split).

    Args:
        gold: a tree.
        kind: ``"closing"`` or ``"pending"``.

    Returns:
        ``(n,)`` floats.
    """
    if kind not in ("closing", "pending"):
        raise ValueError(f"kind must be 'closing' or 'pending'; got {kind!r}")
    paths: list[tuple[int, ...]] = []
    pending: list[float] = []

    def rec(t: Tree, path: tuple[int, ...], pend: int, at_start: int) -> None:
        if isinstance(t, str):
            paths.append(path)
            pending.append(float(at_start))
            return
        k = len(t)
        for c, child in enumerate(t):
            p = pend + (k - 1 - c)  # right siblings still to come
            rec(child, path + (c,), p, at_start if c == 0 else p)

    rec(gold, (), 0, 0)
    d = np.empty(len(paths))
    if kind == "closing":
        for t in range(1, len(paths)):
            a, b = paths[t - 1], paths[t]
            common = 0
            while common < min(len(a), len(b)) and a[common] == b[common]:
                common += 1
            d[t] = -float(common)
    else:
        d[1:] = -np.asarray(pending[1:])
    d[0] = (d[1:].min() if len(d) > 1 else 0.0) - 1.0
    return d
