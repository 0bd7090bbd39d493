"""The DCGAN-style conv networks of kexue.gan and the image training loop: shapes, errors,
the gradient penalty on images, seeded determinism and exact resume."""

import pytest
import torch

from kexue.gan import (
    ConvCritic,
    ConvEncoder,
    ConvGenerator,
    ConvPairCritic,
    check_penalty_norm,
    conv_net_from_spec,
    gradient_penalty,
    init_conv_,
    qp_critic_loss,
    train_image_gan,
)


def _seeded(net, seed=0):
    return init_conv_(net, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), ((16, 24), 2)])
def test_shapes(size, channels):
    h, w = (size, size) if isinstance(size, int) else size
    g = _seeded(ConvGenerator(z_dim=6, dim=4, channels=channels, image_size=size))
    x = g(torch.randn(5, 6, generator=torch.Generator().manual_seed(1)))
    assert x.shape == (5, channels, h, w)
    assert x.abs().max() <= 1  # tanh output, the [-1, 1] image range
    c = ConvCritic(dim=4, channels=channels, image_size=size)
    assert c(x).shape == (5, 1)
    # three stride-2 convs with padding 2: H -> ceil(H/2) three times
    assert c.n_features == 16 * (-(-h // 8)) * (-(-w // 8))
    assert ConvEncoder(z_dim=7, dim=4, channels=channels, image_size=size)(x).shape == (5, 7)
    pc = ConvPairCritic(z_dim=6, dim=4, channels=channels, image_size=size, hidden=8)
    assert pc(x, torch.zeros(5, 6)).shape == (5,)


def test_28_generator_crops_8_to_7():
    g = ConvGenerator(z_dim=3, dim=2)
    assert g.base == (4, 4)
    h = torch.relu(g.up1(torch.zeros(1, 8, 4, 4)))
    assert h.shape[-2:] == (8, 8)  # cropped to 7x7 in forward, then 14, 28


def test_bad_input_errors():
    g, c = ConvGenerator(z_dim=4, dim=2), ConvCritic(dim=2)
    with pytest.raises(ValueError, match=r"z must have shape \(batch, z_dim\) = \(batch, 4\)"):
        g(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r"\(batch, 1, 28, 28\).*reshape"):
        c(torch.zeros(3, 784))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        c([[0.0]])
    with pytest.raises(ValueError, match="multiple of 4"):
        ConvGenerator(image_size=30)
    with pytest.raises(ValueError, match="unknown norm 'group'"):
        ConvCritic(norm="group")
    with pytest.raises(ValueError, match="dim must be an int >= 1"):
        ConvCritic(dim=0)
    with pytest.raises(ValueError, match="paired by row"):
        ConvPairCritic(z_dim=4, dim=2, hidden=4)(torch.zeros(3, 1, 28, 28), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="unknown network kind"):
        conv_net_from_spec({"kind": "mlp"})


def test_spec_round_trip():
    for net in (ConvGenerator(z_dim=5, dim=3), ConvCritic(dim=3, norm="layer"),
                ConvEncoder(z_dim=5, dim=3), ConvPairCritic(z_dim=5, dim=3, hidden=6)):
        twin = conv_net_from_spec(net.spec)
        assert type(twin) is type(net)
        twin.load_state_dict(net.state_dict())  # same parameter names and shapes


def test_init_is_seeded_and_he_scaled():
    a, b = _seeded(ConvCritic(dim=4), 3), _seeded(ConvCritic(dim=4), 3)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(a.out.weight, _seeded(ConvCritic(dim=4), 4).out.weight)
    # He-uniform for LeakyReLU(0.2): U(±sqrt(2/1.04)·sqrt(3/fan_in)), fan_in of conv1 = 1·5·5
    bound = (2 / 1.04) ** 0.5 * (3 / 25) ** 0.5
    w = a.body[0].weight
    assert bound * 0.95 < w.abs().max() <= bound and torch.all(a.body[0].bias == 0)
    # transposed conv: fan_in = in·k²/stride² = 8·25/4 for the generator's second layer (ReLU)
    g = _seeded(ConvGenerator(z_dim=3, dim=4))
    bound = 2 ** 0.5 * (3 / 50) ** 0.5
    assert bound * 0.95 < g.up2.weight.abs().max() <= bound


def test_generator_output_depends_on_z():
    """Variance-preserving init: an untrained, unnormalised generator is not constant in z."""
    g = _seeded(ConvGenerator(z_dim=16, dim=8))
    x = g(torch.randn(64, 16, generator=torch.Generator().manual_seed(0)))
    assert x.std(0).mean() > 0.1


def test_gradient_penalty_on_images_closed_form():
    """A linear critic T(x) = <w, x> has gradient w at every image: penalty (‖w‖ − 1)²."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(1, 1, 28, 28, generator=gen, dtype=torch.float64)

    def critic(x):
        return (x * w).flatten(1).sum(1)

    xr = torch.rand(6, 1, 28, 28, generator=gen, dtype=torch.float64) * 2 - 1
    xf = torch.rand(6, 1, 28, 28, generator=gen, dtype=torch.float64) * 2 - 1
    gp = gradient_penalty(critic, xr, xf, generator=gen)
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-12)


def test_gradient_penalty_conv_critic_is_per_sample_without_batchnorm():
    """The penalty is on each interpolate's own gradient: without batch norm the batched
    gradient equals the one of each image alone; with batch norm it does not (why WGAN-GP
    critics must not use it) and check_penalty_norm refuses it."""
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(4, 1, 28, 28, generator=gen, dtype=torch.float64) * 2 - 1
    grads = {}
    for norm in ("none", "layer", "batch"):
        c = _seeded(ConvCritic(dim=3, norm=norm)).double()
        xb = x.clone().requires_grad_(True)
        (batched,) = torch.autograd.grad(c(xb).sum(), xb)
        alone = []
        for i in range(4):
            xi = x[i:i + 1].clone().requires_grad_(True)
            alone.append(torch.autograd.grad(c(torch.cat([xi, x[:i].detach(), x[i + 1:]]))[0, 0],
                                             xi)[0])
        grads[norm] = (batched, torch.cat(alone))
    for norm in ("none", "layer"):
        torch.testing.assert_close(*grads[norm], rtol=1e-10, atol=1e-12)
    assert not torch.allclose(*grads["batch"], rtol=1e-3, atol=1e-6)
    check_penalty_norm(ConvCritic(dim=2, norm="layer"), 10.0)
    check_penalty_norm(ConvCritic(dim=2, norm="batch"), 0.0)
    with pytest.raises(ValueError, match="must not use batch normalisation"):
        check_penalty_norm(ConvCritic(dim=2, norm="batch"), 10.0)
    # and the gradient penalty itself runs on images through a conv critic, double backprop
    c = _seeded(ConvCritic(dim=3)).double()
    gp = gradient_penalty(c, x, -x, generator=gen)
    gp.backward()
    assert gp.item() >= 0 and c.out.weight.grad is not None


def test_qp_critic_loss_on_images():
    """GAN-QP's loss on image pairs: per-dimension mean distance over C·H·W pixels."""
    xr = torch.zeros(2, 1, 28, 28, dtype=torch.float64)
    xf = torch.full((2, 1, 28, 28), 0.5, dtype=torch.float64)
    t_r, t_f = torch.tensor([2.0, 1.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    # d = mean|Δ| = 0.5; loss = mean(−ΔT + ΔT²/(2·10·0.5))
    want = ((-2 + 4 / 10) + (-1 + 1 / 10)) / 2
    assert qp_critic_loss(t_r, t_f, xr, xf, lam=10, distance="l1").item() == pytest.approx(want)


def _tiny(model="gan-qp", **kw):
    data = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    args = dict(steps=3, batch_size=8, z_dim=4, dim=2, pair_hidden=8, seed=1)
    args.update(kw)
    return train_image_gan(model, data, **args), data


@pytest.mark.parametrize("model", ["gan-qp", "wgan-gp", "sgan", "bigan-qp"])
def test_train_image_gan_runs_and_is_seeded(model):
    a, _ = _tiny(model)
    b, _ = _tiny(model)
    assert a.step == 3 and a.sample(5).shape == (5, 1, 28, 28)
    for p, q in zip(a.generator.parameters(), b.generator.parameters()):
        assert torch.equal(p, q)
    assert (a.encoder is not None) == (model == "bigan-qp")


def test_train_image_gan_resume_is_exact(tmp_path):
    full, _ = _tiny("gan-qp", steps=4, critic_norm="batch")
    ck = tmp_path / "g.safetensors"
    _tiny("gan-qp", steps=2, critic_norm="batch", checkpoint=ck)
    resumed, _ = _tiny("gan-qp", steps=4, critic_norm="batch", checkpoint=ck)
    assert resumed.start_step == 2
    for p, q in zip(full.generator.parameters(), resumed.generator.parameters()):
        assert torch.equal(p, q)


def test_train_image_gan_bad_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\).*unsqueeze"):
        train_image_gan("gan-qp", torch.zeros(10, 784))
    with pytest.raises(TypeError, match="torch.Tensor"):
        train_image_gan("gan-qp", [[0.0]])
    with pytest.raises(ValueError, match="must not use batch normalisation"):
        train_image_gan("wgan-gp", torch.zeros(4, 1, 28, 28), steps=0, critic_norm="batch",
                        dim=2)
    with pytest.raises(ValueError, match="unknown model"):
        train_image_gan("vae", torch.zeros(4, 1, 28, 28))
    with pytest.raises(ValueError, match="NaN"):
        train_image_gan("gan-qp", torch.full((4, 1, 28, 28), float("nan")))
