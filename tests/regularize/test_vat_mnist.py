"""vat-mnist (kexue.fm 7466; Miyato et al. arXiv:1704.03976) and the shared VAT-experiment
machinery: seeded MLP init, class-balanced label splits, the paired margin, hyper-parameter
selection (lowest held-out error, ties to the larger value), same initial weights for every
method, checkpoint resume, bad input, and the quick preset end to end."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from kexue.experiments import Result, resolve_config, run_experiment
from kexue.experiments import _vat_common as vc
from kexue.experiments import vat_mnist as m

TINY = {"labels_per_class": 4, "val_per_class": 2, "hidden": 16, "iterations": 12,
        "unlabelled_batch": 16, "eps_grid": (2.0, 4.0), "fgm_eps_grid": (4.0,),
        "sigma_grid": (0.2,), "n_seeds": 2, "curve_every": 4}


def _tiny(**kw):
    return dataclasses.replace(m.Config(), **{**TINY, **kw})


# ---------------------------------------------------------------- shared machinery


def test_mlp_is_seeded_with_pytorch_default_bounds():
    a = vc.mlp((784, 32, 32, 10), torch.Generator().manual_seed(3))
    b = vc.mlp((784, 32, 32, 10), torch.Generator().manual_seed(3))
    c = vc.mlp((784, 32, 32, 10), torch.Generator().manual_seed(4))
    linears = [x for x in a if isinstance(x, torch.nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(784, 32), (32, 32),
                                                                        (32, 10)]
    assert sum(isinstance(x, torch.nn.ReLU) for x in a) == 2
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    for lin in linears:
        bound = 1 / math.sqrt(lin.in_features)
        w = lin.weight.detach().double()
        assert w.abs().max() <= bound
        # uniform on [-b, b]: mean 0 (sd b/√(3n)), variance b²/3 (within 5 %)
        assert abs(w.mean().item()) < 4 * bound / math.sqrt(3 * w.numel())
        assert w.var().item() == pytest.approx(bound**2 / 3, rel=0.05)


def test_class_split_is_balanced_seeded_and_checks_counts():
    y = torch.arange(10).repeat_interleave(7)  # 7 per class
    a = vc.class_split(y, 3, torch.Generator().manual_seed(0))
    b = vc.class_split(y, 3, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and len(a) == 30 and len(set(a.tolist())) == 30
    assert torch.equal(torch.bincount(y[a], minlength=10), torch.full((10,), 3))
    assert torch.equal(y[a], torch.arange(10).repeat_interleave(3))  # class-major order
    with pytest.raises(ValueError, match="per_class=8"):
        vc.class_split(y, 8, torch.Generator().manual_seed(0))


def test_paired_margin_closed_form_and_bad_input():
    mean, se = m.paired_margin(np.array([3.0, 5.0, 7.0]), np.array([1.0, 2.0, 3.0]))
    assert mean == pytest.approx(3.0) and se == pytest.approx(1 / math.sqrt(3))  # d = 2, 3, 4
    mean, se = m.paired_margin(np.array([2.0]), np.array([1.0]))
    assert mean == 1.0 and math.isnan(se)
    with pytest.raises(ValueError, match="same non-zero length"):
        m.paired_margin(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="same non-zero length"):
        m.paired_margin(np.ones(0), np.ones(0))


def test_every_method_starts_from_the_same_weights():
    cfg = _tiny(iterations=0)
    g = torch.Generator().manual_seed(0)
    xl, yl, xu = torch.randn(20, 784, generator=g), torch.arange(10).repeat(2), torch.randn(
        30, 784, generator=g)
    models = [m._train(meth, 1.0, xl, yl, xu, cfg, 17)[0] for meth in m.METHODS]
    ref = list(models[0].parameters())
    for model in models[1:]:
        assert all(torch.equal(p, q) for p, q in zip(ref, model.parameters()))
    other = m._train("vat", 1.0, xl, yl, xu, cfg, 18)[0]
    assert not torch.equal(ref[0], next(other.parameters()))
    with pytest.raises(ValueError, match="method must be one of"):
        m._train("mixup", 1.0, xl, yl, xu, cfg, 17)


class _Fixed(torch.nn.Module):
    """Reads the label from ``x[:, 0]`` and predicts it, except ``label + 1`` on the first
    ``wrong`` rows: its error on ``n`` rows is exactly ``wrong / n``."""

    def __init__(self, wrong: int):
        super().__init__()
        self.wrong = wrong
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        y = x[:, 0].long()
        pred = torch.where(torch.arange(len(x)) < self.wrong, (y + 1) % 10, y)
        return torch.nn.functional.one_hot(pred, 10).float() * 5 + 0 * self.w


def test_select_takes_lowest_held_out_error_and_breaks_ties_to_the_larger_value():
    cfg = _tiny(val_per_class=2)
    yl = torch.arange(10).repeat(4)  # 4 labels per class
    xl = yl[:, None].float().repeat(1, 3)  # (40, 3): feature 0 is the label
    store = vc.RunStore(cfg, "t")
    wrong_of = {("noise", 0.1): 3, ("noise", 0.2): 1, ("noise", 0.4): 2,  # 0.2 wins
                ("vat", 1.0): 0, ("vat", 2.0): 0, ("vat", 4.0): 5}  # tie 1 vs 2 -> 2
    calls = []

    def fake_train(method, hp, x_tr, y_tr, xu, c, run_seed):
        calls.append((method, hp, len(x_tr), run_seed))
        return _Fixed(wrong_of[(method, hp)]), []

    extra = (xl[:10], yl[:10])
    chosen, rows = vc.select(cfg, {"noise": (0.1, 0.2, 0.4), "vat": (1.0, 2.0, 4.0)}, xl, yl,
                             None, 5, torch.Generator().manual_seed(0), store, "s0", fake_train,
                             extra=extra)
    assert chosen == {"noise": 0.2, "vat": 2.0}
    assert all(n == 20 and seed == 5 for _, _, n, seed in calls)  # 40 labels − 2 × 10 held out
    assert [r[3] for r in rows] == pytest.approx([15.0, 5.0, 10.0, 0.0, 0.0, 25.0])
    assert [r[5] for r in rows] == pytest.approx([30.0, 10.0, 20.0, 0.0, 0.0, 50.0])


def test_run_store_signature_and_resume(tmp_path):
    cfg = _tiny(checkpoint_dir=str(tmp_path))
    store = vc.RunStore(cfg, "vat-mnist", ignore=("n_seeds",))
    store.put("k", {"test_err": 0.25, "curve": [0.5, 0.25]})
    assert store.get("k") == {"test_err": 0.25, "curve": [0.5, 0.25],
                              "signature": store.signature}
    assert store.get("missing") is None
    same = vc.RunStore(dataclasses.replace(cfg, n_seeds=9), "vat-mnist", ignore=("n_seeds",))
    assert same.get("k") is not None  # an ignored field does not invalidate runs
    other = vc.RunStore(dataclasses.replace(cfg, lr=5e-3), "vat-mnist", ignore=("n_seeds",))
    assert other.get("k") is None
    assert vc.RunStore(dataclasses.replace(cfg, checkpoint_dir=""), "x").get("k") is None


# ---------------------------------------------------------------- the experiment


def test_tiny_run_is_deterministic_and_follows_the_protocol():
    spec = m.EXPERIMENT
    assert spec.name == "vat-mnist" and spec.section == "kexue.regularize"
    assert set(spec.quick) <= {f.name for f in dataclasses.fields(spec.config)}
    cfg = _tiny()
    threads = torch.get_num_threads()
    a, b = spec.run(cfg), spec.run(cfg)
    assert torch.get_num_threads() == threads
    assert isinstance(a, Result) and len(a.claims) == 4 and a.tables and a.notes
    assert [c.obtained for c in a.claims] == [c.obtained for c in b.claims]
    fig = a.figures["errors"]
    assert type(fig).__name__ == "Figure" and len(fig.axes) == 2
    chosen = a.tables[1]
    assert len(chosen.rows) == 2 and all(r[2] == 4.0 for r in chosen.rows)  # one-value grid
    # only the two-value ε grid of VAT is searched: 2 seeds × 2 candidates
    assert [r[1] for r in a.tables[2].rows] == ["vat"] * 4
    # a paired claim is a test across seeds: with one seed it is not checked (failed)
    one = spec.run(_tiny(n_seeds=1))
    assert not one.claims[0].passed and not one.claims[2].passed


def test_resumes_from_checkpoints(tmp_path, monkeypatch):
    cfg = _tiny(checkpoint_dir=str(tmp_path))
    first = m.run(cfg)
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert len(saved) == 2 * 4 + 2 * 2  # 2 seeds × (4 final runs + 2 VAT selection runs)
    assert all(p.startswith("vat-mnist-seed") for p in saved)
    calls = []
    original = m._train

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(m, "_train", counting)
    second = m.run(cfg)
    assert calls == []
    assert [c.obtained for c in first.claims] == [c.obtained for c in second.claims]
    m.run(dataclasses.replace(cfg, lr=5e-3, n_seeds=1))
    assert len(calls) == 2 + 4  # a different config does not reuse the stored runs


def test_bad_config():
    with pytest.raises(ValueError, match="val_per_class"):
        m.run(_tiny(labels_per_class=2, val_per_class=2))


@pytest.mark.slow
def test_quick_preset_shows_the_claims():
    spec = m.EXPERIMENT
    res = run_experiment(spec, resolve_config(spec, quick=True), quick=True)
    assert res.status == "ok", res.error
    # the quick preset checks the two paired claims; the notes name the two it leaves out
    assert len(res.claims) == 4 and "paired margin" in res.claims[0].statement
    assert "FGM" in res.claims[2].statement
    assert [c.checked for c in res.claims] == [True, False, True, False]
    assert res.passed, [c.to_dict() for c in res.claims]
    assert "does not check" in res.notes and "noise consistency within 1 pp" in res.notes


@pytest.mark.gpu
def test_tiny_run_on_cuda_is_finite_and_shaped_like_the_cpu_run():
    gpu, cpu = m.run(_tiny(device="cuda")), m.run(_tiny(device="cpu"))
    assert [c.statement for c in gpu.claims] == [c.statement for c in cpu.claims]
    assert [len(t.rows) for t in gpu.tables] == [len(t.rows) for t in cpu.tables]
    errors = [float(e) for row in gpu.tables[0].rows[:4] for e in row[4].split()]
    assert len(errors) == 4 * 2 and all(0 <= e <= 100 for e in errors)
    assert all(math.isfinite(float(c.obtained)) for c in gpu.claims)
