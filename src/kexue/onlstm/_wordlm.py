"""Word-level language modelling on a token stream: truncated BPTT with a carried state.

The setting of the ON-LSTM paper's Penn Treebank experiment (Shen et al., ICLR 2019,
arXiv:1810.09536; kexue.fm archive 6621), itself that of Zaremba et al. (arXiv:1409.2329) and
AWD-LSTM (Merity et al., arXiv:1708.02182):

* the training text is one stream of token ids (every sentence followed by ``<eos>``), cut into
  ``batch_size`` contiguous columns (:func:`batchify`, ``(rows, B)``);
* training walks down the columns in windows of ``bptt`` steps; the recurrent state at the end
  of a window starts the next one, detached (truncated back-propagation through time), and is
  reset to zero at the start of each pass over the stream;
* gradient-norm clipping, and "locked" dropout (one mask per sequence, Gal & Ghahramani
  arXiv:1512.05287) on the embeddings, between layers and before the softmax;
* the embedding and the softmax share their weights (Press & Wolf arXiv:1608.05859; Inan et al.
  arXiv:1611.01462), so the last recurrent layer is ``embed_size`` wide, as in AWD-LSTM and
  the ON-LSTM code;
* perplexity ``exp(mean NLL)`` over every token of a split (:func:`token_nll`,
  :func:`stream_perplexity`).

The training loop (:class:`WordLMConfig`, :class:`WordLMTrainer`, on the training engine) is in
``_wordlm_train``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._model import RNN_KINDS
from ._stack import ONLSTM

__all__ = ["batchify", "WordLM", "word_lm_parameters", "matched_word_lm_hidden",
           "detach_hidden", "token_nll", "stream_perplexity"]

Hidden = tuple[tuple[torch.Tensor, torch.Tensor], ...]


def _check_stream(stream: object, name: str, minimum: int) -> torch.Tensor:
    if not isinstance(stream, torch.Tensor):
        raise TypeError(f"{name} must be a 1-D int64 tensor of token ids (e.g. "
                        f"Corpus.encode('train')); got {type(stream).__name__}")
    if stream.dim() != 1 or stream.dtype != torch.int64:
        raise ValueError(f"{name} must be a 1-D int64 tensor of token ids; got shape "
                         f"{tuple(stream.shape)} and dtype {stream.dtype}")
    if stream.numel() < minimum:
        raise ValueError(f"{name} has {stream.numel()} tokens; need at least {minimum} (an "
                         "empty corpus?). Give a longer text or a smaller batch_size")
    return stream


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a token stream into ``batch_size`` contiguous columns (Zaremba et al. 2014).

    Args:
        stream: ``(N,)`` int64 token ids.
        batch_size: number of columns ``B``.

    Returns:
        ``(N // B, B)``: column ``b`` is ``stream[b·R : (b + 1)·R]`` with ``R = N // B``; the
        last ``N mod B`` tokens are dropped.

    Raises:
        ValueError: ``batch_size < 1`` or fewer than ``2·batch_size`` tokens.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    stream = _check_stream(stream, "stream", 2 * batch_size)
    rows = stream.numel() // batch_size
    return stream[: rows * batch_size].view(batch_size, rows).t().contiguous()  # (R, B)


def _widths(embed_size: int, hidden_size: int, num_layers: int, tie_weights: bool
            ) -> list[tuple[int, int]]:
    """(input, output) width of every recurrent layer; the last is ``embed_size`` wide when
    the softmax is tied to the embedding."""
    outs = [hidden_size] * num_layers
    if tie_weights:
        outs[-1] = embed_size
    ins = [embed_size, *outs[:-1]]
    return list(zip(ins, outs))


def word_lm_parameters(vocab_size: int, embed_size: int, hidden_size: int, num_layers: int, *,
                       kind: str, chunk_size: int, tie_weights: bool = True) -> int:
    """Trainable parameters of a :class:`WordLM` (closed form; equals ``count_parameters``).

    Embedding ``V·E``, softmax bias ``V`` (and weight ``V·E_out`` unless tied), and per layer
    ``rows·(in + out + 2)`` with ``rows = 4·out`` for an LSTM and ``4·out + 2·out/chunk_size``
    for an ON-LSTM (the master forget and input gates, one unit per chunk).
    """
    if kind not in RNN_KINDS:
        raise ValueError(f"kind must be one of {RNN_KINDS}; got {kind!r}")
    widths = _widths(embed_size, hidden_size, num_layers, tie_weights)
    total = vocab_size * embed_size + vocab_size
    if not tie_weights:
        total += vocab_size * widths[-1][1]
    for inp, out in widths:
        rows = 4 * out + (2 * (out // chunk_size) if kind == "onlstm" else 0)
        total += rows * (inp + out + 2)
    return total


def matched_word_lm_hidden(vocab_size: int, embed_size: int, hidden_size: int, num_layers: int,
                           chunk_size: int, *, tie_weights: bool = True) -> int:
    """Hidden width of a plain-LSTM :class:`WordLM` whose parameter count is closest to the
    ON-LSTM model's (ON-LSTM's master gates add ``2·out/chunk_size`` rows to every layer; the
    LSTM's inner layers are widened instead).

    Raises:
        ValueError: a tied one-layer model (its only layer is ``embed_size`` wide, so there is
            no width to widen): use ``num_layers >= 2`` or ``tie_weights=False``.
    """
    if tie_weights and num_layers < 2:
        raise ValueError("a tied one-layer WordLM has no hidden width to match (its only layer "
                         "is embed_size wide); use num_layers >= 2 or tie_weights=False")
    target = word_lm_parameters(vocab_size, embed_size, hidden_size, num_layers, kind="onlstm",
                                chunk_size=chunk_size, tie_weights=tie_weights)
    return min(range(hidden_size, 2 * hidden_size + 1),
               key=lambda h: abs(word_lm_parameters(vocab_size, embed_size, h, num_layers,
                                                    kind="lstm", chunk_size=chunk_size,
                                                    tie_weights=tie_weights) - target))


def detach_hidden(hidden: Hidden) -> Hidden:
    """The state cut from the graph (truncated BPTT): same values, no history.

    Source: truncated BPTT as in Zaremba et al. (arXiv:1409.2329).
    """
    return tuple((h.detach(), c.detach()) for h, c in hidden)


class WordLM(nn.Module):
    """Word-level LM: embedding → stacked ON-LSTM or LSTM layers → softmax (AWD-LSTM layout).

    Shen et al. 2019 (arXiv:1810.09536) train this layout on PTB (3 × 1150, embedding 400,
    tied). Each layer is a one-layer :class:`~kexue.onlstm.ONLSTM` or ``torch.nn.LSTM`` so that
    all dropout masks come from a ``torch.Generator``.

    Args:
        vocab_size: ``V``.
        embed_size: ``E``, the embedding width (and the last layer's width when tied).
        hidden_size: ``H``, the width of the other layers.
        num_layers: recurrent layers.
        kind: ``"onlstm"`` or ``"lstm"``.
        chunk_size: ON-LSTM neurons per master-gate level (must divide ``E`` and ``H``).
        tie_weights: share the embedding and softmax weights.
        dropout: locked dropout between recurrent layers.
        dropout_embed: locked dropout on the embeddings.
        dropout_out: locked dropout on the last layer's output (before the softmax).
        master_input: the ON-LSTM master input gate (``"paper"`` or ``"symmetric"``).

    Raises:
        ValueError: unknown ``kind``, a dropout outside ``[0, 1)``, or sizes that are not
            multiples of ``chunk_size`` (ON-LSTM).
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int = 2,
                 *, kind: str = "onlstm", chunk_size: int = 10, tie_weights: bool = True,
                 dropout: float = 0.0, dropout_embed: float = 0.0, dropout_out: float = 0.0,
                 master_input: str = "paper") -> None:
        super().__init__()
        if kind not in RNN_KINDS:
            raise ValueError(f"kind must be one of {RNN_KINDS}; got {kind!r}")
        for name, v in (("vocab_size", vocab_size), ("embed_size", embed_size),
                        ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        for name, p in (("dropout", dropout), ("dropout_embed", dropout_embed),
                        ("dropout_out", dropout_out)):
            if not 0.0 <= float(p) < 1.0:
                raise ValueError(f"{name} must be in [0, 1); got {p!r}")
        self.kind = kind
        self.vocab_size = vocab_size
        self.tie_weights = tie_weights
        self.dropout, self.dropout_embed, self.dropout_out = (float(dropout),
                                                              float(dropout_embed),
                                                              float(dropout_out))
        self.widths = _widths(embed_size, hidden_size, num_layers, tie_weights)
        if kind == "onlstm":
            bad = sorted({w for _, w in self.widths if w % chunk_size})
            if bad:
                raise ValueError(f"ON-LSTM layer widths {bad} are not multiples of chunk_size="
                                 f"{chunk_size}; choose embed_size and hidden_size divisible "
                                 "by it")
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.layers = nn.ModuleList(
            ONLSTM(i, o, 1, chunk_size=chunk_size, master_input=master_input)
            if kind == "onlstm" else nn.LSTM(i, o, 1)
            for i, o in self.widths)
        self.decoder = nn.Linear(self.widths[-1][1], vocab_size)
        if tie_weights:
            self.decoder.weight = self.embed.weight

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """Initialise from ``generator`` (the global RNG is untouched): embedding
        ``U(−0.1, 0.1)`` (AWD-LSTM), recurrent weights and biases ``U(−1/√out, 1/√out)`` (as
        ``nn.LSTM``), softmax bias 0 (and weight ``U(−0.1, 0.1)`` when untied)."""
        self.embed.weight.uniform_(-0.1, 0.1, generator=generator)
        for layer, (_, out) in zip(self.layers, self.widths):
            bound = 1.0 / math.sqrt(out)
            for p in layer.parameters():
                p.uniform_(-bound, bound, generator=generator)
        if not self.tie_weights:
            self.decoder.weight.uniform_(-0.1, 0.1, generator=generator)
        self.decoder.bias.zero_()

    def init_hidden(self, batch_size: int) -> Hidden:
        """Zero state: per layer ``(h, c)``, each ``(1, B, out)``."""
        w = self.embed.weight
        return tuple((w.new_zeros(1, batch_size, o), w.new_zeros(1, batch_size, o))
                     for _, o in self.widths)

    def _drop(self, x: torch.Tensor, p: float, generator: torch.Generator | None
              ) -> torch.Tensor:
        if not p or not self.training:
            return x
        keep = 1.0 - p
        mask = torch.bernoulli(x.new_full((1, *x.shape[1:]), keep), generator=generator)
        return x * mask / keep  # (T, B, D): one mask per sequence

    def forward(self, tokens: torch.Tensor, hidden: Hidden | None = None, *,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, Hidden]:
        """Next-token logits for a window, continuing from ``hidden``.

        Args:
            tokens: ``(T, B)`` int64 token ids.
            hidden: the state of the previous window (:meth:`init_hidden` layout), or None
                for zeros.
            generator: RNG of the dropout masks in training mode (the global RNG when None).

        Returns:
            ``(logits (T, B, V), hidden)``; ``hidden`` is attached to the graph (pass it
            through :func:`detach_hidden` before the next window when training).

        Raises:
            ValueError: ``tokens`` not 2-D, or a ``hidden`` with the wrong number of layers.
        """
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
            shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens)
            raise ValueError(f"tokens must be a (T, B) tensor of ids; got {shape}")
        if hidden is not None and len(hidden) != len(self.layers):
            raise ValueError(f"hidden must hold one (h, c) per layer ({len(self.layers)}); "
                             f"got {len(hidden)}")
        x = self._drop(self.embed(tokens), self.dropout_embed, generator)  # (T, B, E)
        new = []
        last = len(self.layers) - 1
        for k, layer in enumerate(self.layers):
            x, hk = layer(x, None if hidden is None else hidden[k])  # (T, B, out_k)
            new.append(hk)
            x = self._drop(x, self.dropout if k < last else self.dropout_out, generator)
        return self.decoder(x), tuple(new)  # (T, B, V)


@torch.no_grad()
def token_nll(model: nn.Module, stream: torch.Tensor, *, batch_size: int = 10,
              bptt: int = 70) -> torch.Tensor:
    """Negative log-likelihood (nats, float64) of every token of a stream after the first.

    Source: the Penn Treebank protocol of Zaremba et al. (arXiv:1409.2329) and Shen et al. 2019
    (arXiv:1810.09536).

    The ``N − 1`` predictions ``p(stream[t + 1] | stream[:t + 1])`` are split into
    ``batch_size`` contiguous columns of ``ceil((N − 1)/B)`` steps, read in windows of ``bptt``
    steps with the state carried; each column starts from a zero state, so its first
    prediction sees no earlier context (``B − 1`` predictions in all, out of ``N − 1``).
    Prepend ``<eos>`` to a split to score all of its tokens. The log-softmax is in the model's
    dtype (float64 models are exact to rounding); the NLLs are returned and summed in float64.

    Args:
        model: ``model(tokens (T, B), hidden) -> (logits (T, B, V), hidden)``, e.g.
            :class:`WordLM` (evaluated in eval mode; its mode is restored).
        stream: ``(N,)`` int64 token ids, ``N >= 2``.
        batch_size: ``B`` columns evaluated together.
        bptt: window length (any value gives the same result: the state is carried).

    Returns:
        ``(N − 1,)`` float64: ``nll[t] = −log p(stream[t + 1] | …)``, in stream order.

    Raises:
        ValueError: a stream of fewer than 2 tokens, or bad ``batch_size``/``bptt``.
    """
    stream = _check_stream(stream, "stream", 2)
    for name, v in (("batch_size", batch_size), ("bptt", bptt)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}")
    n = stream.numel() - 1
    B = min(batch_size, n)
    L = -(-n // B)
    inp = stream.new_zeros(L * B)
    tgt = stream.new_full((L * B,), -100)
    inp[:n], tgt[:n] = stream[:-1], stream[1:]
    inp, tgt = inp.view(B, L).t(), tgt.view(B, L).t()  # (L, B): column b is one stretch
    was_training = model.training
    model.eval()
    out = torch.zeros(L, B, dtype=torch.float64, device=stream.device)
    hidden = None
    try:
        for lo in range(0, L, bptt):
            hi = min(lo + bptt, L)
            logits, hidden = model(inp[lo:hi], hidden)  # (T, B, V)
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                  tgt[lo:hi].reshape(-1), ignore_index=-100, reduction="none")
            out[lo:hi] = nll.view(hi - lo, B).double()
    finally:
        model.train(was_training)
    return out.t().reshape(-1)[:n]  # (N − 1,) in stream order


def stream_perplexity(model: nn.Module, stream: torch.Tensor, *, batch_size: int = 10,
                      bptt: int = 70) -> float:
    """Per-token perplexity ``exp(mean NLL)`` of ``model`` on a stream (:func:`token_nll`). A
    model that gives every token the same logit scores exactly the vocabulary size.

    Source: the Penn Treebank protocol of Zaremba et al. (arXiv:1409.2329) and Shen et al. 2019
    (arXiv:1810.09536).
    """
    return math.exp(float(token_nll(model, stream, batch_size=batch_size, bptt=bptt).mean()))
