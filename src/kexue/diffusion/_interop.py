"""Interop with k-diffusion denoisers and diffusers noise-prediction UNets.

All of kexue's samplers take a score ``S(x, t) = ∇_x log p_t(x)`` on a :class:`GaussianPathSDE`
with kernel ``x_t = ᾱ_t x_0 + β̄_t ε`` (kexue.fm 9209). The two parametrisations of the PyTorch
ecosystem map onto it exactly:

* a **k-diffusion denoiser** ``D(x, σ) ≈ E[x_0 | x_0 + σ ε = x]`` (Karras et al. 2022,
  arXiv:2206.00364, the EDM/VE parametrisation, ``σ`` a ``(batch,)`` tensor). With
  ``y = x_t/ᾱ_t = x_0 + σ_t ε``, ``σ_t = β̄_t/ᾱ_t``, Tweedie's formula gives
  ``∇_y log p̃_σ(y) = (D(y, σ) − y)/σ²``, so

      S(x, t) = (D(x/ᾱ_t, σ_t) − x/ᾱ_t) / (ᾱ_t σ_t²) = (ᾱ_t D(x/ᾱ_t, σ_t) − x) / β̄_t²

  (:func:`from_denoiser`; on the EDM path ``ᾱ ≡ 1``, ``β̄_t = t`` it is ``(D(x, t) − x)/t²``);
* a **diffusers ε-model** ``eps(x_k, k)`` trained on the discrete DDPM table ``ᾱ_k``
  (``alphas_cumprod``, Ho et al. 2020, arXiv:2006.11239): ``x_k = √ᾱ_k x_0 + √(1 − ᾱ_k) ε`` and
  ``S = −ε/√(1 − ᾱ_k)`` (:func:`from_eps_model`). The continuous time is that of
  :meth:`GaussianPathSDE.from_alphas_cumprod`: training step ``k = 0 … N−1`` sits at
  ``t = (k + 1) T/N``, ``ln ᾱ_t²`` is linear between these knots, and a time ``t`` is given to the
  model as the timestep ``k(t) = tN/T − 1`` (fractional between knots, or rounded with
  ``timesteps="round"``).

:func:`sample_sigmas` runs any kexue sampler on an explicit σ grid the k-diffusion way
(``sigmas`` decreasing, usually ending in 0; ``x`` at ``sigmas[0]`` in the ``x_0 + σ ε`` scale) on
the EDM path :class:`EDMSDE`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ._sde import GaussianPathSDE

__all__ = ["from_denoiser", "from_eps_model", "sample_sigmas", "EDMSDE", "DenoiserScore",
           "EpsScore"]

_F64 = torch.float64


def _per_sample(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``c`` of shape ``()`` or ``(batch,)`` made broadcastable to ``x (batch, *shape)``."""
    c = c.to(device=x.device, dtype=x.dtype)
    return c if c.ndim == 0 else c.reshape(c.shape[0], *([1] * (x.ndim - 1)))


def _time_batch(t: Any, x: torch.Tensor) -> torch.Tensor:
    tt = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return tt.expand(x.shape[0]) if tt.ndim == 0 else tt


def _output(out: Any, x: torch.Tensor, who: str) -> torch.Tensor:
    """A model's output as a tensor of ``x``'s shape (diffusers returns ``UNet2DOutput`` with
    ``.sample``, or a tuple with ``return_dict=False``)."""
    if not isinstance(out, torch.Tensor):
        out = getattr(out, "sample", out)
        if isinstance(out, (tuple, list)) and out:
            out = out[0]
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{who} must return a tensor (or an object with .sample); got "
                        f"{type(out).__name__}")
    if tuple(out.shape) != tuple(x.shape):
        raise ValueError(f"{who} must return x's shape {tuple(x.shape)}; got {tuple(out.shape)}")
    return out


class EDMSDE(GaussianPathSDE):
    """The path of Karras et al. 2022 (arXiv:2206.00364): ``ᾱ ≡ 1``, ``β̄_t = t`` on
    ``[0, sigma_max]``, so the time *is* the noise level σ; ``f = 0``, ``g² = 2t``; a VE SDE.

    Args:
        sigma_max: ``T``, the largest noise level (the prior is ``N(0, σ_max² I)``).
    """

    def __init__(self, sigma_max: float = 80.0) -> None:
        if not (isinstance(sigma_max, (int, float)) and math.isfinite(sigma_max)
                and sigma_max > 0):
            raise ValueError(f"sigma_max must be a positive finite number; got {sigma_max!r}")
        super().__init__(torch.ones_like, lambda t: t, T=float(sigma_max),
                         prior_std=float(sigma_max), d_mean_coef=torch.zeros_like,
                         d_std=torch.ones_like, name="EDMSDE")

    def _f_g2(self, t):
        return torch.zeros_like(t), 2.0 * t

    def _t_of_log_snr(self, lam):
        return torch.exp(-lam)

    def __repr__(self) -> str:
        return f"EDMSDE(sigma_max={self.T:g})"


class DenoiserScore:
    """``score_fn(x, t)`` of a k-diffusion denoiser ``D(x, σ)`` on ``sde``:
    ``S = (ᾱ D(x/ᾱ, σ) − x)/β̄²`` (see :func:`from_denoiser`).

    Source: Karras et al. 2022 (arXiv:2206.00364), the EDM/k-diffusion denoiser; Tweedie's formula
    as in kexue.fm archive 9209.
    """

    def __init__(self, denoiser: Callable[..., Any], sde: GaussianPathSDE) -> None:
        self.denoiser, self.sde = denoiser, sde

    def __call__(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        a, s = self.sde.kernel(_time_batch(t, x))
        a_x, s_x = _per_sample(a, x), _per_sample(s, x)
        sigma = (s / a).to(device=x.device, dtype=x.dtype)
        D = _output(self.denoiser(x / a_x, sigma), x, "denoiser(x, sigma)")
        return (a_x * D - x) / (s_x * s_x)

    def __repr__(self) -> str:
        return f"DenoiserScore({self.denoiser!r}, {self.sde!r})"


class EpsScore:
    """``score_fn(x, t) = −eps(x, k(t))/√(1 − ᾱ_t)`` of a diffusers-style noise-prediction model
    on the table SDE ``sde`` (see :func:`from_eps_model`).

    Source: Ho et al. 2020 (arXiv:2006.11239), the DDPM ε-parametrisation; ``∇log p(x_t|x_0) =
    −ε/β̄_t`` (kexue.fm archive 9209).
    """

    def __init__(self, eps_model: Callable[..., Any], sde: GaussianPathSDE,
                 timesteps: str = "continuous") -> None:
        self.eps_model, self.sde, self.timesteps = eps_model, sde, timesteps
        self.num_train_timesteps = sde.num_train_timesteps

    def timestep(self, t: torch.Tensor) -> torch.Tensor:
        """The model's timestep ``k(t) = tN/T − 1`` (rounded with ``timesteps="round"``)."""
        k = t * (self.num_train_timesteps / self.sde.T) - 1.0
        return torch.round(k).clamp_(0, self.num_train_timesteps - 1) if \
            self.timesteps == "round" else k

    def __call__(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        tb = _time_batch(t, x)
        _, s = self.sde.kernel(tb)
        eps = _output(self.eps_model(x, self.timestep(tb)), x, "eps_model(x, t)")
        return -eps / _per_sample(s, x)

    def __repr__(self) -> str:
        return f"EpsScore({self.eps_model!r}, N={self.num_train_timesteps}, {self.timesteps})"


def from_denoiser(denoiser: Callable[..., Any], sde: GaussianPathSDE | None = None,
                  ) -> DenoiserScore:
    """The score of a k-diffusion-style denoiser ``D(x, σ)`` (Karras et al. 2022,
    arXiv:2206.00364; VE/EDM parametrisation) as a kexue ``score_fn(x, t)`` on ``sde``.

    ``S(x, t) = (ᾱ_t D(x/ᾱ_t, σ_t) − x)/β̄_t²``, ``σ_t = β̄_t/ᾱ_t`` (Tweedie's formula,
    kexue.fm 9209); on the default :class:`EDMSDE` (``t = σ``) it is ``(D(x, σ) − x)/σ²``.

    Args:
        denoiser: ``D(x, sigma) -> x̂_0`` with ``x (batch, *shape)`` in the ``x_0 + σ ε`` scale and
            ``sigma`` a ``(batch,)`` tensor (k-diffusion's ``model(x, sigma)``, e.g. its
            ``Denoiser`` wrappers); a tensor of ``x``'s shape or an object with ``.sample``.
        sde: the path to sample on (default ``EDMSDE(80)``); any :class:`GaussianPathSDE`
            works, since the denoiser sees the rescaled state ``x/ᾱ``.

    Returns:
        a :class:`DenoiserScore` (``score_fn(x, t)``, with ``.sde``).

    Raises:
        TypeError: ``denoiser`` not callable, ``sde`` not a :class:`GaussianPathSDE`.

    Examples:
        >>> import torch
        >>> from kexue.diffusion import from_denoiser
        >>> score = from_denoiser(lambda x, sigma: torch.zeros_like(x))   # data: the point 0
        >>> score(torch.ones(2, 1), torch.full((2,), 2.0))                  # (D − x)/σ² on EDM
        tensor([[-0.2500],
                [-0.2500]])
    """
    if not callable(denoiser):
        raise TypeError(f"denoiser must be a callable D(x, sigma); got {type(denoiser).__name__}")
    sde = EDMSDE() if sde is None else sde
    if not isinstance(sde, GaussianPathSDE):
        raise TypeError(f"sde must be a GaussianPathSDE (e.g. EDMSDE(sigma_max)); got "
                        f"{type(sde).__name__}")
    return DenoiserScore(denoiser, sde)


def from_eps_model(eps_model: Callable[..., Any],
                   alphas_cumprod: torch.Tensor | Sequence[float] | GaussianPathSDE, *,
                   T: float = 1.0, timesteps: str = "continuous") -> EpsScore:
    """The score of a diffusers-style noise-prediction model ``eps(x_k, k)`` on the DDPM table
    ``alphas_cumprod`` (Ho et al. 2020, arXiv:2006.11239) as a kexue ``score_fn(x, t)``:
    ``S(x, t) = −eps(x, k(t))/√(1 − ᾱ_t)``.

    Time mapping: the table SDE :meth:`GaussianPathSDE.from_alphas_cumprod` (``.sde`` of the
    result) puts training step ``k = 0 … N−1`` at ``t = (k + 1)T/N`` (``ᾱ_t = ᾱ_k`` there,
    ``ln ᾱ_t²`` linear in between); the model is called at ``k(t) = tN/T − 1``. Sample with
    ``t_end = T/N`` (``k = 0``, the default ``1e-3`` for ``N = 1000``, ``T = 1``) or above.

    Args:
        eps_model: ``eps(x, timesteps)`` with ``x (batch, C, H, W)`` (or any ``(batch, *shape)``)
            and ``timesteps`` a ``(batch,)`` float tensor; returns ``ε̂`` of ``x``'s shape, or an
            object with ``.sample`` (diffusers' ``UNet2DModel`` as is).
        alphas_cumprod: the ``(N,)`` table (diffusers' ``scheduler.alphas_cumprod``; see
            :func:`kexue.diffusion.ddpm_alphas_cumprod`), or a table SDE made by
            ``from_alphas_cumprod``.
        T: the continuous end time of the table SDE (with a table).
        timesteps: ``"continuous"`` (fractional ``k``; diffusers' sinusoidal embeddings take
            it) or ``"round"`` (the nearest training step, for models that index an embedding
            table).

    Returns:
        an :class:`EpsScore` (``score_fn(x, t)``, with ``.sde`` and ``.timestep(t)``).

    Raises:
        TypeError: ``eps_model`` not callable, ``alphas_cumprod`` an SDE that is not a table.
        ValueError: a bad table (see ``from_alphas_cumprod``), an unknown ``timesteps``.
    """
    if not callable(eps_model):
        raise TypeError(f"eps_model must be a callable eps(x, t); got "
                        f"{type(eps_model).__name__}")
    if timesteps not in ("continuous", "round"):
        raise ValueError(f"timesteps must be 'continuous' or 'round'; got {timesteps!r}")
    if isinstance(alphas_cumprod, GaussianPathSDE):
        sde = alphas_cumprod
        if not hasattr(sde, "num_train_timesteps"):
            raise TypeError("alphas_cumprod must be a table or a table SDE made by "
                            "GaussianPathSDE.from_alphas_cumprod; got "
                            f"{type(sde).__name__}")
    else:
        sde = GaussianPathSDE.from_alphas_cumprod(alphas_cumprod, T=T)
    return EpsScore(eps_model, sde, timesteps)


def sample_sigmas(model: Callable[..., Any], x: torch.Tensor,
                  sigmas: torch.Tensor | Sequence[float], *, method: str = "heun",
                  model_type: str = "denoiser", **options: Any,
                  ) -> tuple[torch.Tensor, dict[str, Any]]:
    """Run a kexue sampler on an explicit noise-level grid, the k-diffusion way: ``x`` is
    ``x_0 + sigmas[0]·ε``, ``sigmas`` decreasing; a last ``σ = 0`` means "finish at the data"
    (the sampler's ``denoise_last`` step from ``sigmas[-2]``), otherwise the result is the state
    at ``sigmas[-1]``. The path is :class:`EDMSDE` (``t = σ``; Karras et al. 2022,
    arXiv:2206.00364), so the grid ``ts`` given to ``SAMPLERS[method].fn`` is ``sigmas`` itself.

    Args:
        model: a denoiser ``D(x, sigma)`` (``model_type="denoiser"``, see
            :func:`from_denoiser`) or a score ``S(x, sigma)`` on the ``x_0 + σ ε`` scale
            (``model_type="score"``).
        x: ``(batch, *shape)`` floating states at ``sigmas[0]``.
        sigmas: ``(N+1,)`` decreasing noise levels (e.g. k-diffusion's
            ``get_sigmas_karras``), positive except possibly a last 0.
        method: a name in :data:`kexue.diffusion.SAMPLERS`.
        model_type: ``"denoiser"`` or ``"score"``.
        **options: the sampler's options (``generator``, ``brownian``, ``callback``, ``eta``, …;
            ``denoise_last`` defaults as described above).

    Returns:
        ``(x, info)`` as :func:`kexue.diffusion.sample`; ``info["sigmas"]`` holds the grid and
        ``info["sde"]`` the :class:`EDMSDE`.

    Raises:
        ValueError: an unknown ``method``/``model_type``, ``sigmas`` not decreasing, negative,
            shorter than 2 positive entries; the errors of the sampler.
        TypeError: an option the sampler does not take; ``model`` not callable.
    """
    from ._samplers import sampler_spec, split_options

    spec = sampler_spec(method)
    if model_type not in ("denoiser", "score"):
        raise ValueError(f"model_type must be 'denoiser' or 'score'; got {model_type!r}")
    if not callable(model):
        raise TypeError(f"model must be a callable (x, sigma); got {type(model).__name__}")
    sig = torch.as_tensor(sigmas, dtype=_F64).detach().cpu().flatten()
    if sig.numel() < 2 or not bool(torch.isfinite(sig).all()) or bool((sig < 0).any()) \
            or not bool((torch.diff(sig) < 0).all()):
        raise ValueError(f"sigmas must be a finite, strictly decreasing, non-negative grid of at "
                         f"least 2 noise levels; got {sig.tolist()[:6]}")
    to_zero = float(sig[-1]) == 0.0
    ts = sig[:-1] if to_zero else sig
    if ts.numel() < 2:
        raise ValueError("sigmas needs at least 2 positive noise levels (the last step to 0 "
                         "comes after them)")
    sde = EDMSDE(float(ts[0]))
    score = from_denoiser(model, sde) if model_type == "denoiser" else model
    opts, _ = split_options(spec, options, grid="explicit", caller="sample_sigmas")
    if "denoise_last" in spec.options:
        opts.setdefault("denoise_last", bool(to_zero))
    out, info = spec.fn(score, sde, x, ts, **opts)
    info["sigmas"], info["sde"] = sig, sde
    return out, info
