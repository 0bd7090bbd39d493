"""diffusion-memorise: helpers, config, and the quick preset (its claims hold)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from kexue.experiments import diffusion_memorise as m
from kexue.experiments import resolve_config, run_experiment

F64 = torch.float64


def test_nn_stats_on_copies_and_on_fresh_points():
    """Copies of training points: d_train = 0 (counted as copies, ratio 0); points equidistant
    from both sets: log ratio 0."""
    train = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=F64)
    held = torch.tensor([[0.0, 2.0], [1.0, 2.0]], dtype=F64)
    s = m._nn_stats(train.clone(), train, held)
    assert s["frac_copy"] == 1.0 and s["median_ratio"] == 0.0
    mid = torch.tensor([[0.0, 1.0], [1.0, 1.0]], dtype=F64)
    s = m._nn_stats(mid, train, held)
    assert s["frac_copy"] == 0.0
    assert s["mean_log_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert s["median_ratio"] == pytest.approx(1.0, abs=1e-12)


def test_pairs_are_about_135_degrees_apart():
    ang = torch.linspace(0, 2 * math.pi, 65, dtype=F64)[:-1]
    ring = 2 * torch.stack([ang.cos(), ang.sin()], 1)
    for i, j in m._pairs(ring, 3):
        d = float(torch.remainder(ang[j] - ang[i], 2 * math.pi))
        assert d == pytest.approx(0.75 * math.pi, abs=2 * math.pi / 64)


def test_quick_preset_differs_from_full_only_in_size():
    spec = m.EXPERIMENT
    assert spec.name == "diffusion-memorise"
    full, quick = resolve_config(spec, quick=False), resolve_config(spec, quick=True)
    assert quick.train_steps < full.train_steps and quick.n_samples < full.n_samples
    assert full.check_quality and not quick.check_quality


def test_bad_convergence_steps():
    spec = m.EXPERIMENT
    # refused by Config.validate (through resolve_config's hook, or called directly) and by run
    with pytest.raises(ValueError, match="conv_steps"):
        cfg = resolve_config(spec, quick=True, overrides={"conv_steps": "(16, 32)"})
        cfg.validate()
    bad = dataclasses.replace(resolve_config(spec, quick=True), conv_steps=(16, 32))
    with pytest.raises(ValueError, match="conv_steps"):
        m.run(bad)


@pytest.mark.slow
def test_quick_preset_claims_hold():
    """About 19 s of CPU (quick preset). Every checked claim passes; the one the quick preset
    does not check (the trained samples' quality) is marked so and explained in the notes."""
    spec = m.EXPERIMENT
    res = run_experiment(spec, resolve_config(spec, quick=True))
    assert res.status == "ok", res.error
    checked = [c for c in res.claims if c.checked]
    assert len(checked) == len(res.claims) - 1
    assert all(c.passed for c in checked), [(c.statement, c.obtained) for c in checked
                                            if not c.passed]
    assert "Not checked here" in res.notes
    assert set(res.figures) == {"memorise"} and len(res.tables) == 2
