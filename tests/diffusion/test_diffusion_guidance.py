"""Classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598) and its training labels.

``ε̃ = (1 + w) ε(x, t, c) − w ε(x, t, ∅)``: ``w = 0`` is the conditional model and ``w = −1`` the
unconditional one exactly (checked through two samplers and inpainting, bit for bit), the
batched two-branch pass equals the two separate passes, ``ε̃`` is affine in ``w``, and on an
exact oracle (classes = Gaussian components of a :class:`GaussianMixture`) ``w = 0``/``−1``
sample the component / the mixture. ``drop_labels`` drops with the right frequency
(binomial test at a fixed seed).
"""

from __future__ import annotations

import math

import pytest
import torch

from kexue.diffusion import (
    VPSDE,
    GaussianMixture,
    Guided,
    ScoreModel,
    UNet,
    drop_labels,
    dsm_loss,
    guided,
    inpaint,
    sample,
)

F64 = torch.float64
K = 3


def _randomise_output(net: torch.nn.Module, seed: int = 1, std: float = 0.2) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.out.parameters():
            p.copy_(std * torch.randn(p.shape, generator=g, dtype=p.dtype))
        # distinct class rows, so that the branches differ clearly
        net.class_embed.weight.copy_(torch.randn(net.class_embed.weight.shape, generator=g,
                                                 dtype=p.dtype))


@pytest.fixture(scope="module")
def model():
    net = UNet(1, channels=(8, 16), image_size=8, num_classes=K, seed=0, dtype=F64)
    _randomise_output(net)
    return ScoreModel(net, VPSDE()).eval()


@pytest.fixture(scope="module")
def states():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 1, 8, 8, generator=g, dtype=F64)
    t = torch.tensor([0.1, 0.4, 0.7, 0.95], dtype=F64)
    return x, t, torch.tensor([0, 1, 2, 1])


def test_w0_is_the_conditional_and_w_minus1_the_unconditional_model(model, states):
    x, t, lab = states
    with torch.no_grad():
        assert torch.equal(guided(model, lab, 0.0).eps(x, t), model.eps(x, t, lab))
        assert torch.equal(guided(model, lab, 0.0)(x, t), model(x, t, lab))
        assert torch.equal(guided(model, lab, -1.0).eps(x, t), model.eps(x, t))
        assert torch.equal(guided(model, lab, -1)(x, t), model(x, t))
        # the two branches really differ, so the identities above have teeth
        assert (model.eps(x, t, lab) - model.eps(x, t)).abs().min() > 0


def test_batched_branches_equal_the_formula_and_are_affine_in_w(model, states):
    x, t, lab = states
    with torch.no_grad():
        e_c, e_u = model.eps(x, t, lab), model.eps(x, t)
        for w in (0.7, 3.0, -0.4, -2.5):
            want = (1 + w) * e_c - w * e_u
            torch.testing.assert_close(guided(model, lab, w).eps(x, t), want, rtol=1e-12,
                                       atol=1e-12)
        # affine in w: ε̃(w) = ε̃(0) + w (ε̃(1) − ε̃(0))
        e0, e1 = guided(model, lab, 0.0).eps(x, t), guided(model, lab, 1.0).eps(x, t)
        for w in (-3.0, -0.5, 0.25, 2.0, 7.5):
            torch.testing.assert_close(guided(model, lab, w).eps(x, t), e0 + w * (e1 - e0),
                                       rtol=1e-11, atol=1e-11)
        # the score is −ε̃/s_t
        _, s = VPSDE().marginal(t)
        g = guided(model, lab, 0.7)
        torch.testing.assert_close(g(x, t), -g.eps(x, t) / s[:, None, None, None],
                                   rtol=1e-14, atol=0)


def test_an_int_label_is_every_row(model, states):
    x, t, _ = states
    with torch.no_grad():
        assert torch.equal(guided(model, 2, 1.5).eps(x, t),
                           guided(model, torch.full((4,), 2), 1.5).eps(x, t))


@pytest.mark.parametrize("method", ["heun", "dpmpp_2m", "em"])
def test_guidance_identities_through_samplers(model, method):
    sde = VPSDE()
    x_T = sde.prior_sample((3, 1, 8, 8), 5, dtype=F64)
    lab = torch.tensor([2, 0, 1])
    kw = dict(method=method, steps=4, generator=8)

    def run(fn):
        return sample(fn, sde, x_T, **kw)[0]

    cond = run(lambda x, t: model(x, t, lab))
    uncond = run(model)
    assert torch.equal(run(guided(model, lab, 0.0)), cond)
    assert torch.equal(run(guided(model, lab, -1.0)), uncond)
    assert not torch.allclose(cond, uncond)

    w = 1.5

    def by_hand(x, t):
        _, s = sde.marginal(t)
        e = (1 + w) * model.eps(x, t, lab) - w * model.eps(x, t)
        return -e / s[:, None, None, None]

    torch.testing.assert_close(run(guided(model, lab, w)), run(by_hand), rtol=1e-10,
                               atol=1e-10)


def test_guidance_identities_through_inpaint(model):
    """Inpainting takes flat rows; the UNet takes its flat (batch, 64) rows too."""
    sde = VPSDE()
    g = torch.Generator().manual_seed(0)
    x_known = torch.randn(2, 64, generator=g, dtype=F64)
    mask = torch.zeros(64, dtype=torch.bool)
    mask[:32] = True
    lab = torch.tensor([1, 2])
    kw = dict(steps=5, generator=4)
    cond, info = inpaint(lambda x, t: model(x, t, lab), sde, x_known, mask, **kw)
    assert torch.equal(inpaint(guided(model, lab, 0.0), sde, x_known, mask, **kw)[0], cond)
    uncond, _ = inpaint(model, sde, x_known, mask, **kw)
    assert torch.equal(inpaint(guided(model, lab, -1.0), sde, x_known, mask, **kw)[0], uncond)
    assert torch.equal(cond[:, :32], x_known[:, :32])
    assert not torch.allclose(cond[:, 32:], uncond[:, 32:])
    assert info["nfe"] == 6


class _ClassOracle:
    """Classes = the components of a Gaussian mixture; exact ε for each class and, for the null
    class K, the mixture's (the unconditional model)."""

    def __init__(self, mix: GaussianMixture, sde):
        self.parts = [GaussianMixture(torch.ones(1), mix.means[k:k + 1], mix.covs[k:k + 1])
                      for k in range(mix.n_components)]
        self.mix, self.sde, self.num_classes = mix, sde, mix.n_components

    def eps(self, x, t, labels):
        scores = torch.stack([p.score(x, t, self.sde) for p in self.parts]
                             + [self.mix.score(x, t, self.sde)])            # (K+1, B, d)
        S = scores[labels, torch.arange(x.shape[0])]                        # (B, d)
        _, s = self.sde.marginal(t)
        return -s[:, None] * S


def test_guidance_of_the_exact_oracle_samples_class_and_mixture():
    mix = GaussianMixture.random(dim=2, n_components=3, generator=1)
    sde = VPSDE()
    oracle = _ClassOracle(mix, sde)
    x_T = sde.prior_sample((5, 2), 2, dtype=F64)
    kw = dict(method="dpmpp_2m", steps=8)
    for c in range(3):
        got, _ = sample(guided(oracle, c, 0.0), sde, x_T, **kw)
        want, _ = sample(oracle.parts[c].score_fn(sde), sde, x_T, **kw)
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    got, _ = sample(guided(oracle, 1, -1.0), sde, x_T, **kw)
    want, _ = sample(mix.score_fn(sde), sde, x_T, **kw)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------- training side
def test_drop_labels_frequency_and_values():
    n, p = 20000, 0.2
    lab = torch.randint(0, K, (n,), generator=torch.Generator().manual_seed(0))
    out = drop_labels(lab, p, 7, null_class=K)
    dropped = out == K
    frac = float(dropped.double().mean())
    assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / n), frac     # binomial, 4 sd
    assert torch.equal(out[~dropped], lab[~dropped])                # the others are untouched
    assert torch.equal(drop_labels(lab, p, 7, null_class=K), out)   # the seed fixes it
    assert torch.equal(drop_labels(lab, 0.0, null_class=K), lab)
    assert torch.equal(drop_labels(lab, 1.0, null_class=K), torch.full_like(lab, K))
    # the generator draws one uniform per label: a shared generator advances by that much
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    drop_labels(lab[:10], 0.5, g1, null_class=K)
    torch.rand(10, generator=g2, dtype=F64)
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_dsm_loss_passes_the_labels(model):
    sde = VPSDE()
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(4, 1, 8, 8, generator=g, dtype=F64)
    eps = torch.randn(4, 1, 8, 8, generator=g, dtype=F64)
    t = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=F64)
    lab = torch.tensor([0, 1, 2, K])
    a, s = sde.marginal(t)
    xt = a[:, None, None, None] * x0 + s[:, None, None, None] * eps
    want = (model.eps(xt, t, lab) - eps).pow(2).sum(dim=(1, 2, 3))
    got = dsm_loss(model, sde, x0, t=t, eps=eps, labels=lab, reduction="none")
    torch.testing.assert_close(got, want, rtol=1e-13, atol=0)
    null = dsm_loss(model, sde, x0, t=t, eps=eps, reduction="none")
    assert torch.equal(null, dsm_loss(model, sde, x0, t=t, eps=eps, reduction="none",
                                      labels=torch.full((4,), K)))
    assert not torch.allclose(got[:3], null[:3])
    with pytest.raises(ValueError, match=r"labels must be an int64 tensor of shape \(batch,\)"):
        dsm_loss(model, sde, x0, labels=torch.tensor([0, 1]))


# --------------------------------------------------------------------------------- bad input
def test_bad_labels_and_weights(model):
    with pytest.raises(ValueError, match="unknown class 3"):
        guided(model, 3, 1.0)
    with pytest.raises(ValueError, match="unknown class 5"):
        guided(model, torch.tensor([0, 5, 1]), 1.0)
    with pytest.raises(ValueError, match="unknown class -1"):
        guided(model, torch.tensor([-1, 0]), 1.0)
    with pytest.raises(ValueError, match="int64 tensor of shape"):
        guided(model, torch.tensor([0.0, 1.0]), 1.0)
    with pytest.raises(ValueError, match="w must be a finite number"):
        guided(model, 0, float("nan"))
    g = guided(model, torch.tensor([0, 1]), 1.0)
    with pytest.raises(ValueError, match="labels have 2 rows but x has 3"):
        g(torch.zeros(3, 1, 8, 8, dtype=F64), 0.5)
    plain = ScoreModel(UNet(1, channels=(8, 16), image_size=8, seed=0), VPSDE())
    with pytest.raises(TypeError, match="class-conditional"):
        guided(plain, 0, 1.0)
    with pytest.raises(ValueError, match="p_uncond"):
        drop_labels(torch.tensor([0, 1]), 1.5, null_class=K)
    with pytest.raises(ValueError, match="labels must be an int64"):
        drop_labels(torch.tensor([0.0]), 0.1, null_class=K)
    assert isinstance(g, Guided) and "w=1" in repr(g)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_guided_sampling_on_cuda_matches_cpu(model):
    sde = VPSDE()
    gpu_net = UNet(1, channels=(8, 16), image_size=8, num_classes=K, seed=0, dtype=F64,
                   device="cuda")
    gpu_net.load_state_dict(model.net.state_dict())
    gpu_model = ScoreModel(gpu_net, sde)
    x_T = sde.prior_sample((3, 1, 8, 8), 5, dtype=F64)
    lab = torch.tensor([2, 0, 1])
    cpu, _ = sample(guided(model, lab, 2.0), sde, x_T, method="dpmpp_2m", steps=4)
    gpu, _ = sample(guided(gpu_model, lab.cuda(), 2.0), sde, x_T.cuda(), method="dpmpp_2m",
                    steps=4)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-9, atol=1e-9)
    lab_g = drop_labels(lab.cuda(), 0.5, 0, null_class=K)
    assert lab_g.device.type == "cuda"
