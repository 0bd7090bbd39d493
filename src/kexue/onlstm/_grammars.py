"""Seeded evaluation grammars with known trees (no treebank is available offline).

* ``english`` — an English-like mixed-branching grammar: ``S → NP VP``, noun phrases with
  determiners, adjectives, prepositional phrases (``NP → NP PP``, left-recursive) and pronouns,
  transitive/intransitive/clausal verbs (``VP → V_s that S``, right-recursive), a small lexicon.
* ``mirror`` — the same grammar with every right-hand side reversed: a head-final,
  left-branching language that exposes a parser living off the decoder's right-branching bias
  (Dyer et al., arXiv:1909.09428).
* ``arithmetic`` — prefix (Polish) arithmetic without brackets, ``E → op E E | digit``:
  ``+ 3 * 4 5``. The tree is determined by the tokens but not marked in them.
* ``brackets`` — nested brackets of two kinds around prefix-style content,
  ``E → ( op E E ) | [ op E E ] | digit``: the tree is marked, and a language model must keep a
  stack of open bracket kinds to predict the closing ones.

``grammars`` maps each name to a zero-argument factory (the grammars are cheap to build);
:func:`get_grammar` validates the name.
"""

from __future__ import annotations

from collections.abc import Callable

from ._pcfg import PCFG

__all__ = ["grammars", "get_grammar", "english", "mirror", "arithmetic", "brackets",
           "GRAMMAR_NAMES"]


def _lexicon(words: str) -> list[tuple[tuple[str, ...], float]]:
    ws = words.split()
    return [((w,), 1.0 / len(ws)) for w in ws]


def english() -> PCFG:
    """English-like mixed-branching PCFG (lengths 4–20)."""
    rules = {
        "S": [(("NP", "VP"), 1.0)],
        "NP": [(("Det", "N"), 0.45), (("Det", "Adj", "N"), 0.2), (("NP", "PP"), 0.2),
               (("Pron",), 0.15)],
        "VP": [(("V", "NP"), 0.45), (("V", "NP", "PP"), 0.15), (("Vi",), 0.2),
               (("Vs", "that", "S"), 0.2)],
        "PP": [(("P", "NP"), 1.0)],
        "Det": _lexicon("the a every some this no"),
        "N": _lexicon("dog cat man woman park telescope idea house bird child"),
        "Adj": _lexicon("big small old red happy quiet green"),
        "Pron": _lexicon("she he they it"),
        "V": _lexicon("saw liked chased found took heard"),
        "Vi": _lexicon("slept ran laughed arrived"),
        "Vs": _lexicon("said thought knew"),
        "P": _lexicon("in on with near under"),
    }
    return PCFG(rules, "S", min_len=4, max_len=20, name="english")


def mirror() -> PCFG:
    """The mirror image of :func:`english` (every right-hand side reversed)."""
    return english().mirror(name="mirror")


def arithmetic(p_op: float = 0.45) -> PCFG:
    """Prefix arithmetic ``E → op E E (p_op) | digit`` (lengths 5–25: at least two operators,
    so every gold tree has a bracket besides the whole sentence)."""
    rules = {
        "E": [(("Op", "E", "E"), p_op), (("Num",), 1.0 - p_op)],
        "Op": _lexicon("+ - * /"),
        "Num": _lexicon("0 1 2 3 4 5 6 7 8 9"),
    }
    return PCFG(rules, "E", min_len=5, max_len=25, name="arithmetic")


def brackets(p_op: float = 0.45) -> PCFG:
    """Two kinds of brackets around prefix expressions (lengths 9–30: at least two operators)."""
    rules = {
        "E": [(("(", "Op", "E", "E", ")"), p_op / 2), (("[", "Op", "E", "E", "]"), p_op / 2),
              (("Num",), 1.0 - p_op)],
        "Op": _lexicon("+ - * /"),
        "Num": _lexicon("0 1 2 3 4 5 6 7 8 9"),
    }
    return PCFG(rules, "E", min_len=9, max_len=30, name="brackets")


grammars: dict[str, Callable[[], PCFG]] = {
    "english": english,
    "mirror": mirror,
    "arithmetic": arithmetic,
    "brackets": brackets,
}
GRAMMAR_NAMES = tuple(grammars)


def get_grammar(name: str) -> PCFG:
    """Build the grammar called ``name``; ``ValueError`` listing the valid names otherwise.

    Source: synthetic grammars in the spirit of Dyer, Melis and Blunsom 2019 (arXiv:1909.09428).
    """
    if name not in grammars:
        raise ValueError(f"unknown grammar {name!r}; valid names: {', '.join(grammars)}")
    return grammars[name]()
