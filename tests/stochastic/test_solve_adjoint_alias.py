"""``solve(..., adjoint=True)`` routes to ``solve_adjoint`` (Li et al. 2020, arXiv:2001.01328;
Kidger et al. 2021, arXiv:2105.13493) with the same semantics: same states, same gradients,
bit for bit; options the adjoint lacks are refused by name. float64."""

from __future__ import annotations

import pytest
import torch

from kexue.stochastic import SDE, BrownianInterval, solve, solve_adjoint

F64 = torch.float64


def _problem():
    th = torch.tensor([0.7, 1.3], dtype=F64, requires_grad=True)
    sg = torch.tensor([0.5, 0.2], dtype=F64, requires_grad=True)
    sde = SDE(lambda t, x: -th * torch.sin(x) + 0.1 * t,
              lambda t, x: sg * (1.0 + 0.5 * torch.cos(x)))               # Itô, diagonal
    x0 = torch.linspace(-1.0, 1.0, 16, dtype=F64).view(8, 2).requires_grad_()
    return sde, x0, (th, sg)


def _grads(fn, method, **kw):
    sde, x0, params = _problem()
    ts = torch.tensor([0.0, 0.4, 1.0], dtype=F64)
    bm = BrownianInterval(0.0, 1.0, (8, 2), seed=3)
    ys = fn(sde, x0, ts, params=params, method=method, dt=0.02, brownian=bm, **kw)
    loss = (ys[-1] ** 2).sum() + ys[1].sum()
    return ys.detach(), torch.autograd.grad(loss, (x0, *params))


@pytest.mark.parametrize("method,adjoint_method", [("reversible_heun", None),
                                                   ("euler", None), ("midpoint", "heun")])
def test_alias_equals_solve_adjoint(method, adjoint_method):
    """Same states and gradients (x0, θ, σ) as solve_adjoint, bit for bit."""
    ys_a, g_a = _grads(lambda *a, **k: solve(*a, adjoint=True, **k), method,
                       adjoint_method=adjoint_method)
    ys_b, g_b = _grads(solve_adjoint, method, adjoint_method=adjoint_method)
    assert torch.equal(ys_a, ys_b)
    for a, b in zip(g_a, g_b):
        assert float(b.abs().max()) > 1e-3                       # a real gradient
        assert torch.equal(a, b)


def test_alias_reversible_heun_equals_backprop():
    """Not only equal to solve_adjoint: the alias' reversible-Heun gradient equals autograd
    through the recorded forward pass to 1e-10."""
    _, g_a = _grads(lambda *a, **k: solve(*a, adjoint=True, **k), "reversible_heun")
    _, g_b = _grads(solve_adjoint, "reversible_heun", gradient="backprop")
    for a, b in zip(g_a, g_b):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_alias_default_path_from_generator():
    """brownian=None: the path comes from ``generator`` as in solve_adjoint (same numbers)."""
    sde, x0, params = _problem()
    a = solve(sde, x0, [0.0, 1.0], dt=0.05, generator=11, adjoint=True, params=params)
    b = solve_adjoint(sde, x0, [0.0, 1.0], dt=0.05, generator=11, params=params,
                      method="euler")
    assert torch.equal(a, b)


def test_alias_refuses_what_the_adjoint_lacks():
    sde, x0, params = _problem()
    ts = [0.0, 1.0]
    with pytest.raises(ValueError, match="adaptive"):
        solve(sde, x0, ts, adjoint=True, params=params, adaptive=True)
    with pytest.raises(ValueError, match="compile"):
        solve(sde, x0, ts, dt=0.1, adjoint=True, params=params, compile=True)
    with pytest.raises(ValueError, match="'milstein' has no adjoint"):
        solve(sde, x0, ts, dt=0.1, adjoint=True, params=params, method="milstein")
    with pytest.raises(ValueError, match="params is required"):
        solve(sde, x0, ts, dt=0.1, adjoint=True)
    with pytest.raises(ValueError, match="only with adjoint=True"):
        solve(sde, x0, ts, dt=0.1, params=params)
    with pytest.raises(ValueError, match="only with adjoint=True"):
        solve(sde, x0, ts, dt=0.1, adjoint_method="heun")
    with pytest.raises(ValueError, match="either brownian= or generator="):
        solve(sde, x0, ts, dt=0.1, adjoint=True, params=params, generator=1,
              brownian=BrownianInterval(0.0, 1.0, (8, 2), seed=1))
