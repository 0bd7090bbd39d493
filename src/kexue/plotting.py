"""Figures of image samples: tile a batch of images into one picture.

:func:`image_grid` returns the tiled array (a tensor, no plotting library needed);
:func:`show_image_grid` draws it on a matplotlib ``Axes`` with the conventions of kexue's figures
(data scale ``[−1, 1]``, grey map, no ticks). The CLI's and the experiments' sample figures
(``kexue diffusion sample``, ``kexue gan sample``, diffusion-digits, BiGAN-QP, …) use them.
The layout is torchvision's ``make_grid`` (row-major, a gap of ``padding`` pixels between
tiles), for one channel.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = ["image_grid", "show_image_grid"]


def _as_tiles(images: torch.Tensor, image_shape: tuple[int, int] | None) -> torch.Tensor:
    """``images`` as ``(N, H, W)`` float32 on the CPU."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor; got {type(images).__name__}")
    x = images.detach().cpu().float()
    if x.ndim == 4 and x.shape[1] == 1:  # (N, 1, H, W)
        x = x[:, 0]
    if x.ndim == 2:  # (N, H·W): flat images
        if image_shape is None:
            side = math.isqrt(x.shape[1])
            if side * side != x.shape[1]:
                raise ValueError(f"images of shape {tuple(images.shape)} are flat with "
                                 f"{x.shape[1]} pixels, not a square: pass image_shape=(H, W)")
            image_shape = (side, side)
        if image_shape[0] * image_shape[1] != x.shape[1]:
            raise ValueError(f"image_shape {tuple(image_shape)} does not hold {x.shape[1]} pixels; "
                             "give (H, W) with H·W equal to the images' second dimension")
        x = x.reshape(-1, *image_shape)
    if x.ndim != 3:
        raise ValueError(f"images must be (N, H, W), (N, 1, H, W) or flat (N, H·W); got shape "
                         f"{tuple(images.shape)}")
    return x


def image_grid(images: torch.Tensor, rows: int, cols: int, *,
               image_shape: tuple[int, int] | None = None, padding: int = 1,
               pad_value: float = float("nan")) -> torch.Tensor:
    """Tile the first ``rows·cols`` images row-major into one 2-D array.

    Args:
        images: ``(N, H, W)``, ``(N, 1, H, W)`` or flat ``(N, H·W)`` (square unless
            ``image_shape`` is given); any device and float dtype.
        rows, cols: the grid; images beyond ``rows·cols`` are left out, missing ones leave their
            cells at ``pad_value``.
        image_shape: ``(H, W)`` of flat images.
        padding: pixels between neighbouring tiles (none around the border).
        pad_value: the gaps' value (NaN: drawn as the background by ``imshow``).

    Returns:
        ``(rows·(H + padding) − padding, cols·(W + padding) − padding)`` float32 on the CPU;
        image ``n`` (``i, j = divmod(n, cols)``) at rows ``i·(H + padding) …`` and columns
        ``j·(W + padding) …``.

    Raises:
        TypeError: ``images`` is not a tensor.
        ValueError: a shape, ``rows``, ``cols`` or ``padding`` out of range.
    """
    for name, v, low in (("rows", rows, 1), ("cols", cols, 1), ("padding", padding, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an int >= {low}; got {v!r}")
    tiles = _as_tiles(images, image_shape)[: rows * cols]  # (≤ rows·cols, H, W)
    h, w = tiles.shape[-2:]
    canvas = torch.full((rows * (h + padding) - padding, cols * (w + padding) - padding),
                        float(pad_value))
    for n, tile in enumerate(tiles):
        i, j = divmod(n, cols)
        canvas[i * (h + padding): i * (h + padding) + h,
               j * (w + padding): j * (w + padding) + w] = tile
    return canvas


def show_image_grid(ax: Any, images: torch.Tensor, rows: int, cols: int, title: str = "", *,
                    cmap: str = "gray_r", vmin: float = -1.0, vmax: float = 1.0,
                    image_shape: tuple[int, int] | None = None, padding: int = 1) -> None:
    """Draw :func:`image_grid` of ``images`` on the matplotlib ``ax``: grey map ``cmap`` over
    ``[vmin, vmax]`` (the data scale ``[−1, 1]``), nearest-pixel, no axes, ``title`` above.
    Shapes as in :func:`image_grid`."""
    canvas = image_grid(images, rows, cols, image_shape=image_shape, padding=padding)
    ax.imshow(canvas.numpy(), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    if title:
        ax.set_title(title, fontsize=9)
    ax.axis("off")
