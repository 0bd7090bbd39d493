"""kexue.training.Engine on a float64 least-squares task: exact resume, save-then-stop on
SIGINT/SIGTERM, loss logs across resumes, the deferred non-finite check, bad input."""

import csv
import json
import signal

import pytest
import torch
from torch import nn

from kexue import checkpoint
from kexue.training import Engine, TrainingDiverged, TrainingInterrupted


class Regression:
    """Least squares ``y = X w*`` with Adam on mini-batches; a NaN can be injected at a step."""

    metrics = ("loss", "grad_norm")
    labels = {"loss": "squared error"}

    def __init__(self, seed=0, nan_at=None):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(256, 3, generator=g, dtype=torch.float64)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
        self.net = nn.Linear(3, 1, dtype=torch.float64)
        with torch.no_grad():
            self.net.weight.zero_()
            self.net.bias.zero_()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.2)
        self.gen = torch.Generator().manual_seed(seed)
        self.nan_at = nan_at

    def step(self, k):
        idx = torch.randint(len(self.x), (32,), generator=self.gen, device=self.x.device)
        loss = (self.net(self.x[idx]).squeeze(-1) - self.y[idx]).pow(2).mean()
        if self.nan_at is not None and k + 1 == self.nan_at:
            loss = loss * float("nan")
        self.opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1e9)
        self.opt.step()
        return loss.detach(), gn

    def modules(self):
        return {"net": self.net}

    def optimizers(self):
        return {"adam": self.opt}

    def generators(self):
        return {"batches": self.gen}


def _engine(task, path=None, **kw):
    return Engine(task, fmt="test/1", config={"lr": 0.2}, checkpoint=path, **kw)


def _params(task):
    return [p.detach().clone() for p in task.net.parameters()]


def test_training_converges_and_resume_is_bit_for_bit(tmp_path):
    full = _engine(Regression()).run(40)
    assert full.step == 40 and len(full.history["loss"]) == 40
    assert full.history["loss"][-1] < 1e-2 * full.history["loss"][0]  # it learns w*

    path = tmp_path / "run.safetensors"
    stop = _engine(Regression(), path, ckpt_every=7, callback=lambda s: s == 17).run(40)
    assert stop.stopped and stop.step == 17 and checkpoint.load(path)[1]["step"] == 17
    task = Regression(seed=99)  # another seed and fresh weights: all must come from the file
    resumed = _engine(task, path, ckpt_every=7)
    assert resumed.resume()
    assert resumed.step == resumed.start_step == 17
    resumed.run(40)
    assert resumed.history == full.history
    assert all(torch.equal(a, b) for a, b in zip(_params(full.task), _params(task)))
    tensors, meta = checkpoint.load(path)
    assert meta["step"] == 40 and meta["format"] == "test/1" and meta["metrics"] == [
        "loss", "grad_norm"]
    assert torch.equal(tensors["history/loss"], torch.tensor(full.history["loss"],
                                                             dtype=torch.float64))


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_finishes_the_step_saves_and_stops(tmp_path, name):
    path = tmp_path / "sig.safetensors"
    num = getattr(signal, name)
    before = signal.getsignal(num)

    def poke(step):
        if step == 4:
            signal.raise_signal(num)

    eng = _engine(Regression(), path, ckpt_every=100, callback=poke)
    with pytest.raises(TrainingInterrupted, match=f"interrupted at step 4 by {name}") as info:
        eng.run(10)
    assert isinstance(info.value, KeyboardInterrupt)
    assert info.value.step == 4 and info.value.signal_name == name
    assert info.value.checkpoint == path and checkpoint.load(path)[1]["step"] == 4
    assert signal.getsignal(num) == before  # the caller's handler is back
    resumed = _engine(Regression(), path)
    resumed.resume()
    resumed.run(10)
    assert resumed.history == _engine(Regression()).run(10).history


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_loss_log_has_one_row_per_step_across_a_resume(tmp_path, suffix):
    path, log = tmp_path / "r.safetensors", tmp_path / f"loss{suffix}"
    _engine(Regression(), path, ckpt_every=4, log=log).run(6)  # checkpoint at 4 and 6
    ck4 = tmp_path / "r4.safetensors"
    eng = _engine(Regression(), ck4, ckpt_every=4, log=log, callback=lambda s: s == 4)
    eng.run(6)  # leaves a checkpoint at step 4, and rewrites the log to 4 rows
    eng = _engine(Regression(), ck4, log=log)
    eng.resume()
    eng.run(9)
    if suffix == ".csv":
        with open(log) as fh:
            rows = list(csv.DictReader(fh))
        assert list(rows[0]) == ["step", "loss", "grad_norm", "time_s"]
    else:
        with open(log) as fh:
            rows = [json.loads(line) for line in fh]
    assert [int(r["step"]) for r in rows] == list(range(1, 10))
    assert [float(r["loss"]) for r in rows] == eng.history["loss"]


def test_deferred_check_names_the_first_bad_step_and_keeps_the_checkpoint(tmp_path):
    path = tmp_path / "nan.safetensors"
    eng = _engine(Regression(nan_at=7), path, ckpt_every=4, check_every=3,
                  hint="Lower lr.")
    with pytest.raises(TrainingDiverged, match=r"step 7: the squared error is nan \(not "
                       r"finite\); the last good checkpoint .*nan.safetensors.* \(step 4\) is "
                       r"kept. Lower lr."):
        eng.run(12)
    assert eng.step == 6 and len(eng.history["loss"]) == 6  # verified steps only
    tensors, meta = checkpoint.load(path)
    assert meta["step"] == 4 and all(torch.isfinite(v).all() for k, v in tensors.items()
                                     if k.startswith("net/"))
    with pytest.raises(TrainingDiverged, match="parameters became non-finite"):
        eng.save()  # the parameters are NaN now: never written
    assert checkpoint.load(path)[1]["step"] == 4
    with pytest.raises(TrainingDiverged, match="step 2: the loss is nan.*no checkpoint was "
                       "written"):
        Regression.labels = {}
        try:
            _engine(Regression(nan_at=2)).run(5)
        finally:
            Regression.labels = {"loss": "squared error"}


def test_bad_input_and_foreign_checkpoints(tmp_path):
    with pytest.raises(ValueError, match=r"log must end in .csv or .jsonl; got '.*loss.txt'"):
        _engine(Regression(), log=tmp_path / "loss.txt")
    with pytest.raises(ValueError, match="ckpt_every must be an int >= 1; got 0"):
        _engine(Regression(), ckpt_every=0)
    with pytest.raises(TypeError, match="kexue.training.Task"):
        _engine(object())
    with pytest.raises(ValueError, match="steps must be a non-negative int"):
        _engine(Regression()).run(-1)
    path = tmp_path / "a.safetensors"
    _engine(Regression(), path).run(2)
    other = Engine(Regression(), fmt="test/1", config={"lr": 0.1}, checkpoint=path)
    with pytest.raises(ValueError, match=r"lr: 0.2 → 0.1"):
        other.resume()
    other = Engine(Regression(), fmt="other/1", config={"lr": 0.2}, checkpoint=path)
    with pytest.raises(ValueError, match="not a other/1 checkpoint"):
        other.resume()
    assert not _engine(Regression(), path).resume(resume=False)


# ------------------------------------------------------------------------------------ CUDA
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _close_on(a, b, tol=1e-9):
    return all(torch.allclose(x, y, rtol=0, atol=tol) for x, y in zip(a, b))


@pytest.mark.gpu
@needs_cuda
def test_every_trainer_runs_on_cuda_and_resumes(tmp_path):
    """diffusion.train, gan.train_gan and onlstm.Trainer on "cuda": state on the GPU, finite
    losses, values read back in chunks (check_every 25 by default), and a run stopped at step 3
    and resumed ends where the uninterrupted one does (float64; CUDA kernels with atomics are
    not bit-reproducible, hence the 1e-9 tolerance)."""
    import dataclasses

    from kexue.diffusion import VPSDE, GaussianMixture, MLPScoreNet, ScoreModel, train
    from kexue.gan import train_gan
    from kexue.onlstm import TrainConfig, Trainer

    sde = VPSDE()
    data = GaussianMixture.ring(8, 2.0, 0.1).sample(256, 0)

    def diffusion(steps, path=None):
        model = ScoreModel(MLPScoreNet(2, hidden=16, seed=1).double(), sde, sigma_data=1.4)
        res = train(model, sde, data, steps=steps, batch_size=32, seed=0, checkpoint=path,
                    progress=False, device="cuda")
        assert next(res.model.parameters()).is_cuda and torch.isfinite(res.losses).all()
        return list(res.ema.parameters())

    def gan(steps, path=None):
        res = train_gan("gan-qp", data, steps=steps, batch_size=32, hidden=8, depth=1,
                        dtype=torch.float64, checkpoint=path, progress=False, device="cuda")
        assert next(res.generator.parameters()).is_cuda
        assert res.sample(4, generator=0).is_cuda
        return list(res.generator.parameters())

    cfg = TrainConfig(grammar="arithmetic", embed_size=8, hidden_size=8, chunk_size=4,
                      n_train=200, batch_size=8, steps=6, checkpoint_every=3)

    def onlstm(steps, out=None):
        if out is not None and (out / "last.safetensors").exists():
            tr = Trainer.load(out / "last.safetensors", out_dir=out, device="cuda")
        else:
            tr = Trainer(dataclasses.replace(cfg), out_dir=out, dtype=torch.float64,
                         device="cuda")
        tr.train(steps)
        assert next(tr.model.parameters()).is_cuda
        return list(tr.model.parameters())

    for name, fn, target in (("diffusion", diffusion, tmp_path / "d.safetensors"),
                             ("gan", gan, tmp_path / "g.safetensors"),
                             ("onlstm", onlstm, tmp_path / "lm")):
        full = fn(6)
        fn(3, target)
        assert _close_on(fn(6, target), full), name


@pytest.mark.gpu
@needs_cuda
def test_engine_reads_values_back_in_chunks_on_cuda():
    task = Regression()
    task.net.cuda()
    task.x, task.y = task.x.cuda(), task.y.cuda()
    task.gen = torch.Generator(device="cuda").manual_seed(0)
    eng = _engine(task)
    reads = []
    read = eng._read
    eng._read = lambda pending, flags: reads.append(len(pending)) or read(pending, flags)
    eng.run(60)
    assert reads == [25, 25, 10] and eng.history["loss"][-1] < eng.history["loss"][0]
