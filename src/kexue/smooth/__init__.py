"""Smooth surrogates of non-differentiable functions (kexue.fm 6620, "Function smoothing").

``max ≈ LSE_k``; softmax is the smooth one-hot of argmax; softplus/logcosh/tanh/sigmoid smooth
ReLU, |x|, sign and step; accuracy, precision, recall and F1 become differentiable.
"""

from ._max import smooth_max, smooth_min
from ._metrics import soft_accuracy, soft_f1, soft_f1_loss, soft_precision, soft_recall
from ._surrogates import (
    smooth_abs,
    smooth_relu,
    smooth_sign,
    smooth_step,
    soft_argmax,
    soft_onehot,
)

__all__ = [
    "smooth_max", "smooth_min", "soft_argmax", "soft_onehot", "smooth_relu", "smooth_abs",
    "smooth_sign", "smooth_step", "soft_accuracy", "soft_precision", "soft_recall", "soft_f1",
    "soft_f1_loss",
]
