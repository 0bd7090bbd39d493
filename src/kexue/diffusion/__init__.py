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
* Sampling: one function per sampler on an explicit time grid (:func:`sample_heun`,
  :func:`sample_euler_maruyama`, :func:`sample_dpmpp_2m`, …, k-diffusion's layout), registered
  in ``SAMPLERS`` (:func:`register_sampler` adds one); :func:`sample` builds a grid from
  ``GRIDS`` (:func:`time_grid`) and dispatches by name; :func:`sample_n` draws ``n`` prior samples
  in seeded blocks (optionally on one Brownian tree per block, ``brownian="tree"``);
* Interop: :func:`from_denoiser` (a k-diffusion denoiser ``D(x, σ)``, Karras et al. 2022,
  arXiv:2206.00364), :func:`from_eps_model` (a diffusers ε-UNet on the DDPM table, Ho et al.
  2020, arXiv:2006.11239) and :func:`sample_sigmas` (an explicit σ grid on :class:`EDMSDE`);
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
from ._interop import (
    EDMSDE,
    DenoiserScore,
    EpsScore,
    from_denoiser,
    from_eps_model,
    sample_sigmas,
)
from ._interpolate import interpolate_latents, pf_ode_decode, pf_ode_encode, slerp
from ._levels import DIGITS_N_BINS, dequantise, to_data_scale, to_levels
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
from ._ode_samplers import (
    sample_ddim,
    sample_dpm_solver_2,
    sample_dpmpp_2m,
    sample_dpmpp_3m,
    sample_euler,
    sample_heun,
    sample_rk45,
)
from ._samplers import (
    BROWNIAN_MODES,
    GRID_OPTIONS,
    SAMPLERS,
    Sampler,
    pf_ode_lambda,
    register_sampler,
    sample,
    sample_n,
    sample_norm,
)
from ._score_checkpoint import SDE_KINDS, load_score_model, make_sde
from ._sde import GaussianPathSDE, ReverseSDE, ddpm_alphas_cumprod
from ._sde_kinds import VESDE, VPSDE, SubVPSDE
from ._sde_samplers import (
    sample_ancestral,
    sample_eta,
    sample_euler_maruyama,
    sample_pc,
    sample_reverse_diffusion,
)
from ._train import TrainingDiverged, TrainResult, train
from ._trig_pc import sample_trig_pc

__all__ = [
    # SDEs
    "GaussianPathSDE", "VPSDE", "SubVPSDE", "VESDE", "ReverseSDE", "ddpm_alphas_cumprod",
    # exact oracle
    "GaussianMixture", "MixtureScore",
    # the empirical (training-set) score
    "empirical_score", "EmpiricalScore", "nearest_distance",
    # sampling
    "sample", "sample_n", "SAMPLERS", "Sampler", "register_sampler", "GRID_OPTIONS",
    "BROWNIAN_MODES", "time_grid", "GRIDS", "pf_ode_lambda", "sample_norm",
    # the samplers, one function each, on an explicit time grid
    "sample_euler_maruyama", "sample_eta", "sample_reverse_diffusion", "sample_ancestral",
    "sample_pc", "sample_euler", "sample_heun", "sample_rk45", "sample_ddim",
    "sample_dpm_solver_2", "sample_dpmpp_2m", "sample_dpmpp_3m", "sample_trig_pc",
    # interop: k-diffusion denoisers, diffusers ε-models, explicit σ grids
    "from_denoiser", "from_eps_model", "sample_sigmas", "EDMSDE", "DenoiserScore", "EpsScore",
    "calibrate", "Calibration", "default_family", "pathwise_error", "TRIG_PC_DEFAULT",
    # likelihood
    "log_likelihood", "bits_per_dim", "DIVERGENCES",
    # PF-ODE latents
    "pf_ode_encode", "pf_ode_decode", "slerp", "interpolate_latents",
    # training and conditional generation
    "dsm_loss", "WEIGHTINGS", "ScoreModel", "MLPScoreNet", "UNet8", "FourierTimeFeatures",
    "net_from_spec", "NETS", "train", "TrainResult", "TrainingDiverged", "load_score_model",
    "inpaint", "UNet", "make_sde", "SDE_KINDS",
    # quantised images <-> the model's scale
    "to_levels", "dequantise", "to_data_scale", "DIGITS_N_BINS",
    # classifier-free guidance
    "guided", "Guided", "drop_labels",
]
