"""Use the ordered-neuron LSTM where you would use ``nn.LSTM``.

Shows: ``kexue.onlstm.ONLSTM`` as a drop-in for ``torch.nn.LSTM`` — same constructor arguments
(plus ``chunk_size``), same ``forward(input, hx) -> (output, (h_n, c_n))`` — inside a tiny
sequence model trained for a few Adam steps. Article: Su Jianlin on ON-LSTM (kexue.fm archive
6621; Shen et al., ICLR 2019, arXiv:1810.09536).

The task: read a stream of random tokens and output, at each position, the token seen two steps
earlier (a memory task an RNN learns in a few dozen steps). Both recurrent layers are trained
with the same code; the check is that the ON-LSTM's cross-entropy falls below half of its
starting value (chance is ln V). Run ``python examples/onlstm_drop_in.py [--fast]``.
"""

import argparse
import math

import torch
from torch import nn

from kexue.onlstm import ONLSTM

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fast", action="store_true", help="fewer training steps")
parser.add_argument("--seed", type=int, default=0, help="random seed")
args = parser.parse_args()
steps = 60 if args.fast else 120
vocab, hidden, seq_len, batch, delay = 8, 32, 20, 32, 2


class TinySeqModel(nn.Module):
    """Embedding -> recurrent layer ``rnn_cls`` -> linear: ``(B, T)`` -> logits ``(B, T, V)``."""

    def __init__(self, rnn_cls, **rnn_kwargs):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        # The only line that differs between the two models is which class this is.
        self.rnn = rnn_cls(16, hidden, num_layers=1, batch_first=True, **rnn_kwargs)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        output, (h_n, c_n) = self.rnn(self.embed(tokens))  # the nn.LSTM call pattern
        return self.out(output)


def train(model, seed):
    gen = torch.Generator().manual_seed(seed)  # data stream; the same for both models
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        tokens = torch.randint(vocab, (batch, seq_len), generator=gen)
        logits = model(tokens)[:, delay:]  # predict tokens[t - delay] at position t
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab),
                                           tokens[:, :-delay].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# Parameter initialisation: both classes draw from the global RNG, as PyTorch modules do.
torch.manual_seed(args.seed)
models = {
    "nn.LSTM": TinySeqModel(nn.LSTM),
    # ONLSTM needs chunk_size (hidden must be a multiple of it): the master gates act on
    # hidden/chunk_size "levels" of neurons.
    "kexue ONLSTM": TinySeqModel(ONLSTM, chunk_size=4),
}
results = {name: train(model, seed=args.seed + 1) for name, model in models.items()}
print(f"chance level ln V = {math.log(vocab):.3f}")
for name, losses in results.items():
    # mean loss over blocks of 10 steps, so the trend is visible through the batch noise
    blocks = [sum(losses[i:i + 10]) / 10 for i in range(0, steps, 10)]
    print(f"{name:>13} loss per 10 steps: " + " ".join(f"{b:.2f}" for b in blocks))

on = results["kexue ONLSTM"]
start, end = sum(on[:10]) / 10, sum(on[-10:]) / 10
assert end < 0.5 * start, f"ONLSTM loss did not halve: {start:.3f} -> {end:.3f}"
print(f"CHECK OK: ONLSTM loss fell from {start:.3f} to {end:.3f} (< half)")
