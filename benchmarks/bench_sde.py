"""B1: SDE throughput, kexue.stochastic.solve vs torchsde.sdeint, side by side in one run.

GBM ``dS = μS dt + σS dW`` (μ = 0.05, σ = 0.2, S0 = 1, T = 1), fixed step, float32 (torchsde's
usual dtype) unless ``--dtype float64``:

* (a) 100 000 paths × 500 steps (compute-bound), (b) 100 paths × 2000 steps (overhead-bound);
* Euler–Maruyama and Milstein; torchsde with its default ``BrownianInterval`` (the documented
  usage) and with pre-drawn increments behind its ``BaseBrownian`` interface (its solver loop
  alone); ours with a fresh generator and, for Milstein, ``∂g/∂x`` by autograd (like torchsde) and
  analytic (``diffusion_dx``); and the same GBM declared as ``SDE.linear(a=μ, c=σ)``, which the
  solver runs as one fused ``x ← M_k x + A_k`` per step (coefficients known, no user calls);
* two references measured in the same run: the *practical floor* (a bare loop of one
  ``torch.randn`` into a preallocated buffer plus one fused in-place update per step), and a
  hand-written loop that calls the same drift/diffusion callables as the solvers.

Repetitions alternate the contenders (ours, torchsde, floor, ...) so machine noise hits all of
them alike; the garbage collector runs before and is off during each timed call (as in
``timeit``), so no contender pays for another's garbage (torchsde's Brownian tree is large). The
table reports medians, path-steps/s and ratios. Sanity check: the mean of S_T of
our Euler run in (a) is within 4 SE of e^μ. Rerun::

    .venv/bin/python benchmarks/bench_sde.py            # about 1–2 minutes on 2 cores
    .venv/bin/python benchmarks/bench_sde.py --reps 7 --dtype float64 --cases b --threads 1

``--cases q`` times Brownian-path queries instead (issue 18): ``kexue.stochastic.BrownianInterval``
against ``torchsde.BrownianInterval``, 100 paths × 1 Brownian motion on [0, 1], a fresh path per
repetition, (q1) the fixed grid of 1000 steps queried in order, (q2) an adaptive-like sequence
(each step first queried over [t, t + 2h], "rejected", then over [t, t + h]), (q3) an adaptive
sequence as an embedded-estimate solver makes it (controller-like step sizes around 1/1000, 10%
of the attempts rejected and re-queried over half the step, seeded), (q4, q5) the sequences
recorded from ``solve_adaptive`` runs on GBM (heun with its embedded estimate; euler with step
doubling), plus our vectorised
``increments(grid)`` of the accepted steps (what ``solve`` uses on a fixed grid) and, on (q1),
torchsde's pre-drawn-noise lookup (its ``sdeint`` loop without a Brownian interval)::

    .venv/bin/python benchmarks/bench_sde.py --cases q --threads 1

``--cases c`` times whole adaptive solves (issue 18): ``solve_adaptive`` (milstein by step
doubling, heun by its embedded pair) against ``torchsde.sdeint(..., adaptive=True)`` (milstein)
on GBM, float64, with the pathwise error of each against the exact solution on its own path::

    .venv/bin/python benchmarks/bench_sde.py --cases c --threads 1

Not collected by pytest (pass/fail lives in tests/).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402
import torchsde  # noqa: E402
from torchsde._brownian import BaseBrownian  # noqa: E402

from kexue.stochastic._brownian_interval import BrownianInterval  # noqa: E402
from kexue.stochastic._sde import SDE  # noqa: E402
from kexue.stochastic._solvers import solve  # noqa: E402

MU, SIGMA, T = 0.05, 0.2, 1.0


# ``x * MU`` rather than ``MU * x``: Tensor.__mul__ is C-level; ``float * Tensor`` goes through
# the Python-level Tensor.__rmul__ wrapper (about 6 µs more per call here). Both solvers call
# these same functions, so the choice only sets how much of (b) is spent in user code.
def drift(t, x):
    return x * MU


def diffusion(t, x):
    return x * SIGMA


def diffusion_dx(t, x):
    return torch.full_like(x, SIGMA)


class TorchsdeGBM(torch.nn.Module):
    """GBM for torchsde: diagonal noise, Itô; the same callables as ours."""

    noise_type = "diagonal"
    sde_type = "ito"

    def f(self, t, y):
        return drift(t, y)

    def g(self, t, y):
        return diffusion(t, y)


class PreDrawnBrownian(BaseBrownian):
    """Increments drawn in one ``torch.randn`` call, served by step index: torchsde's solver
    loop without its Brownian-interval bookkeeping."""

    def __init__(self, dw: torch.Tensor, dt: float):
        self._dw, self._dt = dw, dt                                  # (n, batch, 1)

    def __call__(self, ta, tb=None, return_U=False, return_A=False):
        return self._dw[min(int(round(float(ta) / self._dt)), self._dw.shape[0] - 1)]

    def __repr__(self):
        return f"PreDrawnBrownian(n={self._dw.shape[0]})"

    @property
    def dtype(self):
        return self._dw.dtype

    @property
    def device(self):
        return self._dw.device

    @property
    def shape(self):
        return self._dw.shape[1:]

    @property
    def levy_area_approximation(self):
        return "none"


def floor(batch: int, n: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Practical floor: per step one randn into a buffer and one fused update
    ``S ← S + S·(μh + σ√h ξ)`` (the scale folded into the same ``addcmul_`` via
    ``buf = μh/(σ√h) + ξ``)."""
    gen = torch.Generator().manual_seed(seed)
    h = T / n
    scale = SIGMA * math.sqrt(h)
    shift = MU * h / scale
    x = torch.ones(batch, 1, dtype=dtype)
    buf = torch.empty(batch, 1, dtype=dtype)
    for _ in range(n):
        torch.randn((batch, 1), generator=gen, dtype=dtype, out=buf)
        x.addcmul_(x, buf.add_(shift), value=scale)
    return x


def hand_loop(batch: int, n: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Hand-written Euler loop calling the same drift/diffusion callables (no solver)."""
    gen = torch.Generator().manual_seed(seed)
    h = T / n
    sqrt_h = math.sqrt(h)
    x = torch.ones(batch, 1, dtype=dtype)
    buf = torch.empty(batch, 1, dtype=dtype)
    t = torch.zeros((), dtype=dtype)
    with torch.no_grad():
        for _ in range(n):
            torch.randn((batch, 1), generator=gen, dtype=dtype, out=buf)
            fx, gx = drift(t, x), diffusion(t, x)
            x = torch.addcmul(x, gx, buf, value=sqrt_h).add_(fx, alpha=h)
    return x


def ours(method: str, analytic: bool = False, linear: bool = False,
         ) -> Callable[[int, int, torch.dtype, int], torch.Tensor]:
    """Our solver on GBM given as callables (``analytic``: with ``diffusion_dx``), or declared as
    ``SDE.linear(a=μ, c=σ)`` (``linear``: the solver's affine path)."""
    if linear:
        sde = SDE.linear(a=MU, c=SIGMA)
    else:
        sde = SDE(drift, diffusion, diffusion_dx=diffusion_dx if analytic else None)

    def fn(batch, n, dtype, seed):
        return solve(sde, torch.ones(batch, 1, dtype=dtype), [0.0, T], method=method,
                     dt=T / n, generator=seed)[-1]
    return fn


def theirs(method: str, predrawn: bool) -> Callable[[int, int, torch.dtype, int], torch.Tensor]:
    sde = TorchsdeGBM()

    def fn(batch, n, dtype, seed):
        h = T / n
        if predrawn:
            gen = torch.Generator().manual_seed(seed)
            dw = torch.randn((n, batch, 1), generator=gen, dtype=dtype).mul_(math.sqrt(h))
            bm = PreDrawnBrownian(dw, h)
        else:
            bm = torchsde.BrownianInterval(t0=0.0, t1=T, size=(batch, 1), dtype=dtype,
                                           entropy=seed, dt=h)
        with torch.no_grad():
            ys = torchsde.sdeint(sde, torch.ones(batch, 1, dtype=dtype),
                                 torch.tensor([0.0, T], dtype=dtype), bm=bm, method=method, dt=h)
        return ys[-1]
    return fn


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def _query_sequence(n: int, adaptive: bool) -> list[tuple[float, float]]:
    """(q1) the grid k/n in order; (q2) per step [t, t + 2h] then [t, t + h] (clipped to 1)."""
    pairs = []
    for k in range(n):
        a, b = k / n, (k + 1) / n
        if adaptive:
            pairs.append((a, min(1.0, (k + 2) / n)))
        pairs.append((a, b))
    return pairs


def _controller_sequence(n: int, seed: int = 0, reject: float = 0.1) -> list[tuple[float, float]]:
    """(q3) the queries of an adaptive solver with an embedded estimate, one per attempt: forward
    steps whose size drifts like a step-size controller's (factor e^{N(0, 0.3²)}, kept near
    1/n), and with probability ``reject`` a rejection: the same start re-queried over half the
    step (and, one time in four, over a quarter). Seeded; ~n accepted steps on [0, 1]."""
    rng = np.random.default_rng(seed)
    t, h, pairs = 0.0, 1.0 / n, []
    while t < 1.0:
        tb = min(1.0, t + h)
        pairs.append((t, tb))
        if rng.random() < reject and tb - t > 1e-6:
            tb = t + 0.5 * (tb - t)                      # rejected: halve, re-query
            pairs.append((t, tb))
            if rng.random() < 0.25:
                tb = t + 0.5 * (tb - t)
                pairs.append((t, tb))
        t = tb
        h = float(np.clip(h * math.exp(rng.normal(0.0, 0.3)), 0.2 / n, 5.0 / n))
    return pairs


class _Recorder(BrownianInterval):
    """A BrownianInterval that logs its queries (to replay a real adaptive solve's sequence)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log: list[tuple[float, float]] = []

    def __call__(self, s, t, **kwargs):
        self.log.append((float(s), float(t)))
        return super().__call__(s, t, **kwargs)


def _recorded_sequence(batch: int, method: str, estimate: str
                       ) -> tuple[list[tuple[float, float]], str]:
    """(q4, q5) the queries ``solve_adaptive`` makes on GBM dX = 0.5 X dt + X dW, X0 = 1, [0, 1],
    rtol = atol = 1e-3, dt0 = 1e-3: heun with its embedded Euler estimate (one query per
    attempt) or euler with step doubling (a query over the step and two over its halves)."""
    from kexue.stochastic._adaptive import solve_adaptive

    bm = _Recorder(0.0, 1.0, (batch, 1), seed=0)
    sde = SDE(lambda t, x: x * 0.5, lambda t, x: x * 1.0)
    r = solve_adaptive(sde, torch.ones(batch, 1, dtype=torch.float64), [0.0, 1.0], method=method,
                       rtol=1e-3, atol=1e-3, dt0=1e-3, brownian=bm, error_estimate=estimate)
    return bm.log, (f"{method}, {estimate} estimate: {r.n_accepted} accepted, "
                    f"{r.n_rejected} rejected steps")


def brownian_queries(args: argparse.Namespace) -> None:
    """Issue 18: BrownianInterval queries, ours vs torchsde's, alternated, medians. ``--batch``
    paths (default 100): a query of ours draws ~10 tree nodes of ``batch`` normals each, so
    our cost grows with the batch faster than torchsde's (1–2 nodes per query)."""
    batch, n = args.batch, 1000
    dtype = getattr(torch, args.dtype)

    def ours_q(tol):
        def fn(pairs, grid, seed):
            bm = BrownianInterval(0.0, 1.0, (batch, 1), seed=seed, dtype=dtype, tol=tol)
            for a, b in pairs:
                bm(a, b)
        return fn

    def ours_vec(pairs, grid, seed):             # the accepted steps' grid, in one call
        bm = BrownianInterval(0.0, 1.0, (batch, 1), seed=seed, dtype=dtype)
        bm.increments(grid)

    def theirs_q(dt):
        def fn(pairs, grid, seed):
            bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(batch, 1), dtype=dtype,
                                           entropy=seed, dt=dt)
            for a, b in pairs:
                bm(a, b)
        return fn

    def predrawn(pairs, grid, seed):             # torchsde's pre-drawn-noise path: q1 only
        gen = torch.Generator().manual_seed(seed)
        h = 1.0 / n
        dw = torch.randn((n, batch, 1), generator=gen, dtype=dtype).mul_(math.sqrt(h))
        bm = PreDrawnBrownian(dw, h)
        for a, _ in pairs:
            bm(a)

    base_name = "torchsde BrownianInterval (dt given)"
    contenders = [
        ("kexue BrownianInterval, tol 2^-20 (default)", ours_q(None)),
        ("kexue BrownianInterval, tol = dt/2", ours_q(0.5 / n)),
        ("kexue increments(grid), vectorised", ours_vec),
        (base_name, theirs_q(1.0 / n)),
        ("torchsde BrownianInterval (no dt, as sdeint builds it)", theirs_q(None)),
        ("torchsde pre-drawn dW (one randn, indexed per query)", predrawn),
    ]
    rec_heun, note_heun = _recorded_sequence(batch, "heun", "embedded")
    rec_euler, note_euler = _recorded_sequence(batch, "euler", "doubling")
    print(f"# Brownian queries — {cpu_model()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
          f"torchsde {torchsde.__version__}, {args.dtype}, {batch} paths, {n} steps, "
          f"median of {args.reps}, load average {os.getloadavg()[0]:.1f}\n")
    sequences = [
        ("(q1) fixed grid, in order", _query_sequence(n, False)),
        ("(q2) adaptive-like: [t, t+2h] then [t, t+h]", _query_sequence(n, True)),
        ("(q3) adaptive sequence: controller-like steps, 10% rejected and halved",
         _controller_sequence(n)),
        (f"(q4) recorded from solve_adaptive on GBM ({note_heun})", rec_heun),
        (f"(q5) recorded from solve_adaptive on GBM ({note_euler})", rec_euler),
    ]
    for title, pairs in sequences:
        grid = sorted({0.0, *(b for _, b in pairs)})      # (q1, q2): the step grid k/n
        fixed_grid = title.startswith(("(q1)", "(q2)"))
        # pre-drawn noise serves only a grid known in advance, in order (q1); the vectorised
        # grid call needs the grid in advance (q1, q2): an adaptive solver queries one by one
        active = [(name, fn) for name, fn in contenders
                  if (title.startswith("(q1)") or not name.startswith("torchsde pre-drawn"))
                  and (fixed_grid or "vectorised" not in name)]
        for _, fn in active:                                         # warm-up, untimed
            fn(pairs[:50], grid[:51], 0)
        times: dict[str, list[float]] = {name: [] for name, _ in active}
        cpu: dict[str, list[float]] = {name: [] for name, _ in active}
        for rep in range(args.reps):
            for name, fn in active:
                gc.collect()
                gc.disable()
                c0, t0 = time.process_time(), time.perf_counter()
                fn(pairs, grid, 1000 + rep)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                gc.enable()
        med = {name: statistics.median(v) for name, v in times.items()}
        mcpu = {name: statistics.median(v) for name, v in cpu.items()}
        base, base_cpu = med[base_name], mcpu[base_name]
        print(f"\n### {title}: {len(pairs)} queries\n")
        print("| contender | median wall ms | µs / query (wall) | vs torchsde (dt given), wall | "
              "µs / query (CPU) | vs torchsde (dt given), CPU |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, _ in active:
            print(f"| {name} | {med[name] * 1e3:.1f} | {med[name] / len(pairs) * 1e6:.1f} | "
                  f"{base / med[name]:.2f}× | {mcpu[name] / len(pairs) * 1e6:.1f} | "
                  f"{base_cpu / mcpu[name]:.2f}× |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


def adaptive_solves(args: argparse.Namespace) -> None:
    """Issue 18, case (c): whole adaptive solves, ``solve_adaptive`` vs ``torchsde.sdeint(...,
    adaptive=True)`` on GBM dX = 0.5 X dt + X dW, X0 = 1, T = 1, 100 paths, dt0 = 1e-3, the
    same rtol = atol; each on its own Brownian tree (a fresh seed per repetition), error
    E|X_T - exact| against exp((μ - σ²/2) T + σ W_T) of that same tree. torchsde: milstein (its
    step doubling); kexue: milstein (step doubling) and heun (embedded Euler/Heun pair, on the
    Stratonovich form). float64 (the errors are the point), medians of ``--reps``."""
    from kexue.stochastic._adaptive import solve_adaptive

    batch, mu, sigma = 100, 0.5, 1.0
    dtype = torch.float64

    class GBM(torch.nn.Module):
        noise_type, sde_type = "diagonal", "ito"

        def f(self, t, y):
            return y * mu

        def g(self, t, y):
            return y * sigma

    ours_sde = SDE(lambda t, x: x * mu, lambda t, x: x * sigma)

    def ours(method):
        def fn(rtol, seed):
            bm = BrownianInterval(0.0, 1.0, (batch, 1), seed=seed, dtype=dtype)
            r = solve_adaptive(ours_sde, torch.ones(batch, 1, dtype=dtype), [0.0, 1.0],
                               method=method, rtol=rtol, atol=rtol, dt0=1e-3, brownian=bm)
            return r.xs[-1], bm(0.0, 1.0), r.n_accepted + r.n_rejected
        return fn

    def theirs(rtol, seed):
        bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(batch, 1), dtype=dtype,
                                       entropy=seed)
        with torch.no_grad():
            ys = torchsde.sdeint(GBM(), torch.ones(batch, 1, dtype=dtype),
                                 torch.tensor([0.0, 1.0], dtype=dtype), bm=bm,
                                 method="milstein", dt=1e-3, adaptive=True, rtol=rtol,
                                 atol=rtol, dt_min=1e-6)
        return ys[-1], bm(0.0, 1.0), None

    contenders = [("kexue milstein (doubling)", ours("milstein")),
                  ("kexue heun (embedded pair)", ours("heun")),
                  ("torchsde milstein (adaptive)", theirs)]
    print(f"# (c) adaptive solves — {cpu_model()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, torchsde "
          f"{torchsde.__version__}, float64, {batch} paths, median of {args.reps}, load average "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| rtol = atol | contender | median ms | E abs error at T | attempts | "
          "vs torchsde |")
    print("|---|---|---:|---:|---:|---:|")
    for rtol in (1e-2, 1e-3):
        for _, fn in contenders:                                     # warm-up, untimed
            fn(1e-1, 0)
        times: dict[str, list[float]] = {name: [] for name, _ in contenders}
        errs: dict[str, list[float]] = {name: [] for name, _ in contenders}
        steps: dict[str, list[int]] = {name: [] for name, _ in contenders}
        for rep in range(args.reps):
            for name, fn in contenders:
                gc.collect()
                gc.disable()
                t0 = time.perf_counter()
                xT, wT, n = fn(rtol, 1000 + rep)
                times[name].append(time.perf_counter() - t0)
                gc.enable()
                exact = torch.exp((mu - sigma**2 / 2) + sigma * wT.to(dtype))
                errs[name].append(float((xT - exact).abs().mean()))
                if n is not None:
                    steps[name].append(n)
        base = statistics.median(times["torchsde milstein (adaptive)"])
        for name, _ in contenders:
            med = statistics.median(times[name])
            n = f"{statistics.median(steps[name]):.0f}" if steps[name] else "n/a"
            print(f"| {rtol:g} | {name} | {med * 1e3:.1f} | "
                  f"{statistics.median(errs[name]):.2e} | {n} | {base / med:.2f}× |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100,
                        help="paths of the Brownian motion in --cases q (default 100)")
    parser.add_argument("--cases", default="ab",
                        help="which cases to run: a, b or ab; q: Brownian-path queries; c: "
                        "adaptive solves")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    if "q" in args.cases:
        brownian_queries(args)
        return
    if "c" in args.cases:
        adaptive_solves(args)
        return

    cases = [c for c in [("(a) 100000 paths × 500 steps", 100_000, 500),
                         ("(b) 100 paths × 2000 steps", 100, 2000)] if c[0][1] in args.cases]
    contenders = [
        ("floor: randn + 1 fused update", floor),
        ("hand loop, same f/g callables", hand_loop),
        ("kexue euler", ours("euler", False)),
        ("torchsde euler (BrownianInterval)", theirs("euler", False)),
        ("torchsde euler (pre-drawn dW)", theirs("euler", True)),
        ("kexue milstein (autograd g')", ours("milstein", False)),
        ("kexue milstein (analytic g')", ours("milstein", True)),
        ("torchsde milstein (BrownianInterval)", theirs("milstein", False)),
        ("kexue euler, SDE.linear", ours("euler", linear=True)),
        ("kexue milstein, SDE.linear", ours("milstein", linear=True)),
    ]
    t_start = time.perf_counter()
    print(f"# B1 SDE throughput — {cpu_model()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
          f"torchsde {torchsde.__version__}, {args.dtype}, median of {args.reps}\n")
    for title, batch, n in cases:
        for _, fn in contenders:                                     # warm-up, untimed
            fn(min(batch, 1000), 20, dtype, 0)
        times: dict[str, list[float]] = {name: [] for name, _ in contenders}
        for rep in range(args.reps):
            for name, fn in contenders:
                gc.collect()                      # no contender pays for another's garbage
                gc.disable()                      # as timeit does
                t0 = time.perf_counter()
                out = fn(batch, n, dtype, 1000 + rep)
                times[name].append(time.perf_counter() - t0)
                gc.enable()
                if name == "kexue euler" and batch >= 10_000 and rep == 0:
                    s = out[:, 0].double()
                    se = float(s.std()) / math.sqrt(batch)
                    err = abs(float(s.mean()) - math.exp(MU))
                    print(f"sanity {title}: mean S_T {float(s.mean()):.5f} vs e^mu "
                          f"{math.exp(MU):.5f}, |diff| = {err / se:.2f} SE "
                          f"({'ok' if err < 4 * se else 'FAIL'})")
        med = {name: statistics.median(v) for name, v in times.items()}
        spread = {name: (min(v), max(v)) for name, v in times.items()}
        print(f"\n### {title}\n")
        print("| contender | median ms | min–max ms | path-steps/s | vs torchsde (same "
              "method) | vs floor |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, _ in contenders:
            base = ("torchsde milstein (BrownianInterval)" if "milstein" in name
                    else "torchsde euler (BrownianInterval)")
            speed = "" if not name.startswith("kexue") else f"{med[base] / med[name]:.1f}×"
            floor_ratio = med[name] / med["floor: randn + 1 fused update"]
            lo, hi = spread[name]
            print(f"| {name} | {med[name] * 1e3:.1f} | {lo * 1e3:.1f}–{hi * 1e3:.1f} | "
                  f"{batch * n / med[name]:.3g} | {speed} | {floor_ratio:.2f} |")
    print(f"\ntotal benchmark time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
