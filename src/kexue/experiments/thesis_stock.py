"""thesis-stock: geometric Brownian motion is log-normal, and a Black–Scholes price three ways.

Article: "Path-integral series 5: example and review" (kexue.fm archive 3766). Su solves
``dS = S(μ dt + σ dW)`` by the path integral of ``x = ln S`` (Itô: ``dx = (μ − σ²/2) dt + σ dW``, a
quadratic action, hence exact) and obtains the log-normal law. Checked:

1. Monte Carlo of the log-price SDE gives ``S_T`` with the log-normal law (Kolmogorov–Smirnov);
2. the Euler–Maruyama scheme on ``S`` itself has the exact moment ``E S_N = S0(1 + μΔt)^N`` (V13);
3. the Black–Scholes call (V14, ``S = K = 100, r = 0.05, σ = 0.2, T = 1 → 10.450584``) by
   Feynman–Kac Monte Carlo (discount as the potential ``V = −rσ²`` in Su's convention), by the
   Kolmogorov-backward PDE in log-price (Crank–Nicolson with a Rannacher start for the kink), and
   by the closed form.
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
from ..stochastic import SDE, feynman_kac, kolmogorov_backward, solve
from ..stochastic import closed_forms as cf
from . import _config_checks as cc
from ._base import Claim, Experiment, Reference, Result, Table


@dataclass
class Config:
    """Full preset. GBM ``S0``, ``mu``, ``sigma``, ``T`` for the law; Black–Scholes strike ``K``
    and rate ``r`` (same ``S0``, ``sigma``, ``T``). ``n_paths``/``n_steps``: Monte Carlo;
    ``euler_steps``: steps of the Euler scheme on S; ``pde_points``/``pde_steps``: log-price grid
    (on ln S0 ± ``pde_width``) and time steps; ``pde_tol``: stated PDE tolerance.
    ``device``: ``auto | cpu | cuda | cuda:N`` (numbers reproduce per device kind). The PDE
    runs on the host (NumPy/SciPy)."""

    S0: float = 100.0
    mu: float = 0.05
    sigma: float = 0.2
    T: float = 1.0
    K: float = 100.0
    r: float = 0.05
    n_paths: int = 400_000
    n_steps: int = 50
    euler_steps: int = 64
    pde_points: int = 2401
    pde_width: float = 1.5
    pde_steps: int = 400
    pde_tol: float = 1e-4
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        """Ranges (``ConfigError`` naming the field): ``S0``, ``sigma``, ``T``, ``K``,
        ``pde_width``, ``pde_tol`` > 0; finite ``mu``, ``r``; ``n_paths ≥ 2``; steps ≥ 1;
        ``pde_points ≥ 3``."""
        name = "thesis-stock"
        cc.positive(self, name, ("S0", "sigma", "T", "K", "pde_width", "pde_tol"))
        for f in ("mu", "r"):
            v = getattr(self, f)
            cc.require(isinstance(v, (int, float)) and math.isfinite(v), name, f, v,
                       "a finite number")
        cc.at_least(self, name, ("n_paths",), 2)
        cc.at_least(self, name, ("n_steps", "euler_steps", "pde_steps"))
        cc.at_least(self, name, ("pde_points",), 3)


def _log_price_paths(cfg: Config, gen: torch.Generator, dev: torch.device) -> np.ndarray:
    """``S_T`` from Euler–Maruyama on ``x = ln S`` (exact in law for constant coefficients)."""
    drift = cfg.mu - 0.5 * cfg.sigma**2
    sde = SDE(lambda t, x: torch.full_like(x, drift), lambda t, x: torch.full_like(x, cfg.sigma),
              noise="additive")
    x0 = torch.full((cfg.n_paths, 1), math.log(cfg.S0), dtype=torch.float64, device=dev)
    xT = solve(sde, x0, [0.0, cfg.T], method="euler", dt=cfg.T / cfg.n_steps,
               generator=gen)[-1, :, 0]
    return torch.exp(xT).cpu().numpy()


def _euler_on_S(cfg: Config, gen: torch.Generator, dev: torch.device) -> np.ndarray:
    """Euler–Maruyama on ``dS = μS dt + σS dW`` directly (multiplicative noise)."""
    dt = cfg.T / cfg.euler_steps
    S = torch.full((cfg.n_paths,), cfg.S0, dtype=torch.float64, device=dev)
    for _ in range(cfg.euler_steps):
        dW = math.sqrt(dt) * torch.randn(cfg.n_paths, generator=gen, dtype=torch.float64,
                                         device=dev)
        S = S * (1.0 + cfg.mu * dt + cfg.sigma * dW)
    return S.cpu().numpy()


def run(config: Config) -> Result:
    c = config
    dev = resolve_device(c.device)
    gen = torch.Generator(device=dev).manual_seed(c.seed)
    rows = []

    # 1. log-normal law
    t0 = time.perf_counter()
    ST = _log_price_paths(c, gen, dev)
    law = stats.lognorm(s=c.sigma * math.sqrt(c.T),
                        scale=c.S0 * math.exp((c.mu - 0.5 * c.sigma**2) * c.T))
    ks = stats.kstest(ST, law.cdf)
    t_law = time.perf_counter() - t0

    # 2. exact moments of the Euler scheme on S
    SN = _euler_on_S(c, gen, dev)
    m_scheme, _ = cf.euler_gbm_moments(c.S0, c.mu, c.sigma, c.T / c.euler_steps, c.euler_steps)
    m_mc, se_mc = float(SN.mean()), float(SN.std(ddof=1) / math.sqrt(SN.size))

    # 3. Black–Scholes three ways
    exact = float(cf.black_scholes_call(c.S0, c.K, c.r, c.sigma, c.T))
    t0 = time.perf_counter()
    fk = feynman_kac(-c.r * c.sigma**2, lambda x: torch.clamp(torch.exp(x) - c.K, min=0.0),
                     math.log(c.S0), c.T, alpha=c.sigma**2, drift=c.r - 0.5 * c.sigma**2,
                     n_paths=c.n_paths, n_steps=c.n_steps, generator=gen, device=dev)
    t_fk = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_half = c.pde_points // 2
    x = math.log(c.S0) + np.linspace(-c.pde_width, c.pde_width, 2 * n_half + 1)
    sde = SDE(lambda t, z: torch.full_like(z, c.r - 0.5 * c.sigma**2),
              lambda t, z: torch.full_like(z, c.sigma), noise="additive")
    u = kolmogorov_backward(sde, x, np.maximum(np.exp(x) - c.K, 0.0), [0.0, c.T],
                            potential=-c.r, n_steps=c.pde_steps)[0]
    pde = float(u[n_half])
    t_pde = time.perf_counter() - t0
    fk_mean, fk_se = float(fk.mean), float(fk.stderr)
    rows = [
        ["closed form (Black–Scholes 1973)", exact, 0.0, "—", "—"],
        ["Feynman–Kac Monte Carlo", fk_mean, fk_mean - exact, f"±{4 * fk_se:.3g} (4 SE)",
         round(t_fk, 3)],
        ["Kolmogorov backward PDE (CN + Rannacher)", pde, pde - exact, f"±{c.pde_tol:g}",
         round(t_pde, 3)],
    ]

    fig = Figure(figsize=(11, 4.3))
    ax1, ax2 = fig.subplots(1, 2)
    hi = law.ppf(0.9995)
    s_grid = np.linspace(1e-6, hi, 600)
    ax1.hist(ST, bins=150, range=(0, hi), density=True, color="#cfd8e8", edgecolor="#9aa8c0",
             lw=0.3, label=f"Monte Carlo S_T ({c.n_paths} paths)")
    ax1.plot(s_grid, cf.gbm_density(s_grid, c.S0, c.T, c.mu, c.sigma), "k-", lw=1,
             label="log-normal law (Su, part 5)")
    ax1.set_xlabel("S_T")
    ax1.set_ylabel("density")
    ax1.set_title(f"GBM S0={c.S0}, μ={c.mu}, σ={c.sigma}, T={c.T}; KS p={ks.pvalue:.3f}")
    ax1.legend(fontsize=8)
    S_axis = np.exp(x)
    sel = (S_axis > 0.5 * c.K) & (S_axis < 1.6 * c.K)
    ax2.plot(S_axis[sel], u[sel], "-", color="#2ca02c", lw=3, alpha=0.5, label="PDE (log-price)")
    ax2.plot(S_axis[sel], cf.black_scholes_call(S_axis[sel], c.K, c.r, c.sigma, c.T), "k--",
             lw=1, label="Black–Scholes closed form")
    ax2.errorbar([c.S0], [fk_mean], yerr=[4 * fk_se], fmt="o", color="#d62728", capsize=4,
                 label="Feynman–Kac MC (±4 SE)")
    ax2.plot(S_axis[sel], np.maximum(S_axis[sel] - c.K, 0.0), ":", color="gray", lw=1,
             label="payoff")
    ax2.set_xlabel("S")
    ax2.set_ylabel("call value at t = 0")
    ax2.set_title(f"K={c.K}, r={c.r}: price {exact:.6f} at S={c.S0}")
    ax2.legend(fontsize=8)
    fig.tight_layout()

    claims = [
        Claim("Monte Carlo S_T of the log-price SDE follows the log-normal law (KS p-value)",
              "≥ 0.001", float(ks.pvalue), "p ≥ 0.001", ks.pvalue >= 1e-3),
        Claim("Euler–Maruyama on S: E S_N = S0(1 + μΔt)^N exactly (V13)", float(m_scheme), m_mc,
              f"4 SE = {4 * se_mc:.3g}", abs(m_mc - m_scheme) <= 4 * se_mc),
        Claim("Feynman–Kac Monte Carlo price", exact, fk_mean, f"4 SE = {4 * fk_se:.3g}",
              abs(fk_mean - exact) <= 4 * fk_se),
        Claim("Kolmogorov backward PDE price (log-price, Crank–Nicolson + Rannacher)", exact,
              pde, f"±{c.pde_tol:g}", abs(pde - exact) <= c.pde_tol),
    ]
    if (c.S0, c.K, c.r, c.sigma, c.T) == (100.0, 100.0, 0.05, 0.2, 1.0):
        claims.insert(2, Claim("Black–Scholes closed form (reference note)", 10.450584, exact,
                               "±5e-7", abs(exact - 10.450584) <= 5e-7))
    table = Table("Black–Scholes call", ["method", "price", "error", "tolerance", "time s"], rows)
    notes = (f"Log-normal test on {c.n_paths} paths ({t_law:.2f} s). The Feynman–Kac weight "
             "exp((1/α)∫V ds) with α = σ² and V = −rσ² is the discount e^{−rT}; the PDE uses "
             "potential −r on ln S ∈ ln S0 ± "
             f"{c.pde_width} with {2 * n_half + 1} points and {c.pde_steps} steps (absorbing "
             "far field).")
    return Result(claims=claims, tables=[table], figures={"stock": fig}, notes=notes)


EXPERIMENT = Experiment(
    name="thesis-stock",
    title="Stock price: GBM is log-normal; Black–Scholes by Feynman–Kac, PDE and closed form",
    article="Path-integral series 5: example and review (2016-06-09)",
    article_url="https://kexue.fm/archives/3766",
    claim="S_T of geometric Brownian motion is log-normal, and the call price 10.450584 is "
          "reproduced by Feynman–Kac Monte Carlo (4 SE) and the backward PDE (1e-4)",
    config=Config,
    run=run,
    quick={"n_paths": 100_000, "n_steps": 20},
    quick_runtime_s=4,
    references=(
        Reference("Su Jianlin, 例子和综述 (example and review), thesis part 5 (kexue.fm 3766)",
                  "https://kexue.fm/archives/3766"),
        Reference("Black & Scholes (1973), The pricing of options and corporate liabilities",
                  "https://doi.org/10.1086/260062"),
        Reference("Su Jianlin, 随机微分方程 (SDEs), thesis part 4 (kexue.fm 3762)",
                  "https://kexue.fm/archives/3762"),
    ),
    section="kexue.stochastic",
)
