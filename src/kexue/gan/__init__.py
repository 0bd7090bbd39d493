"""GAN-QP and BiGAN-QP: adversarial generation and encoding without a Lipschitz constraint.

Su Jianlin, "GAN-QP: a novel GAN framework without gradient vanishing and Lipschitz constraint"
(kexue.fm archive 6163; arXiv:1811.07296) and "BiGAN-QP: a simple, clear encoder & generator"
(kexue.fm archive 6214). The critic maximises ``E[ΔT − ΔT²/(2λ d(x_r, x_f))]`` over paired
real/fake samples, ``ΔT = T(x_r) − T(x_f)``; its optimum is bounded by ``λ d`` without clipping,
gradient penalty or spectral norm, and on disjoint supports the generator loss becomes
``λ E[d]``, whose gradient does not vanish.

* Losses (all to **minimise**): :func:`qp_critic_loss`, :func:`qp_generator_loss`,
  :func:`bigan_qp_losses`; baselines :func:`wgan_gp_losses` (Gulrajani et al.,
  arXiv:1704.00028) and :func:`sgan_losses` (non-saturating or saturating).
* Oracle: :func:`optimal_qp_critic`, :func:`qp_divergence` for discrete distributions.
* Training: :func:`train_gan` (2 critic steps per generator step, Adam(2e-4, β1 0.5),
  safetensors checkpoints with exact resume, NaN guard, progress bar), :func:`load_gan`, on an
  ``(N, D)`` tensor or one of :data:`DATASETS` (``"ring"``, ``"grid"``: :mod:`kexue.data`'s
  mixtures with GAN-QP's paper stds :data:`TOY_STD`; ``"digits"``); the old names
  ``"ring8"``/``"grid25"`` are deprecated aliases (:func:`dataset_name`).
* Images: :func:`train_image_gan` (the same step on ``(N, C, H, W)`` images) with the DCGAN-style
  :class:`ConvGenerator`, :class:`ConvCritic`, :class:`ConvEncoder`, :class:`ConvPairCritic`.
* Metrics: :func:`mode_coverage` (modes covered, high-quality share), :func:`energy_distance`.
"""

from ..training import TrainingDiverged
from ._conv import (
    NORMS,
    ConvCritic,
    ConvEncoder,
    ConvGenerator,
    ConvPairCritic,
    check_penalty_norm,
    conv_net_from_spec,
    init_conv_,
)
from ._datasets import DATASET_ALIASES, DATASETS, TOY_STD, dataset_name, load_gan_data
from ._image import IMAGE_TRAIN_FORMAT, train_image_gan
from ._load import load_gan
from ._losses import (
    DISTANCES,
    BiGANLosses,
    GANLosses,
    bigan_qp_losses,
    gradient_penalty,
    pair_distance,
    qp_critic_loss,
    qp_generator_loss,
    sgan_losses,
    wgan_gp_losses,
)
from ._metrics import ModeStats, energy_distance, mode_coverage
from ._nets import MLP, PairCritic, net_from_spec
from ._optimal import optimal_qp_critic, qp_divergence
from ._result import GANTrainResult, sample_latent
from ._task import MODELS
from ._train import train_gan

__all__ = [
    "qp_critic_loss", "qp_generator_loss", "bigan_qp_losses", "wgan_gp_losses", "sgan_losses",
    "gradient_penalty", "pair_distance", "DISTANCES", "GANLosses", "BiGANLosses",
    "optimal_qp_critic", "qp_divergence",
    "train_gan", "load_gan", "load_gan_data", "sample_latent", "GANTrainResult",
    "TrainingDiverged", "MODELS", "DATASETS", "DATASET_ALIASES", "TOY_STD", "dataset_name",
    "mode_coverage", "energy_distance", "ModeStats",
    "MLP", "PairCritic", "net_from_spec",
    "ConvGenerator", "ConvCritic", "ConvEncoder", "ConvPairCritic", "NORMS", "conv_net_from_spec",
    "init_conv_", "check_penalty_norm", "train_image_gan", "IMAGE_TRAIN_FORMAT",
]
