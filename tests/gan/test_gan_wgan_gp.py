"""WGAN-GP baseline (Gulrajani et al., arXiv:1704.00028) as ganqp-toy runs it: the penalty sits
on random interpolates, is two-sided, the critic ascends T(real) − T(fake), and the training loop
moves a generator toward the data."""

import pytest
import torch

from kexue.gan import MLP, gradient_penalty, train_gan, wgan_gp_losses

D64 = torch.float64


def test_penalty_is_two_sided_on_the_drawn_interpolates():
    # T(x) = ½‖x‖²: ∇T(x̂) = x̂, so the penalty is mean((‖x̂‖ − 1)²) at x̂ = u x_r + (1 − u) x_f,
    # with u drawn first from the generator; norms below 1 are penalised too (two-sided)
    def quad(x):
        return 0.5 * x.pow(2).sum(dim=1)

    g = torch.Generator().manual_seed(3)
    xr = torch.randn(64, 2, generator=g, dtype=D64) * 0.3
    xf = torch.randn(64, 2, generator=g, dtype=D64) * 0.3 + 0.5
    u = torch.rand(64, 1, generator=torch.Generator().manual_seed(11), dtype=D64)
    got = gradient_penalty(quad, xr, xf, generator=torch.Generator().manual_seed(11)).detach()
    xh = u * xr + (1 - u) * xf
    want = (xh.norm(dim=1) - 1).pow(2).mean()
    assert float(got) == pytest.approx(float(want), rel=1e-12)
    assert bool((xh.norm(dim=1) < 1).any())  # the one-sided variant would drop these terms
    # an explicit u gives the same value as the drawn one
    again = gradient_penalty(quad, xr, xf, u=u).detach()
    assert float(again) == pytest.approx(float(want), rel=1e-12)


def test_critic_step_raises_the_wasserstein_estimate():
    torch.manual_seed(0)
    critic = MLP(2, 1, 16, 2, "relu").double()
    g = torch.Generator().manual_seed(0)
    xr = torch.randn(256, 2, generator=g, dtype=D64) + 2.0
    xf = torch.randn(256, 2, generator=g, dtype=D64) - 2.0
    opt = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))

    def gap():
        with torch.no_grad():
            return float(critic(xr).mean() - critic(xf).mean())

    before = gap()
    for _ in range(20):
        loss = wgan_gp_losses(critic, xr, xf, penalty=0.1, generator=g, part="critic").critic
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert gap() > before + 0.3  # the critic maximises E T(real) − E T(fake) (+0.46 here)


def test_wgan_gp_moves_the_generator_to_the_data():
    # data N((3, −2), 0.1² I); a generator starting near 0 must move its mean toward the data
    g = torch.Generator().manual_seed(0)
    data = torch.randn(4000, 2, generator=g) * 0.1 + torch.tensor([3.0, -2.0])
    res = train_gan("wgan-gp", data, steps=150, batch_size=64, z_dim=2, hidden=32, depth=2,
                    lr=1e-3, betas=(0.5, 0.9), critic_steps=5, penalty=0.1, critic_act="relu",
                    progress=False)
    start = train_gan("wgan-gp", data, steps=0, batch_size=64, z_dim=2, hidden=32, depth=2,
                      critic_act="relu", progress=False)
    target = torch.tensor([3.0, -2.0])
    d0 = float((start.sample(2000, 1).mean(0) - target).norm())
    d1 = float((res.sample(2000, 1).mean(0) - target).norm())
    assert d1 < 0.25 * d0, (d0, d1)
    assert res.critic.spec["act"] == "relu" and res.config["critic_act"] == "relu"


def test_critic_act_is_checked_and_default_keeps_old_config():
    with pytest.raises(ValueError, match="critic_act"):
        train_gan("wgan-gp", "ring", steps=1, critic_act="gelu", progress=False)
    res = train_gan("gan-qp", "ring", steps=1, batch_size=8, hidden=8, depth=1,
                    progress=False)
    assert "critic_act" not in res.config and res.critic.spec["act"] == "lrelu"
