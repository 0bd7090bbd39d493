"""scikit-learn's bundled 8×8 digits (UCI optdigits test set, 1797 images), no download.

Source: the "Optical Recognition of Handwritten Digits" data set (Alpaydin and Kaynak 1998, UCI
Machine Learning Repository), as shipped by ``sklearn.datasets.load_digits``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..devices import resolve_device
from ._extra import require


@dataclass(frozen=True)
class Digits:
    """The digits split. Images are ``(N, 64)`` (reshape to ``(N, 8, 8)``), scaled to [-1, 1]
    from the original 0..16 grey levels; labels are ``(N,)`` int64 in 0..9.

    Source: Alpaydin and Kaynak 1998 (UCI optdigits).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def image_shape(self) -> tuple[int, int]:
        return (8, 8)


def digits(*, test_fraction: float = 0.25, dtype: torch.dtype = torch.float32,
           device: torch.device | str | None = None) -> Digits:
    """Load the 8×8 digits shipped inside scikit-learn, scaled to [-1, 1], split stratified.

    Source: Alpaydin and Kaynak 1998 (UCI optdigits).

    The split is fixed (``random_state=0``), so every caller sees the same train/test sets.

    Args:
        test_fraction: fraction of each class held out for testing, in (0, 1).
        dtype: floating dtype of the images.
        device: where the tensors live (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``, a
            ``torch.device``); default PyTorch's default device.

    Returns:
        :class:`Digits` with ``x_*`` of shape ``(N, 64)`` and ``y_*`` of shape ``(N,)``.

    Raises:
        ValueError: ``test_fraction`` outside (0, 1); a device that does not exist here.
        MissingExtraError: (an ``ImportError``) scikit-learn (the ``data`` extra) is not
            installed.
    """
    dev = resolve_device(device) if device is not None else torch.empty(0).device
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}")
    load_digits = require("sklearn.datasets", "kexue.data.digits").load_digits
    train_test_split = require("sklearn.model_selection", "kexue.data.digits").train_test_split

    data = load_digits()
    x = data.data.astype(np.float64) / 8.0 - 1.0  # 0..16 -> [-1, 1]
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=0, stratify=y)
    return Digits(
        x_train=torch.as_tensor(x_tr, dtype=dtype, device=dev),
        y_train=torch.as_tensor(y_tr, device=dev),
        x_test=torch.as_tensor(x_te, dtype=dtype, device=dev),
        y_test=torch.as_tensor(y_te, device=dev),
    )
