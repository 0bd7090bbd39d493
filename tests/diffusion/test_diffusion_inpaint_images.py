"""Inpainting on image-shaped data (needs the _inpaint.py patch): bit for bit the flat result,
and classifier-free guidance identities through it."""

import torch

from kexue.diffusion import VPSDE, GaussianMixture, ScoreModel, UNet, guided, inpaint

F64 = torch.float64


class _ImageScore:
    def __init__(self, flat):
        self.flat = flat

    def __call__(self, x, t):
        return self.flat(x.reshape(x.shape[0], -1), t).reshape(x.shape)


def test_inpaint_of_images_equals_flat():
    mix, sde = GaussianMixture.random(dim=4, n_components=3, generator=7), VPSDE()
    x = mix.sample(6, 0)
    mask = torch.tensor([True, False, True, False])
    kw = dict(steps=8, generator=3, resample=2)
    flat, info_f = inpaint(mix.score_fn(sde), sde, x, mask, **kw)
    img, info_i = inpaint(_ImageScore(mix.score_fn(sde)), sde, x.reshape(6, 1, 2, 2),
                          mask.reshape(1, 2, 2), **kw)
    assert img.shape == (6, 1, 2, 2)
    assert torch.equal(img.reshape(6, 4), flat)
    assert info_i["nfe"] == info_f["nfe"]


def test_guided_inpaint_on_images():
    net = UNet(1, channels=(8, 16), image_size=8, num_classes=3, seed=0, dtype=F64)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.out.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=g, dtype=F64))
    model, sde = ScoreModel(net, VPSDE()), VPSDE()
    x_known = torch.randn(2, 1, 8, 8, generator=g, dtype=F64)
    mask = torch.zeros(1, 8, 8, dtype=torch.bool)
    mask[:, :4] = True
    lab = torch.tensor([1, 2])
    kw = dict(steps=4, generator=4)
    cond, _ = inpaint(lambda x, t: model(x, t, lab), sde, x_known, mask, **kw)
    assert cond.shape == (2, 1, 8, 8)
    assert torch.equal(inpaint(guided(model, lab, 0.0), sde, x_known, mask, **kw)[0], cond)
    uncond, _ = inpaint(model, sde, x_known, mask, **kw)
    assert torch.equal(inpaint(guided(model, lab, -1.0), sde, x_known, mask, **kw)[0], uncond)
    assert torch.equal(cond[:, :, :4], x_known[:, :, :4])
    # and the flat rows give the same numbers
    flat, _ = inpaint(lambda x, t: model(x, t, lab), sde, x_known.reshape(2, 64),
                      mask.reshape(64), **kw)
    assert torch.equal(flat, cond.reshape(2, 64))
