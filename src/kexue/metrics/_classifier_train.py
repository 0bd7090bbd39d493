"""Training the digit classifier: Adam on random ±1-pixel shifts, cosine-decayed, seeded.

:func:`train_digit_classifier` fits a :class:`~kexue.metrics.DigitClassifier` (LeNet-style;
LeCun et al. 1998) with Adam (Kingma & Ba 2014, arXiv:1412.6980) under a cosine-decayed learning
rate, on mini-batches of random integer translations of the training images (replicated border).
The initial weights come from ``seed`` on the host; mini-batches and shifts from a generator
seeded from ``seed`` on the training device; the global RNG is never touched.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .. import checkpoint as ckpt_io
from ..devices import infer_device
from ..rng import block_seed, seed_from
from ._classifier import (
    DigitClassifier,
    _check_labels,
    _pos_int,
)

__all__ = ["train_digit_classifier"]


def _random_shift(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image of ``x`` ``(B, C, H, W)`` by its own integer offset in
    ``[−shift, shift]²``, filling with the replicated border (the background)."""
    b, c, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift), mode="replicate")  # (B, C, H+2s, W+2s)
    off = torch.randint(0, 2 * shift + 1, (2, b), generator=gen, device=x.device)  # (2, B)
    rows = torch.arange(h, device=x.device)[None, :] + off[0][:, None]  # (B, H)
    cols = torch.arange(w, device=x.device)[None, :] + off[1][:, None]  # (B, W)
    out = padded.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * shift))  # (B,C,H,W+2s)
    return out.gather(3, cols[:, None, None, :].expand(b, c, h, w))  # (B, C, H, W)


def train_digit_classifier(
        x: torch.Tensor, y: torch.Tensor, *, steps: int = 400, batch_size: int = 128,
        lr: float = 2e-3, seed: int | torch.Generator | None = 0,
        device: str | torch.device | None = None, classes: int = 10,
        channels: Sequence[int] = (16, 32), features: int = 128, shift: int = 1,
        weight_decay: float = 0.0, dtype: torch.dtype = torch.float32,
        callback: Callable[[int, torch.Tensor], None] | None = None) -> DigitClassifier:
    """Train a :class:`DigitClassifier` on labelled images: Adam (Kingma & Ba 2014,
    arXiv:1412.6980), cross-entropy, cosine-decayed learning rate
    ``lr·(1 + cos(π·step/steps))/2``, mini-batches drawn without replacement (a fresh
    permutation each epoch), each image shifted by a random offset in ``[−shift, shift]²``.

    Args:
        x: images ``(N, C, H, W)`` (or ``(N, H, W)`` / ``(N, H·W)`` for one channel).
        y: labels ``(N,)``, integers in ``0..classes−1``.
        steps: optimiser steps.
        batch_size: images per step (at most ``N``).
        lr: peak learning rate of Adam.
        seed: an int (or a ``torch.Generator`` / ``None`` to draw one, per :mod:`kexue.rng`);
            seeds the initial weights and the batches. Same seed, data and device → identical
            weights.
        device: where to train (default: ``x``'s device).
        classes, channels, features: the network (see :class:`DigitClassifier`).
        shift: maximal random translation in pixels (0: none).
        weight_decay: Adam's L2 penalty.
        dtype: the weights' dtype.
        callback: called as ``callback(step, loss)`` after each step (``loss`` a 0-d tensor on
            the device; reading it synchronises).

    Returns:
        The trained classifier in eval mode, on ``device``; ``clf.meta["train"]`` records the
        settings, ``clf.meta["train_loss"]`` the mean loss of the last 10 % of steps and
        ``clf.meta["seconds"]`` the training time.

    Raises:
        TypeError: ``x``/``y`` not tensors, float labels.
        ValueError: mismatched shapes, an unknown class label, non-positive
            ``steps``/``batch_size``/``lr``.
    """
    t0 = time.perf_counter()
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of images; got {type(x).__name__}")
    _pos_int("steps", steps)
    _pos_int("batch_size", batch_size)
    _pos_int("shift", shift, 0)
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive float; got {lr!r}")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a float >= 0; got {weight_decay!r}")
    dev = infer_device(device, x)
    seed = seed_from(seed, name="seed")
    shape = tuple(x.shape[1:])
    if x.ndim == 4:
        in_channels, size = shape[0], shape[1:]
    elif x.ndim == 3:
        in_channels, size = 1, shape
    else:
        raise ValueError(f"x must be images of shape (N, C, H, W) or (N, H, W); got "
                         f"{tuple(x.shape)}")
    clf = DigitClassifier(in_channels=in_channels, image_size=size, classes=classes,
                          channels=channels, features=features, seed=seed, dtype=dtype,
                          device=dev)
    data = clf.prepare(x)  # (N, C, H, W) on dev
    n = data.shape[0]
    if n == 0:
        raise ValueError("x holds no images")
    labels = _check_labels(y, n, classes).to(dev)
    batch = min(batch_size, n)
    gen = torch.Generator(device=dev).manual_seed(block_seed(seed, 1))
    opt = torch.optim.Adam(clf.parameters(), lr=lr, weight_decay=weight_decay)
    clf.train()
    losses = []
    perm, pos = None, n
    for step in range(steps):
        if pos + batch > n:
            perm, pos = torch.randperm(n, generator=gen, device=dev), 0
        idx = perm[pos:pos + batch]
        pos += batch
        xb = data[idx]  # (B, C, H, W)
        if shift:
            xb = _random_shift(xb, shift, gen)
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = F.cross_entropy(clf.head(clf._body(xb)), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        if callback is not None:
            callback(step + 1, losses[-1])
    clf.eval()
    tail = torch.stack(losses[-max(1, steps // 10):])
    clf.meta = {
        "train": {"steps": steps, "batch_size": batch, "lr": lr, "seed": seed, "shift": shift,
                  "weight_decay": weight_decay, "n_train": n, "optimizer": "Adam",
                  "schedule": "cosine", "data_fingerprint": ckpt_io.fingerprint(data)},
        "train_loss": float(tail.mean()),
        "seconds": time.perf_counter() - t0,
        "device": str(dev)}
    return clf
