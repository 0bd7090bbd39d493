"""B-adjoint: SDE gradients by the adjoint method, kexue.stochastic.solve_adjoint vs
torchsde.sdeint_adjoint (issue 18), side by side in one run.

Problem: a neural SDE in Stratonovich form with 2-D state, drift ``f(x) = MLP_f(x)`` and diagonal
diffusion ``g(x) = sigmoid(MLP_g(x))`` (each MLP 2 → 32 → 2, tanh, weights N(0, 1)), 256 paths from
``x0 = 0.5``, ``T = 1``, 1000 steps, float32; loss ``mean(X_T²)``; the gradient with respect to
the 262 parameters of both MLPs (forward + backward timed together).

Contenders (same threads, repetitions alternated, garbage collector off while timed, medians):

* kexue reversible Heun (Kidger et al. 2021, arXiv:2105.13493; exact reversal), with its default
  path (counter-based increments on the step grid), with its :class:`BrownianInterval`, and with
  torchsde's ``BrownianInterval`` (the very path torchsde uses);
* torchsde ``reversible_heun`` + ``adjoint_reversible_heun`` (its recommendation for adjoints)
  with its ``BrownianInterval``;
* kexue ``midpoint`` + ``adjoint_method="midpoint"`` (the stochastic adjoint of Li et al. 2020,
  arXiv:2001.01328) against torchsde's default for a Stratonovich SDE (``midpoint`` forward,
  ``midpoint`` adjoint);
* kexue backprop through the reversible Heun forward (``gradient="backprop"``, memory O(steps)).

Gradient error: every contender is also run on one shared path (a float64 kexue
``BrownianInterval``, handed to torchsde through its ``BaseBrownian`` interface) and compared with
a float64 reference on that path with 16× the steps (reversible Heun, exact adjoint; checked
against the stochastic adjoint with Heun at the same fine step): relative L2 error of the
parameter gradient.

Peak memory vs steps: for 250, 1000 and 4000 steps, each contender's peak resident memory above
its start (``VmHWM`` reset through ``/proc/self/clear_refs``) in a fresh process with
``MALLOC_MMAP_THRESHOLD_=65536``.

Rerun (about 5–10 minutes on 2 busy cores)::

    .venv/bin/python benchmarks/bench_adjoint.py --reps 5 --threads 1

Writes the report to stdout and to ``benchmarks/results/adjoint.txt`` (``--out``). Not collected
by pytest (pass/fail lives in tests/).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import torchsde  # noqa: E402
from torch import nn  # noqa: E402
from torchsde._brownian import BaseBrownian  # noqa: E402

from kexue.stochastic import SDE, BrownianInterval, solve_adjoint  # noqa: E402

B, D, HIDDEN, T, STEPS = 256, 2, 32, 1.0, 1000


class NeuralSDE(nn.Module):
    """Stratonovich neural SDE, diagonal noise: ``f``/``g`` for torchsde, ``.sde()`` for kexue."""

    noise_type = "diagonal"
    sde_type = "stratonovich"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.fnet = nn.Sequential(nn.Linear(D, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, D))
        self.gnet = nn.Sequential(nn.Linear(D, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, D))
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))

    def f(self, t, x):
        return self.fnet(x)

    def g(self, t, x):
        return torch.sigmoid(self.gnet(x))

    def sde(self) -> SDE:
        return SDE(self.f, self.g, sde_type="stratonovich")


class SharedPath(BaseBrownian):
    """A kexue ``BrownianInterval`` behind torchsde's ``BaseBrownian`` interface."""

    def __init__(self, bm: BrownianInterval, dtype: torch.dtype) -> None:
        self._bm, self._dtype = bm, dtype

    def __call__(self, ta, tb=None, return_U=False, return_A=False):
        return self._bm(float(ta), float(tb)).to(self._dtype)

    def __repr__(self):
        return f"SharedPath({self._bm!r})"

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return torch.device("cpu")

    @property
    def shape(self):
        return torch.Size(self._bm.shape)

    @property
    def levy_area_approximation(self):
        return "none"


def kexue(method: str, path: str, gradient: str = "adjoint"):
    def run(net, x0, n, seed, shared=None):
        kw = {"generator": seed}
        if shared is not None:
            kw = {"brownian": shared}
        elif path == "kexue-bi":
            kw = {"brownian": BrownianInterval(0.0, T, (B, D), seed=seed, dtype=x0.dtype)}
        elif path == "torchsde-bi":
            kw = {"brownian": torchsde.BrownianInterval(0.0, T, (B, D), dtype=x0.dtype,
                                                        entropy=seed)}
        am = None if method == "reversible_heun" else "midpoint"
        ys = solve_adjoint(net.sde(), x0, [0.0, T], params=net, method=method,
                           adjoint_method=am, dt=T / n, gradient=gradient, **kw)
        return torch.autograd.grad(ys[-1].pow(2).mean(), tuple(net.parameters()))
    return run


def torchsde_adjoint(method: str | None, adjoint_method: str | None):
    def run(net, x0, n, seed, shared=None):
        bm = shared if shared is not None else torchsde.BrownianInterval(
            0.0, T, (B, D), dtype=x0.dtype, entropy=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ys = torchsde.sdeint_adjoint(net, x0, torch.tensor([0.0, T], dtype=x0.dtype), bm=bm,
                                         dt=T / n, method=method, adjoint_method=adjoint_method,
                                         adjoint_params=tuple(net.parameters()))
        return torch.autograd.grad(ys[-1].pow(2).mean(), tuple(net.parameters()))
    return run


CONTENDERS = {
    "kexue reversible_heun (default path)": kexue("reversible_heun", "default"),
    "kexue reversible_heun (kexue BrownianInterval)": kexue("reversible_heun", "kexue-bi"),
    "kexue reversible_heun (torchsde BrownianInterval)": kexue("reversible_heun", "torchsde-bi"),
    "torchsde reversible_heun + adjoint_reversible_heun": torchsde_adjoint(
        "reversible_heun", "adjoint_reversible_heun"),
    "kexue midpoint + midpoint adjoint (default path)": kexue("midpoint", "default"),
    "torchsde default (midpoint + midpoint adjoint)": torchsde_adjoint(None, None),
    "kexue backprop through reversible_heun": kexue("reversible_heun", "default", "backprop"),
}
PAIRS = {   # kexue contender -> the torchsde contender it is compared with
    "kexue reversible_heun (default path)": "torchsde reversible_heun + adjoint_reversible_heun",
    "kexue reversible_heun (kexue BrownianInterval)":
        "torchsde reversible_heun + adjoint_reversible_heun",
    "kexue reversible_heun (torchsde BrownianInterval)":
        "torchsde reversible_heun + adjoint_reversible_heun",
    "kexue midpoint + midpoint adjoint (default path)":
        "torchsde default (midpoint + midpoint adjoint)",
    "kexue backprop through reversible_heun": "torchsde reversible_heun + adjoint_reversible_heun",
}


def flat(gs) -> torch.Tensor:
    return torch.cat([g.detach().double().flatten() for g in gs])


def timing(args, lines: list[str]) -> None:
    net = NeuralSDE()
    x0 = torch.full((B, D), 0.5)
    for fn in CONTENDERS.values():                                   # warm-up
        fn(net, x0, 20, 0)
    wall = {k: [] for k in CONTENDERS}
    cpu = {k: [] for k in CONTENDERS}
    for rep in range(args.reps):
        for name, fn in CONTENDERS.items():
            gc.collect()
            gc.disable()
            c0, t0 = time.process_time(), time.perf_counter()
            fn(net, x0, STEPS, 100 + rep)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            gc.enable()
    med_w = {k: statistics.median(v) for k, v in wall.items()}
    med_c = {k: statistics.median(v) for k, v in cpu.items()}
    lines += [f"### Time: {B} paths × {STEPS} steps, 2-D state, MLP drift + diffusion, float32, "
              f"forward + backward, median of {args.reps}", "",
              "| contender | median wall s | min–max wall s | median CPU s | torchsde / kexue "
              "(wall) | torchsde / kexue (CPU) |", "|---|---:|---:|---:|---:|---:|"]
    for name in CONTENDERS:
        base = PAIRS.get(name)
        rw = f"{med_w[base] / med_w[name]:.2f}×" if base else ""
        rc = f"{med_c[base] / med_c[name]:.2f}×" if base else ""
        lo, hi = min(wall[name]), max(wall[name])
        lines.append(f"| {name} | {med_w[name]:.3f} | {lo:.3f}–{hi:.3f} | {med_c[name]:.3f} | "
                     f"{rw} | {rc} |")
    lines.append("")


def accuracy(args, lines: list[str]) -> None:
    net = NeuralSDE()
    net64 = NeuralSDE().double()
    x0 = torch.full((B, D), 0.5)
    bm = BrownianInterval(0.0, T, (B, D), seed=7)                    # float64 tree
    fine = STEPS * args.fine
    ref = flat(solve_grad(net64, bm, fine, "reversible_heun"))
    check = flat(solve_grad(net64, bm, fine, "heun"))
    ref_gap = float((check - ref).norm() / ref.norm())
    lines += [f"### Gradient error on one shared path (float64 reference: reversible Heun, "
              f"{fine} steps; the stochastic adjoint with Heun at {fine} steps differs from it "
              f"by {ref_gap:.2e} relative)", "",
              "| contender (float32, 1000 steps) | relative L2 error of the parameter gradient |",
              "|---|---:|"]
    shared32 = SharedPath(bm, torch.float32)
    for name, fn in CONTENDERS.items():
        if "BrownianInterval)" in name:
            continue                                  # the same scheme as the default-path row
        shared = shared32 if name.startswith("torchsde") else bm
        gs = flat(fn(net, x0, STEPS, 0, shared=shared))
        lines.append(f"| {name} | {float((gs - ref).norm() / ref.norm()):.2e} |")
    lines.append("")


def solve_grad(net, bm, n, method):
    x0 = torch.full((B, D), 0.5, dtype=torch.float64)
    am = None if method == "reversible_heun" else "heun"
    ys = solve_adjoint(net.sde(), x0, [0.0, T], params=net, method=method, adjoint_method=am,
                       dt=T / n, brownian=bm)
    return torch.autograd.grad(ys[-1].pow(2).mean(), tuple(net.parameters()))


_MEM_CHILD = """
import json, sys, torch
sys.path.insert(0, {here!r})
import bench_adjoint as b
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
torch.set_num_threads(1)
net = b.NeuralSDE()
x0 = torch.full((b.B, b.D), 0.5)
name, n = sys.argv[1], int(sys.argv[2])
fn = b.CONTENDERS[name]
fn(net, x0, 10, 0)
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
before = status("VmRSS")
fn(net, x0, n, 1)
print(json.dumps(status("VmHWM") - before))
"""


def memory(args, lines: list[str]) -> None:
    names = ["kexue reversible_heun (default path)",
             "torchsde reversible_heun + adjoint_reversible_heun",
             "kexue midpoint + midpoint adjoint (default path)",
             "torchsde default (midpoint + midpoint adjoint)",
             "kexue backprop through reversible_heun"]
    steps = [250, 1000, 4000]
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS="1")
    here = os.path.dirname(os.path.abspath(__file__))
    code = _MEM_CHILD.format(here=here)
    lines += ["### Peak memory above the start (MB) vs steps (fresh process per cell)", "",
              "| contender | " + " | ".join(f"{n} steps" for n in steps) + " |",
              "|---|" + "---:|" * len(steps)]
    for name in names:
        cells = []
        for n in steps:
            out = subprocess.run([sys.executable, "-c", code, name, str(n)], env=env,
                                 capture_output=True, text=True, check=True)
            cells.append(f"{json.loads(out.stdout.strip().splitlines()[-1]) / 2**20:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fine", type=int, default=16, help="reference steps = 1000 × fine")
    parser.add_argument("--parts", default="tam", help="t: time, a: accuracy, m: memory")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "adjoint.txt"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    load = os.getloadavg()
    lines = [f"# Adjoint gradients — {cpu_model()}, {os.cpu_count()} cores, {args.threads} torch "
             f"threads, torch {torch.__version__}, torchsde {torchsde.__version__}; load average "
             f"at start {load[0]:.1f}", ""]
    if "t" in args.parts:
        timing(args, lines)
    if "a" in args.parts:
        accuracy(args, lines)
    if "m" in args.parts:
        memory(args, lines)
    lines.append(f"total benchmark time {time.perf_counter() - start:.0f} s; load average at "
                 f"end {os.getloadavg()[0]:.1f}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
