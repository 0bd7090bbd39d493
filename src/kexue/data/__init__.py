"""Datasets that ship with the installed packages or are generated: nothing is downloaded.

* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (1797 images), scaled to [-1, 1],
  with a fixed stratified train/test split.
* 2-D toy distributions for generative models: :func:`ring_of_gaussians` (8 modes),
  :func:`grid_of_gaussians` (5×5 = 25 modes), :func:`two_moons`, :func:`swiss_roll`,
  :func:`checkerboard`. Each takes ``n`` and a seed or a ``torch.Generator`` and returns ``(n, 2)``.
"""

from ._digits import Digits, digits
from ._toy import (
    TOY_DATASETS,
    checkerboard,
    grid_of_gaussians,
    ring_of_gaussians,
    swiss_roll,
    toy,
    two_moons,
)

__all__ = [
    "Digits", "digits", "TOY_DATASETS", "toy", "ring_of_gaussians", "grid_of_gaussians",
    "two_moons", "swiss_roll", "checkerboard",
]
