"""Benchmark: kexue.onlstm.ONLSTM against torch.nn.LSTM (same hidden size, layers, batch, length).

Both run in one process, alternating call by call, on CPU: a training step (forward, backward of a
mean-squared loss, SGD update) and inference (forward under ``torch.no_grad``). Variants of the
ON-LSTM sequence loop:

* ``fused`` — the default: Python loop, no autograd graph, hand-written backward (``_layer.py``);
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

Prints one markdown table (medians of wall-clock times, ratios to nn.LSTM).
"""

from __future__ import annotations

import argparse
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

from kexue.onlstm import ONLSTM  # noqa: E402


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
    impl = "autograd" if kind in ("autograd", "compiled") else "fused"
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
        out = fwd[kind](x)[0]
        loss = (out - target).square().mean()
        opts[kind].zero_grad(set_to_none=True)
        loss.backward()
        opts[kind].step()

    def infer(kind):
        with torch.no_grad():
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
    ap.add_argument("--omp-spin", action="store_true",
                    help="keep OpenMP's default spin-waiting (quiet machines only)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall clock (default) or process CPU time (robust on a busy machine "
                         "with --threads 1; with more threads it counts spinning too)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kinds = ["lstm", "fused"] + ([] if args.no_autograd else ["autograd"])
    if args.compile:
        kinds.append("compiled")
    print(f"machine: {_cpu_model()}, {args.threads} threads, torch {torch.__version__}, "
          f"Python {platform.python_version()}, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', 'default')}")
    print(f"batch {args.batch}, sequence length {args.seq}, {args.layers} layers, input = hidden, "
          f"chunk {args.chunk}; medians of {args.reps} alternating reps "
          f"({'wall clock' if args.clock == 'wall' else 'process CPU time'})\n")
    rows = [row for hidden in args.hidden for row in _bench(args, hidden, kinds)]
    print("| hidden | model | train step (ms) | × nn.LSTM | inference (ms) | × nn.LSTM | "
          "compile (s) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    names = {"lstm": "nn.LSTM", "fused": "ONLSTM (fused, default)",
             "autograd": "ONLSTM (autograd loop)", "compiled": "ONLSTM (torch.compile)"}
    for h, kind, tr, rtr, inf, rinf, comp in rows:
        train_text = "— | —" if tr != tr else f"{tr:.2f} | {rtr:.2f}"  # NaN: not measured
        print(f"| {h} | {names[kind]} | {train_text} | {inf:.2f} | {rinf:.2f} | "
              f"{'' if comp is None else f'{comp:.1f}'} |")


if __name__ == "__main__":
    main()
