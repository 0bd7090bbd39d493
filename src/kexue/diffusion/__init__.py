"""Score-based generative modelling through SDEs (kexue.fm archives 9209 and 9228).

Su Jianlin's "Generative diffusion models (5): the SDE framework" and "(6): the ODE framework",
after Song et al., "Score-Based Generative Modeling through Stochastic Differential Equations",
ICLR 2021 (arXiv:2011.13456).

* SDEs: :class:`GaussianPathSDE` (choose the kernel ``N(ᾱ_t x0, β̄_t² I)``, get
  ``f_t = (ln ᾱ_t)'`` and ``g_t² = 2ᾱ_tβ̄_t(β̄_t/ᾱ_t)'``), :class:`VPSDE`, :class:`SubVPSDE`,
  :class:`VESDE`, ``GaussianPathSDE.from_alphas_cumprod`` (DDPM tables); each is a
  :class:`kexue.stochastic.SDE` with ``marginal``, ``prior_sample``, ``prior_logp`` and
  ``reverse(score_fn, eta)`` (the σ_t = ηg_t family; ``η = 0`` is the probability-flow ODE).
* The exact oracle: :class:`GaussianMixture` (score, log-density, Laplacian at every ``t``).
* Sampling: :func:`sample` (and :func:`sample_n`, ``n`` prior draws in seeded blocks) with the
  methods in ``SAMPLERS`` and the grids in ``GRIDS``;
  :func:`calibrate` picks a sampler's knobs for a given NFE on a calibration draw (a grid search
  over a fixed family — by default 64 ``trig_pc`` settings — in the spirit of "Align Your Steps",
  Sabour et al. 2024, arXiv:2404.14507), returning a :class:`Calibration`.
* Likelihood: :func:`log_likelihood` (PF-ODE, exact or Hutchinson divergence) and
  :func:`bits_per_dim` (uniform dequantisation, offset ``log₂(n_bins/(hi − lo))``).
* Training: :func:`dsm_loss`, score networks (:class:`MLPScoreNet`, :class:`UNet8`, the image
  :class:`UNet`, optionally class-conditional), :func:`train`; :func:`inpaint` by imputation.
* Classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598): :func:`guided` wraps a
  class-conditional :class:`ScoreModel` into ``ε̃ = (1 + w) ε(x, t, c) − w ε(x, t, ∅)`` for every
  sampler; :func:`drop_labels` is the label dropout of its training.

Devices and processes: everything runs on the device of its inputs (``x_T``, ``x``, ``x0``) or
a ``device=`` argument, with generators on that device; randomness follows :mod:`kexue.rng`
(``generator=None`` is PyTorch's default generator). :func:`sample_n` and ``block_size=`` of
:func:`log_likelihood`/:func:`bits_per_dim` cut the rows into seeded blocks shared across a
``torch.distributed`` process group, with the same numbers for any number of processes.

Conventions: score functions are called ``score_fn(x, t)`` with ``x (batch, *shape)`` and ``t``
a ``(batch,)`` tensor; SDE coefficient callables keep kexue.stochastic's ``(t, x)`` order. Data
may be flat ``(batch, D)`` or images ``(batch, C, H, W)``; norms and losses reduce over all
non-batch dimensions.
"""

from ._calibrate import (
    TRIG_PC_DEFAULT,
    Calibration,
    calibrate,
    default_family,
    pathwise_error,
)
from ._empirical import EmpiricalScore, empirical_score, nearest_distance
from ._grids import GRIDS, time_grid
from ._guidance import Guided, drop_labels, guided
from ._inpaint import inpaint
from ._interpolate import interpolate_latents, pf_ode_decode, pf_ode_encode, slerp
from ._likelihood import DIVERGENCES, bits_per_dim, log_likelihood
from ._loss import WEIGHTINGS, dsm_loss
from ._mixture import GaussianMixture, MixtureScore
from ._nets import (
    NETS,
    FourierTimeFeatures,
    MLPScoreNet,
    ScoreModel,
    UNet,
    UNet8,
    net_from_spec,
)
from ._samplers import SAMPLERS, Sampler, pf_ode_lambda, sample, sample_n, sample_norm
from ._sde import (
    VESDE,
    VPSDE,
    GaussianPathSDE,
    ReverseSDE,
    SubVPSDE,
    ddpm_alphas_cumprod,
)
from ._train import TrainingDiverged, TrainResult, load_score_model, train

__all__ = [
    # SDEs
    "GaussianPathSDE", "VPSDE", "SubVPSDE", "VESDE", "ReverseSDE", "ddpm_alphas_cumprod",
    # exact oracle
    "GaussianMixture", "MixtureScore",
    # the empirical (training-set) score
    "empirical_score", "EmpiricalScore", "nearest_distance",
    # sampling
    "sample", "sample_n", "SAMPLERS", "Sampler", "time_grid", "GRIDS", "pf_ode_lambda",
    "sample_norm",
    "calibrate", "Calibration", "default_family", "pathwise_error", "TRIG_PC_DEFAULT",
    # likelihood
    "log_likelihood", "bits_per_dim", "DIVERGENCES",
    # PF-ODE latents
    "pf_ode_encode", "pf_ode_decode", "slerp", "interpolate_latents",
    # training and conditional generation
    "dsm_loss", "WEIGHTINGS", "ScoreModel", "MLPScoreNet", "UNet8", "FourierTimeFeatures",
    "net_from_spec", "NETS", "train", "TrainResult", "TrainingDiverged", "load_score_model",
    "inpaint", "UNet",
    # classifier-free guidance
    "guided", "Guided", "drop_labels",
]
