"""The two sides of each expansion in noise-kinds: the predicted term and the measured gap.

For each kind of noise (kexue.fm archive 7466; dropout: Wager, Wang & Liang 2013,
arXiv:1307.1493) ``_unit_penalty`` is the library's second-order term at unit strength,
``_strength`` the strength at which that term is a given number of nats, and ``_measured_gap``
the Monte-Carlo expected loss increase under the noise itself (exact for label smoothing).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ..regularize import (
    dropout_loss,
    dropout_penalty,
    hidden_noise_loss,
    hidden_noise_penalty,
    label_smoothing_loss,
    laplacian,
    noise_loss,
    weight_noise_loss,
    weight_noise_penalty,
)

if TYPE_CHECKING:
    from .noise_kinds import Config


def _unit_penalty(net: torch.nn.Sequential, x: torch.Tensor, y: torch.Tensor, kind: str,
                  cfg: Config, gen: torch.Generator) -> float:
    """The second-order term of ``kind`` at unit strength (σ = 1; δ = p/(1 − p) = 1 for
    dropout; ε = 1 for label smoothing, whose term is exact and linear in ε), mean over ``x``."""
    body, head = net[:2], net[2]

    def ce(out):
        return torch.nn.functional.cross_entropy(out, y.repeat(len(out) // len(y)),
                                                 reduction="none")

    h = body(x).detach()
    if kind == "input":
        return 0.5 * laplacian(lambda z: ce(net(z)), x).mean().item()
    if kind == "hidden":
        return hidden_noise_penalty(head, ce, h, sigma=1.0, create_graph=False).item()
    if kind == "weight":
        return weight_noise_penalty(net, ce, x, sigma=1.0, n_projections=cfg.hutchinson,
                                    create_graph=False, generator=gen).item()
    if kind == "dropout":
        return dropout_penalty(h, head.weight, head.bias, p=0.5).item()  # δ = 1
    with torch.no_grad():
        return (label_smoothing_loss(net(x), y, eps=1.0) - ce(net(x)).mean()).item()


def _strength(kind: str, unit: float, target: float) -> float:
    """The strength whose second-order term is ``target`` nats (terms ∝ σ², ∝ δ, ∝ ε)."""
    if not unit > 0:
        return float("nan")
    if kind in ("input", "hidden", "weight"):
        return math.sqrt(target / unit)
    if kind == "dropout":
        delta = target / unit
        return delta / (1 + delta)
    return target / unit


def _measured_gap(net: torch.nn.Sequential, x: torch.Tensor, y: torch.Tensor, kind: str,
                  strength: float, cfg: Config, gen: torch.Generator) -> tuple[float, float]:
    """Monte-Carlo expected loss increase under ``kind`` at ``strength`` (mean over ``x``) and
    its s.e.; exact (s.e. 0) for label smoothing."""
    body, head = net[:2], net[2]
    n, s = len(x), cfg.mc_draws

    def ce(out):
        return torch.nn.functional.cross_entropy(out, y.repeat(len(out) // n), reduction="none")

    with torch.no_grad():
        base = ce(net(x))  # (N,)
        h = body(x)
        if kind == "output":
            gap = label_smoothing_loss(net(x), y, eps=strength, reduction="none") - base
            return gap.mean().item(), 0.0
        xs, hs = x.repeat(s, 1), h.repeat(s, 1)  # (S·N, ...), row s·N + n is example n
        if kind == "input":
            noisy = noise_loss(lambda z: ce(net(z)), xs, sigma=strength, antithetic=True,
                               generator=gen)
        elif kind == "hidden":
            noisy = hidden_noise_loss(head, ce, hs, sigma=strength, antithetic=True,
                                      generator=gen)
        elif kind == "dropout":
            noisy = dropout_loss(lambda z: ce(head(z)), hs, p=strength, generator=gen)
        else:  # weight: one draw shared by the set, so S draws of the whole set
            noisy = torch.stack([weight_noise_loss(net, ce, x, sigma=strength, antithetic=True,
                                                   generator=gen) for _ in range(s)])
    per_draw = (noisy.reshape(s, n) - base).mean(1)  # (S,) mean increase per draw
    return per_draw.mean().item(), per_draw.std().item() / math.sqrt(s)
