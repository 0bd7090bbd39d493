"""Argument checks and small helpers shared by the closed forms of
:mod:`kexue.stochastic.closed_forms` (float64 NumPy; the standard normal density).

Source: the closed forms are those of Su Jianlin, "Random walks, SDEs and path-integral methods
for PDEs" (kexue.fm archives 3749, 3750, 3757, 3762, 3766).
"""

from __future__ import annotations

import math

import numpy as np


def _f64(*arrays):
    out = tuple(np.asarray(a, dtype=np.float64) for a in arrays)
    return out if len(out) > 1 else out[0]


def _positive(name: str, value, fix: str = "") -> None:
    v = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"{name} must be finite and > 0; got {value!r}. {fix}".rstrip())


def _probability(name: str, value) -> None:
    v = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(v)) or np.any(v < 0) or np.any(v > 1):
        raise ValueError(f"{name} must be a probability in [0, 1]; got {value!r}.")


def _norm_pdf(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
