"""The exact score oracle: a Gaussian mixture pushed through a diffusion SDE's kernel.

If ``p_0 = Σ_k π_k N(μ_k, Σ_k)`` and ``x_t = ᾱ_t x_0 + β̄_t ε``, then
``p_t = Σ_k π_k N(ᾱ_t μ_k, C_k(t))`` with ``C_k(t) = ᾱ_t² Σ_k + β̄_t² I``, and (kexue.fm 9209's
"posterior-weighted mean of conditional scores", written for the mixture)

    ∇ log p_t(x) = Σ_k w_k m_k,         m_k = −C_k⁻¹ (x − ᾱ_t μ_k),
    Δ log p_t(x) = Σ_k w_k (‖m_k‖² − tr C_k⁻¹) − ‖Σ_k w_k m_k‖²,

with responsibilities ``w_k ∝ π_k N(x; ᾱ_t μ_k, C_k)`` (log-sum-exp). Each ``Σ_k = U_k Λ_k U_kᵀ``
is diagonalised once, so ``C_k(t)⁻¹ = U_k diag(1/(ᾱ_t² λ + β̄_t²)) U_kᵀ`` costs nothing per ``t``
and every method accepts a different time per sample. This is the protocol of the reference
notes (exact-score tests, Song et al. 2021 arXiv:2011.13456 §4 for the samplers it checks).
"""

from __future__ import annotations

import math

import torch

from ..devices import infer_device
from ..rng import as_generator
from ._sde import GaussianPathSDE

__all__ = ["GaussianMixture"]

_F64 = torch.float64


class GaussianMixture:
    """``p_0 = Σ_k π_k N(μ_k, Σ_k)`` in ``R^d`` with exact marginals, scores and Laplacians.

    Source: the marginal ``p_t`` under the kernel ``x_t = ᾱ_t x_0 + β̄_t ε`` (kexue.fm archive
    9209); the exact-score test case of Song et al. 2021 (arXiv:2011.13456).

    Args:
        weights: ``(K,)`` non-negative, normalised internally.
        means: ``(K, d)``.
        covs: ``(K, d, d)`` symmetric positive definite, or ``(K, d)`` diagonal variances, or
            ``(K,)`` isotropic variances.

    Raises:
        ValueError: inconsistent shapes, negative weights, covariances not positive definite.

    Methods take ``x (batch, d)`` and ``t`` as a float, 0-d tensor or ``(batch,)`` tensor in
    ``[0, sde.T]``; computation is in float64 on ``x``'s device (the parameters are copied to a
    device once and cached) and results come back in ``x``'s dtype.
    """

    def __init__(self, weights, means, covs) -> None:
        w = torch.as_tensor(weights, dtype=_F64).flatten()
        mu = torch.as_tensor(means, dtype=_F64)
        if mu.ndim != 2:
            raise ValueError(f"means must have shape (K, d); got {tuple(mu.shape)}")
        K, d = mu.shape
        if w.numel() != K:
            raise ValueError(f"weights must have shape (K,) = ({K},) to match means; got "
                             f"{w.numel()} entries")
        if bool((w < 0).any()) or float(w.sum()) <= 0 or not bool(torch.isfinite(w).all()):
            raise ValueError("weights must be finite, non-negative and not all zero")
        cov = torch.as_tensor(covs, dtype=_F64)
        if cov.shape == (K,):
            cov = cov[:, None, None] * torch.eye(d, dtype=_F64)
        elif cov.shape == (K, d):
            cov = torch.diag_embed(cov)
        elif cov.shape != (K, d, d):
            raise ValueError(
                f"covs must have shape (K, d, d) = ({K}, {d}, {d}), (K, d) for diagonal or (K,) "
                f"for isotropic covariances; got {tuple(cov.shape)}")
        if not torch.allclose(cov, cov.transpose(1, 2), rtol=1e-10, atol=1e-12):
            raise ValueError("covs must be symmetric")
        diag = torch.diagonal(cov, 0, 1, 2)                         # (K, d)
        self._diagonal = bool(torch.equal(cov, torch.diag_embed(diag)))
        if self._diagonal:                  # keep the coordinate order (eigh would sort)
            evals = diag.clone()
            evecs = torch.eye(d, dtype=_F64).expand(K, d, d).clone()
        else:
            evals, evecs = torch.linalg.eigh(cov)                  # (K, d), (K, d, d)
        if bool((evals <= 0).any()):
            raise ValueError(f"covs must be positive definite; smallest eigenvalue "
                             f"{float(evals.min()):g}")
        self.weights = w / w.sum()                                  # (K,)
        self.means = mu                                             # (K, d)
        self.covs = cov                                             # (K, d, d)
        self._log_w = torch.log(self.weights)
        self._evals, self._evecs = evals, evecs
        self.n_components, self.dim = K, d
        self._cache: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    def _params(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """``(weights, log_w, means, evals, evecs)`` on ``device`` (copied once, then cached)."""
        device = torch.device(device)
        if device == self.means.device:
            return self.weights, self._log_w, self.means, self._evals, self._evecs
        if device not in self._cache:
            self._cache[device] = tuple(v.to(device) for v in (
                self.weights, self._log_w, self.means, self._evals, self._evecs))
        return self._cache[device]

    # ------------------------------------------------------------------------- constructors
    @classmethod
    def ring(cls, n_components: int = 8, radius: float = 2.0, std: float = 0.1,
             ) -> GaussianMixture:
        """``ring2d``: ``n_components`` equal-weight ``N(μ_k, std² I)`` with ``μ_k`` on a circle of
        ``radius`` in 2-D (``μ_k = radius (cos 2πk/n, sin 2πk/n)``)."""
        ang = 2 * math.pi * torch.arange(n_components, dtype=_F64) / n_components
        means = radius * torch.stack([torch.cos(ang), torch.sin(ang)], 1)     # (K, 2)
        return cls(torch.ones(n_components, dtype=_F64), means,
                   torch.full((n_components,), std ** 2, dtype=_F64))

    @classmethod
    def moons(cls, arc_nodes: int = 100, noise: float = 0.05) -> GaussianMixture:
        """:func:`kexue.data.two_moons` as a Gaussian mixture: the midpoint rule in the arc angle.

        Upper moon ``(cos θ, sin θ)``, lower moon ``(1 − cos θ, ½ − sin θ)``, ``θ ~ U(0, π)``,
        each with probability ½, plus ``N(0, noise² I)``: ``2·arc_nodes`` equal-weight
        components at ``θ_j = (j + ½)π/arc_nodes``.
        """
        if isinstance(arc_nodes, bool) or not isinstance(arc_nodes, int) or arc_nodes < 1:
            raise ValueError(f"arc_nodes must be an int >= 1; got {arc_nodes!r}")
        if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise > 0):
            raise ValueError(f"noise must be a positive std; got {noise!r}")
        th = (torch.arange(arc_nodes, dtype=_F64) + 0.5) * math.pi / arc_nodes
        upper = torch.stack([th.cos(), th.sin()], 1)
        lower = torch.stack([1 - th.cos(), 0.5 - th.sin()], 1)
        means = torch.cat([upper, lower])                                   # (2·arc_nodes, 2)
        k = means.shape[0]
        return cls(torch.ones(k), means, torch.full((k,), noise ** 2))

    @classmethod
    def random(cls, dim: int = 16, n_components: int = 4, generator: torch.Generator | int = 0,
               *, mean_scale: float = 1.5, cov_scale: float = 0.3, jitter: float = 0.01,
               ) -> GaussianMixture:
        """``gmm16d``: means ``mean_scale·N(0, I)``, covariances ``cov_scale·A Aᵀ + jitter·I`` with
        ``A`` entries ``N(0, 1/dim)``, Dirichlet(1) weights.

        Drawn from one stream in this order: means ``(K, d)``, then ``A (K, d, d)``, then ``K``
        uniforms ``U`` with weights ``∝ −ln U`` (exponential draws, i.e. Dirichlet(1)).
        """
        gen = as_generator(generator)
        means = mean_scale * torch.randn(n_components, dim, generator=gen, dtype=_F64)
        A = torch.randn(n_components, dim, dim, generator=gen, dtype=_F64) / math.sqrt(dim)
        u = torch.rand(n_components, generator=gen, dtype=_F64)
        weights = -torch.log(u)
        covs = cov_scale * A @ A.transpose(1, 2) + jitter * torch.eye(dim, dtype=_F64)
        return cls(weights, means, 0.5 * (covs + covs.transpose(1, 2)))

    # ---------------------------------------------------------------------------- internals
    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor (batch, d); got "
                            f"{type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(
                f"x must have shape (batch, d) = (batch, {self.dim}) for this {self.dim}-D "
                f"mixture; got {tuple(x.shape)}. Flatten images with x.reshape(len(x), -1).")
        return x.to(_F64)

    def _coefs(self, t, sde: GaussianPathSDE | None, batch: int):
        """``(a, s)`` as Python floats or ``(batch, 1, 1)`` tensors."""
        if sde is None:
            tt = torch.as_tensor(t, dtype=_F64) if not isinstance(t, torch.Tensor) else t
            if float(tt.abs().max()) != 0.0:
                raise ValueError("t must be 0 when sde is None (the data mixture itself); pass "
                                 "the diffusion SDE to evaluate p_t")
            return 1.0, 0.0
        if not isinstance(sde, GaussianPathSDE):
            raise TypeError(f"sde must be a GaussianPathSDE (VPSDE, VESDE, …); got "
                            f"{type(sde).__name__}")
        a, s = sde.marginal(t)
        a, s = a.to(_F64), s.to(_F64)
        if a.ndim == 0:
            return float(a), float(s)
        if a.shape != (batch,):
            raise ValueError(f"t must be a scalar or have shape (batch,) = ({batch},); got "
                             f"{tuple(a.shape)}")
        return a.view(-1, 1, 1), s.view(-1, 1, 1)

    def _parts(self, x: torch.Tensor, t, sde):
        """log-responsibility logits ``(B, K)``, ``y/var`` in each eigenbasis ``(B, K, d)``,
        ``1/var`` ``(B|1, K, d)``."""
        a, s = self._coefs(t, sde, x.shape[0])
        return self._parts_kernel(x, a, s)

    def _parts_kernel(self, x: torch.Tensor, a, s):
        _, log_w, means, evals, evecs = self._params(x.device)
        diff = x[:, None, :] - a * means[None]                              # (B, K, d)
        y = diff if self._diagonal else torch.einsum("bkd,kde->bke", diff, evecs)
        var = (a * a) * evals[None] + s * s                                # (B|1, K, d)
        inv = 1.0 / var
        yi = y * inv                                                        # (B, K, d)
        logdet = torch.log(var).sum(-1)                                     # (B|1, K)
        logn = -0.5 * (y * yi).sum(-1) - 0.5 * logdet - 0.5 * self.dim * math.log(2 * math.pi)
        return log_w + logn, yi, inv

    def _to_x(self, v: torch.Tensor) -> torch.Tensor:
        """Eigenbasis vectors ``(B, K, d)`` back to the standard basis."""
        return v if self._diagonal else torch.einsum("bke,kde->bkd", v,
                                                     self._params(v.device)[4])

    # ------------------------------------------------------------------------------ public
    def sample(self, n: int, generator: torch.Generator | int | None = None, *,
               device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` draws from ``p_0``: ``(n, d)`` float64 on ``device``. Components first
        (multinomial), then Gaussians ``μ_k + U_k Λ_k^{1/2} z``.

        ``generator`` follows :mod:`kexue.rng` (a generator on the drawing device, an int seed,
        or ``None`` for PyTorch's default generator); ``device`` defaults to the generator's
        device, else PyTorch's default device."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int; got {n!r}")
        dev = infer_device(device, generator)
        gen = as_generator(generator, device=dev)
        weights, _, means, evals, evecs = self._params(dev)
        comp = torch.multinomial(weights, n, replacement=True, generator=gen)        # (n,)
        z = torch.randn(n, self.dim, generator=gen, dtype=_F64, device=dev)          # (n, d)
        scaled = z * torch.sqrt(evals[comp])                                         # (n, d)
        return means[comp] + torch.einsum("nde,ne->nd", evecs[comp], scaled)

    def at(self, sde: GaussianPathSDE, t: float) -> GaussianMixture:
        """The perturbed mixture ``p_t = Σ_k π_k N(ᾱ_t μ_k, ᾱ_t² Σ_k + β̄_t² I)`` (scalar ``t``)."""
        a, s = sde.marginal(t)
        if a.ndim != 0:
            raise ValueError("at(sde, t) needs a scalar t")
        a, s = float(a), float(s)
        eye = torch.eye(self.dim, dtype=_F64)
        return GaussianMixture(self.weights, a * self.means, a * a * self.covs + s * s * eye)

    def log_prob(self, x: torch.Tensor, t: float | torch.Tensor = 0.0,
                 sde: GaussianPathSDE | None = None) -> torch.Tensor:
        """``log p_t(x)``: ``(batch,)``. ``sde=None`` (with ``t = 0``) is the data mixture."""
        xx = self._check_x(x)
        logits, _, _ = self._parts(xx, t, sde)
        return torch.logsumexp(logits, dim=1).to(x.dtype)

    def score(self, x: torch.Tensor, t: float | torch.Tensor = 0.0,
              sde: GaussianPathSDE | None = None) -> torch.Tensor:
        """``∇_x log p_t(x)``: ``(batch, d)``."""
        xx = self._check_x(x)
        logits, yi, _ = self._parts(xx, t, sde)
        w = torch.softmax(logits, dim=1)                                    # (B, K)
        if self._diagonal:
            return -(w[:, :, None] * yi).sum(1).to(x.dtype)
        return -torch.einsum("bk,bke,kde->bd", w, yi, self._params(x.device)[4]).to(x.dtype)

    def kernel_score(self, x: torch.Tensor, mean_coef: float, std: float) -> torch.Tensor:
        """``∇_x log`` of ``Σ_k π_k N(x; mean_coef·μ_k, mean_coef² Σ_k + std² I)``: the score for
        given kernel coefficients, without an SDE (e.g. ``mean_coef = 1/√(1 + σ²)``,
        ``std = σ·mean_coef`` for a VP state at noise level σ; ``std = 0`` is the data score).
        ``x (batch, d)``; returns ``(batch, d)``."""
        xx = self._check_x(x)
        logits, yi, _ = self._parts_kernel(xx, float(mean_coef), float(std))
        w = torch.softmax(logits, dim=1)
        if self._diagonal:
            return -(w[:, :, None] * yi).sum(1).to(x.dtype)
        return -torch.einsum("bk,bke,kde->bd", w, yi, self._params(x.device)[4]).to(x.dtype)

    def laplacian_log_prob(self, x: torch.Tensor, t: float | torch.Tensor = 0.0,
                           sde: GaussianPathSDE | None = None) -> torch.Tensor:
        """``Δ_x log p_t(x) = Σ_k w_k(‖m_k‖² − tr C_k⁻¹) − ‖∇log p_t‖²``: ``(batch,)``.

        With it, the probability-flow divergence is ``d·f_t − ½ g_t² Δ log p_t`` exactly."""
        xx = self._check_x(x)
        logits, yi, inv = self._parts(xx, t, sde)
        w = torch.softmax(logits, dim=1)                                    # (B, K)
        m = -self._to_x(yi)                                                 # (B, K, d)
        s = (w[:, :, None] * m).sum(1)                                      # (B, d)
        per = (yi * yi).sum(-1) - inv.sum(-1)                               # (B, K)
        return ((w * per).sum(1) - (s * s).sum(1)).to(x.dtype)

    def denoise(self, x: torch.Tensor, t: float | torch.Tensor,
                sde: GaussianPathSDE) -> torch.Tensor:
        """Tweedie's posterior mean ``E[x_0 | x_t = x] = (x + β̄_t² ∇log p_t(x)) / ᾱ_t``:
        ``(batch, d)``."""
        a, s = sde.marginal(t)
        a = a.to(x.dtype).reshape(-1, 1) if a.ndim else a.to(x.dtype)
        s = s.to(x.dtype).reshape(-1, 1) if s.ndim else s.to(x.dtype)
        return (x + s * s * self.score(x, t, sde)) / a

    def responsibilities(self, x: torch.Tensor, t: float | torch.Tensor = 0.0,
                         sde: GaussianPathSDE | None = None) -> torch.Tensor:
        """Posterior component probabilities ``w_k(x, t)``: ``(batch, K)``."""
        logits, _, _ = self._parts(self._check_x(x), t, sde)
        return torch.softmax(logits, dim=1).to(x.dtype)

    def score_fn(self, sde: GaussianPathSDE) -> MixtureScore:
        """The exact score as the callable ``score_fn(x, t)`` the samplers and likelihoods take."""
        if not isinstance(sde, GaussianPathSDE):
            raise TypeError(f"sde must be a GaussianPathSDE; got {type(sde).__name__}")
        return MixtureScore(self, sde)

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.n_components}, d={self.dim})"


class MixtureScore:
    """``score_fn(x, t) = ∇_x log p_t(x)`` of a :class:`GaussianMixture` under ``sde``.

    Source: kexue.fm archive 9209; Song et al. 2021 (arXiv:2011.13456).

    ``x (batch, d)``, ``t`` a float, 0-d or ``(batch,)`` tensor; returns ``(batch, d)``.
    """

    def __init__(self, mixture: GaussianMixture, sde: GaussianPathSDE) -> None:
        self.mixture, self.sde = mixture, sde

    def __call__(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        return self.mixture.score(x, t, self.sde)

    def __repr__(self) -> str:
        return f"MixtureScore({self.mixture!r}, {self.sde!r})"
