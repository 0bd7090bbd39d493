"""Interop (issue 15): a k-diffusion denoiser ``D(x, σ)`` and a diffusers ε-model on the DDPM table
as kexue scores, and sampling on an explicit σ grid. On the exact Gaussian-mixture oracle the
wrappers are identities (float64, 1e-10); ``sample_sigmas(..., method="heun")`` is Karras et al.
2022's Algorithm 1; a randomly initialised diffusers ``UNet2DModel`` samples with kexue's samplers
and our DDIM on its timesteps equals diffusers' ``DDIMScheduler``."""

from __future__ import annotations

import math

import pytest
import torch

from kexue.diffusion import (
    EDMSDE,
    SAMPLERS,
    VESDE,
    VPSDE,
    GaussianMixture,
    GaussianPathSDE,
    ddpm_alphas_cumprod,
    from_denoiser,
    from_eps_model,
    sample,
    sample_heun,
    sample_sigmas,
)

F64 = torch.float64


def mixture_denoiser(gm: GaussianMixture):
    """The exact denoiser of ``gm`` in the ``x_0 + σ ε`` scale: ``D = y + σ² ∇log p̃_σ(y)``."""
    def D(y, sigma):
        s = float(sigma.reshape(-1)[0])
        return y + s * s * gm.kernel_score(y, 1.0, s)
    return D


def mixture_eps(gm: GaussianMixture, sde):
    """The exact ε-prediction of ``gm`` on a table SDE, called with diffusers' timestep k."""
    N = sde.num_train_timesteps

    def eps(x, k):
        t = (k.to(F64) + 1.0) * sde.T / N
        _, s = sde.kernel(t)
        return -s[:, None] * gm.score(x, t, sde)
    return eps


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(sigma_max=5.0), EDMSDE(10.0)],
                         ids=["vp", "ve", "edm"])
def test_denoiser_round_trip_is_the_exact_score(sde):
    gm = GaussianMixture.ring()
    exact = gm.score_fn(sde)
    wrapped = from_denoiser(mixture_denoiser(gm), sde)
    g = torch.Generator().manual_seed(0)
    for t in (0.02, 0.3, 0.9):
        x = gm.at(sde, t * sde.T).sample(64, g)
        tb = torch.full((64,), t * sde.T, dtype=F64)
        torch.testing.assert_close(wrapped(x, tb), exact(x, tb), rtol=1e-10, atol=1e-10)
    x_T = gm.at(sde, sde.T).sample(16, g)
    for method, kw in (("dpmpp_2m", {}), ("em", {"generator": 5}), ("heun", {})):
        a, _ = sample(exact, sde, x_T, method=method, steps=8, grid="logsnr", **kw)
        b, _ = sample(wrapped, sde, x_T, method=method, steps=8, grid="logsnr", **kw)
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_eps_round_trip_on_the_ddpm_table():
    """ε-model ↔ score on diffusers' default table; the knots carry the table exactly."""
    ac = ddpm_alphas_cumprod()
    sde = GaussianPathSDE.from_alphas_cumprod(ac)
    gm = GaussianMixture.ring()
    wrapped = from_eps_model(mixture_eps(gm, sde), ac)
    k = torch.tensor([0, 1, 499, 998, 999])
    a, _ = wrapped.sde.kernel((k.to(F64) + 1) / 1000)
    torch.testing.assert_close(a * a, ac[k], rtol=1e-12, atol=0)
    torch.testing.assert_close(wrapped.timestep((k.to(F64) + 1) / 1000), k.to(F64),
                               rtol=0, atol=1e-9)
    exact = gm.score_fn(sde)
    g = torch.Generator().manual_seed(1)
    x_T = gm.at(sde, 1.0).sample(16, g)
    for method, kw in (("ddim", {}), ("ancestral", {"generator": 2}), ("dpmpp_3m", {})):
        x1, _ = sample(exact, sde, x_T, method=method, steps=10, grid="logsnr", **kw)
        x2, _ = sample(wrapped, wrapped.sde, x_T, method=method, steps=10, grid="logsnr", **kw)
        torch.testing.assert_close(x1, x2, rtol=1e-10, atol=1e-10)
    rounded = from_eps_model(mixture_eps(gm, sde), sde, timesteps="round")
    assert rounded.timestep(torch.tensor([0.0004, 0.5004, 1.0], dtype=F64)).tolist() == \
        [0.0, 499.0, 999.0]


def _karras_sigmas(n, sigma_min=0.02, sigma_max=10.0, rho=7.0):
    i = torch.arange(n, dtype=F64) / (n - 1)
    s = (sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([s, torch.zeros(1, dtype=F64)])


def test_sample_sigmas_heun_is_karras_algorithm_1():
    """EDM's deterministic sampler (Karras et al. 2022, Algorithm 1): Heun between the nonzero
    σ's, Euler on the last step to σ = 0 (= the denoiser there, our ``"tweedie"`` last step)."""
    gm = GaussianMixture.ring()
    D = mixture_denoiser(gm)
    sig = _karras_sigmas(12)
    x0 = sig[0] * torch.randn(32, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    x = x0.clone()
    nfe = 0
    for i in range(len(sig) - 1):
        sc, sn = float(sig[i]), float(sig[i + 1])
        d = (x - D(x, sig[i:i + 1])) / sc
        nfe += 1
        xe = x + (sn - sc) * d
        if sn > 0:
            d2 = (xe - D(xe, sig[i + 1:i + 2])) / sn
            nfe += 1
            x = x + (sn - sc) * 0.5 * (d + d2)
        else:
            x = xe
    y, info = sample_sigmas(D, x0, sig, method="heun", denoise_last="tweedie")
    torch.testing.assert_close(y, x, rtol=1e-10, atol=1e-10)
    assert info["nfe"] == nfe and isinstance(info["sde"], EDMSDE)
    # the same on an explicit grid through the sampler function
    z, _ = sample_heun(from_denoiser(D, EDMSDE(float(sig[0]))), EDMSDE(float(sig[0])), x0,
                       sig[:-1], denoise_last="tweedie")
    assert torch.equal(z, y)
    # σ grid without a final 0 stops there; a score model works as well
    s_model = from_denoiser(D, EDMSDE(float(sig[0])))
    w, info = sample_sigmas(s_model, x0, sig[:-1], method="dpmpp_2m", model_type="score")
    assert info["t_final"] == pytest.approx(float(sig[-2]))
    assert w.shape == x0.shape and bool(torch.isfinite(w).all())


def test_interop_bad_input():
    D = mixture_denoiser(GaussianMixture.ring())
    x = torch.zeros(4, 2, dtype=F64)
    with pytest.raises(ValueError, match="strictly decreasing"):
        sample_sigmas(D, x, [1.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="at least 2 positive"):
        sample_sigmas(D, x, [1.0, 0.0])
    with pytest.raises(ValueError, match="model_type"):
        sample_sigmas(D, x, [1.0, 0.5, 0.0], model_type="v")
    with pytest.raises(TypeError, match="option snr"):
        sample_sigmas(D, x, [1.0, 0.5, 0.0], method="heun", snr=0.1)
    with pytest.raises(TypeError, match="denoiser must be a callable"):
        from_denoiser(None)
    with pytest.raises(TypeError, match="GaussianPathSDE"):
        from_denoiser(D, "ve")
    with pytest.raises(ValueError, match="timesteps must be"):
        from_eps_model(D, ddpm_alphas_cumprod(), timesteps="floor")
    with pytest.raises(TypeError, match="table SDE"):
        from_eps_model(D, VPSDE())
    with pytest.raises(ValueError, match=r"must return x's shape \(4, 2\)"):
        from_denoiser(lambda x, s: x[:, :1], EDMSDE(1.0))(x, torch.ones(4, dtype=F64))


# ------------------------------------------------------------------------ diffusers UNet2DModel
@pytest.fixture(scope="module")
def unet():
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)                   # diffusers initialises with the global RNG
    net = diffusers.UNet2DModel(
        sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
        block_out_channels=(8, 16), norm_num_groups=4,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"))
    return net.eval()


@pytest.mark.slow                          # importing diffusers takes 3–8 s
def test_diffusers_unet_sampled_by_kexue_samplers(unet):
    eps = from_eps_model(unet, ddpm_alphas_cumprod())
    x_T = eps.sde.prior_sample((3, 1, 8, 8), 0)
    for method, kw in (("dpmpp_2m", {}), ("em", {"brownian": 1}), ("heun", {}),
                       ("ancestral", {"generator": 4})):
        with torch.no_grad():
            x, info = sample(eps, eps.sde, x_T, method=method, steps=4, grid="logsnr", **kw)
        assert x.shape == (3, 1, 8, 8) and bool(torch.isfinite(x).all()), method
        assert info["nfe"] == 4 * SAMPLERS[method].evals_per_step + 1


@pytest.mark.slow
def test_our_ddim_on_diffusers_timesteps_is_diffusers_ddim(unet):
    """The time map ``t = (k + 1)/N``: DDIM (η = 0) on the scheduler's own timesteps, with
    Tweedie's step at ``k = 0``, is ``DDIMScheduler(clip_sample=False)`` step for step."""
    diffusers = pytest.importorskip("diffusers")
    sched = diffusers.DDIMScheduler(clip_sample=False)
    sched.set_timesteps(10)
    ks = sched.timesteps                                      # 900, 800, …, 0
    x_T = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(5))
    x = x_T.clone()
    with torch.no_grad():
        for k in ks:
            x = sched.step(unet(x, k).sample, k, x, eta=0.0).prev_sample
        eps = from_eps_model(unet, sched.alphas_cumprod)
        ts = (ks.to(F64) + 1) / sched.config.num_train_timesteps
        y, info = SAMPLERS["ddim"].fn(eps, eps.sde, x_T, ts, denoise_last="tweedie")
    assert info["nfe"] == len(ks)
    scale = float(x.abs().max())
    assert math.isfinite(scale)
    torch.testing.assert_close(y, x, rtol=1e-5, atol=1e-6 * scale)        # float32 rounding
