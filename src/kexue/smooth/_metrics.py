"""Differentiable accuracy, precision, recall and F1 (kexue.fm archive 6620).

Replace the hard prediction ``onehot(argmax z)`` (or ``z > 0``) by its smooth version —
``softmax(k·z)`` for a multiclass task, ``σ(k·z)`` for binary/multilabel — and the counts become
differentiable:

* ``soft_accuracy = mean_n p_{n, y_n}``; by Jensen, ``−log soft_accuracy ≤ cross-entropy``;
* ``soft_precision = Σ y·p / Σ p``, ``soft_recall = Σ y·p / Σ y``,
  ``soft_f1 = 2 Σ y·p / Σ (y + p)``; on hard 0/1 predictions these equal the usual metrics.

``soft_f1`` is a *metric* (higher is better); ``soft_f1_loss = 1 − soft_f1`` is what to minimise.
The article's caveat: the smoothed F1 of a mini-batch is not an average over samples, so it is
batch dependent; start from cross-entropy and fine-tune with it.

Task layouts (inferred from the shapes):

* binary: ``logits`` ``(N,)`` and ``targets`` ``(N,)`` in {0, 1} — everything pooled;
* multilabel: ``logits`` ``(N, L)`` and ``targets`` ``(N, L)`` in {0, 1} — per label (last dim);
* multiclass: ``logits`` ``(N, C)`` and integer ``targets`` ``(N,)`` in 0..C−1 — per class.

``average="macro"`` (default) averages the per-label/per-class scores (the binary layout has one);
``"micro"`` pools all counts first.
"""

from __future__ import annotations

import torch

from ..limits import check_has_data
from ._max import check_float_tensor, check_k

__all__ = ["soft_accuracy", "soft_precision", "soft_recall", "soft_f1", "soft_f1_loss",
           "AVERAGES"]

AVERAGES = ("macro", "micro")


def _probs_and_onehot(logits: torch.Tensor, targets: torch.Tensor, k: float
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(p, y)`` of the same shape ``(N,)`` or ``(N, L)``, y in {0, 1}."""
    check_float_tensor(logits, "logits")
    k = check_k(k)
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor; got {type(targets).__name__}")
    check_has_data(targets, "targets")
    if logits.dim() == 0 or logits.shape[0] == 0:
        raise ValueError(f"logits must hold at least one example, shape (N, ...) with N >= 1; "
                         f"got shape {tuple(logits.shape)} (a metric of no examples is "
                         "undefined)")
    if targets.shape == logits.shape:  # binary / multilabel
        y = targets.to(logits.dtype)
        if not ((y == 0) | (y == 1)).all():
            bad = targets[(y != 0) & (y != 1)][0].item()
            raise ValueError(
                f"targets must be 0/1 for binary or multilabel tasks; found {bad}. "
                "For a multiclass task pass integer class indices of shape (N,) with logits "
                "of shape (N, C)."
            )
        return torch.sigmoid(k * logits), y
    if logits.dim() == 2 and targets.shape == logits.shape[:1]:  # multiclass
        if targets.is_floating_point() or targets.dtype == torch.bool:
            raise TypeError(
                f"multiclass targets must be integer class indices; got {targets.dtype}")
        n_classes = logits.shape[1]
        if targets.numel() and (targets.min() < 0 or targets.max() >= n_classes):
            raise ValueError(
                f"multiclass targets must lie in 0..{n_classes - 1} (logits have {n_classes} "
                f"columns); got range {targets.min().item()}..{targets.max().item()}"
            )
        y = torch.nn.functional.one_hot(targets.long(), n_classes).to(logits.dtype)
        return torch.softmax(k * logits, dim=1), y
    raise ValueError(
        f"shapes do not match: logits {tuple(logits.shape)}, targets {tuple(targets.shape)}. "
        "Expected equal shapes (binary/multilabel, 0/1 targets) or logits (N, C) with "
        "targets (N,) (multiclass)."
    )


def _reduce(num: torch.Tensor, den: torch.Tensor, average: str) -> torch.Tensor:
    """num/den per label with 0/0 := 0 (as scikit-learn's zero_division=0)."""
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {', '.join(AVERAGES)}; got {average!r}")
    if average == "micro" or num.dim() == 0:
        num, den = num.sum(), den.sum()
    ratio = torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)),
                        torch.zeros_like(num))
    return ratio.mean()


def _counts(logits: torch.Tensor, targets: torch.Tensor, k: float
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Soft true positives, predicted positives and positives, summed over samples:
    scalars for the binary layout, ``(L,)``/``(C,)`` otherwise."""
    p, y = _probs_and_onehot(logits, targets, k)
    return (y * p).sum(0), p.sum(0), y.sum(0)


def soft_accuracy(logits: torch.Tensor, targets: torch.Tensor, *, k: float = 1.0
                  ) -> torch.Tensor:
    """Smooth accuracy ``mean_n p_{n, y_n}`` with ``p = softmax(k·logits)`` (multiclass) or
    ``mean(y·p + (1−y)(1−p))`` with ``p = σ(k·logits)`` (binary/multilabel). Scalar.
    Equals the hard accuracy when the predictions are one-hot (0/1).

    Source: kexue.fm archive 6620.
    """
    p, y = _probs_and_onehot(logits, targets, k)
    if targets.shape == logits.shape:
        return (y * p + (1 - y) * (1 - p)).mean()
    return (y * p).sum(1).mean()


def soft_precision(logits: torch.Tensor, targets: torch.Tensor, *, k: float = 1.0,
                   average: str = "macro") -> torch.Tensor:
    """Smooth precision ``Σ y·p / Σ p`` (per label, then ``average``). Scalar.

    Source: kexue.fm archive 6620.
    """
    tp, pp, _ = _counts(logits, targets, k)
    return _reduce(tp, pp, average)


def soft_recall(logits: torch.Tensor, targets: torch.Tensor, *, k: float = 1.0,
                average: str = "macro") -> torch.Tensor:
    """Smooth recall ``Σ y·p / Σ y`` (per label, then ``average``). Scalar.

    Source: kexue.fm archive 6620.
    """
    tp, _, pos = _counts(logits, targets, k)
    return _reduce(tp, pos, average)


def soft_f1(logits: torch.Tensor, targets: torch.Tensor, *, k: float = 1.0,
            average: str = "macro") -> torch.Tensor:
    """Smooth F1 ``2 Σ y·p / Σ (y + p)`` — a metric in [0, 1], higher is better. Scalar.

    Source: kexue.fm archive 6620.

    Args:
        logits: ``(N,)``, ``(N, L)`` or ``(N, C)`` raw scores (see the module docstring).
        targets: 0/1 of the same shape, or integer classes ``(N,)`` for ``(N, C)`` logits.
        k: sharpness of the sigmoid/softmax (default 1: the model's own probabilities).
        average: ``"macro"`` (mean of per-label F1) or ``"micro"`` (pooled counts).

    Raises:
        ValueError: targets outside {0, 1} / 0..C−1, mismatched shapes, ``k ≤ 0``, bad average.

    Examples:
        >>> import torch
        >>> from kexue.smooth import soft_f1
        >>> logits = torch.tensor([8.0, -8.0, 8.0, -8.0], dtype=torch.float64)
        >>> targets = torch.tensor([1.0, 0.0, 1.0, 0.0])
        >>> round(soft_f1(logits, targets).item(), 3)   # near-hard predictions: F1 ≈ 1
        1.0
    """
    tp, pp, pos = _counts(logits, targets, k)
    return _reduce(2 * tp, pp + pos, average)


def soft_f1_loss(logits: torch.Tensor, targets: torch.Tensor, *, k: float = 1.0,
                 average: str = "macro") -> torch.Tensor:
    """``1 − soft_f1`` — the loss to minimise (same arguments as :func:`soft_f1`).

    Source: kexue.fm archive 6620.
    """
    return 1.0 - soft_f1(logits, targets, k=k, average=average)
