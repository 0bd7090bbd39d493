"""thesis-walk-limit: Su's asymmetric random walk tends to the drift–diffusion equation at O(Δs²).

Article: "Path-integral series 2: the random-walk model" (kexue.fm archive 3750), part of Su
Jianlin's thesis. A walker at ``x`` steps ``±Δs`` every ``Δt = Δs²/α`` with probabilities
``½(1 ± p(x)Δs/α)``; the master equation tends to ``P_t = (α/2) P_xx − (p P)_x`` (eq. 12). Checked:

1. constant drift ``p`` (exact walk law = binomial): the lattice density ``pmf/(2Δs)`` differs
   from ``N(pT, αT)`` by ``O(Δs²)``, and the constant is the closed form of the leading
   Edgeworth term (:func:`edgeworth_constant`): ``sup|error| / Δs² → C``;
2. position-dependent drift ``p = −θx`` (OU): the same order against the OU closed form, with the
   Crank–Nicolson Fokker–Planck solution on the figure;
3. Monte Carlo walkers reproduce the exact lattice law (chi-square test), and the mean
   displacement per tick is exactly ``pΔt``.
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
from ..stochastic import SDE, LatticeWalk, RandomWalk, fokker_planck
from ..stochastic import closed_forms as cf
from . import _config_checks as cc
from ._base import Claim, Experiment, Reference, Result, Table


@dataclass
class Config:
    """Full preset. ``alpha``, ``drift`` (constant p), ``T``: the note's case; ``theta``: OU drift
    ``p = −θx`` started from ``N(x0, s0²)``; ``ds_values``: lattice spacings; ``mc_ds``: spacing
    of the Monte Carlo walkers; ``n_walkers``: their number.
    ``device``: ``auto | cpu | cuda | cuda:N`` (numbers reproduce per device kind). The lattice
    walks are exact NumPy propagation on the host; the Monte Carlo walkers run on the device."""

    alpha: float = 0.7
    drift: float = 0.8
    T: float = 0.9
    theta: float = 1.3
    x0: float = 1.0
    s0: float = 0.1
    ds_values: tuple = (0.04, 0.02, 0.01, 0.005)
    mc_ds: float = 0.04
    n_walkers: int = 200_000
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        """Ranges and relations (``ConfigError`` naming the field): ``alpha``, ``T``, ``theta``,
        ``s0``, ``mc_ds`` > 0; at least two different ``ds_values`` > 0 (a slope is fitted);
        step probabilities ``½(1 ± pΔs/α)`` in [0, 1] for the constant drift and for the OU
        drift on [−5, 5]; ``n_walkers ≥ 100`` (chi-square test)."""
        name = "thesis-walk-limit"
        cc.positive(self, name, ("alpha", "T", "theta", "s0", "mc_ds"))
        for f in ("drift", "x0"):
            v = getattr(self, f)
            cc.require(isinstance(v, (int, float)) and math.isfinite(v), name, f, v,
                       "a finite number")
        ds = cc.tuple_values(self, name, "ds_values", min_len=2, distinct=True)
        cc.at_least(self, name, ("n_walkers",), 100)
        h = max(max(ds), self.mc_ds)
        cc.require(abs(self.drift) * h / self.alpha <= 1, name, "drift", self.drift,
                   f"|drift| ≤ alpha/max(ds_values, mc_ds) = {self.alpha / h:.4g} (step "
                   "probabilities ½(1 ± pΔs/α) in [0, 1])")
        cc.require(5 * self.theta * max(ds) / self.alpha <= 1, name, "ds_values", ds,
                   f"≤ alpha/(5·theta) = {self.alpha / (5 * self.theta):.4g} (OU step "
                   "probabilities on [−5, 5] in [0, 1])")


def edgeworth_constant(alpha: float, p: float, t: float) -> float:
    """``C = lim sup_x |pmf(x)/(2Δs) − N(x; pt, αt)| / Δs²`` for the constant-drift walk.

    The walk makes ``n = αt/Δs²`` steps ``±Δs`` with up-probability ``q = ½(1 + pΔs/α)``; the
    cumulants of its position are ``κ1 = pt`` (exact), ``κ2 = αt − p²tΔs²/α``,
    ``κ3 = 8nΔs³ q(1−q)(1−2q) = −2ptΔs² + O(Δs⁴)`` and ``κ4 = 16nΔs⁴ q(1−q)(1−6q(1−q)) =
    −2αtΔs² + O(Δs⁴)``. The local Edgeworth expansion of a lattice law (span ``2Δs``) at its
    lattice points is that of a density, so with ``σ² = αt``, ``z = (x − pt)/σ``:

        error(x) / Δs² → φ(z)/σ · [ −p²/(2α²) (z² − 1) − p t He₃(z)/(3σ³) − αt He₄(z)/(12σ⁴) ],

    ``He₃ = z³ − 3z``, ``He₄ = z⁴ − 6z² + 3``; ``C`` is its supremum over ``z`` (on a fine grid).
    """
    s2 = alpha * t
    s = math.sqrt(s2)
    z = np.linspace(-10.0, 10.0, 200_001)
    he3, he4 = z**3 - 3 * z, z**4 - 6 * z**2 + 3
    g = stats.norm.pdf(z) / s * (-p**2 / (2 * alpha**2) * (z**2 - 1)
                                 - p * t * he3 / (3 * s**3) - alpha * t * he4 / (12 * s2**2))
    return float(np.abs(g).max())


def _slope(h, err) -> float:
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def _walkers_final(walk: RandomWalk, n_steps: int, n_walkers: int, gen: torch.Generator,
                   dev: torch.device, chunk: int = 20_000) -> np.ndarray:
    """Final positions of ``n_walkers`` simulated walkers (in chunks to bound memory)."""
    out = []
    for start in range(0, n_walkers, chunk):
        m = min(chunk, n_walkers - start)
        x_final = walk.sample(n_steps, m, generator=gen, device=dev)[-1]  # (m,)
        out.append(x_final.cpu().numpy())
    return np.concatenate(out)


def run(config: Config) -> Result:
    a, p, T = config.alpha, config.drift, config.T
    dss = sorted(config.ds_values, reverse=True)
    dev = resolve_device(config.device)
    gen = torch.Generator(device=dev).manual_seed(config.seed)
    rows, err_const, err_ou, mean_err = [], [], [], 0.0
    ou_drift = lambda t, x: -config.theta * x  # noqa: E731
    keep = {}
    for ds in dss:
        t0 = time.perf_counter()
        # (1) constant drift from a point mass
        half = 8 * math.sqrt(a * T)  # lattice with x = 0 as a site
        walk = LatticeWalk.from_drift(p, a, ds, bounds=(-ds * math.ceil(half / ds),
                                                        ds * math.ceil((p * T + half) / ds)))
        n = round(T / walk.dt)
        start = walk.delta(0.0)
        pmf = walk.propagate(start, n)
        mean_err = max(mean_err, abs(float((walk.x * pmf).sum()) - p * n * walk.dt))
        xs, dens = walk.density(pmf)
        e1 = float(np.max(np.abs(dens - cf.drift_diffusion_density(xs, n * walk.dt, 0.0, p, a))))
        # (2) OU drift from a smooth start
        ou = LatticeWalk.from_drift(ou_drift, a, ds, bounds=(-5.0, 5.0))
        n2 = round(T / ou.dt)
        p0 = ou.from_density(cf.drift_diffusion_density(ou.x, 1.0, config.x0, 0.0, config.s0**2))
        xo, do = ou.density(ou.propagate(p0 / p0.sum(), n2))
        m, v = cf.ou_gaussian_evolution(config.x0, config.s0, n2 * ou.dt, config.theta, a)
        e2 = float(np.max(np.abs(do - stats.norm.pdf(xo, m, math.sqrt(v)))))
        err_const.append(e1)
        err_ou.append(e2)
        keep[ds] = (xs, dens, walk, pmf, n, xo, do)
        rows.append([ds, n, e1, edgeworth_constant(a, p, n * walk.dt) * ds**2, n2, e2,
                     round(time.perf_counter() - t0, 3)])
        t_const = n * walk.dt  # the time the finest lattice is compared at

    # (3) Monte Carlo walkers against the exact lattice law
    mc_ds = config.mc_ds
    w_up = 0.5 * (1 + p * mc_ds / a)
    rw = RandomWalk(w_up, up=mc_ds, down=mc_ds)
    n_mc = round(T / (mc_ds**2 / a))
    final = _walkers_final(rw, n_mc, config.n_walkers, gen, dev)
    k = np.rint((final + n_mc * mc_ds) / (2 * mc_ds)).astype(int)  # number of up-steps
    counts = np.bincount(k, minlength=n_mc + 1).astype(float)
    _, probs = rw.pmf(n_mc)
    expected = probs * config.n_walkers
    big = expected >= 5  # pool the sparse tails into one cell
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    dof = obs.size - 1
    p_chi2 = float(stats.chi2.sf(chi2, dof))

    s_const, s_ou = _slope(dss, err_const), _slope(dss, err_ou)
    c_pred = edgeworth_constant(a, p, t_const)
    c_meas = err_const[-1] / dss[-1] ** 2

    # figures
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    pos, _ = rw.pmf(n_mc)
    ax1.bar(pos, counts / (config.n_walkers * 2 * mc_ds), width=2 * mc_ds, color="#cfd8e8",
            edgecolor="#9aa8c0", lw=0.3, label=f"{config.n_walkers} walkers (Δs={mc_ds})")
    xs, dens = keep[dss[-1]][:2]
    grid = np.linspace(xs[0], xs[-1], 800)
    ax1.plot(xs, dens, ".", ms=2, color="#d62728", label=f"lattice pmf/(2Δs), Δs={dss[-1]}")
    ax1.plot(grid, cf.drift_diffusion_density(grid, T, 0.0, p, a), "k-", lw=1,
             label="N(pT, αT) (closed form)")
    ax1.set_xlim(p * T - 4 * math.sqrt(a * T), p * T + 4 * math.sqrt(a * T))
    ax1.set_title(f"constant drift p={p}, α={a}, T={T}")
    ax1.set_xlabel("x")
    ax1.set_ylabel("density")
    ax1.legend(fontsize=7)
    # OU panel with CN Fokker–Planck
    xg = np.linspace(-5, 5, 1001)
    sde = SDE(ou_drift, lambda t, x: torch.full_like(x, math.sqrt(a)), noise="additive")
    cn = fokker_planck(sde, xg, cf.drift_diffusion_density(xg, 1.0, config.x0, 0.0,
                                                           config.s0**2), [0.0, T], n_steps=500)
    m, v = cf.ou_gaussian_evolution(config.x0, config.s0, T, config.theta, a)
    xo, do = keep[dss[0]][5:7]
    ax2.plot(xo, do, "o", ms=3, mfc="none", color="#1f77b4", label=f"lattice walk, Δs={dss[0]}")
    ax2.plot(xg, cn[-1], "-", color="#2ca02c", lw=2, alpha=0.6, label="Crank–Nicolson FP")
    ax2.plot(xg, stats.norm.pdf(xg, m, math.sqrt(v)), "k--", lw=1, label="OU closed form")
    ax2.set_xlim(-2.5, 3)
    ax2.set_title(f"OU drift p = −{config.theta}x, start N({config.x0}, {config.s0}²)")
    ax2.set_xlabel("x")
    ax2.legend(fontsize=7)
    fig.tight_layout()

    fig2 = Figure(figsize=(5.5, 4.2))
    ax = fig2.subplots()
    ax.loglog(dss, err_const, "o-", label=f"constant p (slope {s_const:.3f})")
    ax.loglog(dss, err_ou, "s-", label=f"OU p = −θx (slope {s_ou:.3f})")
    h = np.array(dss)
    ax.loglog(h, c_pred * h**2, "k:", lw=1, label=f"Edgeworth C·Δs², C = {c_pred:.4f}")
    ax.set_xlabel("Δs")
    ax.set_ylabel("sup |lattice density − closed form|")
    ax.set_title("walk → Fokker–Planck: error O(Δs²)")
    ax.legend(fontsize=8)
    fig2.tight_layout()

    claims = [
        Claim("constant drift: sup error of the lattice density falls as Δs² (fitted slope)",
              2.0, s_const, "±0.1", abs(s_const - 2.0) <= 0.1),
        Claim("OU drift p = −θx: sup error against the OU law falls as Δs² (fitted slope)",
              2.0, s_ou, "±0.1", abs(s_ou - 2.0) <= 0.1),
        Claim("mean displacement per tick is exactly pΔt: |E X_n − p nΔt|", 0.0, mean_err,
              "≤ 1e-12", mean_err <= 1e-12),
        Claim(f"Monte Carlo walkers follow the exact lattice law (chi-square, {dof} dof, p-value)",
              "≥ 0.001", p_chi2, "p ≥ 0.001", p_chi2 >= 1e-3),
    ]
    claims.append(Claim(
        f"constant drift: the error constant sup|error|/Δs² at Δs = {dss[-1]:g} is the leading "
        "Edgeworth term's closed form C (binomial cumulants κ2, κ3, κ4)", c_pred, c_meas,
        "±1 %", abs(c_meas - c_pred) <= 0.01 * c_pred))
    table = Table("Lattice walk vs closed form (sup error of the density)",
                  ["Δs", "steps (const p)", "error const p", "Edgeworth C·Δs²", "steps (OU)",
                   "error OU", "time s"], rows)
    notes = ("Errors are measured at t = nΔt with n = round(T/Δt) (T/Δt is not an integer for "
             "every Δs); from a point mass the density is pmf/(2Δs) on the reachable sub-lattice "
             f"(parity). Monte Carlo: {config.n_walkers} walkers, {n_mc} steps, chi-square "
             f"statistic {chi2:.1f}.")
    return Result(claims=claims, tables=[table], figures={"densities": fig, "convergence": fig2},
                  notes=notes)


EXPERIMENT = Experiment(
    name="thesis-walk-limit",
    title="Asymmetric random walk → drift–diffusion (Fokker–Planck) at O(Δs²)",
    article="Path-integral series 2: random-walk model (2016-05-30)",
    article_url="https://kexue.fm/archives/3750",
    claim="the walk with step probabilities ½(1 ± pΔs/α) converges to the Fokker–Planck "
          "density with sup error O(Δs²)",
    config=Config,
    run=run,
    quick={"ds_values": (0.04, 0.02, 0.01), "n_walkers": 50_000},
    quick_runtime_s=4,
    references=(
        Reference("Su Jianlin, 随机游走模型 (random-walk model), thesis part 2 (kexue.fm 3750)",
                  "https://kexue.fm/archives/3750"),
        Reference("Su Jianlin, 我的毕业论文 (thesis overview, kexue.fm 3749)",
                  "https://kexue.fm/archives/3749"),
        Reference("Crank & Nicolson (1947), A practical method for numerical evaluation of "
                  "solutions of partial differential equations of the heat-conduction type",
                  "https://doi.org/10.1017/S0305004100023197"),
    ),
    section="kexue.stochastic",
)
