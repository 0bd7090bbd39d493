"""kexue.data: shipped digits and 2-D toy generators (shapes, ranges, determinism, laws)."""

import math

import pytest
import torch

from kexue.data import TOY_DATASETS, digits, toy
from kexue.data._toy import grid_centers, ring_centers


def test_digits_split_and_scaling():
    d = digits(dtype=torch.float64)
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    assert d.x_train.min() == -1.0 and d.x_train.max() == 1.0
    # stratified: every class is in both splits, with proportions within one sample per class
    for y in (d.y_train, d.y_test):
        assert set(y.tolist()) == set(range(10))
    frac = torch.bincount(d.y_test, minlength=10) / torch.bincount(
        torch.cat([d.y_train, d.y_test]), minlength=10)
    assert (frac - 0.25).abs().max() < 0.01
    d2 = digits(dtype=torch.float64)
    assert torch.equal(d.x_test, d2.x_test)  # fixed split


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_toy_shapes_and_determinism(name):
    a = toy(name, 1000, 7)
    b = toy(name, 1000, torch.Generator().manual_seed(7))
    c = toy(name, 1000, 8)
    assert a.shape == (1000, 2) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.isfinite(a).all()


def test_mixtures_hit_every_mode_equally():
    for sampler, centers in ((lambda n: toy("ring", n, 0, dtype=torch.float64), ring_centers()),
                             (lambda n: toy("grid", n, 0, dtype=torch.float64), grid_centers())):
        x = sampler(50_000)
        nearest = torch.cdist(x, centers).argmin(1)
        counts = torch.bincount(nearest, minlength=len(centers)).double()
        p = 1 / len(centers)
        se = math.sqrt(50_000 * p * (1 - p))
        assert ((counts - 50_000 * p).abs() / se).max() < 4.5


def test_checkerboard_only_black_squares():
    x = toy("checkerboard", 20_000, 3, dtype=torch.float64)
    cell = torch.floor(x + 2.0).long()  # 4 squares of side 1 over [-2, 2]
    assert ((cell[:, 0] + cell[:, 1]) % 2 == 0).all()
    assert x.abs().max() <= 2.0


def test_bad_input():
    with pytest.raises(ValueError, match="unknown toy dataset"):
        toy("spiral", 10, 0)
    with pytest.raises(ValueError, match="n must be a positive int"):
        toy("ring", 0, 0)
    with pytest.raises(TypeError, match="generator must be"):
        toy("ring", 10, None)
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.5)
