"""Training-step time of the digits score model: kexue.diffusion.train vs a plain PyTorch loop.

The model is the 8×8-digits U-Net of the ``diffusion-digits`` experiment (ε-prediction through
``ScoreModel``, VP-SDE, DSM with the σ² weighting, dequantised data). Both loops do exactly the same
work per step — draw a batch and the noise from one seeded generator, one Adam step with
gradient-norm clipping, an EMA update — so they must produce the same losses bit for bit (checked
below); the ratio of step times is the overhead of kexue's loop (validation, NaN guard, EMA
warm-up, loss bookkeeping; checkpoints are off, the progress bar too).

Configurations: the quick preset (ch 16, batch 64) and the full preset (ch 32, batch 128), one
intra-op thread (the experiments' default) and two. Each timing is the median of ``REPS``
repetitions of ``STEPS`` steps after 5 warm-up steps, the two loops' repetitions interleaved so
that a busy machine slows both alike.

CPU time (``time.process_time``) is printed beside wall time: on a shared, busy machine it is the
steadier measure of the work done (for one thread it is close to the wall time of an idle
machine).

Run:  .venv/bin/python benchmarks/bench_diffusion_train.py [--mnist] [THREADS ...]   (default: 1 2;
      --mnist: the 28×28 MNIST image U-Net, batch 64, instead of the 8×8 digits model)
"""

from __future__ import annotations

import copy
import sys
import time

import torch

from kexue.data import digits
from kexue.diffusion import VPSDE, ScoreModel, UNet8, train

STEPS = 30
REPS = 3
MNIST = "--mnist" in sys.argv  # the 28×28 image U-Net instead of the 8×8 digits model
MNIST_STEPS = 10
THREADS = tuple(int(a) for a in sys.argv[1:] if a != "--mnist") or (1, 2)  # e.g. `... 1`


def _dequantize(x0: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """As diffusion-digits: levels k = 8(x + 1), y = −1 + 2(k + U)/17 (8×8 digits, 17 levels);
    for 28×28 MNIST (256 levels) k = 127.5(x + 1), y = −1 + 2(k + U)/256."""
    half = 8.0 if x0.ndim == 2 else 127.5
    k = torch.round((x0 + 1.0) * half)
    return -1.0 + 2.0 * (k + torch.rand(x0.shape, generator=g)) / (2 * half + 1.0)


def plain_loop(model: ScoreModel, data: torch.Tensor, steps: int, batch: int, lr: float,
               ema_decay: float, seed: int) -> list[float]:
    """The same training step written directly in PyTorch (the VP kernel inline)."""
    sde = model.sde
    gen = torch.Generator().manual_seed(seed)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=lr, foreach=True)
    ema = [p.detach().clone() for p in params]
    losses = []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 100)
        idx = torch.randint(data.shape[0], (batch,), generator=gen)
        x0 = _dequantize(data[idx], gen)
        t = 1e-5 + (1.0 - 1e-5) * torch.rand(batch, generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        log_a = -0.25 * t * t * (sde.beta_max - sde.beta_min) - 0.5 * t * sde.beta_min
        a, s = torch.exp(log_a), torch.sqrt(-torch.expm1(2.0 * log_a))
        row = (-1,) + (1,) * (x0.ndim - 1)  # (batch, 1, …): per-example scalars
        xt = a.view(row) * x0 + s.view(row) * eps
        c_in = torch.rsqrt(a**2 + s**2)
        loss = (model.net(xt * c_in.view(row), t) - eps).pow(2).flatten(1).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(ema_decay, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema, params, 1.0 - d)
        losses.append(float(loss.detach()))
    return losses


def kexue_loop(model: ScoreModel, data: torch.Tensor, steps: int, batch: int, lr: float,
               ema_decay: float, seed: int) -> list[float]:
    res = train(model, model.sde, data, steps=steps, batch_size=batch, lr=lr,
                ema_decay=ema_decay, warmup=100, seed=seed, augment=_dequantize,
                progress=False)
    return res.losses.tolist()


def timed_pair(base: ScoreModel, *args) -> dict[str, float | bool]:
    """Median wall and CPU ms/step of both loops, repetitions interleaved (machine load hits both
    alike), and whether their losses agree bit for bit."""
    wall: dict[str, list[float]] = {"kexue": [], "plain": []}
    cpu: dict[str, list[float]] = {"kexue": [], "plain": []}
    losses: dict[str, list[float]] = {}
    for fn in (kexue_loop, plain_loop):  # warm-up
        fn(copy.deepcopy(base), args[0], 5, *args[2:])
    for _ in range(REPS):
        for name, fn in (("kexue", kexue_loop), ("plain", plain_loop)):
            model = copy.deepcopy(base)
            t0, c0 = time.perf_counter(), time.process_time()
            losses[name] = fn(model, *args)
            wall[name].append(1e3 * (time.perf_counter() - t0) / args[1])
            cpu[name].append(1e3 * (time.process_time() - c0) / args[1])

    def med(v: list[float]) -> float:
        return sorted(v)[len(v) // 2]

    return {"kexue": med(wall["kexue"]), "plain": med(wall["plain"]),
            "kexue_cpu": med(cpu["kexue"]), "plain_cpu": med(cpu["plain"]),
            "same": losses["kexue"] == losses["plain"]}


def main_mnist() -> None:
    """The 28×28 MNIST step (issue 13's goal: ≤ 1.1× a plain loop): the image UNet, batch 64."""
    from kexue.data import mnist
    from kexue.diffusion import UNet

    data = mnist().x_train  # (3500, 1, 28, 28)
    sde = VPSDE()
    print("\n### MNIST 28×28 U-Net training step: kexue.diffusion.train vs a plain PyTorch "
          "loop\n")
    print(f"torch {torch.__version__}, median of {REPS} × {MNIST_STEPS} steps (interleaved), "
          "VP-SDE, DSM (σ² weighting), Adam + grad clip + EMA.\n")
    print("| model | params | batch | threads | kexue wall (CPU) ms/step | plain PyTorch wall "
          "(CPU) ms/step | ratio wall (CPU) | same losses |")
    print("|---|---|---|---|---|---|---|---|")
    for channels in ((16, 32, 64), (32, 64, 128)):
        base = ScoreModel(UNet(1, channels=channels, image_size=28, seed=0), sde)
        n_params = sum(p.numel() for p in base.parameters())
        for threads in THREADS:
            torch.set_num_threads(threads)
            r = timed_pair(base, data, MNIST_STEPS, 64, 1e-3, 0.999, 0)
            print(f"| UNet {channels} | {n_params / 1e3:.0f}k | 64 | {threads} | "
                  f"{r['kexue']:.1f} ({r['kexue_cpu']:.1f}) | {r['plain']:.1f} "
                  f"({r['plain_cpu']:.1f}) | {r['kexue'] / r['plain']:.2f} "
                  f"({r['kexue_cpu'] / r['plain_cpu']:.2f}) | {'yes' if r['same'] else 'NO'} |",
                  flush=True)


def main() -> None:
    if MNIST:
        main_mnist()
        return
    data = digits().x_train
    sde = VPSDE()
    print("\n### Digits U-Net training step: kexue.diffusion.train vs a plain PyTorch loop\n")
    print(f"torch {torch.__version__}, median of {REPS} × {STEPS} steps (interleaved), VP-SDE, "
          "DSM (σ² weighting),"
          " Adam + grad clip + EMA, no checkpoints or progress bar.\n")
    print("| model | params | batch | threads | kexue wall (CPU) ms/step | plain PyTorch wall "
          "(CPU) ms/step | ratio wall (CPU) | same losses |")
    print("|---|---|---|---|---|---|---|---|")
    for ch, batch in ((16, 64), (32, 128)):
        base = ScoreModel(UNet8(ch=ch, seed=0), sde)
        n_params = sum(p.numel() for p in base.parameters())
        for threads in THREADS:
            torch.set_num_threads(threads)
            r = timed_pair(base, data, STEPS, batch, 1e-3, 0.999, 0)
            print(f"| UNet8 ch {ch} | {n_params / 1e3:.0f}k | {batch} | {threads} | "
                  f"{r['kexue']:.1f} ({r['kexue_cpu']:.1f}) | {r['plain']:.1f} "
                  f"({r['plain_cpu']:.1f}) | {r['kexue'] / r['plain']:.2f} "
                  f"({r['kexue_cpu'] / r['plain_cpu']:.2f}) | {'yes' if r['same'] else 'NO'} |",
                  flush=True)


if __name__ == "__main__":
    main()
