"""Samplers on the exact score (kexue.fm 9209/9228; Song et al. 2021; Karras et al. 2022; Lu et al.
2022): measured orders by regression on ring2d and gmm16d started from exact p_T samples, RK45
accuracy per NFE, the η-family's shared marginals, stochastic samplers' laws (KS), exactness of the
exponential integrators for a constant noise prediction, the last step to t = 0, grids, bad input.
All float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from kexue.diffusion import (
    GRIDS,
    SAMPLERS,
    VESDE,
    VPSDE,
    GaussianMixture,
    GaussianPathSDE,
    SubVPSDE,
    ddpm_alphas_cumprod,
    sample,
    time_grid,
)

F64 = torch.float64
T_END = 1e-3


def _slope(nfe, err) -> float:
    """Least-squares slope of log(err) against log(1/NFE)."""
    return float(-np.polyfit(np.log(nfe), np.log(err), 1)[0])


@pytest.fixture(scope="module")
def problems():
    """ring2d and gmm16d under the VP SDE: 256 exact p_T samples and the RK45 (tol 1e-10)
    solution of the probability-flow ODE down to t_end = 1e-3."""
    torch.set_num_threads(1)
    sde = VPSDE()
    out = {}
    for name, gm in (("ring2d", GaussianMixture.ring()), ("gmm16d", GaussianMixture.random())):
        sc = gm.score_fn(sde)
        xT = gm.at(sde, sde.T).sample(256, torch.Generator().manual_seed(0))
        ref, info = sample(sc, sde, xT, method="rk45", rtol=1e-10, atol=1e-10, t_end=T_END,
                           denoise_last=False)
        out[name] = (gm, sde, sc, xT, ref)
    return out


def _err(x, ref) -> float:
    """Pathwise error: mean over samples of ‖x − x_ref‖."""
    return float((x - ref).norm(dim=1).mean())


def _gmean_err(x, ref) -> float:
    """Geometric mean of the per-sample errors (the mean of the per-sample convergence slopes):
    the arithmetic mean is dominated at low NFE by the rare trajectories near a watershed
    between modes, where the flow stretches errors by orders of magnitude."""
    return float(torch.log((x - ref).norm(dim=1).clamp_min(1e-300)).mean().exp())


ORDERED = [m for m, s in SAMPLERS.items() if s.order is not None]


@pytest.mark.parametrize("fixture", ["ring2d", "gmm16d"])
@pytest.mark.parametrize("method", ORDERED)
def test_measured_order_matches_the_declared_order(problems, fixture, method):
    """Pathwise error (geometric mean over samples) vs NFE on a log-SNR grid; the fitted slope
    equals ``SAMPLERS[m].order``
    (Euler, DDIM 1; Heun, DPM-Solver-2, DPM-Solver++(2M) 2; the 3-step multistep 3)."""
    gm, sde, sc, xT, ref = problems[fixture]
    spec = SAMPLERS[method]
    nfes, errs = [], []
    budgets = (64, 128, 256)
    for budget in budgets:
        x, info = sample(sc, sde, xT, method=method, steps=budget // spec.evals_per_step,
                         grid="logsnr", t_end=T_END, denoise_last=False)
        nfes.append(info["nfe"])
        errs.append(_gmean_err(x, ref))
    assert nfes[0] - budgets[0] in (0, 1)          # trig_pc also evaluates at t_end
    assert abs(_slope(nfes, errs) - spec.order) < 0.3, (nfes, errs)


@pytest.mark.parametrize("fixture", ["ring2d", "gmm16d"])
def test_rk45_reaches_1e3_with_fewer_than_100_evaluations(problems, fixture):
    gm, sde, sc, xT, ref = problems[fixture]
    runs = []
    for tol in (1e-3, 5e-4, 3e-4, 2e-4, 1e-4):
        x, info = sample(sc, sde, xT, method="rk45", rtol=tol, atol=tol, t_end=T_END,
                         denoise_last=False)
        runs.append((info["nfe"], _err(x, ref)))
    assert any(nfe < 100 and e <= 1e-3 for nfe, e in runs), runs
    assert runs[-1][1] < runs[0][1]                     # tighter tolerance, smaller error


def test_second_order_beats_first_order_at_equal_cost(problems):
    gm, sde, sc, xT, ref = problems["ring2d"]
    errs = {}
    for m in ("ode_euler", "ddim", "heun", "dpmpp_2m", "dpmpp_3m"):
        x, _ = sample(sc, sde, xT, method=m, steps=128 // SAMPLERS[m].evals_per_step,
                      grid="logsnr", t_end=T_END, denoise_last=False)
        errs[m] = _err(x, ref)
    assert max(errs["heun"], errs["dpmpp_2m"]) < min(errs["ode_euler"], errs["ddim"]) / 3
    assert errs["dpmpp_3m"] < errs["dpmpp_2m"]


@pytest.mark.parametrize("sde", [VPSDE(), SubVPSDE(), VESDE()], ids=repr)
def test_exponential_integrators_are_exact_for_constant_noise_prediction(sde):
    """kexue.fm 9228: with ε̂ ≡ c the PF-ODE is d(x/ᾱ)/dσ = c, solved exactly by one DDIM step
    (and by Heun in σ and DPM-Solver-2); RK45 agrees to its tolerance."""
    c = torch.tensor([[0.7, -1.3]], dtype=F64)

    def score(x, t):
        _, s = sde.marginal(t)
        return -c / s[:, None]

    x0 = torch.tensor([[0.4, 2.0], [-1.0, 0.5]], dtype=F64)
    t1, t0 = 0.9, 0.05
    (a1, s1), (a0, s0) = sde.marginal(t1), sde.marginal(t0)
    exact = a0 * (x0 / a1 + c * (s0 / a0 - s1 / a1))
    for m in ("ddim", "heun", "dpm_solver_2"):
        x, info = sample(score, sde, x0, method=m, steps=1, t_start=t1, t_end=t0,
                         denoise_last=False)
        torch.testing.assert_close(x, exact, rtol=1e-12, atol=1e-12)
    x, _ = sample(score, sde, x0, method="rk45", t_start=t1, t_end=t0, rtol=1e-9, atol=1e-9,
                  denoise_last=False)
    torch.testing.assert_close(x, exact, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("sde", [VPSDE(), SubVPSDE(), VESDE()], ids=repr)
def test_trig_pc_is_exact_for_gaussian_data_at_its_scale(sde):
    """With data N(0, c²I) and sigma_data = c the angular form has F ≡ 0: trig_pc maps x_T to
    the exact end point c·(x_T/ᾱ_T)/√(c² + σ_T²) in any number of steps (final step included)."""
    c = 0.7
    gm = GaussianMixture([1.0], [[0.0, 0.0]], [c * c])
    xT = gm.at(sde, sde.T).sample(32, 0)
    a_T, s_T = (float(v) for v in sde.marginal(sde.T))
    exact = c * (xT / a_T) / math.sqrt(c * c + (s_T / a_T) ** 2)
    for steps, order, corr in ((1, 1, True), (3, 2, False), (7, 3, True)):
        x, info = sample(gm.score_fn(sde), sde, xT, method="trig_pc", steps=steps,
                         grid="cosine", t_end=None, sigma_data=c, order=order, corrector=corr)
        torch.testing.assert_close(x, exact, rtol=1e-9, atol=1e-9)
        assert info["nfe"] == steps + 1


def test_cosine_grid_has_uniform_angles_and_an_automatic_end():
    sde = VPSDE()
    c = 0.5
    ts = time_grid(sde, 6, grid="cosine", t_end=None, scale=c)
    th = torch.atan(sde.sigma(ts) / c)
    steps = torch.diff(th)
    torch.testing.assert_close(steps, torch.full_like(steps, float(steps[0])), rtol=1e-9,
                               atol=0)
    torch.testing.assert_close(th[-1], -steps[0], rtol=1e-9, atol=0)   # one step above θ = 0
    with pytest.raises(ValueError, match="t_end=None"):
        time_grid(sde, 6, grid="logsnr", t_end=None)
    with pytest.raises(ValueError, match="scale must be a positive"):
        time_grid(sde, 6, grid="cosine", scale=0.0)


def _mixture_1d() -> GaussianMixture:
    return GaussianMixture([0.3, 0.7], [[-1.5], [1.0]], [0.2 ** 2, 0.4 ** 2])


def _cdf(gm: GaussianMixture):
    w, mu, sd = gm.weights.numpy(), gm.means[:, 0].numpy(), gm.covs[:, 0, 0].sqrt().numpy()
    return lambda x: (w * stats.norm.cdf((x[:, None] - mu) / sd)).sum(1)


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(sigma_max=10.0)], ids=repr)
@pytest.mark.parametrize("method,eta", [("eta", 0.0), ("eta", 0.5), ("eta", 1.0), ("eta", 2.0),
                                        ("reverse_diffusion", None), ("ancestral", None),
                                        ("pc", None), ("ddim", 1.0)])
def test_every_sampler_and_every_eta_reaches_the_data_law(sde, method, eta):
    """The family dx = (f − ½(1 + η²)g² S)dt + ηg dw̄ shares the marginals for every η
    (kexue.fm 9228): at 200 steps every η, and every stochastic sampler, gives p_0 (KS test)."""
    gm = _mixture_1d()
    t_end = 1e-3 if isinstance(sde, VPSDE) else 1e-5
    xT = gm.at(sde, sde.T).sample(3000, torch.Generator().manual_seed(0))
    kw = {} if eta is None else {"eta": eta}
    x, info = sample(gm.score_fn(sde), sde, xT, method=method, steps=200, grid="logsnr",
                     t_end=t_end, generator=10, **kw)
    assert stats.kstest(x[:, 0].numpy(), _cdf(gm)).pvalue > 1e-3


def test_em_is_eta_one_and_euler_is_eta_zero(problems):
    gm, sde, sc, xT, ref = problems["ring2d"]
    a, _ = sample(sc, sde, xT[:16], method="em", steps=20, generator=3)
    b, _ = sample(sc, sde, xT[:16], method="eta", eta=1.0, steps=20, generator=3)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    a, _ = sample(sc, sde, xT[:16], method="ode_euler", steps=20, denoise_last="tweedie")
    b, _ = sample(sc, sde, xT[:16], method="eta", eta=0.0, steps=20)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_last_step_to_zero_has_the_expected_local_order():
    """Gaussian data N(μ, c²I): the probability-flow ODE maps y = x/ᾱ at noise level σ to
    μ + (y − μ)√(c² + σ'²)/√(c² + σ²). From an exactly solved t_end, the last step to t = 0 as an
    Euler step in u = σ² (``"ode"``) errs like σ⁴, Tweedie's mean like σ²."""
    c2, mu = 0.09, torch.tensor([0.5, -0.2], dtype=F64)
    gm = GaussianMixture([1.0], mu[None], [c2])
    sde = VPSDE()
    xT = gm.at(sde, 1.0).sample(64, 0)
    sig_T = float(sde.sigma(1.0))
    exact = mu + (xT / float(sde.marginal(1.0)[0]) - mu) * math.sqrt(c2 / (c2 + sig_T ** 2))
    sig, err_ode, err_tw = [], [], []
    for t_end in (2e-3, 8e-3, 3e-2):
        kw = dict(method="rk45", rtol=1e-10, atol=1e-10, t_end=t_end)
        x_ode, info = sample(gm.score_fn(sde), sde, xT, denoise_last="ode", **kw)
        x_tw, _ = sample(gm.score_fn(sde), sde, xT, denoise_last="tweedie", **kw)
        sig.append(float(sde.sigma(t_end)))
        err_ode.append(_err(x_ode, exact))
        err_tw.append(_err(x_tw, exact))
        assert info["t_final"] == 0.0
    assert abs(_slope(1 / np.array(sig), err_ode) - 4) < 0.2
    assert abs(_slope(1 / np.array(sig), err_tw) - 2) < 0.2


def test_nfe_counting_callback_and_determinism(problems):
    gm, sde, sc, xT, _ = problems["ring2d"]
    seen = []
    for m, spec in SAMPLERS.items():
        if m == "rk45":
            continue
        seen.clear()
        x, info = sample(sc, sde, xT[:8], method=m, steps=5, generator=1,
                         callback=lambda d: seen.append(d["i"]))
        per = spec.evals_per_step
        assert info["nfe"] == 5 * per + 1, m
        assert seen == list(range(5)), m
        y, _ = sample(sc, sde, xT[:8], method=m, steps=5, generator=1)
        assert torch.equal(x, y), m
    x, info = sample(sc, sde, xT[:8], method="ddim", steps=5, denoise_last=False)
    assert info["nfe"] == 5 and info["t_final"] == pytest.approx(T_END)
    assert info["ts"].shape == (6,)


def test_ddpm_table_sde_samples_like_the_continuous_one():
    """The DDPM-table SDE is a GaussianPathSDE like any other: DDIM on it agrees with a tight
    RK45 solve of its own probability-flow ODE."""
    gm = GaussianMixture.ring()
    sde = GaussianPathSDE.from_alphas_cumprod(ddpm_alphas_cumprod())
    sc = gm.score_fn(sde)
    xT = gm.at(sde, 1.0).sample(128, 1)
    ref, _ = sample(sc, sde, xT, method="rk45", rtol=1e-9, atol=1e-9, t_end=1e-3,
                    denoise_last=False)
    errs = [_err(sample(sc, sde, xT, method="dpmpp_2m", steps=n, grid="logsnr", t_end=1e-3,
                        denoise_last=False)[0], ref) for n in (50, 100, 200)]
    assert errs[2] < errs[0] / 8 and errs[2] < 2e-3


def test_time_grids():
    sde = VPSDE()
    for grid in GRIDS:
        ts = time_grid(sde, 10, grid=grid, t_end=1e-3)
        assert ts.shape == (11,) and ts[0] == 1.0 and ts[-1] == 1e-3
        assert bool((torch.diff(ts) < 0).all())
    lam = sde.log_snr(time_grid(sde, 10, grid="logsnr"))
    torch.testing.assert_close(torch.diff(lam), torch.full((10,), float(lam[1] - lam[0]),
                                                           dtype=F64))
    sig = sde.sigma(time_grid(sde, 10, grid="karras", rho=7.0)) ** (1 / 7)
    torch.testing.assert_close(torch.diff(sig), torch.full((10,), float(sig[1] - sig[0]),
                                                           dtype=F64))
    torch.testing.assert_close(time_grid(sde, 4, grid="uniform", t_end=0.2),
                               torch.tensor([1.0, 0.8, 0.6, 0.4, 0.2], dtype=F64))


def test_bad_input(problems):
    gm, sde, sc, xT, _ = problems["ring2d"]
    x = xT[:4]
    with pytest.raises(ValueError, match="unknown method 'rk4'; valid methods: em, "):
        sample(sc, sde, x, method="rk4", steps=5)
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        sample(sc, sde, x, method="heun", steps=0)
    with pytest.raises(ValueError, match="steps is required"):
        sample(sc, sde, x, method="heun")
    with pytest.raises(ValueError, match=r"t_end must lie in \(0, t_start\)"):
        sample(sc, sde, x, method="heun", steps=5, t_end=0.0)
    with pytest.raises(ValueError, match=r"t_end must lie in \(0, t_start\)"):
        sample(sc, sde, x, method="heun", steps=5, t_end=1.5)
    with pytest.raises(ValueError, match=r"t_start must lie in \(0, T\]"):
        sample(sc, sde, x, method="heun", steps=5, t_start=2.0)
    with pytest.raises(ValueError, match="unknown grid 'log'; valid grids: uniform, logsnr"):
        sample(sc, sde, x, method="heun", steps=5, grid="log")
    with pytest.raises(ValueError, match=r"x_T must have shape \(batch, \*shape\)"):
        sample(sc, sde, x[0], method="heun", steps=5)
    with pytest.raises(TypeError, match="floating-point"):
        sample(sc, sde, x.long(), method="heun", steps=5)
    with pytest.raises(ValueError, match="non-finite"):
        sample(sc, sde, x * float("nan"), method="heun", steps=5)
    with pytest.raises(ValueError, match=r"shape \(batch, d\) = \(batch, 2\)"):
        sample(sc, sde, torch.zeros(4, 3, dtype=F64), method="heun", steps=5)
    with pytest.raises(ValueError, match=r"must return x's shape \(4, 2\)"):
        sample(lambda x, t: x[:, :1], sde, x, method="heun", steps=5)
    with pytest.raises(TypeError, match="GaussianPathSDE"):
        sample(sc, "vp", x, method="heun", steps=5)
    with pytest.raises(TypeError, match="score_fn must be a callable"):
        sample(None, sde, x, method="heun", steps=5)
    with pytest.raises(ValueError, match="denoise_last must be"):
        sample(sc, sde, x, method="heun", steps=5, denoise_last="yes")
    with pytest.raises(ValueError, match="order must be 1, 2 or 3"):
        sample(sc, sde, x, method="trig_pc", steps=5, order=4)
    with pytest.raises(ValueError, match="sigma_data must be positive"):
        sample(sc, sde, x, method="trig_pc", steps=5, sigma_data=-1.0)
    with pytest.raises(ValueError, match="eta must be >= 0"):
        sample(sc, sde, x, method="eta", steps=5, eta=-0.5)

    def nan_late(x, t):                       # NaN from the model at t < 0.5 only
        s = sc(x, t)
        return s * float("nan") if float(t[0]) < 0.5 else s

    with pytest.raises(ValueError,
                       match=r"non-finite values \(NaN/inf\) at step 7 of 10 \(t=0.4006"):
        sample(nan_late, sde, x, method="ddim", steps=10)
