"""The sampler registry and its dispatcher: :data:`SAMPLERS`, :func:`register_sampler`,
:func:`sample` (a time grid from :func:`~kexue.diffusion.time_grid`, then one sampler) and
:func:`sample_n` (``n`` prior draws in seeded blocks).

Every sampler is a function of its own (k-diffusion's layout), ``fn(score_fn, sde, x_T, ts, *,
options) -> (x, info)`` on an explicit decreasing grid ``ts``; ``sample(method=...)`` builds the
grid and passes on only the options that sampler takes (any other option is a ``TypeError``
naming the sampler's options). Every method is written once for the Gaussian kernel
``x_t = ᾱ_t x_0 + β̄_t ε`` (:class:`GaussianPathSDE`), so VE, VP, sub-VP and DDPM tables share the
code (kexue.fm 9209/9228; Song et al. 2021, arXiv:2011.13456).

=====================  ===============================  ======  ==========  ================
method                 function                         order   evals/step  kind
=====================  ===============================  ======  ==========  ================
``em``                 :func:`sample_euler_maruyama`    —       1           reverse SDE
``reverse_diffusion``  :func:`sample_reverse_diffusion` —       1           reverse SDE
``ancestral``          :func:`sample_ancestral`         —       1           DDPM posterior
``pc``                 :func:`sample_pc`                —       1 + n_corr  Langevin + pred.
``eta``                :func:`sample_eta`               —       1           σ = ηg family
``ode_euler``          :func:`sample_euler`             1       1           PF-ODE
``heun``               :func:`sample_heun`              2       2           PF-ODE (EDM)
``rk45``               :func:`sample_rk45`              —       adaptive    PF-ODE in λ
``ddim``               :func:`sample_ddim`              1       1           exp. integrator
``dpm_solver_2``       :func:`sample_dpm_solver_2`      2       2           exp. integrator
``dpmpp_2m``           :func:`sample_dpmpp_2m`          2       1           multistep
``dpmpp_3m``           :func:`sample_dpmpp_3m`          3       1           multistep
``trig_pc``            :func:`sample_trig_pc`           3       1           angular Adams PC
=====================  ===============================  ======  ==========  ================

The last step. Sampling stops at ``t_end > 0``. With ``denoise_last=True`` one more evaluation at
``t_end`` takes the state to ``t = 0``: stochastic samplers return Tweedie's ``D`` (score_sde's
"noise removal"); ODE samplers take an Euler step of the probability-flow ODE in ``u = σ²``,
``dy/du = (y − D)/(2σ²)`` (``y = x/ᾱ``), which for ``σ_0 = 0`` is ``y_0 = ½(y + D)``: its local
error is ``O(σ⁴)`` where ``D`` alone is ``O(σ²)``. ``denoise_last="tweedie"`` or ``"ode"``
chooses explicitly. The ``"ode"`` step assumes ``p_0`` has a bounded score (a smooth density such
as a Gaussian mixture or dequantised data); for data on a low-dimensional manifold the score
blows up as ``σ → 0`` and ``"tweedie"`` is the safer choice.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ._checks import check_score_and_sde, check_states
from ._grids import GRIDS, time_grid
from ._ode_samplers import (
    pf_ode_lambda,
    sample_ddim,
    sample_dpm_solver_2,
    sample_dpmpp_2m,
    sample_dpmpp_3m,
    sample_euler,
    sample_heun,
    sample_norm,
    sample_rk45,
)
from ._sample_n import BROWNIAN_MODES, sample_n
from ._sampling_core import ScoreFn, check_float
from ._sde import GaussianPathSDE
from ._sde_samplers import (
    sample_ancestral,
    sample_eta,
    sample_euler_maruyama,
    sample_pc,
    sample_reverse_diffusion,
)
from ._trig_pc import sample_trig_pc

__all__ = ["Sampler", "SAMPLERS", "register_sampler", "sample", "sample_n", "pf_ode_lambda",
           "sample_norm", "GRID_OPTIONS", "BROWNIAN_MODES", "ScoreFn"]

_check_float = check_float          # the old private name (used by _likelihood, _interpolate)

#: the options of :func:`sample` that build the time grid (every method takes them)
GRID_OPTIONS = ("steps", "grid", "t_end", "t_start", "rho", "grid_scale")


@dataclass(frozen=True)
class Sampler:
    """A sampling method and its theory.

    Source: kexue.fm archives 9209 and 9228; Song et al. 2021 (arXiv:2011.13456).

    Attributes:
        name: the string accepted by ``sample(method=...)``.
        fn: ``fn(score_fn, sde, x_T, ts, *, options) -> (x, info)`` on an explicit decreasing
            grid ``ts`` (e.g. :func:`kexue.diffusion.sample_heun`).
        order: global order of accuracy in the step size for the deterministic methods
            (``None`` for stochastic and adaptive ones); tests fit it by regression.
        stochastic: whether the method injects noise (``generator`` is used).
        evals_per_step: score evaluations per grid step (``pc``: ``1 + n_corrector``; ``rk45``:
            adaptive, ``0`` here).
        reference: the source of the algorithm.
        own_final: the method takes the ``"ode"`` last step to ``t = 0`` itself.
        adaptive: the method chooses its own steps (``steps`` optional; only the grid's ends
            count).
    """

    name: str
    fn: Callable[..., tuple[torch.Tensor, dict[str, Any]]]
    order: float | None
    stochastic: bool
    evals_per_step: int
    reference: str
    own_final: bool = False
    adaptive: bool = False

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword-only options of ``fn`` (what :func:`sample` passes on)."""
        return tuple(p.name for p in inspect.signature(self.fn).parameters.values()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY)

    def __repr__(self) -> str:
        return (f"Sampler({self.name!r}, order={self.order}, stochastic={self.stochastic}, "
                f"evals_per_step={self.evals_per_step})")


SAMPLERS: dict[str, Sampler] = {}


def register_sampler(name: str, fn: Callable[..., tuple[torch.Tensor, dict[str, Any]]], *,
                     stochastic: bool, evals_per_step: int, order: float | None = None,
                     reference: str = "", own_final: bool = False, adaptive: bool = False,
                     replace: bool = False) -> Sampler:
    """Add a sampler to :data:`SAMPLERS`, so ``sample(method=name)`` (and the CLI's
    ``--method``) runs it.

    Args:
        name: the method name (an identifier-like string).
        fn: ``fn(score_fn, sde, x_T, ts, *, options) -> (x, info)``; its keyword-only
            parameters are the options :func:`sample` accepts for it. ``info`` must have
            ``"nfe"``.
        stochastic, evals_per_step, order, reference, own_final, adaptive: see
            :class:`Sampler`.
        replace: allow replacing a registered sampler of the same name.

    Returns:
        the :class:`Sampler` registered.

    Raises:
        ValueError: a bad ``name``, ``evals_per_step < 0``, or ``name`` taken (without
            ``replace``).
        TypeError: ``fn`` not callable or without four positional parameters.
    """
    if not (isinstance(name, str) and name and name.replace("_", "").isalnum()):
        raise ValueError(f"name must be a non-empty identifier-like string; got {name!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable (score_fn, sde, x_T, ts, *, ...); got "
                        f"{type(fn).__name__}")
    pos = [p for p in inspect.signature(fn).parameters.values()
           if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(pos) != 4:
        raise TypeError(f"fn must take (score_fn, sde, x_T, ts) positionally and options as "
                        f"keyword-only arguments; {getattr(fn, '__name__', fn)!r} takes "
                        f"{[p.name for p in pos]}")
    if isinstance(evals_per_step, bool) or not isinstance(evals_per_step, int) or \
            evals_per_step < 0:
        raise ValueError(f"evals_per_step must be an int >= 0; got {evals_per_step!r}")
    if name in SAMPLERS and not replace:
        raise ValueError(f"sampler {name!r} is registered already; pass replace=True to "
                         "replace it")
    spec = Sampler(name, fn, order, bool(stochastic), evals_per_step, reference, own_final,
                   adaptive)
    SAMPLERS[name] = spec
    return spec


_SONG = "Song et al., ICLR 2021, arXiv:2011.13456"
for _args in (
    ("em", sample_euler_maruyama, True, 1, None, f"reverse-SDE Euler–Maruyama; {_SONG}"),
    ("reverse_diffusion", sample_reverse_diffusion, True, 1, None,
     f"reverse-diffusion predictor; {_SONG}"),
    ("ancestral", sample_ancestral, True, 1, None, "ancestral sampling; Ho et al. 2020 / " + _SONG),
    ("pc", sample_pc, True, 2, None, f"predictor–corrector with Langevin; {_SONG} Alg. 2–4"),
    ("eta", sample_eta, True, 1, None, "σ_t = η g_t family; kexue.fm 9228"),
    ("ode_euler", sample_euler, False, 1, 1.0, f"probability-flow ODE, Euler; {_SONG}"),
    ("heun", sample_heun, False, 2, 2.0, "Karras et al. 2022, arXiv:2206.00364, Alg. 1"),
    ("rk45", sample_rk45, False, 0, None, "Dormand–Prince (torchdiffeq dopri5)"),
    ("ddim", sample_ddim, False, 1, 1.0, "DDIM, Song et al. 2021, arXiv:2010.02502"),
    ("dpm_solver_2", sample_dpm_solver_2, False, 2, 2.0,
     "DPM-Solver-2, Lu et al. 2022, arXiv:2206.00927, Alg. 1"),
    ("dpmpp_2m", sample_dpmpp_2m, False, 1, 2.0,
     "DPM-Solver++(2M), Lu et al. 2022, arXiv:2211.01095, Alg. 2"),
    ("dpmpp_3m", sample_dpmpp_3m, False, 1, 3.0,
     "third-order multistep DPM-Solver++, Lu et al. 2022, arXiv:2211.01095 §B"),
    ("trig_pc", sample_trig_pc, False, 1, 3.0,
     "Adams predictor–corrector on the angular (TrigFlow/EDM-normalised) PF-ODE; kexue"),
):
    register_sampler(_args[0], _args[1], stochastic=_args[2], evals_per_step=_args[3],
                     order=_args[4], reference=_args[5], own_final=_args[0] == "trig_pc",
                     adaptive=_args[0] == "rk45")


def sampler_spec(method: Any) -> Sampler:
    """``SAMPLERS[method]``, or ``ValueError`` listing the valid methods."""
    if not isinstance(method, str) or method not in SAMPLERS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(SAMPLERS)}")
    return SAMPLERS[method]


def split_options(spec: Sampler, options: dict[str, Any], *, grid: str,
                  caller: str = "sample") -> tuple[dict[str, Any], float | None]:
    """The options ``spec.fn`` takes, and the ``sigma_data`` :func:`sample` uses as the cosine
    grid's scale. ``brownian=None`` is dropped for a method without noise (and any other
    ``brownian`` is the ``ValueError`` of a noiseless method); ``sigma_data`` is the cosine
    grid's default scale for every method; any other option the sampler does not take is a
    ``TypeError`` naming the sampler's options."""
    accepted = spec.options
    out: dict[str, Any] = {}
    sigma_data = options.get("sigma_data")
    if sigma_data is not None:
        sigma_data = check_float("sigma_data", sigma_data, positive=True)
    for key, value in options.items():
        if key in accepted:
            out[key] = value
        elif key == "brownian" and value is None:
            continue
        elif key == "brownian":
            raise ValueError(f"brownian= drives the noise of stochastic samplers; method "
                             f"{spec.name!r} draws no noise (use em, eta, reverse_diffusion, "
                             "ancestral, pc, or ddim with eta > 0)")
        elif key == "sigma_data" and grid == "cosine":
            continue
        else:
            fn_name = getattr(spec.fn, "__name__", spec.name)
            raise TypeError(
                f"{caller}(method={spec.name!r}) got option {key}={value!r}, which {fn_name} "
                f"does not take; its options: {', '.join(accepted)}; grid options: "
                f"{', '.join(GRID_OPTIONS)}"
                + (" (sigma_data sets the scale of grid='cosine' only)"
                   if key == "sigma_data" else ""))
    return out, sigma_data


def sample(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, *, method: str,
           steps: int | None = None, grid: str = "uniform", t_end: float | None = 1e-3,
           t_start: float | None = None, rho: float = 7.0, grid_scale: float | None = None,
           **options: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """Sample from a diffusion model: build the time grid, then run the sampler ``method``
    (a thin dispatcher over :data:`SAMPLERS`; kexue.fm 9209/9228, Song et al. 2021,
    arXiv:2011.13456).

    ``sample(score_fn, sde, x_T, method=m, steps=N, grid=g, **options)`` equals
    ``SAMPLERS[m].fn(score_fn, sde, x_T, time_grid(sde, N, grid=g, ...), **options)``.

    Args:
        score_fn: ``score_fn(x, t) -> ∇_x log p_t(x)`` with ``x (batch, *shape)`` and ``t`` a
            ``(batch,)`` tensor of diffusion times; returns ``x``'s shape. (The score-model
            convention ``(x, t)``, as in score_sde and PyTorch networks; for a k-diffusion
            denoiser or a diffusers ε-UNet wrap it with :func:`kexue.diffusion.from_denoiser` /
            :func:`kexue.diffusion.from_eps_model`.)
        sde: the forward :class:`GaussianPathSDE` (VE, VP, sub-VP, table, …).
        x_T: starting states at ``t_start``, ``(batch, *shape)`` floating point, e.g.
            ``sde.prior_sample(...)``.
        method: a name in ``SAMPLERS``.
        steps: number of grid intervals ``N >= 1`` (optional for adaptive ``rk45``).
            Evaluations: ``N·evals_per_step`` (+1 with ``denoise_last``).
        grid, t_end, t_start, rho, grid_scale: the grid, see
            :func:`kexue.diffusion.time_grid` (``grid_scale`` is its ``scale``, default
            ``sigma_data`` or 1). ``t_end=None`` with the cosine grid: one angular step above
            ``σ = 0``.
        **options: the sampler's own options (``SAMPLERS[method].options``), e.g.
            ``generator``, ``callback``, ``denoise_last``, ``check_finite`` (every method),
            ``brownian`` (noisy methods), ``eta`` (``eta``, ``ddim``), ``snr``/``n_corrector``
            (``pc``), ``rtol``/``atol`` (``rk45``), ``sigma_data``/``order``/``corrector``
            (``trig_pc``; ``sigma_data`` is also the cosine grid's default scale). See each
            sampler's docstring.

    Returns:
        ``(x, info)``: ``x`` of ``x_T``'s shape at ``t = 0`` (or ``t_end``); ``info`` has
        ``"nfe"`` (score evaluations, counted), ``"ts"`` (the grid, ``(N+1,)``), ``"method"``,
        ``"grid"``, ``"t_final"``, ``"denoise_last"``.

    Raises:
        TypeError: an option the chosen sampler does not take (the message lists its options),
            ``score_fn`` not callable, ``sde`` not a :class:`GaussianPathSDE`, ``x_T`` not a
            floating tensor, ``score_fn`` returning a non-tensor.
        ValueError: unknown ``method``/``grid`` (the message lists the valid ones), ``steps < 1``,
            a ``brownian`` path of the wrong shape or not covering the grid, or given to a
            deterministic method, ``t_end``/``t_start`` outside ``(0, T]``, ``x_T`` not
            ``(batch, …)`` or not finite, a score of the wrong shape, a non-finite score (the
            message names the step).

    Examples:
        >>> import torch
        >>> from kexue.diffusion import VPSDE, GaussianMixture, MixtureScore, sample
        >>> sde = VPSDE()
        >>> data = GaussianMixture(torch.tensor([0.5, 0.5]), torch.tensor([[-2.0], [2.0]]),
        ...                        torch.tensor([0.1, 0.1]))
        >>> x_T = sde.prior_sample((500, 1), generator=0, dtype=torch.float64)
        >>> x, info = sample(MixtureScore(data, sde), sde, x_T, method="heun", steps=20)
        >>> x.shape, info["method"]
        (torch.Size([500, 1]), 'heun')
        >>> round(x.abs().mean().item(), 1)               # samples sit on the modes ±2
        2.0
    """
    check_score_and_sde(score_fn, sde)
    spec = sampler_spec(method)
    if grid not in GRIDS:
        raise ValueError(f"unknown grid {grid!r}; valid grids: {', '.join(GRIDS)}")
    check_states(x_T, "x_T")
    if spec.adaptive and steps is None:
        steps = 1
    if t_end is None and grid != "cosine":
        raise ValueError("t_end=None (an automatic end) is defined for grid='cosine' only")
    if steps is None:
        raise ValueError(f"steps is required for method {method!r} (number of grid intervals)")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1; got {steps!r}")
    opts, sigma_data = split_options(spec, options, grid=grid)
    scale = (sigma_data or 1.0) if grid_scale is None else check_float(
        "grid_scale", grid_scale, positive=True)
    ts = time_grid(sde, steps, grid=grid, t_start=t_start, t_end=t_end, rho=rho, scale=scale)
    x, info = spec.fn(score_fn, sde, x_T, ts, **opts)
    info["method"], info["grid"] = method, grid
    return x, info
