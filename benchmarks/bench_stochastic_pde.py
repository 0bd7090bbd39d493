"""B3: the parabolic PDE three ways — Crank–Nicolson, Feynman–Kac Monte Carlo, path integral.

Reference note /work/shared/reference/stochastic.md §5 (B3). Reports error against the closed form
and wall time:

* (i) OU Fokker–Planck from N(1, 0.1²), θ = 1.3, α = 0.7, T = 0.9 (V7): Crank–Nicolson at
  Nx = 201/401/801 (Nt = Nx/2) on [−8, 8] — observed order ≈ 2;
* (ii) Feynman–Kac with the harmonic potential V = −ω²x²/2 and φ₀ = e^{−βy²} (V11, α = 0.7,
  ω = 1.1, T = 0.9, β = 0.5, x = 0.6 → 0.508754…): Monte Carlo error vs paths (the 1/√N line) and
  the time-sliced path integral's error vs slices (symmetric split, O(Δt²)).

Run:  .venv/bin/python benchmarks/bench_stochastic_pde.py
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from kexue.stochastic import (
    SDE,
    closed_forms,
    feynman_kac,
    fokker_planck,
    path_integral_propagator,
)

torch.set_num_threads(2)
THETA, ALPHA, T = 1.3, 0.7, 0.9
OMEGA, BETA, X_FK = 1.1, 0.5, 0.6


def timed(fn, reps=3):
    best, out = math.inf, None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def crank_nicolson_ou():
    sde = SDE(lambda t, x: -THETA * x, lambda t, x: math.sqrt(ALPHA) * torch.ones_like(x))
    rows = []
    for nx in (201, 401, 801):
        x = np.linspace(-8, 8, nx)
        p0 = np.exp(-((x - 1.0) ** 2) / (2 * 0.01)) / math.sqrt(2 * math.pi * 0.01)
        m, var = closed_forms.ou_gaussian_evolution(1.0, 0.1, T, THETA, ALPHA)
        ref = np.exp(-((x - m) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)
        out, secs = timed(lambda x=x, p0=p0, nx=nx: fokker_planck(
            sde, x, p0, [0.0, T], bc="reflecting", n_steps=nx // 2))
        rows.append((nx, np.abs(out[-1] - ref).max(), secs))
    print("\n### (i) OU Fokker–Planck, Crank–Nicolson + Rannacher (θ=1.3, α=0.7, T=0.9)\n")
    print("| Nx | Nt | sup error | observed order | time (s) |\n|---|---|---|---|---|")
    prev = None
    for nx, err, secs in rows:
        order = "" if prev is None else f"{math.log2(prev / err):.2f}"
        print(f"| {nx} | {nx // 2} | {err:.3e} | {order} | {secs:.3f} |")
        prev = err


def feynman_kac_mc():
    exact = float(closed_forms.feynman_kac_harmonic_gaussian(X_FK, T, OMEGA, ALPHA, BETA))
    print(f"\n### (ii) Feynman–Kac, V = −ω²x²/2, φ₀ = e^(−βy²), x = {X_FK}: exact {exact:.8f}\n")
    print("| paths | steps | estimate | stderr | |error| | |error|/stderr | time (s) |")
    print("|---|---|---|---|---|---|---|")
    for n_paths in (10_000, 40_000, 160_000):
        res, secs = timed(lambda n=n_paths: feynman_kac(
            lambda t, x: -0.5 * OMEGA**2 * x**2, lambda x: torch.exp(-BETA * x**2), X_FK, T,
            alpha=ALPHA, n_paths=n, n_steps=200, generator=0), reps=2)
        mean, se = float(np.ravel(res.mean)[0]), float(np.ravel(res.stderr)[0])
        print(f"| {n_paths} | 200 | {mean:.6f} | {se:.2e} | {abs(mean - exact):.2e} | "
              f"{abs(mean - exact) / se:.2f} | {secs:.3f} |")
    return exact


def path_integral(exact_fk):
    x = np.linspace(-7, 7, 401)
    phi0 = np.exp(-BETA * x**2)
    i = int(np.argmin(np.abs(x - X_FK)))
    target = float(closed_forms.feynman_kac_harmonic_gaussian(x[i], T, OMEGA, ALPHA, BETA))
    print(f"\n### (ii') time-sliced path integral, grid 401 on [−7, 7], x = {x[i]:.4f}\n")
    print("| slices | symmetric error | one-sided error | time (s) |\n|---|---|---|---|")
    V = -0.5 * OMEGA**2 * x**2
    dx = x[1] - x[0]
    for n in (5, 10, 20, 40):
        (Ks, secs) = timed(lambda n=n: path_integral_propagator(V, x, T, alpha=ALPHA, n_slices=n))
        Ko = path_integral_propagator(V, x, T, alpha=ALPHA, n_slices=n, symmetric=False)
        es = abs((Ks @ phi0)[i] * dx - target)
        eo = abs((Ko @ phi0)[i] * dx - target)
        print(f"| {n} | {es:.3e} | {eo:.3e} | {secs:.4f} |")


if __name__ == "__main__":
    import platform

    print(f"machine: {platform.machine()}, torch {torch.__version__}, 2 threads")
    crank_nicolson_ou()
    path_integral(feynman_kac_mc())
