"""Image metrics: the Fréchet distance and a digit classifier that gives it a feature space.

* :func:`frechet_distance` ``(a, b)`` — Fréchet distance between Gaussians fitted to two sets of
  feature vectors ``(N, F)``, ``(M, F)`` (Heusel et al. 2017, arXiv:1706.08500), in float64 with
  an eigen-decomposition instead of a non-symmetric matrix square root;
  :func:`frechet_gaussian` ``(mu1, sigma1, mu2, sigma2)`` for known moments;
  :func:`feature_stats` for the moments of a feature set.
* :class:`DigitClassifier` — a small CNN for 28×28 digits, ``.features(x) -> (N, 128)``,
  ``.predict(x) -> (N,)``, ``.accuracy(x, y)``; :func:`train_digit_classifier` trains it
  (Adam, seeded: same seed → same weights, global RNG untouched); :func:`save_classifier` /
  :func:`load_classifier` store it with :mod:`kexue.checkpoint`; :func:`mnist_classifier` is the
  canonical one (default settings on the MNIST training split, cached on disk if asked), so
  every experiment's MNIST-FD lives in one feature space.
* :func:`mnist_fd` ``(generated, reference, classifier)`` — "MNIST-FD", the Fréchet distance of
  classifier features, and the class accuracy of conditional samples via ``.accuracy``.

FD is biased in the number of samples (Chong & Forsyth 2019, arXiv:1911.07023): compare values at
a fixed ``N`` and against the floor of a held-out real set.

Example::

    from kexue.data import mnist
    from kexue.metrics import train_digit_classifier, mnist_fd
    d = mnist()
    clf = train_digit_classifier(d.x_train, d.y_train, steps=400, seed=0)
    float(clf.accuracy(d.x_test, d.y_test))              # test accuracy
    float(mnist_fd(d.x_test, d.x_train, clf))            # the floor
"""

from ._classifier import CLASSIFIER_FORMAT, DigitClassifier, load_classifier, save_classifier
from ._classifier_train import train_digit_classifier
from ._frechet import feature_stats, frechet_distance, frechet_gaussian
from ._mnist_fd import mnist_classifier, mnist_fd

__all__ = [
    "frechet_distance", "frechet_gaussian", "feature_stats", "DigitClassifier",
    "train_digit_classifier", "save_classifier", "load_classifier", "mnist_fd",
    "mnist_classifier",
    "CLASSIFIER_FORMAT",
]
