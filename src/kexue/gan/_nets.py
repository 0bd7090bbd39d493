"""Small fully connected networks for the GAN experiments (2-D toys, 8×8 digits).

The critics and generators of GAN-QP (kexue.fm/archives/6163, arXiv:1811.07296) and BiGAN-QP
(kexue.fm/archives/6214) on small data.

Every network carries a JSON-able ``spec`` so that a checkpoint can rebuild it
(:func:`net_from_spec`). Critics end in a linear layer without activation (GAN-QP needs no
Lipschitz constraint, so no spectral norm and no clipping); generators end linear (toys) or in
``tanh`` (images in [−1, 1], as in the reference code).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["MLP", "PairCritic", "net_from_spec", "ACTIVATIONS"]

ACTIVATIONS = {"relu": lambda: nn.ReLU(), "lrelu": lambda: nn.LeakyReLU(0.2),
               "tanh": lambda: nn.Tanh()}


def _check_int(name: str, v: Any, lo: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name} must be an int >= {lo}; got {v!r}")


class MLP(nn.Module):
    """``depth`` hidden layers of width ``hidden``: ``(batch, in_dim) -> (batch, out_dim)``.

    Source: GAN-QP (kexue.fm archive 6163, arXiv:1811.07296).

    Args:
        in_dim, out_dim, hidden, depth: sizes (``depth >= 1`` hidden layers).
        act: hidden activation, one of ``ACTIVATIONS``.
        out_act: ``None`` (linear output) or ``"tanh"``.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128, depth: int = 3,
                 act: str = "relu", out_act: str | None = None):
        super().__init__()
        for name, v, lo in (("in_dim", in_dim, 1), ("out_dim", out_dim, 1),
                            ("hidden", hidden, 1), ("depth", depth, 1)):
            _check_int(name, v, lo)
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; valid: {', '.join(ACTIVATIONS)}")
        if out_act not in (None, "tanh"):
            raise ValueError(f"out_act must be None or 'tanh'; got {out_act!r}")
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), ACTIVATIONS[act]()]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        if out_act == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.spec = {"kind": "mlp", "in_dim": in_dim, "out_dim": out_dim, "hidden": hidden,
                     "depth": depth, "act": act, "out_act": out_act}

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PairCritic(nn.Module):
    """BiGAN-QP critic ``T(x, z)`` on joint pairs: ``(batch, x_dim), (batch, z_dim) -> (batch,)``.

    As in the reference code (kexue.fm 6214), ``x`` first goes through its own feature network,
    whose output is concatenated with ``z`` and fed to an MLP ending in one linear unit.
    """

    def __init__(self, x_dim: int, z_dim: int, hidden: int = 256, depth: int = 2,
                 act: str = "lrelu"):
        super().__init__()
        self.features = MLP(x_dim, hidden, hidden, 1, act)
        self.head = MLP(hidden + z_dim, 1, hidden, depth, act)
        self.spec = {"kind": "pair", "x_dim": x_dim, "z_dim": z_dim, "hidden": hidden,
                     "depth": depth, "act": act}

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        h = torch.nn.functional.leaky_relu(self.features(x), 0.2)  # (batch, hidden)
        return self.head(torch.cat([h, z], dim=1))[:, 0]  # (batch,)


def net_from_spec(spec: Mapping[str, Any]) -> nn.Module:
    """Rebuild a network from its ``spec`` (as stored in a checkpoint)."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind == "mlp":
        return MLP(**spec)
    if kind == "pair":
        return PairCritic(**spec)
    raise ValueError(f"unknown network kind {kind!r} in checkpoint spec; valid: 'mlp', 'pair'")
