"""ganqp-toy: WGAN-GP on its own schedule and its authors' toy settings, equal-wall-time
budget, config validation, and the quick preset's claims."""

import dataclasses

import pytest

from kexue.experiments import ganqp_toy as m
from kexue.experiments import resolve_config, run_experiment
from kexue.experiments._base import ConfigError

TINY = dict(steps=4, batch_size=16, hidden=8, depth=1, snapshots=2, n_eval=200, n_seeds=2,
            datasets=("ring8",), eval_every=2)


def test_each_model_trains_on_its_own_published_schedule():
    cfg = m.Config()
    qp, s_qp = m._train_kwargs(cfg, "gan-qp")
    assert (qp["critic_steps"], qp["betas"], qp["lam"], s_qp) == (2, (0.5, 0.999), 10.0, 1.0)
    wg, s_wg = m._train_kwargs(cfg, "wgan-gp")  # Gulrajani et al., Algorithm 1
    assert (wg["model"], wg["critic_steps"], wg["betas"], wg["lr"], wg["penalty"], s_wg) == (
        "wgan-gp", 5, (0.5, 0.9), 1e-4, 10.0, 1.0)
    toy, s_toy = m._train_kwargs(cfg, "wgan-gp-toy")  # their 25-Gaussian script
    assert (toy["penalty"], toy["critic_act"], toy["critic_steps"]) == (0.1, "relu", 5)
    assert s_toy == pytest.approx(1 / 2.828)


@pytest.mark.parametrize("bad", [
    dict(models=("wgan-gp", "gan-qp")), dict(models=("gan-qp", "wgan")),
    dict(datasets=("moons",)), dict(datasets=()), dict(n_seeds=1), dict(steps=0),
    dict(lr=0.0), dict(toy_penalty=-1.0), dict(pinned_steps=(10,)),
    dict(pinned_steps=(10, 10_000)), dict(distance="l3")])
def test_validate_rejects_bad_ranges(bad):
    cfg = dataclasses.replace(m.Config(), **bad)
    with pytest.raises(ConfigError):
        cfg.validate()


def test_pinned_equal_time_is_a_snapshot_of_the_same_run():
    # pinned at the full step count, the equal-wall-time state is the final state: both
    # energy-distance columns agree exactly; pinned at 2 of 4 steps they differ
    cfg = dataclasses.replace(m.Config(), **TINY, pinned_steps=(4, 2))
    res = m.run(cfg)
    rows = {r[1]: r for r in res.tables[0].rows}
    assert rows["wgan-gp"][4] == rows["wgan-gp"][6] and rows["wgan-gp"][5] == 4
    assert rows["wgan-gp-toy"][5] == 2 and rows["wgan-gp-toy"][4] != rows["wgan-gp-toy"][6]
    assert "pinned" in res.notes
    # 1 bound claim + 1 coverage claim + 2 WGAN-GP configurations × 2 budgets
    assert len(res.claims) == 6
    cov = [c for c in res.claims if "covers every mode" in c.statement]
    assert len(cov) == 1 and not cov[0].passed  # 4 steps learn nothing


@pytest.mark.slow
def test_quick_preset_claims_pass():
    spec = m.EXPERIMENT
    result = run_experiment(spec, resolve_config(spec, quick=True))
    assert result.status == "ok", result.error
    checked = [c for c in result.claims if c.checked]
    assert len(checked) == 2 and all("equal wall time" in c.statement for c in checked)
    failed = [c.statement for c in checked if not c.passed]
    assert not failed, failed


def test_config_takes_kexue_data_names_and_keeps_the_claim_labels():
    """``--set datasets=ring,grid`` (kexue.data's names) selects the same runs as the labels
    ring8/grid25 that the claims and stored results use; an unknown name is refused."""
    from kexue.experiments import ConfigError, get, resolve_config

    spec = get("ganqp-toy")
    new = resolve_config(spec, quick=True, seed=0, overrides={"datasets": "ring,grid"})
    old = resolve_config(spec, quick=True, seed=0, overrides={"datasets": "ring8,grid25"})
    assert new.datasets == old.datasets == ("ring8", "grid25")
    with pytest.raises(ConfigError, match="datasets"):
        resolve_config(spec, quick=True, seed=0, overrides={"datasets": "rng"})
