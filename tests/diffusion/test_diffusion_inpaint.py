"""Inpainting by imputation, checked against the exact law of the discrete scheme on Gaussians.

With the exact score of a Gaussian N(μ, Σ) every operation of the sampler is affine in the state,
in the fresh noise and in the imputed known part ``a_t y + s_t z``, so the unknown coordinates stay
Gaussian given ``y`` and their mean and covariance follow a linear recursion (written out
independently below). This checks the implementation exactly (up to Monte Carlo error) and
quantifies the approximation: plain imputation (Song et al. 2021, App. I.2) is *biased* towards
the unconditional law, while RePaint resampling (Lugmayr et al. 2022) converges to the true
conditional ``N(μ_u + Σ_uk Σ_kk⁻¹ (y − μ_k), Σ_uu − Σ_uk Σ_kk⁻¹ Σ_ku)``.
"""

import math

import pytest
import torch

from kexue.diffusion import VESDE, VPSDE, GaussianMixture
from kexue.diffusion._inpaint import inpaint

F64 = torch.float64


def _scheme_law(sde, mu, cov, known, y, steps, resample, t_end=1e-3):
    """Mean and covariance of the unknown coordinates after ``inpaint`` (exact recursion)."""
    D = len(mu)
    K = list(known)
    U = [i for i in range(D) if i not in K]
    eye_u = torch.eye(len(U), dtype=F64)
    grid = torch.linspace(sde.T, t_end, steps + 1, dtype=F64)

    def precision(t):
        a, s = (float(v) for v in sde.marginal(t))
        P = torch.linalg.inv(a * a * cov + s * s * torch.eye(D, dtype=F64))
        return a, s, P[U][:, U], P[U][:, K]

    m = torch.zeros(len(U), dtype=F64)
    V = sde.prior_std**2 * eye_u
    for i in range(steps):
        t, tn = float(grid[i]), float(grid[i + 1])
        h = t - tn
        a, s, Puu, Puk = precision(t)
        an, sn = (float(v) for v in sde.marginal(tn))
        f, g2 = float(sde.f(t)), float(sde.g2(t))
        # u' = u − (f u − g² S_u) h + √(g² h) ξ,  S_u = −Puu(u − aμ_u) − Puk(k_t − aμ_k)
        A = (1 - f * h) * eye_u - g2 * h * Puu
        B = -g2 * h * Puk
        c = g2 * h * (Puu @ (a * mu[U]) + Puk @ (a * mu[K]))
        for j in range(resample):
            m = A @ m + c + B @ (a * y)  # k_t = a y + s z, z independent of u
            V = A @ V @ A.T + s * s * B @ B.T + g2 * h * eye_u
            if j < resample - 1:  # re-noise t_{i+1} → t_i
                r = a / an
                m, V = r * m, r * r * V + (s * s - r * r * sn * sn) * eye_u
    a, s, Puu, Puk = precision(t_end)
    A = (eye_u - s * s * Puu) / a
    B = -s * s * Puk / a
    c = s * s * (Puu @ (a * mu[U]) + Puk @ (a * mu[K])) / a
    return A @ m + c + B @ (a * y), A @ V @ A.T + s * s * B @ B.T


def _conditional(mu, cov, known, y):
    K = list(known)
    U = [i for i in range(len(mu)) if i not in K]
    gain = cov[U][:, K] @ torch.linalg.inv(cov[K][:, K])
    return mu[U] + gain @ (y - mu[K]), cov[U][:, U] - gain @ cov[K][:, U]


def _run(sde, mu, cov, known, y, n, steps, resample, seed):
    gm = GaussianMixture(torch.ones(1), mu[None], cov[None])
    D = len(mu)
    x_known = torch.zeros(n, D, dtype=F64)
    x_known[:, list(known)] = y
    mask = torch.zeros(D, dtype=torch.bool)
    mask[list(known)] = True
    x, info = inpaint(gm.score_fn(sde), sde, x_known, mask, steps=steps, resample=resample,
                      generator=seed)
    assert torch.equal(x[:, mask], x_known[:, mask])  # the observation is kept exactly
    assert info["nfe"] == steps * resample + 1
    return x[:, ~mask]


MU3 = torch.tensor([0.2, -0.1, 0.3], dtype=F64)
COV3 = torch.tensor([[1.0, 0.6, 0.5], [0.6, 1.0, 0.3], [0.5, 0.3, 1.0]], dtype=F64)


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(0.01, 10.0)], ids=["vp", "ve"])
@pytest.mark.parametrize("resample", [1, 3])
def test_inpaint_matches_the_exact_law_of_the_scheme(sde, resample):
    y = torch.tensor([1.0], dtype=F64)
    n, steps = 4000, 30
    u = _run(sde, MU3, COV3, [2], y, n, steps, resample, seed=resample)
    m, V = _scheme_law(sde, MU3, COV3, [2], y, steps, resample)
    se_m = (V.diagonal() / n).sqrt()
    assert ((u.mean(0) - m).abs() < 4 * se_m).all(), (u.mean(0), m)
    emp = torch.cov(u.T)
    se_V = ((V.diagonal()[:, None] * V.diagonal()[None] + V**2) / n).sqrt()
    assert ((emp - V).abs() < 4 * se_V).all(), (emp, V)


def test_plain_imputation_is_biased_and_resampling_recovers_the_conditional():
    """ρ = 0.6, y = 1: the exact conditional is N(0.6, 0.64). Plain imputation lands near 0.33;
    RePaint resampling (40 steps, r = 10) reproduces the conditional Gaussian."""
    sde = VPSDE()
    mu = torch.zeros(2, dtype=F64)
    cov = torch.tensor([[1.0, 0.6], [0.6, 1.0]], dtype=F64)
    y = torch.tensor([1.0], dtype=F64)
    m_true, V_true = _conditional(mu, cov, [1], y)
    assert torch.allclose(m_true, torch.tensor([0.6], dtype=F64))

    m1, _ = _scheme_law(sde, mu, cov, [1], y, steps=200, resample=1)
    assert 0.25 < float(m1) < 0.4  # biased towards the prior mean 0: an approximation

    n, steps, r = 4000, 40, 10
    u = _run(sde, mu, cov, [1], y, n, steps, r, seed=0)[:, 0]
    mr, Vr = _scheme_law(sde, mu, cov, [1], y, steps, r)
    se = math.sqrt(float(V_true) / n)
    assert abs(float(u.mean()) - float(mr)) < 4 * se
    assert abs(float(u.mean()) - float(m_true)) < 0.03 + 4 * se
    assert abs(float(u.var()) / float(V_true) - 1) < 0.1
    assert abs(float(mr) - float(m_true)) < 0.03


def test_inpaint_validates_input_and_reports_nan():
    sde = VPSDE()
    gm = GaussianMixture.ring()
    score = gm.score_fn(sde)
    x = torch.zeros(4, 2, dtype=F64)
    with pytest.raises(ValueError, match=r"mask must have shape \(D,\)"):
        inpaint(score, sde, x, torch.ones(3, dtype=torch.bool), steps=2, generator=0)
    with pytest.raises(ValueError, match="only 0 and 1"):
        inpaint(score, sde, x, torch.tensor([0.5, 1.0]), steps=2, generator=0)
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        inpaint(score, sde, x, torch.tensor([1, 0]), steps=0, generator=0)
    with pytest.raises(ValueError, match="t_end must lie in"):
        inpaint(score, sde, x, torch.tensor([1, 0]), steps=2, t_end=1.5, generator=0)
    with pytest.raises(ValueError, match=r"NaN/inf at step 0 \(t = 1\)"):
        inpaint(lambda x, t: x * float("nan"), sde, x, torch.tensor([1, 0]), steps=2,
                generator=0)
    a, _ = inpaint(score, sde, x, torch.tensor([1, 0]), steps=3, generator=5)
    b, _ = inpaint(score, sde, x, torch.tensor([1, 0]), steps=3, generator=5)
    assert torch.equal(a, b)
