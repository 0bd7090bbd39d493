"""Benchmark: kexue.onlstm.ONLSTM against torch.nn.LSTM (same hidden size, layers, batch, length).

Both run in one process, alternating call by call, on CPU: a training step (forward, backward of a
mean-squared loss, SGD update) and inference (forward under ``torch.no_grad``). Variants of the
ON-LSTM sequence loop:

* ``cpp`` — the default: the time loop of each layer, forward and hand-written backward, in C++
  (``csrc/onlstm_layer.cpp``, compiled on first use; ``_ext.py``);
* ``fused`` — the fallback: the same loop in Python, no autograd graph, hand-written backward
  (``_layer.py``), selected here with ``KEXUE_ONLSTM_EXT=0`` around its calls;
* ``autograd`` — the same maths as a loop of differentiable steps (the reference for the tests);
* ``compiled`` (``--compile``) — ``torch.compile`` of the autograd version for one fixed shape,
  inference only; its compile time is measured separately and reported. (Compiling the training
  step — the unrolled recurrence and its backward — did not finish within 20 minutes on the
  development machine, so it is not attempted.)

Usage::

    .venv/bin/python benchmarks/bench_onlstm.py                 # hidden 128 and 512, 7 reps
    .venv/bin/python benchmarks/bench_onlstm.py --compile        # also torch.compile
    .venv/bin/python benchmarks/bench_onlstm.py --hidden 128 --reps 5 --threads 2
    .venv/bin/python benchmarks/bench_onlstm.py --threads 1 --clock cpu   # busy machine
    .venv/bin/python benchmarks/bench_onlstm.py --hidden 512 --no-autograd --no-fallback  # goal

Prints one markdown table (medians, ratios to nn.LSTM) ready to paste into BENCHMARKS.md, the load
average before and after, and whether the goals of issue 13 are met (training ≤ 2× nn.LSTM at
hidden 128 and ≤ 1.5× at 512, inference ≤ 1.5×).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time

# OpenMP threads that spin at barriers make multi-threaded timings meaningless on a machine
# shared with other jobs (an idle-spinning thread steals the core its partner needs): let them
# sleep instead, unless --omp-spin. Must be set before torch loads its OpenMP runtime.
if "--omp-spin" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("KMP_BLOCKTIME", "0")

import torch  # noqa: E402

from kexue.onlstm import EXTENSION_ENV_VAR as ENV_VAR  # noqa: E402
from kexue.onlstm import (  # noqa: E402
    ONLSTM,  # noqa: E402
    extension_status,
    load_extension,
)

GOALS = {"train": {128: 2.0, 512: 1.5}, "infer": 1.5}  # issue 13: × nn.LSTM


@contextlib.contextmanager
def _python_loop(on: bool):
    """Force the Python fallback loop (``KEXUE_ONLSTM_EXT=0``) while ``on``."""
    if not on:
        yield
        return
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = old


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or platform.machine()


def _make(kind: str, hidden: int, layers: int, chunk: int, seed: int):
    torch.manual_seed(seed)
    if kind == "lstm":
        return torch.nn.LSTM(hidden, hidden, layers)
    impl = "autograd" if kind in ("autograd", "compiled") else "fused"  # cpp is impl="fused"
    return ONLSTM(hidden, hidden, layers, chunk_size=chunk, impl=impl)


def _bench(args, hidden: int, kinds: list[str]) -> list[list]:
    """Alternating timings for one hidden size; rows of the result table."""
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    x = torch.randn(args.seq, args.batch, hidden, generator=torch.Generator().manual_seed(0))
    target = torch.randn(args.seq, args.batch, hidden, generator=torch.Generator().manual_seed(1))
    opts, fwd, compile_s = {}, {}, {}
    for kind in kinds:
        m = _make(kind, hidden, args.layers, args.chunk, seed=0)
        opts[kind] = torch.optim.SGD(m.parameters(), lr=1e-3)
        fwd[kind] = torch.compile(m, dynamic=False) if kind == "compiled" else m

    def train_step(kind):
        with _python_loop(kind == "fused"):
            out = fwd[kind](x)[0]
            loss = (out - target).square().mean()
            opts[kind].zero_grad(set_to_none=True)
            loss.backward()
        opts[kind].step()

    def infer(kind):
        with torch.no_grad(), _python_loop(kind == "fused"):
            fwd[kind](x)

    def trains(kind):
        return kind != "compiled"

    for kind in kinds:  # warm-up; the compiled variant compiles here (timed)
        t0 = time.perf_counter()
        infer(kind)
        if kind == "compiled":
            compile_s[kind] = time.perf_counter() - t0
        infer(kind)
        if trains(kind):
            train_step(kind)
            train_step(kind)
    times = {(kind, what): [] for kind in kinds for what in ("train", "infer")}
    for _ in range(args.reps):
        for what, fn in (("train", train_step), ("infer", infer)):
            for kind in kinds:
                if what == "train" and not trains(kind):
                    continue
                t0 = clock()
                fn(kind)
                times[(kind, what)].append(clock() - t0)
    med = {k: statistics.median(v) * 1e3 if v else float("nan") for k, v in times.items()}
    return [[hidden, kind, med[(kind, "train")], med[(kind, "train")] / med[("lstm", "train")],
             med[(kind, "infer")], med[(kind, "infer")] / med[("lstm", "infer")],
             compile_s.get(kind)] for kind in kinds]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=35)
    ap.add_argument("--chunk", type=int, default=8)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile")
    ap.add_argument("--no-autograd", action="store_true", help="skip the autograd variant")
    ap.add_argument("--no-fallback", action="store_true",
                    help="skip the Python-loop fallback variant")
    ap.add_argument("--omp-spin", action="store_true",
                    help="keep OpenMP's default spin-waiting (quiet machines only)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall clock (default) or process CPU time (robust on a busy machine "
                         "with --threads 1; with more threads it counts spinning too)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ops = load_extension()  # builds the C++ loop now (not inside a timed call)
    kinds = ["lstm"] + (["cpp"] if ops is not None else []) + (
        [] if args.no_fallback and ops is not None else ["fused"]) + (
        [] if args.no_autograd else ["autograd"])
    if args.compile:
        kinds.append("compiled")
    print(f"machine: {_cpu_model()}, {args.threads} threads, torch {torch.__version__}, "
          f"Python {platform.python_version()}, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', 'default')}")
    print(f"batch {args.batch}, sequence length {args.seq}, {args.layers} layers, input = hidden, "
          f"chunk {args.chunk}; medians of {args.reps} alternating reps "
          f"({'wall clock' if args.clock == 'wall' else 'process CPU time'})\n")
    print(f"C++ loop: {extension_status()}")
    load0 = os.getloadavg()
    start = time.strftime("%Y-%m-%d %H:%M")
    rows = [row for hidden in args.hidden for row in _bench(args, hidden, kinds)]
    load1 = os.getloadavg()
    print(f"{start}, load average (1/5/15 min) before {load0[0]:.1f}/{load0[1]:.1f}/"
          f"{load0[2]:.1f}, after {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}\n")
    comp_col = args.compile
    print("| hidden | model | train step (ms) | × nn.LSTM | inference (ms) | × nn.LSTM |"
          + (" compile (s) |" if comp_col else ""))
    print("| ---: | --- | ---: | ---: | ---: | ---: |" + (" ---: |" if comp_col else ""))
    names = {"lstm": "nn.LSTM (oneDNN)", "cpp": "ONLSTM, C++ loop (default)",
             "fused": "ONLSTM, Python loop (fallback)", "autograd": "ONLSTM, autograd loop",
             "compiled": "ONLSTM, torch.compile"}
    for h, kind, tr, rtr, inf, rinf, comp in rows:
        train_text = "— | —" if tr != tr else f"{tr:.2f} | {rtr:.2f}"  # NaN: not measured
        if kind == kinds[1] and tr == tr:
            train_text = f"{tr:.2f} | **{rtr:.2f}**"
        tail = (f" {'' if comp is None else f'{comp:.1f}'} |" if comp_col else "")
        infer_text = f"**{rinf:.2f}**" if kind == kinds[1] else f"{rinf:.2f}"
        print(f"| {h} | {names[kind]} | {train_text} | {inf:.2f} | {infer_text} |{tail}")
    default = kinds[1]
    checks = []
    for h, kind, _, rtr, _, rinf, _ in rows:
        if kind != default:
            continue
        if h in GOALS["train"]:
            checks.append(f"train {h}: {rtr:.2f} ≤ {GOALS['train'][h]} "
                          f"{'met' if rtr <= GOALS['train'][h] else 'MISSED'}")
        checks.append(f"inference {h}: {rinf:.2f} ≤ {GOALS['infer']} "
                      f"{'met' if rinf <= GOALS['infer'] else 'MISSED'}")
    print(f"\ngoals (issue 13, {names[default]}): " + "; ".join(checks))


if __name__ == "__main__":
    main()
