"""Generalisation: input noise, gradient penalty, adversarial training and VAT (kexue.fm 7466).

The article's chain of relatives, each executable here:

* input noise ≈ a Laplacian penalty, ``E[ℓ(x+ε)] = ℓ + (σ²/2)·Δℓ + O(σ⁴)`` (:func:`noise_loss`,
  :func:`laplacian`); for a squared loss near a fit, the gradient penalty ``σ²‖J‖²``
  (:func:`input_gradient_penalty`; Bishop 1995);
* FGM adversarial training ≈ a gradient-norm penalty, ``ℓ(x + r) = ℓ + ε‖∇ℓ‖ + O(ε²)``
  (:func:`fgm_perturbation`, :func:`adversarial_loss`);
* virtual adversarial training: the KL-worst direction, the top eigenvector of the output Fisher
  matrix, by power iteration (:func:`vat_direction`, :func:`vat_loss`), beside its isotropic
  relative, Gaussian-noise consistency (:func:`consistency_loss`);
* noise elsewhere: a hidden layer ≈ the Jacobian of the rest of the network weighted by the loss
  curvature (:func:`hidden_noise_loss`, :func:`hidden_noise_penalty`); the weights ≈ the Hessian
  trace in θ, flat minima (:func:`weight_noise_loss`, :func:`weight_noise_penalty`); the output
  label = label smoothing, exactly (:func:`output_noise_loss`, :func:`label_smoothing_loss`);
  multiplicative dropout ≈ Wager et al.'s quadratic penalty (:func:`dropout_loss`,
  :func:`dropout_penalty`).
"""

from ._adversarial import FGM_NORMS, adversarial_loss, fgm_perturbation
from ._dropout import DROPOUT_KINDS, dropout_loss, dropout_mask, dropout_penalty
from ._noise import laplacian, noise_loss
from ._noise_kinds import (
    HIDDEN_PENALTY_FORMS,
    hidden_noise_loss,
    hidden_noise_penalty,
    weight_noise_loss,
    weight_noise_penalty,
)
from ._noise_output import label_smoothing_loss, output_noise_loss, smooth_labels
from ._penalty import gradient_penalty, input_gradient_penalty
from ._vat import consistency_loss, vat_direction, vat_loss, xi_step

__all__ = [
    "noise_loss", "laplacian", "input_gradient_penalty", "gradient_penalty", "fgm_perturbation",
    "adversarial_loss",
    "vat_loss", "vat_direction", "consistency_loss", "xi_step", "FGM_NORMS",
    "hidden_noise_loss", "hidden_noise_penalty", "weight_noise_loss", "weight_noise_penalty",
    "smooth_labels", "label_smoothing_loss", "output_noise_loss", "dropout_mask", "dropout_loss",
    "dropout_penalty", "DROPOUT_KINDS", "HIDDEN_PENALTY_FORMS",
]
