"""Datasets that ship with the installed packages or are generated: nothing is downloaded.

* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (1797 images), scaled to [-1, 1],
  with a fixed stratified train/test split.
* 2-D toy distributions for generative models: :func:`ring_of_gaussians` (8 modes),
  :func:`grid_of_gaussians` (5×5 = 25 modes), :func:`two_moons`, :func:`swiss_roll`,
  :func:`checkerboard`. Each takes ``n``, a ``generator`` and a ``device`` and returns ``(n, 2)``.

Randomness follows :mod:`kexue.rng`: ``generator`` is a ``torch.Generator`` on the drawing
device, an ``int`` seed (a new generator there), or ``None`` — PyTorch's default generator, as
``torch.randn`` uses, so ``torch.manual_seed`` makes a run reproducible. Every loader takes
``device=`` (default: PyTorch's default device; for the toys, a given generator's device).
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
