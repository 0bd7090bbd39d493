"""The data, network and training of the noise-vs-penalty experiment.

Friedman's regression problem #1 (scikit-learn's ``make_friedman1``), standardised; a float64
tanh MLP d-h-h-1; full-batch Adam on the squared loss with Gaussian input noise (antithetic
pairs), with the Laplacian penalty ``(σ²/2)·Δℓ`` that noise stands for (kexue.fm archive 7466),
or with Bishop's (1995) gradient penalty ``σ²‖∇f‖²``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from sklearn.datasets import make_friedman1

from ..regularize import input_gradient_penalty, laplacian, noise_loss
from ._init import fan_in_uniform_

if TYPE_CHECKING:
    from .noise_vs_penalty import Config


def _gen(seed: int, device: torch.device) -> torch.Generator:
    """A generator on ``device`` (where the noise is drawn) seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(seed)


def _data(cfg: Config, device: torch.device):
    x, y = make_friedman1(n_samples=cfg.n_train + cfg.n_test, n_features=cfg.n_features,
                          noise=cfg.label_noise, random_state=cfg.seed)
    x_tr, y_tr = x[: cfg.n_train], y[: cfg.n_train]
    mu, sd = x_tr.mean(0), x_tr.std(0)
    ym, ys = y_tr.mean(), y_tr.std()
    xs = torch.as_tensor((x - mu) / sd, device=device)  # (n, d), standardised
    yt = torch.as_tensor((y - ym) / ys, device=device)  # (n,)
    return xs[: cfg.n_train], yt[: cfg.n_train], xs[cfg.n_train:], yt[cfg.n_train:]


def _mlp(cfg: Config, gen: torch.Generator, device: torch.device) -> torch.nn.Module:
    """tanh MLP d-h-h-1 in float64, weights drawn from the CPU generator ``gen``, on ``device``."""
    h = cfg.hidden
    layers = [torch.nn.Linear(cfg.n_features, h), torch.nn.Tanh(), torch.nn.Linear(h, h),
              torch.nn.Tanh(), torch.nn.Linear(h, 1)]
    model = torch.nn.Sequential(*layers, torch.nn.Flatten(0)).double()
    fan_in_uniform_(layers, gen)
    return model.to(device)


def _sq_loss(model: torch.nn.Module, y: torch.Tensor):
    """Per-example squared loss ``ℓ_n(x) = (f(x_n) − y_n)²``; a batch of ``k·len(y)`` rows is
    read as ``k`` stacked copies (``x.repeat(k, 1)``)."""
    def fn(x: torch.Tensor) -> torch.Tensor:
        target = y.repeat(len(x) // len(y))  # (k·N,)
        return (model(x) - target) ** 2
    return fn


def _train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, method: str, sigma: float,
           steps: int, cfg: Config, gen: torch.Generator) -> list[float]:
    """Full-batch Adam on the mean of the chosen objective; returns the objective per step."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = _sq_loss(model, y)
    trace = []
    for _ in range(steps):
        if method == "noise":
            obj = noise_loss(loss_fn, x, sigma=sigma, n_samples=cfg.noise_pairs,
                             antithetic=True, generator=gen).mean()
        else:
            obj = loss_fn(x).mean()
            if method == "laplacian-penalty":
                obj = obj + sigma**2 / 2 * laplacian(loss_fn, x, create_graph=True).mean()
            elif method == "gradient-penalty":
                obj = obj + sigma**2 * input_gradient_penalty(model, x)
        opt.zero_grad(set_to_none=True)
        obj.backward()
        opt.step()
        trace.append(obj.detach())
    return torch.stack(trace).tolist() if trace else []  # one host copy, after the loop
