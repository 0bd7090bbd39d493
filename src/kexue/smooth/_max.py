"""Smooth maximum and minimum: ``max(x) ≈ LSE_k(x) = (1/k)·log Σ exp(k·x)``.

From "Function smoothing: differentiable approximations of non-differentiable functions"
(Su Jianlin, kexue.fm, 2019-05-20, archive 6620). For ``x ∈ R^n``,

    max(x) ≤ LSE_k(x) ≤ max(x) + log(n)/k,

with equality on the right iff all entries are equal; ``LSE_k(x + c) = LSE_k(x) + c``; the gap is
non-increasing in ``k``; and ``∇LSE_k = softmax(k·x)`` — softmax is the smooth one-hot of argmax,
not a smooth max.
"""

from __future__ import annotations

import torch

from ..limits import check_has_data

__all__ = ["smooth_max", "smooth_min", "check_k", "check_float_tensor", "check_reduced_dim"]


def check_k(k: float) -> float:
    """Validate the sharpness ``k`` (shared by every surrogate)."""
    if isinstance(k, bool) or not isinstance(k, (int, float)):
        raise TypeError(f"k must be a positive real number (the sharpness); got {type(k).__name__}")
    if not k > 0 or k != k or k == float("inf"):
        raise ValueError(
            f"k must be a finite number > 0 (larger k = closer to the hard max); got {k}. "
            "For the hard max use torch.amax."
        )
    return float(k)


def check_float_tensor(x: object, name: str = "x") -> torch.Tensor:
    """Validate that ``x`` is a floating-point tensor."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = type(x).__name__ if not isinstance(x, torch.Tensor) else f"tensor of {x.dtype}"
        raise TypeError(f"{name} must be a floating-point torch.Tensor; got {got}. "
                        f"Use {name}.double() or torch.as_tensor({name}, dtype=torch.float64).")
    return check_has_data(x, name)


def check_reduced_dim(x: torch.Tensor, dim: int, name: str = "x") -> int:
    """``dim`` as a valid dimension of ``x`` (a 0-d ``x`` counts as one entry) along which
    there is at least one entry: the max, argmax and their smooth versions are undefined on an
    empty set (``logsumexp`` would give ``-inf``, ``soft_argmax`` 0).

    Raises:
        TypeError: ``dim`` not an int. ValueError: out of range, or an empty dimension.
    """
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int; got {type(dim).__name__}")
    nd = max(x.dim(), 1)
    if not -nd <= dim < nd:
        raise ValueError(f"dim={dim} is out of range for {name} of shape {tuple(x.shape)} "
                         f"(valid: {-nd}..{nd - 1})")
    if x.dim() > 0 and x.shape[dim] == 0:
        raise ValueError(f"{name} has no entries along dim={dim} (shape {tuple(x.shape)}): the "
                         "max of an empty set is undefined; reduce over a non-empty dimension")
    return dim


def smooth_max(x: torch.Tensor, k: float = 1.0, dim: int = -1, keepdim: bool = False
               ) -> torch.Tensor:
    """Log-sum-exp smooth maximum ``LSE_k(x) = (1/k)·log Σ_i exp(k·x_i)`` along ``dim``.

    Source: kexue.fm archive 6620 (smooth approximations of non-differentiable functions).

    Computed in the stable form ``m + (1/k)·log Σ exp(k·(x − m))`` with ``m = max x`` (via
    ``torch.logsumexp``), so ``|x| ~ 1e4`` does not overflow and ``-inf`` entries contribute 0.

    Args:
        x: any shape ``(..., n, ...)``; floating dtype.
        k: sharpness > 0 (default 1). The gap to the max is in ``[0, log(n)/k]``.
        dim: the reduced dimension.
        keepdim: keep the reduced dimension with size 1.

    Returns:
        ``x`` reduced along ``dim``. Its gradient is ``softmax(k·x, dim)``.

    Raises:
        TypeError: ``x`` is not a floating tensor or ``k`` is not a number.
        ValueError: ``k`` is not a finite positive number; ``x`` on the meta device; ``dim``
            out of range or empty (the max of an empty set is undefined, not ``-inf``).

    Examples:
        >>> import torch
        >>> from kexue.smooth import smooth_max
        >>> x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
        >>> round(smooth_max(x).item(), 4)               # log(e + e² + e³)
        3.4076
        >>> round(smooth_max(x, k=100.0).item(), 4)      # → max as k grows
        3.0
    """
    check_float_tensor(x)
    check_reduced_dim(x, dim)
    k = check_k(k)
    return torch.logsumexp(k * x, dim=dim, keepdim=keepdim) / k


def smooth_min(x: torch.Tensor, k: float = 1.0, dim: int = -1, keepdim: bool = False
               ) -> torch.Tensor:
    """Smooth minimum ``−LSE_k(−x)``: ``min(x) − log(n)/k ≤ smooth_min ≤ min(x)``.

    Source: kexue.fm archive 6620.

    Same arguments and errors as :func:`smooth_max`.
    """
    return -smooth_max(-x, k=k, dim=dim, keepdim=keepdim)
