"""NaN/inf in the middle of ``solve``: ``SolveDiverged`` names the first non-finite step, found
from cheap periodic checks (every ``CHECK_EVERY`` steps, not every step) and a replay. float64."""

from __future__ import annotations

import math

import pytest
import torch

import kexue.stochastic._finite as fin
import kexue.stochastic._solvers as sol
from kexue.stochastic import SDE, SolveDiverged, solve

F64 = torch.float64
NAN = float("nan")


def nan_after_half() -> SDE:
    """Drift -x, NaN for t > 0.5: on the grid k/100 the first bad step is k = 51."""
    return SDE(lambda t, x: torch.where(t > 0.5, torch.full_like(x, NAN), -x),
               lambda t, x: 0.1 * x)


@pytest.mark.parametrize("method", ["euler", "milstein", "heun", "midpoint"])
@pytest.mark.parametrize("grad", [False, True])
def test_drift_nan_at_known_time(method, grad):
    """Euler/Milstein evaluate f at t_k only: step 51 (t_51 = 0.51), source "drift". Heun
    (f at t_{k+1}) and midpoint (f at t_k + h/2) meet t > 0.5 inside step 50: source "update"."""
    x0 = torch.ones(8, 2, dtype=F64).requires_grad_(grad)
    k, source = (51, "drift") if method in ("euler", "milstein") else (50, "update")
    pattern = rf"step {k} \(t = {k / 100:g} → {(k + 1) / 100:g}\)"
    with pytest.raises(SolveDiverged, match=pattern) as err:
        solve(nan_after_half(), x0, [0.0, 0.3, 1.0], dt=0.01, method=method, generator=0)
    e = err.value
    assert (e.step, e.source, e.paths) == (k, source, list(range(8)))
    assert e.t_start == pytest.approx(k / 100) and e.t_end == pytest.approx((k + 1) / 100)
    assert isinstance(e, FloatingPointError)


def test_diffusion_inf_named():
    sde = SDE(lambda t, x: -x,
              lambda t, x: torch.where(t >= 0.7, torch.full_like(x, math.inf), 0.1 * x))
    x0 = torch.ones(4, 1, dtype=F64)
    with pytest.raises(SolveDiverged) as err:
        solve(sde, x0, [0.0, 1.0], dt=0.1, generator=0)
    assert err.value.source == "diffusion" and err.value.step == 7


def test_blowup_step_matches_scalar_recursion():
    """dx = x² dt (zero noise), Euler x_{k+1} = x_k + h x_k²: the step at which the state
    overflows, from the same recursion in Python floats; only path 2 (x0 = 1) blows up."""
    h, n = 0.01, 300
    x0 = torch.tensor([[0.1], [0.5], [1.0]], dtype=F64)
    x, k_inf = 1.0, None
    for k in range(n):
        x = x + h * (x * x)
        if not math.isfinite(x):
            k_inf = k
            break
    assert k_inf is not None and k_inf > 64                 # found after a passed check
    sde = SDE(lambda t, x: x * x, lambda t, x: torch.zeros_like(x))
    with pytest.raises(SolveDiverged) as err:
        solve(sde, x0, [0.0, n * h], dt=h, generator=0)
    assert err.value.step == k_inf and err.value.paths == [2]


def test_linear_sde_overflow_located():
    """SDE.linear (the fused affine loop): x_{k+1} = (1 + a h) x_k overflows at the first k
    with 101^(k+1) > max float64, i.e. k = 153."""
    from kexue.stochastic import SDE as S
    sde = S.linear(a=1e4, c=1e-3)
    x0 = torch.ones(5, 1, dtype=F64)
    k_inf = math.ceil(math.log(torch.finfo(F64).max) / math.log(101.0)) - 1
    with pytest.raises(SolveDiverged) as err:
        solve(sde, x0, [0.0, 3.0], dt=0.01, generator=0)
    assert abs(err.value.step - k_inf) <= 1                  # noise c ΔW moves it by ≤ 1 step


def test_check_finite_false_returns_nan_and_checks_do_not_change_results():
    x0 = torch.ones(8, 2, dtype=F64)
    out = solve(nan_after_half(), x0, [0.0, 1.0], dt=0.01, generator=0, check_finite=False)
    assert torch.isnan(out[-1]).all()
    for drift in (lambda t, x: -x, lambda t, x: -x + 0.1 * torch.sin(x)):  # fused, loop
        sde = SDE(drift, lambda t, x: 0.3 * x)
        a = solve(sde, x0, [0.0, 0.5, 1.0], dt=0.001, generator=4)
        b = solve(sde, x0, [0.0, 0.5, 1.0], dt=0.001, generator=4, check_finite=False)
        assert torch.equal(a, b)
    with pytest.raises(TypeError, match="check_finite"):
        solve(sde, x0, [0.0, 1.0], dt=0.1, check_finite="yes")


def test_checks_are_periodic_not_per_step(monkeypatch):
    """1000 steps of the step-by-step loop (a drift that is not affine, so not the fused linear
    path): the state is read back ceil(1000/64) = 16 times, not 1000 (no host sync per step on
    CUDA)."""
    calls = []

    def counting(x):
        calls.append(1)
        return bool(torch.isfinite(x).all())
    monkeypatch.setattr(sol, "all_finite", counting)
    monkeypatch.setattr(fin, "all_finite", counting)
    sde = SDE(lambda t, x: -x + 0.1 * torch.sin(x), lambda t, x: 0.3 * x)
    solve(sde, torch.ones(8, 2, dtype=F64), [0.0, 1.0], dt=0.001, generator=4)
    assert len(calls) == math.ceil(1000 / fin.CHECK_EVERY)
