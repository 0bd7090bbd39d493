"""Quantised images ↔ the continuous scale a diffusion model works on (uniform dequantisation, as
:func:`kexue.diffusion.bits_per_dim` maps them; Ho et al. 2020 arXiv:2006.11239 §3.3, Song et al.
2021 arXiv:2011.13456 App. D.1).

Data with ``n_bins`` grey levels ``k ∈ {0, …, n_bins − 1}`` are stored by :mod:`kexue.data` in
``[−1, 1]`` as ``x = 2k/(n_bins − 1) − 1`` (scikit-learn's 8×8 digits: ``n_bins = 17``,
``x = k/8 − 1``). The model sees the dequantised ``y = −1 + 2(k + u)/n_bins``, ``u ∈ [0, 1)``
(``u = ½``: the bin centre), whose bins tile ``[−1, 1]`` exactly.
"""

from __future__ import annotations

import torch

__all__ = ["DIGITS_N_BINS", "to_levels", "dequantise", "to_data_scale"]

#: grey levels of scikit-learn's 8×8 digits (0…16), as :func:`kexue.data.digits` stores them
DIGITS_N_BINS = 17


def _check_bins(n_bins: object) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 2:
        raise ValueError(f"n_bins must be an int >= 2; got {n_bins!r}")
    return n_bins


def to_levels(x: torch.Tensor, n_bins: int = DIGITS_N_BINS) -> torch.Tensor:
    """Integer grey levels ``k = round((x + 1)(n_bins − 1)/2)`` (as floats) of data ``x`` in
    ``[−1, 1]``; any shape.

    Source: Ho et al. 2020 (arXiv:2006.11239, §3.3).
    """
    return torch.round((x + 1.0) * ((_check_bins(n_bins) - 1) / 2.0))


def dequantise(k: torch.Tensor, u: torch.Tensor | float = 0.5,
               n_bins: int = DIGITS_N_BINS) -> torch.Tensor:
    """Levels ``k`` plus dequantisation noise ``u ∈ [0, 1)`` (a tensor of ``k``'s shape or a
    float) on the model's scale ``y = −1 + 2(k + u)/n_bins``.

    Source: uniform dequantisation (Theis, van den Oord and Bethge 2016, arXiv:1511.01844); Song et
    al. 2021 (arXiv:2011.13456, App. D.1).
    """
    return -1.0 + 2.0 * (k + u) / _check_bins(n_bins)


def to_data_scale(y: torch.Tensor, n_bins: int = DIGITS_N_BINS) -> torch.Tensor:
    """The model's scale back to the data's ``[−1, 1]`` (continuous levels
    ``k = (y + 1)n_bins/2 − ½``, then ``2k/(n_bins − 1) − 1``), clamped to ``[−1, 1]``.

    Source: Ho et al. 2020 (arXiv:2006.11239, §3.3).
    """
    n = _check_bins(n_bins)
    k = (y + 1.0) * n / 2.0 - 0.5
    return (k / ((n - 1) / 2.0) - 1.0).clamp(-1.0, 1.0)
