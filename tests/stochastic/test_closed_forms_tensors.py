"""Closed forms (kexue.fm archives 3749–3766): tensors in → tensors out (same dtype and device,
the same numbers as NumPy in), NumPy in → NumPy out, and ``sigma=`` wherever ``alpha=`` is
(``alpha = sigma**2``; both → TypeError). float64 unless a float32 dtype is the point."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from kexue.stochastic import closed_forms as cf

X = np.linspace(-1.5, 1.5, 7)


def _alpha_functions():
    out = []
    for name in cf.__all__:
        params = inspect.signature(getattr(cf, name)).parameters
        if "alpha" in params and "sigma" not in params:
            out.append(name)
    return out


# arguments (by name) for every function that takes alpha; alpha itself is left out
ALPHA_CASES = {
    "drift_diffusion_density": dict(x=X, t=0.8, x0=0.1, p=0.3),
    "heat_kernel": dict(xb=X, xa=0.2, t=0.7),
    "ou_var": dict(t=np.array([0.1, 0.5, 2.0]), theta=1.3),
    "ou_transition_density": dict(xb=X, xa=0.4, t=0.6, theta=1.3),
    "ou_gaussian_evolution": dict(m0=0.5, s0=0.2, t=np.array([0.3, 1.0]), theta=0.9),
    "ou_stationary_density": dict(x=X, theta=1.3),
    "linear_sde_density": dict(xb=X, xa=0.2, t=0.5, lam=0.7),
    "mehler_kernel": dict(xb=X, xa=0.3, T=0.9, omega=1.1),
    "van_vleck_kernel": dict(action=np.array([0.2, 0.5]), mixed_second_derivative=-1.3),
    "linear_density_from_mehler": dict(xb=X, xa=0.3, t=0.9, lam=0.8),
    "feynman_kac_harmonic": dict(x=X, T=0.9, omega=1.1),
    "feynman_kac_harmonic_gaussian": dict(x=X, T=0.9, omega=1.1, beta=0.5),
    "feynman_kac_linear": dict(x=X, T=0.9, c=0.8),
    "heat_dirichlet_mode": dict(x=np.linspace(0.1, 0.9, 5), t=0.2, L=1.0),
    "heat_absorbing_wall": dict(x=np.linspace(0.1, 2.0, 5), t=0.3, x0=0.5),
    "gibbs_density": dict(U=lambda x: 0.5 * x * x, x=X),
    "double_well_stationary_density": dict(x=X),
    "mehler_first_order": dict(xb=X, xa=0.3, T=0.9),
}


def test_every_alpha_function_is_covered():
    assert sorted(_alpha_functions()) == sorted(ALPHA_CASES)


def _as_tuple(v):
    return v if isinstance(v, tuple) else (v,)


@pytest.mark.parametrize("name", sorted(ALPHA_CASES))
def test_sigma_equals_alpha_and_tensor_equals_numpy(name):
    fn, kw = getattr(cf, name), ALPHA_CASES[name]
    sigma = 0.8
    ref = _as_tuple(fn(**kw, alpha=sigma**2))
    for r in ref:
        assert isinstance(r, (np.ndarray, np.floating))            # NumPy in → NumPy out
        assert np.all(np.isfinite(r)) and np.any(np.abs(r) > 1e-6)  # a real number
    got = _as_tuple(fn(**kw, sigma=sigma))
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=1e-14, atol=0)
    # not vacuous: another alpha changes the answer
    other = _as_tuple(fn(**kw, alpha=1.7))
    assert any(np.max(np.abs(o - r)) > 1e-6 for o, r in zip(other, ref))
    tkw = {k: (torch.as_tensor(v, dtype=torch.float64) if isinstance(v, (np.ndarray, float))
               else v) for k, v in kw.items()}
    tens = _as_tuple(fn(**tkw, sigma=torch.tensor(sigma, dtype=torch.float64)))
    for r, g in zip(ref, tens):
        assert isinstance(g, torch.Tensor) and g.dtype == torch.float64
        np.testing.assert_allclose(g.numpy(), r, rtol=1e-14, atol=0)


def test_both_alpha_and_sigma_is_a_type_error():
    with pytest.raises(TypeError, match="either alpha= .* or sigma="):
        cf.heat_kernel(0.1, 0.0, 1.0, alpha=0.5, sigma=0.7)
    with pytest.raises(TypeError, match="not both"):
        cf.heat_kernel(0.1, 0.0, 1.0, 0.5, sigma=0.7)            # alpha positional


def test_functions_with_their_own_sigma_keep_it():
    """Finance / first passage take the volatility sigma directly (no alpha to map)."""
    a = cf.gbm_var(1.0, 1.0, 0.05, sigma=0.2)
    assert a == pytest.approx(np.exp(0.1) * (np.exp(0.04) - 1.0), rel=1e-14)
    b = cf.black_scholes_call(torch.tensor([100.0, 110.0]), 100.0, 0.05, 0.2, 1.0)
    assert isinstance(b, torch.Tensor) and b.dtype == torch.float32
    np.testing.assert_allclose(b.numpy(), cf.black_scholes_call(np.array([100.0, 110.0]),
                                                                100.0, 0.05, 0.2, 1.0),
                               rtol=1e-6)


def test_tensor_dtype_device_and_tuples():
    x32 = torch.linspace(-1, 1, 5, dtype=torch.float32)
    out = cf.ou_transition_density(x32, 0.2, 0.5, 1.0, 0.7)
    assert out.dtype == torch.float32 and out.device == x32.device
    ref = cf.ou_transition_density(x32.double().numpy(), 0.2, 0.5, 1.0, 0.7)
    np.testing.assert_allclose(out.numpy(), ref.astype(np.float32), rtol=0, atol=0)
    m, v = cf.ou_gaussian_evolution(torch.tensor(0.5, dtype=torch.float64), 0.2, 1.0, 0.9,
                                    sigma=0.5)
    assert isinstance(m, torch.Tensor) and isinstance(v, torch.Tensor)
    assert float(v) == pytest.approx(0.04 * np.exp(-1.8) + 0.25 * (1 - np.exp(-1.8)) / 1.8,
                                     rel=1e-14)
    pos, pr = cf.walk_pmf(torch.tensor(5), 0.3)                  # integer tensor in
    assert pr.dtype == torch.get_default_dtype() and float(pr.sum()) == pytest.approx(1.0)
    mean, cov = cf.linear_sde_nd_moments(torch.tensor([[-1.0, 0.0], [0.0, -2.0]]),
                                         torch.zeros(2), torch.eye(2), torch.ones(2),
                                         torch.zeros(2, 2), 1.0)
    assert mean.shape == (2,) and cov.shape == (2, 2) and mean.dtype == torch.float32
    np.testing.assert_allclose(mean.numpy(), [np.exp(-1.0), np.exp(-2.0)], rtol=1e-6)
    law = cf.cir_distribution(torch.tensor(0.5), 1.0, 1.2, 0.4, 0.3)   # scipy law unchanged
    assert hasattr(law, "cdf")


@pytest.mark.gpu
def test_tensors_on_cuda_come_back_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA (torch.cuda.is_available() is False)")
    x = torch.linspace(-1, 1, 5, device="cuda")
    out = cf.heat_kernel(x, 0.0, 1.0, sigma=0.5)
    assert out.device == x.device and out.dtype == torch.float32
    np.testing.assert_allclose(out.cpu().numpy(),
                               cf.heat_kernel(x.cpu().double().numpy(), 0.0, 1.0, 0.25),
                               rtol=1e-6)
