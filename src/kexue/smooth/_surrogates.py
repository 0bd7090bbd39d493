"""Smooth surrogates of argmax, one-hot, ReLU, |x|, sign and step (kexue.fm archive 6620).

The article's teaching point: softmax is the smooth version of ``onehot(argmax x)`` — it is the
gradient of the smooth max ``LSE_k`` — not a smooth max itself. Every function takes a sharpness
``k > 0`` (temperature ``1/k``); as ``k → ∞`` each tends to its hard counterpart, with the error
bounds stated in each docstring.
"""

from __future__ import annotations

import torch

from ._max import check_float_tensor, check_k, check_reduced_dim

__all__ = ["soft_onehot", "soft_argmax", "smooth_relu", "smooth_abs", "smooth_sign",
           "smooth_step", "ABS_METHODS"]

ABS_METHODS = ("logcosh", "sqrt", "tanh")


def soft_onehot(x: torch.Tensor, k: float = 1.0, dim: int = -1) -> torch.Tensor:
    """Smooth ``onehot(argmax x)``: ``softmax(k·x)`` along ``dim`` (= ``∇ₓ LSE_k(x)``).

    Source: kexue.fm archive 6620.

    Tends to the one-hot of the argmax as ``k → ∞`` when the max is unique, and to the uniform
    distribution over the tied entries otherwise. Shape as ``x``.
    """
    check_float_tensor(x)
    check_reduced_dim(x, dim)
    return torch.softmax(check_k(k) * x, dim=dim)


def soft_argmax(x: torch.Tensor, k: float = 1.0, dim: int = -1) -> torch.Tensor:
    """Smooth argmax index: ``Σ_i i·softmax(k·x)_i`` along ``dim`` (indices 0..n−1).

    Source: kexue.fm archive 6620.

    Inherits soft_onehot's limit; with ties it tends to the mean of the tied indices. Returns
    ``x`` reduced along ``dim``.
    """
    p = soft_onehot(x, k, dim)
    n = x.shape[dim]
    idx = torch.arange(n, dtype=x.dtype, device=x.device)
    shape = [1] * x.dim()
    shape[dim] = n
    return (p * idx.reshape(shape)).sum(dim=dim)


def smooth_relu(x: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """Softplus ``(1/k)·log(1 + e^{k·x}) = LSE_k([x, 0])``, the smooth ``max(x, 0)``.

    Source: kexue.fm archive 6620.

    ``0 < smooth_relu − relu ≤ log(2)/k``, the worst case at ``x = 0``. Computed exactly with
    ``logaddexp`` (``torch.nn.functional.softplus`` switches to the identity above a threshold).
    """
    check_float_tensor(x)
    k = check_k(k)
    return torch.logaddexp(k * x, torch.zeros_like(x)) / k


def smooth_abs(x: torch.Tensor, k: float = 1.0, *, method: str = "logcosh") -> torch.Tensor:
    """Smooth ``|x|``, three ways, each with its worst error (at ``x = 0`` unless stated):

    Source: kexue.fm archive 6620.

    * ``"logcosh"``: ``(1/k)·log(2 cosh(k·x))`` ≥ |x|, error ≤ ``log(2)/k`` (this is the 2-point
      LSE of ``x`` and ``−x``, the route of the 2015 precursor article);
    * ``"sqrt"``: ``sqrt(x² + 1/k²)`` ≥ |x|, error ≤ ``1/k``;
    * ``"tanh"``: ``x·tanh(k·x)`` ≤ |x|, error ≤ ``0.2785/k`` (largest at ``|x| ≈ 0.64/k``).
    """
    check_float_tensor(x)
    k = check_k(k)
    if method == "logcosh":
        a = (k * x).abs()
        return (a + torch.log1p(torch.exp(-2 * a))) / k
    if method == "sqrt":
        return torch.sqrt(x * x + 1.0 / (k * k))
    if method == "tanh":
        return x * torch.tanh(k * x)
    raise ValueError(f"method must be one of {', '.join(ABS_METHODS)}; got {method!r}")


def smooth_sign(x: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """``tanh(k·x)``: → ``sign(x)`` pointwise for ``x ≠ 0`` as ``k → ∞`` (0 at 0).

    Source: kexue.fm archive 6620.
    """
    check_float_tensor(x)
    return torch.tanh(check_k(k) * x)


def smooth_step(x: torch.Tensor, k: float = 1.0) -> torch.Tensor:
    """``σ(k·x)``: → the Heaviside step pointwise for ``x ≠ 0`` (½ at 0); ``x·σ(kx)`` → relu.

    Source: kexue.fm archive 6620.
    """
    check_float_tensor(x)
    return torch.sigmoid(check_k(k) * x)
