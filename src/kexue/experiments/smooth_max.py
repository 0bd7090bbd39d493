"""smooth-max: the gap between max and ``LSE_k = logsumexp(k·x)/k`` lies in ``[0, log(n)/k]``.

Article: "Function smoothing: differentiable approximations of non-differentiable functions"
(kexue.fm archive 6620, 2019-05-20). Claims checked on random vectors of several sizes ``n``:

1. ``0 ≤ LSE_k(x) − max(x) ≤ log(n)/k`` for every vector and every ``k``;
2. the right bound is attained exactly when all entries tie;
3. ``k·gap`` is non-increasing in ``k`` (its derivative is ``Σ softmax_i·(x_i − max) ≤ 0``), so the
   gap shrinks at least like ``1/k``, and exactly like ``log(n)/k`` in the near-tie regime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure

from ..smooth import smooth_max
from . import _config_checks as cc
from ._base import Claim, Experiment, Reference, Result, Table, config_device


@dataclass
class Config:
    """Full preset. ``n_values``: vector sizes; ``k_min``/``k_max``: range of the sharpness
    (log-spaced, ``n_k`` values); ``n_trials``: random vectors per size; ``spread``: std of the
    near-tie vectors; ``device``: where the vectors are drawn and reduced."""

    n_values: tuple = (2, 10, 100, 1000)
    k_min: float = 0.25
    k_max: float = 1024.0
    n_k: int = 25
    n_trials: int = 4000
    spread: float = 1e-4
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        """Ranges and relations (``ConfigError`` naming the field): sizes ``n ≥ 2`` (the bound
        ``log n / k`` is 0 for ``n = 1``), ``0 < k_min < k_max``, ``n_k ≥ 2``, ``spread > 0``
        with at least two ``k`` in the near-tie regime ``k·spread < 1e-2`` for the slope fit."""
        name = "smooth-max"
        cc.tuple_values(self, name, "n_values", integer=True, minimum=2)
        cc.positive(self, name, ("k_min", "k_max", "spread"))
        cc.require(self.k_max > self.k_min, name, "k_max", self.k_max,
                   f"> k_min ({self.k_min:g})")
        cc.at_least(self, name, ("n_k",), 2)
        cc.at_least(self, name, ("n_trials",))
        ks = np.logspace(math.log10(self.k_min), math.log10(self.k_max), self.n_k)
        cc.require(int((ks * self.spread < 1e-2).sum()) >= 2, name, "spread", self.spread,
                   f"small enough that at least two k have k·spread < 1e-2 (k_min = "
                   f"{self.k_min:g}: spread < {1e-2 / ks[1]:.3g})")


def _gaps(x: torch.Tensor, ks: torch.Tensor) -> torch.Tensor:
    """``LSE_k(x) − max(x)`` for each k. x: (trials, n); returns (len(ks), trials)."""
    m = x.amax(dim=-1)  # (trials,)
    return torch.stack([smooth_max(x, k, dim=-1) - m for k in ks.tolist()])  # (K, trials)


def run(config: Config) -> Result:
    dev = config_device(config)
    gen = torch.Generator(device=dev).manual_seed(config.seed)
    ks = torch.logspace(math.log10(config.k_min), math.log10(config.k_max), config.n_k,
                        dtype=torch.float64, device=dev)
    ks_np = ks.cpu().numpy()  # (K,) for the figure and the fits
    rows, worst_ratio, min_gap, worst_increase, tie_err = [], 0.0, math.inf, -math.inf, 0.0
    near_tie_slopes = []
    fig = Figure(figsize=(10, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for i, n in enumerate(config.n_values):
        c = colors[i % len(colors)]
        x = torch.randn(config.n_trials, n, generator=gen, dtype=torch.float64,
                        device=dev)  # (trials, n)
        gaps = _gaps(x, ks)  # (K, trials)
        bound = math.log(n) / ks  # (K,)
        ratio = (gaps / bound[:, None]).max().item()
        worst_ratio = max(worst_ratio, ratio)
        min_gap = min(min_gap, gaps.min().item())
        kgap = ks[:, None] * gaps  # (K, trials), non-increasing in k
        worst_increase = max(worst_increase, (kgap[1:] - kgap[:-1]).max().item())
        # ties: x = c·1 gives exactly log(n)/k
        tie = torch.full((1, n), 0.37, dtype=torch.float64, device=dev)
        tie_err = max(tie_err, ((ks * _gaps(tie, ks)[:, 0]) - math.log(n)).abs().max().item())
        # near-tie regime: slope of log(gap) vs log(k) for k·spread ≪ 1
        xt = config.spread * torch.randn(256, n, generator=gen, dtype=torch.float64, device=dev)
        sel = ks * config.spread < 1e-2
        g_near = _gaps(xt, ks[sel]).median(dim=1).values
        slope = np.polyfit(np.log(ks[sel].cpu().numpy()), np.log(g_near.cpu().numpy()), 1)[0]
        near_tie_slopes.append(slope)
        rows.append([n, f"{math.log(n):.4f}", f"{ratio:.6f}", f"{slope:.4f}"])
        ax1.loglog(ks_np, gaps.max(dim=1).values.cpu(), "-", color=c, label=f"worst gap, n={n}")
        ax1.loglog(ks_np, gaps.median(dim=1).values.cpu(), ":", color=c,
                   label=f"median gap, n={n}")
        ax1.loglog(ks_np, bound.cpu(), "--", color=c, alpha=0.5, lw=1)
        ax2.semilogx(ks_np, (kgap / math.log(n)).max(dim=1).values.cpu(), "-", color=c,
                     label=f"n={n}")
    ax1.set_xlabel("k")
    ax1.set_ylabel("LSE_k(x) − max(x)")
    ax1.set_title("gap vs k (dashed: bound log(n)/k)")
    ax1.legend(fontsize=7, ncol=2)
    ax2.axhline(1.0, color="k", lw=1, ls="--")
    ax2.set_xlabel("k")
    ax2.set_ylabel("max over vectors of k·gap / log(n)")
    ax2.set_title("k·gap ≤ log n, non-increasing in k")
    ax2.legend(fontsize=8)
    fig.tight_layout()

    worst_slope = float(max(near_tie_slopes, key=lambda s: abs(s + 1.0)))
    claims = [
        Claim("LSE_k(x) − max(x) ≤ log(n)/k (worst ratio gap·k/log n over all vectors, k, n)",
              "≤ 1", worst_ratio, "≤ 1 + 1e-12", worst_ratio <= 1 + 1e-12),
        Claim("LSE_k(x) − max(x) ≥ 0 (smallest gap)", "≥ 0", min_gap, "≥ −1e-12",
              min_gap >= -1e-12),
        Claim("the bound is attained for tied entries (k·gap = log n): worst |k·gap − log n| "
              "over k and n", 0.0, tie_err, "≤ 1e-12", tie_err <= 1e-12),
        Claim("k·gap is non-increasing in k (largest increase between successive k)", "≤ 0",
              worst_increase, "≤ 1e-10 (round-off of k·|x| ~ 4e3)", worst_increase <= 1e-10),
        Claim("near ties the gap shrinks like 1/k: slope of log gap vs log k (over n, the "
              "slope farthest from −1)", -1.0, worst_slope, "±0.01",
              abs(worst_slope + 1.0) <= 0.01),
    ]
    table = Table("Worst gap relative to the bound, per vector size",
                  ["n", "log n", "max k·gap/log n", "near-tie slope"], rows)
    return Result(claims=claims, tables=[table], figures={"gap": fig},
                  notes=f"{config.n_trials} standard-normal vectors per n, float64; "
                        f"k log-spaced in [{config.k_min}, {config.k_max}].")


EXPERIMENT = Experiment(
    name="smooth-max",
    title="Smooth maximum: max ≤ LSE_k ≤ max + log(n)/k",
    article="Function smoothing (2019-05-20)",
    article_url="https://kexue.fm/archives/6620",
    claim="the gap between max and logsumexp(k·x)/k lies in [0, log(n)/k] and shrinks like 1/k",
    config=Config,
    run=run,
    quick={"n_trials": 400, "n_k": 13},
    quick_runtime_s=2,
    references=(
        Reference("Su Jianlin, Function smoothing: differentiable approximations of "
                  "non-differentiable functions (kexue.fm 6620)", "https://kexue.fm/archives/6620"),
        Reference("Su Jianlin, Looking for a smooth max function (2015)",
                  "https://spaces.ac.cn/archives/3290"),
    ),
    section="kexue.smooth",
)
