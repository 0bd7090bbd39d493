"""Noise in the output: label smoothing, exactly (kexue.fm archive 7466, "noise can go into the
input, a hidden layer, the weights θ or the output y").

* **Output.** For cross-entropy, replacing the label with a uniformly drawn class with
  probability ``ε`` is label smoothing *exactly*: cross-entropy is linear in the target, so
  ``E[CE(z, ỹ)] = CE(z, (1 − ε)·onehot(y) + ε/C)``. (Zero-mean additive noise on a one-hot ``y``
  does nothing at all in expectation, for the same reason.)
"""

from __future__ import annotations

import math

import torch

from ._checks import (
    check_count,
    check_generator,
    check_reduction,
    reduce,
)

__all__ = ["smooth_labels", "label_smoothing_loss", "output_noise_loss"]


def _check_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a real number in [0, 1]; got {type(eps).__name__}.")
    v = float(eps)
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise ValueError(f"eps must be a probability in [0, 1] (the chance that the label is "
                         f"redrawn uniformly); got {eps}.")
    return v


def _check_labels(labels: object, n_classes: int, n: int | None = None) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dim() != 1:
        got = (f"tensor of {labels.dtype} and shape {tuple(labels.shape)}"
               if isinstance(labels, torch.Tensor) else type(labels).__name__)
        raise TypeError(f"labels must be an integer tensor of class indices, shape (N,); got "
                        f"{got}.")
    if n is not None and labels.shape[0] != n:
        raise ValueError(f"labels must have one entry per row of logits (N={n}); got "
                         f"{labels.shape[0]}.")
    if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}; got values in "
                         f"{labels.min().item()}..{labels.max().item()}.")
    return labels


def _check_logits(logits: object) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() \
            or logits.dim() != 2 or logits.shape[1] < 2:
        got = (f"shape {tuple(logits.shape)}, {logits.dtype}"
               if isinstance(logits, torch.Tensor) else type(logits).__name__)
        raise ValueError(f"logits must be a floating tensor of shape (N, C) with C >= 2; got "
                         f"{got}.")
    return logits


def smooth_labels(labels: torch.Tensor, n_classes: int, *, eps: float,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Label-smoothed targets ``(1 − ε)·onehot(y) + ε/C``, ``(N, C)`` (Szegedy et al. 2016,
    arXiv:1512.00567): the mean of the noisy one-hot label when ``y`` is redrawn uniformly from
    the ``C`` classes with probability ``ε`` (kexue.fm archive 7466).

    Raises:
        TypeError: ``labels`` not an integer ``(N,)`` tensor.
        ValueError: labels out of range, ``eps ∉ [0, 1]``, ``n_classes < 2``.
    """
    n_classes = check_count(n_classes, "n_classes", minimum=2)
    labels = _check_labels(labels, n_classes)
    eps = _check_eps(eps)
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(dtype)  # (N, C)
    return (1 - eps) * onehot + eps / n_classes


def label_smoothing_loss(logits: torch.Tensor, labels: torch.Tensor, *, eps: float,
                         reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy against smoothed labels, ``−Σ_c q_c log π_c``, ``q = (1 − ε)·onehot + ε/C``;
    equal, exactly, to the expected cross-entropy under output noise (:func:`output_noise_loss`)
    and to ``(1 − ε)·CE + ε·mean_c(−log π_c)``.

    Source: Szegedy et al. 2016 (arXiv:1512.00567); noise on the output ``y`` as in kexue.fm archive
    7466.

    Args:
        logits: ``(N, C)``. labels: ``(N,)`` class indices. eps: smoothing ``∈ [0, 1]``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """
    logits = _check_logits(logits)
    reduction = check_reduction(reduction)
    q = smooth_labels(labels, logits.shape[1], eps=eps, dtype=logits.dtype)
    _check_labels(labels, logits.shape[1], logits.shape[0])
    return reduce(-(q * torch.log_softmax(logits, 1)).sum(1), reduction)


def output_noise_loss(logits: torch.Tensor, labels: torch.Tensor, *, eps: float,
                      n_samples: int = 1, generator: torch.Generator | int | None = None,
                      reduction: str = "mean") -> torch.Tensor:
    """Monte-Carlo cross-entropy under output (label) noise: each label is replaced, with
    probability ``ε``, by a class drawn uniformly from all ``C`` (kexue.fm archive 7466). Its
    expectation is :func:`label_smoothing_loss` exactly.

    Draw order: per sample, ``u = rand(N)`` then ``c = randint(C, (N,))``; the label is ``c``
    where ``u < ε``.

    Returns:
        Scalar, or ``(N,)`` for ``reduction="none"``; the average over ``n_samples`` draws.
    """
    logits = _check_logits(logits)
    n, c = logits.shape
    labels = _check_labels(labels, c, n)
    eps = _check_eps(eps)
    n_samples = check_count(n_samples, "n_samples")
    reduction = check_reduction(reduction)
    gen = check_generator(generator, device=logits.device)
    dev = logits.device if gen is None else gen.device
    logp = torch.log_softmax(logits, 1)  # (N, C)
    total = torch.zeros(n, dtype=logits.dtype, device=logits.device)
    for _ in range(n_samples):
        u = torch.rand(n, generator=gen, device=dev, dtype=logits.dtype).to(logits.device)
        other = torch.randint(0, c, (n,), generator=gen, device=dev).to(logits.device)
        noisy = torch.where(u < eps, other, labels)
        total = total - logp.gather(1, noisy[:, None])[:, 0]
    return reduce(total / n_samples, reduction)
