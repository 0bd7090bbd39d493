"""smooth-f1: training on the differentiable F1 ``2Σyp / Σ(y + p)`` on imbalanced tasks.

Article: "Function smoothing: differentiable approximations of non-differentiable functions"
(kexue.fm archive 6620, 2019-05-20). Replacing the hard prediction by the probability makes F1 a
loss (:func:`kexue.smooth.soft_f1_loss`); the article's caveats are that the smoothed metric is
batch dependent and is best started from cross-entropy.

Two imbalanced tasks from bundled data: breast cancer (scikit-learn's ``load_breast_cancer``) with
the malignant (positive) class sub-sampled to ``pos_fraction`` of the data, and 8×8 digits "9 vs
rest" (``kexue.data.digits``, ~10 % positives). A logistic-regression model (or a one-hidden-layer
MLP with ``hidden > 0``) is trained full-batch with

1. BCE, threshold 0.5;
2. ``soft_f1_loss`` from the start, threshold 0.5;
3. BCE warm start, then ``soft_f1_loss``, threshold 0.5;
4. BCE with the threshold tuned on the validation split (the honest baseline).

Test F1 over seeds (a new random split per seed), with paired Wilcoxon signed-rank tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from scipy import stats
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from ..data import digits
from ..smooth import soft_f1, soft_f1_loss
from . import _config_checks as cc
from ._base import Claim, Experiment, Reference, Result, Table, config_device, torch_threads
from ._init import fan_in_uniform_

METHODS = ("bce@0.5", "soft-f1", "bce→soft-f1", "bce+tuned-threshold")
DATASETS = ("breast-cancer", "digits-9")

# The article's claims that do not reproduce here (statement prefix -> why): the report shows them
# as "not reproduced — see notes" and the tests of the quick preset expect them to miss.
KNOWN_FINDINGS = {
    **{f"{name}: training on soft F1 (from scratch) raises test F1 over BCE": (
        "finding: soft-F1 training does not beat BCE at threshold 0.5 here (lower mean test F1, "
        "paired over seeds); see the notes and the paired-comparison table") for name in DATASETS},
    **{f"{name}: BCE warm start then soft F1 raises test F1 over BCE": (
        "finding: a BCE warm start followed by soft F1 does not beat BCE at threshold 0.5 here; "
        "see the notes and the paired-comparison table") for name in DATASETS},
    **{f"{name}: the article's advice — start soft F1 from cross-entropy — beats": (
        "finding: the BCE warm start does not beat soft F1 from scratch by a paired margin here "
        "(breast cancer: the same test F1 on every seed, a tie; digits: mixed signs); see the "
        "paired-comparison table") for name in DATASETS},
}


@dataclass
class Config:
    """Full preset. ``pos_fraction``: share of positives kept in breast cancer; ``val_fraction``,
    ``test_fraction``: breast-cancer split (digits uses its fixed test split and takes
    ``val_fraction`` of its training split); ``hidden``: 0 for logistic regression, else the
    width of one tanh hidden layer; ``bce_steps``/``f1_steps``: full-batch Adam steps (the warm
    start runs ``bce_steps`` then ``f1_steps``); ``batch``: batch size for the batch-dependence
    check; ``device``: where the models are trained (data and weights moved there)."""

    n_seeds: int = 20
    pos_fraction: float = 0.10
    val_fraction: float = 0.2
    test_fraction: float = 0.3
    hidden: int = 0
    bce_steps: int = 400
    f1_steps: int = 400
    lr: float = 0.1
    weight_decay: float = 1e-4
    k: float = 1.0
    batch: int = 32
    alpha: float = 0.05
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        """Ranges and relations (``ConfigError`` naming the field): ``n_seeds ≥ 2`` (paired
        tests), fractions in (0, 1) with ``val_fraction + test_fraction < 1``, positive steps,
        learning rate and sharpness, ``0 < alpha < 1``."""
        name = "smooth-f1"
        cc.at_least(self, name, ("n_seeds",), 2)
        cc.probability(self, name, ("pos_fraction", "val_fraction", "test_fraction", "alpha"))
        cc.require(self.val_fraction + self.test_fraction < 1, name, "test_fraction",
                   self.test_fraction, f"< 1 − val_fraction ({1 - self.val_fraction:g}) so that "
                   "a training split is left")
        cc.at_least(self, name, ("hidden",), 0)
        cc.at_least(self, name, ("bce_steps", "f1_steps"))
        cc.at_least(self, name, ("batch",), 2)
        cc.positive(self, name, ("lr", "k"))
        cc.non_negative(self, name, ("weight_decay",))


def _breast_cancer(cfg: Config, seed: int):
    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    y = (data.target == 0).astype(np.int64)  # 1 = malignant (target 0 in scikit-learn)
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_pos = round(cfg.pos_fraction / (1 - cfg.pos_fraction) * len(neg))
    keep = np.concatenate([neg, rng.choice(pos, n_pos, replace=False)])
    x, y = x[keep], y[keep]
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=cfg.test_fraction,
                                              random_state=seed, stratify=y)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x_tr, y_tr, test_size=cfg.val_fraction / (1 - cfg.test_fraction), random_state=seed,
        stratify=y_tr)
    return x_tr, y_tr, x_va, y_va, x_te, y_te


def _digits9(cfg: Config, seed: int):
    d = digits(dtype=torch.float64)
    x, y = d.x_train.numpy(), (d.y_train.numpy() == 9).astype(np.int64)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=cfg.val_fraction,
                                              random_state=seed, stratify=y)
    return x_tr, y_tr, x_va, y_va, d.x_test.numpy(), (d.y_test.numpy() == 9).astype(np.int64)


def _standardise(x_tr, *others, device: torch.device):
    mu, sd = x_tr.mean(0), x_tr.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    return [torch.as_tensor((a - mu) / sd, device=device) for a in (x_tr, *others)]


def _model(d_in: int, cfg: Config, gen: torch.Generator) -> torch.nn.Module:
    """Logistic regression (``hidden = 0``) or a tanh MLP; weights drawn from ``gen``."""
    if cfg.hidden == 0:
        layers = [torch.nn.Linear(d_in, 1)]
    else:
        layers = [torch.nn.Linear(d_in, cfg.hidden), torch.nn.Tanh(),
                  torch.nn.Linear(cfg.hidden, 1)]
    model = torch.nn.Sequential(*layers, torch.nn.Flatten(0)).double()
    fan_in_uniform_(layers, gen)
    return model


def _fit(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str, steps: int,
         cfg: Config) -> None:
    """Full-batch Adam on BCE or on ``soft_f1_loss`` (full batch: no batch dependence)."""
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    yf = y.double()
    for _ in range(steps):
        logits = model(x)  # (N,)
        if loss == "bce":
            value = F.binary_cross_entropy_with_logits(logits, yf)
        else:
            value = soft_f1_loss(logits, y, k=cfg.k)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    """F1 = 2TP / (2TP + FP + FN) of 0/1 predictions (0 when there is nothing to find or
    predict, as scikit-learn's ``zero_division=0``)."""
    tp = int(((pred == 1) & (y == 1)).sum())
    denom = int((pred == 1).sum() + (y == 1).sum())
    return 2 * tp / denom if denom else 0.0


def _best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The probability threshold that maximises F1 on (p, y), among 0.5 and the midpoints of
    the sorted scores (first one on ties)."""
    s = np.unique(p)
    cands = np.concatenate([[0.5], (s[1:] + s[:-1]) / 2])  # (T,)
    pred = p[None, :] > cands[:, None]  # (T, N)
    tp = (pred & (y[None, :] == 1)).sum(1)
    denom = pred.sum(1) + (y == 1).sum()  # 2TP + FP + FN = predicted + actual positives
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(cands[int(np.argmax(f1))])


@torch.no_grad()
def _prob(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    return torch.sigmoid(model(x)).cpu().numpy()


def _one_seed(name: str, cfg: Config, seed: int, device: torch.device) -> dict:
    load = _breast_cancer if name == "breast-cancer" else _digits9
    x_tr, y_tr, x_va, y_va, x_te, y_te = load(cfg, seed)
    xt, xv, xe = _standardise(x_tr, x_va, x_te, device=device)
    yt = torch.as_tensor(y_tr, device=device)
    # the initial weights and the batch permutation are drawn on the CPU (the same on every
    # device); the models are trained where ``device`` says
    gen = torch.Generator().manual_seed(seed)
    init = _model(xt.shape[1], cfg, gen).state_dict()

    def fresh() -> torch.nn.Module:
        m = _model(xt.shape[1], cfg, torch.Generator().manual_seed(0))
        m.load_state_dict(init)  # every method starts from the same weights
        return m.to(device)

    out = {}
    bce = fresh()
    _fit(bce, xt, yt, "bce", cfg.bce_steps, cfg)
    p_te = _prob(bce, xe)
    out["bce@0.5"] = _f1(y_te, (p_te > 0.5).astype(int))
    thr = _best_threshold(_prob(bce, xv), y_va)
    out["bce+tuned-threshold"] = _f1(y_te, (p_te > thr).astype(int))
    out["threshold"] = thr
    scratch = fresh()
    _fit(scratch, xt, yt, "f1", cfg.bce_steps + cfg.f1_steps, cfg)
    out["soft-f1"] = _f1(y_te, (_prob(scratch, xe) > 0.5).astype(int))
    warm = fresh()
    warm.load_state_dict(bce.state_dict())
    _fit(warm, xt, yt, "f1", cfg.f1_steps, cfg)
    out["bce→soft-f1"] = _f1(y_te, (_prob(warm, xe) > 0.5).astype(int))
    # soft F1 equals scikit-learn's F1 on hard predictions (logits ±1, very sharp k)
    hard = (p_te > 0.5).astype(int)
    logits = torch.as_tensor(np.where(hard == 1, 1.0, -1.0), device=device)
    out["hard_err"] = abs(soft_f1(logits, torch.as_tensor(y_te, device=device), k=1e4).item()
                          - f1_score(y_te, hard, zero_division=0))
    # batch dependence: mean soft F1 over mini-batches vs the full-data soft F1 (BCE model)
    with torch.no_grad():
        z_tr = bce(xt)
        full = soft_f1(z_tr, yt, k=cfg.k).item()
        perm = torch.randperm(len(yt), generator=gen).to(device)
        parts = [soft_f1(z_tr[idx], yt[idx], k=cfg.k).item()
                 for idx in perm.split(cfg.batch) if len(idx) == cfg.batch]
    out["batch_gap"] = float(np.mean(parts)) - full
    out["n_pos_test"] = int(y_te.sum())
    out["n_test"] = int(len(y_te))
    return out


def _wilcoxon(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided paired Wilcoxon signed-rank p-value (1.0 when all differences are 0)."""
    if np.allclose(a, b):
        return 1.0
    return float(stats.wilcoxon(a, b).pvalue)


def run(config: Config) -> Result:
    with torch_threads(1):  # tiny models: one thread is faster and deterministic
        return _run(config)


def _run(cfg: Config) -> Result:
    dev = config_device(cfg)
    seeds = [cfg.seed + i for i in range(cfg.n_seeds)]
    res = {name: [_one_seed(name, cfg, s, dev) for s in seeds] for name in DATASETS}
    claims, rows, test_rows, notes = [], [], [], []
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, len(DATASETS))
    colors = ["#444444", "#d62728", "#9467bd", "#1f77b4"]
    worst_hard = max(r["hard_err"] for v in res.values() for r in v)
    for ax, name in zip(axes, DATASETS):
        f1 = {m: np.array([r[m] for r in res[name]]) for m in METHODS}  # (n_seeds,)
        for m in METHODS:
            rows.append([name, m, f"{f1[m].mean():.4f} ± {f1[m].std(ddof=1):.4f}",
                         f"{np.median(f1[m]):.4f}",
                         f"{(f1[m] - f1['bce@0.5']).mean():+.4f}"])
        pairs = [("soft-f1", "bce@0.5"), ("bce→soft-f1", "bce@0.5"),
                 ("bce→soft-f1", "soft-f1"), ("bce→soft-f1", "bce+tuned-threshold"),
                 ("soft-f1", "bce+tuned-threshold")]
        pv = {}
        for a, b in pairs:
            d = f1[a] - f1[b]
            pv[(a, b)] = _wilcoxon(f1[a], f1[b])
            test_rows.append([name, f"{a} − {b}", f"{d.mean():+.4f}", int((d > 0).sum()),
                              int((d < 0).sum()), f"{pv[(a, b)]:.3g}"])
        gain_s = float((f1["soft-f1"] - f1["bce@0.5"]).mean())
        gain_w = float((f1["bce→soft-f1"] - f1["bce@0.5"]).mean())
        claims.append(Claim(
            f"{name}: training on soft F1 (from scratch) raises test F1 over BCE at threshold "
            f"0.5; obtained: mean paired gain (Wilcoxon p = {pv[('soft-f1', 'bce@0.5')]:.3g})",
            "> 0, p < " + f"{cfg.alpha:g}", gain_s, f"gain > 0 and p < {cfg.alpha:g}",
            gain_s > 0 and pv[("soft-f1", "bce@0.5")] < cfg.alpha))
        claims.append(Claim(
            f"{name}: BCE warm start then soft F1 raises test F1 over BCE at 0.5; obtained: "
            f"mean paired gain (Wilcoxon p = {pv[('bce→soft-f1', 'bce@0.5')]:.3g})",
            "> 0, p < " + f"{cfg.alpha:g}", gain_w, f"gain > 0 and p < {cfg.alpha:g}",
            gain_w > 0 and pv[("bce→soft-f1", "bce@0.5")] < cfg.alpha))
        d_ws = float((f1["bce→soft-f1"] - f1["soft-f1"]).mean())
        p_ws = pv[("bce→soft-f1", "soft-f1")]
        claims.append(Claim(
            f"{name}: the article's advice — start soft F1 from cross-entropy — beats soft F1 "
            f"from scratch; obtained: mean paired F1(warm) − F1(scratch) (Wilcoxon p = "
            f"{p_ws:.3g}; a tie fails)", "> 0, p < " + f"{cfg.alpha:g}", d_ws,
            f"gain > 0 and p < {cfg.alpha:g}", d_ws > 0 and p_ws < cfg.alpha))
        best = max(METHODS, key=lambda m: f1[m].mean())
        d_wt = float((f1["bce→soft-f1"] - f1["bce+tuned-threshold"]).mean())
        verdict = ("no significant difference" if pv[("bce→soft-f1", "bce+tuned-threshold")]
                   >= cfg.alpha else ("soft F1 wins" if d_wt > 0 else "the tuned threshold wins"))
        notes.append(
            f"{name}: best mean test F1 is {best} ({f1[best].mean():.4f}); warm-started soft F1 "
            f"vs BCE + validation-tuned threshold: {d_wt:+.4f} "
            f"(p = {pv[('bce→soft-f1', 'bce+tuned-threshold')]:.3g}, {verdict}). Test sets hold "
            f"{np.mean([r['n_pos_test'] for r in res[name]]):.0f} positives of "
            f"{np.mean([r['n_test'] for r in res[name]]):.0f} on average; tuned thresholds "
            f"median {np.median([r['threshold'] for r in res[name]]):.3f}.")
        pos = np.arange(len(METHODS))
        ax.boxplot([f1[m] for m in METHODS], positions=pos, widths=0.5, showfliers=False)
        for j, m in enumerate(METHODS):
            jitter = np.linspace(-0.12, 0.12, len(seeds))
            ax.scatter(j + jitter, f1[m], s=10, color=colors[j], zorder=3)
        for i in range(len(seeds)):
            ax.plot(pos, [f1[m][i] for m in METHODS], color="k", alpha=0.08, lw=0.8)
        ax.set_xticks(pos, METHODS, rotation=15, fontsize=8)
        ax.set_ylabel("test F1")
        ax.set_title(f"{name}: {len(seeds)} seeds (lines pair a seed)")
    fig.tight_layout()
    gaps = [r["batch_gap"] for v in res.values() for r in v]
    claims.append(Claim(
        "soft F1 equals scikit-learn's F1 on hard 0/1 predictions (largest difference over all "
        "test sets)", 0.0, worst_hard, "≤ 1e-12", worst_hard <= 1e-12))
    claims.append(Claim(
        f"the smoothed F1 is batch dependent: mean over batches of {cfg.batch} minus the "
        "full-data value (BCE models, mean |difference| over seeds and tasks)", "≠ 0",
        float(np.mean(np.abs(gaps))), "> 1e-3", float(np.mean(np.abs(gaps))) > 1e-3))
    missed = [c for c in claims if not c.passed]
    if missed:
        notes.append(
            "Findings — claims of the article that miss here (the known ones are shown as 'not "
            "reproduced'): " + "; ".join(
                f"{c.statement.split('; obtained')[0]} (obtained {c.obtained:+.4f})"
                for c in missed)
            + "; the paired-comparison table has every seed's sign and p-value.")
    model = "logistic regression" if cfg.hidden == 0 else f"MLP with {cfg.hidden} tanh units"
    notes.insert(0, (
        f"{len(seeds)} seeds (new split per seed), {model}, full-batch Adam (lr {cfg.lr:g}, "
        f"weight decay {cfg.weight_decay:g}): BCE {cfg.bce_steps} steps, soft F1 from scratch "
        f"{cfg.bce_steps + cfg.f1_steps} steps, warm start {cfg.bce_steps} BCE + {cfg.f1_steps} "
        f"soft-F1 steps, soft F1 with k = {cfg.k:g}. Breast cancer: malignant cut to "
        f"{100 * cfg.pos_fraction:g} % of the data, split "
        f"{1 - cfg.val_fraction - cfg.test_fraction:.0%}/{cfg.val_fraction:.0%}/"
        f"{cfg.test_fraction:.0%}; digits: 9 vs rest, fixed test split."))
    tables = [
        Table("Test F1 over seeds", ["task", "method", "mean ± std", "median",
                                     "mean gain vs BCE@0.5"], rows),
        Table("Paired comparisons (Wilcoxon signed-rank, two-sided)",
              ["task", "difference", "mean", "seeds better", "seeds worse", "p"], test_rows),
    ]
    return Result(claims=claims, tables=tables, figures={"f1": fig}, notes=" ".join(notes))


EXPERIMENT = Experiment(
    name="smooth-f1",
    title="Soft F1 as a loss on imbalanced data: BCE, soft F1, warm start, tuned threshold",
    article="Function smoothing (2019-05-20)",
    article_url="https://kexue.fm/archives/6620",
    claim="optimising the smoothed F1 raises test F1 over BCE at threshold 0.5; a BCE warm "
          "start helps; compared honestly with a validation-tuned threshold",
    config=Config,
    run=run,
    quick={"n_seeds": 8, "bce_steps": 200, "f1_steps": 200},
    quick_runtime_s=20,
    known_findings=KNOWN_FINDINGS,
    references=(
        Reference("Su Jianlin, Function smoothing: differentiable approximations of "
                  "non-differentiable functions (kexue.fm 6620)", "https://kexue.fm/archives/6620"),
        Reference("torchmetrics issue 388: classification metrics are not differentiable",
                  "https://github.com/Lightning-AI/torchmetrics/issues/388"),
    ),
    section="kexue.smooth",
)
