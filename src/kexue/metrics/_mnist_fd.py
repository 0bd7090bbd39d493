"""MNIST-FD: the Fréchet distance in the features of kexue's canonical digit classifier.

:func:`mnist_fd` is FID (Heusel et al. 2017, arXiv:1706.08500) with the penultimate features of
a :class:`~kexue.metrics.DigitClassifier` in place of Inception-v3's; :func:`mnist_classifier`
is the canonical classifier (:func:`~kexue.metrics.train_digit_classifier` on kexue's MNIST
training split, 400 steps, seed 0), cached on disk and retrained when the settings or the data
differ.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .. import checkpoint as ckpt_io
from ._classifier import DigitClassifier, load_classifier, save_classifier
from ._classifier_train import train_digit_classifier
from ._frechet import feature_stats, frechet_gaussian

__all__ = ["mnist_fd", "mnist_classifier"]


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
