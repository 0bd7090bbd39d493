"""Margins for the experiments' comparative claims (issue 17): "A beats B" must clear 2 SE.

* :func:`paired_diff` — mean and standard error of the paired differences ``b − a`` (the same
  images, points or prior draws under both methods);
* :func:`mean_se` — mean and standard error of one sample;
* :func:`bootstrap_se` — the bootstrap standard error of a statistic of paired rows (for ratios
  and distances that are not means);
* :func:`clears` — ``diff > k·se`` with a strict inequality, so that a tie (including an exact
  tie at 0) fails.

All take array-likes (NumPy arrays, lists or torch tensors on any device) and compute in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["paired_diff", "mean_se", "bootstrap_se", "clears", "margin_text"]


def _vec(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if arr.size < 2:
        raise ValueError(f"{name}: need at least 2 values for a standard error; got {arr.size}")
    return arr


def mean_se(x: Any) -> tuple[float, float]:
    """Mean of ``x`` (n values, n ≥ 2) and its standard error ``sd / √n`` (``ddof = 1``)."""
    v = _vec(x, "x")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def paired_diff(a: Any, b: Any) -> tuple[float, float]:
    """Mean of the paired differences ``b − a`` and its standard error.

    Args:
        a, b: equally long 1-D samples, row ``i`` of both measured on the same item.

    Raises:
        ValueError: lengths differ, or fewer than 2 pairs.
    """
    va, vb = _vec(a, "a"), _vec(b, "b")
    if va.size != vb.size:
        raise ValueError(f"paired_diff: a has {va.size} values, b has {vb.size}; pass the same "
                         "items under both methods")
    return mean_se(vb - va)


def bootstrap_se(stat: Callable[..., float], *arrays: Any, n_boot: int = 400,
                 seed: int = 0) -> float:
    """Bootstrap standard error of ``stat(*arrays)`` resampling rows (the same rows of every
    array, so paired structure is kept). ``arrays``: NumPy arrays or tensors with equal first
    dimension; ``stat`` receives NumPy arrays."""
    if n_boot < 2:
        raise ValueError(f"n_boot must be ≥ 2; got {n_boot}")
    arrs = [np.asarray(a.detach().cpu().double().numpy() if hasattr(a, "detach") else a,
                       dtype=np.float64) for a in arrays]
    n = arrs[0].shape[0]
    if n < 2 or any(a.shape[0] != n for a in arrs):
        raise ValueError(f"bootstrap_se: arrays need the same number (≥ 2) of rows; got "
                         f"{[a.shape[0] for a in arrs]}")
    rng = np.random.default_rng(seed)
    vals = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        vals[b] = stat(*(a[idx] for a in arrs))
    return float(vals.std(ddof=1))


def clears(diff: float, se: float, k: float = 2.0) -> bool:
    """Whether a difference oriented so that positive means "the claim holds" clears ``k``
    standard errors: ``diff > k·se`` (strict: a tie fails, also at ``se = 0``)."""
    return bool(math.isfinite(diff) and math.isfinite(se) and diff > k * se)


def margin_text(diff: float, se: float, k: float = 2.0) -> str:
    """``"+0.123 (> 2 SE = 0.045)"``: a difference beside the margin it must clear."""
    return f"{diff:+.4g} (> {k:g} SE = {k * se:.3g})"
