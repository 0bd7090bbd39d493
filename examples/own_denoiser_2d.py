"""Sample a 2-D distribution from your own denoiser with kexue's diffusion samplers.

Shows: plugging a user-written denoiser into ``kexue.diffusion.sample`` on a ``VPSDE``.
Articles: Su Jianlin, "Generative diffusion models (5): the SDE framework" and "(6): the ODE
framework" (kexue.fm archives 9209 and 9228), after Song et al. 2021 (arXiv:2011.13456).

Your model here is a k-diffusion-style denoiser ``D(y, σ) = E[x0 | x0 + σ ε = y]``, written by
hand for a mixture of three isotropic Gaussians (so it is exact). kexue's samplers want a score
``score_fn(x_t, t)``; for ``x_t = ᾱ_t x0 + β̄_t ε`` (``sde.marginal(t) = (ᾱ_t, β̄_t)``,
``σ = β̄_t/ᾱ_t``) Tweedie's formula gives ``∇ log p_t(x_t) = (ᾱ_t D(x_t/ᾱ_t, σ) − x_t)/β̄_t²``:
that adapter is the few lines of ``score_from_denoiser`` below.

Check: the fraction of samples nearest each mode matches the mixture weight within 4 binomial
standard errors, and the sample mean matches the exact mean within 4 SE.
Run ``python examples/own_denoiser_2d.py [--fast]``.
"""

import argparse

import torch

from kexue.diffusion import VPSDE, sample

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fast", action="store_true", help="fewer samples and steps")
parser.add_argument("--seed", type=int, default=0, help="random seed")
args = parser.parse_args()
n = 2_000 if args.fast else 8_000
steps = 20 if args.fast else 40

# The target: p0 = Σ_k π_k N(μ_k, s² I) in R², with well separated modes.
weights = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
means = torch.tensor([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]], dtype=torch.float64)  # (K, 2)
s2 = 0.3**2


def denoiser(y: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """``E[x0 | x0 + σ ε = y]`` for the mixture: ``y`` (batch, 2), ``σ`` (batch,) -> (batch, 2)."""
    var = (s2 + sigma**2)[:, None]  # (batch, 1): the variance of y given the component
    d2 = ((y[:, None, :] - means[None]) ** 2).sum(-1)  # (batch, K)
    logits = weights.log()[None] - d2 / (2 * var) - torch.log(var)  # 2-D Gaussian log-density
    resp = torch.softmax(logits, dim=1)  # posterior component probabilities (batch, K)
    shrink = s2 / var  # E[x0 | y, k] = μ_k + s²/(s² + σ²) (y − μ_k)
    comp_mean = means[None] + shrink[:, :, None] * (y[:, None, :] - means[None])
    return (resp[:, :, None] * comp_mean).sum(1)


sde = VPSDE()  # β from 0.1 to 20, T = 1 (Song et al.)


def score_from_denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Adapter: kexue's ``score_fn(x_t, t)`` from the denoiser, by Tweedie's formula."""
    mean_coef, std = sde.marginal(t)  # each (batch,)
    sigma = std / mean_coef
    d = denoiser(x / mean_coef[:, None], sigma)
    return (mean_coef[:, None] * d - x) / std[:, None] ** 2


gen = torch.Generator().manual_seed(args.seed)
x_T = sde.prior_sample((n, 2), generator=gen, dtype=torch.float64)
x0, info = sample(score_from_denoiser, sde, x_T, method="dpmpp_2m", steps=steps)
print(f"sampled {n} points with dpmpp_2m, {info['nfe']} score evaluations")

# Which mode is each sample nearest to?  Compare the fractions with the weights.
nearest = torch.cdist(x0, means).argmin(1)
frac = torch.bincount(nearest, minlength=len(weights)).double() / n
se_frac = (weights * (1 - weights) / n).sqrt()
exact_mean = weights @ means
exact_var = s2 + weights @ means**2 - exact_mean**2  # per coordinate
mc_mean = x0.mean(0)
se_mean = (exact_var / n).sqrt()
for k in range(len(weights)):
    print(f"mode {k}: fraction {frac[k]:.4f} ± {se_frac[k]:.4f}   weight {weights[k]:.4f}")
for i in range(2):
    print(f"mean[{i}]: sample {mc_mean[i]:+.4f} ± {se_mean[i]:.4f}   exact {exact_mean[i]:+.4f}")
assert torch.all((frac - weights).abs() < 4 * se_frac), "mode fractions disagree with weights"
assert torch.all((mc_mean - exact_mean).abs() < 4 * se_mean), "sample mean disagrees"
print("CHECK OK: mode fractions and mean match the target within 4 SE")
