"""Generalisation: input noise, gradient penalty, adversarial training and VAT (kexue.fm 7466).

The article's chain of relatives, each executable here:

* input noise ≈ a Laplacian penalty, ``E[ℓ(x+ε)] = ℓ + (σ²/2)·Δℓ + O(σ⁴)`` (:func:`noise_loss`,
  :func:`laplacian`); for a squared loss near a fit, the gradient penalty ``σ²‖J‖²``
  (:func:`gradient_penalty`; Bishop 1995);
* FGM adversarial training ≈ a gradient-norm penalty, ``ℓ(x + r) = ℓ + ε‖∇ℓ‖ + O(ε²)``
  (:func:`fgm_perturbation`, :func:`adversarial_loss`);
* virtual adversarial training: the KL-worst direction, the top eigenvector of the output Fisher
  matrix, by power iteration (:func:`vat_direction`, :func:`vat_loss`), beside its isotropic
  relative, Gaussian-noise consistency (:func:`consistency_loss`).
"""

from ._adversarial import FGM_NORMS, adversarial_loss, fgm_perturbation
from ._noise import laplacian, noise_loss
from ._penalty import gradient_penalty
from ._vat import consistency_loss, vat_direction, vat_loss, xi_step

__all__ = [
    "noise_loss", "laplacian", "gradient_penalty", "fgm_perturbation", "adversarial_loss",
    "vat_loss", "vat_direction", "consistency_loss", "xi_step", "FGM_NORMS",
]
