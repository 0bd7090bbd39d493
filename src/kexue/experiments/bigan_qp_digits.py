"""bigan-qp-digits: BiGAN-QP learns a generator and an encoder on 8×8 digits.

Article: "BiGAN-QP: a simple, clear encoder & generator" (Su Jianlin, kexue.fm archive 6214),
the GAN-QP game on joint pairs ``(x, E(x))`` vs ``(G(z), z)`` plus the stop-gradient terms
``β1‖z − E(sg G(z))‖² + β2‖x − G(sg E(x))‖²``. The article reports qualitative results only
(sharp, "concept-level" reconstructions, interpolations); we measure on held-out digits:

1. reconstructions keep the digit: a logistic-regression classifier trained on the training
   digits gives the same label to ``x`` and ``G(E(x))`` far more often than chance (0.1);
2. the code is informative: a linear probe on ``E(x)`` beats the same probe on the untrained
   encoder's codes;
3. the article's stop-gradients matter: without them the coupled MSE terms blur the samples
   (the total variation of the samples drops, relative to the data), so the stop-gradient model's
   samples are sharper than the no-stop-gradient ablation's;
4. the image-reconstruction term is what makes ``G(E(x))`` reconstruct: with ``β2 = 0`` the
   held-out reconstruction error is larger.

Ablations (same steps and seed): no stop-gradient, ``β1 = 0``, ``β2 = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from ..data import digits
from ..devices import resolve_device
from ..gan import train_gan
from . import _config_checks as cc
from ._base import Claim, Experiment, Reference, Result, Table
from ._stats import clears, mean_se, paired_diff


@dataclass
class Config:
    """Full preset: 105–115 s at one thread (2026-11-30, seeds 0, 1, 2). The first two claims
    held on every seed (agreement 0.79 / 0.78 / 0.86; probe 0.95 / 0.92 / 0.94), the ablation
    claims did not: without the stop-gradients the samples were as sharp or sharper (TV ratio
    0.984 / 0.990 / 0.961 vs 0.965 / 0.970 / 0.960) and reconstructions better on every seed
    (MSE 0.101 / 0.096 / 0.083 vs 0.167 / 0.164 / 0.125); β2 = 0 reconstructed as well or better
    on two seeds (0.159 / 0.150 / 0.130); β1 = 0 broke the encoder (agreement 0.10–0.12) — at
    this scale the latent cycle, not the image term, makes G(E(x)) reconstruct.
    ``steps``: generator/encoder steps (2 critic steps each); ``hidden``/``depth``: MLP sizes;
    ``beta1``/``beta2``: latent/image reconstruction weights; ``ablations``: any of ``no-sg``,
    ``beta1=0``, ``beta2=0``; ``device``: where the networks are trained and evaluated
    (``auto | cpu | cuda | cuda:N``); the scikit-learn classifier and probes run on the CPU."""

    steps: int = 3000
    batch_size: int = 64
    z_dim: int = 16
    hidden: int = 128
    depth: int = 2
    lr: float = 1e-3
    lam: float = 10.0
    beta1: float = 2.0
    beta2: float = 3.0
    ablations: tuple = ("no-sg", "beta1=0", "beta2=0")
    threads: int = 1
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        """Ranges (``ConfigError`` naming the field): counts ≥ 1 (``batch_size ≥ 2``), ``lr``
        and ``lam`` > 0, ``beta1``/``beta2`` ≥ 0, ablations among ``no-sg``, ``beta1=0``,
        ``beta2=0``."""
        name = "bigan-qp-digits"
        cc.at_least(self, name, ("steps", "z_dim", "hidden", "depth", "threads"))
        cc.at_least(self, name, ("batch_size",), 2)
        cc.positive(self, name, ("lr", "lam"))
        cc.non_negative(self, name, ("beta1", "beta2"))
        valid = ("no-sg", "beta1=0", "beta2=0")
        cc.require(isinstance(self.ablations, (tuple, list))
                   and all(a in valid for a in self.ablations), name, "ablations",
                   self.ablations, f"a tuple of {', '.join(valid)} (or empty)")


def _tv_rows(x: torch.Tensor) -> torch.Tensor:
    """Per-image total variation of ``(N, 64)`` images: the mean absolute difference between
    neighbouring pixels (vertical and horizontal averaged), ``(N,)``."""
    img = x.reshape(-1, 8, 8)
    return ((img[:, 1:] - img[:, :-1]).abs().mean((1, 2))
            + (img[:, :, 1:] - img[:, :, :-1]).abs().mean((1, 2))) / 2


def _tv(x: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels of ``(N, 64)`` images."""
    return float(_tv_rows(x).mean())


def _grid(ax, images: torch.Tensor, rows: int, cols: int, title: str) -> None:
    """Draw ``rows·cols`` flat 8×8 digits ``(N, 64)`` in [−1, 1] as one grid on ``ax``."""
    from ..plotting import show_image_grid

    show_image_grid(ax, images, rows, cols, title, image_shape=(8, 8), padding=0)


def _evaluate(res, data, clf, gen: torch.Generator) -> dict[str, float]:
    """Held-out metrics of a trained BiGAN-QP; the networks and ``gen`` live on one device, the
    digits ``data`` on the CPU (moved over), the scikit-learn fits run on the CPU."""
    from sklearn.linear_model import LogisticRegression

    dev = gen.device
    x_test = data.x_test.to(dev)
    with torch.no_grad():
        rec = res.generator(res.encoder(x_test))  # (N_test, 64)
        samples = res.sample(1000, gen)  # (1000, 64)
        codes_tr = res.encoder(data.x_train.to(dev)).cpu().numpy()
        codes_te = res.encoder(x_test).cpu().numpy()
    probe = LogisticRegression(max_iter=2000).fit(codes_tr, data.y_train.numpy())
    mse_rows = (rec - x_test).pow(2).mean(1).cpu().numpy()  # (N_test,)
    rec = rec.cpu()
    tv_rows = (_tv_rows(samples.cpu()) / _tv(data.x_train)).numpy()  # (1000,)
    probe_ok = (probe.predict(codes_te) == data.y_test.numpy()).astype(float)  # (N_test,)
    return {
        "mse": float(mse_rows.mean()),
        "agree": float((clf.predict(rec.numpy()) == clf.predict(data.x_test.numpy())).mean()),
        "probe": float(probe_ok.mean()),
        "tv": float(tv_rows.mean()),
        "mse_rows": mse_rows, "tv_rows": tv_rows, "probe_rows": probe_ok,
    }


def run(config: Config) -> Result:
    from sklearn.linear_model import LogisticRegression

    bad = set(config.ablations) - {"no-sg", "beta1=0", "beta2=0"}
    if bad:
        raise ValueError(f"unknown ablations {sorted(bad)}; valid: no-sg, beta1=0, beta2=0")
    dev = resolve_device(config.device)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    data = digits()  # CPU tensors
    clf = LogisticRegression(max_iter=3000).fit(data.x_train.numpy(), data.y_train.numpy())
    clf_acc = float(clf.score(data.x_test.numpy(), data.y_test.numpy()))
    variants = {"BiGAN-QP": {}}
    for a in config.ablations:
        variants[a] = {"no-sg": {"stop_gradient": False}, "beta1=0": {"beta1": 0.0},
                       "beta2=0": {"beta2": 0.0}}[a]
    results, metrics = {}, {}
    try:
        for name, change in variants.items():
            kw = dict(steps=config.steps, batch_size=config.batch_size, z_dim=config.z_dim,
                      hidden=config.hidden, depth=config.depth, lr=config.lr, lam=config.lam,
                      beta1=config.beta1, beta2=config.beta2, seed=config.seed, progress=False,
                      device=dev)
            kw.update(change)
            res = train_gan("bigan-qp", "digits", **kw)
            results[name] = res
            metrics[name] = _evaluate(res, data, clf,
                                      torch.Generator(device=dev).manual_seed(config.seed))
            metrics[name]["seconds"] = res.seconds
    finally:
        torch.set_num_threads(old_threads)

    # baseline for the probe: the same encoder at initialisation (a random MLP feature map)
    init = train_gan("bigan-qp", "digits", steps=0, z_dim=config.z_dim, hidden=config.hidden,
                     depth=config.depth, seed=config.seed, progress=False, device=dev)
    m_init = _evaluate(init, data, clf, torch.Generator(device=dev).manual_seed(config.seed))
    probe0 = m_init["probe"]
    main = results["BiGAN-QP"]
    gen = torch.Generator(device=dev).manual_seed(config.seed + 1)
    fig = Figure(figsize=(12, 4.4))
    ax = fig.subplots(1, 3)
    with torch.no_grad():
        _grid(ax[0], main.sample(64, gen), 8, 8, "random samples G(z)")
        x = data.x_test[:32].to(dev)
        rec = main.generator(main.encoder(x))
        both = torch.stack([x.reshape(4, 8, 64), rec.reshape(4, 8, 64)], 1).reshape(64, 64)
        _grid(ax[1], both, 8, 8, "held-out x (odd rows) and G(E(x)) (even rows)")
        za, zb = main.encoder(data.x_test[32:40].to(dev)), main.encoder(data.x_test[40:48].to(dev))
        w = torch.linspace(0, 1, 8, device=dev)[None, :, None]  # (1, 8, 1)
        z = (1 - w) * za[:, None] + w * zb[:, None]  # (8 pairs, 8 steps, z_dim)
        _grid(ax[2], main.generator(z.reshape(64, -1)), 8, 8,
              "interpolation E(x_a) → E(x_b) (rows)")
    fig.tight_layout()
    figs = {"main": fig}
    if len(results) > 1:
        fa = Figure(figsize=(3.2 * len(results), 3.6))
        axs = fa.subplots(1, len(results), squeeze=False)[0]
        for a_, (name, res) in zip(axs, results.items()):
            with torch.no_grad():
                _grid(a_, res.sample(36, torch.Generator(device=dev).manual_seed(5)), 6, 6, name)
        fa.tight_layout()
        figs["ablations"] = fa

    rows = [[name, round(m["mse"], 4), round(m["agree"], 3), round(m["probe"], 3),
             round(m["tv"], 3), round(m["seconds"], 1)] for name, m in metrics.items()]
    m0 = metrics["BiGAN-QP"]
    # margins: 2 SE of the mean paired difference over the 450 test digits (probe, MSE) or of
    # the difference of two means over 1000 samples each (TV); one training seed, so the SE is
    # the evaluation noise of this run's networks
    d_probe, se_probe = paired_diff(m_init["probe_rows"], m0["probe_rows"])
    claims = [
        Claim("held-out reconstructions keep the digit: classifier agreement on x vs G(E(x))",
              "≫ 0.1 (chance); ≥ 0.5", round(m0["agree"], 3), "≥ 0.5", m0["agree"] >= 0.5),
        Claim("the code is informative: linear-probe accuracy on E(x) (held out) beats the "
              "same encoder at initialisation; obtained: accuracy(trained) − "
              f"accuracy(untrained, {probe0:.3f}), paired over test digits",
              f"> 2 SE (SE {se_probe:.3f})", round(d_probe, 4), "> 2 × paired SE",
              clears(d_probe, se_probe)),
    ]
    if "no-sg" in metrics:
        m1 = metrics["no-sg"]
        tv_a, se_a = mean_se(m0["tv_rows"])
        tv_b, se_b = mean_se(m1["tv_rows"])
        d_tv, se_tv = tv_a - tv_b, math.hypot(se_a, se_b)
        claims.append(Claim(
            "stop-gradients avoid blur: sample sharpness (TV relative to data) with stop-gradient "
            f"> without; obtained: TV ratio(stop-gradient, {tv_a:.3f}) − TV ratio(no-sg, "
            f"{tv_b:.3f}) over 1000 samples each", f"> 2 SE (SE {se_tv:.3f})", round(d_tv, 4),
            "> 2 × SE", clears(d_tv, se_tv)))
    b2 = ("the image-reconstruction term makes G(E(x)) reconstruct: held-out MSE with β2 "
          "< with β2 = 0")
    if "beta2=0" in metrics:
        d_b2, se_b2 = paired_diff(m0["mse_rows"], metrics["beta2=0"]["mse_rows"])
        claims.append(Claim(
            f"{b2}; obtained: MSE(β2 = 0, {metrics['beta2=0']['mse']:.4f}) − MSE(β2 = "
            f"{config.beta2:g}, {m0['mse']:.4f}), paired over test digits",
            f"> 2 SE (SE {se_b2:.4f})", round(d_b2, 5), "> 2 × paired SE", clears(d_b2, se_b2)))
    else:  # shown as "not checked": the β2 = 0 ablation was not trained in this run
        claims.append(Claim(
            f"{b2}; not checked: the β2 = 0 ablation is not in this run's ablations",
            "> 2 SE", "not run", "> 2 × paired SE", False, checked=False))
    table = Table("Held-out metrics (450 test digits) per variant",
                  ["variant", "reconstruction MSE", "classifier agreement x vs G(E(x))",
                   "linear probe on E(x)", "sample TV / data TV", "train s"], rows)
    notes = ("Full preset: no stored full run (benchmarks/results/full/bigan-qp-digits.json); "
             "once one is stored the report shows it as 'last full run'. Finding: the article's "
             "stop-gradient claim does not reproduce in this repository's runs — without the "
             "stop-gradients the samples are as sharp or sharper (sample TV / data TV) and the "
             "reconstructions no worse; the claim is kept and shown as 'not reproduced' when it "
             "misses (compare the 'no-sg' row of the table). "
             f"This run: {config.steps} G/E steps, batch {config.batch_size}, z_dim "
             f"{config.z_dim}, MLPs "
             f"{config.depth}×{config.hidden}, Adam(lr {config.lr}, β1 0.5), 2 critic steps per "
             f"G/E step, λ = {config.lam}, β1 = {config.beta1}, β2 = {config.beta2}; d is the sum "
             "of the per-dimension mean L1 distances of x and z, as in the reference code. "
             f"Digits classifier: logistic regression on raw pixels, {clf_acc:.3f} test accuracy. "
             "MSE is per pixel on the [-1, 1] scale. Linear probe (logistic regression) on the "
             f"untrained encoder's codes: {probe0:.3f}. Margins: 2 SE of the evaluation noise "
             "of this run (paired over the 450 test digits, or over 1000 samples per model for "
             "TV); the spread over training seeds is not in them."
             + ("" if "beta2=0" in metrics else
                " Not checked in this run: the β2 claim (the β2 = 0 ablation is not among "
                f"ablations = {tuple(config.ablations)}; add beta2=0 to check it)."))
    return Result(claims=claims, tables=[table], figures=figs, notes=notes)


EXPERIMENT = Experiment(
    name="bigan-qp-digits",
    title="BiGAN-QP on 8×8 digits: samples, reconstructions, codes, ablations",
    article="BiGAN-QP (kexue.fm 6214)",
    article_url="https://kexue.fm/archives/6214",
    claim="GAN-QP on (x, E(x)) vs (G(z), z) plus stop-gradient reconstruction terms learns an "
          "encoder whose reconstructions keep the digit",
    config=Config,
    run=run,
    quick={"steps": 1000, "hidden": 64, "ablations": ("no-sg", "beta2=0")},
    quick_runtime_s=60,
    known_findings={
        "the image-reconstruction term makes G(E(x)) reconstruct": (
            "finding: the β2 image term's effect on reconstruction is small and depends on the "
            "seed: in the full preset (3000 steps) MSE(β2 = 0) − MSE(β2 = 3) was 0.0023 (within "
            "2 SE), 0.036 and 0.015 at seeds 0, 1, 2, and the quick preset clears 2 SE at 3 of "
            "seeds 0–4 (2026-12-07; benchmarks/results/bigan-qp-digits-full-seeds.txt): at this "
            "scale the latent cycle (β1), not the image term, does most of the reconstructing"),
        "stop-gradients avoid blur": (
            "finding: without the article's stop-gradients the samples are as sharp or sharper "
            "here (the 'no-sg' row of the table); see the notes"),
    },
    references=(
        Reference("Su Jianlin, BiGAN-QP: a simple, clear encoder & generator (kexue.fm 6214)",
                  "https://kexue.fm/archives/6214"),
        Reference("Su Jianlin, GAN-QP (arXiv:1811.07296)", "https://arxiv.org/abs/1811.07296"),
        Reference("Donahue et al., Adversarial feature learning (BiGAN, arXiv:1605.09782)",
                  "https://arxiv.org/abs/1605.09782"),
    ),
    section="kexue.gan",
)
