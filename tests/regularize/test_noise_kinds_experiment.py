"""The noise-kinds experiment: its quick preset's claims, a deterministic tiny run, its batched
trainer against single-model training with the library's losses, bad grids."""

import dataclasses

import pytest
import torch

from kexue.experiments import Result, resolve_config, run_experiment
from kexue.experiments import noise_kinds as nk
from kexue.experiments._base import finding_for
from kexue.regularize import label_smoothing_loss

TINY = {"train_per_class": 3, "val_per_class": 2, "hidden": 8, "steps": 15, "n_seeds": 2,
        "input_grid": (0.3, 0.6), "hidden_grid": (0.3, 0.6), "weight_grid": (0.03, 0.1),
        "output_grid": (0.1, 0.3), "dropout_grid": (0.2, 0.5), "mc_draws": 4, "hutchinson": 2,
        "n_second_order": 1, "device": "cpu"}


@pytest.mark.slow
def test_quick_preset_claims_hold_or_are_known_findings():
    spec = nk.EXPERIMENT
    result = run_experiment(spec, resolve_config(spec, quick=True), quick=True)
    assert result.status == "ok", result.error
    known = dict(spec.known_findings)
    missed = [c.statement for c in result.claims
              if c.checked and not c.passed and not finding_for(c.statement, known)]
    assert not missed, missed
    assert not [p for p in known if not any(c.statement.startswith(p) for c in result.claims)]
    spec.mark_findings(result)
    assert result.passed


def test_tiny_run_is_deterministic_and_follows_the_protocol():
    spec = nk.EXPERIMENT
    assert spec.section == "kexue.regularize"
    assert set(spec.quick) <= {f.name for f in dataclasses.fields(spec.config)}
    cfg = dataclasses.replace(spec.config(), **TINY)
    threads = torch.get_num_threads()
    a, b = spec.run(cfg), spec.run(cfg)
    assert torch.get_num_threads() == threads
    assert isinstance(a, Result) and a.claims and a.tables and a.figures and a.notes
    assert [c.obtained for c in a.claims] == [c.obtained for c in b.claims]
    assert len(a.claims) == len(nk.KINDS) + 4
    assert len(a.tables[0].rows) == 1 + len(nk.KINDS)
    assert len(a.tables[1].rows) == 1 + 2 * len(nk.KINDS)  # every grid value, plus no noise
    for fig in a.figures.values():
        assert type(fig).__name__ == "Figure" and fig.axes


def _single_training(cfg, init, x, y, eps):
    net = nk._single({k: v.clone() for k, v in init.items()})
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    for _ in range(cfg.steps):
        loss = label_smoothing_loss(net(x), y, eps=eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def test_batched_trainer_matches_single_models_with_the_library_loss():
    """No noise and label smoothing are deterministic: the batched trainer must give the weights
    one nn.Sequential reaches with Adam on the library's label_smoothing_loss."""
    cfg = dataclasses.replace(nk.Config(), hidden=6, steps=8, lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 12, 64, generator=gen)
    y = torch.randint(0, 10, (2, 12), generator=gen)
    inits = [nk._init(cfg, 3), nk._init(cfg, 4)]
    runs = [("plain", 0.0), ("output", 0.25)]
    model = nk._train_all(cfg, x, y, runs, inits, torch.device("cpu"),
                          torch.Generator().manual_seed(1))
    for m, (_, eps) in enumerate(runs):
        net = _single_training(cfg, inits[m], x[m], y[m], eps)
        torch.testing.assert_close(model.w1[m], net[0].weight, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(model.b2[m], net[2].bias, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(model.w1[0], model.w1[1])


@pytest.mark.parametrize("override, pattern", [
    ({"input_grid": (0.1,)}, "same non-zero length"),
    ({"dropout_grid": (0.1, 1.0, 0.2, 0.3)}, r"drop rates in \[0, 1\)"),
    ({"output_grid": (0.1, 1.5, 0.2, 0.3)}, r"label-smoothing ε in \[0, 1\]"),
])
def test_bad_grids(override, pattern):
    cfg = dataclasses.replace(nk.Config(), **override)
    with pytest.raises(ValueError, match=pattern):
        nk.run(cfg)
