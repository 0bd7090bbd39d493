"""Ordered-neuron LSTM and unsupervised tree induction (kexue.fm 6621; Shen et al., ICLR 2019).

* :func:`cumax`, :class:`ONLSTMCell`, :class:`ONLSTM` — the model (a drop-in for ``nn.LSTM``
  that also returns per-layer syntactic distances).
* :func:`syntactic_distance`, :func:`build_tree`, :func:`tree_f1` — reading trees out of a
  trained language model and scoring them, with trivial baselines, the decoder's ceiling
  (:func:`split_ceiling`) and gold-tree oracles (:func:`gold_distances`); :func:`readings` /
  :func:`choose_reading` — which layer and master gate the decoder is given.
* :class:`PCFG` and :data:`grammars` — seeded grammars with gold trees and exact (inside
  algorithm) sentence probabilities, hence the optimal perplexity.
* :class:`Trainer` — language-model training with exact resume and a NaN guard;
  :func:`load_model` for parsing with a checkpoint.
* :func:`extension_status` / :func:`load_extension` — the C++ layer loop (compiled on first use;
  ``KEXUE_ONLSTM_EXT=0`` forces the Python loop).
* :class:`WordLM`, :class:`WordLMTrainer`, :func:`token_nll`, :func:`stream_perplexity` —
  word-level language models on a token stream (Penn Treebank): truncated BPTT with the state
  carried across windows, clipping, locked dropout, tied softmax, perplexity over a split.
"""

from ._cell import (
    MASTER_INPUT,
    ONLSTMCell,
    cumax,
    default_chunk_size,
    master_gates,
    onlstm_step,
    syntactic_distance,
)
from ._ext import ENV_VAR as EXTENSION_ENV_VAR
from ._ext import extension_status, load_extension
from ._grammars import GRAMMAR_NAMES, get_grammar, grammars
from ._lm_config import TrainConfig, load_model
from ._lm_eval import lm_perplexity, sentence_distances
from ._model import (
    LanguageModel,
    count_parameters,
    lstm_gate_distances,
    matched_lstm_hidden,
)
from ._pcfg import PCFG
from ._reading import GATES, choose_reading, parse_sentences, reading_distances, readings
from ._stack import ONLSTM, Distances
from ._train import Trainer, TrainingDiverged
from ._tree import (
    TreeF1,
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
from ._vocab import CORPUS, Vocab
from ._wordlm import (
    WordLM,
    batchify,
    detach_hidden,
    matched_word_lm_hidden,
    stream_perplexity,
    token_nll,
    word_lm_parameters,
)
from ._wordlm_train import WordLMConfig, WordLMTrainer

__all__ = [
    "cumax", "default_chunk_size", "master_gates", "onlstm_step", "MASTER_INPUT", "ONLSTMCell",
    "ONLSTM", "Distances",
    "LanguageModel", "lstm_gate_distances", "count_parameters", "matched_lstm_hidden",
    "syntactic_distance", "build_tree", "tree_f1", "TreeF1", "tree_spans", "tree_leaves",
    "tree_to_str", "right_branching", "left_branching", "balanced_tree", "random_tree",
    "split_ceiling", "gold_distances", "PCFG", "grammars", "get_grammar", "GRAMMAR_NAMES",
    "Trainer", "TrainConfig", "CORPUS", "TrainingDiverged", "Vocab", "lm_perplexity",
    "sentence_distances", "load_model", "GATES", "readings", "reading_distances",
    "parse_sentences", "choose_reading", "WordLM", "WordLMConfig", "WordLMTrainer", "batchify",
    "detach_hidden", "matched_word_lm_hidden", "stream_perplexity", "token_nll",
    "word_lm_parameters", "extension_status", "load_extension", "EXTENSION_ENV_VAR",
]
