"""Distributed training (gloo, CPU, float64, 2 processes) equals one process on the same global
batch, and checkpoints move between world sizes: a 2-process checkpoint resumes in 1 process and
a 1-process checkpoint in 2, each ending where the uninterrupted single-process run ends.

The three trainers (diffusion, GAN-QP, ON-LSTM) run in one spawn of two processes to keep the
start-up cost (two interpreters importing torch) to one."""

import dataclasses
import shutil

import pytest
import torch
import torch.multiprocessing as mp

from dist_helpers import free_port, member
from kexue import checkpoint

STEPS, HALF = 8, 4
TOL = 1e-10


def _diffusion(steps, path=None):
    from kexue.diffusion import VPSDE, GaussianMixture
    from kexue.diffusion._nets import MLPScoreNet, ScoreModel
    from kexue.diffusion._train import train

    sde = VPSDE()
    data = GaussianMixture.ring(8, 2.0, 0.1).sample(256, 0)  # float64
    model = ScoreModel(MLPScoreNet(2, hidden=16, depth=1, seed=1).double(), sde, sigma_data=1.4)
    res = train(model, sde, data, steps=steps, batch_size=32, lr=1e-2, warmup=2, seed=5,
                checkpoint=path, progress=False)
    return [p.detach().clone() for p in list(res.model.parameters()) + list(res.ema.parameters())]


def _gan(steps, path=None, model="gan-qp"):
    from kexue.gan import train_gan

    data = torch.randn(128, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    res = train_gan(model, data, steps=steps, batch_size=16, z_dim=2, hidden=8, depth=1,
                    dtype=torch.float64, seed=2, checkpoint=path, progress=False)
    return [p.detach().clone() for m in (res.generator, res.critic) for p in m.parameters()]


def _wgan(steps, path=None):
    return _gan(steps, path, model="wgan-gp")  # the penalty's interpolation weights are random


def _onlstm(steps, out=None):
    from kexue.onlstm import TrainConfig, Trainer

    cfg = TrainConfig(grammar="arithmetic", embed_size=8, hidden_size=8, chunk_size=4,
                      num_layers=2, n_train=100, batch_size=8, steps=STEPS, checkpoint_every=HALF,
                      lr=1e-2, lr_final=1e-3)
    if out is not None and (out / "last.safetensors").exists():
        tr = Trainer.load(out / "last.safetensors", out_dir=out)
    else:
        tr = Trainer(dataclasses.replace(cfg), out_dir=out, dtype=torch.float64)
    tr.train(steps)
    return [p.detach().clone() for p in tr.model.parameters()]


RUNS = {"diffusion": (_diffusion, "d.safetensors"), "gan": (_gan, "g.safetensors"),
        "wgan": (_wgan, "w.safetensors"), "onlstm": (_onlstm, "onlstm")}


def _record_local_batches():
    """Wrap the trainers' batch construction to record the per-rank batch sizes."""
    from kexue.diffusion import _train as dtrain
    from kexue.gan import _train as gtrain
    from kexue.onlstm import _train as otrain

    seen = {"diffusion": [], "gan": [], "onlstm": []}
    dsm = dtrain.dsm_loss

    def dsm_loss(model, sde, x0, **kw):
        seen["diffusion"].append(x0.shape[0])
        return dsm(model, sde, x0, **kw)

    gan_batch, lm_batch = gtrain._GANTask._batch, otrain.Trainer._batch

    def gbatch(self):
        x, z = gan_batch(self)
        seen["gan"].append(x.shape[0])
        return x, z

    def obatch(self):
        inp, tgt = lm_batch(self)
        seen["onlstm"].append(inp.shape[1])
        return inp, tgt

    dtrain.dsm_loss, gtrain._GANTask._batch, otrain.Trainer._batch = dsm_loss, gbatch, obatch
    return seen


def _worker(rank, world, port, tmp):
    from pathlib import Path

    torch.set_num_threads(1)
    tmp = Path(tmp)
    seen = _record_local_batches()
    with member(rank, world, port):
        for name, (fn, _) in RUNS.items():
            full = fn(STEPS)  # the whole run on 2 processes
            fn(HALF, tmp / "two" / RUNS[name][1])  # a 2-process checkpoint at HALF
            from_one = fn(STEPS, tmp / "one-then-two" / RUNS[name][1])  # resumes a 1-proc one
            if rank == 0:
                checkpoint.save(tmp / f"{name}-full.safetensors",
                                {str(i): p for i, p in enumerate(full)})
                checkpoint.save(tmp / f"{name}-from-one.safetensors",
                                {str(i): p for i, p in enumerate(from_one)})
        # every rank trained on its half of each global batch, never the whole batch
        assert set(seen["diffusion"]) == {16} and set(seen["gan"]) == {8}, seen
        assert set(seen["onlstm"]) == {4}, seen


def _close(a, b):
    return len(a) == len(b) and all(torch.allclose(x, y, rtol=0, atol=TOL) for x, y in zip(a, b))


def test_two_process_training_equals_one_process_and_checkpoints_cross_world_sizes(tmp_path):
    ref = {name: fn(STEPS) for name, (fn, _) in RUNS.items()}
    for fn, target in RUNS.values():  # 1-process checkpoints at HALF, for the workers
        fn(HALF, tmp_path / "one-then-two" / target)
    # fork: the children inherit the imported modules (a fresh interpreter pays seconds of
    # imports); the parent has one torch thread and no process group, so forking is safe here
    mp.start_processes(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method="fork")
    for name, (fn, target) in RUNS.items():
        stored = checkpoint.load(tmp_path / f"{name}-full.safetensors")[0]
        ddp = [stored[str(i)] for i in range(len(stored))]
        assert _close(ddp, ref[name]), name
        assert not all(torch.equal(x, y) for x, y in zip(ddp, fn(HALF)))  # it did train
        stored = checkpoint.load(tmp_path / f"{name}-from-one.safetensors")[0]
        assert _close([stored[str(i)] for i in range(len(stored))], ref[name]), name
        # the 2-process checkpoint at HALF, resumed in this single process
        resumed = tmp_path / "two-then-one"
        shutil.copytree(tmp_path / "two", resumed, dirs_exist_ok=True)
        assert _close(fn(STEPS, resumed / target), ref[name]), name


def test_batch_size_must_split_evenly_over_processes(monkeypatch):
    from kexue import parallel

    monkeypatch.setattr(parallel, "world_size", lambda: 3)
    with pytest.raises(ValueError, match=r"batch_size \(32\) must be a multiple of the number "
                       r"of processes \(3\)"):
        _diffusion(1)
