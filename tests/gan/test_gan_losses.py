"""GAN-QP / BiGAN-QP losses against closed forms (kexue.fm 6163, 6214; arXiv:1811.07296)."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue.data._toy import grid_centers
from kexue.gan import (
    MLP,
    PairCritic,
    bigan_qp_losses,
    energy_distance,
    gradient_penalty,
    mode_coverage,
    optimal_qp_critic,
    pair_distance,
    qp_critic_loss,
    qp_divergence,
    qp_generator_loss,
    sgan_losses,
    wgan_gp_losses,
)

D64 = torch.float64


def _problem(seed, n=5, dim=3):
    g = torch.Generator().manual_seed(seed)
    pts = torch.randn(n, dim, generator=g, dtype=D64)  # (n, dim)
    p = torch.rand(n, generator=g, dtype=D64) + 0.05
    q = torch.rand(n, generator=g, dtype=D64) + 0.05
    return pts, p / p.sum(), q / q.sum()


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_trained_pairwise_critic_reaches_the_closed_form_optimum(distance):
    pts, p, q = _problem(0)
    n, lam = len(p), 10.0
    a, b = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)  # all ordered pairs (a real, b fake)
    w = p[a] * q[b]  # (n²,) exact expectation weights
    table = torch.zeros(n, n, dtype=D64, requires_grad=True)  # pairwise critic T(x_r, x_f)
    opt = torch.optim.LBFGS([table], lr=1, max_iter=500, tolerance_grad=1e-14,
                            tolerance_change=1e-16, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = qp_critic_loss(table[a, b], table[b, a], pts[a], pts[b], lam=lam,
                              distance=distance, weights=w)
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    dt = (table - table.T).detach()  # ΔT(a, b) = T(a, b) − T(b, a)
    d = pair_distance(pts[a], pts[b], distance).reshape(n, n)
    star = optimal_qp_critic(p, q, d, lam)
    assert (dt - star).abs().max() < 1e-3
    assert (star.abs() <= lam * d + 1e-12).all()
    # the maximised objective is the QP divergence
    value = -float(closure().detach())
    assert value == pytest.approx(float(qp_divergence(p, q, d, lam)), rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 100.0))
def test_optimal_critic_bound_and_divergence_properties(seed, lam):
    pts, p, q = _problem(seed, n=6, dim=2)
    d = torch.cdist(pts, pts, p=1) / 2  # per-dimension mean L1
    star = optimal_qp_critic(p, q, d, lam)
    assert (star.abs() <= lam * d * (1 + 1e-12)).all()
    assert torch.allclose(star, -star.T)
    assert float(qp_divergence(p, q, d, lam)) > 0
    assert float(qp_divergence(p, p, d, lam)) == 0.0
    assert optimal_qp_critic(p, p, d, lam).abs().max() == 0


def test_disjoint_supports_qp_gradient_survives_saturating_sgan_vanishes():
    # real at +1, fake at -1 (1-D, disjoint); critics T(x) = w x + c trained to near-optimum
    g = torch.Generator().manual_seed(1)
    real = 1.0 + 0.01 * torch.randn(256, 1, generator=g, dtype=D64)
    fake = -1.0 + 0.01 * torch.randn(256, 1, generator=g, dtype=D64)
    lam = 10.0
    grads = {}
    for name in ("qp", "sgan"):
        crit = torch.nn.Linear(1, 1).to(D64)
        torch.nn.init.zeros_(crit.weight)
        torch.nn.init.zeros_(crit.bias)
        opt = torch.optim.Adam(crit.parameters(), lr=0.1)
        for _ in range(1500):
            if name == "qp":
                loss = qp_critic_loss(crit(real), crit(fake), real, fake, lam=lam)
            else:
                loss = sgan_losses(crit(real), crit(fake)).critic
            opt.zero_grad()
            loss.backward()
            opt.step()
        xf = fake.clone().requires_grad_(True)
        if name == "qp":
            gl = qp_generator_loss(crit(real).detach(), crit(xf))
        else:
            gl = sgan_losses(crit(real).detach(), crit(xf), saturating=True).generator
        (gx,) = torch.autograd.grad(gl * len(xf), xf)  # per-sample gradient wrt G(z)
        grads[name] = float(gx.abs().mean())
    # optimal QP critic on disjoint supports: ΔT = λ d, so |∂loss/∂x_f| = λ (1-D, L1)
    assert grads["qp"] == pytest.approx(lam, rel=0.05)
    assert grads["sgan"] < 1e-3 * grads["qp"]  # σ(t_f)·w → 0 as the logits separate


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_coincident_real_and_fake_give_finite_losses(distance):
    x = torch.randn(8, 5, dtype=D64)
    xf = x.clone().requires_grad_(True)
    t = torch.nn.Linear(5, 1).to(D64)
    loss = qp_critic_loss(t(x), t(xf), x, xf, distance=distance)
    loss.backward()
    assert math.isfinite(float(loss.detach()))
    assert torch.isfinite(xf.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in t.parameters())
    assert float(pair_distance(x, x, distance).abs().max()) == 0.0


def test_distances_closed_forms_and_loss_value():
    xr = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=D64)
    xf = torch.tensor([[3.0, -1.0], [1.0, 1.0]], dtype=D64)
    assert torch.allclose(pair_distance(xr, xf, "l1"), torch.tensor([2.0, 0.0], dtype=D64))
    assert torch.allclose(pair_distance(xr, xf, "l2"), torch.tensor([math.sqrt(5.0), 0.0],
                                                                   dtype=D64))
    tr = torch.tensor([1.0, 0.5], dtype=D64)
    tf = torch.tensor([-1.0, 0.5], dtype=D64)
    # pair 0: ΔT = 2, d = 2 → −2 + 4/(2·10·2) = −1.9; pair 1: ΔT = 0 → 0
    assert float(qp_critic_loss(tr, tf, xr, xf, lam=10.0)) == pytest.approx(-0.95)
    assert float(qp_generator_loss(tr, tf)) == pytest.approx(1.0)
    custom = qp_critic_loss(tr, tf, xr, xf, distance=lambda a, b: torch.ones(len(a), dtype=D64))
    assert float(custom) == pytest.approx((-2 + 4 / 20) / 2)


def test_sgan_and_wgan_gp_closed_forms():
    zero = torch.zeros(4, dtype=D64)
    ls = sgan_losses(zero, zero)
    assert float(ls.critic) == pytest.approx(2 * math.log(2))
    assert float(ls.generator) == pytest.approx(math.log(2))
    assert float(sgan_losses(zero, zero, saturating=True).generator) == pytest.approx(-math.log(2))
    # linear critic T(x) = w·x: gradient norm ‖w‖ everywhere, so the penalty is (‖w‖ − 1)²
    lin = torch.nn.Linear(3, 1, bias=False).to(D64)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[2.0, 0.0, 0.0]], dtype=D64))
    xr, xf = torch.randn(16, 3, dtype=D64), torch.randn(16, 3, dtype=D64)
    g = torch.Generator().manual_seed(0)
    assert float(gradient_penalty(lin, xr, xf, generator=g).detach()) == pytest.approx(1.0)
    out = wgan_gp_losses(lin, xr, xf, penalty=10.0, generator=g)
    with torch.no_grad():
        wdist = float(lin(xf).mean() - lin(xr).mean())
        mean_fake = float(lin(xf).mean())
    assert float(out.critic.detach()) == pytest.approx(wdist + 10.0)
    assert float(out.generator.detach()) == pytest.approx(-mean_fake)
    assert wgan_gp_losses(lin, xr, xf, part="generator").critic is None


def _bigan_nets():
    torch.manual_seed(0)
    return (PairCritic(6, 3, hidden=8, depth=1).double(), MLP(6, 3, 8, 1).double(),
            MLP(3, 6, 8, 1).double())


def _grad_norms(module):
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize("term", ["latent_rec", "image_rec"])
def test_bigan_stop_gradients_are_where_the_article_puts_them(term):
    crit, enc, gen = _bigan_nets()
    x, z = torch.randn(10, 6, dtype=D64), torch.randn(10, 3, dtype=D64)
    for sg in (True, False):
        enc.zero_grad(set_to_none=True)
        gen.zero_grad(set_to_none=True)
        out = bigan_qp_losses(crit, enc, gen, x, z, stop_gradient=sg, part="generator")
        getattr(out, term).backward()
        g_enc, g_gen = _grad_norms(enc), _grad_norms(gen)
        # latent term β1‖z − E(sg G(z))‖²: trains E only; image term β2‖x − G(sg E(x))‖²: G only
        blocked, trained = (g_gen, g_enc) if term == "latent_rec" else (g_enc, g_gen)
        assert trained > 0
        assert (blocked == 0) if sg else (blocked > 0)


def test_bigan_losses_compose_and_critic_part_trains_critic_only():
    crit, enc, gen = _bigan_nets()
    x, z = torch.randn(10, 6, dtype=D64), torch.randn(10, 3, dtype=D64)
    with torch.no_grad():
        out = bigan_qp_losses(crit, enc, gen, x, z, beta1=2.0, beta2=3.0)
        dt = crit(x, enc(x)) - crit(gen(z), z)
        assert float(out.generator) == pytest.approx(
            float(dt.mean() + 2 * out.latent_rec + 3 * out.image_rec))
        d = pair_distance(x, gen(z)) + pair_distance(enc(x), z)
        assert float(out.critic) == pytest.approx(float((-dt + dt**2 / (20 * d)).mean()))
    crit_only = bigan_qp_losses(crit, enc, gen, x, z, part="critic")
    assert crit_only.generator is None
    crit_only.critic.backward()
    assert _grad_norms(crit) > 0 and _grad_norms(enc) == 0 and _grad_norms(gen) == 0


def test_bad_input_messages():
    t = torch.zeros(4)
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="batch sizes must match"):
        qp_critic_loss(t, torch.zeros(5), x, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="batch sizes must match"):
        qp_critic_loss(t, t, x, torch.zeros(3, 2))
    for lam in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="lam must be a positive"):
            qp_critic_loss(t, t, x, x, lam=lam)
    with pytest.raises(ValueError, match="unknown distance 'l3'.*'l1', 'l2'"):
        qp_critic_loss(t, t, x, x, distance="l3")
    with pytest.raises(ValueError, match="unknown distance 'cos'.*'l1', 'l2'"):
        bigan_qp_losses(None, None, None, x, torch.zeros(4, 1), distance="cos")
    with pytest.raises(ValueError, match="shape"):
        qp_critic_loss(torch.zeros(4, 2), t, x, x)
    with pytest.raises(ValueError, match="sum to 1"):
        optimal_qp_critic(torch.tensor([0.5, 0.6]), torch.tensor([0.5, 0.5]), torch.zeros(2, 2))


def test_metrics_closed_forms():
    centers = grid_centers()
    counts = mode_coverage(centers.repeat(30, 1), centers, 0.05)
    assert counts.modes_covered == 25 and counts.high_quality == 1.0
    half = torch.cat([centers[:10].repeat(30, 1), centers[:10].repeat(30, 1) + 1.0])
    st_ = mode_coverage(half, centers, 0.05)
    assert st_.modes_covered == 10 and st_.high_quality == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(0.5, 1.3, size=150)
    ours = energy_distance(torch.tensor(a)[:, None], torch.tensor(b)[:, None])
    assert math.sqrt(ours) == pytest.approx(scipy.stats.energy_distance(a, b), rel=1e-10)
    assert energy_distance(torch.tensor(a)[:, None], torch.tensor(a)[:, None]) == pytest.approx(
        0.0, abs=1e-12)
