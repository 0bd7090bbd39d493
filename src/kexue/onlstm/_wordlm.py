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

:class:`WordLMTrainer` is the :class:`kexue.training.Task` of a :class:`kexue.training.Engine`,
so checkpoints, exact resume (the carried state and the dropout generator are saved),
SIGINT/SIGTERM save-then-stop and the NaN guard come from the engine.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import checkpoint
from ..devices import resolve_device
from ..training import Engine
from ._model import ONLSTM, RNN_KINDS

__all__ = ["batchify", "WordLM", "word_lm_parameters", "matched_word_lm_hidden",
           "detach_hidden", "token_nll", "stream_perplexity", "WordLMConfig", "WordLMTrainer"]

Hidden = tuple[tuple[torch.Tensor, torch.Tensor], ...]

FORMAT = "kexue.onlstm.wordlm/1"


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


@dataclass
class WordLMConfig:
    """Training configuration of a :class:`WordLMTrainer`.

    Sizes and dropouts as :class:`WordLM`; ``match_params``: for ``kind="lstm"``, widen the
    hidden layers to the ON-LSTM model's parameter count (:func:`matched_word_lm_hidden`);
    ``batch_size`` columns, ``bptt`` steps per window; Adam with cosine decay ``lr`` →
    ``lr_final`` over ``steps``; ``clip``: gradient-norm clipping; ``checkpoint_every``: steps
    between checkpoints (when the trainer has an ``out_dir``).
    """

    kind: str = "onlstm"
    embed_size: int = 200
    hidden_size: int = 400
    num_layers: int = 2
    chunk_size: int = 10
    tie_weights: bool = True
    match_params: bool = True
    dropout: float = 0.3
    dropout_embed: float = 0.3
    dropout_out: float = 0.3
    batch_size: int = 20
    bptt: int = 35
    steps: int = 1000
    lr: float = 2e-3
    lr_final: float = 2e-4
    clip: float = 0.25
    seed: int = 0
    checkpoint_every: int = 500

    def validate(self) -> None:
        """Raises ValueError naming the first bad field."""
        if self.kind not in RNN_KINDS:
            raise ValueError(f"kind must be one of {RNN_KINDS}; got {self.kind!r}")
        for name in ("embed_size", "hidden_size", "num_layers", "chunk_size", "batch_size",
                     "bptt", "checkpoint_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int; got {v!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(f"steps must be a non-negative int; got {self.steps!r}")
        if not (self.lr > 0 and self.lr_final > 0 and self.clip > 0):
            raise ValueError(f"lr, lr_final and clip must be positive; got {self.lr}, "
                             f"{self.lr_final}, {self.clip}")

    def hidden(self, vocab_size: int) -> int:
        """The hidden width actually built (widened for a parameter-matched LSTM)."""
        if self.kind == "lstm" and self.match_params:
            return matched_word_lm_hidden(vocab_size, self.embed_size, self.hidden_size,
                                          self.num_layers, self.chunk_size,
                                          tie_weights=self.tie_weights)
        return self.hidden_size


class _Carry(nn.Module):
    """The state carried from one training window to the next, as buffers (so that the engine
    saves it and a resumed run continues exactly)."""

    def __init__(self, widths: list[tuple[int, int]], batch_size: int) -> None:
        super().__init__()
        self.n = len(widths)
        for k, (_, out) in enumerate(widths):
            self.register_buffer(f"h{k}", torch.zeros(1, batch_size, out))
            self.register_buffer(f"c{k}", torch.zeros(1, batch_size, out))

    def get(self) -> Hidden:
        return tuple((getattr(self, f"h{k}"), getattr(self, f"c{k}")) for k in range(self.n))

    def set(self, hidden: Hidden) -> None:
        for k, (h, c) in enumerate(hidden):
            getattr(self, f"h{k}").copy_(h.detach())
            getattr(self, f"c{k}").copy_(c.detach())


class WordLMTrainer:
    """Train a :class:`WordLM` on a token stream by truncated BPTT (Zaremba et al. 2014).

    Step ``k`` reads window ``j = k mod n_windows`` of the batchified stream
    (``tokens[j·bptt : j·bptt + T]``, targets one step later), starting from the state the
    previous window ended in (zeros when ``j = 0``, i.e. at the start of every pass), and takes
    one Adam step on the mean cross-entropy with the gradient norm clipped to ``clip``. The
    loop, checkpoints (model, optimiser, carried state, dropout generator, history), exact
    resume, save-on-signal and the NaN guard are :class:`kexue.training.Engine`'s.

    Args:
        config: a :class:`WordLMConfig`.
        stream: ``(N,)`` int64 training token ids (e.g. ``Corpus.encode("train")``).
        vocab_size: ``V`` (every id must be below it).
        device: where to train (default: the stream's device).
        out_dir: where ``last.safetensors`` is written (None: no checkpoints); call
            :meth:`resume` to continue from it.
        log: a ``.csv``/``.jsonl`` loss log.
        dtype: parameter dtype (tests use float64).

    Raises:
        ValueError: a bad config, an empty or too short stream (fewer than
            ``2·batch_size`` tokens), or ids outside ``[0, vocab_size)``.
    """

    def __init__(self, config: WordLMConfig, stream: torch.Tensor, vocab_size: int, *,
                 device: str | torch.device | None = None, out_dir: str | Path | None = None,
                 log: str | Path | None = None, dtype: torch.dtype = torch.float32) -> None:
        config.validate()
        stream = _check_stream(stream, "stream (the training tokens)", 2 * config.batch_size)
        if int(stream.min()) < 0 or int(stream.max()) >= vocab_size:
            raise ValueError(f"stream ids must lie in [0, vocab_size={vocab_size}); got "
                             f"[{int(stream.min())}, {int(stream.max())}]")
        self.config = config
        self.vocab_size = vocab_size
        self.device = resolve_device(device) if device is not None else stream.device
        self.data = batchify(stream, config.batch_size).to(self.device)  # (R, B)
        self.n_windows = -(-(self.data.shape[0] - 1) // config.bptt)
        self.hidden_size = config.hidden(vocab_size)
        gen = torch.Generator().manual_seed(config.seed)
        model = WordLM(vocab_size, config.embed_size, self.hidden_size, config.num_layers,
                       kind=config.kind, chunk_size=config.chunk_size,
                       tie_weights=config.tie_weights, dropout=config.dropout,
                       dropout_embed=config.dropout_embed, dropout_out=config.dropout_out)
        model.reset_parameters(gen)
        self.model = model.to(dtype).to(self.device)
        self.carry = _Carry(self.model.widths, config.batch_size).to(dtype).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.generator = torch.Generator(device=self.device).manual_seed(10_000 + config.seed)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        train_cfg = {**dataclasses.asdict(config), "vocab_size": vocab_size,
                     "data_fingerprint": checkpoint.fingerprint(stream)}
        self.engine = Engine(
            _WordLMTask(self), fmt=FORMAT, config=train_cfg,
            checkpoint=(self.out_dir / "last.safetensors" if self.out_dir is not None else None),
            ckpt_every=config.checkpoint_every, description=f"{config.kind} word LM",
            fields="loss {loss}", log=log,
            hint=f"Lower lr (now {config.lr}) or clip (now {config.clip}) and resume or restart.")

    @property
    def step(self) -> int:
        return self.engine.step

    @property
    def history(self) -> list[float]:
        """Training loss (nats per token) of every step."""
        return list(self.engine.history["loss"])

    def resume(self) -> bool:
        """Continue from ``out_dir/last.safetensors`` if it exists (same config and data, except
        the safe overrides :data:`kexue.checkpoint.SAFE_OVERRIDES`: ``lr``; the metadata is
        validated first, see :func:`kexue.checkpoint.resume_engine`); returns whether it did."""
        return checkpoint.resume_engine(self.engine)

    def _lr(self, step: int) -> float:
        cfg = self.config
        if cfg.steps <= 1:
            return cfg.lr
        frac = min(step / cfg.steps, 1.0)
        return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * frac))

    def step_once(self, step: int) -> tuple[torch.Tensor]:
        """One truncated-BPTT step (the engine's ``task.step``); returns the loss (0-d)."""
        cfg = self.config
        j = step % self.n_windows
        lo = j * cfg.bptt
        T = min(cfg.bptt, self.data.shape[0] - 1 - lo)
        x, y = self.data[lo:lo + T], self.data[lo + 1:lo + 1 + T]  # (T, B) each
        hidden = None if j == 0 else self.carry.get()
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(step)
        logits, hidden = self.model(x, hidden, generator=self.generator)  # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        self.optimizer.step()
        self.carry.set(hidden)
        return (loss.detach(),)

    def train(self, steps: int | None = None, *, progress: bool = False,
              console: Any = None) -> list[float]:
        """Train until ``steps`` (default ``config.steps``) steps are done in total.

        Raises:
            TrainingDiverged: the loss became non-finite (the last checkpoint is kept).
            TrainingInterrupted: SIGINT/SIGTERM, after writing the checkpoint.
        """
        eng = self.engine
        eng.progress, eng.console = progress, console
        eng.run(self.config.steps if steps is None else steps)
        return self.history


class _WordLMTask:
    """The :class:`kexue.training.Task` of a :class:`WordLMTrainer`."""

    metrics = ("loss",)
    labels = {"loss": "language-model loss"}

    def __init__(self, trainer: WordLMTrainer) -> None:
        self.trainer = trainer

    def step(self, step: int) -> tuple[torch.Tensor]:
        return self.trainer.step_once(step)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.trainer.model, "carry": self.trainer.carry}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.trainer.optimizer}

    def generators(self) -> dict[str, torch.Generator]:
        return {"dropout": self.trainer.generator}

    def begin(self) -> None:
        self.trainer.model.train()

    def end(self) -> None:
        self.trainer.model.eval()
