"""Bad input to kexue.regularize: each error names the argument, what was expected, what came."""

import pytest
import torch

from kexue.regularize import (
    adversarial_loss,
    consistency_loss,
    fgm_perturbation,
    input_gradient_penalty,
    laplacian,
    noise_loss,
    vat_direction,
    vat_loss,
)

D = torch.float64
X = torch.zeros(4, 3, dtype=D)
MODEL = torch.nn.Linear(3, 2).to(D)


def _loss(z):
    return z.pow(2).sum(1)


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: noise_loss(_loss, X, sigma=-1.0), ValueError, "sigma must be a finite number >= 0"),
    (lambda: noise_loss(_loss, X, sigma="big"), TypeError, "sigma must be a real number"),
    (lambda: noise_loss(_loss, X, sigma=0.1, n_samples=0), ValueError, "n_samples must be"),
    (lambda: noise_loss(_loss, X, sigma=0.1, n_samples=True), TypeError,
     "n_samples must be an int"),
    (lambda: noise_loss(_loss, X, sigma=0.1, generator="seed"), TypeError,
     "generator must be a torch.Generator, an int seed or None; got str"),
    (lambda: noise_loss(3, X, sigma=0.1), TypeError, "loss_fn must be callable"),
    (lambda: noise_loss(_loss, [[0.0]], sigma=0.1), TypeError,
     "x must be a floating-point torch.Tensor.*got list"),
    (lambda: noise_loss(_loss, torch.zeros(4, dtype=torch.long)[:, None], sigma=0.1), TypeError,
     "torch.int64"),
    (lambda: noise_loss(_loss, torch.zeros(3, dtype=D), sigma=0.1), ValueError,
     r"batch dimension.*got shape \(3,\).*unsqueeze"),
    (lambda: noise_loss(_loss, torch.zeros(0, 3, dtype=D), sigma=0.1), ValueError, "empty batch"),
    (lambda: laplacian(lambda z: z, X), ValueError, "one scalar per example"),
    (lambda: laplacian(_loss, X, n_projections=0), ValueError, "n_projections must be"),
    (lambda: input_gradient_penalty(lambda z: z.sum(), X), ValueError,
     r"one value \(or row\) per example.*reduction='none'"),
    (lambda: input_gradient_penalty(lambda z: (z > 0).long(), X), TypeError, "floating-point"),
    (lambda: input_gradient_penalty(_loss, X, reduction="avg"), ValueError,
     "reduction must be one of mean, sum, none; got 'avg'"),
    (lambda: fgm_perturbation(_loss, X, eps=0.0), ValueError, "eps must be a finite number > 0"),
    (lambda: fgm_perturbation(_loss, X, eps=float("nan")), ValueError, "eps must be"),
    (lambda: fgm_perturbation(_loss, X, eps=0.1, norm="l1"), ValueError,
     "norm must be one of l2, linf, none; got 'l1'"),
    (lambda: adversarial_loss(lambda z: None, X, eps=0.1), TypeError,
     "loss_fn must return a floating-point tensor"),
    (lambda: vat_loss(MODEL, X, eps=-1.0), ValueError, "eps must be"),
    (lambda: vat_loss(MODEL, X, xi=0.0), ValueError, "xi must be a finite number > 0"),
    (lambda: vat_loss(MODEL, X, n_power=-1), ValueError, "n_power must be an int >= 0"),
    (lambda: vat_loss(MODEL, X, n_power=1.5), TypeError, "n_power must be an int"),
    (lambda: vat_loss(MODEL, X, reduction=None), ValueError, "reduction must be one of"),
    (lambda: vat_loss("model", X), TypeError, "model must be callable"),
    (lambda: vat_direction(torch.nn.Linear(3, 1).to(D), X), ValueError,
     r"logits of shape \(N, C\) with C >= 2, or \(N,\).*got shape \(4, 1\)"),
    (lambda: vat_direction(lambda z: torch.softmax(z, 1).argmax(1), X), TypeError,
     "floating-point logits"),
    (lambda: vat_direction(MODEL, X, generator=1.5), TypeError, "generator must be"),
    (lambda: consistency_loss(MODEL, X, sigma=0.0), ValueError,
     "sigma must be a finite number > 0"),
])
def test_bad_input_messages(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
