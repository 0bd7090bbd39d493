"""PF-ODE latents (kexue.fm 9228): encode/decode, spherical interpolation, decoded paths. float64.

The encoder is checked against the closed-form flow of Gaussian data ``N(0, c² I)`` (the PF-ODE is
linear there: ``x_t = x_e √((ᾱ_t² c² + β̄_t²)/(ᾱ_e² c² + β̄_e²))``); decode ∘ encode is the
identity to the ODE tolerance on a Gaussian mixture (error falling with the tolerance); slerp is
the identity at ``α = 0, 1``, moves at constant angle and keeps the norm on the line between the
end norms (on the prior's shell where the straight line falls inside it).
"""

from __future__ import annotations

import math

import pytest
import torch

from kexue.diffusion import (
    VESDE,
    VPSDE,
    GaussianMixture,
    interpolate_latents,
    pf_ode_decode,
    pf_ode_encode,
    sample,
    slerp,
)

F64 = torch.float64


@pytest.mark.parametrize("sde", [VPSDE(), VESDE(sigma_max=10.0)])
def test_encoder_matches_the_closed_form_flow_of_gaussian_data(sde):
    c2 = 0.7 ** 2

    def score(x, t):
        a, s = sde.marginal(t)
        return -x / (a * a * c2 + s * s)[:, None]

    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, generator=g, dtype=F64) * 0.7
    t_end = 1e-3
    z, info = pf_ode_encode(score, sde, x, t_end=t_end, rtol=1e-9, atol=1e-9)
    (aT, sT), (ae, se) = sde.marginal(sde.T), sde.marginal(t_end)
    exact = x * math.sqrt(float((aT ** 2 * c2 + sT ** 2) / (ae ** 2 * c2 + se ** 2)))
    torch.testing.assert_close(z, exact, rtol=1e-7, atol=1e-7)
    assert info["nfe"] > 0
    back, _ = pf_ode_decode(score, sde, z, t_end=t_end, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(back, x, rtol=1e-7, atol=1e-7)


def test_decode_inverts_encode_to_the_ode_tolerance():
    """Ring mixture (exact score): max |decode(encode(x)) − x| ≤ 1e-5 at tol 1e-9 and falls
    by ≥ 10× from tol 1e-5; decoding equals sample(method="rk45", denoise_last=False)."""
    sde = VPSDE()
    gm = GaussianMixture.ring()
    sc = gm.score_fn(sde)
    x = gm.sample(64, 0)
    errs = []
    for tol in (1e-5, 1e-9):
        z, _ = pf_ode_encode(sc, sde, x, rtol=tol, atol=tol)
        back, _ = pf_ode_decode(sc, sde, z, rtol=tol, atol=tol)
        errs.append(float((back - x).abs().max()))
    assert errs[1] < 1e-5 and errs[1] < errs[0] / 10, errs
    ref, _ = sample(sc, sde, z, method="rk45", rtol=1e-9, atol=1e-9, denoise_last=False)
    torch.testing.assert_close(back, ref, rtol=1e-12, atol=1e-12)


def test_slerp_endpoints_angle_and_norm():
    g = torch.Generator().manual_seed(1)
    z0 = torch.randn(4, 5, generator=g, dtype=F64)
    z1 = 2.0 * torch.randn(4, 5, generator=g, dtype=F64)
    al = torch.linspace(0, 1, 11, dtype=F64)
    zs = slerp(z0, z1, al)
    assert zs.shape == (11, 4, 5)
    torch.testing.assert_close(zs[0], z0, rtol=0, atol=1e-14)
    torch.testing.assert_close(zs[-1], z1, rtol=0, atol=1e-14)
    n0, n1 = z0.norm(), z1.norm()
    norms = zs.reshape(11, -1).norm(dim=1)
    torch.testing.assert_close(norms, (1 - al) * n0 + al * n1, rtol=1e-13, atol=0)
    u0 = z0.reshape(-1) / n0
    theta = math.acos(float((u0 * z1.reshape(-1) / n1).sum()))
    angles = torch.acos((zs.reshape(11, -1) @ u0 / norms).clamp(-1, 1))
    torch.testing.assert_close(angles, al * theta, rtol=0, atol=1e-7)
    # equal norms: Shoemake's formula
    w1 = z1 * (n0 / n1)
    sh = (torch.sin((1 - al) * theta)[:, None, None] * z0
          + torch.sin(al * theta)[:, None, None] * w1) / math.sin(theta)
    torch.testing.assert_close(slerp(z0, w1, al), sh, rtol=1e-12, atol=1e-12)


def test_slerp_stays_on_the_prior_shell_where_lerp_does_not():
    """Two N(0, I) latents in 784-D (norms √D ± 0.7, nearly orthogonal): the slerp midpoint keeps
    the mean norm of the ends (on the shell), the straight line's midpoint has ≈ 1/√2 of it."""
    g = torch.Generator().manual_seed(2)
    D = 784
    z0, z1 = torch.randn(D, generator=g, dtype=F64), torch.randn(D, generator=g, dtype=F64)
    shell = 0.5 * float(z0.norm() + z1.norm())
    assert abs(shell / math.sqrt(D) - 1) < 0.1
    mid = slerp(z0, z1, [0.5])[0]
    assert abs(float(mid.norm()) / shell - 1) < 1e-12
    assert float((0.5 * (z0 + z1)).norm()) < 0.8 * shell


def test_slerp_nearly_parallel_and_bad_input():
    z = torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    zs = slerp(z, 3 * z, [0.0, 0.5, 1.0])
    torch.testing.assert_close(zs, torch.stack([z, 2 * z, 3 * z]), rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="antipodal"):
        slerp(z, -z, [0.5])
    with pytest.raises(ValueError, match="same shape"):
        slerp(z, z[:2], [0.5])
    with pytest.raises(ValueError, match="non-zero"):
        slerp(z, torch.zeros(3, dtype=F64), [0.5])
    with pytest.raises(ValueError, match="alphas"):
        slerp(z, 2 * z, [[0.5]])
    with pytest.raises(TypeError, match="z0"):
        slerp([1.0], z, [0.5])


def test_interpolation_path_hits_both_ends():
    """Decoded slerp path between two ring points: the ends are the inputs (ODE tolerance), and
    every decoded point lies near the ring (radius 2 ± 5 std), not on the chord through it."""
    sde = VPSDE()
    gm = GaussianMixture.ring()
    sc = gm.score_fn(sde)
    x = gm.sample(2, 3)
    path, info = interpolate_latents(sc, sde, x[0], x[1], n=7, rtol=1e-8, atol=1e-8)
    assert path.shape == (7, 2) and info["z"].shape == (7, 2)
    torch.testing.assert_close(path[0], x[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(path[-1], x[1], rtol=0, atol=1e-5)
    r = path.norm(dim=1)
    assert bool(((r - 2).abs() < 0.5).all()), r
    with pytest.raises(ValueError, match="same shape"):
        interpolate_latents(sc, sde, x[0], x[:, :1], n=3)
    with pytest.raises(ValueError, match="t_end"):
        pf_ode_encode(sc, sde, x, t_end=0.0)
    with pytest.raises(ValueError, match="n must"):
        interpolate_latents(sc, sde, x[0], x[1], n=1)
