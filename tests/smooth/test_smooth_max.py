"""LSE smooth max (kexue.fm 6620): bounds, identities, gradient = softmax, stability."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue.smooth import smooth_max, smooth_min


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.mark.parametrize("n", [1, 2, 7, 100])
@pytest.mark.parametrize("k", [0.1, 1.0, 10.0, 1000.0])
def test_lse_bounds(gen, n, k):
    x = 3 * torch.randn(500, n, generator=gen, dtype=torch.float64)
    gap = smooth_max(x, k) - x.amax(-1)
    assert gap.min() >= -1e-12
    assert gap.max() <= math.log(n) / k + 1e-12
    gmin = x.amin(-1) - smooth_min(x, k)
    assert gmin.min() >= -1e-12 and gmin.max() <= math.log(n) / k + 1e-12


def test_bound_attained_at_ties():
    x = torch.full((3, 9), -2.5, dtype=torch.float64)
    for k in (0.3, 1.0, 17.0):
        torch.testing.assert_close(smooth_max(x, k), torch.full((3,), -2.5 + math.log(9) / k,
                                                                 dtype=torch.float64),
                                   rtol=0, atol=1e-14)


def test_agrees_with_torch_logsumexp_and_shift_invariance(gen):
    x = torch.randn(4, 5, 6, generator=gen, dtype=torch.float64)
    for dim in (0, 1, 2, -1):
        torch.testing.assert_close(smooth_max(x, 2.0, dim=dim),
                                   torch.logsumexp(2.0 * x, dim=dim) / 2.0, rtol=0, atol=1e-15)
    torch.testing.assert_close(smooth_max(x + 3.25, 2.0), smooth_max(x, 2.0) + 3.25,
                               rtol=0, atol=1e-13)
    assert smooth_max(x, 1.0, dim=1, keepdim=True).shape == (4, 1, 6)


def test_gradient_is_softmax(gen):
    x = torch.randn(6, 11, generator=gen, dtype=torch.float64, requires_grad=True)
    k = 3.7
    (grad,) = torch.autograd.grad(smooth_max(x, k).sum(), x)
    torch.testing.assert_close(grad, torch.softmax(k * x.detach(), dim=-1), rtol=0, atol=1e-15)
    assert torch.autograd.gradcheck(lambda t: smooth_max(t, 2.0), (x,))


def test_gap_non_increasing_in_k(gen):
    x = torch.randn(200, 10, generator=gen, dtype=torch.float64)
    ks = torch.logspace(-1, 2, 30, dtype=torch.float64)
    kgap = torch.stack([k * (smooth_max(x, float(k)) - x.amax(-1)) for k in ks])
    assert (kgap[1:] - kgap[:-1]).max() <= 1e-12


def test_stable_for_large_and_infinite_entries():
    x = torch.tensor([[1e4, 1e4 - 1.0, -1e4], [-math.inf, 0.0, -math.inf]], dtype=torch.float64)
    out = smooth_max(x, 1.0)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0], torch.tensor(1e4 + math.log1p(math.exp(-1.0)),
                                                    dtype=torch.float64))
    assert out[1].item() == 0.0


@settings(max_examples=30, deadline=None)
@given(k=st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf)))
def test_rejects_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        smooth_max(torch.zeros(3, dtype=torch.float64), k)


def test_rejects_non_float_input():
    with pytest.raises(TypeError, match="floating-point"):
        smooth_max(torch.arange(3), 1.0)
    with pytest.raises(TypeError, match="k must be"):
        smooth_max(torch.zeros(3), "2")
