"""The sampler registry (issue 15): one function per sampler on an explicit grid, ``sample`` a
thin dispatcher over ``SAMPLERS`` that rejects options its sampler does not take, the
``check_finite`` modes, and ``sample_n(brownian=...)`` (issue 18).

The pins below were produced by the single ``sample()`` of before the split (commit 28b2362,
float64, one thread) and matched bit for bit after it on the machine where the split was made; the
test allows 1e-12 so that another CPU's libm may differ in the last bits."""

from __future__ import annotations

import inspect

import pytest
import torch

from kexue.diffusion import (
    SAMPLERS,
    VESDE,
    VPSDE,
    GaussianMixture,
    GaussianPathSDE,
    ddpm_alphas_cumprod,
    register_sampler,
    sample,
    sample_euler_maruyama,
    sample_heun,
    sample_n,
    time_grid,
)

F64 = torch.float64

# (sde, sample() kwargs, nfe, samples x (3, 2) flattened as float.hex)
PINS = [
    ('vp', {'method': 'em', 'steps': 7}, 8,
     ['-0x1.81e26231bf007p+1', '-0x1.95161f75cbd4fp-1', '-0x1.55aef8e1cfc89p-1',
      '-0x1.911e3d838fbbdp+0', '0x1.ac86fc1a1893cp+0', '-0x1.841dfb9ab85f0p+0']),
    ('vp', {'method': 'em', 'steps': 7, 'brownian': 3}, 8,
     ['0x1.2f9abef26bf7dp+0', '0x1.32f4c76c8a138p+1', '-0x1.02d80e2f52ac0p+1',
      '0x1.897bf83198f3fp+0', '-0x1.d017373d805c5p+0', '0x1.28653794e3feap+1']),
    ('vp', {'method': 'eta', 'steps': 6, 'eta': 0.5}, 7,
     ['-0x1.1b5b22cb54407p+0', '-0x1.9207695847d51p+0', '-0x1.4cd07426b8eacp-2',
      '-0x1.217cf5e4797c2p+1', '0x1.d99c9e542c6dep+0', '-0x1.02bf5904d4124p+0']),
    ('vp', {'method': 'reverse_diffusion', 'steps': 6}, 7,
     ['-0x1.c16e903fbb2fap-1', '-0x1.226eeb73bab68p+0', '-0x1.b07b69378ffd5p-2',
      '-0x1.1ccbcd78a6f59p+1', '0x1.b3a518ff99b90p+0', '-0x1.1eecb10a18792p+0']),
    ('vp', {'method': 'ancestral', 'steps': 6, 'grid': 'logsnr'}, 7,
     ['-0x1.60e214b6fd47fp+0', '-0x1.5e4e007d5c79ep+0', '-0x1.599f1b6021ca0p-5',
      '-0x1.fe7119782ec10p+0', '0x1.f269ae03e5206p+0', '-0x1.9495c5a11904bp-6']),
    ('vp', {'method': 'pc', 'steps': 5, 'snr': 0.1, 'n_corrector': 2}, 16,
     ['0x1.15f19829b2444p+1', '0x1.ea3aba992e213p-1', '-0x1.46c1e9f97b3fdp+1',
      '-0x1.ea6b5b5e4dff9p-2', '-0x1.8808c01dedd76p+0', '0x1.7a889db2f846dp+0']),
    ('vp', {'method': 'ode_euler', 'steps': 8}, 9,
     ['0x1.23dd8e97f941cp+0', '0x1.b20069af95892p+0', '0x1.86363b45f0748p+0',
      '0x1.765a873af0be5p+0', '-0x1.a5039959af2eap-3', '-0x1.0abe70c30754cp+1']),
    ('vp', {'method': 'heun', 'steps': 5, 'grid': 'karras'}, 11,
     ['0x1.401c40944318bp+1', '0x1.144a30549dbaap+1', '0x1.270acd6dd4a33p+1',
      '0x1.3f90f4bca9e87p+1', '0x1.654c03ecb19cep-2', '-0x1.ab4912666f83ep+1']),
    ('vp', {'method': 'rk45', 'rtol': 1e-06, 'atol': 1e-06}, 147,
     ['0x1.523d45334da14p+0', '0x1.8224ece14f66ap+0', '0x1.70d73e85606c2p+0',
      '0x1.6582605c4b270p+0', '-0x1.8b7e7ba4e2916p-4', '-0x1.0237a6f662668p+1']),
    ('vp', {'method': 'ddim', 'steps': 6}, 7,
     ['0x1.d203ed6c1683ap-1', '0x1.9dde160ba8980p+0', '0x1.6d8191882b948p+0',
      '0x1.4598d758a7748p+0', '-0x1.66e73a0a6f426p-2', '-0x1.d8e57bdc46962p+0']),
    ('vp', {'method': 'ddim', 'steps': 6, 'eta': 0.7, 'brownian': 5}, 7,
     ['-0x1.154d95b5a8a12p+0', '0x1.9161ede2b537ap+0', '0x1.ee6ca35489e44p+0',
      '0x1.b951baae99c05p-3', '-0x1.731e248d64eb8p+0', '-0x1.5219ec135b90bp+0']),
    ('vp', {'method': 'dpm_solver_2', 'steps': 4, 'grid': 'logsnr'}, 9,
     ['0x1.de7367e0debcap+0', '0x1.9d0832437053ap+0', '0x1.b0cebca5f1526p+0',
      '0x1.fcbdaba67dc74p+0', '0x1.ae3c0657ecaaep-2', '-0x1.49641199f3ac7p+1']),
    ('vp', {'method': 'dpmpp_2m', 'steps': 6, 'grid': 'logsnr', 'denoise_last': 'tweedie'}, 7,
     ['0x1.8710084fec589p+0', '0x1.9da7023771125p+0', '0x1.95427b2bce167p+0',
      '0x1.93b180b7e702ap+0', '-0x1.1cf860821ec66p-6', '-0x1.1f10b79733b71p+1']),
    ('vp', {'method': 'dpmpp_3m', 'steps': 6, 'grid': 'logsnr', 'denoise_last': False}, 6,
     ['0x1.a48a1377e209fp+0', '0x1.2fb5dd72cfbe5p+0', '0x1.54f0d56798d84p+0',
      '0x1.7afc29048c2b9p+0', '0x1.22413297d37f2p-2', '-0x1.fd046ea8f2175p+0']),
    ('vp', {'method': 'trig_pc', 'steps': 6, 'grid': 'cosine', 't_end': None, 'sigma_data': 0.8}, 7,
     ['0x1.42e7b8e5ad766p+0', '0x1.8965efaaa9213p+0', '0x1.71cc970b820b6p+0',
      '0x1.5fb965ab3624dp+0', '-0x1.461a36e5d4fcbp-3', '-0x1.fedaa43acc3ddp+0']),
    ('vp', {'method': 'trig_pc', 'steps': 6, 'grid': 'cosine', 't_end': None, 'order': 2,
            'corrector': False}, 7,
     ['0x1.43ed24b0292f4p+0', '0x1.8dfd6f47bc59ap+0', '0x1.7463180a3b4adp+0',
      '0x1.676c535fb5403p+0', '-0x1.0b846e84539d3p-3', '-0x1.0374ef7600513p+1']),
    ('ve', {'method': 'pc', 'steps': 5}, 11,
     ['0x1.9cd0963928ef8p+0', '0x1.1f2a6844339d5p+0', '-0x1.39f44a81454bdp-2',
      '-0x1.10f0aef77c8bfp+1', '0x1.65a92d12e38b5p+0', '-0x1.46b2b309a7afcp+0']),
    ('ve', {'method': 'heun', 'steps': 5, 'grid': 'karras', 'rho': 5.0}, 11,
     ['0x1.841efa7cea50cp+0', '0x1.8ba92190075c2p+0', '0x1.8b908d81d7d90p+0',
      '0x1.851c34d8c3095p+0', '-0x1.3137fa49459d0p-7', '-0x1.0bcb04cf689d4p+1']),
    ('tab', {'method': 'dpmpp_2m', 'steps': 5, 'grid': 'logsnr'}, 6,
     ['0x1.5e03f9c7b690ep+0', '0x1.e2c5462c37cb8p+0', '0x1.c0ec554bae2f4p+0',
      '0x1.aa8e4f043d255p+0', '-0x1.ce07aa45f3fd7p-3', '-0x1.2dd20144f3102p+1']),
    ('tab', {'method': 'ancestral', 'steps': 5}, 6,
     ['-0x1.1776ae77d633fp+0', '-0x1.74024598f840ap+0', '-0x1.35a9d645ec607p-3',
      '-0x1.ec03ac5e2d745p+0', '0x1.88f17d7418cf6p+0', '-0x1.0586e0cc63607p+0']),
    ('vp', {'sample_n': True, 'method': 'em', 'steps': 5, 'seed': 4, 'block_size': 2}, 18,
     ['0x1.36fdb26ecfea9p+1', '0x1.d11d1f83938c6p-1', '0x1.83f7e148ed906p-3',
      '0x1.fd774c9f754eap+0', '0x1.868d14cf1f970p+1', '-0x1.ddbc380db1d5fp+0',
      '-0x1.0e4fb7f13820dp+0', '0x1.0dc7073ac5277p-1', '0x1.029c855ca1eb6p+0',
      '-0x1.45a697565303fp+1']),
]


def _sdes():
    return {"vp": VPSDE(), "ve": VESDE(sigma_max=5.0),
            "tab": GaussianPathSDE.from_alphas_cumprod(ddpm_alphas_cumprod())}


@pytest.fixture(scope="module")
def sdes():
    return _sdes()


def _problem(sde, n=3):
    gm = GaussianMixture.ring()
    x_T = gm.at(sde, sde.T).sample(n, torch.Generator().manual_seed(1)).to(F64)
    return gm.score_fn(sde), x_T


@pytest.mark.parametrize("key,kw,nfe,hexes", PINS[:-1],
                         ids=[f"{p[0]}-{p[1]['method']}-{i}" for i, p in enumerate(PINS[:-1])])
def test_sample_reproduces_the_pinned_samples(sdes, key, kw, nfe, hexes):
    """Every method of the old one-function ``sample()`` gives the pinned float64 samples."""
    sde = sdes[key]
    sc, x_T = _problem(sde)
    torch.set_num_threads(1)
    x, info = sample(sc, sde, x_T, generator=torch.Generator().manual_seed(2), **kw)
    want = torch.tensor([float.fromhex(h) for h in hexes], dtype=F64).reshape(x.shape)
    assert info["nfe"] == nfe
    torch.testing.assert_close(x, want, rtol=1e-12, atol=1e-12)


def test_sample_n_reproduces_the_pinned_samples(sdes):
    key, kw, nfe, hexes = PINS[-1]
    sde = sdes[key]
    gm = GaussianMixture.ring()
    x, info = sample_n(gm.score_fn(sde), sde, 5, 2, method="em", steps=5, seed=4, block_size=2,
                       dtype=F64)
    want = torch.tensor([float.fromhex(h) for h in hexes], dtype=F64).reshape(x.shape)
    assert info["nfe"] == nfe and info["brownian"] == "increments"
    torch.testing.assert_close(x, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", list(SAMPLERS))
def test_dispatcher_equals_the_sampler_function_on_its_grid(sdes, method):
    """``sample(method=m, steps, grid)`` is exactly ``SAMPLERS[m].fn(..., time_grid(...))``."""
    sde = sdes["vp"]
    sc, x_T = _problem(sde, 4)
    grid = "cosine" if method == "trig_pc" else "logsnr"
    opts = {"eta": 0.3} if method in ("eta", "ddim") else {}
    a, ia = sample(sc, sde, x_T, method=method, steps=5, grid=grid, generator=7, **opts)
    ts = time_grid(sde, 5, grid=grid)
    b, ib = SAMPLERS[method].fn(sc, sde, x_T, ts, generator=7, **opts)
    assert torch.equal(a, b) and ia["nfe"] == ib["nfe"]
    assert torch.equal(ia["ts"], ts) and ia["grid"] == grid and ia["method"] == method


def test_every_sampler_has_the_common_options_and_four_positionals():
    for name, spec in SAMPLERS.items():
        params = inspect.signature(spec.fn).parameters
        assert list(params)[:4] == ["score_fn", "sde", "x_T", "ts"], name
        for opt in ("generator", "denoise_last", "callback", "check_finite"):
            assert opt in spec.options, (name, opt)
        assert ("brownian" in spec.options) == (spec.stochastic or name == "ddim"), name


def test_dispatcher_rejects_options_the_sampler_does_not_take(sdes):
    sde = sdes["vp"]
    sc, x_T = _problem(sde)
    with pytest.raises(TypeError, match=r"option snr=0.2, which sample_heun does not take; "
                                        r"its options: generator, denoise_last"):
        sample(sc, sde, x_T, method="heun", steps=3, snr=0.2)
    with pytest.raises(TypeError, match="option eta=0.5, which sample_euler_maruyama"):
        sample(sc, sde, x_T, method="em", steps=3, eta=0.5)
    with pytest.raises(TypeError, match="rtol"):
        sample(sc, sde, x_T, method="dpmpp_2m", steps=3, rtol=1e-3)
    with pytest.raises(TypeError, match="sigma_data sets the scale of grid='cosine' only"):
        sample(sc, sde, x_T, method="dpmpp_2m", steps=3, sigma_data=0.5)
    # sigma_data is the cosine grid's scale for every method
    a, _ = sample(sc, sde, x_T, method="dpmpp_2m", steps=3, grid="cosine", sigma_data=0.5)
    b, _ = sample(sc, sde, x_T, method="dpmpp_2m", steps=3, grid="cosine", grid_scale=0.5)
    assert torch.equal(a, b)
    # brownian=None is no option at all, and a path for a noiseless method stays a ValueError
    sample(sc, sde, x_T, method="heun", steps=3, brownian=None)
    with pytest.raises(ValueError, match="draws no noise"):
        sample(sc, sde, x_T, method="heun", steps=3, brownian=1)


def test_sampler_functions_check_their_grid(sdes):
    sde = sdes["vp"]
    sc, x_T = _problem(sde)
    with pytest.raises(ValueError, match="strictly decreasing"):
        sample_heun(sc, sde, x_T, torch.tensor([0.5, 0.7, 0.1]))
    with pytest.raises(ValueError, match=r"ts must lie in \(0, T\]"):
        sample_heun(sc, sde, x_T, [1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="at least 2 times"):
        sample_heun(sc, sde, x_T, [0.5])
    with pytest.raises(TypeError, match="ts must be"):
        sample_heun(sc, sde, x_T, "uniform")
    # a plain list works and equals the tensor grid
    a, _ = sample_heun(sc, sde, x_T, [1.0, 0.4, 0.05])
    b, _ = sample_heun(sc, sde, x_T, torch.tensor([1.0, 0.4, 0.05], dtype=F64))
    assert torch.equal(a, b)


def test_register_sampler_adds_a_method(sdes):
    """A user sampler: the Tweedie jump ``x ↦ D(x, t_0)`` (1 evaluation), with an option."""
    def sample_jump(score_fn, sde, x_T, ts, *, scale=1.0, generator=None, denoise_last=True,
                    callback=None, check_finite=None):
        t0 = torch.full((x_T.shape[0],), float(ts[0]), dtype=x_T.dtype)
        a, s = sde.kernel(t0)
        return scale * (x_T + s[:, None] ** 2 * score_fn(x_T, t0)) / a[:, None], {"nfe": 1}

    sde = sdes["vp"]
    sc, x_T = _problem(sde)
    try:
        spec = register_sampler("jump", sample_jump, stochastic=False, evals_per_step=1)
        assert SAMPLERS["jump"] is spec and spec.options[0] == "scale"
        x, info = sample(sc, sde, x_T, method="jump", steps=1, scale=2.0)
        gm = GaussianMixture.ring()
        torch.testing.assert_close(x, 2.0 * gm.denoise(x_T, 1.0, sde), rtol=1e-12, atol=1e-12)
        assert info["grid"] == "uniform"
        with pytest.raises(ValueError, match="registered already"):
            register_sampler("jump", sample_jump, stochastic=False, evals_per_step=1)
        with pytest.raises(TypeError, match="option snr"):
            sample(sc, sde, x_T, method="jump", steps=1, snr=1.0)
    finally:
        SAMPLERS.pop("jump", None)
    with pytest.raises(TypeError, match="positionally"):
        register_sampler("bad", lambda score_fn, sde, x_T: None, stochastic=False,
                         evals_per_step=1)
    with pytest.raises(ValueError, match="name"):
        register_sampler("no way", sample_jump, stochastic=False, evals_per_step=1)


# ------------------------------------------------------------------------------ check_finite
def _nan_late(sc):
    def f(x, t):                          # NaN from the model at t < 0.5 only
        s = sc(x, t)
        return s * float("nan") if float(t[0]) < 0.5 else s
    return f


@pytest.mark.parametrize("mode", ["every", "end", None])
def test_a_nan_score_raises_with_the_step_named(sdes, mode):
    """Checked at once ("every"), or counted on the device and read at the end ("end"): the
    same message names the first bad step either way."""
    sde = sdes["vp"]
    sc, x_T = _problem(sde, 4)
    with pytest.raises(ValueError,
                       match=r"non-finite values \(NaN/inf\) at step 7 of 10 \(t=0.4006"):
        sample(_nan_late(sc), sde, x_T, method="ddim", steps=10, check_finite=mode)


def test_check_finite_end_runs_every_step_and_false_never_checks(sdes):
    sde = sdes["vp"]
    sc, x_T = _problem(sde, 4)
    seen = []
    with pytest.raises(ValueError, match="at step 7 of 10"):
        sample(_nan_late(sc), sde, x_T, method="ddim", steps=10, check_finite="end",
               callback=lambda d: seen.append(d["i"]))
    assert seen == list(range(10))                      # no early stop: one read at the end
    x, _ = sample(_nan_late(sc), sde, x_T, method="ddim", steps=10, check_finite=False)
    assert bool(torch.isnan(x).all())
    with pytest.raises(ValueError, match="check_finite must be"):
        sample(sc, sde, x_T, method="ddim", steps=3, check_finite="always")


def test_check_finite_end_does_not_change_the_numbers(sdes):
    sde = sdes["vp"]
    sc, x_T = _problem(sde, 4)
    for m in ("em", "heun", "dpmpp_2m"):
        a, _ = sample(sc, sde, x_T, method=m, steps=4, generator=3, check_finite="every")
        b, _ = sample(sc, sde, x_T, method=m, steps=4, generator=3, check_finite="end")
        c, _ = sample(sc, sde, x_T, method=m, steps=4, generator=3, check_finite=False)
        assert torch.equal(a, b) and torch.equal(a, c)


# ------------------------------------------------------------------------ sample_n(brownian)
def test_sample_n_tree_is_seeded_per_block_and_steady_in_the_step_count(sdes):
    """``brownian="tree"``: reproducible, independent of how blocks are shared, and the samples
    at 25 and 100 steps are much closer than with fresh increments (the same path)."""
    sde = sdes["vp"]
    gm = GaussianMixture.ring()
    sc = gm.score_fn(sde)
    kw = dict(method="em", seed=3, block_size=40, dtype=F64, t_end=1e-2, grid="logsnr")
    a, info = sample_n(sc, sde, 80, 2, steps=25, brownian="tree", **kw)
    b, _ = sample_n(sc, sde, 80, 2, steps=25, brownian="tree", **kw)
    assert torch.equal(a, b) and info["brownian"] == "tree" and info["n_blocks"] == 2
    c, _ = sample_n(sc, sde, 80, 2, steps=100, brownian="tree", **kw)
    f25, _ = sample_n(sc, sde, 80, 2, steps=25, brownian="increments", **kw)
    f100, _ = sample_n(sc, sde, 80, 2, steps=100, **kw)
    d_tree = float((a - c).norm(dim=1).mean())
    d_fresh = float((f25 - f100).norm(dim=1).mean())
    assert d_tree < 0.3 * d_fresh, (d_tree, d_fresh)
    # one block's path is the BrownianInterval of its documented seed
    from kexue.rng import block_generator, block_seed
    from kexue.stochastic import BrownianInterval

    base = 3
    gen = block_generator(base, 1)
    x_T = sde.prior_sample((40, 2), gen, dtype=F64)
    W = BrownianInterval(0.0, sde.T, (40, 2), seed=block_seed(block_seed(base, 1), 0))
    x1, _ = sample(sc, sde, x_T, method="em", steps=25, generator=gen, brownian=W,
                   t_end=1e-2, grid="logsnr")
    assert torch.equal(x1, a[40:])


def test_sample_n_brownian_bad_values(sdes):
    sde = sdes["vp"]
    sc = GaussianMixture.ring().score_fn(sde)
    with pytest.raises(ValueError, match="brownian must be one of"):
        sample_n(sc, sde, 4, 2, method="em", steps=3, brownian="bridge")
    with pytest.raises(TypeError, match="brownian"):
        sample_n(sc, sde, 4, 2, method="em", steps=3, brownian=0)
    with pytest.raises(ValueError, match="draws no noise"):
        sample_n(sc, sde, 4, 2, method="heun", steps=3, brownian="tree")


def test_public_kernel_and_coefficients_match_the_checked_ones(sdes):
    t = torch.linspace(0.01, 1.0, 7, dtype=F64)
    for sde in sdes.values():
        a, s = sde.kernel(t)
        a2, s2 = sde.marginal(t)
        assert torch.equal(a, a2) and torch.equal(s, s2)
        f, g2 = sde.coefficients(t)
        assert torch.equal(f, sde.f(t)) and torch.equal(g2, sde.g2(t))
    assert sample_euler_maruyama.__name__ == SAMPLERS["em"].fn.__name__


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mode", ["every", "end", None])
def test_check_finite_modes_on_cuda(mode):
    """On CUDA the automatic mode defers (one read at the end); every mode names the step and
    all give the CPU numbers to rounding."""
    sde = VPSDE()
    sc, x_T = _problem(sde, 4)
    with pytest.raises(ValueError, match="at step 7 of 10"):
        sample(_nan_late(sc), sde, x_T.cuda(), method="ddim", steps=10, check_finite=mode)
    a, _ = sample(sc, sde, x_T, method="em", steps=6, brownian=3, check_finite=mode)
    b, _ = sample(sc, sde, x_T.cuda(), method="em", steps=6, brownian=3, check_finite=mode)
    torch.testing.assert_close(b.cpu(), a, rtol=1e-9, atol=1e-9)
