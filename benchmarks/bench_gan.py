"""Benchmark: GAN-QP vs WGAN-GP critic step time, and wall time to mode coverage.

Comparator: WGAN-GP (Gulrajani et al., arXiv:1704.00028), whose gradient penalty needs a double
backward pass; GAN-QP (kexue.fm 6163, arXiv:1811.07296) replaces it by a quadratic potential on
the critic difference, one ordinary backward pass. Both use kexue.gan's losses on identical
critic MLPs (same weights at start), the same real/fake batches, Adam(2e-4, β1 0.5).

Part 1 (``--part step``): critic step time (forward + backward + Adam step), the two models
alternated step by step in one process so that machine load hits both alike; medians and the
ratio GAN-QP / WGAN-GP.

Part 2 (``--part coverage``): train both on "grid" (same data, same network sizes, same seed;
each with its own paper's critic schedule, see ``SCHEDULES``) with the mode coverage and the
high-quality share (VEEGAN/PacGAN protocol: within 3 std of a mode, ≥ 20 of 2500 samples per
covered mode) measured every ``--every`` generator steps. The two models take turns in one
process, ``--every`` generator steps at a time (each in its own thread, only one computing),
so that machine load hits both alike; each model's clock counts only its own training blocks
(evaluation and waiting excluded). Reports, per seed, WGAN-GP's final coverage, high-quality
share and wall time, and the training wall time GAN-QP needs to first reach both, with the
ratio (the issue's goal: at most 0.5); then the median over seeds.

Run:  .venv/bin/python benchmarks/bench_gan.py --part step
      OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_gan.py --part coverage --threads 1 \
          --steps 16000 --qp-steps 8000 --every 500 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import threading
import time

import torch

from kexue.data._toy import grid_centers
from kexue.gan import (
    MLP,
    load_gan_data,
    mode_coverage,
    qp_critic_loss,
    train_gan,
    wgan_gp_losses,
)


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


#: Each model's own published critic schedule (``--part coverage``): WGAN-GP as in Gulrajani et
#: al. (5 critic steps per generator step, Adam β = (0.5, 0.9), penalty 10); GAN-QP as in
#: bojone/gan-qp (2 critic steps, Adam β = (0.5, 0.999), λ = 10, L2 per-dimension distance).
#: The learning rate (both papers: 1e-4 / 2e-4) is set by ``--wgan-lr`` / ``--qp-lr``.
SCHEDULES = {
    "wgan-gp": {"critic_steps": 5, "betas": (0.5, 0.9), "penalty": 10.0},
    "gan-qp": {"critic_steps": 2, "betas": (0.5, 0.999), "lam": 10.0, "distance": "l2"},
}


def _interleaved(runs: dict[str, dict], every: int, evaluate, threads: int) -> dict[str, list]:
    """Train the ``runs`` (name -> ``train_gan`` kwargs) in one process, taking turns in blocks
    of ``every`` generator steps, so that machine load hits them alike.

    Each run lives in its own thread, but only the one holding the turn computes; the others
    wait on a condition. A run's clock counts only its own training blocks (its setup included),
    never the evaluation or the waiting. Returns name -> list of
    ``(train_seconds, step, modes_covered, high_quality, eval_seconds)``.
    """
    names = list(runs)
    cond = threading.Condition()
    state = {"turn": names[0], "done": set()}
    traces: dict[str, list] = {n: [] for n in names}
    errors: dict[str, BaseException] = {}

    def next_turn(me: str) -> None:  # call with cond held
        i = names.index(me)
        for k in range(1, len(names) + 1):
            cand = names[(i + k) % len(names)]
            if cand not in state["done"]:
                state["turn"] = cand
                break
        cond.notify_all()

    def worker(name: str) -> None:
        torch.set_num_threads(threads)  # per thread: intra-op thread count is thread-local
        clock = {"acc": 0.0, "t": 0.0}

        def wait_turn() -> None:
            with cond:
                cond.wait_for(lambda: state["turn"] == name)
            clock["t"] = time.perf_counter()

        def cb(step, res):
            clock["acc"] += time.perf_counter() - clock["t"]
            t_eval = time.perf_counter()
            st = evaluate(res)
            traces[name].append((clock["acc"], step, st.modes_covered, st.high_quality,
                                 time.perf_counter() - t_eval))
            with cond:
                next_turn(name)
            wait_turn()

        try:
            wait_turn()
            train_gan(callback=cb, callback_every=every, progress=False, **runs[name])
        except BaseException as e:  # reported by the main thread
            errors[name] = e
        finally:
            with cond:
                state["done"].add(name)
                next_turn(name)

    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in names]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        name, err = next(iter(errors.items()))
        raise RuntimeError(f"{name} training failed: {err}") from err
    return traces


def bench_coverage(steps: int, qp_steps: int, every: int, seeds: list[int], hidden: int,
                   depth: int, batch: int, z_dim: int, scale: float, threads: int,
                   wgan_lr: float, qp_lr: float, json_out: str | None = None) -> dict:
    """GAN-QP's wall time to WGAN-GP's final grid (25-Gaussian) coverage and high-quality share."""
    centers, std = grid_centers() / scale, 0.05 / scale  # the metric is scale-invariant
    for model in SCHEDULES:  # one-time costs (lazy init, allocator) out of the timings
        train_gan(model, "grid", steps=3, batch_size=8, hidden=8, depth=1, progress=False)
    per_seed = []
    for seed in seeds:
        data = load_gan_data("grid", seed=seed) / scale  # (50000, 2)
        common = {"data": data, "batch_size": batch, "hidden": hidden, "depth": depth,
                  "z_dim": z_dim, "seed": seed}
        runs = {"wgan-gp": {"model": "wgan-gp", "steps": steps, **common,
                            "lr": wgan_lr, **SCHEDULES["wgan-gp"]},
                "gan-qp": {"model": "gan-qp", "steps": qp_steps, **common,
                           "lr": qp_lr, **SCHEDULES["gan-qp"]}}
        if seed % 2:  # alternate which model takes the first block
            runs = dict(reversed(list(runs.items())))

        def evaluate(res):
            return mode_coverage(res.sample(2500, 1), centers, std)

        t0 = time.time()
        load0 = os.getloadavg()[0]
        traces = _interleaved(runs, every, evaluate, threads)
        wt, ws, wm, wq, _ = traces["wgan-gp"][-1]
        hit = next((r for r in traces["gan-qp"] if r[2] >= wm and r[3] >= wq), None)
        qt, qs, qm, qq, _ = traces["gan-qp"][-1]
        first20 = {n: next(((r[0], r[1]) for r in tr if r[2] >= 20), None)
                   for n, tr in traces.items()}
        row = {"seed": seed, "wgan_final": {"modes": wm, "hq": wq, "wall_s": wt, "steps": ws},
               "ganqp_final": {"modes": qm, "hq": qq, "wall_s": qt, "steps": qs},
               "ganqp_hit": None if hit is None else
               {"wall_s": hit[0], "step": hit[1], "modes": hit[2], "hq": hit[3],
                "ratio": hit[0] / wt},
               "first_20_modes": first20,
               "eval_s": sum(r[4] for t in traces.values() for r in t),
               "elapsed_s": time.time() - t0,
               "loadavg_1min": [load0, os.getloadavg()[0]], "traces": traces}
        per_seed.append(row)
        h = row["ganqp_hit"]
        print(f"seed {seed}: WGAN-GP final {wm}/25 modes, HQ {wq:.3f} at step {ws}, "
              f"{wt:.1f} s | GAN-QP "
              + (f"reaches both at step {h['step']}, {h['wall_s']:.1f} s "
                 f"({h['modes']}/25, HQ {h['hq']:.3f}): ratio {h['ratio']:.3f}"
                 if h else "never reaches both")
              + f" | GAN-QP final {qm}/25, HQ {qq:.3f}, {qt:.1f} s, step {qs} | load "
              f"{load0:.2f}→{os.getloadavg()[0]:.2f}", flush=True)
        print("  first ≥ 20/25 modes: " + ", ".join(
            f"{n} " + (f"step {v[1]}, {v[0]:.1f} s" if v else "never") for n, v in first20.items()),
            flush=True)
        for name, tr in traces.items():
            print(f"  {name}: " + ", ".join(f"{s}:{m}/{q:.2f}@{t:.0f}s" for t, s, m, q, _ in tr),
                  flush=True)
    ratios = [r["ganqp_hit"]["ratio"] if r["ganqp_hit"] else math.inf for r in per_seed]
    med = statistics.median(ratios)
    wg_ok = all(r["wgan_final"]["modes"] >= 20 for r in per_seed)
    summary = {"median_ratio": med, "max_ratio": max(ratios),
               "reached": sum(math.isfinite(x) for x in ratios), "seeds": len(ratios),
               "wgan_covers_20": wg_ok,
               "goal_met": wg_ok and all(x <= 0.5 for x in ratios)}
    print(f"summary over {len(ratios)} seeds: GAN-QP reached WGAN-GP's final coverage and HQ "
          f"share in {summary['reached']}; median ratio {med:.3f}, max {max(ratios):.3f}; "
          f"WGAN-GP ≥ 20/25 on every seed: {wg_ok}; goal (every seed ≤ 0.5) met: "
          f"{summary['goal_met']}", flush=True)
    out = {"settings": {"steps": steps, "qp_steps": qp_steps, "every": every, "hidden": hidden,
                        "depth": depth, "batch": batch, "z_dim": z_dim, "scale": scale,
                        "threads": threads, "wgan_lr": wgan_lr, "qp_lr": qp_lr,
                        "schedules": SCHEDULES},
           "per_seed": per_seed, "summary": summary}
    if json_out:
        with open(json_out, "w") as f:
            json.dump(out, f, indent=1, default=str)
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
    ap.add_argument("--steps", type=int, default=16000,
                    help="coverage: WGAN-GP generator steps")
    ap.add_argument("--qp-steps", type=int, default=None,
                    help="coverage: GAN-QP generator steps (default: --steps)")
    ap.add_argument("--every", type=int, default=500,
                    help="coverage: generator steps per block and between measurements")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--cov-hidden", type=int, default=128)
    ap.add_argument("--z-dim", type=int, default=2)
    ap.add_argument("--wgan-lr", type=float, default=1e-3)
    ap.add_argument("--qp-lr", type=float, default=1e-3)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="coverage: divide the grid by this before training (metrics follow)")
    ap.add_argument("--json", default=None, help="coverage: write settings and traces here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} threads, load average {os.getloadavg()}")
    if a.part in ("step", "both"):
        r = bench_step(a.hidden, a.depth, a.batch, a.reps, a.warmup)
        print(f"critic step, MLP {a.depth}×{a.hidden}, batch {a.batch}, {a.reps} alternated reps:"
              f" GAN-QP {r['median_ms']['gan-qp']:.2f} ms, WGAN-GP "
              f"{r['median_ms']['wgan-gp']:.2f} ms (median), ratio {r['ratio']:.3f}")
    if a.part in ("coverage", "both"):
        bench_coverage(a.steps, a.qp_steps or a.steps, a.every, a.seeds, a.cov_hidden, a.depth,
                       a.batch, a.z_dim, a.scale, a.threads, a.wgan_lr, a.qp_lr, a.json)


if __name__ == "__main__":
    main()
