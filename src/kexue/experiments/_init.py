"""Seeded initialisation of the small float64 MLPs some experiments train."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

__all__ = ["fan_in_uniform_"]


def fan_in_uniform_(layers: Iterable[torch.nn.Module], gen: torch.Generator) -> None:
    """In place: each ``nn.Linear`` of ``layers`` gets weights ``U(-1/√fan_in, 1/√fan_in)``
    (PyTorch's default range, LeCun et al. 1998) drawn from ``gen`` in float64, and zero biases;
    other modules are left alone."""
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, torch.nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.copy_((2 * torch.rand(layer.weight.shape, generator=gen,
                                                   dtype=torch.float64) - 1) * bound)
                layer.bias.zero_()
