"""diffusion-mnist: the independent-pixel baseline, the data scales, config checks, quick preset."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from kexue.experiments import diffusion_mnist as m
from kexue.experiments import resolve_config, run_experiment


def test_histogram_bpd_closed_forms():
    # one pixel always 0 in training: p(0) = (N + α)/(N + 256α), p(k≠0) = α/(N + 256α)
    n, alpha = 10, 0.5
    train = torch.zeros(n, 1, dtype=torch.int64)
    got = m.histogram_bpd(train, torch.tensor([[0], [7]]), alpha)
    z = n + 256 * alpha
    want = torch.tensor([-math.log2((n + alpha) / z), -math.log2(alpha / z)], dtype=torch.float64)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    # bits/dim averages over pixels: two independent copies of the same pixel give the same value
    two = m.histogram_bpd(train.repeat(1, 2), torch.tensor([[0, 7]]), alpha)
    torch.testing.assert_close(two, want.mean()[None], rtol=0, atol=1e-12)
    # α → ∞ is the uniform model: log2(256) = 8 bits/dim whatever the data
    rng = torch.Generator().manual_seed(0)
    data = torch.randint(0, 256, (50, 9), generator=rng)
    big = m.histogram_bpd(data, data[:5], 1e12)
    torch.testing.assert_close(big, torch.full((5,), 8.0, dtype=torch.float64), atol=1e-6, rtol=0)


def test_histogram_bpd_is_the_empirical_entropy_on_the_training_set_as_alpha_vanishes():
    rng = torch.Generator().manual_seed(1)
    data = torch.randint(0, 4, (400, 3), generator=rng)  # 4 of 256 levels used
    got = float(m.histogram_bpd(data, data, 1e-9).mean())
    ent = 0.0
    for d in range(3):
        p = torch.bincount(data[:, d], minlength=4).double() / 400
        ent += float(-(p[p > 0] * p[p > 0].log2()).sum())
    assert got == pytest.approx(ent / 3, abs=1e-6)


def test_histogram_bpd_bad_input():
    with pytest.raises(ValueError, match="alpha"):
        m.histogram_bpd(torch.zeros(3, 2), torch.zeros(1, 2), 0.0)
    with pytest.raises(ValueError, match="same D"):
        m.histogram_bpd(torch.zeros(3, 2), torch.zeros(1, 3), 1.0)


def test_scales_round_trip_exactly_at_bin_centres():
    k = torch.arange(256, dtype=torch.float64)
    x = k / 127.5 - 1.0  # kexue.data's MNIST scale
    torch.testing.assert_close(m._levels(x), k, rtol=0, atol=0)
    torch.testing.assert_close(m._to_image(m._to_model(k)), x, rtol=0, atol=1e-12)
    # dequantised values stay inside their bin: model scale in [−1 + 2k/256, −1 + 2(k+1)/256)
    g = torch.Generator().manual_seed(0)
    y = m._dequantize(x, g)
    assert bool(((y >= -1 + 2 * k / 256) & (y < -1 + 2 * (k + 1) / 256)).all())


def test_config_errors_name_the_field():
    spec = m.EXPERIMENT
    base = resolve_config(spec, quick=True)
    for bad, match in (({"check": ("fd", "nope")}, "check"), ({"n_samples": 15}, "n_samples"),
                       ({"ws": ()}, "ws")):
        with pytest.raises(ValueError, match=match):
            m._check(dataclasses.replace(base, **bad))


def test_quick_preset_checks_every_claim_or_says_which_not():
    q = resolve_config(m.EXPERIMENT, quick=True)
    assert set(q.check) <= set(m.CLAIMS)
    full = m.Config()
    assert tuple(full.check) == m.CLAIMS


@pytest.mark.slow
def test_quick_preset_runs_and_its_claims_pass(tmp_path):
    spec = m.EXPERIMENT
    cfg = dataclasses.replace(resolve_config(spec, quick=True),
                              clf_cache=str(tmp_path / "clf.safetensors"))
    res = run_experiment(spec, cfg)
    assert res.status == "ok", res.error
    assert res.claims and all(c.passed for c in res.claims), [
        (c.statement, c.obtained) for c in res.claims if not c.passed]
    assert set(res.figures) == {"guided-samples", "inpainting"}
    if [c for c in m.CLAIMS if c not in cfg.check]:
        assert "Not checked in this run" in res.notes
