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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import checkpoint as ckpt_io
from ..devices import resolve_device
from ..rng import block_seed

__all__ = ["DigitClassifier", "save_classifier", "load_classifier", "CLASSIFIER_FORMAT"]

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
