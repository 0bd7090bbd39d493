"""bigan-qp-mnist: tiny run (structure, honest failure), bad config, the quick preset."""

import dataclasses

import pytest

from kexue.experiments import bigan_qp_mnist as m
from kexue.experiments._base import resolve_config


def test_tiny_run(clf_cache):
    cfg = dataclasses.replace(m.Config(), steps=2, dim=2, z_dim=4, pair_hidden=8, n_seeds=2,
                              n_fd=60, n_boot=5, classifier_cache=clf_cache, threads=1,
                              device="cpu")
    res = m.run(cfg)
    assert [r[:2] for r in res.tables[0].rows] == [["BiGAN-QP", 0], ["BiGAN-QP", 1],
                                                   ["no stop-gradient", 0],
                                                   ["no stop-gradient", 1]]
    assert len(res.claims) == 3
    # two steps cannot reconstruct digits: the threshold claim must fail
    assert not res.claims[1].passed
    # fewer than MIN_CHECKED_STEPS: shown, not checked, and the notes say so
    assert not any(c.checked for c in res.claims) and "Not checked" in res.notes
    accs = [r[2] for r in res.tables[0].rows]
    assert all(0 <= a <= 1 for a in accs)
    assert set(res.figures) == {"reconstructions"}


def test_bad_config():
    with pytest.raises(ValueError, match="n_fd must be in 2..1000"):
        m.run(dataclasses.replace(m.Config(), n_fd=1))
    with pytest.raises(ValueError, match="n_seeds must be >= 1"):
        m.run(dataclasses.replace(m.Config(), n_seeds=0))


@pytest.mark.slow
def test_quick_preset():
    from kexue.experiments import run_experiment

    spec = m.EXPERIMENT
    res = run_experiment(spec, resolve_config(spec, quick=True))
    assert res.status == "ok", res.error
    assert len(res.claims) == 3 and len(res.tables[0].rows) == 2
    assert not any(c.checked for c in res.claims)
