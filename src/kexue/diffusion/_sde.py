"""Diffusion SDEs with Gaussian kernels: VE, VP, sub-VP and any ``N(ᾱ_t x0, β̄_t² I)`` path.

Su Jianlin, "Generative diffusion models (5): the SDE framework" (kexue.fm archive 9209), works
backwards from the kernel: choose ``p(x_t | x_0) = N(ᾱ_t x_0, β̄_t² I)`` and match one Euler step
of the linear SDE ``dx = f_t x dt + g_t dw``. This gives

    f_t = d ln ᾱ_t / dt,        g_t² = ᾱ_t² d(β̄_t²/ᾱ_t²)/dt = 2 ᾱ_t β̄_t d(β̄_t/ᾱ_t)/dt.

``ᾱ ≡ 1`` is the variance-exploding SDE, ``ᾱ² + β̄² = 1`` the variance-preserving one, and
``β̄ = 1 − ᾱ²`` the sub-VP SDE of Song et al., "Score-Based Generative Modeling through
Stochastic Differential Equations", ICLR 2021 (arXiv:2011.13456), whose parameters we keep
(VP: ``beta_min=0.1``, ``beta_max=20``; VE: ``sigma_min=0.01``, ``sigma_max=50``).

The named SDEs (:class:`VPSDE`, :class:`SubVPSDE`, :class:`VESDE` and the DDPM table) are in
:mod:`kexue.diffusion._sde_kinds`. Every diffusion SDE is a :class:`kexue.stochastic.SDE`
with additive noise, so ``kexue.stochastic.solve(sde, x0, ts)`` simulates the forward process.
Shapes: states are ``(batch, *shape)``; the coefficient functions take ``t`` as a float, a 0-d
tensor or a ``(batch,)`` tensor and return a tensor of ``t``'s shape.

Reconciling the two call conventions: :class:`kexue.stochastic.SDE` calls ``diffusion(t, x)``;
the diffusion models' ``g_t`` does not depend on ``x``, so here ``diffusion(t, x=None)`` accepts
and ignores ``x`` and returns ``g_t`` with ``t``'s shape (broadcastable to ``(batch, d)`` when
``t`` is 0-d, or reshaped to ``(batch, 1, …)`` by :meth:`GaussianPathSDE.drift`).

Devices: coefficients follow the device of the times they are given (a float gives a CPU
scalar, which broadcasts against tensors on any device); :meth:`GaussianPathSDE.prior_sample`
draws on ``device`` (default: the generator's device, else PyTorch's default device).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..devices import infer_device
from ..rng import as_generator
from ..stochastic import SDE

__all__ = ["GaussianPathSDE", "ReverseSDE", "ddpm_alphas_cumprod"]

Coef = Callable[[torch.Tensor], torch.Tensor]
ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_F64 = torch.float64


def _as_t(t: float | torch.Tensor, dtype: torch.dtype = _F64) -> torch.Tensor:
    if isinstance(t, torch.Tensor):
        return t if t.is_floating_point() else t.to(dtype)
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise TypeError(f"t must be a float or a tensor of times; got {type(t).__name__}")
    return torch.tensor(float(t), dtype=dtype)


def _per_sample(coef: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A coefficient of shape ``()`` or ``(batch,)`` made broadcastable to ``x (batch, *shape)``."""
    if coef.ndim == 0:
        return coef
    return coef.reshape(coef.shape[0], *([1] * (x.ndim - 1)))          # (batch, 1, …)


def ddpm_alphas_cumprod(beta_start: float = 1e-4, beta_end: float = 0.02,
                        num_train_timesteps: int = 1000) -> torch.Tensor:
    """DDPM's discrete table ``ᾱ_k = Π_{j≤k} (1 − β_j)`` with linear ``β`` (Ho et al. 2020).

    The defaults are diffusers' ``DDPMScheduler``/``DDIMScheduler`` defaults
    (``beta_schedule="linear"``), computed the same way (``torch.linspace`` in float32, cumulative
    product), then cast to float64. Returns ``(num_train_timesteps,)``.
    """
    if num_train_timesteps < 1:
        raise ValueError(f"num_train_timesteps must be >= 1; got {num_train_timesteps}")
    betas = torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
    return torch.cumprod(1.0 - betas, dim=0).to(_F64)


class GaussianPathSDE(SDE):
    """The linear SDE whose kernel is ``p(x_t | x_0) = N(ᾱ_t x_0, β̄_t² I)`` (kexue.fm 9209).

    ``f_t = (ln ᾱ_t)'`` and ``g_t² = 2 ᾱ_t β̄_t (β̄_t/ᾱ_t)' = 2 β̄_t (β̄_t' − f_t β̄_t)``; the
    derivatives come from ``d_mean_coef``/``d_std`` when given, otherwise from autograd.

    Args:
        mean_coef: ``ᾱ(t)``, a differentiable elementwise function of a tensor of times,
            ``ᾱ(0) = 1``, positive on ``[0, T]``.
        std: ``β̄(t)``, elementwise, ``β̄(0) = 0`` (or small), increasing ``β̄/ᾱ``.
        T: the final time (the prior lives at ``t = T``).
        prior_std: std of the Gaussian prior ``N(0, prior_std² I)`` used by :meth:`prior_sample`
            and :meth:`prior_logp`; default ``sqrt(ᾱ_T² + β̄_T²)`` (the marginal std at ``T``
            of unit-variance data: 1 for VP).
        d_mean_coef, d_std: optional analytic derivatives ``ᾱ'(t)``, ``β̄'(t)``.
        name: a label for ``repr``.

    The log-SNR is ``λ_t = ln(ᾱ_t/β̄_t)`` (DPM-Solver's convention; ``σ_t = β̄_t/ᾱ_t = e^{−λ_t}`` is
    the noise level of the rescaled state ``x/ᾱ_t``, the σ of Karras et al. 2022).
    """

    def __init__(self, mean_coef: Coef, std: Coef, *, T: float = 1.0,
                 prior_std: float | None = None, d_mean_coef: Coef | None = None,
                 d_std: Coef | None = None, name: str = "GaussianPathSDE") -> None:
        for label, fn in (("mean_coef", mean_coef), ("std", std)):
            if not callable(fn):
                raise TypeError(f"{label} must be a callable t -> tensor; got {type(fn).__name__}")
        if not (isinstance(T, (int, float)) and math.isfinite(T) and T > 0):
            raise ValueError(f"T must be a positive finite time; got {T!r}")
        self._mean_coef, self._std = mean_coef, std
        self._d_mean_coef, self._d_std = d_mean_coef, d_std
        self.T = float(T)
        self.name = name
        super().__init__(self.drift, self.diffusion, noise="additive")
        a_T, s_T = (float(v) for v in self._kernel(torch.tensor(self.T, dtype=_F64)))
        if not (a_T > 0 and s_T > 0):
            raise ValueError(f"{name}: need mean_coef(T) > 0 and std(T) > 0; got {a_T}, {s_T}")
        self.prior_std = float(math.hypot(a_T, s_T) if prior_std is None else prior_std)
        if not (math.isfinite(self.prior_std) and self.prior_std > 0):
            raise ValueError(f"prior_std must be positive; got {prior_std!r}")

    # ----------------------------------------------------------------- overridable closed forms
    def _kernel(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ᾱ_t, β̄_t)`` for a tensor of times (no validation)."""
        return self._mean_coef(t), self._std(t)

    def _kernel_derivs(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ᾱ_t', β̄_t')``: analytic if given, else autograd."""
        if self._d_mean_coef is not None and self._d_std is not None:
            return self._d_mean_coef(t), self._d_std(t)
        with torch.enable_grad():
            tr = t.detach().clone().requires_grad_(True)
            a, s = self._kernel(tr)
            da = (torch.autograd.grad(a.sum(), tr, allow_unused=True)[0]
                  if a.requires_grad else None)
            ds = (torch.autograd.grad(s.sum(), tr, allow_unused=True)[0]
                  if s.requires_grad else None)
        da = torch.zeros_like(t) if da is None else da
        ds = torch.zeros_like(t) if ds is None else ds
        if self._d_mean_coef is not None:
            da = self._d_mean_coef(t)
        if self._d_std is not None:
            ds = self._d_std(t)
        return da.detach(), ds.detach()

    def _f_g2(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f_t, g_t²)`` from the kernel: ``f = ᾱ'/ᾱ``, ``g² = 2β̄(β̄' − f β̄)``."""
        a, s = self._kernel(t)
        da, ds = self._kernel_derivs(t)
        f = da / a
        return f, 2.0 * s * (ds - f * s)

    def _t_of_log_snr(self, lam: torch.Tensor) -> torch.Tensor:
        """Inverse of ``λ_t`` by bisection (λ strictly decreasing on ``[0, T]``)."""
        lo = torch.zeros_like(lam)
        hi = torch.full_like(lam, self.T)
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            a, s = self._kernel(mid)
            above = torch.log(a) - torch.log(s) > lam        # λ(mid) > target: go later
            lo = torch.where(above, mid, lo)
            hi = torch.where(above, hi, mid)
        return 0.5 * (lo + hi)

    # ------------------------------------------------------------------------------ public API
    def _checked_t(self, t: float | torch.Tensor, name: str = "t") -> torch.Tensor:
        """``t`` as a tensor, checked finite and in ``[0, T]``. The value checks read the times
        back to the host, so they run for CPU times only: score networks call ``marginal`` on
        every evaluation inside sampler loops, where a sync per step would stall an accelerator
        (the public entry points check their own time grids)."""
        tt = _as_t(t)
        if tt.ndim > 1:
            raise ValueError(f"{name} must be a float, a 0-d tensor or a (batch,) tensor; got "
                             f"shape {tuple(tt.shape)}")
        if tt.device.type != "cpu":
            return tt
        if not bool(torch.isfinite(tt).all()):
            raise ValueError(f"{name} must be finite; got {tt}")
        lo, hi = float(tt.min()), float(tt.max())
        tol = 1e-12 * self.T
        if lo < -tol or hi > self.T + tol:
            bad = lo if lo < -tol else hi
            raise ValueError(
                f"{name} must lie in [0, T] = [0, {self.T:g}] for {self.name}; got {bad:g}. "
                "Diffusion time runs from 0 (data) to T (prior)."
            )
        return tt

    def marginal(self, t: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel coefficients ``(mean_coef ᾱ_t, std β̄_t)``: ``x_t = ᾱ_t x_0 + β̄_t ε``.

        Args:
            t: a float, 0-d tensor or ``(batch,)`` tensor in ``[0, T]``.

        Returns:
            two tensors of ``t``'s shape (float64 for a float ``t``).

        Raises:
            ValueError: ``t`` outside ``[0, T]`` or not finite.
        """
        return self._kernel(self._checked_t(t))

    def kernel(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ᾱ_t, β̄_t)`` for a floating tensor ``t`` of times in ``[0, T]`` (any shape; two
        tensors of its shape) without the range check of :meth:`marginal`: no host
        synchronisation, for samplers' inner loops (kexue.fm 9209)."""
        return self._kernel(t)

    def coefficients(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f_t, g_t²)`` of ``dx = f_t x dt + g_t dw`` for a floating tensor ``t`` of times
        (any shape; two tensors of its shape), unchecked: ``f = (ln ᾱ)'``,
        ``g² = 2ᾱβ̄(β̄/ᾱ)' = 2β̄(β̄' − f β̄)`` (kexue.fm 9209; closed forms for VP, sub-VP, VE and
        tables, autograd otherwise)."""
        return self._f_g2(t)

    def f(self, t: float | torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """The drift coefficient ``f_t = (ln ᾱ_t)'`` (a tensor of ``t``'s shape).

        With ``x`` given it returns the drift ``f_t x`` like :meth:`kexue.stochastic.SDE.f`."""
        coef = self._f_g2(_as_t(t))[0]
        return coef if x is None else _per_sample(coef, x) * x

    def g2(self, t: float | torch.Tensor) -> torch.Tensor:
        """``g_t² = 2 ᾱ_t β̄_t (β̄_t/ᾱ_t)'`` (a tensor of ``t``'s shape)."""
        return self._f_g2(_as_t(t))[1]

    def drift(self, t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``f_t x`` of shape ``x.shape``; ``t`` is 0-d or ``(batch,)``."""
        return _per_sample(self._f_g2(_as_t(t, x.dtype))[0].to(x.dtype), x) * x

    def diffusion(self, t: float | torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """``g_t`` with ``t``'s shape; ``x`` is accepted (the kexue.stochastic convention) and
        ignored, since the noise is additive."""
        tt = _as_t(t, x.dtype if x is not None else _F64)
        g = torch.sqrt(torch.clamp(self._f_g2(tt)[1], min=0.0))
        return g if x is None else g.to(x.dtype)

    def log_snr(self, t: float | torch.Tensor) -> torch.Tensor:
        """``λ_t = ln(ᾱ_t / β̄_t)`` (``+inf`` where ``β̄_t = 0``)."""
        a, s = self.marginal(t)
        return torch.log(a) - torch.log(s)

    def sigma(self, t: float | torch.Tensor) -> torch.Tensor:
        """``σ_t = β̄_t / ᾱ_t``, the noise level of ``x_t/ᾱ_t`` (Karras et al. 2022's σ)."""
        a, s = self.marginal(t)
        return s / a

    def t_of_log_snr(self, lam: float | torch.Tensor) -> torch.Tensor:
        """The time with ``λ_t = lam`` (inverse of :meth:`log_snr`; closed form for VP, sub-VP,
        VE and tables, bisection otherwise).

        Raises:
            ValueError: ``lam`` outside ``[λ_T, λ_0]``.
        """
        lam_t = _as_t(lam)
        lo = float(self.log_snr(self.T))
        hi = float(self.log_snr(0.0))
        tol = 1e-9 * max(1.0, abs(lo))
        if float(lam_t.min()) < lo - tol or float(lam_t.max()) > hi + tol:
            raise ValueError(
                f"log-SNR must lie in [λ_T, λ_0] = [{lo:.6g}, {hi:.6g}] for {self.name}; got "
                f"[{float(lam_t.min()):.6g}, {float(lam_t.max()):.6g}]"
            )
        return torch.clamp(self._t_of_log_snr(torch.clamp(lam_t, lo, hi)), 0.0, self.T)

    def t_of_sigma(self, sigma: float | torch.Tensor) -> torch.Tensor:
        """The time with ``β̄_t/ᾱ_t = sigma`` (``sigma > 0``)."""
        sig = _as_t(sigma)
        if bool((sig <= 0).any()):
            raise ValueError(f"sigma must be positive; got min {float(sig.min()):g}")
        return self.t_of_log_snr(-torch.log(sig))

    def prior_sample(self, shape: Sequence[int] | torch.Size, generator: torch.Generator | int
                     | None = None, *, dtype: torch.dtype | None = None,
                     device: torch.device | str | None = None) -> torch.Tensor:
        """A draw from the prior ``N(0, prior_std² I)`` of shape ``shape = (batch, *dims)``.

        ``generator`` follows :mod:`kexue.rng`: a ``torch.Generator`` on the drawing device, an
        int seed (a new generator there) or ``None`` (PyTorch's default generator, as
        ``torch.randn``). ``device`` defaults to the generator's device, else PyTorch's default
        device; ``dtype`` defaults to ``torch.get_default_dtype()``.
        """
        shape = tuple(int(s) for s in shape)
        if len(shape) < 1 or any(s < 1 for s in shape):
            raise ValueError(f"shape must be (batch, *dims) with positive sizes; got {shape}")
        dev = infer_device(device, generator)
        gen = as_generator(generator, device=dev)
        z = torch.randn(shape, generator=gen, dtype=dtype or torch.get_default_dtype(),
                        device=dev)
        return z * self.prior_std

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        """``log N(z; 0, prior_std² I)`` summed over all but the batch dimension: ``(batch,)``."""
        if not isinstance(z, torch.Tensor) or z.ndim < 1:
            raise TypeError("z must be a tensor of shape (batch, *dims)")
        flat = z.reshape(z.shape[0], -1)                                 # (batch, D)
        D = flat.shape[1]
        var = self.prior_std ** 2
        return -0.5 * (flat * flat).sum(1) / var - 0.5 * D * math.log(2 * math.pi * var)

    def reverse(self, score_fn: ScoreFn, eta: float = 1.0) -> ReverseSDE:
        """The reverse-time SDE family with the same marginals (kexue.fm 9228, eq. for σ_t = ηg_t):

            dx = [f_t x − ½ (1 + η²) g_t² ∇log p_t(x)] dt + η g_t dw̄,   t from T down to 0.

        ``η = 1`` is Anderson's reverse SDE (Song et al. 2021, eq. 6), ``η = 0`` the
        probability-flow ODE. The result is a :class:`ReverseSDE`, an ordinary
        :class:`kexue.stochastic.SDE` in the reversed time ``τ = T − t`` (so
        ``kexue.stochastic.solve`` integrates it on increasing ``τ``).

        Args:
            score_fn: ``score_fn(x, t) -> ∇_x log p_t(x)``, ``x (batch, *shape)``, ``t (batch,)``.
            eta: ``η ≥ 0``.
        """
        return ReverseSDE(self, score_fn, eta)

    def probability_flow(self, score_fn: ScoreFn) -> ReverseSDE:
        """The probability-flow ODE ``dx/dt = f_t x − ½ g_t² ∇log p_t(x)`` (``reverse(η=0)``)."""
        return ReverseSDE(self, score_fn, 0.0)

    def transition(self, s: float | torch.Tensor, t: float | torch.Tensor,
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact forward transition ``x_t | x_s ~ N(a x_s, v² I)`` for ``s ≤ t``: returns
        ``(a, v) = (ᾱ_t/ᾱ_s, sqrt(β̄_t² − a² β̄_s²))``."""
        a_s, s_s = self.marginal(s)
        a_t, s_t = self.marginal(t)
        a = a_t / a_s
        return a, torch.sqrt(torch.clamp(s_t ** 2 - (a * s_s) ** 2, min=0.0))

    @classmethod
    def from_alphas_cumprod(cls, alphas_cumprod: torch.Tensor | Sequence[float], *,
                            T: float = 1.0) -> GaussianPathSDE:
        """The VP path through a discrete DDPM table (diffusers' ``alphas_cumprod``).

        Training step ``k = 0 … N−1`` sits at ``t = (k + 1) T / N`` with ``ᾱ_t² =
        alphas_cumprod[k]`` exactly, and ``ᾱ_0 = 1``; between the knots ``ln ᾱ_t`` is linear in
        ``t`` — the continuous-time chain whose ``β(t)`` is constant on each step, so the
        transition between knots ``k−1 → k`` is exactly DDPM's ``x_k = √(1−β_k) x_{k−1} + √β_k
        z``. ``β̄_t = sqrt(1 − ᾱ_t²)``. Use :func:`ddpm_alphas_cumprod` for the linear
        ``1e-4 … 0.02``, 1000-step table.
        """
        from ._sde_kinds import _TableVPSDE  # the subclasses live there

        return _TableVPSDE(alphas_cumprod, T=T)

    def __repr__(self) -> str:
        return f"{self.name}(T={self.T:g}, prior_std={self.prior_std:g})"


class ReverseSDE(SDE):
    """The reverse-time member ``η`` of a diffusion SDE's family, in reversed time ``τ = T − t``.

    ``dx = −[f_t x − ½(1 + η²) g_t² s(x, t)] dτ + η g_t dW_τ`` with ``t = T − τ`` (kexue.fm 9228;
    Anderson 1982; Song et al. 2021). As a :class:`kexue.stochastic.SDE` with additive noise it can
    be integrated by ``kexue.stochastic.solve(rev, x_T, taus)`` with increasing ``taus``; use
    :meth:`tau` to convert diffusion times.

    Attributes:
        sde: the forward :class:`GaussianPathSDE`.
        score_fn: ``score_fn(x, t)``, ``x (batch, d)``, ``t (batch,)``.
        eta: the stochasticity ``η`` (``σ_t = η g_t``).
    """

    def __init__(self, sde: GaussianPathSDE, score_fn: ScoreFn, eta: float = 1.0) -> None:
        if not isinstance(sde, GaussianPathSDE):
            raise TypeError(f"sde must be a GaussianPathSDE; got {type(sde).__name__}")
        if not callable(score_fn):
            raise TypeError(
                f"score_fn must be a callable (x, t) -> score of x's shape; got "
                f"{type(score_fn).__name__}")
        if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta >= 0):
            raise ValueError(f"eta must be a finite number >= 0 (σ_t = η g_t); got {eta!r}")
        self.sde, self.score_fn, self.eta = sde, score_fn, float(eta)
        super().__init__(self._rev_drift, self._rev_diffusion, noise="additive")

    def tau(self, t: float | torch.Tensor) -> torch.Tensor:
        """Reversed time ``τ = T − t``."""
        return self.sde.T - _as_t(t)

    def _rev_drift(self, tau: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        t = self.sde.T - tau
        f, g2 = self.sde._f_g2(_as_t(t, x.dtype))
        tb = t.expand(x.shape[0]) if t.ndim == 0 else t                  # (batch,)
        s = self.score_fn(x, tb)
        c = 0.5 * (1.0 + self.eta ** 2)
        return -(_per_sample(f, x) * x - c * _per_sample(g2, x) * s)

    def _rev_diffusion(self, tau: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        t = self.sde.T - tau
        g2 = self.sde._f_g2(_as_t(t, x.dtype if x is not None else _F64))[1]
        return self.eta * torch.sqrt(torch.clamp(g2, min=0.0))

    def __repr__(self) -> str:
        return f"ReverseSDE({self.sde!r}, eta={self.eta:g})"
