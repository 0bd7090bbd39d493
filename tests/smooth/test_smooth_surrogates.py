"""Smooth surrogates (kexue.fm 6620): error bounds, limits, gradcheck, metric identities."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from kexue.smooth import (
    smooth_abs,
    smooth_max,
    smooth_relu,
    smooth_sign,
    smooth_step,
    soft_accuracy,
    soft_argmax,
    soft_f1,
    soft_f1_loss,
    soft_onehot,
    soft_precision,
    soft_recall,
)

D = torch.float64


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(99)


def test_softplus_error_is_log2_over_k_at_zero_and_bounded(gen):
    x = torch.linspace(-5, 5, 2001, dtype=D)
    for k in (0.5, 1.0, 8.0, 1e3):
        err = smooth_relu(x, k) - x.clamp_min(0)
        assert err.min() >= -1e-15  # > 0 exactly; rounds to ~0 far from the kink
        assert abs(err.max().item() - math.log(2) / k) <= 1e-12 / k + 1e-15
        assert abs(smooth_relu(torch.zeros(1, dtype=D), k).item() - math.log(2) / k) <= 1e-15
    # equals the 2-point LSE of [x, 0]
    z = 3 * torch.randn(100, generator=gen, dtype=D)
    torch.testing.assert_close(smooth_relu(z, 2.5),
                               smooth_max(torch.stack([z, torch.zeros_like(z)], -1), 2.5))


def test_smooth_abs_error_bounds():
    x = torch.linspace(-3, 3, 60001, dtype=D)
    tanh_const = max(u * (1 - math.tanh(u)) for u in np.linspace(1e-4, 3, 300001))
    for k in (1.0, 10.0, 100.0):
        e = smooth_abs(x, k, method="logcosh") - x.abs()
        assert e.min() >= -1e-15 and abs(e.max().item() - math.log(2) / k) < 1e-12
        e = smooth_abs(x, k, method="sqrt") - x.abs()
        assert e.min() >= -1e-15 and abs(e.max().item() - 1 / k) < 1e-12
        e = x.abs() - smooth_abs(x, k, method="tanh")
        assert e.min() >= -1e-15 and e.max().item() <= tanh_const / k + 1e-12
        assert e.max().item() >= 0.99 * tanh_const / k
    with pytest.raises(ValueError, match="logcosh, sqrt, tanh"):
        smooth_abs(x, 1.0, method="huber")


def test_logcosh_abs_is_two_point_lse():
    x = torch.linspace(-2, 2, 41, dtype=D)
    k = 3.0
    lse = smooth_max(torch.stack([x, -x], -1), k)
    torch.testing.assert_close(smooth_abs(x, k), lse, rtol=0, atol=1e-15)
    # max(x, y) = (x + y + |x - y|)/2 with the logcosh |.| is exactly the 2-point LSE_2k
    y = 0.3 * torch.ones_like(x)
    via_abs = (x + y + smooth_abs(x - y, k)) / 2
    torch.testing.assert_close(via_abs, smooth_max(torch.stack([x, y], -1), 2 * k),
                               rtol=0, atol=1e-14)


def test_limits_sign_step_onehot_argmax(gen):
    x = torch.tensor([-2.0, -0.1, 0.1, 3.0], dtype=D)
    torch.testing.assert_close(smooth_sign(x, 1e3), torch.sign(x))
    torch.testing.assert_close(smooth_step(x, 1e3), (x > 0).to(D))
    assert smooth_step(torch.zeros(1, dtype=D), 5.0).item() == 0.5
    z = torch.randn(50, 7, generator=gen, dtype=D)
    oh = torch.nn.functional.one_hot(z.argmax(-1), 7).to(D)
    torch.testing.assert_close(soft_onehot(z, 1e6), oh)
    torch.testing.assert_close(soft_argmax(z, 1e6), z.argmax(-1).to(D))
    ties = torch.tensor([[1.0, 3.0, 3.0, 0.0]], dtype=D)
    torch.testing.assert_close(soft_onehot(ties, 1e4), torch.tensor([[0, 0.5, 0.5, 0]], dtype=D))
    torch.testing.assert_close(soft_argmax(ties, 1e4), torch.tensor([1.5], dtype=D))
    torch.testing.assert_close(soft_argmax(z.T, 1e6, dim=0), z.argmax(-1).to(D))


def test_gradcheck_every_surrogate(gen):
    x = torch.randn(3, 5, generator=gen, dtype=D, requires_grad=True)
    y = torch.randint(0, 2, (3, 5), generator=gen)
    c = torch.randint(0, 5, (3,), generator=gen)
    fns = [
        lambda t: smooth_max(t, 1.7), lambda t: soft_onehot(t, 1.3), lambda t: soft_argmax(t, 2.0),
        lambda t: smooth_relu(t, 2.0), lambda t: smooth_sign(t, 2.0), lambda t: smooth_step(t, 2.0),
        lambda t: smooth_abs(t, 2.0), lambda t: smooth_abs(t, 2.0, method="sqrt"),
        lambda t: smooth_abs(t, 2.0, method="tanh"),
        lambda t: soft_f1(t, y), lambda t: soft_f1(t, c), lambda t: soft_accuracy(t, c),
        lambda t: soft_precision(t, y, average="micro"), lambda t: soft_recall(t, c),
    ]
    for fn in fns:
        assert torch.autograd.gradcheck(fn, (x,))


def _hard_logits(pred01: torch.Tensor) -> torch.Tensor:
    return torch.where(pred01 > 0, 1.0, -1.0).to(D)


def test_soft_metrics_equal_sklearn_on_hard_predictions(gen):
    k = 1e4  # sigma(±1e4) is exactly 0/1 in float64
    y = torch.randint(0, 2, (200,), generator=gen)
    pred = torch.randint(0, 2, (200,), generator=gen)
    logits = _hard_logits(pred)
    assert soft_f1(logits, y, k=k).item() == pytest.approx(f1_score(y, pred), abs=1e-12)
    assert soft_precision(logits, y, k=k).item() == pytest.approx(precision_score(y, pred),
                                                                  abs=1e-12)
    assert soft_recall(logits, y, k=k).item() == pytest.approx(recall_score(y, pred), abs=1e-12)
    assert soft_accuracy(logits, y, k=k).item() == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert soft_f1_loss(logits, y, k=k).item() == pytest.approx(1 - f1_score(y, pred), abs=1e-12)
    # multilabel, macro and micro
    Y = torch.randint(0, 2, (100, 4), generator=gen)
    P = torch.randint(0, 2, (100, 4), generator=gen)
    for avg in ("macro", "micro"):
        assert soft_f1(_hard_logits(P), Y, k=k, average=avg).item() == pytest.approx(
            f1_score(Y, P, average=avg), abs=1e-12)
    # multiclass: one-hot predictions via very sharp softmax
    c = torch.randint(0, 5, (300,), generator=gen)
    pc = torch.randint(0, 5, (300,), generator=gen)
    L = 10.0 * torch.nn.functional.one_hot(pc, 5).to(D)
    assert soft_f1(L, c, k=1e3).item() == pytest.approx(f1_score(c, pc, average="macro"), abs=1e-12)
    assert soft_f1(L, c, k=1e3, average="micro").item() == pytest.approx(
        f1_score(c, pc, average="micro"), abs=1e-12)
    assert soft_accuracy(L, c, k=1e3).item() == pytest.approx(accuracy_score(c, pc), abs=1e-12)


def test_soft_accuracy_jensen_bound(gen):
    z = 2 * torch.randn(400, 6, generator=gen, dtype=D)
    c = torch.randint(0, 6, (400,), generator=gen)
    ce = torch.nn.functional.cross_entropy(z, c)
    assert -torch.log(soft_accuracy(z, c)) <= ce


def test_soft_f1_formula_on_probabilities(gen):
    z = torch.randn(64, generator=gen, dtype=D)
    y = torch.randint(0, 2, (64,), generator=gen).to(D)
    p = torch.sigmoid(z)
    torch.testing.assert_close(soft_f1(z, y), 2 * (y * p).sum() / (y + p).sum())


def test_metric_bad_input():
    z = torch.zeros(4, dtype=D)
    with pytest.raises(ValueError, match="0/1"):
        soft_f1(z, torch.tensor([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="shapes do not match"):
        soft_f1(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"0\.\.2"):
        soft_f1(torch.zeros(2, 3, dtype=D), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="integer class indices"):
        soft_f1(torch.zeros(2, 3, dtype=D), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="k must be"):
        soft_f1(z, torch.zeros(4), k=0.0)
    with pytest.raises(ValueError, match="average must be"):
        soft_f1(z, torch.zeros(4), average="weighted")
    with pytest.raises(TypeError, match="logits must be a floating-point"):
        soft_f1(torch.zeros(4, dtype=torch.long), torch.zeros(4))
