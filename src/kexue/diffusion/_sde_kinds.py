"""The named diffusion SDEs (kexue.fm 9209; Song et al., ICLR 2021, arXiv:2011.13456):
variance-preserving :class:`VPSDE`, :class:`SubVPSDE`, variance-exploding :class:`VESDE`, and
the VP path through a discrete DDPM table (Ho et al. 2020, arXiv:2006.11239) made by
:meth:`GaussianPathSDE.from_alphas_cumprod`. Each overrides the kernel's closed forms
(``f``, ``g²``, the inverse log-SNR) of :class:`GaussianPathSDE`."""

from __future__ import annotations

import math

import torch

from ._sde import _F64, GaussianPathSDE, _as_t

__all__ = ["VPSDE", "SubVPSDE", "VESDE"]


class VPSDE(GaussianPathSDE):
    """Variance-preserving SDE ``dx = −½β(t) x dt + √β(t) dw``, ``β(t) = β_min + t(β_max − β_min)``.

    Song et al. 2021 (arXiv:2011.13456), eq. 11; the continuous limit of DDPM. ``ᾱ_t =
    exp(−¼t²(β_max − β_min) − ½tβ_min)``, ``β̄_t = sqrt(1 − ᾱ_t²)``, prior ``N(0, I)``.
    Defaults are score_sde's: ``beta_min=0.1``, ``beta_max=20``, ``T=1``.
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, *, T: float = 1.0) -> None:
        if not (0 <= beta_min <= beta_max and beta_max > 0):
            raise ValueError(f"need 0 <= beta_min <= beta_max, beta_max > 0; got {beta_min}, "
                             f"{beta_max}")
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)
        super().__init__(self._alpha, self._std_vp, T=T, prior_std=1.0, name="VPSDE")

    def _log_alpha(self, t: torch.Tensor) -> torch.Tensor:
        return -0.25 * t * t * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(self._log_alpha(t))

    def _std_vp(self, t: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(-torch.expm1(2.0 * self._log_alpha(t)))

    def beta(self, t: float | torch.Tensor) -> torch.Tensor:
        """``β(t) = β_min + t(β_max − β_min)``."""
        return self.beta_min + _as_t(t) * (self.beta_max - self.beta_min)

    def _f_g2(self, t):
        b = self.beta_min + t * (self.beta_max - self.beta_min)
        return -0.5 * b, b

    def _alpha2_of_log_snr(self, lam: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(2.0 * lam)                  # ᾱ² = 1/(1 + e^{−2λ})

    def _t_of_log_snr(self, lam):
        log_alpha = 0.5 * torch.log(self._alpha2_of_log_snr(lam))
        db = self.beta_max - self.beta_min
        if db == 0:
            return -2.0 * log_alpha / self.beta_min
        disc = self.beta_min ** 2 - 4.0 * db * log_alpha
        return (torch.sqrt(disc) - self.beta_min) / db   # root of ¼Δβ t² + ½β_min t + ln ᾱ

    def __repr__(self) -> str:
        return f"VPSDE(beta_min={self.beta_min:g}, beta_max={self.beta_max:g}, T={self.T:g})"


class SubVPSDE(VPSDE):
    """Sub-VP SDE ``dx = −½β(t) x dt + sqrt(β(t)(1 − e^{−2∫β})) dw`` (Song et al. 2021, eq. 12).

    Same mean coefficient ``ᾱ_t`` as :class:`VPSDE`; std ``β̄_t = 1 − ᾱ_t²`` (its variance never
    exceeds VP's). ``g_t² = β(t)(1 − ᾱ_t⁴)``. Prior ``N(0, I)``. The paper's best likelihoods.
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, *, T: float = 1.0) -> None:
        super().__init__(beta_min, beta_max, T=T)
        self._std = self._std_subvp
        self.name = "SubVPSDE"

    def _std_subvp(self, t: torch.Tensor) -> torch.Tensor:
        return -torch.expm1(2.0 * self._log_alpha(t))

    def _f_g2(self, t):
        b = self.beta_min + t * (self.beta_max - self.beta_min)
        return -0.5 * b, b * (-torch.expm1(4.0 * self._log_alpha(t)))

    def _alpha2_of_log_snr(self, lam):
        # e^λ = ᾱ/(1 − ᾱ²)  ⇒  ᾱ = (sqrt(1 + 4e^{2λ}) − 1)/(2e^λ) = 2e^λ/(1 + sqrt(1 + 4e^{2λ}))
        e = torch.exp(lam)
        alpha = 2.0 * e / (1.0 + torch.sqrt(1.0 + 4.0 * e * e))
        return alpha * alpha

    def __repr__(self) -> str:
        return f"SubVPSDE(beta_min={self.beta_min:g}, beta_max={self.beta_max:g}, T={self.T:g})"


class VESDE(GaussianPathSDE):
    """Variance-exploding SDE ``dx = sqrt(dσ²(t)/dt) dw``, ``σ(t) = σ_min (σ_max/σ_min)^t``.

    Song et al. 2021 (arXiv:2011.13456), eq. 9; the continuous limit of NCSN/SMLD. ``ᾱ ≡ 1``,
    ``f = 0``, ``g_t² = 2σ(t)² ln(σ_max/σ_min)``. The kernel std is the *exact*
    ``β̄_t = sqrt(σ(t)² − σ_min²)`` (so ``p_0`` is the data distribution itself; score_sde's code
    uses ``σ(t)``, i.e. data ⊛ N(0, σ_min²) at ``t = 0``). Prior ``N(0, σ_max² I)``. Defaults
    ``sigma_min=0.01``, ``sigma_max=50`` (score_sde's CIFAR-10 value; the README's rule of thumb
    is ``σ_max ≈`` the largest pairwise distance in the data, ample for the toy sets).
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, *,
                 T: float = 1.0) -> None:
        if not (0 < sigma_min < sigma_max):
            raise ValueError(f"need 0 < sigma_min < sigma_max; got {sigma_min}, {sigma_max}")
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)
        super().__init__(lambda t: torch.ones_like(t), self._std_ve, T=T,
                         prior_std=self.sigma_max, name="VESDE")

    def sigma_t(self, t: float | torch.Tensor) -> torch.Tensor:
        """``σ(t) = σ_min (σ_max/σ_min)^{t/T}``."""
        return self.sigma_min * torch.exp(_as_t(t) / self.T * self._log_ratio)

    def _std_ve(self, t: torch.Tensor) -> torch.Tensor:
        # sqrt(σ(t)² − σ_min²) = σ_min sqrt(e^{2 r t} − 1), r = ln(σ_max/σ_min)/T
        return self.sigma_min * torch.sqrt(torch.expm1(2.0 * t / self.T * self._log_ratio))

    def _f_g2(self, t):
        sig = self.sigma_min * torch.exp(t / self.T * self._log_ratio)
        return torch.zeros_like(t), 2.0 * sig * sig * self._log_ratio / self.T

    def _t_of_log_snr(self, lam):
        # β̄² = e^{−2λ} = σ_min²(e^{2rt} − 1)  ⇒  t = T ln(1 + e^{−2λ}/σ_min²) / (2 ln ratio)
        return self.T * torch.log1p(torch.exp(-2.0 * lam) / self.sigma_min ** 2) / (
            2.0 * self._log_ratio)

    def __repr__(self) -> str:
        return (f"VESDE(sigma_min={self.sigma_min:g}, sigma_max={self.sigma_max:g}, "
                f"T={self.T:g})")


class _TableVPSDE(GaussianPathSDE):
    """VP path through a DDPM ``alphas_cumprod`` table; see ``from_alphas_cumprod``."""

    def __init__(self, alphas_cumprod, *, T: float = 1.0) -> None:
        ac = torch.as_tensor(alphas_cumprod, dtype=_F64).flatten()
        if ac.numel() < 1:
            raise ValueError("alphas_cumprod must be a non-empty 1-D table")
        if not bool(((ac > 0) & (ac < 1)).all()):
            raise ValueError("alphas_cumprod entries must lie in (0, 1)")
        if ac.numel() > 1 and not bool((ac[1:] < ac[:-1]).all()):
            raise ValueError("alphas_cumprod must be strictly decreasing")
        n = ac.numel()
        self.alphas_cumprod = ac
        self.num_train_timesteps = n
        # knots t_k = k T / N, k = 0..N, with ln ᾱ_t² = L_k (L_0 = 0)
        self._knots = torch.linspace(0.0, float(T), n + 1, dtype=_F64)          # (N+1,)
        self._L = torch.cat([torch.zeros(1, dtype=_F64), torch.log(ac)])         # (N+1,)
        self._slope = torch.diff(self._L) / torch.diff(self._knots)              # (N,)
        super().__init__(self._alpha_tab, self._std_tab, T=T, prior_std=1.0,
                         name="GaussianPathSDE.from_alphas_cumprod")

    def _log_ac(self, t: torch.Tensor) -> torch.Tensor:
        """Piecewise-linear ``ln ᾱ_t²`` (differentiable in ``t``)."""
        knots, L, slope = (v.to(t.device, t.dtype) for v in (self._knots, self._L, self._slope))
        k = torch.clamp(torch.searchsorted(knots, t.detach(), right=True) - 1, 0,
                        slope.numel() - 1)
        return L[k] + slope[k] * (t - knots[k])

    def _alpha_tab(self, t):
        return torch.exp(0.5 * self._log_ac(t))

    def _std_tab(self, t):
        return torch.sqrt(-torch.expm1(self._log_ac(t)))

    def _f_g2(self, t):
        knots, slope = self._knots.to(t.device, t.dtype), self._slope.to(t.device, t.dtype)
        k = torch.clamp(torch.searchsorted(knots, t.detach(), right=True) - 1, 0,
                        slope.numel() - 1)
        beta = -slope[k]                                  # β(t) = −d ln ᾱ²/dt
        return -0.5 * beta, beta

    def _t_of_log_snr(self, lam):
        # ln ᾱ² = −softplus(−2λ) is linear in t between knots: invert by interpolation.
        target = -torch.nn.functional.softplus(-2.0 * lam)
        L = self._L.to(lam.device, lam.dtype)
        knots = self._knots.to(lam.device, lam.dtype)
        # L is decreasing: search on −L
        k = torch.clamp(torch.searchsorted(-L, -target, right=True) - 1, 0, L.numel() - 2)
        return knots[k] + (target - L[k]) / self._slope.to(lam.device, lam.dtype)[k]

    def timestep_of_t(self, t: float | torch.Tensor) -> torch.Tensor:
        """The (fractional) training-step index ``k = t N / T − 1`` of time ``t``."""
        return _as_t(t) * self.num_train_timesteps / self.T - 1.0

    def __repr__(self) -> str:
        return f"GaussianPathSDE.from_alphas_cumprod(N={self.num_train_timesteps}, T={self.T:g})"
