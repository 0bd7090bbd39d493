"""B1 (issue 18): kexue eager and compiled, torchsde, diffrax and a lax.scan loop, alternated.

The same GBM Euler problem as ``bench_sde.py`` (μ = 0.05, σ = 0.2, S0 = 1, T = 1, float32),
cases (a) 100 000 paths × 500 steps and (b) 100 paths × 2000 steps. The JAX contenders
(``bench_sde_jax.py``: diffrax with ``VirtualBrownianTree``, ``UnsafeBrownianPath`` and pre-drawn
increments, and a hand-written ``lax.scan``) run in a worker process started from the JAX virtual
environment (``--jax-python``); this driver runs the PyTorch contenders itself. Both processes
compile first (JAX's ``jit`` and our ``solve(compile=True)``; compile times are reported and
excluded), then every repetition times each contender once, in a fixed order, PyTorch and JAX
calls interleaved (the idle process waits on a pipe), so machine load hits all alike. Both
processes are pinned to the same ``--threads`` CPUs (``sched_setaffinity``; torch threads and
XLA's intra-op threads set to match). Garbage is collected before, and the collector off during,
each PyTorch call (as bench_sde.py does). Rerun::

    /work/jaxenv/bin/pip install jax diffrax        # once, in a separate venv
    .venv/bin/python benchmarks/bench_sde_vs_jax.py --threads 1 --reps 7
    .venv/bin/python benchmarks/bench_sde_vs_jax.py --cases b --block 200   # bigger blocks

``--block K``: steps per compiled call of ``solve(compile=True)`` (``kexue.stochastic._compiled.
BLOCK_STEPS``). ``--skip-jax NAME`` (repeatable) leaves a JAX contender out of a case, e.g.
``--skip-jax "a|diffrax VirtualBrownianTree"`` (tens of seconds per call there).
``--json`` writes every time, the compile times and versions.

Not collected by pytest.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default="ab")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--block", type=int, default=None, help="steps per compiled call")
    p.add_argument("--cpus", default=None, help="CPUs to pin to, e.g. '1' (default: the first "
                   "--threads of those allowed)")
    p.add_argument("--extra-block", type=int, default=None,
                   help="also time compile=True with this many steps per compiled call")
    p.add_argument("--jax-python", default="/work/jaxenv/bin/python")
    p.add_argument("--skip-jax", action="append", default=[], help="'case|contender'")
    p.add_argument("--json", default=None)
    args = p.parse_args()

    cpus = ([int(c) for c in args.cpus.split(",")] if args.cpus
            else sorted(os.sched_getaffinity(0))[:args.threads])
    os.sched_setaffinity(0, set(cpus))                 # the JAX worker inherits the affinity
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, str(HERE))
    import torch
    import torchsde

    import bench_sde as b1
    from kexue.stochastic import SDE, _affine, _compiled, solve
    torch.set_num_threads(args.threads)
    if args.block is not None:
        _compiled.BLOCK_STEPS = args.block

    worker = subprocess.Popen([args.jax_python, str(HERE / "bench_sde_jax.py"), "--serve",
                               "--cases", args.cases, "--threads", str(args.threads),
                               *(f"--skip={k}" for k in args.skip_jax)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    hello = json.loads(worker.stdout.readline())                 # after JAX compiled everything

    def jax_call(c, name, seed):
        worker.stdin.write(f"{c}|{name}|{seed}\n")
        worker.stdin.flush()
        wall, cpu = worker.stdout.readline().split()
        return float(wall), float(cpu)

    sde = SDE(b1.drift, b1.diffusion)

    def compiled(batch, n, dtype, seed):
        return solve(sde, torch.ones(batch, 1, dtype=dtype), [0.0, b1.T], dt=b1.T / n,
                     generator=seed, compile=True)[-1]

    def compiled_block(k):
        def fn(batch, n, dtype, seed):
            saved, _compiled.BLOCK_STEPS = _compiled.BLOCK_STEPS, k
            try:
                return compiled(batch, n, dtype, seed)
            finally:
                _compiled.BLOCK_STEPS = saved
        return fn

    def no_affine(fn):
        """The plain-callable paths themselves: the affine recognition off for this call."""
        def wrapped(*a):
            saved, _affine.RECOGNISE = _affine.RECOGNISE, False
            try:
                return fn(*a)
            finally:
                _affine.RECOGNISE = saved
        return wrapped

    torch_contenders = [
        ("floor: randn + 1 fused update", b1.floor),
        ("kexue euler, callables (affine recognised, default)", b1.ours("euler")),
        ("kexue euler (eager, recognition off)", no_affine(b1.ours("euler"))),
        ("kexue euler, compile=True (recognition off)", no_affine(compiled)),
        *([(f"kexue euler, compile=True, block {args.extra_block} (recognition off)",
            no_affine(compiled_block(args.extra_block)))] if args.extra_block else []),
        ("kexue euler, SDE.linear", b1.ours("euler", linear=True)),
        ("torchsde euler (BrownianInterval)", b1.theirs("euler", False)),
        ("torchsde euler (pre-drawn dW)", b1.theirs("euler", True)),
    ]
    from bench_sde_jax import CASES, CONTENDERS
    result = {"jax": hello, "torch": torch.__version__, "torchsde": torchsde.__version__,
              "threads": args.threads, "cpu": b1.cpu_model(), "block": _compiled.BLOCK_STEPS,
              "cases": {}}
    print(f"# B1 vs JAX — {result['cpu']}, pinned to CPU(s) {cpus}, torch "
          f"{torch.__version__}, torchsde {torchsde.__version__}, jax {hello['versions']['jax']}, "
          f"diffrax {hello['versions']['diffrax']}, float32, median of {args.reps}, "
          f"compiled block {_compiled.BLOCK_STEPS} steps, load average "
          f"{os.getloadavg()[0]:.1f} at start\n")
    for c in args.cases:
        title, batch, n = CASES[c]
        compile_s = {}
        for name, fn in torch_contenders:                           # warm-up (and compile)
            t0 = time.perf_counter()
            fn(batch if "compile" in name else min(batch, 1000),
               n if "compile" in name else 20, torch.float32, 0)
            compile_s[name] = time.perf_counter() - t0
        jax_names = [nm for nm in CONTENDERS if f"{c}|{nm}" not in args.skip_jax]
        times = {name: [] for name, _ in torch_contenders}
        times.update({f"jax: {nm}": [] for nm in jax_names})
        cpu = {name: [] for name in times}
        loads = []
        for rep in range(args.reps):
            loads.append(os.getloadavg()[0])
            for name, fn in torch_contenders:
                gc.collect()
                gc.disable()
                t0, c0 = time.perf_counter(), time.process_time()
                fn(batch, n, torch.float32, 1000 + rep)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                gc.enable()
            for nm in jax_names:
                wall, cs = jax_call(c, nm, 1000 + rep)
                times[f"jax: {nm}"].append(wall)
                cpu[f"jax: {nm}"].append(cs)
        med = {k: statistics.median(v) for k, v in times.items()}
        cmed = {k: statistics.median(v) for k, v in cpu.items()}
        result["cases"][c] = {"title": title, "batch": batch, "steps": n, "times_s": times,
                              "median_s": med, "cpu_s": cpu, "cpu_median_s": cmed,
                              "load_average": loads,
                              "compile_s": {**{k: v for k, v in compile_s.items()
                                               if "compile" in k},
                                            **{f"jax: {k.split('|', 1)[1]}": v
                                               for k, v in hello["compile_s"].items()
                                               if k.startswith(f"{c}|")}}}
        dfx = [k for k in med if k.startswith("jax: diffrax")]
        print(f"\n### {title} (load average {min(loads):.1f}–{max(loads):.1f})\n")
        print("Ratios = other's median / this contender's median, wall (CPU).\n")
        print("| contender | median ms wall | min–max ms | median ms CPU | torchsde BI / it | "
              "best diffrax / it | lax.scan / it | compile s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")

        def ratio(m, ref, name):
            return "" if ref is None else f"{m[ref] / m[name]:.2f}"
        for name, v in times.items():
            cs = result["cases"][c]["compile_s"].get(name)
            cols = []
            for ref in ("torchsde euler (BrownianInterval)", "diffrax",
                        "jax: lax.scan (pre-drawn dW)"):
                if ref == "diffrax":
                    rw = min(dfx, key=med.get) if dfx else None
                    rc = min(dfx, key=cmed.get) if dfx else None
                else:
                    rw = rc = ref if ref in med else None
                cols.append("" if rw is None else
                            f"{ratio(med, rw, name)} ({ratio(cmed, rc, name)})")
            print(f"| {name} | {med[name] * 1e3:.1f} | {min(v) * 1e3:.1f}–{max(v) * 1e3:.1f} | "
                  f"{cmed[name] * 1e3:.1f} | {' | '.join(cols)} | "
                  f"{'' if cs is None else f'{cs:.1f}'} |")
        if dfx:
            print(f"\nbest diffrax here: {min(dfx, key=med.get)} (wall), "
                  f"{min(dfx, key=cmed.get)} (CPU)")
    worker.stdin.close()
    worker.wait()
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
