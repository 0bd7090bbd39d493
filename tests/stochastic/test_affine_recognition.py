"""Affine SDEs given as plain callables are recognised from their traced graph (torch.fx, never
from sample values) and run on the fused linear path (Euler–Maruyama / Milstein as
``x ← M_k x + A_k``; a cumulative product when ``A ≡ 0``, e.g. GBM): the same numbers as the
step-by-step solve up to rounding (float64, 1e-12), and every non-affine or time-dependent
callable is left to the step-by-step solver."""

from __future__ import annotations

import pytest
import torch

from kexue.stochastic import SDE, solve
from kexue.stochastic import _affine as aff

F64 = torch.float64
MU, SIG, TH = 0.05, 0.2, 1.3
CAPTURED = torch.tensor([0.5, -0.25], dtype=F64)


@pytest.mark.parametrize("fn, affine", [
    (lambda t, x: x * MU, True),
    (lambda t, x: MU * x + 1.0, True),
    (lambda t, x: (x + 1.0) / 3.0 - x, True),
    (lambda t, x: -TH * (x - 0.3), True),
    (lambda t, x: x.mul(MU).add(2.0), True),
    (lambda t, x: CAPTURED * x + CAPTURED, True),
    (lambda t, x: torch.full_like(x, 0.3), True),
    (lambda t, x: x * x, False),
    (lambda t, x: torch.sin(x), False),
    (lambda t, x: 3.0 / x, False),
    (lambda t, x: t * x, False),                                  # time-dependent
    (lambda t, x: x + torch.sin(t), False),
    (lambda t, x: x if x.sum() > 0 else -x, False),               # control flow on x
    (lambda t, x: x.sum(dim=1, keepdim=True) * MU, False),        # couples components
    (lambda t, x: x[:, ::-1] * MU, False),
    (lambda t, x: torch.relu(x), False),
])
def test_recognition_is_sound(fn, affine):
    assert aff._is_affine(fn) is affine


def _eager(sde, *a, **k):
    saved, aff.RECOGNISE = aff.RECOGNISE, False
    try:
        return solve(sde, *a, **k)
    finally:
        aff.RECOGNISE = saved


@pytest.mark.parametrize("method", ["euler", "milstein"])
@pytest.mark.parametrize("name", ["gbm", "ou", "captured"])
def test_recognised_solve_equals_step_by_step(method, name):
    calls = []

    def count(fn):
        def wrapped(t, x):
            calls.append(1)
            return fn(t, x)
        return wrapped
    if name == "gbm":                                             # A ≡ 0: cumulative product
        sde = SDE(lambda t, x: x * MU, lambda t, x: x * SIG,
                  diffusion_dx=lambda t, x: torch.full_like(x, SIG))
    elif name == "ou":
        sde = SDE(lambda t, x: -TH * (x - 0.4), lambda t, x: 0.3 + 0.0 * x, noise="additive")
    else:
        sde = SDE(lambda t, x: CAPTURED * x + 0.1, lambda t, x: 0.2 * x + CAPTURED.abs())
    x0 = torch.linspace(0.5, 1.5, 40, dtype=F64).view(20, 2)
    ts = [0.0, 0.3, 0.7, 1.0]
    ref = _eager(sde, x0, ts, dt=1 / 512, method=method, generator=3)
    assert aff.affine_coefficients(sde, torch.tensor(0.0, dtype=F64), x0) is not None
    traced = SDE(count(sde.drift), sde.diffusion, noise=sde.noise,
                 diffusion_dx=sde.diffusion_dx)
    got = solve(traced, x0, ts, dt=1 / 512, method=method, generator=3)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    assert float((ref[-1] - ref[0]).abs().max()) > 1e-2          # the paths moved
    assert len(calls) < 10                                       # not called per step (512)


def test_not_affine_runs_step_by_step_and_cache_follows_the_callables():
    sde = SDE(lambda t, x: x * MU, lambda t, x: x * SIG)
    x0 = torch.ones(4, 1, dtype=F64)
    assert aff.affine_coefficients(sde, torch.tensor(0.0, dtype=F64), x0) is not None
    sde.drift = lambda t, x: torch.sin(x)                        # replaced: traced again
    assert aff.affine_coefficients(sde, torch.tensor(0.0, dtype=F64), x0) is None
    strat = SDE(lambda t, x: x * MU, lambda t, x: x * SIG, sde_type="stratonovich")
    assert aff.affine_coefficients(strat, torch.tensor(0.0, dtype=F64), x0) is None


def test_gradients_still_flow_through_the_step_by_step_path():
    mu = torch.tensor(MU, dtype=F64, requires_grad=True)
    sde = SDE(lambda t, x: x * mu, lambda t, x: x * SIG)
    x0 = torch.ones(50, 1, dtype=F64)
    out = solve(sde, x0, [0.0, 1.0], dt=0.01, generator=0)
    (g,) = torch.autograd.grad(out[-1].mean(), mu)
    assert float(g) > 0.5                                         # d E[X_T]/dμ ≈ T e^{μT}


def test_a_closure_that_changed_since_the_trace_falls_back():
    """The verdict is cached per SDE; the check at (t0, x0) catches a captured flag flipped to a
    non-affine branch after the trace, and the solve then runs step by step (same numbers as
    with the recognition off)."""
    state = {"linear": True}
    sde = SDE(lambda t, x: x * MU if state["linear"] else x * x * MU, lambda t, x: x * SIG)
    x0 = torch.linspace(0.5, 1.5, 8, dtype=F64).view(8, 1)
    t0 = torch.tensor(0.0, dtype=F64)
    f0, g0 = sde.probe(t0, x0)
    assert aff.affine_coefficients(sde, t0, x0, f0, g0) is not None
    state["linear"] = False
    f0, g0 = sde.probe(t0, x0)
    assert aff.affine_coefficients(sde, t0, x0, f0, g0) is None
    got = solve(sde, x0, [0.0, 1.0], dt=0.01, generator=1)
    torch.testing.assert_close(got, _eager(sde, x0, [0.0, 1.0], dt=0.01, generator=1),
                               rtol=0, atol=0)
