"""train_gan: all four models run, exact resume, NaN guard, bad input (tiny configs)."""

import pytest
import torch

from kexue import checkpoint
from kexue.gan import MODELS, TrainingDiverged, load_gan, train_gan

TINY = dict(batch_size=16, z_dim=3, hidden=8, depth=1, progress=False)


def _data(dim=4, n=64, seed=0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _state(res):
    nets = [res.generator, res.critic] + ([res.encoder] if res.encoder is not None else [])
    return [p.detach().clone() for m in nets for p in m.parameters()]


@pytest.mark.parametrize("model", MODELS)
def test_models_train_and_resume_bit_for_bit(model, tmp_path):
    data = _data()
    kw = dict(TINY, dtype=torch.float64, seed=3)
    full = train_gan(model, data, steps=6, **kw)
    assert full.step == 6 and all(torch.isfinite(full.history[k]).all()
                                  for k in ("critic", "generator"))
    if model == "bigan-qp":
        assert full.encoder is not None and torch.isfinite(full.history["image_rec"]).all()
    else:
        assert full.encoder is None
    ck = tmp_path / "run.safetensors"
    part = train_gan(model, data, steps=3, checkpoint=ck, **kw)
    assert part.step == 3 and checkpoint.load(ck)[1]["step"] == 3
    resumed = train_gan(model, data, steps=6, checkpoint=ck, **kw)
    assert resumed.start_step == 3 and resumed.step == 6
    for a, b in zip(_state(full), _state(resumed)):
        assert torch.equal(a, b)
    for k in full.history:
        assert torch.equal(full.history[k].nan_to_num(7.0), resumed.history[k].nan_to_num(7.0))
    loaded, meta = load_gan(ck)
    assert meta["step"] == 6 and meta["train"]["model"] == model
    for a, b in zip(_state(full), _state(loaded)):
        assert torch.equal(a, b)
    s = loaded.sample(5, generator=1)
    assert s.shape == (5, 4) and torch.equal(s, full.sample(5, generator=1))


def test_named_dataset_and_progress_bar_runs():
    res = train_gan("gan-qp", "ring", steps=2, batch_size=8, hidden=8, depth=1, progress=True)
    assert res.sample(4).shape == (4, 2)


def test_nan_guard_keeps_last_good_checkpoint(tmp_path):
    ck = tmp_path / "nan.safetensors"

    def poison(step, res):  # a NaN weight appears after step 3 (as after an overflow)
        if step == 3:
            with torch.no_grad():
                next(res.critic.parameters()).view(-1)[0] = float("nan")

    with pytest.raises(TrainingDiverged, match=r"step 4: the critic loss is nan.*"
                                               r"last good checkpoint .*nan.safetensors.*step 2"):
        train_gan("gan-qp", _data(), steps=10, checkpoint=ck, ckpt_every=2, callback=poison,
                  callback_every=1, **TINY)
    tensors, meta = checkpoint.load(ck)
    assert meta["step"] == 2
    assert all(torch.isfinite(v).all() for k, v in tensors.items()
               if k.startswith(("generator/", "critic/", "opt_")))
    # huge learning rates overflow: stopped with the message, never a silent NaN run
    with pytest.raises(TrainingDiverged, match="not finite"):
        train_gan("gan-qp", _data().float(), steps=50, lr=1e30, **TINY)


def test_bad_arguments_and_mismatched_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="unknown model 'vae'.*gan-qp, bigan-qp, wgan-gp, sgan"):
        train_gan("vae", _data(), steps=1)
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*ring, grid, digits"):
        train_gan("gan-qp", "mnist", steps=1)
    with pytest.raises(ValueError, match="unknown distance 'l3'.*l1, l2"):
        train_gan("gan-qp", _data(), steps=1, distance="l3")
    with pytest.raises(ValueError, match="lam must be a positive"):
        train_gan("gan-qp", _data(), steps=1, lam=0.0)
    bad = _data()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        train_gan("gan-qp", bad, steps=1)
    ck = tmp_path / "a.safetensors"
    train_gan("gan-qp", _data(), steps=1, checkpoint=ck, **TINY)
    with pytest.raises(ValueError, match="different training configuration.*lam"):
        train_gan("gan-qp", _data(), steps=2, checkpoint=ck, lam=5.0, **TINY)
