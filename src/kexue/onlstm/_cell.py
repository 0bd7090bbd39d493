"""Ordered-neuron LSTM cell: ``cumax``, master gates and the chunked cell update.

Shen, Tan, Sordoni & Courville, "Ordered Neurons: Integrating Tree Structures into Recurrent
Neural Networks", ICLR 2019 (arXiv:1810.09536); Su Jianlin's exposition, kexue.fm archive 6621.

Notation (one time step, ``n = hidden_size // chunk_size`` levels, each ``chunk_size`` neurons)::

    f, i, o = σ(·),  ĉ = tanh(·)                          ordinary LSTM gates, (B, H)
    f̃ = cumax(z_f)                                        master forget gate, (B, n), rises 0 → 1
    ĩ = 1 − cumax(z_i)            (master_input="paper")    master input gate, falls 1 → 0
    ĩ = reverse-cumsum(softmax z_i) (master_input="symmetric", Su's variant)
    ω = f̃ ∘ ĩ;  f̂ = f ∘ ω + (f̃ − ω);  î = i ∘ ω + (ĩ − ω)   (levels broadcast over a chunk)
    c_t = f̂ ∘ c_{t−1} + î ∘ ĉ;  h_t = o ∘ tanh(c_t)

The fused projection has ``2n + 4H`` rows laid out as ``[z_i (n) | z_f (n) | i | f | g | o]``:
master gates first, in the same order as the gates they modulate, then the ``4H`` rows of
``torch.nn.LSTMCell`` in its order, so its weights can be copied in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["cumax", "master_gates", "ONLSTMCell", "MASTER_INPUT", "onlstm_step",
           "syntactic_distance", "default_chunk_size", "PAPER_CHUNK_SIZE"]

MASTER_INPUT = ("paper", "symmetric")
PAPER_CHUNK_SIZE = 10  # Shen et al. 2019 (arXiv:1810.09536): 1150 hidden units, chunks of 10


def default_chunk_size(hidden_size: int) -> int:
    """The ``chunk_size`` used when none is given: the paper's 10, or the largest divisor of
    ``hidden_size`` below it, keeping at least two levels.

    Shen et al. (2019, arXiv:1810.09536) use chunks of 10 neurons for their 1150-unit layers
    (115 levels). A chunk must divide ``hidden_size``; one level (``chunk = hidden_size``) would
    make the paper's master input gate ``1 − cumax`` identically 0, so at least two levels are
    kept where ``hidden_size ≥ 2``. Examples: 1150 → 10, 512 → 8, 400 → 10, 128 → 8, 12 → 6,
    8 → 4, 7 → 1, 1 → 1.

    Raises:
        ValueError: ``hidden_size`` not a positive int.
    """
    if not isinstance(hidden_size, int) or isinstance(hidden_size, bool) or hidden_size <= 0:
        raise ValueError(f"hidden_size must be a positive int; got {hidden_size!r}")
    limit = min(PAPER_CHUNK_SIZE, max(1, hidden_size // 2))
    return max(d for d in range(1, limit + 1) if hidden_size % d == 0)


def check_float(x: torch.Tensor, name: str) -> None:
    """TypeError for a non-floating tensor (integer/bool ids are not features)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():  # integer, bool and complex dtypes
        raise TypeError(
            f"{name} must be a real floating-point tensor; got dtype {x.dtype}. Convert it "
            f"with {name}.float() (or .to(torch.float64)); token ids go through an nn.Embedding "
            "first")


def cumax(x: torch.Tensor, dim: int = -1, *, reverse: bool = False) -> torch.Tensor:
    """Cumulative softmax ``cumax(x) = cumsum(softmax(x))`` (Shen et al. 2019, arXiv:1810.09536).

    Args:
        x: logits, any shape.
        dim: the dimension to normalise and accumulate over.
        reverse: accumulate right to left (``Σ_{j ≥ k} softmax(x)_j``), as in Su's symmetric
            master input gate (kexue.fm 6621).

    Returns:
        A tensor of ``x``'s shape, monotone along ``dim`` (non-decreasing, or non-increasing when
        ``reverse``), with values in ``[0, 1]`` and last (first when ``reverse``) entry 1.

    Raises:
        TypeError: ``x`` not a real floating-point tensor (an integer or bool tensor).
    """
    check_float(x, "x")
    p = torch.softmax(x, dim=dim)
    if reverse:
        return p.flip(dim).cumsum(dim).flip(dim)
    return p.cumsum(dim)


def _check_master_input(master_input: str) -> bool:
    if master_input not in MASTER_INPUT:
        raise ValueError(
            f"master_input must be one of {MASTER_INPUT}; got {master_input!r}. 'paper' is "
            "ĩ = 1 − cumax (Shen et al.), 'symmetric' is Su's right-to-left cumsum."
        )
    return master_input == "symmetric"


def master_gates(z_f: torch.Tensor, z_i: torch.Tensor, *, master_input: str = "paper"
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Master forget and input gates from their logits (Shen et al. 2019, eqs. 9–10).

    Args:
        z_f, z_i: logits, shape ``(..., n_chunk)``.
        master_input: ``"paper"`` (``ĩ = 1 − cumax(z_i)``) or ``"symmetric"``
            (``ĩ = cumax(z_i, reverse=True)``, kexue.fm 6621).

    Returns:
        ``(f̃, ĩ)``, each ``(..., n_chunk)``.
    """
    symmetric = _check_master_input(master_input)
    mf = cumax(z_f)
    mi = cumax(z_i, reverse=True) if symmetric else 1.0 - cumax(z_i)
    return mf, mi


def syntactic_distance(master: torch.Tensor, *, gate: str = "forget") -> torch.Tensor:
    """Syntactic distance of ON-LSTM steps (Shen et al. 2019 eq. 15, corrected in kexue.fm 6621).

    ``gate="forget"``: ``d = 1 − mean_k f̃(k)`` — with ``p`` the softmax inside ``f̃ = cumsum p``,
    ``n·d + 1 = Σ_k k·p(k)`` (levels counted from 1), the expected split level: a large ``d``
    erases much of the history, so the token opens a new constituent. ``gate="input"``:
    ``d = mean_k ĩ(k)``, the fraction of levels the new input is written to.

    Args:
        master: master gate values ``(..., n_chunk)``.
        gate: ``"forget"`` or ``"input"``.

    Returns:
        ``(...)`` distances in ``[0, 1]``.
    """
    if gate == "forget":
        return 1.0 - master.mean(-1)
    if gate == "input":
        return master.mean(-1)
    raise ValueError(f"gate must be 'forget' or 'input'; got {gate!r}")


def onlstm_step(gates: torch.Tensor, c_prev: torch.Tensor, n_chunk: int, *,
                master_input: str = "paper",
                master: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One ON-LSTM update from pre-activations (Shen et al. 2019, eqs. 9–14), autograd-friendly.

    Args:
        gates: pre-activations ``W x + U h + b``, shape ``(B, 2·n_chunk + 4H)`` laid out as
            ``[z_i | z_f | i | f | g | o]``.
        c_prev: previous cell state, ``(B, H)``.
        n_chunk: number of levels ``n = H / chunk_size``.
        master_input: see :func:`master_gates`.
        master: optional ``(f̃, ĩ)``, each ``(B, n_chunk)``, that replace the computed master
            gates (all ones turns the cell into a plain LSTM; one-hot cumsums give the article's
            hard piecewise cases).

    Returns:
        ``(h, c, f̃, ĩ)`` with shapes ``(B, H), (B, H), (B, n), (B, n)``.
    """
    B, H = c_prev.shape
    C = H // n_chunk
    z_i, z_f, rest = gates.split([n_chunk, n_chunk, 4 * H], dim=-1)
    if master is None:
        mf, mi = master_gates(z_f, z_i, master_input=master_input)
    else:
        mf, mi = master
    i, f, g, o = rest.chunk(4, dim=-1)  # each (B, H)
    i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
    g = torch.tanh(g)
    mf3, mi3 = mf.unsqueeze(-1), mi.unsqueeze(-1)  # (B, n, 1)
    w = mf3 * mi3  # overlap ω, (B, n, 1)
    f_hat = f.view(B, n_chunk, C) * w + (mf3 - w)  # (B, n, C)
    i_hat = i.view(B, n_chunk, C) * w + (mi3 - w)  # (B, n, C)
    c = f_hat * c_prev.view(B, n_chunk, C) + i_hat * g.view(B, n_chunk, C)  # (B, n, C)
    c = c.view(B, H)
    h = o * torch.tanh(c)
    return h, c, mf, mi


class ONLSTMCell(nn.Module):
    """Ordered-neuron LSTM cell (Shen et al., ICLR 2019, arXiv:1810.09536; kexue.fm 6621).

    A drop-in for :class:`torch.nn.LSTMCell` with two extra master gates of
    ``n_chunk = hidden_size // chunk_size`` levels each.

    Args:
        input_size: features of the input ``x``.
        hidden_size: features of ``h`` and ``c``; must be a multiple of ``chunk_size``.
        bias: use ``bias_ih`` and ``bias_hh`` (as ``nn.LSTMCell``; same positional order).
        device, dtype: of the parameters (as ``nn.LSTMCell``).
        chunk_size: neurons per level (the master gates are repeated this many times); default
            :func:`default_chunk_size` (the paper's 10, or the largest divisor of
            ``hidden_size`` below it keeping ≥ 2 levels: 8 for 512, 10 for 1150).
        master_input: ``"paper"`` or ``"symmetric"`` (Su's variant); see :func:`master_gates`.

    Attributes:
        weight_ih: ``(2·n_chunk + 4·hidden_size, input_size)``, rows
            ``[z_i | z_f | i | f | g | o]``.
        weight_hh: ``(2·n_chunk + 4·hidden_size, hidden_size)``.
        bias_ih, bias_hh: ``(2·n_chunk + 4·hidden_size,)``.

    Raises:
        ValueError: non-positive sizes, ``hidden_size`` not a multiple of ``chunk_size``, or an
            unknown ``master_input``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, chunk_size: int | None = None,
                 master_input: str = "paper") -> None:
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        if chunk_size is None:
            chunk_size = default_chunk_size(hidden_size)
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive int; got {chunk_size!r}")
        if hidden_size % chunk_size:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be a multiple of chunk_size ({chunk_size}); "
                f"e.g. chunk_size={_divisor_near(hidden_size, chunk_size)} or hidden_size="
                f"{math.ceil(hidden_size / chunk_size) * chunk_size}"
            )
        _check_master_input(master_input)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.chunk_size = chunk_size
        self.n_chunk = hidden_size // chunk_size
        self.master_input = master_input
        self.bias = bias
        kw = {"device": device, "dtype": dtype}
        rows = 2 * self.n_chunk + 4 * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **kw))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows, **kw))
            self.bias_hh = nn.Parameter(torch.empty(rows, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform ``(−1/√H, 1/√H)`` initialisation, as ``torch.nn.LSTMCell``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, chunk_size={self.chunk_size}, "
                f"master_input={self.master_input!r}")

    def input_projection(self, x: torch.Tensor) -> torch.Tensor:
        """``W_ih x + b_ih + b_hh``: ``(..., input_size) -> (..., 2n + 4H)``."""
        if self.bias_ih is None:
            return F.linear(x, self.weight_ih)
        return F.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)

    def forward(self, input: torch.Tensor,
                hx: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                master: tuple[torch.Tensor, torch.Tensor] | None = None,
                return_master: bool = False):
        """One step.

        Args:
            input: ``(B, input_size)`` or unbatched ``(input_size,)``.
            hx: ``(h, c)``, each ``(B, hidden_size)`` (or ``(hidden_size,)``); zeros if None.
            master: optional ``(f̃, ĩ)``, each ``(B, n_chunk)``, replacing the computed master
                gates (for tests and ablations).
            return_master: also return the master gates.

        Returns:
            ``(h, c)``, each shaped like ``hx``; with ``return_master`` ``((h, c), (f̃, ĩ))``.

        Raises:
            TypeError: ``input`` not a real floating-point tensor.
            ValueError: wrong input rank or feature size, or ``hx`` of the wrong shape.
        """
        check_float(input, "input")
        if input.dim() not in (1, 2):
            raise ValueError(
                f"ONLSTMCell input must be 2-D (batch, input_size) or 1-D (input_size,); got "
                f"shape {tuple(input.shape)}. For sequences use ONLSTM."
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(f"input has {input.shape[-1]} features; this cell expects "
                             f"input_size={self.input_size}")
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input  # (B, in)
        B = x.shape[0]
        if hx is None:
            h = x.new_zeros(B, self.hidden_size)
            c = x.new_zeros(B, self.hidden_size)
        else:
            h, c = hx
            if unbatched:
                h, c = h.unsqueeze(0), c.unsqueeze(0)
            for name, t in (("h", h), ("c", c)):
                if t.shape != (B, self.hidden_size):
                    raise ValueError(f"hx {name} must have shape {(B, self.hidden_size)}; got "
                                     f"{tuple(t.shape)}")
        gates = self.input_projection(x) + F.linear(h, self.weight_hh)  # (B, 2n + 4H)
        h, c, mf, mi = onlstm_step(gates, c, self.n_chunk, master_input=self.master_input,
                                   master=master)
        if unbatched:
            h, c, mf, mi = h[0], c[0], mf[0], mi[0]
        if return_master:
            return (h, c), (mf, mi)
        return h, c


def _divisor_near(hidden: int, chunk: int) -> int:
    divisors = [d for d in range(1, hidden + 1) if hidden % d == 0]
    return min(divisors, key=lambda d: (abs(d - chunk), d))
