"""Score networks and the training loop: shapes, learning, exact resume, interrupts, NaN guard."""

import copy
import math
import signal

import pytest
import torch

from kexue import checkpoint
from kexue.diffusion import VESDE, VPSDE, GaussianMixture
from kexue.diffusion._loss import dsm_loss
from kexue.diffusion._nets import (
    FourierTimeFeatures,
    MLPScoreNet,
    ScoreModel,
    UNet8,
    net_from_spec,
)
from kexue.diffusion._score_checkpoint import load_score_model
from kexue.diffusion._train import TrainingDiverged, train

RING = GaussianMixture.ring(8, 2.0, 0.1)


def _model(sde=None, hidden=32):
    sde = sde or VPSDE()
    g = torch.Generator().manual_seed(0)
    net = MLPScoreNet(2, hidden=hidden, depth=2)
    with torch.no_grad():  # deterministic initialisation without the global RNG
        for p in net.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return ScoreModel(net, sde, sigma_data=1.4)


def _data(n=2048):
    return RING.sample(n, 0).float()


KW = dict(batch_size=64, lr=3e-3, ema_decay=0.99, warmup=5, progress=False, seed=3)


# ------------------------------------------------------------------------------------ networks
@pytest.mark.parametrize("net,dim", [(MLPScoreNet(2, hidden=16), 2), (MLPScoreNet(16), 16),
                                     (UNet8(ch=8), 64)])
def test_networks_shapes_zero_init_and_spec_round_trip(net, dim):
    x = torch.randn(5, dim)
    t = torch.rand(5)
    out = net(x, t)
    assert out.shape == (5, dim)
    assert torch.equal(out, torch.zeros(5, dim))  # zero-initialised output layer
    assert net(x, 0.5).shape == (5, dim)  # scalar t broadcasts
    clone = net_from_spec(net.spec)
    clone.load_state_dict(net.state_dict())
    assert torch.equal(clone(x, t), out)
    with pytest.raises(ValueError, match="shape"):
        net(torch.randn(5, dim + 1), t)
    with pytest.raises(ValueError, match=r"t must be a scalar or have shape \(batch,\)"):
        net(x, torch.rand(4))


def test_seeded_initialisation_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = UNet8(ch=8, seed=5), UNet8(ch=8, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = MLPScoreNet(2, seed=6)
    assert not torch.equal(c.inp.weight, MLPScoreNet(2, seed=7).inp.weight)


def test_fourier_features_and_unet_size():
    f = FourierTimeFeatures(8)
    t = torch.tensor([0.0, 0.25, 1.0])
    e = f(t)
    assert e.shape == (3, 16)
    assert torch.allclose(e[:, :8] ** 2 + e[:, 8:] ** 2, torch.ones(3, 8))  # sin² + cos² = 1
    n = sum(p.numel() for p in UNet8(ch=32).parameters())
    assert 1e5 < n < 5e5
    with pytest.raises(ValueError, match="unknown network kind"):
        net_from_spec({"kind": "transformer"})


def test_score_model_ve_input_scaling():
    """c_in = 1/√(a²σ_data² + s²) keeps the network input O(1) even at σ_max = 50 (VE)."""
    sde = VESDE(0.01, 50.0)
    seen = []

    class Probe(torch.nn.Module):
        def forward(self, x, t):
            seen.append(x)
            return torch.zeros_like(x)

    model = ScoreModel(Probe(), sde)
    x = 50.0 * torch.randn(4000, 2, generator=torch.Generator().manual_seed(0))
    model.eps(x, torch.ones(4000))
    assert abs(float(seen[0].std()) - 1.0) < 0.05


# ------------------------------------------------------------------------------------ training
def test_short_training_reduces_held_out_loss_towards_the_oracle_minimum():
    sde = VPSDE()
    model = _model(sde)
    held = RING.sample(4000, 9).float()
    oracle = dsm_loss(RING.score_fn(sde), sde, held, generator=1).item()
    with torch.no_grad():
        before = dsm_loss(model, sde, held, generator=1).item()
    res = train(model, sde, _data(), steps=200, **KW)
    with torch.no_grad():
        after = dsm_loss(res.ema, sde, held, generator=1).item()
    assert after >= oracle - 0.02  # L(θ) = ESM(θ) + minimum ≥ minimum (up to MC noise)
    assert (after - oracle) < 0.3 * (before - oracle)
    assert res.losses.shape == (200,) and res.step == 200
    assert res.losses[-50:].mean() < res.losses[:50].mean()


def _states(model, ema):
    return [t.clone() for t in list(model.state_dict().values()) + list(ema.state_dict().values())]


def test_resume_reproduces_the_uninterrupted_run_bit_for_bit(tmp_path):
    sde, data = VPSDE(), _data()
    base = _model(sde)
    full = train(copy.deepcopy(base), sde, data, steps=30, checkpoint=tmp_path / "a.safetensors",
                 ckpt_every=7, **KW)

    # stop at step 13 (a callback asks to stop), then resume with a freshly built model
    first = train(copy.deepcopy(base), sde, data, steps=30, checkpoint=tmp_path / "b.safetensors",
                  ckpt_every=7, callback=lambda step, loss: step == 13, **KW)
    assert first.stopped and first.step == 13
    fresh = _model(sde, hidden=32)
    with torch.no_grad():
        for p in fresh.parameters():
            p.add_(1.0)  # different weights: everything must come from the checkpoint
    resumed = train(fresh, sde, data, steps=30, checkpoint=tmp_path / "b.safetensors",
                    ckpt_every=7, **KW)
    assert resumed.start_step == 13 and resumed.step == 30
    assert torch.equal(resumed.losses, full.losses)
    for a, b in zip(_states(full.model, full.ema), _states(resumed.model, resumed.ema)):
        assert torch.equal(a, b)
    ta, ma = checkpoint.load(tmp_path / "a.safetensors")
    tb, mb = checkpoint.load(tmp_path / "b.safetensors")
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    assert ma["step"] == mb["step"] == 30

    # extending a finished run: 20 steps, then to 30, equals 30 at once
    short = train(copy.deepcopy(base), sde, data, steps=20, checkpoint=tmp_path / "c.safetensors",
                  ckpt_every=7, **KW)
    assert short.step == 20
    longer = train(copy.deepcopy(base), sde, data, steps=30,
                   checkpoint=tmp_path / "c.safetensors", ckpt_every=7, **KW)
    assert torch.equal(longer.losses, full.losses)
    for a, b in zip(_states(full.model, full.ema), _states(longer.model, longer.ema)):
        assert torch.equal(a, b)

    # the stored EMA model rebuilds and gives the same scores
    loaded, meta = load_score_model(tmp_path / "a.safetensors", sde)
    x = torch.randn(8, 2)
    assert torch.equal(loaded(x, torch.full((8,), 0.3)), full.ema(x, torch.full((8,), 0.3)))
    assert meta["net"]["kind"] == "mlp"
    rebuilt, meta = load_score_model(tmp_path / "a.safetensors")  # SDE from the metadata
    assert isinstance(rebuilt.sde, VPSDE) and meta["sde"]["kind"] == "vp"
    assert torch.equal(rebuilt(x, torch.full((8,), 0.3)), full.ema(x, torch.full((8,), 0.3)))


def test_ctrl_c_writes_a_checkpoint_and_resumes_exactly(tmp_path):
    sde, data = VPSDE(), _data()
    base = _model(sde)
    full = train(copy.deepcopy(base), sde, data, steps=12, **KW)

    def interrupt(step, loss):
        if step == 5:
            signal.raise_signal(signal.SIGINT)

    path = tmp_path / "run.safetensors"
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when run in the background (nohup, CI)
    with pytest.raises(KeyboardInterrupt, match="interrupted at step 5"):
        train(copy.deepcopy(base), sde, data, steps=12, checkpoint=path, ckpt_every=100,
              callback=interrupt, **KW)
    assert checkpoint.load(path)[1]["step"] == 5
    assert signal.getsignal(signal.SIGINT) == before  # the caller's handler is restored
    resumed = train(copy.deepcopy(base), sde, data, steps=12, checkpoint=path, **KW)
    assert torch.equal(resumed.losses, full.losses)


def test_nan_guard_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    sde, data = VPSDE(), _data()
    with pytest.raises(TrainingDiverged, match="step 1: the DSM loss is nan.*no checkpoint"):
        bad = data.clone()
        bad[:] = float("nan")
        train(_model(sde), sde, bad, steps=5, checkpoint=tmp_path / "x.safetensors", **KW)
    assert not (tmp_path / "x.safetensors").exists()

    path = tmp_path / "run.safetensors"
    train(_model(sde), sde, data, steps=10, checkpoint=path, ckpt_every=5, **KW)
    before = path.read_bytes()
    model = _model(sde)
    model.net.register_forward_hook(lambda mod, inp, out: out * float("nan"))
    with pytest.raises(TrainingDiverged, match=r"step 11: .*last good checkpoint .*\(step 10\)"):
        train(model, sde, data, steps=20, checkpoint=path, ckpt_every=5, **KW)
    assert path.read_bytes() == before


def test_resume_refuses_a_different_configuration(tmp_path):
    sde, data = VPSDE(), _data()
    path = tmp_path / "run.safetensors"
    train(_model(sde), sde, data, steps=3, checkpoint=path, **KW)
    with pytest.raises(ValueError, match="ema_decay: 0.99 → 0.9"):
        train(_model(sde), sde, data, steps=6, checkpoint=path, **{**KW, "ema_decay": 0.9})
    with pytest.raises(ValueError, match="different data"):
        train(_model(sde), sde, data + 1.0, steps=6, checkpoint=path, **KW)
    with pytest.raises(ValueError, match="different network"):
        train(_model(sde, hidden=16), sde, data, steps=6, checkpoint=path, **KW)
    res = train(_model(sde), sde, data, steps=6, checkpoint=path, resume=False, **KW)
    assert res.start_step == 0
    cos = tmp_path / "cosine.safetensors"
    train(_model(sde), sde, data, steps=3, checkpoint=cos, lr_schedule="cosine", **KW)
    with pytest.raises(ValueError, match="steps: 3 → 6"):  # a cosine schedule cannot be extended
        train(_model(sde), sde, data, steps=6, checkpoint=cos, lr_schedule="cosine", **KW)


def test_training_validates_arguments_and_shows_progress(capsys):
    sde, data = VPSDE(), _data(256)
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        train(_model(sde), sde, data, steps=0)
    with pytest.raises(ValueError, match="weighting must be one of"):
        train(_model(sde), sde, data, steps=1, weighting="l2")
    with pytest.raises(TypeError, match="ScoreModel"):
        train(MLPScoreNet(2), sde, data, steps=1)
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        train(_model(sde), sde, data[0], steps=1)
    res = train(_model(sde), sde, data, steps=4, batch_size=8, progress=True,
                description="toy run")
    assert res.step == 4 and math.isfinite(float(res.losses[-1]))
    assert "toy run" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ CLI
def test_cli_train_resume_sample_nll_inpaint(tmp_path):
    from typer.testing import CliRunner

    from kexue.cli._diffusion import app

    runner = CliRunner()
    out = tmp_path / "ring"
    args = ["train", "--data", "ring", "--sde", "vp", "--steps", "20", "--out", str(out),
            "--width", "16", "--n-train", "512", "--quiet"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "step 20 (resumed from 0)" in res.output
    res = runner.invoke(app, [*args[:6], "30", *args[7:]])  # extend the same run
    assert res.exit_code == 0 and "step 30 (resumed from 20)" in res.output
    ckpt = str(out / "last.safetensors")
    png = tmp_path / "s.png"
    res = runner.invoke(app, ["sample", "--ckpt", ckpt, "--method", "heun", "--steps", "3",
                              "--n", "16", "--out", str(png)])
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 0 and "7 score evaluations" in res.output
    res = runner.invoke(app, ["nll", "--ckpt", ckpt, "--n", "8", "--tol", "1e-2"])
    assert res.exit_code == 0 and "nats/point" in res.output and "true NLL" in res.output
    # issue 18: stochastic samplers on one seeded Brownian tree; a method without noise refuses
    tree = ["sample", "--ckpt", ckpt, "--method", "em", "--steps", "4", "--n", "8",
            "--brownian", "tree", "--out", str(png)]
    res = runner.invoke(app, tree)
    assert res.exit_code == 0 and "5 score evaluations" in res.output, res.output
    res = runner.invoke(app, [*tree[:3], "--method", "heun", *tree[5:]])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and "draws no noise" in lines[0], res.output

    dig = tmp_path / "digits"
    res = runner.invoke(app, ["train", "--data", "digits", "--sde", "subvp", "--steps", "2",
                              "--out", str(dig), "--width", "8", "--quiet"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["inpaint", "--ckpt", str(dig), "--n", "2", "--steps", "3",
                              "--out", str(tmp_path / "i.png")])
    assert res.exit_code == 0 and "MSE on hidden pixels" in res.output
    res = runner.invoke(app, ["nll", "--ckpt", str(dig), "--n", "2", "--tol", "1e-2"])
    assert res.exit_code == 0 and "bits/dim" in res.output


@pytest.mark.parametrize("args,message", [
    (["train", "--data", "mnist"], "--data must be one of ring, moons, digits"),
    (["train", "--sde", "vpp"], "--sde must be one of vp, subvp, ve"),
    (["train", "--steps", "0"], "--steps must be >= 1"),
    (["sample", "--ckpt", "nowhere.safetensors"], "does not exist"),
    (["inpaint", "--ckpt", "x", "--mask", "diagonal"], "--mask must be one of"),
    (["sample", "--ckpt", "x", "--brownian", "bridge"], "--brownian"),
])
def test_cli_errors_are_one_line_with_status_2(args, message, tmp_path):
    from typer.testing import CliRunner

    from kexue.cli._diffusion import app

    res = CliRunner().invoke(app, [*args, *(["--out", str(tmp_path)] if args[0] == "train"
                                            else [])])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_training_with_ve_and_likelihood_weighting_stays_finite():
    sde = VESDE(0.01, 5.0)
    model = ScoreModel(MLPScoreNet(2, hidden=16, depth=1, seed=1), sde, sigma_data=1.4)
    res = train(model, sde, _data(256), steps=20, batch_size=32, weighting="likelihood",
                t_min=1e-3, progress=False, seed=0)
    assert torch.isfinite(res.losses).all() and res.step == 20


# ------------------------------------------------------------------------------ experiments
def test_experiments_run_end_to_end_on_tiny_configs_and_are_deterministic():
    import dataclasses

    from kexue.experiments import diffusion_digits, diffusion_toy

    cfg = diffusion_toy.Config(datasets=("moons",), steps=15, n_train=400, n_eval=64,
                               n_samples=64, sample_steps=2, nll_points=4, nll_tol=1e-2,
                               kde_points=100, hidden=16, arc_nodes=20)
    a, b = diffusion_toy.run(cfg), diffusion_toy.run(dataclasses.replace(cfg))
    assert len(a.claims) == 6 and set(a.figures) == {"samples", "score-error"}
    assert [c.obtained for c in a.claims] == [c.obtained for c in b.claims]
    identity = a.claims[1]  # L_DSM(θ) − L_min = score error holds for any θ
    assert identity.passed, identity

    cfg = diffusion_digits.Config(steps=3, ch=8, batch_size=16, n_samples=40, bpd_images=2,
                                  bpd_tol=1e-2, sample_steps=2, inpaint_steps=3,
                                  resample_steps=2, resample=2, inpaint_images=16,
                                  clf_steps=20)
    r = diffusion_digits.run(cfg)
    assert len(r.claims) == 8 and len(r.tables) == 3
    assert all(math.isfinite(float(c.obtained)) for c in r.claims)


# ------------------------------------------------------------- class-conditional (CFG) training
def _conditional(seed=0):
    from kexue.diffusion import UNet

    sde = VPSDE()
    net = UNet(1, channels=(8, 16), image_size=8, num_classes=3, seed=seed, dtype=torch.float64)
    return ScoreModel(net, sde), sde


def _images(n=48):
    g = torch.Generator().manual_seed(4)
    x = torch.rand(n, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    return x, torch.arange(n) % 3


@pytest.mark.parametrize("p_uncond,trained_rows,frozen_rows", [(0.0, [0, 1, 2], [3]),
                                                                (1.0, [3], [0, 1, 2])])
def test_label_dropout_trains_exactly_the_class_rows_it_should(p_uncond, trained_rows,
                                                               frozen_rows):
    """p_uncond = 0 never shows the null class, so its embedding row never moves; p_uncond = 1
    shows only the null class, so the class rows never move (zero gradient, zero Adam step)."""
    model, sde = _conditional()
    before = model.net.class_embed.weight.detach().clone()  # (K + 1, E)
    x, y = _images()
    train(model, sde, x, labels=y, p_uncond=p_uncond, steps=3, batch_size=8, warmup=1,
          progress=False)
    after = model.net.class_embed.weight.detach()
    assert torch.equal(after[frozen_rows], before[frozen_rows])
    assert all(not torch.equal(after[r], before[r]) for r in trained_rows)


def test_conditional_training_on_images_resumes_exactly(tmp_path):
    x, y = _images()
    kw = dict(labels=y, p_uncond=0.2, steps=6, batch_size=8, warmup=1, progress=False, seed=1)
    full = train(_conditional()[0], VPSDE(), x, **kw)
    path = tmp_path / "cfg.safetensors"
    train(_conditional()[0], VPSDE(), x, checkpoint=path, **{**kw, "steps": 3})
    resumed = train(_conditional(seed=9)[0], VPSDE(), x, checkpoint=path, **kw)
    assert resumed.start_step == 3 and torch.equal(resumed.losses, full.losses)
    assert all(torch.equal(a, b) for a, b in zip(full.ema.parameters(),
                                                  resumed.ema.parameters()))
    with pytest.raises(ValueError, match="different training configuration.*p_uncond"):
        train(_conditional()[0], VPSDE(), x, checkpoint=path, **{**kw, "p_uncond": 0.5})


def test_conditional_training_rejects_bad_labels():
    x, y = _images()
    model, sde = _conditional()
    with pytest.raises(ValueError, match=r"labels must lie in 0..2 \(the model has 3 classes\)"):
        train(model, sde, x, labels=y + 1, steps=1, progress=False)
    with pytest.raises(ValueError, match=r"labels must be an int64 tensor of shape \(N,\)"):
        train(model, sde, x, labels=y[:5], steps=1, progress=False)
    with pytest.raises(ValueError, match="the model is unconditional"):
        train(_model(), VPSDE(), _data(), labels=torch.zeros(2048, dtype=torch.long), steps=1,
              progress=False)


def test_diffusion_digits_quick_preset_says_which_claims_it_does_not_check():
    """Issue 17: the quick preset checks the full preset's claims with the same thresholds, except
    the two its short training cannot decide, which it shows as not checked, with the reason."""
    from kexue.experiments import diffusion_digits, get, resolve_config

    full = diffusion_digits.Config()
    quick = resolve_config(get("diffusion-digits"), quick=True)
    assert full.check_likelihood_order and full.check_inpaint_mse
    assert not quick.check_likelihood_order and not quick.check_inpaint_mse
    cfg = diffusion_digits.Config(steps=3, ch=8, batch_size=16, n_samples=40, bpd_images=2,
                                  bpd_tol=1e-2, sample_steps=2, inpaint_steps=3,
                                  resample_steps=2, resample=2, inpaint_images=16,
                                  clf_steps=20, check_likelihood_order=False,
                                  check_inpaint_mse=False)
    r = diffusion_digits.run(cfg)
    unchecked = [c.statement for c in r.claims if not c.checked]
    assert len(unchecked) == 2
    assert unchecked[0].startswith("sub-VP gives better likelihoods than VP")
    assert "fitted Gaussian's exact conditional" in unchecked[1]
    assert "Not checked in this run (quick preset): RePaint vs the Gaussian conditional" \
        in r.notes
