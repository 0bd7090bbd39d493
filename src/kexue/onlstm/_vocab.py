"""Token ids and user corpora of the ON-LSTM language-model trainer.

:class:`Vocab` maps tokens to ids (``<pad>`` = 0, ``<s>`` = 1) and builds the ``(T, B)``
input/target batches that the model (Shen et al. 2019, arXiv:1810.09536; kexue.fm archive 6621)
reads; ``_check_sentences`` and :func:`corpus_fingerprint` check and identify a user's own
corpus (``TrainConfig(grammar="corpus")``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["Vocab", "CORPUS", "corpus_fingerprint"]

PAD, BOS = "<pad>", "<s>"
#: ``TrainConfig.grammar`` of a model trained on the user's own sentences (``Trainer(sentences=)``).
CORPUS = "corpus"


class Vocab:
    """Token ↔ id: ``<pad>`` = 0, ``<s>`` = 1 (start and end of sentence), then the tokens."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.itos = [PAD, BOS, *tokens]
        self.stoi = {w: k for k, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("duplicate tokens in the vocabulary")

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad(self) -> int:
        return 0

    @property
    def bos(self) -> int:
        return 1

    def encode(self, sentence: Sequence[str]) -> list[int]:
        """Token ids; ``ValueError`` naming the first unknown token."""
        try:
            return [self.stoi[w] for w in sentence]
        except KeyError as exc:
            raise ValueError(f"unknown token {exc.args[0]!r}; the vocabulary is "
                             f"{' '.join(self.itos[2:])}") from None

    def batch(self, sentences: Sequence[Sequence[str]], *, eos: bool = True
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, targets)``, each ``(T, B)``: ``<s> w…`` and ``w… <s>``, right-padded.

        With ``eos=True`` the inputs also end with ``<s>`` (``T = n + 1`` for the longest
        sentence), so that the final ``<s>`` is read too (used for distances)."""
        T = max(len(s) for s in sentences) + 1
        inp = torch.full((T, len(sentences)), self.pad, dtype=torch.long)
        tgt = torch.full((T, len(sentences)), self.pad, dtype=torch.long)
        for b, s in enumerate(sentences):
            ids = self.encode(s)
            inp[: len(ids) + 1, b] = torch.tensor([self.bos, *ids])
            tgt[: len(ids) + 1, b] = torch.tensor([*ids, self.bos])
        if eos:
            inp = torch.cat([inp, torch.full((1, len(sentences)), self.pad, dtype=torch.long)])
            for b, s in enumerate(sentences):
                inp[len(s) + 1, b] = self.bos
            tgt = torch.cat([tgt, torch.full((1, len(sentences)), self.pad, dtype=torch.long)])
        return inp, tgt


def _check_sentences(sentences: object) -> list[list[str]]:
    """A user corpus: a non-empty sequence of non-empty token lists, without the reserved
    tokens ``<pad>``/``<s>``."""
    if sentences is None or isinstance(sentences, (str, bytes)):
        raise ValueError("sentences must be a list of token lists (e.g. "
                         "kexue.data.read_corpus(FILE)); got "
                         f"{type(sentences).__name__}")
    out = [list(s) for s in sentences]  # type: ignore[union-attr]
    if not out:
        raise ValueError("the corpus is empty: give at least one sentence")
    for k, s in enumerate(out):
        if not s or not all(isinstance(w, str) and w for w in s):
            raise ValueError(f"sentence {k} must be a non-empty list of non-empty strings; "
                             f"got {s!r}")
        if PAD in s or BOS in s:
            raise ValueError(f"sentence {k} contains the reserved token {PAD!r} or {BOS!r}; "
                             "rename it in the corpus")
    return out


def corpus_fingerprint(sentences: Sequence[Sequence[str]]) -> str:
    """SHA-256 of a corpus (sentences joined by newlines, tokens by spaces)."""
    import hashlib

    text = "\n".join(" ".join(s) for s in sentences)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
