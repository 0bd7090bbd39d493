"""The exact Gaussian-mixture oracle: log-density against scipy, score and Laplacian against
autograd, sampling moments, the perturbed mixture at(sde, t), and the Fokker–Planck equation
∂_t p = −∇·(f x p) + ½ g² Δp (kexue.fm 9228) checked with finite differences only. float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from kexue.diffusion import VESDE, VPSDE, GaussianMixture, SubVPSDE

F64 = torch.float64


def _fixtures():
    return {"ring": GaussianMixture.ring(), "gmm16d": GaussianMixture.random(),
            "small3d": GaussianMixture([1.0, 2.0], [[0.0, 1.0, -1.0], [1.0, 0.0, 0.5]],
                                       [[0.3, 0.2, 0.1], [0.5, 0.1, 0.2]])}


def test_fixtures_are_as_specified():
    ring = GaussianMixture.ring()
    torch.testing.assert_close(ring.means.norm(dim=1), torch.full((8,), 2.0, dtype=F64))
    torch.testing.assert_close(ring.covs[3], 0.01 * torch.eye(2, dtype=F64))
    g = GaussianMixture.random()
    assert (g.n_components, g.dim) == (4, 16)
    assert bool((torch.linalg.eigvalsh(g.covs) >= 0.01 - 1e-12).all())
    assert torch.equal(GaussianMixture.random().means, g.means)      # seeded
    assert not torch.equal(GaussianMixture.random(generator=1).means, g.means)
    torch.testing.assert_close(g.weights.sum(), torch.tensor(1.0, dtype=F64))


@pytest.mark.parametrize("name", ["ring", "gmm16d", "small3d"])
def test_log_prob_against_scipy(name):
    gm = _fixtures()[name]
    sde = VPSDE()
    x = gm.sample(50, 0)
    for t in (0.0, 0.2, 0.9):
        a, s = (float(v) for v in sde.marginal(t))
        ref = np.log(sum(
            float(w) * stats.multivariate_normal(a * m.numpy(),
                                                 a * a * c.numpy() + s * s * np.eye(gm.dim)
                                                 ).pdf(x.numpy())
            for w, m, c in zip(gm.weights, gm.means, gm.covs)))
        np.testing.assert_allclose(gm.log_prob(x, t, sde).numpy(), ref, rtol=1e-10)
        # at(sde, t) is the same mixture
        np.testing.assert_allclose(gm.at(sde, t).log_prob(x).numpy(), ref, rtol=1e-10)


@pytest.mark.parametrize("name", ["ring", "gmm16d", "small3d"])
@pytest.mark.parametrize("sde", [VPSDE(), SubVPSDE(), VESDE()], ids=repr)
def test_score_and_laplacian_against_autograd(name, sde):
    gm = _fixtures()[name]
    x = gm.at(sde, 0.3).sample(20, 1)
    t = torch.linspace(0.05, 0.95, 20, dtype=F64)               # a different t per sample
    xr = x.clone().requires_grad_(True)
    lp = gm.log_prob(xr, t, sde)
    (grad,) = torch.autograd.grad(lp.sum(), xr, create_graph=True)
    torch.testing.assert_close(gm.score(x, t, sde), grad.detach(), rtol=1e-9, atol=1e-9)
    lap = sum(torch.autograd.grad(grad[:, i].sum(), xr, retain_graph=True)[0][:, i]
              for i in range(gm.dim))
    torch.testing.assert_close(gm.laplacian_log_prob(x, t, sde), lap.detach(),
                               rtol=1e-8, atol=1e-8)
    # score_fn is the same callable the samplers use; denoise is Tweedie's formula
    torch.testing.assert_close(gm.score_fn(sde)(x, t), gm.score(x, t, sde))
    a, s = sde.marginal(t)
    torch.testing.assert_close(gm.denoise(x, t, sde),
                               (x + (s * s)[:, None] * grad.detach()) / a[:, None])


def test_sample_moments():
    gm = _fixtures()["small3d"]
    x = gm.sample(200_000, torch.Generator().manual_seed(3))
    mean = (gm.weights[:, None] * gm.means).sum(0)
    second = (gm.weights[:, None, None] * (gm.covs + gm.means[:, :, None] * gm.means[:, None])
              ).sum(0)
    cov = second - mean[:, None] * mean[None]
    torch.testing.assert_close(x.mean(0), mean, atol=0.01, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), cov, atol=0.01, rtol=0)
    assert torch.equal(gm.sample(5, 1), gm.sample(5, 1))


@pytest.mark.parametrize("sde", [VPSDE(), SubVPSDE(), VESDE(sigma_max=10.0)], ids=repr)
def test_fokker_planck_residual(sde):
    """Analytic marginals p_t solve ∂_t p = −∇·(f_t x p) + ½ g_t² Δp; every derivative of p by
    central finite differences of the density (no score or Laplacian formula involved)."""
    gm = GaussianMixture([0.4, 0.6], [[-0.8, 0.3], [0.9, -0.5]],
                         [[0.5, 0.3], [0.4, 0.6]])
    xs = torch.stack(torch.meshgrid(torch.linspace(-2, 2, 9, dtype=F64),
                                    torch.linspace(-2, 2, 9, dtype=F64), indexing="ij"),
                     -1).reshape(-1, 2)                                   # (81, 2)
    h, ht = 1e-3, 1e-5
    for t in (0.15, 0.4, 0.8):
        def p(x, tt):
            return torch.exp(gm.log_prob(x, tt, sde))
        dpdt = (p(xs, t + ht) - p(xs, t - ht)) / (2 * ht)
        f, g2 = float(sde.f(t)), float(sde.g2(t))
        div, lap = torch.zeros(len(xs), dtype=F64), -4 * p(xs, t)
        for i in range(2):
            e = torch.zeros(2, dtype=F64)
            e[i] = h
            plus, minus = xs + e, xs - e
            div += (f * plus[:, i] * p(plus, t) - f * minus[:, i] * p(minus, t)) / (2 * h)
            lap += p(plus, t) + p(minus, t)
        lap /= h * h
        rhs = -div + 0.5 * g2 * lap
        scale = float(dpdt.abs().max())
        assert float((dpdt - rhs).abs().max()) < 1e-5 * max(scale, 1.0), t


def test_bad_input():
    gm = GaussianMixture.ring()
    with pytest.raises(ValueError, match=r"shape \(batch, d\) = \(batch, 2\)"):
        gm.score(torch.zeros(4, 3, dtype=F64), 0.5, VPSDE())
    with pytest.raises(ValueError, match=r"shape \(batch, d\)"):
        gm.log_prob(torch.zeros(2, dtype=F64))
    with pytest.raises(TypeError, match="floating-point"):
        gm.score(torch.zeros(4, 2, dtype=torch.int64), 0.5, VPSDE())
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\]"):
        gm.score(torch.zeros(4, 2, dtype=F64), 1.2, VPSDE())
    with pytest.raises(ValueError, match=r"shape \(batch,\) = \(4,\)"):
        gm.score(torch.zeros(4, 2, dtype=F64), torch.full((3,), 0.5, dtype=F64), VPSDE())
    with pytest.raises(ValueError, match="t must be 0 when sde is None"):
        gm.log_prob(torch.zeros(4, 2, dtype=F64), 0.5)
    with pytest.raises(TypeError, match="GaussianPathSDE"):
        gm.score_fn("vp")
    with pytest.raises(ValueError, match="weights must have shape"):
        GaussianMixture([1.0], [[0.0], [1.0]], [1.0, 1.0])
    with pytest.raises(ValueError, match="positive definite"):
        GaussianMixture([1.0], [[0.0, 0.0]], [[[1.0, 2.0], [2.0, 1.0]]])
    with pytest.raises(ValueError, match="covs must have shape"):
        GaussianMixture([1.0], [[0.0, 0.0]], [[[1.0]]])
    with pytest.raises(ValueError, match="non-negative"):
        GaussianMixture([-1.0], [[0.0]], [1.0])
