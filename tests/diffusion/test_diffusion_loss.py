"""Denoising score matching: closed-form minimum, the L = ESM + C identity, the ε/score adapter.

For Gaussian data N(μ, diag(λ)) under a kernel x_t = a x0 + s ε, the residual between the
conditional and the marginal score, r = −ε/s + C⁻¹(a(x0 − μ) + s ε) with C = a²Λ + s², has
E‖r‖² = Σ_i a²λ_i / (s² (a²λ_i + s²)), so the DSM loss of the exact score is

    sigma2 weighting (λ(t) = s²):  E_t Σ_i a²λ_i/(a²λ_i + s²),
    likelihood weighting (g²):     E_t g² Σ_i a²λ_i/(s²(a²λ_i + s²)),

with t ~ U(t_min, T) (Vincent 2011; Song et al. 2021; kexue.fm 9209).
"""

import math

import numpy as np
import pytest
import torch

from kexue.diffusion import VESDE, VPSDE, GaussianMixture, SubVPSDE
from kexue.diffusion._loss import dsm_loss
from kexue.diffusion._nets import MLPScoreNet, ScoreModel

LAM = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
MU = torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64)


def _gaussian():
    return GaussianMixture(torch.ones(1), MU[None], LAM[None])


def _closed_form(sde, weighting, t_min):
    """E_t of the DSM loss at the optimum, by Gauss–Legendre in log t (1-D integral)."""
    nodes, w = np.polynomial.legendre.leggauss(120)
    lo, hi = math.log(t_min), math.log(sde.T)
    u = torch.tensor(0.5 * (hi - lo) * nodes + 0.5 * (hi + lo), dtype=torch.float64)
    t = u.exp()
    a, s = sde.marginal(t)
    c = a[:, None] ** 2 * LAM + s[:, None] ** 2  # (n, 3)
    per = (a[:, None] ** 2 * LAM / c).sum(1)  # sigma2 weighting
    if weighting == "likelihood":
        per = per * sde.g2(t) / s**2
    integrand = per * t  # dt = t du
    integral = 0.5 * (hi - lo) * (torch.tensor(w) * integrand).sum()
    return float(integral) / (sde.T - t_min)


@pytest.mark.parametrize("sde,weighting,t_min", [
    (VPSDE(), "sigma2", 1e-5), (SubVPSDE(), "sigma2", 1e-5), (VESDE(0.01, 20.0), "sigma2", 1e-5),
    (VPSDE(), "likelihood", 1e-2),
])
def test_dsm_of_exact_score_equals_closed_form_minimum(sde, weighting, t_min):
    x0 = _gaussian().sample(20000, 1)
    exact = _gaussian().score_fn(sde)
    per = dsm_loss(exact, sde, x0, weighting=weighting, t_min=t_min, generator=2,
                   reduction="none")
    mean, se = float(per.mean()), float(per.std() / math.sqrt(len(per)))
    expected = _closed_form(sde, weighting, t_min)
    assert abs(mean - expected) < 4 * se, (mean, expected, se)
    assert se < 0.03 * expected  # the check has teeth


class _Recorder:
    """Wraps a score function and records the (x, t) it was called with."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, x, t):
        self.calls.append((x.clone(), t.clone()))
        return self.fn(x, t)


def test_dsm_identity_loss_minus_minimum_is_score_error():
    """L(s* + δ) − L(s*) = E λ‖δ‖² + a zero-mean cross term 2E λ(s* − ∇log p(x_t|x0))·δ: the
    posterior mean of the conditional scores is the minimiser (kexue.fm 9209)."""
    sde = VPSDE()
    gm = GaussianMixture.ring(8, 2.0, 0.1)
    x0 = gm.sample(12000, 3)
    exact = gm.score_fn(sde)

    def delta(x, t):
        return 0.3 * torch.sin(x) * (1 + t)[:, None]

    rec = _Recorder(lambda x, t: exact(x, t) + delta(x, t))
    l_pert = dsm_loss(rec, sde, x0, generator=7, reduction="none")
    l_opt = dsm_loss(exact, sde, x0, generator=7, reduction="none")  # same t and ε
    (xt, t), = rec.calls
    _, s = sde.marginal(t)
    esm = (s[:, None] ** 2 * delta(xt, t) ** 2).sum(1)  # λ‖δ‖², λ = s²
    cross = l_pert - l_opt - esm
    se = float(cross.std() / math.sqrt(len(cross)))
    assert abs(float(cross.mean())) < 4 * se
    assert float(esm.mean()) > 20 * se  # the perturbation is clearly detected
    assert float(l_pert.mean()) > float(l_opt.mean())


@pytest.mark.parametrize("scale", [0.8, 1.25])
def test_exact_score_beats_scaled_scores(scale):
    sde = VPSDE()
    gm = GaussianMixture.ring(8, 2.0, 0.1)
    x0 = gm.sample(6000, 4)
    exact = gm.score_fn(sde)
    l_opt = dsm_loss(exact, sde, x0, generator=5, reduction="none")
    l_bad = dsm_loss(lambda x, t: scale * exact(x, t), sde, x0, generator=5, reduction="none")
    diff = l_bad - l_opt
    assert float(diff.mean()) > 5 * float(diff.std() / math.sqrt(len(diff)))


def test_eps_adapter_and_score_path_agree():
    """ScoreModel.forward = −ε̂/s, and dsm_loss through .eps equals dsm_loss through the score."""
    sde = VPSDE()
    net = MLPScoreNet(2, hidden=16, depth=2).double()
    torch.nn.init.normal_(net.out.weight, std=0.3)  # non-zero output
    model = ScoreModel(net, sde, sigma_data=1.3)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.linspace(0.01, 1.0, 64, dtype=torch.float64)
    _, s = sde.marginal(t)
    assert torch.allclose(model(x, t), -model.eps(x, t) / s[:, None])
    via_eps = dsm_loss(model, sde, x, generator=11)
    via_score = dsm_loss(lambda x, t: model(x, t), sde, x, generator=11)
    assert torch.allclose(via_eps, via_score, rtol=1e-12)
    for weighting in ("sigma2", "likelihood"):
        loss = dsm_loss(model, sde, x, weighting=weighting, generator=0)
        loss.backward()
        assert net.out.weight.grad is not None and torch.isfinite(net.out.weight.grad).all()
        net.zero_grad()


def test_likelihood_weighting_is_g2_over_s2_times_sigma2():
    sde = SubVPSDE()
    x0 = _gaussian().sample(512, 0)
    rec = _Recorder(_gaussian().score_fn(sde))
    l2 = dsm_loss(rec, sde, x0, weighting="sigma2", generator=3, reduction="none")
    ll = dsm_loss(rec, sde, x0, weighting="likelihood", generator=3, reduction="none")
    t = rec.calls[0][1]
    _, s = sde.marginal(t)
    assert torch.allclose(ll, l2 * sde.g2(t) / s**2, rtol=1e-10)


def test_dsm_loss_is_reproducible_and_validates_input():
    sde = VPSDE()
    x0 = _gaussian().sample(16, 0)
    exact = _gaussian().score_fn(sde)
    assert torch.equal(dsm_loss(exact, sde, x0, generator=1), dsm_loss(exact, sde, x0, generator=1))
    with pytest.raises(ValueError, match="weighting must be one of sigma2, likelihood"):
        dsm_loss(exact, sde, x0, weighting="sigma", generator=0)
    with pytest.raises(ValueError, match="t_min must lie in"):
        dsm_loss(exact, sde, x0, t_min=0.0, generator=0)
    with pytest.raises(ValueError, match=r"shape \(batch, D\)"):
        dsm_loss(exact, sde, x0[0], generator=0)
    with pytest.raises(TypeError, match="floating"):
        dsm_loss(exact, sde, x0.long(), generator=0)
    with pytest.raises(ValueError, match="reduction"):
        dsm_loss(exact, sde, x0, reduction="sum", generator=0)
