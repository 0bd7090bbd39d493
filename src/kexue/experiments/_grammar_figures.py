"""The figures of the onlstm-grammar experiment: distances under gold and induced trees, F1 curves.

ON-LSTM's syntactic distances (Shen et al. 2019, arXiv:1810.09536; kexue.fm archive 6621) of a
few test sentences with the gold tree drawn above and the induced tree below, and the
validation F1 of each model during training beside the best trivial baseline and the decoder's
ceiling.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._grammar_runs import PAPER_READING


def _draw_tree(ax, tree, y0: float, step: float, color: str, label: str) -> None:
    """Each constituent of ``tree`` as a bracket over its tokens (x = 0..n−1), drawn at a
    height that grows with the constituent's height, away from ``y0`` (``step`` < 0: down)."""
    pos = {"x": 0}

    def rec(t):  # returns (first leaf, last leaf, height)
        if isinstance(t, str):
            x = pos["x"]
            pos["x"] += 1
            return x, x, 0
        kids = [rec(c) for c in t]
        lo, hi = kids[0][0], kids[-1][1]
        h = 1 + max(k[2] for k in kids)
        y = y0 + step * h
        ax.plot([lo - 0.3, lo - 0.3, hi + 0.3, hi + 0.3],
                [y - 0.35 * step, y, y, y - 0.35 * step], color=color, lw=1.1)
        return lo, hi, h

    rec(tree)
    ax.text(-0.7, y0 + step, label, color=color, fontsize=8, ha="right", va="center")


def _distance_figure(examples: list[dict]) -> Figure:
    fig = Figure(figsize=(11, 3.4 * len(examples)))
    axes = fig.subplots(len(examples), 1, squeeze=False)[:, 0]
    for ax, ex in zip(axes, examples):
        d = np.asarray(ex["distances"], dtype=float)
        n = len(d)
        span = d.max() - d.min()
        shown = 0.1 + 0.9 * (d - d.min()) / span if span > 0 else np.full(n, 0.5)
        ax.bar(np.arange(n), shown, color="#4c72b0", alpha=0.8, width=0.6)
        _draw_tree(ax, ex["gold"], 1.05, 0.2, "#2ca02c", "gold")
        _draw_tree(ax, ex["pred"], -0.05, -0.2, "#d62728", "induced")
        ax.set_xticks(np.arange(n))
        ax.set_xticklabels(ex["tokens"], fontsize=9)
        ax.tick_params(axis="x", pad=2)
        ax.set_yticks([0, 1])
        ax.set_yticklabels(["min", "max"], fontsize=7)
        ax.set_xlim(-1.5, n - 0.5)
        ax.set_title(f"{ex['grammar']}: ON-LSTM distances ({ex['reading']}, rescaled), gold "
                     f"tree above, induced tree below — sentence F1 {ex['f1']:.2f}", fontsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _curve_figure(curves: dict[str, dict], baselines: dict[str, dict]) -> Figure:
    names = list(curves)
    fig = Figure(figsize=(4.2 * len(names), 3.6))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, g in zip(axes, names):
        for kind, color in (("onlstm", "#d62728"), ("lstm", "#1f77b4")):
            runs = curves[g][kind]
            if not runs or not runs[0]:
                continue
            steps = [s for s, _ in runs[0]]
            for reading, ls in ((PAPER_READING, ":"), ("best", "-")):
                ys = []
                for run in runs:
                    if reading == "best":
                        ys.append([max(f.values()) for _, f in run])
                    else:
                        ys.append([f[reading] for _, f in run])
                ax.plot(steps, np.mean(ys, axis=0), ls, color=color,
                        label=f"{'ON-LSTM' if kind == 'onlstm' else 'LSTM'} "
                              f"{'best reading' if reading == 'best' else reading}")
        best_trivial = max(v for k, v in baselines[g].items()
                           if k in ("right-branching", "left-branching", "balanced", "random"))
        ax.axhline(best_trivial, color="gray", ls="--", lw=1, label="best trivial baseline")
        ax.axhline(baselines[g]["ceiling"], color="k", ls="-.", lw=1, label="decoder ceiling")
        ax.set_title(f"{g}: validation F1 during training", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("sentence F1")
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
