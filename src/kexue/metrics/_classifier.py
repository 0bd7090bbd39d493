"""A small CNN digit classifier whose penultimate layer is the feature space of "MNIST-FD".

FID (Heusel et al. 2017, arXiv:1706.08500) measures generated images in the feature space of a
classifier trained on real images (Inception-v3 on ImageNet). For 28×28 digits an ImageNet network
is the wrong feature space and a large download; the common substitute is a small CNN trained on
MNIST itself, whose penultimate activations give a Fréchet distance ("MNIST-FD") and whose
predictions give the class accuracy of conditional samples. kexue trains its own, seeded, so the
numbers can be reproduced from the code alone.

Architecture (LeNet-style; LeCun et al. 1998): ``conv3×3(C→c1)–ReLU–maxpool2 → conv3×3(c1→c2)–
ReLU–maxpool2 → flatten → Linear(→features)–ReLU`` (the features) ``→ Linear(→classes)`` (the
logits); defaults ``c1, c2 = 16, 32`` and ``features = 128``. Trained with Adam (Kingma & Ba 2014)
under a cosine-decayed learning rate, on mini-batches of random ±1-pixel shifts of the training
images.

Shapes: images are ``(N, C, H, W)`` (``(N, H, W)`` or flat ``(N, H·W)`` are accepted when
``C = 1``), in the range the classifier was trained on (kexue's MNIST: [-1, 1]); features are
``(N, features)``, logits ``(N, classes)``, predictions ``(N,)`` int64.

Randomness and devices: the initial weights are drawn on the host from a generator seeded with
``seed`` and then moved, so a seed gives the same initial network on every device; mini-batches
and shifts are drawn on the training device from a generator seeded from ``seed``. The global RNG
is never touched. Images passed to :meth:`DigitClassifier.features` / ``predict`` are moved to the
classifier's device and dtype; outputs live there.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import checkpoint as ckpt_io
from ..devices import infer_device, resolve_device
from ..rng import block_seed, seed_from
from ._frechet import feature_stats, frechet_gaussian

__all__ = ["DigitClassifier", "train_digit_classifier", "save_classifier", "load_classifier",
           "mnist_fd", "CLASSIFIER_FORMAT"]

CLASSIFIER_FORMAT = "kexue.metrics.classifier/1"

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
           "bfloat16": torch.bfloat16}


# Checkpoint metadata schema (kexue.checkpoint.validate_meta). Rule: ``spec`` (the network's
# constructor arguments) refuses unknown keys; unknown top-level keys are the free metadata
# returned in ``clf.meta`` (training record, save_classifier(meta=...)) and are not checked.
_F = ckpt_io.Field
SPEC_SCHEMA = {"kind": _F(str, choices=("DigitClassifier",)), "in_channels": _F(int, 1, 64),
               "image_size": _F(list, 2, 2, items=int), "classes": _F(int, 2, 1 << 16),
               "channels": _F(list, 2, 2, items=int), "features": _F(int, 1, 1 << 15)}
META_SCHEMA = {"format": _F(str, high=200), "spec": _F(dict, schema=SPEC_SCHEMA),
               "dtype": _F(str, choices=tuple(_DTYPES), required=False)}


def _spec_shapes(spec: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The parameter shapes of the :class:`DigitClassifier` a (validated) ``spec`` describes,
    in closed form (no network is built)."""
    c_in, (h, w), (c1, c2) = spec["in_channels"], spec["image_size"], spec["channels"]
    f, k = spec["features"], spec["classes"]
    return {"conv1.weight": (c1, c_in, 3, 3), "conv1.bias": (c1,),
            "conv2.weight": (c2, c1, 3, 3), "conv2.bias": (c2,),
            "fc.weight": (f, c2 * (h // 4) * (w // 4)), "fc.bias": (f,),
            "head.weight": (k, f), "head.bias": (k,)}


def _pos_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return value


def _dtype_name(dtype: torch.dtype) -> str:
    for name, d in _DTYPES.items():
        if d == dtype:
            return name
    raise ValueError(f"dtype must be one of {', '.join('torch.' + k for k in _DTYPES)}; "
                     f"got {dtype!r}")


class DigitClassifier(nn.Module):
    """Small CNN for digit images; its penultimate layer is the MNIST-FD feature space.

    Source: LeNet-style (LeCun et al. 1998); its features play Inception's role in FID (Heusel et
    al. 2017, arXiv:1706.08500).

    ``conv3×3(C→c1)–ReLU–maxpool2 → conv3×3(c1→c2)–ReLU–maxpool2 → Linear(c2·⌊H/4⌋·⌊W/4⌋ →
    features)–ReLU → Linear(features → classes)`` (see the module docstring).

    Args:
        in_channels: image channels ``C`` (1 for MNIST).
        image_size: ``H`` (square) or ``(H, W)``, each ``>= 4``.
        classes: number of classes.
        channels: ``(c1, c2)``, the widths of the two convolutions.
        features: width of the feature layer.
        seed: seeds the initial weights (drawn on the host, then moved: equal on every device).
        dtype: floating dtype of the weights.
        device: where the weights live (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``, a
            ``torch.device``; default the host).

    Attributes:
        spec: JSON-able constructor arguments (``{"kind": "DigitClassifier", ...}``), saved by
            :func:`save_classifier` so that :func:`load_classifier` can rebuild the network.
        meta: JSON-able facts about its training (filled by :func:`train_digit_classifier`;
            add e.g. ``meta["test_accuracy"]`` before saving).

    Raises:
        ValueError: a non-positive size, an image smaller than 4×4, an unknown dtype.
    """

    def __init__(self, *, in_channels: int = 1, image_size: int | Sequence[int] = 28,
                 classes: int = 10, channels: Sequence[int] = (16, 32), features: int = 128,
                 seed: int = 0, dtype: torch.dtype = torch.float32,
                 device: str | torch.device | None = None) -> None:
        super().__init__()
        _pos_int("in_channels", in_channels)
        _pos_int("classes", classes, 2)
        _pos_int("features", features)
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 4
                                 for s in size):
            raise ValueError(f"image_size must be an int or (H, W) with H, W >= 4; got "
                             f"{image_size!r}")
        chans = tuple(channels)
        if len(chans) != 2:
            raise ValueError(f"channels must be two conv widths (c1, c2); got {channels!r}")
        for c in chans:
            _pos_int("channels[i]", c)
        _dtype_name(dtype)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be a non-negative int; got {seed!r}")
        self.in_channels, self.image_size, self.classes = in_channels, size, classes
        self.channels, self.n_features = chans, features
        self.spec: dict[str, Any] = {
            "kind": "DigitClassifier", "in_channels": in_channels, "image_size": list(size),
            "classes": classes, "channels": list(chans), "features": features}
        self.meta: dict[str, Any] = {}
        flat = chans[1] * (size[0] // 4) * (size[1] // 4)
        # Built on the meta device (no global-RNG draws), materialised on the host, initialised
        # from a seeded host generator, then moved: the same seed gives the same network anywhere.
        kw = {"device": "meta", "dtype": dtype}
        self.conv1 = nn.Conv2d(in_channels, chans[0], 3, padding=1, **kw)
        self.conv2 = nn.Conv2d(chans[0], chans[1], 3, padding=1, **kw)
        self.fc = nn.Linear(flat, features, **kw)
        self.head = nn.Linear(features, classes, **kw)
        gen = torch.Generator().manual_seed(block_seed(seed, 0))
        self.to_empty(device=gen.device)
        self.reset_parameters(gen)
        if device is not None:
            self.to(resolve_device(device))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch's default initialisation of conv/linear layers (Kaiming-uniform with
        ``a = √5``, bias ``U(±1/√fan_in)``), drawn from ``generator`` (a host generator)."""
        for layer in (self.conv1, self.conv2, self.fc, self.head):
            w = layer.weight
            where = generator.device if generator is not None else w.device
            draw = torch.empty(w.shape, dtype=w.dtype, device=where)
            nn.init.kaiming_uniform_(draw, a=math.sqrt(5), generator=generator)
            w.copy_(draw)
            fan_in = w[0].numel()
            bound = 1 / math.sqrt(fan_in)
            b = torch.empty(layer.bias.shape, dtype=w.dtype, device=where).uniform_(
                -bound, bound, generator=generator)
            layer.bias.copy_(b)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], *, dtype: torch.dtype = torch.float32,
                  device: str | torch.device | None = None) -> DigitClassifier:
        """Rebuild the (untrained) network described by :attr:`spec`."""
        spec = dict(spec)
        if spec.pop("kind", None) != "DigitClassifier":
            raise ValueError(f"spec does not describe a DigitClassifier: {spec!r}")
        return cls(**spec, dtype=dtype, device=device)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images it takes."""
        return (self.in_channels, *self.image_size)

    def _param(self) -> torch.Tensor:
        return self.head.weight

    def prepare(self, x: torch.Tensor, *, name: str = "x") -> torch.Tensor:
        """Check ``x`` and return it as ``(N, C, H, W)`` on the classifier's device and dtype.

        Accepts ``(N, C, H, W)``, and for ``C = 1`` also ``(N, H, W)`` and flat ``(N, H·W)``.

        Raises:
            TypeError: not a real tensor.
            ValueError: another shape (the message names the one expected).
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of images; got {type(x).__name__}")
        if x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"{name} must be a real tensor; got dtype {x.dtype}")
        c, h, w = self.image_shape
        if x.ndim == 4 and tuple(x.shape[1:]) == (c, h, w):
            out = x
        elif c == 1 and x.ndim == 3 and tuple(x.shape[1:]) == (h, w):
            out = x.unsqueeze(1)  # (N, 1, H, W)
        elif c == 1 and x.ndim == 2 and x.shape[1] == h * w:
            out = x.reshape(-1, 1, h, w)  # (N, 1, H, W)
        else:
            raise ValueError(f"{name} must be images of shape (N, {c}, {h}, {w}) for this "
                             f"classifier; got shape {tuple(x.shape)}")
        p = self._param()
        return out.to(device=p.device, dtype=p.dtype)

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, features)``, no checks."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, c1, H/2, W/2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, c2, H/4, W/4)
        return F.relu(self.fc(x.flatten(1)))  # (B, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, classes)`` of images ``x`` (one pass, differentiable)."""
        return self.head(self._body(self.prepare(x)))

    def features(self, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
        """Penultimate-layer features ``(N, features)`` of images ``x``, computed in chunks of
        ``batch_size`` (differentiable when autograd is on; wrap in ``torch.no_grad()`` for
        metrics)."""
        x = self.prepare(x)
        _pos_int("batch_size", batch_size)
        if x.shape[0] <= batch_size:
            return self._body(x)
        return torch.cat([self._body(c) for c in x.split(batch_size)])  # (N, features)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
        """Predicted classes ``(N,)`` int64 (argmax of the logits), in chunks, without grad."""
        f = self.features(x, batch_size=batch_size)
        return self.head(f).argmax(dim=1)

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1000
                 ) -> torch.Tensor:
        """Fraction of ``x`` classified as ``y`` (``(N,)`` labels), a 0-d float64 tensor: the
        test accuracy, or the class accuracy of conditional samples."""
        pred = self.predict(x, batch_size=batch_size)
        y = _check_labels(y, pred.shape[0], self.classes).to(pred.device)
        return (pred == y).to(torch.float64).mean()


def _check_labels(y: Any, n: int, classes: int) -> torch.Tensor:
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"y must be a torch.Tensor of int64 labels; got {type(y).__name__}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(f"y must hold integer class labels; got dtype {y.dtype}. "
                        "Use y.long().")
    if tuple(y.shape) != (n,):
        raise ValueError(f"y must have shape (N,) = ({n},), one label per image; got "
                         f"{tuple(y.shape)}")
    if n and (bool((y < 0).any()) or bool((y >= classes).any())):
        raise ValueError(f"y holds an unknown class label: labels must be in 0..{classes - 1}; "
                         f"got min {int(y.min())}, max {int(y.max())}. Pass classes=... or "
                         "fix the labels.")
    return y.long()


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


def save_classifier(path: str | os.PathLike, clf: DigitClassifier,
                    meta: Mapping[str, Any] | None = None) -> Path:
    """Save ``clf`` with :func:`kexue.checkpoint.save` (safetensors + JSON: its ``spec``, dtype,
    ``clf.meta`` and ``meta``). Returns the path written.

    Raises:
        TypeError: ``clf`` is not a :class:`DigitClassifier`, or ``meta`` is not JSON-able.
    """
    if not isinstance(clf, DigitClassifier):
        raise TypeError(f"clf must be a DigitClassifier; got {type(clf).__name__}")
    tensors = {f"model/{k}": v for k, v in clf.state_dict().items()}
    info = {**clf.meta, **dict(meta or {}), "format": CLASSIFIER_FORMAT, "spec": clf.spec,
            "dtype": _dtype_name(clf._param().dtype)}
    return ckpt_io.save(path, tensors, info)


def load_classifier(path: str | os.PathLike, *, device: str | torch.device | None = None
                    ) -> DigitClassifier:
    """Load a classifier written by :func:`save_classifier`, in eval mode, on ``device``
    (default: the host); ``clf.meta`` holds the saved metadata.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a classifier checkpoint, metadata of the wrong form
            (:data:`META_SCHEMA`; checked, with the weights' shapes, before the network is
            built), or weights that do not match the recorded network.
    """
    path = Path(path)
    tensors, meta = ckpt_io.load(path)
    if meta.get("format") != CLASSIFIER_FORMAT or not meta.get("spec"):
        raise ValueError(f"{str(path)!r} is not a kexue.metrics classifier checkpoint (written "
                         "by kexue.metrics.save_classifier)")
    ckpt_io.validate_meta(path, meta, META_SCHEMA, extra="ignore")
    spec = meta["spec"]
    if not (all(1 <= c <= 4096 for c in spec["channels"])
            and all(4 <= s <= 4096 for s in spec["image_size"])):
        raise ckpt_io.CorruptCheckpoint(
            f"checkpoint {str(path)!r}: metadata['spec'] has channels {spec['channels']} / "
            f"image_size {spec['image_size']} outside [1, 4096] / [4, 4096]; use another "
            "checkpoint")
    stored = {k[len("model/"):]: tuple(v.shape) for k, v in tensors.items()
              if k.startswith("model/")}
    for key, shape in _spec_shapes(spec).items():  # before any allocation
        if stored.get(key) != shape:
            raise ckpt_io.CorruptCheckpoint(
                f"checkpoint {str(path)!r}: metadata['spec'] describes a classifier whose "
                f"model/{key} has shape {shape}, but the file stores {stored.get(key)}; the "
                "metadata was edited or belongs to another file")
    clf = DigitClassifier.from_spec(spec, dtype=_DTYPES[meta.get("dtype", "float32")])
    ckpt_io.load_module(clf, tensors, "model/", path=path)
    clf.meta = {k: v for k, v in meta.items() if k not in ("format", "spec", "dtype")}
    if device is not None:
        clf.to(resolve_device(device))
    return clf.eval()


@torch.no_grad()
def mnist_fd(generated: torch.Tensor, reference: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
             classifier: DigitClassifier, *, batch_size: int = 1000) -> torch.Tensor:
    """"MNIST-FD": the Fréchet distance (Heusel et al. 2017, arXiv:1706.08500) between the
    :class:`DigitClassifier` features of ``generated`` and of ``reference`` images.

    The estimate is biased in the sample size (Chong & Forsyth 2019, arXiv:1911.07023): compare
    numbers computed with the same number of images, beside the floor of a held-out real set.

    Args:
        generated: images ``(N, C, H, W)``, ``N >= 2``, in the classifier's input range.
        reference: images ``(M, C, H, W)``, or their precomputed feature statistics
            ``(mu, sigma)`` = :func:`~kexue.metrics.feature_stats` ``(classifier.features(x))``
            (saves recomputing them when one reference is used many times).
        classifier: the feature network.
        batch_size: images per forward pass.

    Returns:
        0-d float64 tensor on the classifier's device.

    Raises:
        TypeError/ValueError: wrong types or image shapes (naming the shape expected).
    """
    if not isinstance(classifier, DigitClassifier):
        raise TypeError(f"classifier must be a DigitClassifier; got {type(classifier).__name__}")
    mu1, s1 = feature_stats(classifier.features(
        classifier.prepare(generated, name="generated"), batch_size=batch_size))
    if isinstance(reference, (tuple, list)):
        if len(reference) != 2 or not all(isinstance(t, torch.Tensor) for t in reference):
            raise ValueError("reference must be images (M, C, H, W) or a (mu, sigma) pair of "
                             "tensors from kexue.metrics.feature_stats(classifier.features(x))")
        mu2, s2 = (t.to(mu1.device) for t in reference)
    else:
        mu2, s2 = feature_stats(classifier.features(
            classifier.prepare(reference, name="reference"), batch_size=batch_size))
    return frechet_gaussian(mu1, s1, mu2, s2)


def _auto_cache(steps: int, seed: int) -> Path:
    """Where ``mnist_classifier(cache="auto")`` keeps the classifier."""
    root = Path(os.environ.get("KEXUE_CACHE") or Path.home() / ".cache" / "kexue")
    return root / f"mnist-classifier-{int(steps)}-seed{int(seed)}.safetensors"


def mnist_classifier(*, cache: str | os.PathLike | None = None, steps: int = 400, seed: int = 0,
                     device: str | torch.device | None = None) -> DigitClassifier:
    """The canonical MNIST-FD feature classifier: :func:`train_digit_classifier` with its
    defaults on :func:`kexue.data.mnist`'s training split, so every experiment reports MNIST-FD
    in the same feature space.

    Source: Heusel et al. 2017 (arXiv:1706.08500), with a LeNet-style network (LeCun et al. 1998).

    Args:
        cache: a ``.safetensors`` path; when it holds a classifier trained with the same
            ``steps``, ``seed`` and training data it is loaded, otherwise the classifier is
            trained and saved there (atomically). ``"auto"``: the file
            ``mnist-classifier-<steps>-seed<seed>.safetensors`` in ``$KEXUE_CACHE`` (default
            ``~/.cache/kexue``), shared by every experiment and process on the machine.
            ``None`` or ``""``: train without caching.
        steps, seed: as :func:`train_digit_classifier` (400 steps ≈ 10 s on two CPU cores).
        device: where to train / put it.

    Returns:
        The classifier in eval mode; ``clf.meta["test_accuracy"]`` is its accuracy on the
        MNIST test split.

    Raises:
        kexue.data.MissingExtraError: the ``data`` extra is not installed.
    """
    from ..data import mnist

    if isinstance(cache, str) and cache in ("", "auto"):
        cache = None if cache == "" else _auto_cache(steps, seed)
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
    d = mnist()
    fingerprint = ckpt_io.fingerprint(d.x_train)  # as train_digit_classifier records it
    if cache is not None and Path(cache).exists():
        try:
            clf = load_classifier(cache, device=device)
        except ValueError:
            clf = None
        train = clf.meta.get("train", {}) if clf is not None else {}
        if clf is not None and (train.get("steps"), train.get("seed"),
                                train.get("data_fingerprint")) == (steps, seed, fingerprint):
            return clf
    clf = train_digit_classifier(d.x_train, d.y_train, steps=steps, seed=seed, device=device)
    clf.meta["test_accuracy"] = float(clf.accuracy(d.x_test, d.y_test))
    if cache is not None:
        save_classifier(cache, clf)
    return clf
