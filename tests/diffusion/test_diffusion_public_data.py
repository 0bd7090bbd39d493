"""The public data helpers the CLI uses instead of experiment-private ones (issue 15):
quantised levels ↔ the model's dequantised scale, and the two-moons Gaussian-mixture oracle."""

from __future__ import annotations

import pytest
import torch
from scipy import stats

from kexue.data import two_moons
from kexue.diffusion import (
    DIGITS_N_BINS,
    GaussianMixture,
    dequantise,
    make_sde,
    to_data_scale,
    to_levels,
)

F64 = torch.float64


@pytest.mark.parametrize("n_bins", [DIGITS_N_BINS, 2, 256])
def test_levels_round_trip_and_bins_tile_the_interval(n_bins):
    k = torch.arange(n_bins, dtype=F64)
    x = 2.0 * k / (n_bins - 1) - 1.0                          # kexue.data's storage scale
    assert torch.equal(to_levels(x, n_bins), k)
    y = dequantise(k, 0.5, n_bins)                             # bin centres
    torch.testing.assert_close(to_data_scale(y, n_bins), x, rtol=0, atol=1e-12)
    lo, hi = dequantise(k, 0.0, n_bins), dequantise(k, 1.0, n_bins)
    assert float(lo[0]) == -1.0 and float(hi[-1]) == pytest.approx(1.0, abs=1e-15)
    torch.testing.assert_close(lo[1:], hi[:-1], rtol=0, atol=1e-15)   # adjacent, no gaps
    assert float(to_data_scale(torch.tensor([-5.0, 5.0]), n_bins).abs().max()) == 1.0


def test_levels_bad_bins():
    with pytest.raises(ValueError, match="n_bins must be an int >= 2"):
        to_levels(torch.zeros(2), 1)
    with pytest.raises(ValueError, match="n_bins"):
        dequantise(torch.zeros(2), 0.5, 2.5)


def test_moons_mixture_mean_is_exact_and_matches_the_data():
    """Midpoint rule in θ: the mixture mean is (½, ¼) exactly (as for the moons); samples of
    the mixture and of kexue.data.two_moons agree in law (KS per coordinate, fixed seeds)."""
    gm = GaussianMixture.moons(50, 0.05)
    assert gm.n_components == 100
    x = gm.sample(4000, torch.Generator().manual_seed(0))
    torch.testing.assert_close(gm.means.mean(0), torch.tensor([0.5, 0.25], dtype=F64),
                               rtol=0, atol=1e-12)
    data = two_moons(4000, 1, dtype=F64)
    for j in range(2):
        assert stats.ks_2samp(x[:, j].numpy(), data[:, j].numpy()).pvalue > 0.01
    torch.testing.assert_close(x.mean(0), torch.tensor([0.5, 0.25], dtype=F64), rtol=0,
                               atol=0.05)
    with pytest.raises(ValueError, match="arc_nodes"):
        GaussianMixture.moons(0)
    with pytest.raises(ValueError, match="noise"):
        GaussianMixture.moons(10, -1.0)


def test_make_sde_is_public():
    sde = make_sde("ve", sigma_max=4.0)
    assert type(sde).__name__ == "VESDE" and sde.sigma_max == 4.0
    with pytest.raises(ValueError, match="unknown SDE"):
        make_sde("edm")
