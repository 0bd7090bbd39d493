"""The named training sets of :func:`kexue.gan.train_gan`: :mod:`kexue.data`'s names (``"ring"``,
``"grid"``) with GAN-QP's paper stds (Su 2018, arXiv:1811.07296; kexue.fm 6163: 8 Gaussians on a
ring of std 0.02, 25 on a grid of std 0.05), ``"digits"``, and the deprecated old names."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

__all__ = ["DATASETS", "DATASET_ALIASES", "TOY_STD", "dataset_name", "load_gan_data"]


#: Named datasets ``train_gan`` accepts besides a tensor: :data:`kexue.data.TOY_DATASETS`'s names.
DATASETS = ("ring", "grid", "digits")
#: Deprecated spellings of :data:`DATASETS` (accepted with a ``DeprecationWarning``; the same data).
DATASET_ALIASES = {"ring8": "ring", "grid25": "grid"}
#: The mixtures' standard deviation for GANs: GAN-QP's paper settings (arXiv:1811.07296; the
#: 8-Gaussian ring of radius 2 with std 0.02, the 5×5 grid of spacing 2 with std 0.05), also
#: :func:`kexue.data.ring_of_gaussians`/:func:`kexue.data.grid_of_gaussians`'s defaults.
TOY_STD = {"ring": 0.02, "grid": 0.05}


def dataset_name(name: str) -> str:
    """The name of :data:`DATASETS` that ``name`` spells: itself, or for a deprecated alias
    (``"ring8"``, ``"grid25"``; :data:`DATASET_ALIASES`) its new name, with a
    ``DeprecationWarning``.

    Raises:
        ValueError: an unknown name (the message lists :data:`DATASETS`).
    """
    if name in DATASET_ALIASES:
        new = DATASET_ALIASES[name]
        warnings.warn(f"dataset name {name!r} is deprecated; use {new!r} (the same data)",
                      DeprecationWarning, stacklevel=3)
        return new
    if name in DATASETS:
        return name
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)} or an (N, D) tensor")


def load_gan_data(name: str, *, n: int = 50_000, seed: int = 0,
                  dtype: torch.dtype = torch.float32) -> Tensor:
    """The training set behind a dataset name: ``"ring"``/``"grid"`` draw ``n`` points of the
    8-Gaussian ring / 25-Gaussian grid of :mod:`kexue.data` with the stds of :data:`TOY_STD`
    (GAN-QP's paper settings; seed ``10_000 + seed``); ``"digits"`` is the 8×8 digits training
    split in [−1, 1]. The old names ``"ring8"``/``"grid25"`` still work, with a
    ``DeprecationWarning``. Returns ``(N, D)``."""
    from ..data import digits, toy

    name = dataset_name(name)
    if name in TOY_STD:
        return toy(name, n, 10_000 + seed, std=TOY_STD[name], dtype=dtype)
    return digits(dtype=dtype).x_train
