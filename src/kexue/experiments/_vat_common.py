"""Shared machinery of the semi-supervised VAT experiments (vat-digits, vat-mnist).

Article: "Generalisation: from random noise and gradient penalty to virtual adversarial training"
(kexue.fm archive 7466); VAT: Miyato et al. arXiv:1704.03976. A classifier is trained on a few
labelled examples ``xl`` ``(L, D)`` plus unlabelled ones ``xu`` ``(U, D)`` with one of
:data:`METHODS`; the hyper-parameter of each regulariser (σ or ε) is chosen on a validation split
of the labelled pool (:func:`select`), and every finished run can be kept on disk
(:class:`RunStore`) so that an interrupted full preset resumes.

The training settings are read from the experiment's ``Config`` (duck-typed): ``iterations``,
``lr``, ``unlabelled_batch``, ``alpha``, ``xi``, ``n_power``, ``curve_every``, ``device`` and, for
:func:`select`, ``val_per_class``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from .. import checkpoint
from ..regularize import adversarial_loss, consistency_loss, input_gradient_penalty, vat_loss
from . import _config_checks as cc
from ._base import config_device

METHODS = ("supervised", "noise", "gradient-penalty", "fgm", "vat", "vat+entmin")


def validate_vat_config(cfg, name: str, counts: tuple[str, ...], grids: tuple[str, ...]) -> None:
    """The ranges shared by the VAT experiments' Configs (``ConfigError`` naming the field):
    ``counts`` ≥ 1, ``1 ≤ val_per_class < labels_per_class`` (the validation labels are taken
    from the labelled ones), ``lr``, ``xi`` > 0, ``alpha`` ≥ 0, ``0 < goal_ratio ≤ 1`` and each
    of ``grids`` a non-empty tuple of positive values."""
    cc.at_least(cfg, name, ("val_per_class",) + counts)
    cc.require(isinstance(cfg.labels_per_class, int)
               and cfg.labels_per_class > cfg.val_per_class, name, "labels_per_class",
               cfg.labels_per_class, f"an integer > val_per_class ({cfg.val_per_class}): "
               "the validation labels are taken from them")
    cc.positive(cfg, name, ("lr", "xi", "goal_ratio"))
    cc.non_negative(cfg, name, ("alpha",))
    cc.require(cfg.goal_ratio <= 1, name, "goal_ratio", cfg.goal_ratio, "in (0, 1]")
    for grid in grids:
        cc.tuple_values(cfg, name, grid)


def mlp(sizes: tuple[int, ...], gen: torch.Generator) -> torch.nn.Sequential:
    """ReLU MLP ``sizes[0]-…-sizes[-1]`` initialised from ``gen`` with PyTorch's default uniform
    bounds ``±1/√fan_in`` (weights then bias, layer by layer), so one seed gives the same weights
    on every device (draw on the CPU, then move)."""
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(torch.nn.ReLU())
        layers.append(torch.nn.Linear(a, b))
    model = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, torch.nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.copy_((2 * torch.rand(layer.weight.shape, generator=gen) - 1) * bound)
                layer.bias.copy_((2 * torch.rand(layer.bias.shape, generator=gen) - 1) * bound)
    return model


def class_split(y: torch.Tensor, per_class: int, gen: torch.Generator,
                classes: int = 10) -> torch.Tensor:
    """Indices of ``per_class`` random examples of each class of ``y`` ``(N,)`` (class-major
    order), ``(classes·per_class,)``; ``gen`` is a CPU generator."""
    out = []
    for c in range(classes):
        idx = torch.nonzero(y == c)[:, 0]
        if len(idx) < per_class:
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than per_class="
                             f"{per_class}; lower labels_per_class/val_per_class.")
        out.append(idx[torch.randperm(len(idx), generator=gen)[:per_class]])
    return torch.cat(out)


def fisher_trace_fn(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x ↦ √p ⊙ log p`` (weights detached): its squared Jacobian norm is ``tr F(x)``."""
    def fn(z: torch.Tensor) -> torch.Tensor:
        lp = torch.log_softmax(model(z), dim=1)  # (N, C)
        return lp * lp.detach().exp().sqrt()
    return fn


@torch.no_grad()
def error(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Classification error of ``model`` on ``(x, y)`` (a fraction)."""
    dev = next(model.parameters()).device
    return (model(x.to(dev)).argmax(1) != y.to(dev)).double().mean().item()


@torch.no_grad()
def nll(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean cross-entropy of ``model`` on ``(x, y)``."""
    dev = next(model.parameters()).device
    return F.cross_entropy(model(x.to(dev)), y.to(dev)).item()


def train(method: str, hp: float, xl: torch.Tensor, yl: torch.Tensor, xu: torch.Tensor, cfg,
          run_seed: int, make_model: Callable[[torch.Generator], torch.nn.Module],
          curve_x: torch.Tensor | None = None, curve_y: torch.Tensor | None = None
          ) -> tuple[torch.nn.Module, list[float]]:
    """Train one classifier with ``method`` (one of :data:`METHODS`) and its σ/ε ``hp``.

    Each step: cross-entropy on all labelled ``xl`` ``(L, D)`` plus the method's term on
    ``xl`` ∪ a batch of ``cfg.unlabelled_batch`` draws from ``xu`` ``(U, D)``: noise consistency
    ``α·E KL(p(x) ‖ p(x+σz))``; gradient penalty ``α·(σ²/2)·tr F`` (Hutchinson, one probe); FGM
    ``CE(x + ε·g/‖g‖)`` on the labelled examples only; VAT ``α·KL(p(x) ‖ p(x+ε·d_adv))`` (plus
    the prediction entropy for VAT+EntMin). Adam, learning rate decayed linearly to 0 over the
    second half (as Miyato et al.). Runs on ``cfg.device``; ``make_model(gen)`` builds the
    network from a CPU generator seeded with ``run_seed`` (so the same ``run_seed`` gives the
    same initial weights and unlabelled batches for every method).

    Returns:
        The trained model and its error on ``(curve_x, curve_y)`` every ``cfg.curve_every``
        iterations and at the end (empty without ``curve_x``).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    dev = config_device(cfg)
    xl, yl, xu = xl.to(dev), yl.to(dev), xu.to(dev)
    if curve_x is not None:
        curve_x, curve_y = curve_x.to(dev), curve_y.to(dev)
    init_gen = torch.Generator().manual_seed(run_seed)  # weights drawn on the CPU, then moved
    batch_gen = torch.Generator(device=dev).manual_seed(run_seed + 1)
    noise_gen = torch.Generator(device=dev).manual_seed(run_seed + 2)
    model = make_model(init_gen).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    decay_from = cfg.iterations // 2
    curve: list[float] = []

    def ce(z: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(z), yl)

    for it in range(cfg.iterations):
        if it >= decay_from:  # linear decay to 0 over the second half (as Miyato et al.)
            for group in opt.param_groups:
                group["lr"] = cfg.lr * (cfg.iterations - it) / (cfg.iterations - decay_from)
        ub = xu[torch.randint(0, len(xu), (cfg.unlabelled_batch,), generator=batch_gen,
                              device=dev)]
        xa = torch.cat([xl, ub])  # (L + B, D): labelled ∪ unlabelled batch
        loss = ce(xl)
        if method == "noise":
            loss = loss + cfg.alpha * consistency_loss(model, xa, sigma=hp, generator=noise_gen)
        elif method == "gradient-penalty":
            loss = loss + cfg.alpha * hp**2 / 2 * input_gradient_penalty(
                fisher_trace_fn(model), xa, n_projections=1, generator=noise_gen)
        elif method == "fgm":
            loss = loss + adversarial_loss(ce, xl, eps=hp)
        elif method in ("vat", "vat+entmin"):
            loss = loss + cfg.alpha * vat_loss(model, xa, xi=cfg.xi, eps=hp,
                                               n_power=cfg.n_power, generator=noise_gen)
            if method == "vat+entmin":
                lp = torch.log_softmax(model(xa), dim=1)
                loss = loss - (lp.exp() * lp).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if curve_x is not None and ((it + 1) % cfg.curve_every == 0 or it + 1 == cfg.iterations):
            curve.append(error(model, curve_x, curve_y))
    return model, curve


class RunStore:
    """Finished runs on disk (``cfg.checkpoint_dir``) as ``<prefix>-<key>.safetensors``, so an
    interrupted full run resumes. A record is reused only when the config fields that change a
    run agree (all fields but ``ignore``; the device by kind, since CPU and CUDA streams
    differ)."""

    def __init__(self, cfg, prefix: str, ignore: tuple[str, ...] = ()):
        self.dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
        self.prefix = prefix
        fields = dataclasses.asdict(cfg)
        for k in ("checkpoint_dir",) + tuple(ignore):
            fields.pop(k)
        fields["device"] = config_device(cfg).type
        self.signature = repr(sorted(fields.items()))

    def _path(self, key: str) -> Path:
        assert self.dir is not None
        return self.dir / f"{self.prefix}-{key}.safetensors"

    def get(self, key: str) -> dict | None:
        """The stored record of ``key`` (with its ``curve`` as a list) or ``None``."""
        if self.dir is None or not self._path(key).is_file():
            return None
        tensors, meta = checkpoint.load(self._path(key))
        if meta.get("signature") != self.signature:
            return None
        meta["curve"] = tensors["curve"].tolist()
        return meta

    def put(self, key: str, record: dict) -> None:
        """Store ``record`` (JSON values plus a ``curve`` list of floats) under ``key``."""
        if self.dir is None:
            return
        meta = {k: v for k, v in record.items() if k != "curve"}
        meta["signature"] = self.signature
        checkpoint.save(self._path(key), {"curve": torch.tensor(record["curve"],
                                                                dtype=torch.float64)}, meta)


def select(cfg, grids: Mapping[str, tuple], xl: torch.Tensor, yl: torch.Tensor,
           xu: torch.Tensor, run_seed: int, gen: torch.Generator, store: RunStore, tag: str,
           train_fn: Callable, extra: tuple[torch.Tensor, torch.Tensor] | None = None
           ) -> tuple[dict, list]:
    """Choose σ/ε per method on a validation split of the labelled pool.

    ``cfg.val_per_class`` labels per class (drawn from ``gen``) are held out; each method of
    ``grids`` (method → candidate values) is trained by ``train_fn(method, hp, x_tr, y_tr, xu,
    cfg, run_seed)`` on the remaining labels for every candidate; the lowest validation error
    wins, ties to the larger value (the stronger regulariser: breaking ties by validation NLL
    would always favour the weakest, since smoothing makes confident correct predictions less
    confident). ``extra = (x, y)``, if given, is a second split on which the same runs are
    only *measured* (column ``extra error %``), never used for the choice.

    Returns:
        ``chosen`` (method → value) and the table rows ``[tag, method, value, val error %,
        val NLL]`` (+ ``extra error %``).
    """
    val_local = class_split(yl, cfg.val_per_class, gen)
    is_val = torch.zeros(len(yl), dtype=torch.bool, device=yl.device)
    is_val[val_local] = True
    x_tr, y_tr, x_va, y_va = xl[~is_val], yl[~is_val], xl[is_val], yl[is_val]
    chosen, rows = {}, []
    for method, grid in grids.items():
        best = None
        for hp in grid:
            key = f"{tag}-select-{method}-{hp:g}"
            rec = store.get(key)
            if rec is None:
                model, _ = train_fn(method, hp, x_tr, y_tr, xu, cfg, run_seed)
                rec = {"val_err": error(model, x_va, y_va), "val_nll": nll(model, x_va, y_va),
                       "curve": []}
                if extra is not None:
                    rec["extra_err"] = error(model, *extra)
                store.put(key, rec)
            row = [tag, method, hp, 100 * rec["val_err"], rec["val_nll"]]
            if extra is not None:
                row.append(100 * rec["extra_err"])
            rows.append(row)
            score = (rec["val_err"], -hp)
            if best is None or score < best[0]:
                best = (score, hp)
        chosen[method] = best[1]
    return chosen, rows


def error_summary(test_err: Mapping[str, list], methods) -> tuple[dict, dict, dict, list]:
    """Per-method test errors over seeds → ``(err, mean, std, rows)``: ``err[m]`` in percent,
    shape ``(n_seeds,)``; mean and sample sd over seeds; one table row per method in ``methods``
    (method, "mean ± sd", ÷ supervised, paired t-test p-value against supervised — 1 with fewer
    than two seeds or identical errors —, the per-seed errors)."""
    err = {m: 100 * np.array(v) for m, v in test_err.items()}  # percent, (n_seeds,)
    mean = {m: float(v.mean()) for m, v in err.items()}
    std = {m: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for m, v in err.items()}

    def paired_p(a: str, b: str) -> float:
        if len(err[a]) < 2 or np.allclose(err[a], err[b]):
            return 1.0
        return float(stats.ttest_rel(err[a], err[b]).pvalue)

    rows = []
    for m in methods:
        rel = mean[m] / mean["supervised"] if mean["supervised"] > 0 else float("nan")
        rows.append([m, f"{mean[m]:.2f} ± {std[m]:.2f}", f"{rel:.2f}",
                     "—" if m == "supervised" else f"{paired_p(m, 'supervised'):.3g}",
                     " ".join(f"{e:.1f}" for e in err[m])])
    return err, mean, std, rows
