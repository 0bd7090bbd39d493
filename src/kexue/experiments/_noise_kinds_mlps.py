"""The networks of the noise-kinds experiment: many small MLPs trained at once, each with its noise.

``M`` independent tanh MLPs 64-h-10 on the digits (kexue.fm archive 7466; dropout as in Wager,
Wang & Liang 2013, arXiv:1307.1493) are stored as one batched module (weights ``(M, ...)``) and
trained together with Adam; model ``m`` gets one kind of noise at one strength (input, hidden
layer, weights, output = label smoothing, or Bernoulli dropout on the hidden layer). One model of
the batch can be taken out as an ``nn.Sequential`` for the library's penalties.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .noise_kinds import Config

__all__ = ["KINDS"]

KINDS = ("input", "hidden", "weight", "output", "dropout")


class _Batched(torch.nn.Module):
    """``M`` independent tanh MLPs 64-h-10 evaluated at once: weights ``(M, ...)``."""

    def __init__(self, params: dict[str, torch.Tensor]):
        super().__init__()
        self.w1 = torch.nn.Parameter(params["w1"])  # (M, h, 64)
        self.b1 = torch.nn.Parameter(params["b1"])  # (M, h)
        self.w2 = torch.nn.Parameter(params["w2"])  # (M, 10, h)
        self.b2 = torch.nn.Parameter(params["b2"])  # (M, 10)


def _init(cfg: Config, seed: int) -> dict[str, torch.Tensor]:
    """PyTorch's default uniform init of one 64-h-10 MLP, drawn on the CPU from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    h = cfg.hidden

    def u(shape, fan_in):
        return (2 * torch.rand(shape, generator=gen) - 1) / math.sqrt(fan_in)

    return {"w1": u((h, 64), 64), "b1": u((h,), 64), "w2": u((10, h), h), "b2": u((10,), h)}


def _single(p: dict[str, torch.Tensor]) -> torch.nn.Sequential:
    """One model of the batch as an ``nn.Sequential`` (for the library's penalties)."""
    h = p["w1"].shape[0]
    net = torch.nn.Sequential(torch.nn.Linear(64, h), torch.nn.Tanh(), torch.nn.Linear(h, 10))
    with torch.no_grad():
        net[0].weight.copy_(p["w1"])
        net[0].bias.copy_(p["b1"])
        net[2].weight.copy_(p["w2"])
        net[2].bias.copy_(p["b2"])
    return net.to(p["w1"].device, p["w1"].dtype)


def _train_all(cfg: Config, x: torch.Tensor, y: torch.Tensor, runs: list[tuple[str, float]],
               inits: list[dict], dev: torch.device, gen: torch.Generator) -> _Batched:
    """Train ``len(runs)`` models at once; model ``m`` sees data ``x[m]`` ``(N, 64)``, labels
    ``y[m]``, starts from ``inits[m]`` and gets the noise ``runs[m] = (kind, strength)``."""
    m_count = len(runs)
    params = {k: torch.stack([i[k] for i in inits]).to(dev) for k in inits[0]}
    model = _Batched(params)
    vec = {k: torch.tensor([s if kind == k else 0.0 for kind, s in runs], device=dev)
           for k in KINDS}
    sig_in = vec["input"][:, None, None]  # (M, 1, 1)
    sig_h = vec["hidden"][:, None, None]
    sig_w = vec["weight"]
    p_drop = vec["dropout"][:, None, None]
    eps = vec["output"][:, None, None]
    onehot = torch.nn.functional.one_hot(y, 10).float()  # (M, N, 10)
    target = (1 - eps) * onehot + eps / 10  # label smoothing per model
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def draw(shape):
        return torch.randn(shape, generator=gen, device=gen.device).to(dev)

    for _ in range(cfg.steps):
        w = {k: getattr(model, k) for k in ("w1", "b1", "w2", "b2")}
        w = {k: v + sig_w.reshape((m_count,) + (1,) * (v.dim() - 1)) * draw(v.shape)
             for k, v in w.items()}  # weight noise, one draw per model per step
        xin = x + sig_in * draw(x.shape)
        h = torch.tanh(torch.baddbmm(w["b1"][:, None, :], xin, w["w1"].transpose(1, 2)))
        h = h + sig_h * draw(h.shape)
        u = torch.rand(h.shape, generator=gen, device=gen.device).to(dev)
        h = h * (u >= p_drop).float() / (1 - p_drop)  # inverted Bernoulli dropout
        logits = torch.baddbmm(w["b2"][:, None, :], h, w["w2"].transpose(1, 2))  # (M, N, 10)
        loss = -(target * torch.log_softmax(logits, -1)).sum(-1).mean(-1).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


def _evaluate(model: _Batched, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, ...]:
    """Noise-free error and cross-entropy of every model on its ``x[m]``, ``y[m]``."""
    with torch.no_grad():
        h = torch.tanh(torch.baddbmm(model.b1[:, None, :], x, model.w1.transpose(1, 2)))
        logits = torch.baddbmm(model.b2[:, None, :], h, model.w2.transpose(1, 2))
        err = (logits.argmax(-1) != y).float().mean(-1)
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none")
    return err.cpu().numpy(), ce.mean(-1).cpu().numpy()
