"""The Fréchet distance between Gaussians fitted to two sets of feature vectors.

Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to a local Nash
equilibrium" (arXiv:1706.08500) define the Fréchet (2-Wasserstein) distance between
``N(μ1, Σ1)`` and ``N(μ2, Σ2)``::

    d² = ‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^{1/2})

(Dowson & Landau 1982). The trace of the matrix square root is computed without forming
``(Σ1 Σ2)^{1/2}``, which is not symmetric: ``Σ1 Σ2`` is similar to the symmetric positive
semi-definite ``M = Σ1^{1/2} Σ2 Σ1^{1/2}`` (``Σ1 Σ2 = Σ1^{1/2} M Σ1^{-1/2}`` where ``Σ1`` is
invertible, and by continuity otherwise), so ``tr (Σ1 Σ2)^{1/2} = Σ_i √λ_i(M)``. Two symmetric
eigen-decompositions (``torch.linalg.eigh``) in float64 give it; negative round-off eigenvalues are
clipped to zero. Unlike ``scipy.linalg.sqrtm`` of ``Σ1 Σ2`` this never produces complex parts,
and it works for the singular covariances of fewer samples than features.
"""

from __future__ import annotations

import torch

__all__ = ["frechet_distance", "frechet_gaussian", "feature_stats"]


def _check_matrix(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, F) (one feature vector per row); got "
                         f"shape {tuple(x.shape)}. Flatten each sample with x.flatten(1).")
    if x.is_complex() or not (x.is_floating_point() or x.dtype in (
            torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise TypeError(f"{name} must be a real tensor; got dtype {x.dtype}")
    return x


def _check_finite(name: str, x: torch.Tensor) -> None:
    # One host synchronisation per call, at the boundary.
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf; check the generator/features that made it")


def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance of feature vectors, in float64 (the statistics FD compares).

    Source: Heusel et al. 2017 (arXiv:1706.08500).

    Args:
        features: ``(N, F)`` real tensor, ``N >= 2``.

    Returns:
        ``(mu, sigma)``: ``(F,)`` and ``(F, F)`` float64 on ``features``' device;
        ``sigma = (X − μ)ᵀ (X − μ) / (N − 1)``, as ``numpy.cov`` and the FID reference code.

    Raises:
        TypeError: not a real tensor. ValueError: not 2-D, fewer than 2 rows, or NaN/inf.
    """
    return _stats(features, "features")


def _stats(x: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = _check_matrix(name, x)
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 rows (samples) for a covariance; got "
                         f"{x.shape[0]}")
    x = x.to(torch.float64)
    _check_finite(name, x)
    mu = x.mean(dim=0)  # (F,)
    xc = x - mu  # (N, F)
    sigma = xc.T @ xc / (x.shape[0] - 1)  # (F, F)
    return mu, sigma


def _psd_sqrt(sigma: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric PSD matrix by ``eigh``, eigenvalues clipped at 0."""
    w, v = torch.linalg.eigh(sigma)  # (F,), (F, F)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_gaussian(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor,
                     sigma2: torch.Tensor) -> torch.Tensor:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)`` (Heusel et al. 2017).

    ``d² = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 Σ_i √λ_i(Σ1^{1/2} Σ2 Σ1^{1/2})`` in float64 (see the
    module docstring for why the eigenvalues of that symmetric matrix give
    ``tr (Σ1 Σ2)^{1/2}``). As in the FID literature the *squared* distance is returned and called
    "the Fréchet distance". Round-off can make the exact value 0 come out as about −1e-15; the
    result is clipped at 0.

    Args:
        mu1, mu2: means, ``(F,)``.
        sigma1, sigma2: covariances, ``(F, F)``, symmetric positive semi-definite (they are
            symmetrised, ``(Σ + Σᵀ)/2``, before use).

    Returns:
        0-d float64 tensor on ``mu1``'s device.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: shapes that do not match ``(F,)`` / ``(F, F)``, tensors on different
            devices, or NaN/inf.
    """
    for name, t in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor; got {type(t).__name__}")
    if mu1.ndim != 1:
        raise ValueError(f"mu1 must have shape (F,); got {tuple(mu1.shape)}")
    f = mu1.shape[0]
    for name, t, shape in (("mu2", mu2, (f,)), ("sigma1", sigma1, (f, f)),
                           ("sigma2", sigma2, (f, f))):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape} to match mu1 of shape ({f},); "
                             f"got {tuple(t.shape)}")
        if t.device != mu1.device:
            raise ValueError(f"{name} is on {t.device} but mu1 is on {mu1.device}; move them to "
                             "one device with .to(device)")
    mu1, mu2, sigma1, sigma2 = (t.to(torch.float64) for t in (mu1, mu2, sigma1, sigma2))
    _check_finite("the means and covariances", torch.cat(
        [mu1, mu2, sigma1.reshape(-1), sigma2.reshape(-1)]))
    sigma1 = (sigma1 + sigma1.T) / 2
    sigma2 = (sigma2 + sigma2.T) / 2
    root1 = _psd_sqrt(sigma1)  # Σ1^{1/2}, (F, F)
    m = root1 @ sigma2 @ root1  # (F, F), symmetric PSD up to round-off
    m = (m + m.T) / 2
    tr_sqrt = torch.linalg.eigvalsh(m).clamp_min(0).sqrt().sum()
    diff = mu1 - mu2
    d2 = diff @ diff + torch.trace(sigma1) + torch.trace(sigma2) - 2 * tr_sqrt
    return d2.clamp_min(0)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (Heusel et al.
    2017, arXiv:1706.08500; FID when the features are Inception's, "MNIST-FD" with
    :class:`~kexue.metrics.DigitClassifier` features).

    ``d² = ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^{1/2})`` with the sample means and unbiased
    covariances (:func:`feature_stats`), computed in float64 by :func:`frechet_gaussian`.

    The estimate is biased: its expectation decreases with the number of samples (Chong &
    Forsyth 2019, "Effectively unbiased FID and Inception score and where to find them",
    arXiv:1911.07023), so two numbers are comparable only when computed with the same ``N`` (and
    ``M``). Report a floor (a held-out real set against the reference, at the same sizes).

    Args:
        a: ``(N, F)`` features, ``N >= 2``.
        b: ``(M, F)`` features, ``M >= 2``, on the same device.

    Returns:
        0-d float64 tensor on ``a``'s device (``float(d)`` for a number).

    Raises:
        TypeError: not real tensors.
        ValueError: not 2-D, different feature widths ``F``, fewer than 2 rows, different
            devices, NaN/inf.
    """
    a = _check_matrix("a", a)
    b = _check_matrix("b", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b must have the same number of features F; got a "
                         f"{tuple(a.shape)} and b {tuple(b.shape)}")
    if a.device != b.device:
        raise ValueError(f"a is on {a.device} but b is on {b.device}; move one with .to(...)")
    return frechet_gaussian(*_stats(a, "a"), *_stats(b, "b"))
