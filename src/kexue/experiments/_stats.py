"""Margins for the experiments' comparative claims (issue 17): "A beats B" must clear 2 SE.

* :func:`paired_diff` — mean and standard error of the paired differences ``b − a`` (the same
  images, points or prior draws under both methods);
* :func:`mean_se` — mean and standard error of one sample;
* :func:`bootstrap_se` — the bootstrap standard error of a statistic of paired rows (for ratios
  and distances that are not means);
* :func:`clears` — ``diff > k·se`` with a strict inequality, so that a tie (including an exact
  tie at 0) fails;
* :func:`compare` and :func:`margin` — a per-token difference of two models on one long text,
  its SE from contiguous blocks (plus the seed-to-seed spread), and the number of SEs it must
  clear (2, or a Student-t quantile with several seeds); used by onlstm-ptb.

All take array-likes (NumPy arrays, lists or torch tensors on any device) and compute in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["paired_diff", "mean_se", "bootstrap_se", "clears", "margin_text", "margin", "compare"]


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


def margin(n_seeds: int) -> float:
    """SEs a difference must exceed: 2 with one seed (the SE is then the test text's only);
    with ``n`` seeds the two-sided 95 % Student-t quantile with ``n − 1`` degrees of freedom
    (12.7 for 2 seeds, 4.30 for 3, 2.78 for 5), since the seed part of the SE is estimated from
    ``n`` differences."""
    if n_seeds < 2:
        return 2.0
    from scipy import stats

    return float(stats.t.ppf(0.975, n_seeds - 1))


def _block_means(x: np.ndarray, n_blocks: int) -> np.ndarray:
    return np.array([b.mean() for b in np.array_split(x, n_blocks)])


def compare(nll_a: list[np.ndarray], nll_b: list[np.ndarray], n_blocks: int
            ) -> tuple[float, float, float, float]:
    """Mean per-token NLL difference ``b − a`` (nats; > 0: ``a`` better) and its SE.

    ``nll_a``/``nll_b``: one ``(N,)`` array per seed (the same tokens). The test-text part of
    the SE comes from ``n_blocks`` contiguous blocks of the seed-averaged difference (tokens
    within a block are correlated, blocks nearly not); with two or more seeds the variance of
    the per-seed differences over the seeds is added (training noise).

    Returns:
        ``(diff, se, se_text, se_seeds)`` (``se_seeds`` is 0 with one seed).
    """
    d = np.mean([b - a for a, b in zip(nll_a, nll_b)], axis=0)  # (N,)
    blocks = _block_means(d, n_blocks)
    se_text = float(blocks.std(ddof=1) / math.sqrt(len(blocks)))
    per_seed = np.array([float((b - a).mean()) for a, b in zip(nll_a, nll_b)])
    se_seeds = float(per_seed.std(ddof=1) / math.sqrt(len(per_seed))) if len(per_seed) > 1 else 0.0
    return float(d.mean()), math.hypot(se_text, se_seeds), se_text, se_seeds
