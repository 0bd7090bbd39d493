"""Stochastic diffusion samplers driven by one Brownian path (``sample(..., brownian=W)``).

The noise of step ``t_i → t_{i+1}`` is ``W(t_{i+1}, t_i)/√Δt`` of a
:class:`kexue.stochastic.BrownianInterval`, so the samplers solve the reverse SDE pathwise: with
the exact score of a Gaussian mixture, the samples at ``N`` and ``2N`` steps (any grid) approach
one strong solution, at strong order 1 (the reverse SDE's noise ``g_t dw̄`` is additive, so
Euler–Maruyama is Milstein), while fresh noise per run gives unrelated samples. The marginal law
is the one of independent draws (KS test against the closed-form mixture CDF). float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from kexue.diffusion import VPSDE, GaussianMixture, sample, sample_n
from kexue.stochastic import BrownianInterval

F64 = torch.float64
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _problem(n: int = 200, seed: int = 0):
    sde = VPSDE()
    gm = GaussianMixture([0.5, 0.5], [[-1.0, 0.0], [1.0, 0.5]], [0.25, 0.16])
    x_T = gm.at(sde, sde.T).sample(n, seed)                           # exact p_T draws (n, 2)
    return sde, gm, gm.score_fn(sde), x_T


def _dist(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm(dim=1).mean())


@pytest.mark.parametrize("method,kw", [("em", {}), ("reverse_diffusion", {}),
                                       ("ancestral", {}), ("eta", {"eta": 0.5}),
                                       ("ddim", {"eta": 1.0}),
                                       ("pc", {"n_corrector": 0})])
def test_one_path_makes_samples_stable_in_the_step_count(method, kw):
    """|x_N − x_2N| on one path is ≤ 1/10 of the distance with independent noise (measured:
    about 1/50 at N = 64 for em); the step-count change is then a discretisation effect."""
    sde, _, sc, x_T = _problem(400)
    W = BrownianInterval(0.0, 1.0, tuple(x_T.shape), seed=11)
    common = dict(method=method, grid="logsnr", t_end=1e-2, denoise_last=False, **kw)
    x64, _ = sample(sc, sde, x_T, steps=64, brownian=W, **common)
    x128, _ = sample(sc, sde, x_T, steps=128, brownian=W, **common)
    y128, _ = sample(sc, sde, x_T, steps=128, generator=5, **common)
    same, indep = _dist(x64, x128), _dist(x64, y128)
    assert same < 0.1 * indep, (same, indep)


@pytest.mark.parametrize("method", ["em", "reverse_diffusion", "ancestral"])
def test_pathwise_convergence_has_strong_order_one(method):
    """RMS error to a 1024-step solution on the same path for N = 16 … 128: fitted slope
    1 ± 0.25 (additive noise: strong order 1, not the ½ of multiplicative noise; measured
    0.97–1.03 on 500 paths)."""
    sde, _, sc, x_T = _problem(200)
    W = BrownianInterval(0.0, 1.0, tuple(x_T.shape), seed=3)
    common = dict(method=method, grid="logsnr", t_end=1e-2, denoise_last=False, brownian=W)
    ref, _ = sample(sc, sde, x_T, steps=1024, **common)
    Ns = [16, 32, 64, 128]
    errs = [float(((sample(sc, sde, x_T, steps=N, **common)[0] - ref).norm(dim=1) ** 2)
                  .mean().sqrt()) for N in Ns]
    slope = -np.polyfit(np.log(Ns), np.log(errs), 1)[0]
    assert abs(slope - 1.0) < 0.25, (slope, errs)
    assert errs[-1] < errs[0] / 4


def test_the_limit_does_not_depend_on_the_grid():
    """Uniform and log-SNR grids converge to the same strong solution on one path: at 256
    steps they differ by far less than two independent-noise runs do."""
    sde, _, sc, x_T = _problem(200)
    W = BrownianInterval(0.0, 1.0, tuple(x_T.shape), seed=4)
    common = dict(method="em", steps=256, t_end=1e-2, denoise_last=False)
    xu, _ = sample(sc, sde, x_T, grid="uniform", brownian=W, **common)
    xl, _ = sample(sc, sde, x_T, grid="logsnr", brownian=W, **common)
    yl, _ = sample(sc, sde, x_T, grid="logsnr", generator=1, **common)
    assert _dist(xu, xl) < 0.05 * _dist(xu, yl)


def _mixture_cdf(x: np.ndarray, w, mu, var) -> np.ndarray:
    return sum(wk * stats.norm.cdf(x, loc=mk, scale=math.sqrt(vk))
               for wk, mk, vk in zip(w, mu, var))


def test_marginal_law_is_the_target():
    """1-D mixture, 4000 samples, em with 200 steps on one path + Tweedie denoising: KS test
    against the closed-form p_0 CDF does not reject (p > 0.01), and the same test rejects a
    target whose means are moved by 0.1 (the test has power)."""
    sde = VPSDE()
    w, mu, var = [0.3, 0.7], [-1.5, 1.0], [0.2, 0.3]
    gm = GaussianMixture(w, [[m] for m in mu], var)
    x_T = gm.at(sde, sde.T).sample(4000, 2)
    W = BrownianInterval(0.0, 1.0, tuple(x_T.shape), seed=8)
    x, _ = sample(gm.score_fn(sde), sde, x_T, method="em", steps=200, grid="logsnr",
                  t_end=1e-3, brownian=W)
    xs = x[:, 0].numpy()
    p = stats.kstest(xs, lambda v: _mixture_cdf(v, w, mu, var)).pvalue
    assert p > 0.01, p
    p_bad = stats.kstest(xs, lambda v: _mixture_cdf(v, w, [m + 0.1 for m in mu], var)).pvalue
    assert p_bad < 1e-3, p_bad


def test_int_seed_is_a_brownian_interval_on_0_T():
    sde, _, sc, x_T = _problem(50)
    common = dict(method="em", steps=20, t_end=1e-2)
    a, _ = sample(sc, sde, x_T, brownian=7, **common)
    b, _ = sample(sc, sde, x_T, brownian=BrownianInterval(0.0, 1.0, (50, 2), seed=7), **common)
    c, _ = sample(sc, sde, x_T, brownian=8, **common)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_step_noise_is_the_normalised_increment():
    """One em step from t = 1 to 1/2 with a zero score: x₁ = x(1 − h f) + g √h · W(½, 1)/√h."""
    sde = VPSDE()
    x_T = torch.zeros(3, 2, dtype=F64)
    W = BrownianInterval(0.0, 1.0, (3, 2), seed=1)
    x, _ = sample(lambda x, t: torch.zeros_like(x), sde, x_T, method="em", steps=1,
                  t_end=0.5, denoise_last=False, brownian=W)
    g = math.sqrt(float(sde.g2(1.0)))
    torch.testing.assert_close(x, g * W(0.5, 1.0), rtol=1e-12, atol=1e-14)


def test_pc_corrector_still_uses_the_generator():
    sde, _, sc, x_T = _problem(20)
    common = dict(method="pc", steps=10, t_end=1e-2, brownian=3)
    a, _ = sample(sc, sde, x_T, generator=1, **common)
    b, _ = sample(sc, sde, x_T, generator=1, **common)
    c, _ = sample(sc, sde, x_T, generator=2, **common)
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_bad_brownian_paths():
    sde, _, sc, x_T = _problem(10)
    with pytest.raises(ValueError, match="shape"):
        sample(sc, sde, x_T, method="em", steps=4, brownian=BrownianInterval(0, 1, (10, 3),
                                                                             seed=0))
    with pytest.raises(ValueError, match="covers"):
        sample(sc, sde, x_T, method="em", steps=4, brownian=BrownianInterval(0.5, 1, (10, 2),
                                                                             seed=0))
    with pytest.raises(ValueError, match="covers"):
        sample(sc, sde, x_T, method="em", steps=4, t_end=1e-3,
               brownian=BrownianInterval(0.01, 1, (10, 2), seed=0))
    with pytest.raises(ValueError, match="no noise"):
        sample(sc, sde, x_T, method="heun", steps=4, brownian=0)
    with pytest.raises(TypeError, match="brownian"):
        sample(sc, sde, x_T, method="em", steps=4, brownian="tree")
    with pytest.raises(TypeError, match="brownian"):
        sample_n(sc, sde, 10, 2, method="em", steps=4, brownian=0)


@pytest.mark.gpu
@cuda
def test_brownian_path_on_cuda_matches_cpu():
    """The path is bit-identical on every device, so CUDA samples equal CPU ones to rounding."""
    sde, _, sc, x_T = _problem(64)
    common = dict(method="em", steps=50, t_end=1e-2, brownian=5)
    a, _ = sample(sc, sde, x_T, **common)
    b, _ = sample(sc, sde, x_T.cuda(), **common)
    torch.testing.assert_close(b.cpu(), a, rtol=1e-9, atol=1e-9)
