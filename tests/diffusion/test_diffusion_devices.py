"""kexue.diffusion on any device: the randomness rule (generator=None is PyTorch's default
generator), dsm_loss with given t/ε (the identity a distributed trainer relies on), device=
arguments, no host sync in sampler loops, and (marked gpu) CUDA against CPU. float64."""

from __future__ import annotations

import pytest
import torch

from kexue.diffusion import (
    VESDE,
    VPSDE,
    GaussianMixture,
    MLPScoreNet,
    ScoreModel,
    dsm_loss,
    inpaint,
    log_likelihood,
    sample,
)
from kexue.diffusion._loss import diffusion_sq

F64 = torch.float64
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _ring():
    sde = VPSDE()
    gm = GaussianMixture.ring()
    return gm, sde, gm.score_fn(sde)


# ------------------------------------------------------------------------------ randomness
def test_generator_none_is_the_default_generator_everywhere():
    """None means PyTorch's default generator (as torch.randn): torch.manual_seed reproduces
    every random function, and the next call (generator moved on) differs."""
    gm, sde, sc = _ring()
    x0 = gm.sample(16, 0)
    calls = {
        "sample": lambda: sample(sc, sde, torch.zeros(8, 2, dtype=F64), method="em", steps=5)[0],
        "prior_sample": lambda: sde.prior_sample((8, 2), dtype=F64),
        "mixture.sample": lambda: gm.sample(8),
        "dsm_loss": lambda: dsm_loss(sc, sde, x0, reduction="none"),
        "inpaint": lambda: inpaint(sc, sde, x0[:4], torch.tensor([1, 0]), steps=4)[0],
        "hutchinson": lambda: log_likelihood(sc, sde, x0[:3], divergence="hutchinson",
                                             rtol=1e-3, atol=1e-3)[0],
    }
    for name, fn in calls.items():
        torch.manual_seed(123)
        a = fn()
        b = fn()
        torch.manual_seed(123)
        assert torch.equal(fn(), a), name
        assert not torch.equal(a, b), name


def test_int_seed_and_generator_agree_and_global_rng_is_untouched():
    gm, sde, sc = _ring()
    state = torch.random.get_rng_state()
    x_T = sde.prior_sample((32, 2), 5, dtype=F64)
    assert torch.equal(x_T, sde.prior_sample((32, 2), torch.Generator().manual_seed(5),
                                             dtype=F64))
    a, _ = sample(sc, sde, x_T, method="ancestral", steps=6, generator=9)
    b, _ = sample(sc, sde, x_T, method="ancestral", steps=6,
                  generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.gpu
@cuda
def test_generator_on_the_wrong_device_type_is_refused():
    _, sde, sc = _ring()
    g = torch.Generator(device="cuda")
    with pytest.raises(ValueError, match="generator lives on"):
        sample(sc, sde, torch.zeros(4, 2, dtype=F64), method="em", steps=2, generator=g)
    with pytest.raises(ValueError, match="generator lives on"):
        dsm_loss(sc, sde, torch.zeros(4, 2, dtype=F64), generator=g)


# -------------------------------------------------------------------------- dsm_loss t / ε
def test_dsm_loss_with_given_t_and_eps_is_the_formula():
    """λ(t)/s_t²‖ε̂(a_t x0 + s_t ε, t) − ε‖², ε̂ = −s_t·score, computed by hand, both weightings."""
    gm, sde, sc = _ring()
    g = torch.Generator().manual_seed(0)
    x0 = gm.sample(32, g)
    t = 1e-3 + (1 - 1e-3) * torch.rand(32, generator=g, dtype=F64)
    eps = torch.randn(32, 2, generator=g, dtype=F64)
    a, s = sde.marginal(t)
    xt = a[:, None] * x0 + s[:, None] * eps
    eps_hat = -s[:, None] * sc(xt, t)
    per = (eps_hat - eps).pow(2).sum(1)
    got = dsm_loss(sc, sde, x0, t=t, eps=eps, reduction="none")
    torch.testing.assert_close(got, per, rtol=1e-14, atol=0)
    got_l = dsm_loss(sc, sde, x0, t=t, eps=eps, weighting="likelihood")
    torch.testing.assert_close(got_l, (per * diffusion_sq(sde, t) / s**2).mean(), rtol=1e-14,
                               atol=0)
    # the generator is not consulted when both are given
    assert torch.equal(dsm_loss(sc, sde, x0, t=t, eps=eps, generator=1),
                       dsm_loss(sc, sde, x0, t=t, eps=eps, generator=2))


def test_dsm_loss_given_equals_drawn_from_the_same_stream():
    """Drawing t ~ U(t_min, T) then ε ~ N(0, I) from one generator and passing them is the drawn
    loss, bit for bit; giving only t draws ε first from the generator; slices of a global batch
    reproduce the global per-example losses (what DDP ranks compute)."""
    gm, sde, sc = _ring()
    x0 = gm.sample(24, 1)
    t_min = 1e-4
    g = torch.Generator().manual_seed(3)
    t = t_min + (1.0 - t_min) * torch.rand(24, generator=g, dtype=F64)
    eps = torch.randn(24, 2, generator=g, dtype=F64)
    drawn = dsm_loss(sc, sde, x0, t_min=t_min, generator=3, reduction="none")
    assert torch.equal(dsm_loss(sc, sde, x0, t=t, eps=eps, reduction="none"), drawn)
    g = torch.Generator().manual_seed(8)
    eps8 = torch.randn(24, 2, generator=g, dtype=F64)
    assert torch.equal(dsm_loss(sc, sde, x0, t=t, generator=8, reduction="none"),
                       dsm_loss(sc, sde, x0, t=t, eps=eps8, reduction="none"))
    parts = [dsm_loss(sc, sde, x0[i:i + 8], t=t[i:i + 8], eps=eps[i:i + 8], reduction="none")
             for i in (0, 8, 16)]
    assert torch.equal(torch.cat(parts), drawn)


def test_dsm_loss_given_t_eps_bad_input():
    gm, sde, sc = _ring()
    x0 = gm.sample(4, 0)
    with pytest.raises(ValueError, match=r"t must have shape \(4,\)"):
        dsm_loss(sc, sde, x0, t=torch.full((3,), 0.5, dtype=F64))
    with pytest.raises(ValueError, match=r"eps must have shape \(4, 2\)"):
        dsm_loss(sc, sde, x0, eps=torch.zeros(4, 3, dtype=F64))
    with pytest.raises(TypeError, match="t must be a floating torch.Tensor"):
        dsm_loss(sc, sde, x0, t=torch.ones(4, dtype=torch.long))
    with pytest.raises(ValueError, match="eps lives on meta"):
        dsm_loss(sc, sde, x0, eps=torch.zeros(4, 2, dtype=F64, device="meta"))


# ------------------------------------------------------------------------- devices on CPU
def test_device_arguments_on_cpu():
    gm, sde, _ = _ring()
    assert sde.prior_sample((3, 2), 0, device="cpu").device.type == "cpu"
    assert gm.sample(3, 0, device="cpu").device.type == "cpu"
    net = MLPScoreNet(2, hidden=8, depth=1, seed=0, device="cpu")
    ref = MLPScoreNet(2, hidden=8, depth=1, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), ref.parameters()))
    with pytest.raises(ValueError, match="device must be one of"):
        sde.prior_sample((3, 2), 0, device="gpu")
    with pytest.raises(ValueError, match="device must be one of"):
        MLPScoreNet(2, device="tpu")


class _SyncCounter:
    """Counts host reads of tensors (``bool``/``float``/``int``/``item``/``tolist``) while
    active, by wrapping the Tensor methods. On CUDA each would be a device synchronisation."""

    NAMES = ("__bool__", "__float__", "__int__", "item", "tolist")

    def __init__(self):
        self.count = 0
        self._saved = {}

    def __enter__(self):
        for name in self.NAMES:
            orig = getattr(torch.Tensor, name)
            self._saved[name] = orig

            def wrapped(t, *a, _orig=orig, **k):
                self.count += 1
                return _orig(t, *a, **k)

            setattr(torch.Tensor, name, wrapped)
        return self

    def __exit__(self, *exc):
        for name, orig in self._saved.items():
            setattr(torch.Tensor, name, orig)


def _as_on_accelerator(monkeypatch):
    """Make the CPU code paths behave as they do for tensors on an accelerator: the finiteness
    guard defers, and the SDE skips the host-side check of tensor times."""
    import kexue.diffusion._checks as checks
    from kexue.diffusion import GaussianPathSDE
    from kexue.diffusion._sde import _as_t

    orig_init = checks.FiniteGuard.__init__

    def deferred(self, device, message, *, defer=None):
        orig_init(self, device, message, defer=True if defer is None else defer)

    orig_checked = GaussianPathSDE._checked_t

    def checked(self, t, name="t"):
        return _as_t(t) if isinstance(t, torch.Tensor) else orig_checked(self, t, name)

    monkeypatch.setattr(checks.FiniteGuard, "__init__", deferred)
    monkeypatch.setattr(GaussianPathSDE, "_checked_t", checked)


@pytest.mark.parametrize("method", ["em", "pc", "heun", "dpmpp_2m", "trig_pc", "ddim"])
def test_sampler_loops_do_not_read_tensors_back_per_step(method, monkeypatch):
    """Under the accelerator code paths the number of host reads of tensor values does not grow
    with the number of steps: there are none inside the sampler loop (network score)."""
    _, sde, _ = _ring()
    net = ScoreModel(MLPScoreNet(2, hidden=8, depth=1, seed=0), sde)
    with torch.no_grad():                     # a non-zero output (pc divides by the score norm)
        net.net.out.weight.copy_(torch.randn(2, 8, generator=torch.Generator().manual_seed(0)))
    x_T = sde.prior_sample((4, 2), 0, dtype=torch.float32)
    _as_on_accelerator(monkeypatch)
    counts = []
    for steps in (4, 16):
        kw = {"grid": "cosine", "t_end": None} if method == "trig_pc" else {}
        with _SyncCounter() as c:
            sample(net, sde, x_T, method=method, steps=steps, generator=0, **kw)
        counts.append(c.count)
    assert counts[0] == counts[1], counts


def test_deferred_check_reports_the_same_first_bad_step(monkeypatch):
    """On an accelerator the NaN is found once at the end, with the message the immediate CPU
    check gives (the first bad evaluation: its step, t and count)."""
    _, sde, _ = _ring()

    def bad(x, t):
        return torch.where(t[:, None] < 0.45, torch.nan, -x)

    x_T = torch.zeros(3, 2, dtype=F64)
    runs = {
        "heun": lambda: sample(bad, sde, x_T, method="heun", steps=10),
        "em": lambda: sample(bad, sde, x_T, method="em", steps=10, generator=0),
        "inpaint": lambda: inpaint(bad, sde, x_T, torch.tensor([1, 0]), steps=10, generator=0),
    }
    immediate = {}
    for name, fn in runs.items():
        with pytest.raises(ValueError, match="NaN") as err:
            fn()
        immediate[name] = str(err.value)
    assert "step 7 of 10 (t=0.4006" in immediate["heun"]
    assert "at step 6 (t = 0.4006" in immediate["inpaint"]
    _as_on_accelerator(monkeypatch)
    for name, fn in runs.items():
        with pytest.raises(ValueError, match="NaN") as err:
            fn()
        assert str(err.value) == immediate[name], name


# ----------------------------------------------------------------------------------- CUDA
@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("method", ["heun", "dpmpp_2m", "trig_pc", "rk45"])
def test_ode_samplers_on_cuda_match_cpu(method):
    """Deterministic samplers from the same x_T: CUDA equals CPU to float64 rounding."""
    gm, sde, sc = _ring()
    x_T = gm.at(sde, sde.T).sample(256, 0)
    kw = {"grid": "cosine", "t_end": None} if method == "trig_pc" else {}
    if method == "rk45":
        kw = {"rtol": 1e-8, "atol": 1e-8}
    cpu, info_c = sample(sc, sde, x_T, method=method, steps=20, **kw)
    gpu, info_g = sample(sc, sde, x_T.cuda(), method=method, steps=20, **kw)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-9, atol=1e-9 if method != "rk45" else 1e-6)
    if method != "rk45":
        assert info_c["nfe"] == info_g["nfe"]


@pytest.mark.gpu
@cuda
def test_stochastic_sampler_and_sample_n_on_cuda():
    """Stochastic sampling on CUDA with a CUDA generator: reproducible by seed; the sample's
    law matches p_0's mode weights (8 equal modes, 4 SE); sample_n's blocks draw on the GPU."""
    gm, sde, sc = _ring()
    x_T = sde.prior_sample((4000, 2), 0, dtype=F64, device="cuda")
    assert x_T.device.type == "cuda"
    a, _ = sample(sc, sde, x_T, method="em", steps=200, generator=1)
    b, _ = sample(sc, sde, x_T, method="em", steps=200,
                  generator=torch.Generator(device="cuda").manual_seed(1))
    assert torch.equal(a, b) and a.device.type == "cuda"
    nearest = torch.cdist(a, gm.means.cuda()).argmin(1)
    counts = torch.bincount(nearest, minlength=8).double().cpu()
    se = (4000 * (1 / 8) * (7 / 8)) ** 0.5
    assert ((counts - 500).abs() / se).max() < 4.0
    from kexue.diffusion import sample_n
    from kexue.rng import block_generator

    y, _ = sample_n(sc, sde, 6, 2, method="em", steps=5, seed=2, block_size=4, device="cuda",
                    dtype=F64)
    parts = []
    for b, (lo, hi) in enumerate([(0, 4), (4, 6)]):
        g = block_generator(2, b, device="cuda")
        x_T = sde.prior_sample((hi - lo, 2), g, dtype=F64)
        parts.append(sample(sc, sde, x_T, method="em", steps=5, generator=g)[0])
    assert y.device.type == "cuda" and torch.equal(y, torch.cat(parts))


@pytest.mark.gpu
@cuda
def test_log_likelihood_and_dsm_loss_on_cuda_match_cpu():
    gm, sde, sc = _ring()
    x = gm.at(sde, 1e-5).sample(16, 2)
    lp_c, _ = log_likelihood(sc, sde, x, rtol=1e-8, atol=1e-8)
    lp_g, info = log_likelihood(sc, sde, x.cuda(), rtol=1e-8, atol=1e-8)
    assert lp_g.device.type == "cuda" and info["z"].device.type == "cuda"
    torch.testing.assert_close(lp_g.cpu(), lp_c, rtol=0, atol=1e-6)
    # dsm_loss: same given (t, ε) give the same loss; drawn ones draw on the device
    t = torch.linspace(0.01, 1.0, 16, dtype=F64)
    eps = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    lc = dsm_loss(sc, sde, x, t=t, eps=eps)
    lg = dsm_loss(sc, sde, x.cuda(), t=t.cuda(), eps=eps.cuda())
    torch.testing.assert_close(lg.cpu(), lc, rtol=1e-12, atol=0)
    net = ScoreModel(MLPScoreNet(2, hidden=16, depth=2, seed=0, device="cuda").double(),
                     VESDE())
    loss = dsm_loss(net, VESDE(), x.cuda(), generator=0)
    loss.backward()
    assert loss.device.type == "cuda"
    assert torch.isfinite(net.net.inp.weight.grad).all()


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("name", ["diffusion-likelihood", "diffusion-samplers"])
def test_experiment_quick_preset_on_cuda(name):
    """The experiments end to end on the GPU: every claim holds with device="cuda"."""
    from kexue.experiments import get, resolve_config, run_experiment

    spec = get(name)
    result = run_experiment(spec, resolve_config(spec, quick=True,
                                                 overrides={"device": "cuda"}))
    assert result.status == "ok", result.error
    assert result.passed, [c for c in result.claims if not c.passed]
    assert "cuda" in result.notes
