"""Diffusion SDEs (kexue.fm 9209; Song et al. 2021 arXiv:2011.13456): the hand-written VE/VP/sub-VP
coefficients equal the GaussianPathSDE derivation f = (ln ᾱ)', g² = 2ᾱβ̄(β̄/ᾱ)'; forward simulation
with kexue.stochastic.solve matches the kernel (KS); the reverse SDE family run through the same
solver reaches the data law; DDPM tables; log-SNR inverses; priors; bad input. All float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from kexue.diffusion import (
    VESDE,
    VPSDE,
    GaussianMixture,
    GaussianPathSDE,
    ReverseSDE,
    SubVPSDE,
    ddpm_alphas_cumprod,
)
from kexue.stochastic import SDE, solve

F64 = torch.float64

TS = torch.tensor([1e-4, 1e-3, 0.05, 0.3, 0.5, 0.77, 1.0], dtype=F64)


def _sdes():
    return [VPSDE(), SubVPSDE(), VESDE(), VPSDE(beta_min=0.5, beta_max=5.0, T=2.0),
            VESDE(sigma_min=0.05, sigma_max=10.0),
            GaussianPathSDE.from_alphas_cumprod(ddpm_alphas_cumprod())]


@pytest.mark.parametrize("sde", _sdes(), ids=repr)
def test_closed_forms_equal_the_kernel_derivation(sde):
    """The subclasses' analytic f, g² equal the generic derivation (autograd on ᾱ, β̄)."""
    generic = GaussianPathSDE(sde._mean_coef, sde._std, T=sde.T)
    t = TS * sde.T
    f1, g1 = sde._f_g2(t)
    f2, g2 = generic._f_g2(t)
    torch.testing.assert_close(f1, f2, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-12)
    assert bool((g1 > 0).all())


def test_textbook_coefficients():
    """score_sde's formulas: VP f = −β/2, g² = β; sub-VP g² = β(1 − e^{−2∫β}); VE
    g² = 2σ² ln(σmax/σmin); kernels as in Song et al. 2021 eqs. 29–31."""
    t = TS
    vp, sub, ve = VPSDE(), SubVPSDE(), VESDE()
    beta = 0.1 + t * 19.9
    int_beta = 0.1 * t + 0.5 * t * t * 19.9
    torch.testing.assert_close(vp.f(t), -0.5 * beta)
    torch.testing.assert_close(vp.g2(t), beta)
    torch.testing.assert_close(sub.g2(t), beta * (1 - torch.exp(-2 * int_beta)))
    a, s = vp.marginal(t)
    torch.testing.assert_close(a, torch.exp(-0.5 * int_beta))
    torch.testing.assert_close(s, torch.sqrt(1 - torch.exp(-int_beta)))
    torch.testing.assert_close(sub.marginal(t)[1], 1 - torch.exp(-int_beta))
    sig = 0.01 * (5000.0 ** t)
    torch.testing.assert_close(ve.g2(t), 2 * sig ** 2 * math.log(5000.0))
    torch.testing.assert_close(ve.marginal(t)[1], torch.sqrt(sig ** 2 - 0.01 ** 2))
    assert ve.f(0.3).item() == 0.0 and vp.prior_std == 1.0 and ve.prior_std == 50.0
    # the drift/diffusion of the kexue.stochastic.SDE interface
    x = torch.randn(5, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(vp.drift(torch.tensor(0.3, dtype=F64), x), -0.5 * beta[3] * x)
    torch.testing.assert_close(vp.diffusion(0.3), torch.sqrt(beta[3]))
    torch.testing.assert_close(vp.diffusion(torch.tensor(0.3, dtype=F64), x),
                               torch.sqrt(beta[3]))
    assert isinstance(vp, SDE) and vp.noise == "additive"


def test_per_sample_times_broadcast():
    sde = VPSDE()
    t = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    x = torch.ones(3, 2, dtype=F64)
    torch.testing.assert_close(sde.drift(t, x), sde.f(t)[:, None] * x)
    a, s = sde.marginal(t)
    assert a.shape == s.shape == (3,)


@pytest.mark.parametrize("sde", _sdes(), ids=repr)
def test_log_snr_inverse_round_trip(sde):
    t = TS * sde.T
    lam = sde.log_snr(t)
    assert bool((torch.diff(lam) < 0).all())
    torch.testing.assert_close(sde.t_of_log_snr(lam), t, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(sde.t_of_sigma(sde.sigma(t)), t, rtol=1e-9, atol=1e-12)
    # the generic bisection agrees with the closed forms
    generic = GaussianPathSDE(sde._mean_coef, sde._std, T=sde.T)
    torch.testing.assert_close(generic.t_of_log_snr(lam), t, rtol=1e-9, atol=1e-12)


def test_ddpm_table_is_exact_at_the_knots_and_between():
    """from_alphas_cumprod: ᾱ_t² = alphas_cumprod[k] at t = (k+1)/N, and the exact transition
    between knots is DDPM's x_k = √(1−β_k) x_{k−1} + √β_k z."""
    ac = ddpm_alphas_cumprod()
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float32).to(F64)
    sde = GaussianPathSDE.from_alphas_cumprod(ac)
    k = torch.tensor([0, 1, 10, 500, 999])
    t = (k + 1).to(F64) / 1000
    a, s = sde.marginal(t)
    torch.testing.assert_close(a * a, ac[k], rtol=1e-12, atol=0)
    torch.testing.assert_close(a * a + s * s, torch.ones_like(a))
    for kk in (1, 10, 500, 999):
        A, V = sde.transition(kk / 1000, (kk + 1) / 1000)
        torch.testing.assert_close(A * A, ac[kk] / ac[kk - 1], rtol=1e-12, atol=0)
        torch.testing.assert_close(A * A + V * V, torch.tensor(1.0, dtype=F64))
        # the table's own β_k (float32 cumprod, as diffusers builds it) within its rounding
        torch.testing.assert_close(V * V, betas[kk], rtol=2e-3, atol=0)
    assert math.isclose(float(sde.sigma(1.0)), 157.4, rel_tol=1e-3)   # diffusers' σ_max
    torch.testing.assert_close(sde.timestep_of_t(t), k.to(F64))
    with pytest.raises(ValueError, match="strictly decreasing"):
        GaussianPathSDE.from_alphas_cumprod(torch.tensor([0.5, 0.6]))


@pytest.mark.parametrize("sde", [VPSDE(), SubVPSDE(), VESDE(sigma_max=5.0)], ids=repr)
def test_forward_simulation_matches_the_kernel(sde):
    """kexue.stochastic.solve (SRA1, weak order 2 for additive noise) from a point mass: the
    standardised states (x_t − ᾱ_t x0)/β̄_t are N(0, 1) at several t (KS, fixed seed)."""
    n, x0 = 4000, 0.7
    ts = torch.tensor([0.0, 0.1, 0.4, 1.0], dtype=F64)
    xs = solve(sde, torch.full((n, 1), x0, dtype=F64), ts, method="sra1", dt=2e-3,
               generator=0)                                              # (4, n, 1)
    for i in range(1, len(ts)):
        a, s = sde.marginal(ts[i])
        z = ((xs[i, :, 0] - a * x0) / s).numpy()
        assert stats.kstest(z, "norm").pvalue > 1e-3, float(ts[i])


def _mixture_1d() -> GaussianMixture:
    return GaussianMixture([0.3, 0.7], [[-1.5], [1.0]], [0.2 ** 2, 0.4 ** 2])


def _mixture_cdf(gm: GaussianMixture, x: np.ndarray) -> np.ndarray:
    w, mu, sd = gm.weights.numpy(), gm.means[:, 0].numpy(), gm.covs[:, 0, 0].sqrt().numpy()
    return (w * stats.norm.cdf((x[:, None] - mu) / sd)).sum(1)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_reverse_sde_through_the_stochastic_solver(eta):
    """sde.reverse(score, η) is a kexue.stochastic.SDE in τ = T − t; solve() from exact p_T
    samples reaches p_{t_end} for η = 1 (Anderson) and η = 0 (probability flow)."""
    gm, sde = _mixture_1d(), VPSDE()
    rev = sde.reverse(gm.score_fn(sde), eta=eta)
    assert isinstance(rev, ReverseSDE) and isinstance(rev, SDE) and rev.eta == eta
    n, t_end = 3000, 1e-3
    xT = gm.at(sde, 1.0).sample(n, 1)
    taus = torch.tensor([0.0, float(rev.tau(t_end))], dtype=F64)
    x = solve(rev, xT, taus, method="euler", dt=2e-3, generator=2)[-1, :, 0].numpy()
    target = gm.at(sde, t_end)
    p = stats.kstest(x, lambda v: _mixture_cdf(target, v)).pvalue
    assert p > 1e-3
    assert sde.probability_flow(gm.score_fn(sde)).eta == 0.0


def test_prior_sample_and_logp():
    for sde in (VPSDE(), VESDE()):
        z = sde.prior_sample((20000, 3), torch.Generator().manual_seed(0), dtype=F64)
        assert z.shape == (20000, 3) and z.dtype == F64
        assert abs(float(z.std()) / sde.prior_std - 1) < 0.02
        lp = sde.prior_logp(z[:5])
        ref = stats.norm.logpdf(z[:5].numpy(), scale=sde.prior_std).sum(1)
        np.testing.assert_allclose(lp.numpy(), ref, rtol=1e-12)
    a = VPSDE().prior_sample((4, 2), 7)
    b = VPSDE().prior_sample((4, 2), 7)
    assert torch.equal(a, b)


def test_bad_input():
    sde = VPSDE()
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\]"):
        sde.marginal(1.5)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\]"):
        sde.marginal(torch.tensor([0.2, -0.1], dtype=F64))
    with pytest.raises(ValueError, match="finite"):
        sde.marginal(float("nan"))
    with pytest.raises(TypeError, match="float or a tensor"):
        sde.marginal("0.5")
    with pytest.raises(ValueError, match="beta_min"):
        VPSDE(beta_min=5, beta_max=1)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        VESDE(sigma_min=2, sigma_max=1)
    with pytest.raises(TypeError, match="mean_coef must be a callable"):
        GaussianPathSDE(1.0, lambda t: t)
    with pytest.raises(ValueError, match="log-SNR must lie"):
        sde.t_of_log_snr(-50.0)
    with pytest.raises(ValueError, match="eta must be"):
        sde.reverse(lambda x, t: x, eta=-1.0)
    with pytest.raises(TypeError, match="score_fn must be a callable"):
        sde.reverse(3.0)
    with pytest.raises(ValueError, match="shape must be"):
        sde.prior_sample((0, 2), 0)
