"""Shared pieces of the MNIST GAN experiments (``ganqp-mnist``, ``bigan-qp-mnist``): the cached
MNIST-FD classifier, FD with a bootstrap standard error, image grids, paired comparisons."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..metrics import feature_stats, frechet_gaussian, mnist_classifier

__all__ = ["classifier", "fd_with_se", "grid", "paired_margin"]


def classifier(cache: str, device: torch.device):
    """The canonical MNIST-FD classifier (:func:`kexue.metrics.mnist_classifier`, 400 steps,
    seed 0). ``cache``: ``"auto"`` (``$KEXUE_CACHE`` or ``~/.cache/kexue``), a file path, or
    ``""`` (train it, ~10 s on two cores, without caching)."""
    return mnist_classifier(cache=cache, device=device)


@torch.no_grad()
def fd_with_se(clf, images: torch.Tensor, ref: tuple[torch.Tensor, torch.Tensor], *,
               n_boot: int, seed: int) -> tuple[float, float]:
    """MNIST-FD of ``images`` ``(N, 1, 28, 28)`` against reference feature statistics ``ref``
    and its bootstrap standard error over the ``N`` images (``n_boot`` resamples of the
    features with replacement, drawn from a NumPy generator seeded with ``seed``)."""
    feats = clf.features(images).double()  # (N, F)
    mu2, s2 = (t.to(feats.device, torch.float64) for t in ref)
    fd = float(frechet_gaussian(*feature_stats(feats), mu2, s2))
    if n_boot < 2:
        return fd, float("nan")
    rng = np.random.default_rng(seed)
    n = feats.shape[0]
    boots = []
    for _ in range(n_boot):
        idx = torch.as_tensor(rng.integers(0, n, n), device=feats.device)
        boots.append(float(frechet_gaussian(*feature_stats(feats[idx]), mu2, s2)))
    return fd, float(np.std(boots, ddof=1))


def grid(ax, images: torch.Tensor, rows: int, cols: int, title: str) -> None:
    """Draw ``rows·cols`` images ``(N, 1, H, W)`` in [−1, 1] as one grid on ``ax``."""
    from ..plotting import show_image_grid

    show_image_grid(ax, images, rows, cols, title, padding=0)


def paired_margin(a: list[float], b: list[float], se_a: list[float], se_b: list[float]
                  ) -> tuple[float, float, str]:
    """Mean of the paired differences ``b − a`` over seeds and its standard error: the larger
    of the across-seed SE (``sd/√n``, needs ≥ 2 seeds) and the sampling SE from the per-run
    bootstrap SEs (``sqrt(Σ(se_a² + se_b²))/n``). Returns ``(mean, se, which)``."""
    n = len(a)
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    boot = math.sqrt(float(np.nansum(np.square(se_a)) + np.nansum(np.square(se_b)))) / n
    if n >= 2:
        seed_se = float(np.std(d, ddof=1) / math.sqrt(n))
        if seed_se >= boot:
            return float(d.mean()), seed_se, f"across {n} seeds"
    return float(d.mean()), boot, "bootstrap over samples"
