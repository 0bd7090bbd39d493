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

__all__ = ["smooth_max", "smooth_min", "check_k", "check_float_tensor"]


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
    return x


def smooth_max(x: torch.Tensor, k: float = 1.0, dim: int = -1, keepdim: bool = False
               ) -> torch.Tensor:
    """Log-sum-exp smooth maximum ``LSE_k(x) = (1/k)·log Σ_i exp(k·x_i)`` along ``dim``.

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
        ValueError: ``k`` is not a finite positive number.
    """
    check_float_tensor(x)
    k = check_k(k)
    return torch.logsumexp(k * x, dim=dim, keepdim=keepdim) / k


def smooth_min(x: torch.Tensor, k: float = 1.0, dim: int = -1, keepdim: bool = False
               ) -> torch.Tensor:
    """Smooth minimum ``−LSE_k(−x)``: ``min(x) − log(n)/k ≤ smooth_min ≤ min(x)``.

    Same arguments and errors as :func:`smooth_max`.
    """
    return -smooth_max(-x, k=k, dim=dim, keepdim=keepdim)
