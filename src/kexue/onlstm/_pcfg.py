"""Probabilistic context-free grammars with gold trees and exact sentence probabilities.

The evaluation corpus of :mod:`kexue.onlstm` is generated, so the gold trees are known and the
optimal language-model perplexity is known too: the inside algorithm (Baker 1979; Lari & Young
1990) gives every sentence's exact probability, summed over all its derivations.

Sentences are sampled conditioned on ``min_len ≤ length ≤ max_len`` (rejection), so
``log_prob`` subtracts ``log Z``, ``Z = P(min_len ≤ length ≤ max_len)``, which is computed exactly
by the same inside recursion run on length only.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..rng import as_generator

__all__ = ["PCFG"]

Tree = Any


class _TooLong(Exception):
    pass


class _Uniforms:
    """Uniform draws from a ``torch.Generator``, fetched in blocks (one Python call per block)."""

    def __init__(self, generator: torch.Generator | None, block: int = 4096) -> None:
        self.gen = generator
        self.block = block
        self.buf: list[float] = []
        self.pos = 0

    def __call__(self) -> float:
        if self.pos == len(self.buf):
            self.buf = torch.rand(self.block, generator=self.gen, dtype=torch.float64).tolist()
            self.pos = 0
        u = self.buf[self.pos]
        self.pos += 1
        return u


class PCFG:
    """A probabilistic context-free grammar: sampling with gold trees, exact inside probabilities.

    Source: the inside algorithm (Baker 1979; Lari and Young 1990).

    Args:
        rules: ``{lhs: [(rhs, prob), ...]}``. A symbol is a nonterminal if it is a key of
            ``rules``, otherwise a terminal (a token). ``rhs`` is a tuple of symbols (a single
            string counts as a one-symbol right-hand side). Each lhs's probabilities sum to 1.
        start: the start symbol.
        min_len, max_len: sentences are sampled conditioned on this length range.
        name: a label.

    Raises:
        ValueError: empty right-hand sides, probabilities that are negative or do not sum to 1,
            an unknown start symbol, a bad length range, or a grammar that cannot produce any
            sentence in the length range.

    The gold tree of a sentence is the derivation as nested tuples, with unary nodes (a
    nonterminal with one child, including preterminals) collapsed into their child.
    """

    def __init__(self, rules: Mapping[str, Sequence[tuple[Sequence[str] | str, float]]],
                 start: str = "S", *, min_len: int = 1, max_len: int = 30,
                 name: str = "") -> None:
        if start not in rules:
            raise ValueError(f"start symbol {start!r} has no rules; rules exist for "
                             f"{sorted(rules)}")
        if not (isinstance(min_len, int) and isinstance(max_len, int) and 1 <= min_len
                <= max_len):
            raise ValueError(f"need integers 1 ≤ min_len ≤ max_len; got {min_len}, {max_len}")
        self.rules: dict[str, list[tuple[tuple[str, ...], float]]] = {}
        for lhs, alts in rules.items():
            clean = []
            for rhs, p in alts:
                rhs = (rhs,) if isinstance(rhs, str) else tuple(rhs)
                if not rhs:
                    raise ValueError(f"rule {lhs} → (empty): empty right-hand sides are not "
                                     "supported")
                if not p >= 0:
                    raise ValueError(f"rule {lhs} → {' '.join(rhs)} has probability {p}")
                clean.append((rhs, float(p)))
            total = math.fsum(p for _, p in clean)
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"the probabilities of {lhs}'s rules sum to {total}, not 1")
            self.rules[lhs] = clean
        self.start = start
        self.min_len = min_len
        self.max_len = max_len
        self.name = name
        self.terminals = sorted({s for alts in self.rules.values() for rhs, _ in alts
                                 for s in rhs if s not in self.rules})
        self._cum = {lhs: np.cumsum([p for _, p in alts]).tolist()
                     for lhs, alts in self.rules.items()}
        self._rhs = {lhs: [rhs for rhs, _ in alts] for lhs, alts in self.rules.items()}
        self._compile()
        self.length_probs = self._length_probs()  # P(len = L), L = 0..max_len (index 0 unused)
        z = float(self.length_probs[min_len:max_len + 1].sum())
        if z <= 0:
            raise ValueError(f"the grammar produces no sentence of length {min_len}..{max_len}")
        self.log_z = math.log(z)

    @property
    def vocabulary(self) -> list[str]:
        """The terminals (tokens), sorted."""
        return list(self.terminals)

    def mirror(self, name: str | None = None) -> PCFG:
        """The mirror-image grammar: every right-hand side reversed (sentences and trees too)."""
        rules = {lhs: [(tuple(reversed(rhs)), p) for rhs, p in alts]
                 for lhs, alts in self.rules.items()}
        return PCFG(rules, self.start, min_len=self.min_len, max_len=self.max_len,
                    name=name if name is not None else f"mirror of {self.name}")

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, generator: torch.Generator | int | None = None
               ) -> tuple[list[list[str]], list[Tree]]:
        """Draw ``n`` sentences (conditioned on the length range) with their gold trees.

        Args:
            n: number of sentences (≥ 0).
            generator: a CPU ``torch.Generator``, an int seed, or ``None`` for PyTorch's default
                generator (the library's randomness rule, :mod:`kexue.rng`). Sentences are
                built on the host, so the draws are always made on the CPU.

        Returns:
            ``(sentences, trees)``: lists of token lists and of nested-tuple trees.
        """
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative int; got {n!r}")
        u = _Uniforms(as_generator(generator, device=torch.empty(0).device))
        sents: list[list[str]] = []
        trees: list[Tree] = []
        while len(sents) < n:
            tokens: list[str] = []
            try:
                tree = self._expand(self.start, tokens, u)
            except _TooLong:
                continue
            if len(tokens) >= self.min_len:
                sents.append(tokens)
                trees.append(tree)
        return sents, trees

    def _expand(self, sym: str, tokens: list[str], u: _Uniforms) -> Tree:
        if sym not in self.rules:
            tokens.append(sym)
            if len(tokens) > self.max_len:
                raise _TooLong
            return sym
        cum, alts = self._cum[sym], self._rhs[sym]
        k = bisect.bisect_right(cum, u() * cum[-1])
        rhs = alts[min(k, len(alts) - 1)]
        children = [self._expand(s, tokens, u) for s in rhs]
        return children[0] if len(children) == 1 else tuple(children)

    # ------------------------------------------------------------------ inside algorithm
    def _compile(self) -> None:
        """Chomsky-normal-form tensors: binary ``R[A, B, C]``, lexical ``lex[A, w]``, unary
        closure ``(I − U)⁻¹``. Terminals inside longer rules get preterminals; longer rules are
        right-binarised with fresh symbols (probability 1)."""
        nts = list(self.rules)
        index = {a: k for k, a in enumerate(nts)}
        binary: list[tuple[str, str, str, float]] = []
        unary: list[tuple[str, str, float]] = []
        lexical: list[tuple[str, str, float]] = []

        def sym_id(s: str) -> str:
            if s in self.rules:
                return s
            pre = f"<pre:{s}>"
            if pre not in index:
                index[pre] = len(nts)
                nts.append(pre)
                lexical.append((pre, s, 1.0))
            return pre

        fresh = 0
        for lhs, alts in self.rules.items():
            for rhs, p in alts:
                if len(rhs) == 1:
                    if rhs[0] in self.rules:
                        unary.append((lhs, rhs[0], p))
                    else:
                        lexical.append((lhs, rhs[0], p))
                    continue
                syms = [sym_id(s) for s in rhs]
                left, prob = lhs, p
                while len(syms) > 2:
                    new = f"<bin:{fresh}>"
                    fresh += 1
                    index[new] = len(nts)
                    nts.append(new)
                    binary.append((left, syms[0], new, prob))
                    left, prob, syms = new, 1.0, syms[1:]
                binary.append((left, syms[0], syms[1], prob))
        N = len(nts)
        self._nts = nts
        self._nt_index = index
        self._tok_index = {w: k for k, w in enumerate(self.terminals)}
        R = np.zeros((N, N, N))
        for a, b, c, p in binary:
            R[index[a], index[b], index[c]] += p
        lex = np.zeros((N, len(self.terminals)))
        for a, w, p in lexical:
            lex[index[a], self._tok_index[w]] += p
        U = np.zeros((N, N))
        for a, b, p in unary:
            U[index[a], index[b]] += p
        try:
            closure = np.linalg.inv(np.eye(N) - U)
        except np.linalg.LinAlgError:
            raise ValueError("the unary rules form a cycle of probability 1") from None
        self._R2 = R.reshape(N, N * N)  # (A, B·C)
        self._lex = lex
        self._closure_t = closure.T  # so that β ← β @ closureᵀ applies A ⇒* B
        self._n_nt = N

    def _length_probs(self) -> np.ndarray:
        """``P(length = L)`` for ``L = 0..max_len`` (inside recursion on lengths only)."""
        N = self._n_nt
        beta = np.zeros((self.max_len + 1, N))
        beta[1] = self._lex.sum(1) @ self._closure_t
        for L in range(2, self.max_len + 1):
            acc = np.zeros(N)
            for k in range(1, L):
                acc += self._R2 @ np.outer(beta[k], beta[L - k]).reshape(-1)
            beta[L] = acc @ self._closure_t
        out = beta[:, self._nt_index[self.start]].copy()
        out[0] = 0.0
        return out

    def _inside_batch(self, ids: np.ndarray) -> np.ndarray:
        """Inside probabilities of the start symbol for equally long sentences ``(B, n)``."""
        B, n = ids.shape
        N = self._n_nt
        chart = np.zeros((B, n, n + 1, N))  # chart[:, i, j] = β over span [i, j)
        chart[:, np.arange(n), np.arange(1, n + 1)] = (
            self._lex.T[ids] @ self._closure_t)  # (B, n, N)
        for L in range(2, n + 1):
            m = n - L + 1  # number of start positions
            acc = np.zeros((B, m, N))
            starts = np.arange(m)
            for k in range(1, L):
                left = chart[:, starts, starts + k]  # (B, m, N)
                right = chart[:, starts + k, starts + L]  # (B, m, N)
                outer = (left[..., :, None] * right[..., None, :]).reshape(B, m, N * N)
                acc += outer @ self._R2.T
            chart[:, starts, starts + L] = acc @ self._closure_t
        return chart[:, 0, n, self._nt_index[self.start]]

    def log_prob(self, sentence: Sequence[str]) -> float:
        """Exact ``log P(sentence)`` under the length-conditioned grammar (natural log).

        Returns ``-inf`` for sentences the grammar cannot produce (unknown tokens, length out of
        range). Raises ``ValueError`` for an empty sentence.
        """
        return float(self.log_probs([sentence])[0])

    def log_probs(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """:meth:`log_prob` of many sentences, batched by length. Returns ``(len(sentences),)``."""
        out = np.full(len(sentences), -np.inf)
        by_len: dict[int, list[int]] = {}
        for k, s in enumerate(sentences):
            if isinstance(s, str):
                raise TypeError("a sentence is a sequence of tokens, not one string; use "
                                "s.split()")
            if len(s) == 0:
                raise ValueError(f"sentence {k} is empty")
            if self.min_len <= len(s) <= self.max_len and all(w in self._tok_index for w in s):
                by_len.setdefault(len(s), []).append(k)
        for idx in by_len.values():
            for lo in range(0, len(idx), 256):
                chunk = idx[lo:lo + 256]
                ids = np.array([[self._tok_index[w] for w in sentences[k]] for k in chunk])
                with np.errstate(divide="ignore"):
                    out[chunk] = np.log(self._inside_batch(ids)) - self.log_z
        return out

    def perplexity(self, sentences: Sequence[Sequence[str]]) -> float:
        """Per-token perplexity of the grammar itself on ``sentences``, counting one
        end-of-sentence prediction per sentence: ``exp(−Σ log P(s) / Σ (|s| + 1))``.

        This is the optimal perplexity a language model that predicts ``w_1 … w_n <eos>`` can
        reach on this sample (cross-entropy ≥ entropy).
        """
        lp = self.log_probs(sentences)
        tokens = sum(len(s) + 1 for s in sentences)
        return math.exp(-float(lp.sum()) / tokens)

    def __repr__(self) -> str:
        n_rules = sum(len(a) for a in self.rules.values())
        return (f"PCFG({self.name!r}, {len(self.rules)} nonterminals, {n_rules} rules, "
                f"{len(self.terminals)} terminals, length {self.min_len}..{self.max_len})")
