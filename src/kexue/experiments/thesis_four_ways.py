"""thesis-four-ways: one Ornstein–Uhlenbeck problem solved as a random walk, an SDE, a PDE and a
path integral — the chain of Su Jianlin's thesis.

Articles: "Path-integral series 3: path integral" (kexue.fm archive 3757) and "4: SDEs" (archive
3762). The density of ``dx = −θx dt + sqrt(α) dW`` started from ``N(x0, s0²)`` is computed by

1. the asymmetric lattice walk ``w± = ½(1 ∓ θxΔs/α)`` (exact master equation, error O(Δs²));
2. Euler–Maruyama Monte Carlo of the SDE (Kolmogorov–Smirnov test against the closed form);
3. Crank–Nicolson for the Fokker–Planck equation (error O(Δx² + Δt²));
4. the time-sliced path integral of the *harmonic* problem ``α φ_t = (α²/2) φ_xx + V φ`` with
   Su's potential ``V = αθ/2 − θ²x²/2``, mapped back by ``P = e^{U/α} φ``, ``U = −θx²/2``
   (symmetric Trotter split, error O(Δt²));

and all are compared with the closed form ``N(x0 e^{−θT}, s0² e^{−2θT} + α(1 − e^{−2θT})/(2θ))``.
The thesis identity V10 (OU transition density = rescaled Mehler kernel) is checked pointwise.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy import stats

from ..devices import resolve_device
from ..stochastic import (
    SDE,
    LatticeWalk,
    fokker_planck,
    path_integral_propagator,
    schrodinger_potential,
    solve,
)
from ..stochastic import closed_forms as cf
from . import _config_checks as cc
from ._base import Claim, Experiment, Reference, Result, Table


@dataclass
class Config:
    """Full preset. OU parameters ``theta``, ``alpha``, horizon ``T``, start ``N(x0, s0²)``;
    ``walk_ds``: lattice spacing; ``n_paths``/``mc_steps``: Euler–Maruyama Monte Carlo;
    ``cn_points``/``cn_steps``: Crank–Nicolson grid on [−8, 8] and time steps; ``pi_points``/
    ``pi_slices``: path-integral grid on [−6, 6] and time slices. ``tol_*``: stated tolerances
    (sup error of the density).
    ``device``: ``auto | cpu | cuda | cuda:N`` (numbers reproduce per device kind). The lattice,
    PDE and path-integral parts are NumPy on the host."""

    theta: float = 1.3
    alpha: float = 0.7
    T: float = 0.9
    x0: float = 1.0
    s0: float = 0.1
    walk_ds: float = 0.01
    n_paths: int = 200_000
    mc_steps: int = 400
    cn_points: int = 1601
    cn_steps: int = 400
    pi_points: int = 401
    pi_slices: int = 64
    tol_walk: float = 1e-4
    tol_cn: float = 1e-4
    tol_pi: float = 1e-4
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        """Ranges and relations (``ConfigError`` naming the field): ``theta``, ``alpha``, ``T``,
        ``s0``, ``walk_ds`` and the tolerances > 0; OU walk probabilities ``½(1 ∓ θxΔs/α)`` on
        [−5, 5] in [0, 1]; ``n_paths ≥ 2``, grids ≥ 3 points, steps/slices ≥ 1."""
        name = "thesis-four-ways"
        cc.positive(self, name, ("theta", "alpha", "T", "s0", "walk_ds", "tol_walk", "tol_cn",
                                 "tol_pi"))
        cc.require(isinstance(self.x0, (int, float)) and math.isfinite(self.x0), name, "x0",
                   self.x0, "a finite number")
        cc.require(5 * self.theta * self.walk_ds / self.alpha <= 1, name, "walk_ds",
                   self.walk_ds, f"≤ alpha/(5·theta) = {self.alpha / (5 * self.theta):.4g} "
                   "(walk step probabilities on [−5, 5] in [0, 1])")
        cc.at_least(self, name, ("n_paths",), 2)
        cc.at_least(self, name, ("cn_points", "pi_points"), 3)
        cc.at_least(self, name, ("mc_steps", "cn_steps", "pi_slices"))


def _euler(theta: float, alpha: float, x0: torch.Tensor, T: float, n_steps: int,
           gen: torch.Generator) -> torch.Tensor:
    """Euler–Maruyama for the OU SDE by :func:`kexue.stochastic.solve` (on ``x0``'s device)."""
    sde = SDE(lambda t, x: -theta * x, lambda t, x: torch.full_like(x, math.sqrt(alpha)),
              noise="additive")
    return solve(sde, x0[:, None], [0.0, T], method="euler", dt=T / n_steps,
                 generator=gen)[-1, :, 0]


def run(config: Config) -> Result:
    th, a, T = config.theta, config.alpha, config.T
    m, v = cf.ou_gaussian_evolution(config.x0, config.s0, T, th, a)
    sd = math.sqrt(v)
    exact = lambda z: stats.norm.pdf(z, m, sd)  # noqa: E731
    p0 = lambda z: stats.norm.pdf(z, config.x0, config.s0)  # noqa: E731
    dev = resolve_device(config.device)
    gen = torch.Generator(device=dev).manual_seed(config.seed)
    rows, timings = [], {}

    # 1. lattice walk
    t0 = time.perf_counter()
    walk = LatticeWalk.from_drift(lambda t, x: -th * x, a, config.walk_ds, bounds=(-5.0, 5.0))
    n_walk = round(T / walk.dt)
    mass = walk.from_density(p0(walk.x))
    xw, dw = walk.density(walk.propagate(mass / mass.sum(), n_walk))
    t_walk = n_walk * walk.dt
    mw, vw = cf.ou_gaussian_evolution(config.x0, config.s0, t_walk, th, a)
    err_walk = float(np.max(np.abs(dw - stats.norm.pdf(xw, mw, math.sqrt(vw)))))
    timings["walk"] = time.perf_counter() - t0

    # 2. SDE Monte Carlo
    t0 = time.perf_counter()
    start = config.x0 + config.s0 * torch.randn(config.n_paths, generator=gen,
                                                dtype=torch.float64, device=dev)
    xT = _euler(th, a, start, T, config.mc_steps, gen).cpu().numpy()
    ks = stats.kstest(xT, stats.norm(m, sd).cdf)
    mc_mean, mc_se = float(xT.mean()), float(xT.std(ddof=1) / math.sqrt(xT.size))
    timings["mc"] = time.perf_counter() - t0

    # 3. Crank–Nicolson Fokker–Planck
    t0 = time.perf_counter()
    xc = np.linspace(-8.0, 8.0, config.cn_points)
    sde = SDE(lambda t, x: -th * x, lambda t, x: torch.full_like(x, math.sqrt(a)),
              noise="additive")
    pc = fokker_planck(sde, xc, p0(xc), [0.0, T], n_steps=config.cn_steps)[-1]
    err_cn = float(np.max(np.abs(pc - exact(xc))))
    timings["cn"] = time.perf_counter() - t0

    # 4. path integral of the harmonic problem + Su's transform
    t0 = time.perf_counter()
    xp = np.linspace(-6.0, 6.0, config.pi_points)
    hp = xp[1] - xp[0]
    V = schrodinger_potential(lambda t, x: -th * x, a)  # V = αθ/2 − θ²x²/2
    K = path_integral_propagator(V, xp, T, alpha=a, n_slices=config.pi_slices)  # (N, N)
    U = V.U(0.0, xp)  # −θx²/2
    pp = np.exp(U / a) * (K @ (np.exp(-U / a) * p0(xp))) * hp
    err_pi = float(np.max(np.abs(pp - exact(xp))))
    timings["pi"] = time.perf_counter() - t0

    # V10: OU transition density == rescaled Mehler kernel
    xb, xa = np.meshgrid(np.linspace(-4, 4, 81), np.linspace(-3, 3, 61))
    lhs = cf.ou_transition_density(xb, xa, T, th, a)
    rhs = np.exp(-th * (xb**2 - xa**2) / (2 * a)) * math.exp(th * T / 2) * cf.mehler_kernel(
        xb, xa, T, th, a)
    v10 = float(np.max(np.abs(rhs / lhs - 1.0)))

    rows = [
        ["lattice walk (master equation)", f"Δs={config.walk_ds}, {n_walk} ticks", "sup error",
         err_walk, f"≤ {config.tol_walk:g}", round(timings["walk"], 3)],
        ["SDE Monte Carlo (Euler–Maruyama)", f"{config.n_paths} paths, {config.mc_steps} steps",
         "KS p-value", float(ks.pvalue), "≥ 0.001", round(timings["mc"], 3)],
        ["Fokker–Planck (Crank–Nicolson)", f"{config.cn_points} points, {config.cn_steps} steps",
         "sup error", err_cn, f"≤ {config.tol_cn:g}", round(timings["cn"], 3)],
        ["path integral (symmetric Trotter)", f"{config.pi_points} points, {config.pi_slices} "
         "slices", "sup error", err_pi, f"≤ {config.tol_pi:g}", round(timings["pi"], 3)],
    ]

    fig = Figure(figsize=(11, 4.3))
    ax1, ax2 = fig.subplots(1, 2)
    grid = np.linspace(-1.5, 2.5, 600)
    ax1.hist(xT, bins=120, range=(-1.5, 2.5), density=True, color="#cfd8e8", edgecolor="#9aa8c0",
             lw=0.3, label=f"SDE Monte Carlo ({config.n_paths} paths)")
    ax1.plot(xw[::4], dw[::4], "o", ms=3.5, mfc="none", color="#1f77b4", label="lattice walk")
    ax1.plot(xc, pc, "-", color="#2ca02c", lw=3, alpha=0.5, label="Crank–Nicolson")
    ax1.plot(xp, pp, "x", ms=4, color="#d62728", label="path integral")
    ax1.plot(grid, exact(grid), "k-", lw=1, label="closed form")
    ax1.set_xlim(-1.5, 2.5)
    ax1.set_xlabel("x")
    ax1.set_ylabel("density at T")
    ax1.set_title(f"OU θ={th}, α={a}, T={T}, start N({config.x0}, {config.s0}²)")
    ax1.legend(fontsize=7)
    ax2.semilogy(xw, np.abs(dw - stats.norm.pdf(xw, mw, math.sqrt(vw))) + 1e-18, "-",
                 color="#1f77b4", label="lattice walk")
    ax2.semilogy(xc, np.abs(pc - exact(xc)) + 1e-18, "-", color="#2ca02c", label="Crank–Nicolson")
    ax2.semilogy(xp, np.abs(pp - exact(xp)) + 1e-18, "-", color="#d62728", label="path integral")
    ax2.set_xlim(-1.5, 2.5)
    ax2.set_ylim(1e-9, 1e-2)
    ax2.set_xlabel("x")
    ax2.set_ylabel("|density − closed form|")
    ax2.set_title("pointwise errors of the deterministic methods")
    ax2.legend(fontsize=7)
    fig.tight_layout()

    claims = [
        Claim("lattice walk density agrees with the closed form (sup error)", 0.0, err_walk,
              f"≤ {config.tol_walk:g}", err_walk <= config.tol_walk),
        Claim("SDE Monte Carlo samples follow the closed-form law (Kolmogorov–Smirnov p-value)",
              "≥ 0.001", float(ks.pvalue), "p ≥ 0.001", ks.pvalue >= 1e-3),
        Claim("SDE Monte Carlo mean equals x0 e^{−θT}", m, mc_mean,
              f"4 SE = {4 * mc_se:.2g}", abs(mc_mean - m) <= 4 * mc_se),
        Claim("Crank–Nicolson Fokker–Planck agrees with the closed form (sup error)", 0.0, err_cn,
              f"≤ {config.tol_cn:g}", err_cn <= config.tol_cn),
        Claim("time-sliced path integral with Su's potential agrees (sup error)", 0.0, err_pi,
              f"≤ {config.tol_pi:g}", err_pi <= config.tol_pi),
        Claim("V10: OU density = e^{−θ(xb²−xa²)/(2α)} e^{θT/2} K_Mehler(ω=θ) (max relative "
              "difference)", 0.0, v10, "≤ 1e-12", v10 <= 1e-12),
    ]
    table = Table("Four ways to the same density", ["method", "resolution", "metric", "value",
                                                    "tolerance", "time s"], rows)
    notes = ("The path integral propagates φ = e^{−U/α}P with Su's potential from "
             "schrodinger_potential; the lattice walk is compared at t = nΔt "
             f"({t_walk:.6f}). Euler–Maruyama bias in the variance is about θΔt/2 relative "
             f"({th * T / config.mc_steps / 2:.1e}), below the KS resolution.")
    return Result(claims=claims, tables=[table], figures={"four-ways": fig}, notes=notes)


EXPERIMENT = Experiment(
    name="thesis-four-ways",
    title="Random walk, SDE, Fokker–Planck and path integral give one OU density",
    article="Path-integral series 3–4: path integral; SDEs (2016-06)",
    article_url="https://kexue.fm/archives/3757",
    claim="walk, SDE Monte Carlo, Crank–Nicolson and the time-sliced path integral agree with the "
          "OU closed form, and the OU density is a rescaled Mehler kernel",
    config=Config,
    run=run,
    quick={"n_paths": 50_000, "mc_steps": 200, "cn_points": 1201, "cn_steps": 300},
    quick_runtime_s=5,
    references=(
        Reference("Su Jianlin, 路径积分 (path integral), thesis part 3 (kexue.fm 3757)",
                  "https://kexue.fm/archives/3757"),
        Reference("Su Jianlin, 随机微分方程 (SDEs), thesis part 4 (kexue.fm 3762)",
                  "https://kexue.fm/archives/3762"),
        Reference("Su Jianlin, 随机游走模型 (random-walk model), thesis part 2 (kexue.fm 3750)",
                  "https://kexue.fm/archives/3750"),
        Reference("Crank & Nicolson (1947)", "https://doi.org/10.1017/S0305004100023197"),
        Reference("Feynman (1948), Space-time approach to non-relativistic quantum mechanics",
                  "https://doi.org/10.1103/RevModPhys.20.367"),
    ),
    section="kexue.stochastic",
)
