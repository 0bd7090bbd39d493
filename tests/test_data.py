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
        toy("ring", 10, "seven")
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.5)
    with pytest.raises(ValueError, match="device must be one of"):
        toy("ring", 10, 0, device="tpu")


@pytest.mark.parametrize("name", sorted(TOY_DATASETS))
def test_generator_none_is_torch_default_generator(name):
    """The randomness rule (kexue.rng): None draws from PyTorch's default generator, so
    torch.manual_seed reproduces a run, and an int seed gives the same numbers as a CPU generator
    seeded with it, on an explicit device="cpu" too."""
    torch.manual_seed(11)
    a = toy(name, 200)
    torch.manual_seed(11)
    b = toy(name, 200, None)
    c = toy(name, 200)                       # the default generator has moved on
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(11)
    assert torch.equal(toy(name, 200, torch.default_generator), a)
    assert torch.equal(toy(name, 200, 5, device="cpu"),
                       toy(name, 200, torch.Generator().manual_seed(5)))


def test_digits_device_argument():
    d = digits(dtype=torch.float64, device="cpu")
    assert d.x_train.device.type == "cpu" and d.y_test.device.type == "cpu"
    assert torch.equal(d.x_train, digits(dtype=torch.float64).x_train)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_loaders_on_cuda():
    """Drawn on the GPU with a CUDA generator: same laws (mode frequencies), same seeds give the
    same draws, and digits are the same numbers."""
    x = toy("ring", 50_000, 0, dtype=torch.float64, device="cuda")
    assert x.device.type == "cuda"
    assert torch.equal(x, toy("ring", 50_000, torch.Generator(device="cuda").manual_seed(0),
                              dtype=torch.float64))
    counts = torch.bincount(torch.cdist(x.cpu(), ring_centers()).argmin(1), minlength=8).double()
    se = math.sqrt(50_000 * (1 / 8) * (7 / 8))
    assert ((counts - 50_000 / 8).abs() / se).max() < 4.5
    for name in TOY_DATASETS:
        assert toy(name, 100, 1, device="cuda").device.type == "cuda"
    d = digits(dtype=torch.float64, device="cuda")
    assert torch.equal(d.x_test.cpu(), digits(dtype=torch.float64).x_test)
