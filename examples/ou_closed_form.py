"""Simulate an Ornstein–Uhlenbeck SDE and check it against its closed form.

Shows: ``kexue.stochastic.SDE.linear`` + ``kexue.stochastic.solve`` (Euler–Maruyama), and the
closed forms of ``kexue.stochastic.closed_forms`` (verification case V7). Article: Su Jianlin's
path-integral series on kexue.fm (archive 3762: the SDE ``dx = p dt + sqrt(alpha) dW``).

The OU process ``dx = -θ x dt + σ dW`` from ``x0`` has ``E X_T = x0 e^{-θT}`` and
``Var X_T = σ² (1 - e^{-2θT}) / (2θ)``. We simulate ``n`` paths, estimate both with their Monte
Carlo standard errors (SE), and assert that each estimate is within 4 SE (+ the time-step bias bound
below) of the closed form. Run ``python examples/ou_closed_form.py [--fast]``.
"""

import argparse
import math

import torch

from kexue.stochastic import SDE, closed_forms, solve

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fast", action="store_true", help="fewer paths (for the test suite)")
parser.add_argument("--seed", type=int, default=0, help="random seed")
args = parser.parse_args()

theta, sigma, x0, T = 1.5, 0.8, 2.0, 1.0
n_paths = 10_000 if args.fast else 50_000
dt = 2e-2  # pass dt explicitly: without it solve takes ONE step per interval of ts

# dx = (a x + b) dt + (c x + d) dW  with a = -θ, d = σ is the OU process.
sde = SDE.linear(a=-theta, d=sigma)
x_start = torch.full((n_paths, 1), x0, dtype=torch.float64)  # (batch, d) = (n, 1)
gen = torch.Generator().manual_seed(args.seed)
xs = solve(sde, x_start, [0.0, T], method="sra1", dt=dt, generator=gen)  # (len(ts), batch, d)
x_T = xs[-1, :, 0]

mc_mean = x_T.mean().item()
mc_var = x_T.var().item()
se_mean = math.sqrt(mc_var / n_paths)
# SE of the sample variance of a Gaussian: Var * sqrt(2/(n-1)).
se_var = mc_var * math.sqrt(2.0 / (n_paths - 1))

# The closed forms take the variance rate alpha = σ² (not σ) and return NumPy scalars.
exact_mean = float(closed_forms.ou_mean(x0, T, theta))
exact_var = float(closed_forms.ou_var(T, theta, sigma**2))

# SRA1 (Rößler 2010) has weak order 2 for additive noise: the bias is O(dt²), tiny here.
bias = (theta * dt) ** 2 * (abs(exact_mean) + exact_var)

print(f"OU  theta={theta} sigma={sigma} x0={x0} T={T}  paths={n_paths} dt={dt}")
print(f"mean  MC {mc_mean:.5f} ± {se_mean:.5f}   exact {exact_mean:.5f}   "
      f"z = {(mc_mean - exact_mean) / se_mean:+.2f}")
print(f"var   MC {mc_var:.5f} ± {se_var:.5f}   exact {exact_var:.5f}   "
      f"z = {(mc_var - exact_var) / se_var:+.2f}")
assert abs(mc_mean - exact_mean) < 4 * se_mean + bias, "mean disagrees with the closed form"
assert abs(mc_var - exact_var) < 4 * se_var + bias, "variance disagrees with the closed form"
print("CHECK OK: mean and variance agree with the closed form within 4 SE")
