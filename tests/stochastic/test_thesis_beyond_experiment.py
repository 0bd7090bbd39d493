"""The thesis-beyond experiment: its quick preset runs and every claim holds (seed 0)."""

from __future__ import annotations

import dataclasses

import pytest

from kexue.experiments import resolve_config, run_experiment
from kexue.experiments import thesis_beyond as m


def test_quick_preset_claims_hold():
    spec = m.EXPERIMENT
    result = run_experiment(spec, resolve_config(spec, quick=True), quick=True)
    assert result.status == "ok", result.error
    assert len(result.claims) == 16
    failed = [(c.statement, c.expected, c.obtained) for c in result.claims
              if c.checked and not c.passed]
    assert not failed, failed
    assert "thesis-beyond" in result.figures


def test_quick_and_full_presets_differ_only_in_resolution():
    full = dataclasses.asdict(m.Config())
    assert set(m.EXPERIMENT.quick) <= set(full)
    # the same claims: only sizes of Monte Carlo samples and grids change
    assert all(isinstance(full[k], (int, tuple)) for k in m.EXPERIMENT.quick)


def test_mc_alpha_must_be_one_of_the_noise_levels():
    spec = m.EXPERIMENT
    cfg = dataclasses.replace(resolve_config(spec, quick=True), dw_mc_alpha=0.3,
                              dw_alphas=(0.2, 0.1, 0.05))
    with pytest.raises(ValueError, match="dw_mc_alpha"):
        m.run(cfg)
