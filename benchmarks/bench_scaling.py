"""Scaling from 1 to 2 processes (torchrun, gloo, one intra-op thread per process), kexue vs a
hand-written torch.distributed script doing the same work.

Parts:

* ``mc`` — Monte Carlo: ``kexue.stochastic.feynman_kac`` with 10⁶ paths (blocks of paths with
  per-block generators, partial sums gathered in block order) against a hand-written script in
  which each rank simulates its share of the same paths with its own generator and one
  ``all_reduce`` adds the sums.
* ``ddp`` — data-parallel training: the ``diffusion-digits`` training step (U-Net ch 32, global
  batch 128, VP-SDE, DSM, Adam, clipping, EMA) through ``kexue.diffusion.train`` against a
  hand-written DDP loop (``DistributedDataParallel`` on the network, each rank its half of the
  global batch).

Each configuration runs as its own ``torchrun`` job; inside the job, rank 0 times the work between
two barriers (process start-up and imports excluded) and prints one JSON line. Configurations
are alternated ``--repeats`` times; medians are reported. Parallel efficiency for a fixed total
work is ``T₁ / (2 T₂)``; kexue's distributed overhead is ``T₂(kexue) / T₂(hand-written)``.

Run:  .venv/bin/python benchmarks/bench_scaling.py [--part mc|ddp|all] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))

# ----------------------------------------------------------------------------- Monte Carlo
MC_PATHS, MC_STEPS, MC_BLOCK = 1_000_000, 200, 2**14  # kexue's default block size
MC_X, MC_T, MC_ALPHA, MC_OMEGA, MC_BETA = 0.6, 1.0, 0.5, 1.0, 0.5


def _potential(t, x):
    return -0.5 * MC_OMEGA**2 * x * x


def _payoff(y):
    import torch

    return torch.exp(-MC_BETA * y * y)


def mc_kexue() -> dict:
    import torch

    from kexue.stochastic import feynman_kac

    res = feynman_kac(_potential, _payoff, torch.tensor([MC_X], dtype=torch.float64), MC_T,
                      alpha=MC_ALPHA, n_paths=MC_PATHS, n_steps=MC_STEPS,
                      block_size=MC_BLOCK, generator=0)
    return {"estimate": float(res.mean.reshape(-1)[0]), "stderr": float(res.stderr.reshape(-1)[0])}


def mc_hand() -> dict:
    """The same estimator written by hand: each rank its share of the paths in blocks of the
    same size, antithetic Euler steps of dX = √α dW, the potential integrated by the trapezoid
    rule, weights exp(∫V/α) f(X_T), one all_reduce of (Σ, n)."""
    import torch
    import torch.distributed as dist

    rank, world = dist.get_rank(), dist.get_world_size()
    n = MC_PATHS // world
    gen = torch.Generator().manual_seed(1000 + rank)
    dt = MC_T / MC_STEPS
    sd = math.sqrt(MC_ALPHA * dt)
    acc = torch.zeros(2, dtype=torch.float64)
    for lo in range(0, n, MC_BLOCK):
        m = min(MC_BLOCK, n - lo)
        x = torch.full((m, 1), MC_X, dtype=torch.float64)
        v_prev = _potential(0.0, x)
        integral = torch.zeros(m, 1, dtype=torch.float64)
        for k in range(MC_STEPS):
            z = torch.randn(m // 2, 1, generator=gen, dtype=torch.float64)
            x = x + sd * torch.cat([z, -z])
            v = _potential((k + 1) * dt, x)
            integral += 0.5 * dt * (v_prev + v)
            v_prev = v
        w = torch.exp(integral / MC_ALPHA) * _payoff(x)
        acc += torch.stack([w.sum(), torch.tensor(float(m), dtype=torch.float64)])
    dist.all_reduce(acc)
    return {"estimate": float(acc[0] / acc[1])}


# ----------------------------------------------------------------------------- DDP training
DDP_STEPS, DDP_WARM, DDP_BATCH, DDP_CH = 60, 5, 128, 32


def _digits_setup():
    import torch

    from kexue.data import digits
    from kexue.diffusion import VPSDE, ScoreModel, UNet8

    sde = VPSDE()
    model = ScoreModel(UNet8(ch=DDP_CH, seed=0), sde)
    return torch, model, sde, digits().x_train


def _dequantize(x0, g):
    import torch

    k = torch.round((x0 + 1.0) * 8.0)
    return -1.0 + 2.0 * (k + torch.rand(x0.shape, generator=g)) / 17.0


def ddp_kexue() -> dict:
    from kexue.diffusion import train

    torch, model, sde, data = _digits_setup()
    marks: dict[int, float] = {}

    def clock(step, loss):
        marks[step] = time.perf_counter()

    train(model, sde, data, steps=DDP_WARM + DDP_STEPS, batch_size=DDP_BATCH, lr=1e-3,
          warmup=100, seed=0, augment=_dequantize, progress=False, callback=clock)
    return {"step_s": (marks[DDP_WARM + DDP_STEPS] - marks[DDP_WARM]) / DDP_STEPS}


def ddp_hand() -> dict:
    """The same step written with DistributedDataParallel directly."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch, model, sde, data = _digits_setup()
    rank, world = dist.get_rank(), dist.get_world_size()
    net = DistributedDataParallel(model.net)
    gen = torch.Generator().manual_seed(0)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, foreach=True)
    ema = [p.detach().clone() for p in params]
    lo, hi = rank * DDP_BATCH // world, (rank + 1) * DDP_BATCH // world
    t0 = 0.0
    for step in range(DDP_WARM + DDP_STEPS):
        if step == DDP_WARM:
            t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = 1e-3 * min(1.0, (step + 1) / 100)
        idx = torch.randint(data.shape[0], (DDP_BATCH,), generator=gen)
        x0 = _dequantize(data[idx], gen)
        t = 1e-5 + (1.0 - 1e-5) * torch.rand(DDP_BATCH, generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        x0, t, eps = x0[lo:hi], t[lo:hi], eps[lo:hi]
        log_a = -0.25 * t * t * (sde.beta_max - sde.beta_min) - 0.5 * t * sde.beta_min
        a, s = torch.exp(log_a), torch.sqrt(-torch.expm1(2.0 * log_a))
        xt = a[:, None] * x0 + s[:, None] * eps
        c_in = torch.rsqrt(a**2 + s**2)
        loss = (net(xt * c_in[:, None], t) - eps).pow(2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(0.999, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema, params, 1.0 - d)
        float(loss.detach())  # the loss read back every step, as a loop that logs it would
    return {"step_s": (time.perf_counter() - t0) / DDP_STEPS}


WORKERS = {"mc-kexue": mc_kexue, "mc-hand": mc_hand, "ddp-kexue": ddp_kexue,
           "ddp-hand": ddp_hand}


def worker(name: str) -> None:
    """Inside a torchrun job: time ``WORKERS[name]`` between barriers; rank 0 prints JSON."""
    import torch
    import torch.distributed as dist

    from kexue import parallel

    torch.set_num_threads(1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    if "RANK" in os.environ:
        parallel.init_from_env()
    else:  # hand-written scripts need a group even for one process
        os.environ.update(RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=str(29_000 + os.getpid() % 1000))
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    import kexue.diffusion  # noqa: F401 - imports happen before the clock starts, for both sides
    import kexue.stochastic  # noqa: F401

    dist.barrier()
    t0 = time.perf_counter()
    out = WORKERS[name]()
    dist.barrier()
    out["wall_s"] = time.perf_counter() - t0
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps({"worker": name, "world": dist.get_world_size(), **out}),
              flush=True)
    dist.destroy_process_group()


def launch(name: str, nproc: int) -> dict:
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [TORCHRUN, "--standalone", f"--nproc-per-node={nproc}", str(HERE), "--worker", name]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{name} on {nproc} process(es) failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("mc", "ddp", "all"), default="all")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--worker")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    parts = ("mc", "ddp") if args.part == "all" else (args.part,)
    for part in parts:
        key = "wall_s" if part == "mc" else "step_s"
        runs = [(f"{part}-{who}", p) for p in (1, 2) for who in ("kexue", "hand")]
        times: dict[tuple[str, int], list[float]] = {r: [] for r in runs}
        extra: dict[tuple[str, int], dict] = {}
        for rep in range(args.repeats):
            for r in runs:  # alternated, so that machine load hits every configuration alike
                out = launch(*r)
                times[r].append(out[key])
                extra[r] = out
            print(f"[{part}] repeat {rep + 1}/{args.repeats}", file=sys.stderr, flush=True)
        med = {r: statistics.median(v) for r, v in times.items()}
        print(f"\n## {part}: median {key} over {args.repeats} alternated runs")
        print("| configuration | processes | median (s) | min | max |")
        print("| --- | --- | --- | --- | --- |")
        for r in runs:
            print(f"| {r[0]} | {r[1]} | {med[r]:.4f} | {min(times[r]):.4f} | "
                  f"{max(times[r]):.4f} |")
        print("- every run: " + "; ".join(
            f"{r[0]}×{r[1]}: " + " ".join(f"{t:.4f}" for t in times[r]) for r in runs))
        for who in ("kexue", "hand"):
            t1, t2 = med[(f"{part}-{who}", 1)], med[(f"{part}-{who}", 2)]
            print(f"- {who}: speed-up {t1 / t2:.3f}, parallel efficiency {t1 / (2 * t2):.3f}")
        for p in (1, 2):
            print(f"- kexue / hand-written with {p} process(es): "
                  f"{med[(f'{part}-kexue', p)] / med[(f'{part}-hand', p)]:.3f}")
        if part == "mc":
            print(f"- estimates: kexue 1 proc {extra[('mc-kexue', 1)]['estimate']!r}, "
                  f"2 procs {extra[('mc-kexue', 2)]['estimate']!r} (bit-identical expected)")


if __name__ == "__main__":
    main()
