"""Adaptive stepping (step doubling + PI controller on one BrownianInterval): the pathwise error
against the exact GBM solution on the same Brownian path falls with rtol (fitted), a sharp
transient is resolved with fewer step evaluations than fixed stepping needs for the same error,
rejected steps re-query the same path (deterministic, bounded), bad input. All float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue.stochastic import SDE, BrownianInterval, solve
from kexue.stochastic._adaptive import solve_adaptive

F64 = torch.float64
MU, SIGMA = 0.5, 0.5


def gbm() -> SDE:
    return SDE(lambda t, x: MU * x, lambda t, x: SIGMA * x,
               diffusion_dx=lambda t, x: torch.full_like(x, SIGMA))


def transient() -> SDE:
    """dX = -k(t)(X - 1) dt + 0.1 dW, k(t) = 400 exp(-((t - 0.1)/0.015)²): a sharp relaxation
    burst around t = 0.1 and a pure Brownian motion elsewhere (where Euler is exact)."""
    def k(t):
        return 400.0 * torch.exp(-((t - 0.1) / 0.015) ** 2)
    return SDE(lambda t, x: -k(t) * (x - 1.0), lambda t, x: x.new_tensor(0.1), noise="additive")


@pytest.mark.parametrize("name", ["euler", "milstein"])
def test_error_falls_with_rtol(name):
    """GBM, 200 paths, rtol = 10^-1 … 10^-3 (atol = rtol/10): E|X_T - exact| against the exact
    exp((μ - σ²/2)T + σ W_T) from the same tree decreases with rtol, fitted log-log slope in
    [0.25, 1] (measured 0.38 Euler, 0.39 Milstein), and the finest run's error is 4× below the
    coarsest's."""
    bm = BrownianInterval(0.0, 1.0, (200, 1), seed=3)
    x0 = torch.ones(200, 1, dtype=F64)
    exact = torch.exp((MU - SIGMA**2 / 2) + SIGMA * bm(0.0, 1.0))
    rtols = np.array([1e-1, 3e-2, 1e-2, 3e-3, 1e-3])
    errs = []
    for rtol in rtols:
        r = solve_adaptive(gbm(), x0, [0.0, 1.0], method=name, rtol=float(rtol),
                           atol=float(rtol) / 10, brownian=bm)
        assert r.xs.shape == (2, 200, 1) and r.steps[-1] == 1.0
        errs.append(float((r.xs[-1] - exact).abs().mean()))
    slope = float(np.polyfit(np.log(rtols), np.log(errs), 1)[0])
    assert 0.25 <= slope <= 1.0, (slope, errs)
    assert errs[-1] < errs[0] / 4, errs


def test_fewer_evaluations_than_fixed_steps_on_a_transient():
    """On the sharp transient, adaptive Euler (step doubling) at rtol = atol = 10^-2 reaches a
    pathwise error (against Euler at dt = 2^-14 on the same tree) that fixed steps need ≥ 2× as
    many step evaluations for (the smallest power-of-two grid reaching it), counting 3
    evaluations per adaptive attempt (one full, two half steps; the f/g call counters agree).
    Measured: 90 evaluations vs 256 steps."""
    bm = BrownianInterval(0.0, 1.0, (200, 1), seed=3)
    x0 = torch.zeros(200, 1, dtype=F64)
    ref = solve(transient(), x0, [0.0, 1.0], dt=2.0**-14, brownian=bm)[-1]
    r = solve_adaptive(transient(), x0, [0.0, 1.0], rtol=1e-2, atol=1e-2, dt0=1e-3, brownian=bm,
                       error_estimate="doubling")
    err = float((r.xs[-1] - ref).abs().mean())
    evals = 3 * (r.n_accepted + r.n_rejected)
    assert r.n_f == r.n_g == evals and r.error_estimate == "doubling"
    assert r.n_rejected >= 1                         # the burst forces at least one rejection
    needed = next(2**k for k in range(4, 13)
                  if float((solve(transient(), x0, [0.0, 1.0], dt=2.0**-k, brownian=bm)[-1]
                            - ref).abs().mean()) <= err)
    assert needed >= 2 * evals, (needed, evals, err)
    h = np.diff(r.steps)
    burst = (r.steps[:-1] > 0.05) & (r.steps[:-1] < 0.15)
    assert h[burst].max() < h[~burst].max() / 4      # small steps only around the burst


def test_outputs_determinism_and_generator():
    """Output times are hit exactly; the same tree gives identical results; without a tree the
    generator seeds one (int seed reproducible)."""
    bm = BrownianInterval(0.0, 2.0, (50, 2), seed=1)
    x0 = torch.ones(50, 2, dtype=F64)
    ts = [0.0, 0.3, 1.0, 2.0]
    a = solve_adaptive(gbm(), x0, ts, rtol=1e-2, brownian=bm)
    b = solve_adaptive(gbm(), x0, ts, rtol=1e-2, brownian=bm)
    assert torch.equal(a.xs, b.xs) and a.xs.shape == (4, 50, 2)
    assert all(t in a.steps for t in ts)
    c = solve_adaptive(gbm(), x0, ts, rtol=1e-2, generator=5)
    assert torch.equal(c.xs, solve_adaptive(gbm(), x0, ts, rtol=1e-2, generator=5).xs)
    assert torch.equal(solve(gbm(), x0, ts, adaptive=True, rtol=1e-2, brownian=bm), a.xs)


def test_adaptive_bad_input():
    x0 = torch.ones(4, 1, dtype=F64)
    with pytest.raises(ValueError, match=r"rtol must be a positive finite number; got 0\.0"):
        solve_adaptive(gbm(), x0, [0.0, 1.0], rtol=0.0)
    with pytest.raises(ValueError, match=r"atol must be a non-negative"):
        solve_adaptive(gbm(), x0, [0.0, 1.0], atol=-1e-3)
    with pytest.raises(ValueError, match=r"dt0 must be a positive"):
        solve_adaptive(gbm(), x0, [0.0, 1.0], dt0=-0.1)
    with pytest.raises(TypeError, match=r"brownian must be a BrownianInterval"):
        solve_adaptive(gbm(), x0, [0.0, 1.0], brownian=torch.zeros(4, 4, 1))
    with pytest.raises(ValueError, match=r"brownian covers \[0\.0, 0\.5\] but ts spans"):
        solve_adaptive(gbm(), x0, [0.0, 1.0], brownian=BrownianInterval(0, 0.5, (4, 1)))
    with pytest.raises(ValueError, match=r"brownian has shape \(3, 1\)"):
        solve_adaptive(gbm(), x0, [0.0, 1.0], brownian=BrownianInterval(0, 1, (3, 1)))
    with pytest.raises(ValueError, match=r"pass dt0 \(the first step\) instead of dt"):
        solve(gbm(), x0, [0.0, 1.0], adaptive=True, dt=0.1)
    with pytest.raises(RuntimeError, match=r"3 step attempts reached.*raise max_steps"):
        solve_adaptive(gbm(), x0, [0.0, 1.0], rtol=1e-6, atol=1e-8, max_steps=3, generator=0)
