"""Multi-layer ON-LSTM (a drop-in for ``torch.nn.LSTM``) and its per-layer syntactic distances.

Shen et al., ICLR 2019 (arXiv:1810.09536); kexue.fm archive 6621. The syntactic distance of a
step is ``d_t = 1 − mean_k f̃_t(k)`` (Su: ``n·d_t + 1`` is the soft argmax of the master forget
gate's softmax, i.e. the expected split level); the master-input distance is ``mean_k ĩ_t(k)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from ._cell import ONLSTMCell, check_float, default_chunk_size, syntactic_distance
from ._layer import layer_reference, onlstm_layer

__all__ = ["ONLSTM", "Distances"]


class Distances(NamedTuple):
    """Per-layer syntactic distances of an ON-LSTM pass.

    Source: Shen et al. 2019 (arXiv:1810.09536); kexue.fm archive 6621.

    ``forget``: ``1 − mean(f̃_t)`` (the paper's distance); ``input``: ``mean(ĩ_t)``. Each is
    ``(num_layers, T, B)`` (``(num_layers, B, T)`` when ``batch_first``; ``(num_layers, T)`` for
    unbatched input), values in ``[0, 1]``; for a PackedSequence input padded to the longest
    sequence with 0 after each sequence's end, in the caller's batch order.
    """

    forget: torch.Tensor
    input: torch.Tensor


class ONLSTM(nn.Module):
    """Stacked ordered-neuron LSTM (Shen et al., ICLR 2019, arXiv:1810.09536; kexue.fm 6621).

    A drop-in for :class:`torch.nn.LSTM`: the same constructor arguments in the same positional
    order, ``forward(input, hx=None) -> (output, (h_n, c_n))`` with nn.LSTM's shapes, tensor or
    :class:`~torch.nn.utils.rnn.PackedSequence` input, ``batch_first`` and unbatched input; with
    ``return_distances=True`` a third element, the per-layer :class:`Distances`. Layers are
    :class:`ONLSTMCell` s (``self.cells``); the sequence loop uses a fused forward/backward
    (:mod:`kexue.onlstm._layer`, in C++ on the CPU) unless ``impl="autograd"``.

    Args:
        input_size: features of the input.
        hidden_size: features of each layer's state; a multiple of ``chunk_size``.
        num_layers: stacked layers.
        bias: use ``bias_ih`` and ``bias_hh`` in every layer.
        batch_first: tensor input and output are ``(B, T, ·)`` instead of ``(T, B, ·)``
            (``h_n``/``c_n`` stay ``(num_layers, B, H)``, as in nn.LSTM; ignored for a
            PackedSequence, as in nn.LSTM).
        dropout: dropout on the outputs of every layer but the last, one mask per sequence
            ("locked" dropout, as in the reference AWD-LSTM code base). 0 disables it.
        bidirectional: only ``False`` (ON-LSTM's master gates order levels along one direction
            of time); ``True`` raises ValueError with the two-model recipe.
        proj_size: only 0 (no projected states).
        device, dtype: of the parameters.
        chunk_size: neurons per level of the master gates, keyword only; default
            :func:`~kexue.onlstm._cell.default_chunk_size` — the paper's 10 (1150 hidden units
            in 115 levels) or the largest divisor of ``hidden_size`` below it keeping ≥ 2
            levels (512 → 8, 400 → 10, 128 → 8).
        master_input: ``"paper"`` or ``"symmetric"`` (Su's right-to-left cumsum).
        impl: ``"fused"`` (hand-written BPTT, the default) or ``"autograd"`` (reference loop).

    Raises:
        ValueError: a bad size, ``hidden_size % chunk_size != 0``, ``dropout`` outside
            ``[0, 1)``, ``bidirectional=True``, ``proj_size != 0``, or an unknown
            ``master_input``/``impl``.

    Examples:
        >>> import torch
        >>> from kexue.onlstm import ONLSTM
        >>> lstm = ONLSTM(8, 16, num_layers=2, chunk_size=4)
        >>> out, (h, c) = lstm(torch.randn(5, 3, 8))     # (seq, batch, feature), as nn.LSTM
        >>> out.shape, h.shape, c.shape
        (torch.Size([5, 3, 16]), torch.Size([2, 3, 16]), torch.Size([2, 3, 16]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None, *,
                 chunk_size: int | None = None, master_input: str = "paper",
                 impl: str = "fused") -> None:
        super().__init__()
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive int; got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
                0.0 <= float(dropout) < 1.0):
            raise ValueError(f"dropout must be a number in [0, 1); got {dropout!r}")
        if impl not in ("fused", "autograd"):
            raise ValueError(f"impl must be 'fused' or 'autograd'; got {impl!r}")
        if bidirectional:
            raise ValueError(
                "bidirectional=True is not supported by ONLSTM: its master gates order the "
                "levels along one direction of time. Use two ONLSTMs, one on the input and one "
                "on the time-reversed input (torch.flip(x, [0])), and concatenate their outputs")
        if proj_size:
            raise ValueError(f"proj_size must be 0 (ONLSTM has no projected states); got "
                             f"{proj_size!r}")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive int; got {hidden_size!r}")
        if chunk_size is None:
            chunk_size = default_chunk_size(hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = False
        self.proj_size = 0
        self.chunk_size = chunk_size
        self.master_input = master_input
        self.impl = impl
        self.cells = nn.ModuleList(
            ONLSTMCell(input_size if k == 0 else hidden_size, hidden_size, bias, device, dtype,
                       chunk_size=chunk_size, master_input=master_input)
            for k in range(num_layers)
        )
        self.n_chunk = self.cells[0].n_chunk

    def extra_repr(self) -> str:
        s = (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
             f"chunk_size={self.chunk_size}, master_input={self.master_input!r}")
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s

    def flatten_parameters(self) -> None:
        """No-op, for code written for nn.LSTM (whose cuDNN weights need one buffer)."""

    def _check_like_parameters(self, x: torch.Tensor, name: str) -> None:
        p = self.cells[0].weight_ih
        if x.device != p.device:
            raise ValueError(
                f"{name} is on device {x.device} but this ONLSTM's parameters are on "
                f"{p.device}; move one to the other (module.to({str(x.device)!r}) or "
                f"{name}.to({str(p.device)!r})). A meta-device ONLSTM takes meta inputs and "
                "returns meta outputs (shapes only)")
        if x.dtype != p.dtype:
            raise TypeError(
                f"{name} has dtype {x.dtype} but this ONLSTM's parameters are {p.dtype}; cast "
                f"the input ({name}.to({p.dtype})) or the module (module.to({x.dtype}))")

    def _initial_state(self, hx, B: int, x: torch.Tensor, unbatched: bool = False):
        L, H = self.num_layers, self.hidden_size
        if hx is None:
            return x.new_zeros(L, B, H), x.new_zeros(L, B, H)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("hx must be a tuple (h_0, c_0) of tensors, as for nn.LSTM; got "
                            f"{type(hx).__name__}")
        h0, c0 = hx
        for name, t in (("h_0", h0), ("c_0", c0)):
            check_float(t, name)
            self._check_like_parameters(t, name)
        if unbatched:
            if h0.dim() != 2 or c0.dim() != 2:
                raise ValueError(f"for unbatched (2-D) input hx must be 2-D {(L, H)}; got "
                                 f"{tuple(h0.shape)} and {tuple(c0.shape)}")
            h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        for name, t in (("h_0", h0), ("c_0", c0)):
            if t.shape != (L, B, H):
                raise ValueError(f"hx {name} must have shape {(L, B, H)}; got "
                                 f"{tuple(t.shape)}")
        return h0, c0

    def forward(self, input: torch.Tensor | PackedSequence,
                hx: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                return_distances: bool = False, generator: torch.Generator | None = None):
        """Run the stack over a sequence.

        Args:
            input: ``(T, B, input_size)`` (``(B, T, input_size)`` if ``batch_first``),
                unbatched ``(T, input_size)``, or a :class:`~torch.nn.utils.rnn.PackedSequence`
                of sequences of different lengths (from ``pack_padded_sequence`` /
                ``pack_sequence``; sorted or not).
            hx: ``(h_0, c_0)``, each ``(num_layers, B, hidden_size)`` (``(num_layers, H)``
                unbatched), in the caller's batch order also for packed input; zeros if None.
            return_distances: also return the per-layer :class:`Distances`.
            generator: RNG for the dropout masks (the global RNG when None).

        Returns:
            ``(output, (h_n, c_n))``: ``output`` ``(T, B, H)`` (or batch-first / unbatched as
            the input; a PackedSequence with the input's batch sizes and indices for packed
            input), ``h_n`` and ``c_n`` ``(num_layers, B, H)``: for packed input each
            sequence's state after its own last step, in the caller's batch order, as nn.LSTM.
            With ``return_distances`` ``(output, (h_n, c_n), distances)``; for packed input the
            distances are padded ``(num_layers, T, B)`` (``(num_layers, B, T)`` if
            ``batch_first``) in the caller's order, 0 after each sequence's end.

        Raises:
            TypeError: input (or ``hx``) not a real floating-point tensor, or of another dtype
                than the parameters.
            ValueError: input of rank other than 2 or 3, wrong feature size, empty sequence,
                ``hx`` of the wrong shape, or input on another device than the parameters.
        """
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, return_distances, generator)
        check_float(input, "input")
        if input.dim() not in (2, 3):
            raise ValueError(
                f"ONLSTM input must be 3-D (seq, batch, features) — (batch, seq, features) "
                f"with batch_first=True — or 2-D unbatched (seq, features); got shape "
                f"{tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(f"input has {input.shape[-1]} features; this ONLSTM expects "
                             f"input_size={self.input_size}")
        self._check_like_parameters(input, "input")
        unbatched = input.dim() == 2
        # batch-first input is copied time-major: the same GEMMs as for (T, B, ·), hence
        # bit-identical numbers
        x = input.unsqueeze(1) if unbatched else (
            input.transpose(0, 1).contiguous() if self.batch_first else input)  # (T, B, in)
        T, B = x.shape[0], x.shape[1]
        if T == 0:
            raise ValueError("input is an empty sequence (length 0); give at least one step")
        h0, c0 = self._initial_state(hx, B, x, unbatched)
        symmetric = self.master_input == "symmetric"
        layer_fn = onlstm_layer if self.impl == "fused" else layer_reference
        L, H = self.num_layers, self.hidden_size
        h_n, c_n, d_f, d_i = [], [], [], []
        for k, cell in enumerate(self.cells):
            xproj = cell.input_projection(x)  # (T, B, 2n + 4H)
            hs, c_last, mf, mi = layer_fn(xproj, cell.weight_hh, h0[k], c0[k], cell.n_chunk,
                                          symmetric)
            h_n.append(hs[-1])
            c_n.append(c_last)
            if return_distances:
                d_f.append(syntactic_distance(mf, gate="forget"))  # (T, B)
                d_i.append(syntactic_distance(mi, gate="input"))
            x = hs
            if self.dropout and self.training and k < L - 1:
                keep = 1.0 - self.dropout
                mask = torch.bernoulli(x.new_full((1, B, H), keep), generator=generator)
                x = x * mask / keep  # (T, B, H), one mask per sequence
        output = x
        h_n, c_n = torch.stack(h_n), torch.stack(c_n)  # (L, B, H)
        dist = None
        if return_distances:
            dist = Distances(torch.stack(d_f), torch.stack(d_i))  # (L, T, B)
        if unbatched:
            output, h_n, c_n = output[:, 0], h_n[:, 0], c_n[:, 0]
            if dist is not None:
                dist = Distances(dist.forget[:, :, 0], dist.input[:, :, 0])
        elif self.batch_first:
            output = output.transpose(0, 1)
            if dist is not None:
                dist = Distances(dist.forget.transpose(1, 2), dist.input.transpose(1, 2))
        if return_distances:
            return output, (h_n, c_n), dist
        return output, (h_n, c_n)

    def _forward_packed(self, packed: PackedSequence, hx, return_distances: bool,
                        generator: torch.Generator | None):
        """Packed sequences: the layer runs over each stretch of steps with a constant number
        of live sequences on those sequences only (the batch is sorted by length, longest
        first), so every state is exactly the one a run of that sequence alone gives."""
        data, batch_sizes, sorted_idx, unsorted_idx = packed
        check_float(data, "input.data")
        if data.dim() != 2 or data.shape[-1] != self.input_size:
            raise ValueError(
                f"packed input data must be (total steps, input_size={self.input_size}); got "
                f"shape {tuple(data.shape)}")
        self._check_like_parameters(data, "input.data")
        sizes = [int(b) for b in batch_sizes.tolist()]  # live sequences per step, falling
        T, B = len(sizes), sizes[0]
        h0, c0 = self._initial_state(hx, B, data)
        if sorted_idx is not None:  # caller's order -> sorted by length
            h0 = h0.index_select(1, sorted_idx.to(h0.device))
            c0 = c0.index_select(1, sorted_idx.to(c0.device))
        segments, t0 = [], 0  # (first step, end step, live sequences, first row of data)
        starts = [0]
        for b in sizes:
            starts.append(starts[-1] + b)
        for t in range(1, T + 1):
            if t == T or sizes[t] != sizes[t0]:
                segments.append((t0, t, sizes[t0], starts[t0]))
                t0 = t
        symmetric = self.master_input == "symmetric"
        layer_fn = onlstm_layer if self.impl == "fused" else layer_reference
        L, H = self.num_layers, self.hidden_size
        x = data  # (N, in), N = Σ batch_sizes, time-major
        h_n, c_n, d_f, d_i = [], [], [], []
        for k, cell in enumerate(self.cells):
            xproj = cell.input_projection(x)  # (N, G)
            G = xproj.shape[-1]
            h, c = h0[k], c0[k]
            outs, mfs, mis, h_end, c_end = [], [], [], [], []
            for t0, t1, b, r0 in segments:
                if h.shape[0] > b:  # sequences b.. ended with the previous segment
                    h_end.append(h[b:])
                    c_end.append(c[b:])
                    h, c = h[:b], c[:b]
                xs = xproj[r0:r0 + (t1 - t0) * b].view(t1 - t0, b, G)
                hs, c, mf, mi = layer_fn(xs, cell.weight_hh, h, c, cell.n_chunk, symmetric)
                h = hs[-1]
                outs.append(hs.reshape(-1, H))
                if return_distances:
                    mfs.append(syntactic_distance(mf, gate="forget").reshape(-1))
                    mis.append(syntactic_distance(mi, gate="input").reshape(-1))
            h_end.append(h)
            c_end.append(c)
            h_n.append(torch.cat(h_end[::-1]))  # (B, H), sorted order
            c_n.append(torch.cat(c_end[::-1]))
            if return_distances:
                d_f.append(torch.cat(mfs))  # (N,)
                d_i.append(torch.cat(mis))
            x = torch.cat(outs) if len(outs) > 1 else outs[0]  # (N, H)
            if self.dropout and self.training and k < L - 1:
                keep = 1.0 - self.dropout
                mask = torch.bernoulli(x.new_full((B, H), keep), generator=generator)
                rows = torch.cat([torch.arange(b, device=x.device) for b in sizes])
                x = x * mask[rows] / keep  # one mask per sequence
        output = PackedSequence(x, batch_sizes, sorted_idx, unsorted_idx)
        h_n, c_n = torch.stack(h_n), torch.stack(c_n)  # (L, B, H), sorted order
        if unsorted_idx is not None:
            h_n = h_n.index_select(1, unsorted_idx.to(h_n.device))
            c_n = c_n.index_select(1, unsorted_idx.to(c_n.device))
        if not return_distances:
            return output, (h_n, c_n)
        padded = []
        for d in (d_f, d_i):
            dd = PackedSequence(torch.stack(d, dim=-1), batch_sizes, sorted_idx, unsorted_idx)
            p, _ = pad_packed_sequence(dd, batch_first=self.batch_first)  # (T, B, L) / (B, T, L)
            padded.append(p.movedim(-1, 0))  # (L, T, B) / (L, B, T)
        return output, (h_n, c_n), Distances(*padded)
