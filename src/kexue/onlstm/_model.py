"""Language models built on ON-LSTM or LSTM, and a plain LSTM's gates read as distances.

Shen et al., ICLR 2019 (arXiv:1810.09536); kexue.fm archive 6621. The multi-layer ON-LSTM itself
and its :class:`Distances` are in :mod:`kexue.onlstm._stack`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._stack import ONLSTM, Distances

__all__ = ["LanguageModel", "lstm_gate_distances", "RNN_KINDS", "count_parameters",
           "matched_lstm_hidden"]

RNN_KINDS = ("onlstm", "lstm")


def lstm_gate_distances(lstm: nn.LSTM, input: torch.Tensor) -> Distances:
    """Read a plain ``nn.LSTM`` the way ON-LSTM is read: ``1 − mean(f_t)`` and ``mean(i_t)``.

    The baseline of the reference evaluation plan (kexue.fm 6621; Shen et al. 2019): the gates
    are recomputed from the weights, each layer's input and its previous output,
    ``f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf)`` (``i_t`` likewise), so that the same
    decoder can be applied to a model without master gates.

    Args:
        lstm: a unidirectional ``nn.LSTM`` without projections.
        input: ``(T, B, input_size)`` (batch-first if the LSTM is).

    Returns:
        :class:`Distances` with ``forget = 1 − mean(f)`` and ``input = mean(i)``, each
        ``(num_layers, T, B)`` (``(num_layers, B, T)`` if batch-first), values in ``[0, 1]``.

    Raises:
        ValueError: a bidirectional or projected LSTM, or input that is not 3-D.
    """
    if lstm.bidirectional or lstm.proj_size:
        raise ValueError("lstm_gate_distances needs a unidirectional nn.LSTM without proj_size")
    if input.dim() != 3:
        raise ValueError(f"input must be 3-D; got shape {tuple(input.shape)}")
    x = input.transpose(0, 1) if lstm.batch_first else input  # (T, B, in)
    H = lstm.hidden_size
    d_f, d_i = [], []
    with torch.no_grad():
        for k in range(lstm.num_layers):
            w_ih, w_hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
            layer = nn.LSTM(x.shape[-1], H, bias=lstm.bias, dtype=x.dtype, device=x.device)
            layer.weight_ih_l0.copy_(w_ih)
            layer.weight_hh_l0.copy_(w_hh)
            pre = x @ w_ih[:2 * H].t()  # input and forget rows, (T, B, 2H)
            if lstm.bias:
                layer.bias_ih_l0.copy_(getattr(lstm, f"bias_ih_l{k}"))
                layer.bias_hh_l0.copy_(getattr(lstm, f"bias_hh_l{k}"))
                pre = pre + (layer.bias_ih_l0 + layer.bias_hh_l0)[:2 * H]
            hs, _ = layer(x)  # (T, B, H)
            h_prev = torch.cat([hs.new_zeros(1, *hs.shape[1:]), hs[:-1]])  # (T, B, H)
            gates = torch.sigmoid(pre + h_prev @ w_hh[:2 * H].t())  # (T, B, 2H)
            d_i.append(gates[..., :H].mean(-1))  # (T, B)
            d_f.append(1.0 - gates[..., H:].mean(-1))
            x = hs
    out = Distances(torch.stack(d_f), torch.stack(d_i))  # (L, T, B)
    if lstm.batch_first:
        out = Distances(out.forget.transpose(1, 2), out.input.transpose(1, 2))
    return out


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class LanguageModel(nn.Module):
    """Token-level language model: embedding → ON-LSTM or LSTM stack → linear softmax layer.

    Source: Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.

    Args:
        vocab_size: number of token ids (including sentinels and padding).
        embed_size: embedding width.
        hidden_size: recurrent width (for ``kind="lstm"``, see :func:`matched_lstm_hidden`).
        num_layers: recurrent layers.
        kind: ``"onlstm"`` or ``"lstm"`` (``torch.nn.LSTM``).
        chunk_size: ON-LSTM chunk size (ignored for ``"lstm"``).
        master_input: ON-LSTM master input gate variant.
        dropout: between-layer dropout.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int = 2,
                 *, kind: str = "onlstm", chunk_size: int = 8, master_input: str = "paper",
                 dropout: float = 0.0) -> None:
        super().__init__()
        if kind not in RNN_KINDS:
            raise ValueError(f"kind must be one of {RNN_KINDS}; got {kind!r}")
        self.kind = kind
        self.embed = nn.Embedding(vocab_size, embed_size)
        if kind == "onlstm":
            self.rnn = ONLSTM(embed_size, hidden_size, num_layers, chunk_size=chunk_size,
                              dropout=dropout, master_input=master_input)
        else:
            self.rnn = nn.LSTM(embed_size, hidden_size, num_layers, dropout=dropout)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: torch.Tensor, *, return_distances: bool = False):
        """Next-token logits.

        Args:
            tokens: ``(T, B)`` token ids.
            return_distances: also return the :class:`Distances` ``(num_layers, T, B)``: the
                master-gate distances of an ON-LSTM, the gate distances of a plain LSTM
                (:func:`lstm_gate_distances`).

        Returns:
            ``logits (T, B, vocab)`` or ``(logits, Distances)``.
        """
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (T, B); got shape {tuple(tokens.shape)}")
        e = self.embed(tokens)  # (T, B, E)
        if self.kind == "onlstm":
            if return_distances:
                hs, _, dist = self.rnn(e, return_distances=True)
            else:
                hs, _ = self.rnn(e)
        else:
            hs, _ = self.rnn(e)
            dist = None
            if return_distances:
                dist = lstm_gate_distances(self.rnn, e)
        logits = self.out(hs)  # (T, B, V)
        if return_distances:
            return logits, dist
        return logits

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor, pad: int) -> torch.Tensor:
        """Mean cross-entropy (nats per token) over targets that are not ``pad``."""
        logits = self(tokens)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=pad)


def matched_lstm_hidden(vocab_size: int, embed_size: int, hidden_size: int, num_layers: int,
                        chunk_size: int) -> int:
    """Hidden width of a plain-LSTM language model with (nearly) the ON-LSTM model's parameters.

    ON-LSTM adds ``2·n_chunk`` rows to every layer's projections; the LSTM is widened instead.
    Returns the width whose parameter count is closest to the ON-LSTM model's.
    """

    def n_params(kind: str, hidden: int) -> int:
        total = vocab_size * embed_size + hidden * vocab_size + vocab_size
        for k in range(num_layers):
            inp = embed_size if k == 0 else hidden
            rows = 4 * hidden + (2 * (hidden // chunk_size) if kind == "onlstm" else 0)
            total += rows * (inp + hidden) + 2 * rows
        return total

    target = n_params("onlstm", hidden_size)
    best = min(range(hidden_size, 2 * hidden_size + 1),
               key=lambda h: abs(n_params("lstm", h) - target))
    return best
