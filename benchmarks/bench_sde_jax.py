"""B1 (issue 18): the same GBM SDE as ``bench_sde.py``, solved with JAX — diffrax and a hand loop.

Runs in its own virtual environment (JAX is not a kexue dependency)::

    python3 -m venv /work/jaxenv && /work/jaxenv/bin/pip install jax diffrax
    /work/jaxenv/bin/python benchmarks/bench_sde_jax.py --threads 1 --json out.json

GBM ``dS = μS dt + σS dW`` (μ = 0.05, σ = 0.2, S0 = 1, T = 1), Euler–Maruyama, fixed step,
float32 (JAX's default), cases (a) 100 000 paths × 500 steps and (b) 100 paths × 2000 steps.
Contenders, each one ``jax.jit``-compiled function whose compile is done (and excluded) before
timing; the timed call includes drawing the noise and ends with ``block_until_ready``:

* ``diffrax VirtualBrownianTree``: ``jit(vmap(diffeqsolve))`` over one PRNG key per path,
  ``MultiTerm(ODETerm(f), ControlTerm(g, VirtualBrownianTree(tol=dt/2)))``, ``Euler()``,
  ``SaveAt(t1=True)``, ``max_steps = n`` — diffrax's documented usage;
* ``diffrax UnsafeBrownianPath``: the same with diffrax's fastest path for fixed steps (each
  query draws fresh noise; valid for a fixed-step solver that queries each step once);
* ``diffrax pre-drawn dW``: the same with increments drawn in one ``jax.random.normal`` and
  served by step index through a small ``AbstractPath`` (diffrax's solver loop alone);
* ``lax.scan``: a hand-written ``jax.lax.scan`` over steps of ``x + f h + g ΔW`` on the whole
  batch, the increments drawn in one ``jax.random.normal`` inside the same ``jit``.

Diffusion ``g`` is diagonal: diffrax receives it as a ``lineax.DiagonalLinearOperator``. The
drift and diffusion are the same plain functions as in bench_sde.py (``x * μ``, ``x * σ``).

Repetitions alternate the contenders; medians are reported. ``--json`` writes the medians (and
all times, versions, machine) for ``bench_sde_vs_jax.py``; ``--serve`` turns the script into a
worker for that driver: it compiles every contender, then reads ``case contender seed`` lines on
stdin and answers each with the wall and CPU (process) seconds of one call, so the driver can
alternate JAX calls with PyTorch calls inside each repetition. ``--threads N`` pins the process
to N CPUs (``sched_setaffinity``) and sets XLA's intra-op threads, so JAX uses N cores like
``torch.set_num_threads(N)``.

Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time


def _pin(threads: int | None) -> None:
    """Before importing JAX: restrict the process (and XLA's pools) to ``threads`` CPUs."""
    if threads is None:
        return
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    os.sched_setaffinity(0, set(cpus))
    flags = os.environ.get("XLA_FLAGS", "")
    eigen = "true" if threads > 1 else "false"
    os.environ["XLA_FLAGS"] = (f"{flags} --xla_cpu_multi_thread_eigen={eigen}"
                               f" intra_op_parallelism_threads={threads}").strip()


MU, SIGMA, T = 0.05, 0.2, 1.0
CASES = {"a": ("(a) 100000 paths × 500 steps", 100_000, 500),
         "b": ("(b) 100 paths × 2000 steps", 100, 2000)}
CONTENDERS = ["diffrax VirtualBrownianTree", "diffrax UnsafeBrownianPath",
              "diffrax pre-drawn dW", "lax.scan (pre-drawn dW)"]


def build(batch: int, n: int):
    """The jitted contenders for ``batch`` paths × ``n`` steps: name → ``fn(seed) -> S_T``."""
    import diffrax
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import lineax as lx

    h = T / n

    def drift(t, y, args):
        return y * MU

    def diffusion(t, y, args):
        return lx.DiagonalLinearOperator(y * SIGMA)

    class PreDrawn(diffrax.AbstractPath):
        """Increments ``dw (n, 1)`` served by step index (fixed grid ``k h``)."""
        dw: jax.Array
        t0: float = eqx.field(static=True, default=0.0)
        t1: float = eqx.field(static=True, default=T)

        def evaluate(self, t0, t1=None, left=True, use_levy=False):
            k = jnp.clip(jnp.round(t0 / h).astype(jnp.int32), 0, n - 1)
            return self.dw[k]

    def one_path(bm, adjoint=None):
        adjoint = diffrax.RecursiveCheckpointAdjoint() if adjoint is None else adjoint
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))
        sol = diffrax.diffeqsolve(terms, diffrax.Euler(), 0.0, T, h, jnp.ones((1,), jnp.float32),
                                  saveat=diffrax.SaveAt(t1=True), max_steps=n, adjoint=adjoint)
        return sol.ys[0, 0]

    def vbt(key):
        return one_path(diffrax.VirtualBrownianTree(0.0, T, tol=h / 2, shape=(1,), key=key))

    def unsafe(key):
        return one_path(diffrax.UnsafeBrownianPath(shape=(1,), key=key),
                        adjoint=diffrax.ForwardMode())      # what diffrax requires for it

    @jax.jit
    def f_vbt(key):
        return jax.vmap(vbt)(jax.random.split(key, batch))

    @jax.jit
    def f_unsafe(key):
        return jax.vmap(unsafe)(jax.random.split(key, batch))

    @jax.jit
    def f_predrawn(key):
        dw = jax.random.normal(key, (batch, n, 1), jnp.float32) * math.sqrt(h)
        return jax.vmap(lambda w: one_path(PreDrawn(w)))(dw)

    @jax.jit
    def f_scan(key):
        dw = jax.random.normal(key, (n, batch, 1), jnp.float32) * math.sqrt(h)

        def step(x, w):
            return x + drift(0.0, x, None) * h + x * SIGMA * w, None

        x, _ = jax.lax.scan(step, jnp.ones((batch, 1), jnp.float32), dw)
        return x[:, 0]

    fns = dict(zip(CONTENDERS, [f_vbt, f_unsafe, f_predrawn, f_scan]))

    def call(name, seed):
        return fns[name](jax.random.PRNGKey(seed)).block_until_ready()
    return call


def versions() -> dict:
    import diffrax
    import equinox
    import jax
    import jaxlib
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "diffrax": diffrax.__version__,
            "equinox": equinox.__version__, "python": platform.python_version(),
            "backend": jax.default_backend(), "cpus": len(os.sched_getaffinity(0)),
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


def compile_all(cases: str, skip: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """Build and compile every contender of ``cases`` but those named ``case|contender`` in
    ``skip``; returns (callers, compile seconds)."""
    callers, compile_s = {}, {}
    for c in cases:
        _, batch, n = CASES[c]
        call = build(batch, n)
        callers[c] = call
        for name in CONTENDERS:
            if f"{c}|{name}" in skip:
                continue
            t0 = time.perf_counter()
            out = call(name, 0)                                  # compile + first run
            compile_s[f"{c}|{name}"] = time.perf_counter() - t0
            if batch >= 10_000:
                import numpy as np
                s = np.asarray(out, dtype=np.float64)
                se = s.std() / math.sqrt(batch)
                err = abs(s.mean() - math.exp(MU))
                print(f"sanity {c} {name}: mean S_T {s.mean():.5f}, |diff| {err / se:.2f} SE",
                      file=sys.stderr)
    return callers, compile_s


def serve(cases: str, skip: tuple[str, ...]) -> None:
    callers, compile_s = compile_all(cases, skip)
    print(json.dumps({"ready": True, "versions": versions(), "compile_s": compile_s}), flush=True)
    for line in sys.stdin:
        c, name, seed = line.rstrip("\n").split("|")
        t0, c0 = time.perf_counter(), time.process_time()
        callers[c](name, int(seed))
        print(time.perf_counter() - t0, time.process_time() - c0, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default="ab")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None, help="write medians and times here")
    p.add_argument("--serve", action="store_true", help="worker mode for bench_sde_vs_jax.py")
    p.add_argument("--skip", action="append", default=[],
                   help="'case|contender' not to run, e.g. 'a|diffrax VirtualBrownianTree'")
    args = p.parse_args()
    _pin(args.threads)
    if args.serve:
        serve(args.cases, tuple(args.skip))
        return
    callers, compile_s = compile_all(args.cases, tuple(args.skip))
    result = {"versions": versions(), "compile_s": compile_s, "cases": {},
              "load_average": os.getloadavg()[0]}
    print(f"# GBM Euler in JAX — {result['versions']}, median of {args.reps}\n")
    for c in args.cases:
        title, batch, n = CASES[c]
        names = [nm for nm in CONTENDERS if f"{c}|{nm}" not in args.skip]
        times = {name: [] for name in names}
        for rep in range(args.reps):
            for name in names:
                t0 = time.perf_counter()
                callers[c](name, 1000 + rep)
                times[name].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        result["cases"][c] = {"title": title, "batch": batch, "steps": n, "median_s": med,
                              "times_s": times}
        print(f"\n### {title}\n\n| contender | median ms | compile s |\n|---|---:|---:|")
        for name in names:
            print(f"| {name} | {med[name] * 1e3:.1f} | {compile_s[f'{c}|{name}']:.1f} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
