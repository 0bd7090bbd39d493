"""FGM/FGSM adversarial training as a gradient-norm penalty (Goodfellow et al. 1412.6572; Miyato
et al. 1605.07725; kexue.fm 7466): first-order gains and their O(ε²) remainders."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kexue.regularize import adversarial_loss, fgm_perturbation

D = torch.float64
EPSILONS = [2.0**-k for k in range(4, 10)]


@pytest.fixture
def problem():
    gen = torch.Generator().manual_seed(1412)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(),
                              torch.nn.Linear(16, 3)).to(D)
    x = torch.randn(8, 5, generator=gen, dtype=D)
    y = torch.randint(0, 3, (8,), generator=gen)

    def loss(z):
        return F.cross_entropy(net(z), y, reduction="none")  # (N,)

    return net, x, loss


def _grad(loss, x):
    xl = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(xl).sum(), xl)
    return g


@pytest.mark.parametrize("norm, gain", [
    ("l2", lambda g: g.norm(dim=1)),
    ("linf", lambda g: g.abs().sum(1)),
    ("none", lambda g: (g * g).sum(1)),
])
def test_first_order_gain_and_order_two_remainder(problem, norm, gain):
    """ℓ(x + r) − ℓ(x) = ε·gain + O(ε²): gain ‖g‖ (FGM), ‖g‖₁ (FGSM), ‖g‖² (unnormalised)."""
    net, x, loss = problem
    g = _grad(loss, x)
    res = []
    for eps in EPSILONS:
        r = fgm_perturbation(loss, x, eps=eps, norm=norm)
        with torch.no_grad():
            res.append((loss(x + r) - loss(x) - eps * gain(g)).numpy())
    res = np.linalg.norm(np.array(res), axis=1)  # (len(EPSILONS),) norm over the batch
    slope = np.polyfit(np.log(EPSILONS), np.log(res), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.05)


def test_fgm_second_order_term_is_the_curvature_along_the_gradient(problem):
    """ℓ(x + εĝ) − ℓ(x) − ε‖g‖ = (ε²/2)·ĝᵀ∇²ℓ ĝ + O(ε³) with ĝ = g/‖g‖."""
    net, x, loss = problem
    g = _grad(loss, x)
    u = g / g.norm(dim=1, keepdim=True)
    curv = []
    for n in range(8):
        def loss_n(z, n=n):
            return loss(z[None].expand(8, -1))[n]

        curv.append(u[n] @ torch.autograd.functional.hessian(loss_n, x[n]) @ u[n])
    curv = torch.stack(curv)
    errs = []
    for eps in EPSILONS:
        r = fgm_perturbation(loss, x, eps=eps)
        with torch.no_grad():
            second = (loss(x + r) - loss(x) - eps * g.norm(dim=1)) / eps**2
        errs.append((second - curv / 2).norm().item())
    assert np.polyfit(np.log(EPSILONS), np.log(errs), 1)[0] == pytest.approx(1.0, abs=0.1)


def test_perturbation_shape_norm_and_no_side_effects(problem):
    net, x, loss = problem
    r = fgm_perturbation(loss, x, eps=0.3)
    assert r.shape == x.shape and r.dtype == x.dtype and not r.requires_grad
    torch.testing.assert_close(r.norm(dim=1), torch.full((8,), 0.3, dtype=D))
    g = _grad(loss, x)
    cos = (r * g).sum(1) / (r.norm(dim=1) * g.norm(dim=1))
    torch.testing.assert_close(cos, torch.ones(8, dtype=D))
    torch.testing.assert_close(fgm_perturbation(loss, x, eps=0.3, norm="linf").abs(),
                               torch.full_like(x, 0.3))
    assert all(p.grad is None for p in net.parameters())  # no .grad left behind
    # a mean-reduced loss gives the same normalised direction; a batch-shaped input (N, 1, 5) too
    torch.testing.assert_close(fgm_perturbation(lambda z: loss(z).mean(), x, eps=0.3), r)
    r3 = fgm_perturbation(lambda z: loss(z[:, 0]), x[:, None, :], eps=0.3)
    torch.testing.assert_close(r3[:, 0], r)
    # zero gradient (loss independent of example 0) → zero perturbation for that example
    mask = torch.ones(8, dtype=D)
    mask[0] = 0
    r0 = fgm_perturbation(lambda z: loss(z) * mask, x, eps=0.3)
    assert r0[0].abs().max() == 0 and r0[1:].norm(dim=1).min() > 0.29
    # tiny gradients in float32 still give a unit direction (max-abs prescaling)
    x32 = x.float()
    r32 = fgm_perturbation(lambda z: 1e-30 * z.pow(2).sum(1), x32, eps=1.0)
    torch.testing.assert_close(r32.norm(dim=1), torch.ones(8))


def test_adversarial_loss_is_loss_at_perturbed_point(problem):
    net, x, loss = problem
    r = fgm_perturbation(loss, x, eps=0.1)
    adv = adversarial_loss(loss, x, eps=0.1)
    torch.testing.assert_close(adv, loss(x + r))
    assert (adv > loss(x)).all()
    adv.mean().backward()
    assert net[0].weight.grad.abs().sum() > 0
