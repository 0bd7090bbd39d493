"""Text corpora as sentences of whitespace tokens: the Penn Treebank LM text (``treebank``
package, optional extra ``data``) and the user's own files. Nothing is downloaded.

Source: the Penn Treebank (Marcus et al. 1993) in the language-modelling preprocessing of
Mikolov et al. 2010 (10k vocabulary, ``<unk>``, numbers as ``N``), the benchmark of Zaremba et
al. (arXiv:1409.2329) and ON-LSTM (arXiv:1810.09536).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from ..devices import infer_device
from ._extra import require

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")

Sentences = list[list[str]]


@dataclass(frozen=True, eq=False)
class Corpus:
    """A language-modelling corpus: ``train``, ``valid``, ``test`` as lists of sentences (lists
    of tokens) and the ``vocab``.

    ``<eos>`` convention (Mikolov et al. 2010; Zaremba et al. 2014): sentences do not contain
    it; a language model reads each sentence followed by one ``<eos>``, so ``<eos>`` is in
    ``vocab`` and counted once per sentence in :attr:`n_tokens`, and :meth:`encode` appends it.
    ``<unk>`` stands for out-of-vocabulary words.
    """

    train: Sentences
    valid: Sentences
    test: Sentences
    vocab: list[str]

    @classmethod
    def from_sentences(cls, train: Sentences, valid: Sentences | None = None,
                       test: Sentences | None = None) -> Corpus:
        """A corpus from the user's sentences (e.g. :func:`read_corpus`); the vocabulary is the
        sorted set of training tokens plus ``<eos>`` and ``<unk>`` (which :meth:`encode` uses for
        validation/test words never seen in training).

        Raises:
            ValueError: ``train`` has no token.
        """
        train = [list(s) for s in train]
        if not any(train):
            raise ValueError("train must hold at least one sentence with a token; got an empty "
                             "corpus")
        vocab = sorted({w for s in train for w in s} | {EOS, UNK})
        return cls(train=train, valid=[list(s) for s in valid or []],
                   test=[list(s) for s in test or []], vocab=vocab)

    @property
    def n_tokens(self) -> dict[str, int]:
        """Tokens per split, ``{"train": …, "valid": …, "test": …}``, counting one ``<eos>`` per
        sentence (the usual PTB counts: 929,589 / 73,760 / 82,430)."""
        return {k: sum(len(s) + 1 for s in getattr(self, k)) for k in SPLITS}

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """Token → id, the position in :attr:`vocab`."""
        return {w: i for i, w in enumerate(self.vocab)}

    def encode(self, sentences: Sentences | str, *, eos: bool = True,
               device: torch.device | str | None = None) -> torch.Tensor:
        """Token ids of ``sentences`` (or of a split, by name) as one stream, ``(T,)`` int64,
        with ``<eos>`` after each sentence when ``eos``; unknown tokens become ``<unk>``.

        Raises:
            ValueError: an unknown split name, or a token outside the vocabulary when the
                vocabulary has no ``<unk>``.
        """
        if isinstance(sentences, str):
            if sentences not in SPLITS:
                raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {sentences!r}")
            sentences = getattr(self, sentences)
        index = self.index
        unk = index.get(UNK)
        end = [index[EOS]] if eos and EOS in index else []
        if eos and not end:
            raise ValueError(f"the vocabulary has no {EOS!r}; pass eos=False")
        ids: list[int] = []
        for s in sentences:
            for w in s:
                i = index.get(w, unk)
                if i is None:
                    raise ValueError(f"token {w!r} is not in the vocabulary, which has no "
                                     f"{UNK!r}; build the corpus with Corpus.from_sentences")
                ids.append(i)
            ids.extend(end)
        return torch.tensor(ids, dtype=torch.int64, device=infer_device(device))


@functools.lru_cache(maxsize=1)
def _ptb_sentences() -> dict[str, tuple[tuple[str, ...], ...]]:
    """The three PTB splits from the ``treebank`` package, read once per process."""
    tb = require("treebank", "kexue.data.ptb")
    out = {}
    for k in SPLITS:
        out[k] = tuple(tuple(line.split()) for line in _ptb_lines(tb, k) if line.strip())
    return out


def _ptb_lines(tb, split: str) -> list[str]:
    """One split's lines. ``treebank`` (0.0.0) ships the text in its ``__init__.py``:
    ``treebank.penn`` is a dict of ``"train"``/``"valid"``/``"test"`` strings, one sentence a
    line (Mikolov's ``ptb.*.txt``: a leading and a trailing space on each line)."""
    penn = getattr(tb, "penn", None)
    if not isinstance(penn, dict) or not isinstance(penn.get(split), str):
        raise RuntimeError(f"the installed treebank package has no treebank.penn[{split!r}] text;"
                           " kexue.data.ptb was written for treebank 0.0.0")
    return penn[split].split("\n")


def ptb(*, split: str | None = None) -> Corpus | Sentences:
    """The Penn Treebank language-modelling text of Mikolov et al. (2010), as shipped by the
    ``treebank`` package: the standard split (sections 0–20 / 21–22 / 23–24 of the WSJ), 10,000
    word types (``<unk>`` for the rest), lower-cased, numbers as ``N``, one sentence a line. The
    ON-LSTM paper (Shen et al. 2019, arXiv:1810.09536) uses this split. Needs the optional extra
    ``data``; the text is never copied into kexue.

    Args:
        split: ``None`` for the whole :class:`Corpus`, or ``"train"``, ``"valid"``, ``"test"`` for
            that split's sentences only.

    Returns:
        :class:`Corpus` (``vocab``: the 9,999 words of the training text plus ``<eos>``), or a
        list of sentences (lists of tokens) for one split. Fresh lists at each call.

    Raises:
        MissingExtraError: (an ``ImportError``) ``treebank`` is not installed.
        ValueError: an unknown ``split``.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be None or one of {', '.join(SPLITS)}; got {split!r}")
    require("treebank", "kexue.data.ptb")
    data = _ptb_sentences()
    if split is not None:
        return [list(s) for s in data[split]]
    parts = {k: [list(s) for s in data[k]] for k in SPLITS}
    vocab = sorted({w for s in data["train"] for w in s} | {EOS})
    return Corpus(**parts, vocab=vocab)


def read_corpus(path_or_lines: str | os.PathLike | Iterable[str], *,
                lowercase: bool = False) -> Sentences:
    """The user's text as sentences: one sentence a line, tokens separated by whitespace.

    Source: the Penn Treebank LM text (Marcus et al. 1993; Mikolov et al. 2010) is read the same
    way.

    Blank lines are skipped. A file is read as UTF-8.

    Args:
        path_or_lines: a file path (``str`` or ``os.PathLike``), or an iterable of lines.
        lowercase: lower-case every token.

    Returns:
        List of sentences, each a non-empty list of tokens, in file order.

    Raises:
        ValueError: no sentence (an empty or blank file / iterable), or ``path_or_lines`` is
            a folder. FileNotFoundError: no such file.
        TypeError: neither a path nor an iterable of strings.
    """
    if isinstance(path_or_lines, (str, os.PathLike)):
        where = os.fspath(path_or_lines)
        if os.path.isdir(where):
            raise ValueError(f"path_or_lines must be a text file (one sentence a line); "
                             f"{where!r} is a folder")
        with open(where, encoding="utf-8") as fh:
            lines: Sequence[str] | Iterable[str] = fh.read().splitlines()
        where = f"file {where!r}"
    elif isinstance(path_or_lines, Iterable) and not isinstance(path_or_lines, bytes):
        lines, where = path_or_lines, "the given lines"
    else:
        raise TypeError(f"path_or_lines must be a file path or an iterable of str lines; got "
                        f"{type(path_or_lines).__name__}")
    out = []
    for n, line in enumerate(lines):
        if not isinstance(line, str):
            raise TypeError(f"path_or_lines: line {n} is a {type(line).__name__}, not a str")
        toks = (line.lower() if lowercase else line).split()
        if toks:
            out.append(toks)
    if not out:
        raise ValueError(f"empty corpus: {where} has no non-blank line; write one sentence a "
                         "line, tokens separated by spaces")
    return out
