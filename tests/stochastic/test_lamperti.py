"""The Lamperti transform (thesis part 5, kexue.fm archive 3766, generalised) on GBM and CIR."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy import stats

from kexue.stochastic import closed_forms as cf
from kexue.stochastic import solve
from kexue.stochastic._lamperti import lamperti_transform

x = sp.Symbol("x")
MU, SIG = 0.1, 0.3
KAPPA, THETA, S = 1.5, 0.8, 0.4  # Feller: 2κθ = 2.4 ≥ σ² = 0.16


def test_gbm_symbolic_is_log_with_constant_drift():
    L = lamperti_transform(sp.Float(MU) * x, sp.Float(SIG) * x)
    assert sp.simplify(L.y_expr - sp.log(x) / SIG) == 0
    assert float(L.drift_expr) == pytest.approx(MU / SIG - SIG / 2, rel=1e-14)
    xs = np.array([0.2, 1.0, 3.5])
    np.testing.assert_allclose(L.to_x(L.to_y(xs)), xs, rtol=1e-14)


def test_cir_symbolic_is_square_root_with_the_known_drift():
    L = lamperti_transform(sp.Float(KAPPA) * (sp.Float(THETA) - x), sp.Float(S) * sp.sqrt(x))
    xs = np.array([0.05, 0.8, 2.0])
    np.testing.assert_allclose(L.to_y(xs), 2 * np.sqrt(xs) / S, rtol=1e-14)
    ys = np.array([0.5, 2.0, 5.0])
    expected = (4 * KAPPA * THETA - S**2) / (2 * S**2 * ys) - KAPPA * ys / 2
    np.testing.assert_allclose(L.drift_y(0.0, ys), expected, rtol=1e-13)


@pytest.mark.parametrize("case", ["gbm", "cir"])
def test_numeric_transform_matches_symbolic(case):
    if case == "gbm":
        sym = lamperti_transform(sp.Float(MU) * x, sp.Float(SIG) * x, x_ref=1.0)
        num = lamperti_transform(lambda t, z: MU * z, lambda t, z: SIG * z, x_ref=1.0)
    else:
        sym = lamperti_transform(sp.Float(KAPPA) * (sp.Float(THETA) - x), sp.Float(S) * sp.sqrt(x),
                                 x_ref=1.0)
        num = lamperti_transform(lambda t, z: KAPPA * (THETA - z), lambda t, z: S * torch.sqrt(z),
                                 x_ref=1.0)
    xs = np.array([0.3, 0.9, 1.7, 4.0])
    np.testing.assert_allclose(num.to_y(xs), sym.to_y(xs), rtol=1e-12, atol=1e-13)
    ys = sym.to_y(xs)
    np.testing.assert_allclose(num.to_x(ys), xs, rtol=1e-12)
    np.testing.assert_allclose(num.drift_y(0.0, ys), sym.drift_y(0.0, ys), rtol=1e-11)


def test_gbm_mapped_back_is_the_exact_solution_pathwise():
    L = lamperti_transform(sp.Float(MU) * x, sp.Float(SIG) * x)
    s0, t = 1.3, 0.7
    w = math.sqrt(t) * torch.randn(1000, generator=torch.Generator().manual_seed(0),
                                   dtype=torch.float64)
    y = L.to_y(torch.tensor(s0, dtype=torch.float64)) + L.drift_y(0.0, torch.zeros(1000,
                                                                  dtype=torch.float64)) * t + w
    np.testing.assert_allclose(L.to_x(y).numpy(), cf.gbm_exact(s0, t, w.numpy(), MU, SIG),
                               rtol=1e-13)
    # densities map by p_X(x) = p_Y(φ(x))/g(x): normal -> log-normal
    xs = np.linspace(0.2, 4.0, 30)
    y0 = float(L.to_y(s0))
    py = lambda y: stats.norm.pdf(y, y0 + (MU / SIG - SIG / 2) * t, math.sqrt(t))  # noqa: E731
    np.testing.assert_allclose(L.density_x(py, xs), cf.gbm_density(xs, s0, t, MU, SIG),
                               rtol=1e-12)


def test_cir_by_sra1_on_the_additive_sde_matches_the_noncentral_chi2_law():
    L = lamperti_transform(sp.Float(KAPPA) * (sp.Float(THETA) - x), sp.Float(S) * sp.sqrt(x))
    x0, t, n = 0.5, 1.0, 20000
    y0 = torch.full((n, 1), float(L.to_y(x0)), dtype=torch.float64)
    yT = solve(L.sde(), y0, [0.0, t], method="sra1", dt=t / 50, generator=0)[-1, :, 0]
    xT = L.to_x(yT).numpy()
    law = cf.cir_distribution(x0, t, KAPPA, THETA, S)
    assert law.mean() == pytest.approx(cf.cir_mean(x0, t, KAPPA, THETA), rel=1e-12)
    assert law.var() == pytest.approx(cf.cir_var(x0, t, KAPPA, THETA, S), rel=1e-10)
    assert abs(xT.mean() - law.mean()) < 4 * xT.std() / math.sqrt(n)
    assert stats.kstest(xT, law.cdf).pvalue > 1e-3


def test_bad_input():
    with pytest.raises(ValueError, match="x_ref"):
        lamperti_transform(lambda t, z: z, lambda t, z: z)
    with pytest.raises(ValueError, match="g\\(x_ref\\)"):
        lamperti_transform(lambda t, z: z, lambda t, z: z, x_ref=-1.0)
    with pytest.raises(TypeError, match="callables"):
        lamperti_transform(1.0, "x")
    with pytest.raises(ValueError, match="only x and t"):
        lamperti_transform(x, sp.Symbol("sigma") * x)
