"""Benchmark: GAN-QP vs WGAN-GP critic step time, and wall time to mode coverage.

Comparator: WGAN-GP (Gulrajani et al., arXiv:1704.00028), whose gradient penalty needs a double
backward pass; GAN-QP (kexue.fm 6163, arXiv:1811.07296) replaces it by a quadratic potential on
the critic difference, one ordinary backward pass. Both use kexue.gan's losses on identical
critic MLPs (same weights at start), the same real/fake batches, Adam(2e-4, β1 0.5).

Part 1 (``--part step``): critic step time (forward + backward + Adam step), the two models
alternated step by step in one process so that machine load hits both alike; medians and the
ratio GAN-QP / WGAN-GP.

Part 2 (``--part coverage``): train both on grid25 (same nets, steps, seed) with the mode
coverage measured every ``--every`` generator steps; report WGAN-GP's final coverage and
high-quality share, and the wall time GAN-QP needs to reach them (the issue's goal: at most
half of WGAN-GP's wall time). Several seeds with ``--seeds``.

Run:  .venv/bin/python benchmarks/bench_gan.py --part step
      .venv/bin/python benchmarks/bench_gan.py --part coverage --steps 3000 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from kexue.data._toy import grid_centers
from kexue.gan import MLP, mode_coverage, qp_critic_loss, train_gan, wgan_gp_losses


def bench_step(hidden: int, depth: int, batch: int, reps: int, warmup: int) -> dict:
    g = torch.Generator().manual_seed(0)
    crit_qp = MLP(2, 1, hidden, depth, "lrelu")
    crit_gp = MLP(2, 1, hidden, depth, "lrelu")
    crit_gp.load_state_dict(crit_qp.state_dict())
    opt_qp = torch.optim.Adam(crit_qp.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_gp = torch.optim.Adam(crit_gp.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step_qp(x, f):
        loss = qp_critic_loss(crit_qp(x), crit_qp(f), x, f)
        opt_qp.zero_grad(set_to_none=True)
        loss.backward()
        opt_qp.step()

    def step_gp(x, f):
        loss = wgan_gp_losses(crit_gp, x, f, penalty=10.0, generator=g, part="critic").critic
        opt_gp.zero_grad(set_to_none=True)
        loss.backward()
        opt_gp.step()

    times: dict[str, list[float]] = {"gan-qp": [], "wgan-gp": []}
    for i in range(warmup + reps):
        x = 2 * torch.randn(batch, 2, generator=g)
        f = torch.randn(batch, 2, generator=g)
        order = [("gan-qp", step_qp), ("wgan-gp", step_gp)]
        if i % 2:
            order.reverse()
        for name, fn in order:
            t0 = time.perf_counter()
            fn(x, f)
            dt = time.perf_counter() - t0
            if i >= warmup:
                times[name].append(dt)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    return {"median_ms": med, "ratio": med["gan-qp"] / med["wgan-gp"], "reps": reps}


def bench_coverage(steps: int, every: int, seeds: list[int], hidden: int, depth: int,
                   batch: int, lr: float) -> list[dict]:
    centers, std = grid_centers(), 0.05
    out = []
    for seed in seeds:
        traces = {}
        for model in ("wgan-gp", "gan-qp"):
            trace = []
            t0 = time.perf_counter()
            paused = [0.0]

            def cb(step, res, trace=trace, t0=t0, paused=paused):
                t_in = time.perf_counter()
                st = mode_coverage(res.sample(2500, 1), centers, std)
                trace.append((t_in - t0 - paused[0], step, st.modes_covered, st.high_quality))
                paused[0] += time.perf_counter() - t_in  # metric time excluded

            train_gan(model, "grid25", steps=steps, batch_size=batch, hidden=hidden,
                      depth=depth, lr=lr, seed=seed, progress=False, callback=cb,
                      callback_every=every)
            traces[model] = trace
        wt, _, wm, wq = traces["wgan-gp"][-1]
        hit = next(((t, s) for t, s, m, q in traces["gan-qp"] if m >= wm and q >= wq), None)
        qt, _, qm, qq = traces["gan-qp"][-1]
        out.append({"seed": seed, "wgan_final": (wm, round(wq, 3), round(wt, 1)),
                    "ganqp_final": (qm, round(qq, 3), round(qt, 1)),
                    "ganqp_reaches_wgan_at": None if hit is None else
                    (round(hit[0], 1), hit[1], round(hit[0] / wt, 3))})
        print(out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["step", "coverage", "both"], default="step")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--cov-hidden", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} threads")
    if a.part in ("step", "both"):
        r = bench_step(a.hidden, a.depth, a.batch, a.reps, a.warmup)
        print(f"critic step, MLP {a.depth}×{a.hidden}, batch {a.batch}, {a.reps} alternated reps:"
              f" GAN-QP {r['median_ms']['gan-qp']:.2f} ms, WGAN-GP "
              f"{r['median_ms']['wgan-gp']:.2f} ms (median), ratio {r['ratio']:.3f}")
    if a.part in ("coverage", "both"):
        bench_coverage(a.steps, a.every, a.seeds, a.cov_hidden, a.depth, a.batch, a.lr)


if __name__ == "__main__":
    main()
