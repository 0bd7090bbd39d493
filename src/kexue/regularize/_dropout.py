"""Multiplicative (dropout) noise and the quadratic penalty it stands for (kexue.fm archive 7466;
Wager, Wang & Liang 2013, arXiv:1307.1493).

* **Dropout.** Multiplicative noise ``x ⊙ ξ`` with ``E ξ = 1``, ``Var ξ = δ = p/(1 − p)``
  (inverted Bernoulli dropout ``ξ = b/(1 − p)``, ``b ~ Bernoulli(1 − p)``, or uniform
  ``ξ ~ U(1 − a, 1 + a)``, ``a = √(3δ)``). For a GLM with log-partition ``A`` the expected loss is
  the loss plus ``E[A(x̃·β)] − A(x·β) ≈ ½·δ·A''(x·β)·Σ_j x_j²β_j²`` (Wager et al. 2013 for
  logistic regression; the softmax version uses ``W_jᵀ(diag π − ππᵀ)W_j``). The remainder is of
  third order in the size of the per-feature contributions ``x_jβ_j`` (fourth order for a
  symmetric ξ, e.g. uniform or ``p = ½``), not in ``p``: at fixed weights all moments of Bernoulli
  noise are ``O(p)``, so the approximation does not improve as ``p → 0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._checks import (
    check_batch,
    check_callable,
    check_count,
    check_generator,
    check_reduction,
    reduce,
)

__all__ = ["dropout_mask", "dropout_loss", "dropout_penalty", "DROPOUT_KINDS"]


DROPOUT_KINDS = ("bernoulli", "uniform")


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p must be a real number in [0, 1) (the drop rate); got "
                        f"{type(p).__name__}. Pass e.g. p=0.2.")
    v = float(p)
    if not (math.isfinite(v) and 0.0 <= v < 1.0):
        raise ValueError(f"p must be a drop rate in [0, 1); got {p}. p = 1 drops everything "
                         "(the inverted-dropout scale 1/(1 − p) is infinite); use p < 1.")
    return v


def _check_kind(kind: object) -> str:
    if kind not in DROPOUT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DROPOUT_KINDS)}; got {kind!r}.")
    return kind  # type: ignore[return-value]


def dropout_mask(shape: tuple[int, ...], like: torch.Tensor, *, p: float,
                 kind: str = "bernoulli",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Multiplicative noise ``ξ`` with ``E ξ = 1`` and ``Var ξ = p/(1 − p)``, in ``like``'s dtype
    and device: ``"bernoulli"`` is inverted dropout ``b/(1 − p)``, ``b ~ Bernoulli(1 − p)``;
    ``"uniform"`` is ``U(1 − a, 1 + a)`` with ``a = √(3p/(1 − p))`` (same mean and variance).

    Source: Srivastava et al. 2014 (JMLR 15); its penalty reading: Wager, Wang and Liang 2013
    (arXiv:1307.1493), kexue.fm archive 7466.

    Draws ``u = rand(shape)`` from ``generator``: Bernoulli keeps ``u ≥ p``; uniform is
    ``1 + a·(2u − 1)``.
    """
    p = _check_p(p)
    kind = _check_kind(kind)
    dev = like.device if generator is None else generator.device
    u = torch.rand(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)
    if kind == "bernoulli":
        return (u >= p).to(like.dtype) / (1 - p)
    a = math.sqrt(3 * p / (1 - p))
    return 1 + a * (2 * u - 1)


def dropout_loss(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, p: float,
                 kind: str = "bernoulli", n_samples: int = 1,
                 generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Monte-Carlo estimate of multiplicative-noise (dropout) loss ``E_ξ[ℓ(x ⊙ ξ)]``
    (Srivastava et al. 2014; kexue.fm archive 7466; Wager et al. 2013, arXiv:1307.1493), with
    ``ξ`` from :func:`dropout_mask` (one mask per draw, shape of ``x``).

    Args:
        loss_fn: batch ``(N, ...)`` → loss of any shape (per-example ``(N,)`` or scalar).
        x: inputs (or hidden activations) ``(N, ...)``.
        p: drop rate ``∈ [0, 1)``; ``Var ξ = p/(1 − p)``.
        kind: ``"bernoulli"`` | ``"uniform"``.
        n_samples: masks averaged ``≥ 1``.
        generator: ``torch.Generator`` or int seed; ``None``: torch's global RNG.

    Returns:
        ``loss_fn``'s output averaged over the masks (differentiable).

    Raises:
        TypeError: bad types. ValueError: ``p ∉ [0, 1)``, unknown ``kind``, ``n_samples < 1``.
    """
    check_callable(loss_fn, "loss_fn")
    check_batch(x)
    p = _check_p(p)
    kind = _check_kind(kind)
    n_samples = check_count(n_samples, "n_samples")
    gen = check_generator(generator, device=x.device)
    total = None
    for _ in range(n_samples):
        value = loss_fn(x * dropout_mask(tuple(x.shape), x, p=p, kind=kind, generator=gen))
        total = value if total is None else total + value
    return total / n_samples


def dropout_penalty(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
                    p: float, reduction: str = "mean") -> torch.Tensor:
    """Wager, Wang & Liang's quadratic dropout penalty for logistic / softmax regression
    (arXiv:1307.1493; kexue.fm archive 7466 calls dropout multiplicative noise).

    Binary (``weight`` of shape ``(D,)``, logit ``u = x·β + b``):
    ``R = ½·δ·A''(u)·Σ_j x_j²β_j²`` with ``A(u) = log(1 + eᵘ)``, ``A'' = s(1 − s)``.
    Softmax (``weight`` ``(C, D)``, logits ``z = xWᵀ + b``): ``R = ½·δ·Σ_j x_j² W_jᵀ(diag π −
    ππᵀ)W_j`` with ``W_j`` the column of feature ``j``. ``δ = p/(1 − p)``. Dropping features
    ``x ⊙ ξ`` changes the expected negative log-likelihood by ``E[A(z̃)] − A(z) ≈ R`` (the
    label term is linear in ``z`` and ``E z̃ = z``), so ``R`` needs no label.

    Args:
        x: features ``(N, D)``. weight: ``(D,)`` or ``(C, D)``. bias: scalar / ``(C,)`` or None.
        p: drop rate ``∈ [0, 1)``. reduction: ``"mean"`` | ``"sum"`` | ``"none"``.

    Returns:
        Scalar, or ``(N,)``; differentiable in ``weight``, ``bias`` (and ``x``).

    Raises:
        ValueError: shapes that do not match, ``p ∉ [0, 1)``, bad ``reduction``.
    """
    check_batch(x)
    p = _check_p(p)
    reduction = check_reduction(reduction)
    if x.dim() != 2:
        raise ValueError(f"x must be features of shape (N, D); got {tuple(x.shape)}.")
    if not isinstance(weight, torch.Tensor) or weight.dim() not in (1, 2) \
            or weight.shape[-1] != x.shape[1]:
        got = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight must have shape (D,) (logistic) or (C, D) (softmax) with "
                         f"D={x.shape[1]}; got {got}.")
    delta = p / (1 - p)
    if weight.dim() == 1:
        u = x @ weight + (0 if bias is None else bias)  # (N,)
        s = torch.sigmoid(u)
        pen = 0.5 * delta * s * (1 - s) * ((x * weight) ** 2).sum(1)
        return reduce(pen, reduction)
    z = x @ weight.T + (0 if bias is None else bias)  # (N, C)
    pi = torch.softmax(z, 1)  # (N, C)
    contrib = x[:, None, :] * weight[None]  # (N, C, D): x_j W_cj
    # Σ_j cⱼᵀ(diag π − ππᵀ)cⱼ = Σ_j [Σ_c π_c c_cj² − (Σ_c π_c c_cj)²]
    first = (pi[:, :, None] * contrib**2).sum((1, 2))
    second = ((pi[:, :, None] * contrib).sum(1) ** 2).sum(1)
    return reduce(0.5 * delta * (first - second), reduction)
