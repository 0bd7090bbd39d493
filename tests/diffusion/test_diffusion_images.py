"""Image-shaped data ``(batch, C, H, W)`` through the diffusion API, and the image U-Net.

Shape-generic identities: every function reduces over all non-batch dimensions, so an image batch
gives bit for bit the numbers of its flattened ``(batch, C·H·W)`` rows — DSM loss (Vincent 2011;
Song et al. 2021, eq. 7), every sampler, the PF-ODE likelihood and bits/dim — checked on an MLP on
flattened inputs and on the exact score of a :class:`GaussianMixture` reshaped to ``(B, 1, 2, 2)``.
The :class:`UNet` (Ho et al. 2020) maps ``(B, C, H, W)`` to itself for 28×28 → 14 → 7 and small
sizes, starts at ``ε ≡ 0``, rebuilds from its ``spec``, and a class enters only through its
embedding row (classifier-free guidance, Ho & Salimans 2022).
"""

from __future__ import annotations

import json

import pytest
import torch

from kexue.diffusion import (
    SAMPLERS,
    VPSDE,
    GaussianMixture,
    MLPScoreNet,
    ScoreModel,
    UNet,
    UNet8,
    bits_per_dim,
    dsm_loss,
    log_likelihood,
    net_from_spec,
    sample,
)

F64 = torch.float64


def _randomise_output(net: torch.nn.Module, seed: int = 1, std: float = 0.2) -> None:
    """The output layer starts at zero (ε ≡ 0); give it weights so that outputs differ."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.out.parameters():
            p.copy_(std * torch.randn(p.shape, generator=g, dtype=p.dtype))


def _mixture4() -> GaussianMixture:
    return GaussianMixture.random(dim=4, n_components=3, generator=7)


class _ImageScore:
    """The exact mixture score on ``(B, 1, 2, 2)`` images: flatten, score, reshape."""

    def __init__(self, flat):
        self.flat = flat

    def __call__(self, x, t):
        return self.flat(x.reshape(x.shape[0], -1), t).reshape(x.shape)


# ----------------------------------------------------------------------------------- DSM loss
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 12, 12)])
@pytest.mark.parametrize("weighting", ["sigma2", "likelihood"])
def test_dsm_loss_of_images_equals_loss_of_flattened_rows(shape, weighting):
    D = shape[0] * shape[1] * shape[2]
    net = MLPScoreNet(D, hidden=32, depth=1, seed=0).to(F64)
    _randomise_output(net)
    model = ScoreModel(net, VPSDE())
    x0 = torch.randn(5, *shape, generator=torch.Generator().manual_seed(2), dtype=F64)
    img = dsm_loss(model, VPSDE(), x0, weighting=weighting, generator=3, reduction="none")
    flat = dsm_loss(model, VPSDE(), x0.reshape(5, D), weighting=weighting, generator=3,
                    reduction="none")
    assert img.shape == (5,)
    assert torch.equal(img, flat)
    # and the loss is not trivial: it is ‖ε̂ − ε‖² summed over all C·H·W entries, not ‖ε‖²
    zero = dsm_loss(lambda x, t: torch.zeros_like(x), VPSDE(), x0, generator=3,
                    reduction="none")
    assert not torch.allclose(img, zero)


def test_dsm_loss_of_exact_score_on_images_equals_flat():
    mix, sde = _mixture4(), VPSDE()
    x0 = mix.sample(64, 0)                                                    # (64, 4)
    flat = dsm_loss(mix.score_fn(sde), sde, x0, generator=5, reduction="none")
    img = dsm_loss(_ImageScore(mix.score_fn(sde)), sde, x0.reshape(64, 1, 2, 2), generator=5,
                   reduction="none")
    assert torch.equal(img, flat)


def test_dsm_loss_given_t_eps_on_images_is_the_formula():
    """λ = s²: ‖ε̂(a x0 + s ε, t) − ε‖² summed over C, H, W."""
    net = UNet(2, channels=(8, 16), image_size=(4, 8), seed=0, dtype=F64)
    _randomise_output(net)
    sde = VPSDE()
    model = ScoreModel(net, sde)
    g = torch.Generator().manual_seed(4)
    x0 = torch.randn(3, 2, 4, 8, generator=g, dtype=F64)
    eps = torch.randn(3, 2, 4, 8, generator=g, dtype=F64)
    t = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    a, s = sde.marginal(t)
    xt = a[:, None, None, None] * x0 + s[:, None, None, None] * eps
    want = (model.eps(xt, t) - eps).pow(2).sum(dim=(1, 2, 3))
    got = dsm_loss(model, sde, x0, t=t, eps=eps, reduction="none")
    torch.testing.assert_close(got, want, rtol=1e-13, atol=0)


def test_dsm_loss_rejects_data_without_a_data_dimension():
    with pytest.raises(ValueError, match=r"x0 must have shape \(batch, D\) or \(batch, \*shape\)"):
        dsm_loss(lambda x, t: x, VPSDE(), torch.zeros(4, dtype=F64))


# ----------------------------------------------------------------------------------- samplers
@pytest.mark.parametrize("method", ["heun", "dpmpp_2m", "em", "pc", "trig_pc", "ancestral",
                                    "rk45"])
def test_samplers_on_images_give_the_flat_samples(method):
    mix, sde = _mixture4(), VPSDE()
    flat_fn = mix.score_fn(sde)
    x_T = sde.prior_sample((6, 4), 11, dtype=F64)
    kw = dict(method=method, steps=6, generator=3, t_end=1e-3)
    if method == "trig_pc":
        kw.update(grid="cosine", t_end=None)
    flat, info_f = sample(flat_fn, sde, x_T, **kw)
    img, info_i = sample(_ImageScore(flat_fn), sde, x_T.reshape(6, 1, 2, 2), **kw)
    assert img.shape == (6, 1, 2, 2)
    assert torch.equal(img.reshape(6, 4), flat)
    assert info_i["nfe"] == info_f["nfe"]
    assert SAMPLERS[method].name == method


# --------------------------------------------------------------------------------- likelihood
def test_log_likelihood_of_images_equals_flat():
    mix, sde = _mixture4(), VPSDE()
    x = mix.sample(5, 1)
    p_T = mix.at(sde, sde.T)                                  # the exact prior: no mismatch
    lp_f, info_f = log_likelihood(mix.score_fn(sde), sde, x, rtol=1e-6, atol=1e-6,
                                  prior_logp=p_T.log_prob)
    lp_i, info_i = log_likelihood(_ImageScore(mix.score_fn(sde)), sde, x.reshape(5, 1, 2, 2),
                                  rtol=1e-6, atol=1e-6,
                                  prior_logp=lambda z: p_T.log_prob(z.reshape(len(z), 4)))
    assert torch.equal(lp_i, lp_f)
    assert info_i["z"].shape == (5, 1, 2, 2)
    assert torch.equal(info_i["z"].reshape(5, 4), info_f["z"])
    # and it is the right number: the exact log-density of p_{t_end}
    exact = mix.log_prob(x, 1e-5, sde)
    torch.testing.assert_close(lp_f, exact, rtol=0, atol=1e-3)


def test_bits_per_dim_of_images_equals_flat_with_hutchinson():
    mix, sde = _mixture4(), VPSDE()
    levels = torch.randint(0, 16, (4, 4), generator=torch.Generator().manual_seed(0))
    kw = dict(n_bins=16, data_range=(-2.0, 2.0), generator=9, divergence="hutchinson",
              n_probes=2, rtol=1e-5, atol=1e-5)
    b_f, _ = bits_per_dim(mix.score_fn(sde), sde, levels, **kw)
    b_i, info = bits_per_dim(_ImageScore(mix.score_fn(sde)), sde, levels.reshape(4, 1, 2, 2),
                             **kw)
    assert torch.equal(b_i, b_f)
    assert info["offset"] == 2.0                                           # log2(16 / 4)


# ------------------------------------------------------------------------------------ networks
def test_mlp_and_unet8_accept_images_and_match_flat():
    mlp = MLPScoreNet(64, hidden=16, depth=1, seed=0).to(F64)
    unet8 = UNet8(ch=8, seed=0).to(F64)
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1), dtype=F64)
    t = torch.tensor([0.2, 0.5, 0.8], dtype=F64)
    for net in (mlp, unet8):
        _randomise_output(net)
        out = net(x, t)
        assert out.shape == (3, 1, 8, 8)
        assert torch.equal(out.reshape(3, 64), net(x.reshape(3, 64), t))
    with pytest.raises(ValueError, match="x must have shape"):
        mlp(torch.zeros(2, 1, 8, 7, dtype=F64), 0.5)


@pytest.mark.parametrize("c,size,channels", [(1, 28, (32, 64, 128)), (1, 8, (8, 16, 16)),
                                             (3, 12, (8, 16)), (2, (4, 8), (8, 16))])
def test_unet_maps_images_to_images_and_starts_at_zero(c, size, channels):
    net = UNet(c, channels=channels, image_size=size, seed=0, dtype=F64)
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, c, h, w, generator=torch.Generator().manual_seed(0), dtype=F64)
    out = net(x, torch.tensor([0.3, 0.7], dtype=F64))
    assert out.shape == (2, c, h, w) and out.dtype == F64
    assert torch.equal(out, torch.zeros_like(out))          # zero-initialised output layer
    # flat rows are accepted too (the trainer's (N, D) data), with the same numbers
    _randomise_output(net)
    img = net(x, 0.4)
    assert not torch.equal(img, torch.zeros_like(img))
    assert torch.equal(net(x.reshape(2, -1), 0.4), img.reshape(2, -1))


def test_unet_28_has_levels_28_14_7():
    net = UNet(1, seed=0)
    sizes = []
    hooks = [blocks[-1].register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[2:])))
             for blocks in net.down]
    net(torch.zeros(1, 1, 28, 28), 0.5)
    for hk in hooks:
        hk.remove()
    assert sizes == [(28, 28), (14, 14), (7, 7)]
    assert net.spec["channels"] == [32, 64, 128]


def test_unet_spec_round_trip_rebuilds_the_network():
    net = UNet(3, channels=(8, 16), image_size=12, num_classes=4, num_res_blocks=2, seed=3,
               dtype=F64)
    _randomise_output(net)
    spec = json.loads(json.dumps(net.spec))                 # JSON-able, as in a checkpoint
    clone = net_from_spec(spec, dtype=F64)
    assert isinstance(clone, UNet) and clone.spec == net.spec
    clone.load_state_dict(net.state_dict())
    x = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(5), dtype=F64)
    lab = torch.tensor([0, 3])
    assert torch.equal(clone(x, 0.3, lab), net(x, 0.3, lab))
    # the seed alone fixes the initial weights
    a, b = (UNet(3, channels=(8, 16), image_size=12, num_classes=4, seed=3) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="unknown network kind"):
        net_from_spec({"kind": "transformer"})


def test_class_enters_only_through_its_embedding_row():
    net = UNet(1, channels=(8, 16), image_size=8, num_classes=3, seed=0, dtype=F64)
    _randomise_output(net)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(2), dtype=F64)
    t = torch.full((4,), 0.5, dtype=F64)
    a = net(x, t, torch.tensor([0, 1, 2, 3]))
    b = net(x, t, torch.tensor([0, 2, 2, 3]))
    # row 1's label changed: row 1 changes, the other rows do not
    assert not torch.allclose(a[1], b[1])
    assert torch.equal(a[[0, 2, 3]], b[[0, 2, 3]])
    # labels=None is the null class K = 3
    assert torch.equal(net(x, t), net(x, t, torch.full((4,), 3)))
    # with two equal embedding rows the two classes are the same model
    with torch.no_grad():
        net.class_embed.weight[1] = net.class_embed.weight[2]
    assert torch.equal(net(x, t, torch.full((4,), 1)), net(x, t, torch.full((4,), 2)))
    # with zero embeddings the conditional net is the unconditional one with the same weights
    plain = UNet(1, channels=(8, 16), image_size=8, seed=0, dtype=F64)
    plain.load_state_dict({k: v for k, v in net.state_dict().items()
                           if not k.startswith("class_embed")})
    with torch.no_grad():
        net.class_embed.weight.zero_()
    torch.testing.assert_close(net(x, t, torch.tensor([0, 1, 2, 3])), plain(x, t),
                               rtol=0, atol=0)


def test_unet_bad_arguments():
    with pytest.raises(ValueError, match="divisible by 2\\^\\(levels − 1\\) = 4"):
        UNet(1, image_size=30)
    with pytest.raises(ValueError, match="channels"):
        UNet(1, channels=())
    net = UNet(1, channels=(8, 16), image_size=8, num_classes=3, seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 1, 8, 8\)"):
        net(torch.zeros(2, 1, 8, 4), 0.5)
    with pytest.raises(ValueError, match="labels must lie in 0..3"):
        net(torch.zeros(2, 1, 8, 8), 0.5, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="int64 tensor of shape"):
        net(torch.zeros(2, 1, 8, 8), 0.5, torch.tensor([0.0, 1.0]))
    plain = UNet(1, channels=(8, 16), image_size=8, seed=0)
    with pytest.raises(ValueError, match="unconditional UNet"):
        plain(torch.zeros(2, 1, 8, 8), 0.5, torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="not class-conditional"):
        ScoreModel(plain, VPSDE())(torch.zeros(2, 1, 8, 8), 0.5, torch.tensor([0, 1]))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_unet_and_image_sampling_on_cuda_match_cpu():
    net = UNet(1, channels=(8, 16), image_size=8, num_classes=3, seed=0, dtype=F64)
    _randomise_output(net)
    gpu = UNet(1, channels=(8, 16), image_size=8, num_classes=3, seed=0, dtype=F64,
               device="cuda")
    gpu.load_state_dict(net.state_dict())
    assert next(gpu.parameters()).device.type == "cuda"
    sde = VPSDE()
    x_T = sde.prior_sample((3, 1, 8, 8), 0, dtype=F64)
    lab = torch.tensor([0, 1, 2])
    cpu_out, _ = sample(lambda x, t: ScoreModel(net, sde)(x, t, lab), sde, x_T, method="heun",
                        steps=4)
    dev_model = ScoreModel(gpu, sde)
    lab_d = lab.cuda()
    gpu_out, _ = sample(lambda x, t: dev_model(x, t, lab_d), sde, x_T.cuda(), method="heun",
                        steps=4)
    assert gpu_out.device.type == "cuda"
    torch.testing.assert_close(gpu_out.cpu(), cpu_out, rtol=1e-9, atol=1e-9)
