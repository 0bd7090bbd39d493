"""Random walks (kexue.fm archive 3750): exact laws, lattice master equation, O(Δs²) continuum
limit, gambler's ruin (V1–V4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kexue.stochastic import closed_forms as cf
from kexue.stochastic._lattice_walk import LatticeWalk
from kexue.stochastic._sde import SDE
from kexue.stochastic._walk import RandomWalk

ALPHA, P_DRIFT, T = 0.7, 0.8, 0.9


def _slope(h, err):
    return np.polyfit(np.log(h), np.log(err), 1)[0]


# ------------------------------------------------------------------------------ V1 exact law
def test_lattice_propagation_equals_binomial_pmf():
    ds, n = 0.05, 150
    walk = LatticeWalk.from_drift(P_DRIFT, ALPHA, ds, bounds=(-10.0, 10.0))
    w = 0.5 * (1 + P_DRIFT * ds / ALPHA)
    P = walk.propagate(walk.delta(0.0), n)
    pos, pr = RandomWalk(w, up=ds, down=ds).pmf(n)
    idx = np.rint((pos - walk.x[0]) / ds).astype(int)
    np.testing.assert_allclose(P[idx], pr, rtol=0, atol=1e-13)
    assert P.sum() == pytest.approx(1.0, abs=1e-13)  # nothing reached the walls
    assert P.sum() - P[idx].sum() < 1e-15  # mass only on the reachable sub-lattice


@pytest.mark.parametrize("p, up, down", [(0.5, 1.0, 1.0), (0.3, 2.0, 0.5), (0.9, 0.1, 0.3)])
def test_pmf_mean_var(p, up, down):
    rw = RandomWalk(p, up=up, down=down)
    pos, pr = rw.pmf(40)
    assert pr.sum() == pytest.approx(1.0, abs=1e-13)
    m = (pos * pr).sum()
    assert m == pytest.approx(40 * (p * up - (1 - p) * down), abs=1e-12)
    assert ((pos - m) ** 2 * pr).sum() == pytest.approx(40 * p * (1 - p) * (up + down) ** 2,
                                                       rel=1e-12)
    assert rw.mean(40) == pytest.approx(m, abs=1e-12)


def test_sample_shape_moments_and_reproducibility():
    rw = RandomWalk(0.3, up=2.0, down=0.5)
    g = torch.Generator().manual_seed(1)
    X = rw.sample(50, 40000, generator=g)
    assert X.shape == (51, 40000) and X.dtype == torch.float64
    assert torch.all(X[0] == 0)
    se_m = math.sqrt(rw.var(50) / 40000)
    assert abs(X[-1].mean().item() - rw.mean(50)) < 4 * se_m
    se_v = rw.var(50) * math.sqrt(2 / 40000)
    assert abs(X[-1].var().item() - rw.var(50)) < 5 * se_v
    again = rw.sample(50, 40000, generator=torch.Generator().manual_seed(1))
    assert torch.equal(X, again)


# --------------------------------------------------------------------- V2 continuum limit
def test_asymmetric_walk_converges_at_order_two():
    """sup|pmf/(2Δs) − N(pT, αT)| ≈ 7.2e-4, 1.8e-4, 4.5e-5 (Δs = 0.04, 0.02, 0.01): slope 2."""
    dss, errs = [0.04, 0.02, 0.01], []
    for ds in dss:
        walk = LatticeWalk.from_drift(P_DRIFT, ALPHA, ds, bounds=(-4.0, 5.0))
        n = round(T / walk.dt)
        xs, dens = walk.density(walk.propagate(walk.delta(0.0), n))
        assert np.diff(xs).min() == pytest.approx(2 * ds)  # the reachable sub-lattice
        exact = cf.drift_diffusion_density(xs, n * walk.dt, 0.0, P_DRIFT, ALPHA)
        errs.append(np.max(np.abs(dens - exact)))
    np.testing.assert_allclose(errs, [7.2e-4, 1.8e-4, 4.5e-5], rtol=0.02)
    assert abs(_slope(dss, errs) - 2.0) < 0.05


def test_ou_lattice_walk_matches_fokker_planck():
    """Position-dependent drift p = −θx: the lattice density converges to the OU law at O(Δs²)."""
    theta, dss, errs = 1.3, [0.04, 0.02], []
    drift = lambda t, x: -theta * x  # noqa: E731
    for ds in dss:
        walk = LatticeWalk.from_drift(drift, ALPHA, ds, bounds=(-4.0, 4.0))
        n = round(T / walk.dt)
        p0 = walk.from_density(cf.drift_diffusion_density(walk.x, 0.01, 1.0, 0.0, 1.0))
        xs, dens = walk.density(walk.propagate(p0 / p0.sum(), n))
        m, v = cf.ou_gaussian_evolution(1.0, 0.1, n * walk.dt, theta, ALPHA)
        exact = np.exp(-(xs - m) ** 2 / (2 * v)) / np.sqrt(2 * np.pi * v)
        errs.append(np.max(np.abs(dens - exact)))
    assert errs[1] < 2e-4 and abs(_slope(dss, errs) - 2.0) < 0.1


def test_time_dependent_drift_uses_current_time():
    # p(t) = c for t < 0.5 else −c: the mean after T = 1 is ≈ 0
    c = 0.6
    walk = LatticeWalk.from_drift(lambda t, x: torch.where(t < 0.5, c, -c) + 0 * x, 1.0, 0.02)
    n = round(1.0 / walk.dt)
    P = walk.propagate(walk.delta(0.0), n)
    assert abs((walk.x * P).sum()) < 3 * c * walk.dt


def test_mass_conservation_and_absorption():
    walk = LatticeWalk.from_drift(lambda t, x: 0.5 - x, ALPHA, 0.05, bounds=(-1.0, 1.0))
    p0 = walk.delta(0.3)
    ref = walk.propagate(p0, 3000, boundary="reflecting")
    assert ref.sum() == pytest.approx(1.0, abs=1e-13)
    assert np.all(ref >= 0)
    ab = walk.propagate(p0, 3000, boundary="absorbing")
    assert 0 <= ab.sum() < 0.2 and ab[0] == 0 and ab[-1] == 0


def test_density_parity_rule():
    walk = LatticeWalk.from_drift(0.0, 1.0, 0.1, bounds=(-1.0, 1.0))
    xs, d = walk.density(walk.propagate(walk.delta(0.0), 3))
    assert xs.size == walk.x.size // 2 and d.sum() * 2 * walk.ds == pytest.approx(1.0)
    xs, d = walk.density(np.full(walk.x.size, 1.0 / walk.x.size))
    assert xs.size == walk.x.size and d.sum() * walk.ds == pytest.approx(1.0)


# ------------------------------------------------------------------------- V3 gambler's ruin
def _simulate_exit(p, up, down, start, lower, upper, n, seed, max_steps=4000):
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n,), float(start), dtype=torch.float64)
    alive = torch.ones(n, dtype=torch.bool)
    steps = torch.zeros(n, dtype=torch.float64)
    for _ in range(max_steps):
        u = torch.rand(n, generator=g, dtype=torch.float64)
        x = torch.where(alive, x + torch.where(u < p, up, -down), x)
        steps += alive
        alive &= (x > lower) & (x < upper)
        if not alive.any():
            break
    assert not alive.any()
    return (x >= upper).double(), steps


@pytest.mark.parametrize("p, up, down, start, lower, upper", [
    (0.45, 1.0, 1.0, 5, 0, 12),
    (0.5, 1.0, 1.0, 3, 0, 8),
    (0.4, 2.0, 1.0, 4, 0, 10),  # unequal steps: exact linear system with overshoot
])
def test_gamblers_ruin_exact_vs_monte_carlo(p, up, down, start, lower, upper):
    rw = RandomWalk(p, up=up, down=down)
    h, m = rw.hit_probability(start, lower, upper), rw.mean_duration(start, lower, upper)
    hit, steps = _simulate_exit(p, up, down, start, lower, upper, 20000, seed=7)
    assert abs(hit.mean().item() - h) < 4 * math.sqrt(h * (1 - h) / 20000)
    assert abs(steps.mean().item() - m) < 4 * steps.std().item() / math.sqrt(20000)


def test_gamblers_ruin_closed_form_equals_linear_system():
    for p in (0.5, 0.37):
        rw = RandomWalk(p)
        A, b, i = rw._ruin_system(4, 0, 11)
        from scipy.sparse.linalg import spsolve
        assert spsolve(A.tocsc(), b)[i] == pytest.approx(rw.hit_probability(4, 0, 11), abs=1e-13)
        assert spsolve(A.tocsc(), np.ones(b.size))[i] == pytest.approx(
            rw.mean_duration(4, 0, 11), rel=1e-12)
    # lattice scaled by the step
    assert RandomWalk(0.3, up=0.5, down=0.5).hit_probability(1.0, 0.0, 3.0) == pytest.approx(
        float(cf.gamblers_ruin_probability(2, 6, 0.3)))
    assert RandomWalk(1.0).mean_duration(2, 0, 5) == 3.0
    assert RandomWalk(0.0).hit_probability(2, 0, 5) == 0.0


def test_v4_walk_exit_probability_converges_to_continuum():
    """w± = ½(1 ± μΔs/σ²) on (0, 1) from x = 0.3, μ = 0.5, σ = 1: 0.410020 at N = 200; O(Δs²)."""
    mu, sig, x = 0.5, 1.0, 0.3
    exact = cf.exit_probability(x, 0.0, 1.0, mu, sig)
    errs = []
    for N in (50, 100, 200):
        ds = 1.0 / N
        rw = RandomWalk(0.5 * (1 + mu * ds / sig**2), up=ds, down=ds)
        errs.append(abs(rw.hit_probability(x, 0.0, 1.0) - exact))
        if N == 200:
            assert round(rw.hit_probability(x, 0.0, 1.0), 6) == 0.410020 == round(float(exact), 6)
    assert abs(_slope([50, 100, 200], errs) + 2.0) < 0.05
    # the mean duration in time units dt = ds²/σ² tends to the continuum mean exit time
    ds = 1.0 / 400
    rw = RandomWalk(0.5 * (1 + mu * ds), up=ds, down=ds)
    assert rw.mean_duration(x, 0.0, 1.0) * ds**2 == pytest.approx(
        float(cf.mean_exit_time(x, 0.0, 1.0, mu, sig)), rel=1e-4)


def test_continuum_limit():
    rw = RandomWalk(0.6, up=1.0, down=1.0)
    mu, alpha = rw.continuum_coefficients(0.1, 0.01)
    assert mu == pytest.approx(0.2 * 0.1 / 0.01) and alpha == pytest.approx(4 * 0.24 * 0.01 / 0.01)
    sde = rw.continuum_limit(0.1, 0.01)
    assert isinstance(sde, SDE)
    x = torch.zeros(3, 1, dtype=torch.float64)
    assert torch.allclose(sde.f(torch.tensor(0.0), x), torch.full((3, 1), mu, dtype=torch.float64))
    assert torch.allclose(sde.g(torch.tensor(0.0), x) ** 2,
                          torch.full((3, 1), alpha, dtype=torch.float64))
    # general steps: mean and variance per step are reproduced exactly
    rw = RandomWalk(0.3, up=2.0, down=0.5)
    mu, alpha = rw.continuum_coefficients(0.1, 0.02)
    assert mu * 0.02 == pytest.approx(float(rw.mean(1)) * 0.1)
    assert alpha * 0.02 == pytest.approx(float(rw.var(1)) * 0.01)


# ------------------------------------------------------------------------------ bad input
@given(p=st.floats(0.0, 1.0))
@example(p=1.1125369292536007e-308)  # subnormal p: scipy's binom.pmf overflows there
@example(p=1.0)
@settings(max_examples=40, deadline=None)
def test_valid_p_gives_a_distribution(p):
    pos, pr = RandomWalk(p).pmf(25)
    assert pr.sum() == pytest.approx(1.0, abs=1e-12) and np.all(pr >= 0)
    assert (pos * pr).sum() == pytest.approx(25 * (2 * p - 1), abs=1e-11)


@given(c=st.floats(-3.0, 3.0), ds=st.floats(0.05, 0.2), n=st.integers(0, 60))
@settings(max_examples=25, deadline=None)
def test_reflecting_lattice_conserves_mass_for_any_valid_drift(c, ds, n):
    walk = LatticeWalk.from_drift(lambda t, x: c * torch.tanh(x), 1.0, ds, bounds=(-1.0, 1.0))
    P = walk.propagate(np.full(walk.x.size, 1.0 / walk.x.size), n, boundary="reflecting")
    assert P.sum() == pytest.approx(1.0, abs=1e-13) and np.all(P >= 0)


def test_from_drift_accepts_an_sde_and_seeds():
    sde = SDE(lambda t, x: -x, lambda t, x: torch.ones_like(x))
    a = LatticeWalk.from_drift(sde, 1.0, 0.1).step_probabilities()
    b = LatticeWalk.from_drift(lambda t, x: -x, 1.0, 0.1).step_probabilities()
    np.testing.assert_array_equal(a, b)
    rw = RandomWalk(0.5)
    assert torch.equal(rw.sample(5, 3, generator=4), rw.sample(5, 3, generator=4))
    assert rw.sample(5, 3).shape == (6, 3)
    with pytest.raises(TypeError, match="^generator must be"):
        rw.sample(5, 3, generator="seed")


@given(p=st.one_of(st.floats(max_value=-1e-12, allow_infinity=False),
                   st.floats(min_value=1 + 1e-12, allow_infinity=False), st.just(float("nan"))))
@settings(max_examples=30, deadline=None)
def test_invalid_p_raises(p):
    with pytest.raises(ValueError, match="^p must be a probability"):
        RandomWalk(p)


@pytest.mark.parametrize("call, match", [
    (lambda: RandomWalk(0.5).pmf(-1), "^n must be"),
    (lambda: RandomWalk(0.5).sample(-2, 10), "^n_steps must be"),
    (lambda: RandomWalk(0.5, up=0.0), "^up must be"),
    (lambda: RandomWalk(0.5).hit_probability(2, 5, 1), "lower < upper"),
    (lambda: RandomWalk(0.5, up=0.5, down=0.5).hit_probability(0.3, 0, 1), "whole multiples"),
    (lambda: RandomWalk(0.5, up=1.5, down=1.0).hit_probability(1, 0, 4), "^with up != down"),
    (lambda: LatticeWalk.from_drift(1.0, -0.7, 0.1), "^alpha must be"),
    (lambda: LatticeWalk.from_drift(1.0, 0.7, 0.0), "^ds must be"),
    (lambda: LatticeWalk.from_drift(lambda t, x: -5 * x, 0.7, 0.2), "reduce ds"),
    (lambda: LatticeWalk.from_drift(0.0, 1.0, 0.1).propagate(np.ones(3), 2), "^p0 must have"),
    (lambda: LatticeWalk.from_drift(0.0, 1.0, 0.1).propagate(np.ones(101), -1), "^n_steps"),
    (lambda: LatticeWalk.from_drift(0.0, 1.0, 0.1).propagate(np.ones(101), 1, boundary="open"),
     "^boundary must be"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
