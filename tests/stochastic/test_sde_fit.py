"""sde-fit: GBM (μ, σ) recovered from observed paths with Jacobians from solve_adjoint; the
observed data's law; the quick preset's claims."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from kexue.experiments import resolve_config, run_experiment
from kexue.experiments import sde_fit as m


def test_observed_paths_have_the_gbm_law():
    """The exact sampler: E X_t = x0 e^{μt} and Var log X_t = σ² t within 4 SE, 20000 paths."""
    cfg = m.Config(n_obs=20000)
    obs = m._observed(cfg, torch.Generator().manual_seed(3), torch.device("cpu"))
    for k, t in enumerate(cfg.obs_times):
        x = obs[k]
        se = float(x.std()) / math.sqrt(x.numel())
        assert abs(float(x.mean()) - cfg.x0 * math.exp(cfg.mu * t)) < 4 * se
        lv = float(torch.log(x).var())
        assert abs(lv - cfg.sigma**2 * t) < 4 * cfg.sigma**2 * t * math.sqrt(2 / x.numel())


def test_features_shape():
    x = torch.arange(6.0).view(2, 3)                       # (K=2, n=3)
    f = m._features(x)
    assert f.shape == (3, 4)
    assert torch.equal(f[:, 2:], (x * x).T)


@pytest.mark.slow
def test_quick_preset_claims_hold():
    """About 10 s of CPU: every claim checked and passed (seeds 0–4 pass, see the report)."""
    spec = m.EXPERIMENT
    res = run_experiment(spec, resolve_config(spec, quick=True))
    assert res.status == "ok", res.error
    assert all(c.checked for c in res.claims)
    assert all(c.passed for c in res.claims), [(c.statement, c.obtained) for c in res.claims
                                               if not c.passed]
    assert set(res.figures) == {"sde-fit"} and len(res.tables) == 1


def test_wrong_start_fails_honestly():
    """With no Gauss–Newton iterations the fit stays at the start (μ = 0, σ = 0.15), and the
    parameter claims fail: they can fail."""
    spec = m.EXPERIMENT
    cfg = dataclasses.replace(resolve_config(spec, quick=True), iters=0, n_obs=500,
                              n_model=500, steps=20)
    res = run_experiment(spec, cfg)
    assert res.status == "ok", res.error
    assert not res.claims[0].passed and not res.claims[1].passed
