"""A sweep of hostile-but-fair inputs against every CLI command and the public API (issue 16).

Each case says what must happen: ``refuse`` (CLI: exit status 2 — or 1 where documented — with
an ``error:``/``Error:`` line and no traceback; API: one of the documented exception types) or
``ok`` (exit 0 / no exception, optionally with a check of the answer). The outcome is classified

* ``hang`` — no answer within the time limit (the process is killed);
* ``traceback`` — a Python traceback on the CLI, an exit status other than 0/1/2/130, or an
  undocumented exception type from the API (an internal error leaking);
* ``silent`` — a hostile input accepted (exit 0 / no exception) where a refusal is due, or an
  answer that fails its check;
* ``refused-good`` — a fair input refused;
* ``pass``.

Run: ``python benchmarks/hostile_sweep.py [--jobs 2] [--json out.json] [--only SUBSTRING]``.
The CLI cases run ``python -m kexue`` in subprocesses (in a temporary directory, which also
receives three tiny checkpoints trained first); the API cases run in this process, each under
``signal.alarm``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CLI_TIMEOUT = 120.0
API_TIMEOUT = 60


@dataclass
class Case:
    name: str
    expect: str  # "refuse" | "ok"
    argv: list[str] | None = None  # CLI
    call: Callable[[], object] | None = None  # API
    errors: tuple[type, ...] = (ValueError, TypeError)
    check: Callable[[object], bool] | None = None
    codes: tuple[int, ...] = (2,)
    result: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------- CLI cases
def cli_cases(tmp: Path, ck: dict[str, Path]) -> list[Case]:
    d = tmp
    S = ["--drift", "-x", "--diffusion", "0.5"]
    small = ["--paths", "200", "--steps", "5"]
    f = str(d / "file.txt")
    Path(f).write_text("x")
    exist_dir = d / "existing"
    exist_dir.mkdir(exist_ok=True)
    R = lambda name, *a, **k: Case(name, "refuse", argv=list(a), **k)  # noqa: E731
    OK = lambda name, *a, **k: Case(name, "ok", argv=list(a), **k)  # noqa: E731
    gan, on, diff = str(ck["gan"]), str(ck["onlstm"]), str(ck.get("diffusion", d / "nodiff"))
    cases = [
        # --- sde simulate
        R("sim drift nested power", "sde", "simulate", "--drift",
          "-x + 0*(((((9^64)^64)^64)^64)^64)", "--diffusion", "1", *small, "--out", f"{d}/a.png"),
        R("sim drift evalf", "sde", "simulate", "--drift", "1 .evalf(100000000)",
          "--diffusion", "1", *small, "--out", f"{d}/a.png"),
        R("sim drift import", "sde", "simulate", "--drift", "__import__('os').system('true')",
          "--diffusion", "1", *small),
        R("sim drift unknown name", "sde", "simulate", "--drift", "y*x", "--diffusion", "1"),
        R("sim drift empty", "sde", "simulate", "--drift", "", "--diffusion", "1"),
        R("sim diffusion negative", "sde", "simulate", "--drift", "-x", "--diffusion", "-1",
          *small, "--out", f"{d}/a.png"),
        R("sim drift 1/0", "sde", "simulate", "--drift", "1/0", "--diffusion", "1"),
        R("sim drift log(x) nan", "sde", "simulate", "--drift", "log(x)", "--diffusion", "1",
          "--x0", "-1", *small, "--out", f"{d}/a.png"),
        R("sim paths 1e12", "sde", "simulate", *S, "--paths", "1000000000000"),
        R("sim paths 1e12 float text", "sde", "simulate", *S, "--paths", "1e12"),
        R("sim steps 1e10", "sde", "simulate", *S, "--steps", "10000000000"),
        R("sim paths*steps 1e13", "sde", "simulate", *S, "--paths", "100000000", "--steps",
          "100000"),
        R("sim show 1e6", "sde", "simulate", *S, "--show", "1000000"),
        R("sim paths 0", "sde", "simulate", *S, "--paths", "0"),
        R("sim steps -1", "sde", "simulate", *S, "--steps", "-1"),
        R("sim T 0", "sde", "simulate", *S, "--T", "0"),
        R("sim T nan", "sde", "simulate", *S, "--T", "nan"),
        R("sim T inf", "sde", "simulate", *S, "--T", "inf"),
        R("sim x0 nan", "sde", "simulate", *S, "--x0", "nan"),
        R("sim seed -1", "sde", "simulate", *S, "--seed", "-1"),
        R("sim method typo", "sde", "simulate", *S, "--method", "eular"),
        R("sim rtol without adaptive", "sde", "simulate", *S, "--rtol", "1e-3"),
        R("sim adaptive rtol 0", "sde", "simulate", *S, "--adaptive", "--rtol", "0"),
        R("sim adaptive increments", "sde", "simulate", *S, "--adaptive", "--brownian",
          "increments"),
        R("sim brownian typo", "sde", "simulate", *S, "--brownian", "tre"),
        R("sim device cuda:7", "sde", "simulate", *S, "--device", "cuda:7"),
        R("sim device bogus", "sde", "simulate", *S, "--device", "tpu"),
        R("sim nproc too many", "sde", "simulate", *S, *small, "--nproc", "64"),
        R("sim out empty", "sde", "simulate", *S, *small, "--out", ""),
        R("sim out file in file", "sde", "simulate", *S, *small, "--out", f"{f}/x.png"),
        R("sim out /proc", "sde", "simulate", *S, *small, "--out", "/proc/x.png"),
        R("sim out bad suffix", "sde", "simulate", *S, *small, "--out", f"{d}/x.xyz"),
        OK("sim out existing dir", "sde", "simulate", *S, *small, "--show", "3", "--out",
           str(exist_dir), check=lambda r: (exist_dir / "paths.png").is_file()
           and str(exist_dir / "paths.png") in r["stdout"]),
        OK("sim out no suffix", "sde", "simulate", *S, *small, "--show", "3", "--out",
           f"{d}/nosuffix", check=lambda r: (d / "nosuffix.png").is_file()),
        OK("sim explosive drift caught", "sde", "simulate", "--drift", "x^3", "--diffusion",
           "1", "--x0", "5", "--T", "5", *small, "--out", f"{d}/b.png", codes=(2,),
           check=None),
        OK("sim ok euler", "sde", "simulate", *S, *small, "--show", "3", "--out",
           f"{d}/ok.png"),
        OK("sim ok adaptive", "sde", "simulate", *S, *small, "--adaptive", "--show", "2",
           "--out", f"{d}/ok2.png"),
        OK("sim diffusion 0 is an ODE", "sde", "simulate", "--drift", "-x", "--diffusion", "0",
           *small, "--show", "2", "--x0", "1", "--out", f"{d}/ode.png",
           check=lambda r: "mean 0.3" in r["stdout"]),
        # --- sde density
        R("dens diffusion 0", "sde", "density", "--drift", "-x", "--diffusion", "0", "--out",
          f"{d}/d.png"),
        R("dens diffusion 0*x", "sde", "density", "--drift", "-x", "--diffusion", "0*x",
          "--out", f"{d}/d.png"),
        R("dens diffusion 1e-300", "sde", "density", "--drift", "-x", "--diffusion", "1e-300",
          "--paths", "200", "--steps", "5", "--out", f"{d}/d.png"),
        R("dens diffusion 1e-9", "sde", "density", "--drift", "-x", "--diffusion", "1e-9",
          "--paths", "200", "--steps", "5", "--out", f"{d}/d.png"),
        R("dens points 1e8", "sde", "density", *S, "--points", "100000000"),
        R("dens points 10", "sde", "density", *S, "--points", "10"),
        R("dens paths 1e12", "sde", "density", *S, "--paths", "1000000000000"),
        R("dens paths 5", "sde", "density", *S, "--paths", "5"),
        R("dens out empty", "sde", "density", *S, "--out", ""),
        R("dens out bad suffix", "sde", "density", *S, "--out", f"{d}/x.tiffy"),
        OK("dens out existing dir", "sde", "density", *S, "--paths", "2000", "--steps", "50",
           "--points", "201", "--out", str(exist_dir),
           check=lambda r: (exist_dir / "density.png").is_file()),
        OK("dens ok OU", "sde", "density", *S, "--paths", "20000", "--steps", "100",
           "--points", "401", "--out", f"{d}/dok.png",
           check=lambda r: "mass 0.99" in r["stdout"] or "mass 1.00" in r["stdout"]),
        # --- gan
        R("gan batch 1e11", "gan", "train", "--out", f"{d}/g1", "--batch-size", "100000000000",
          "--no-progress"),
        R("gan hidden 1e8", "gan", "train", "--out", f"{d}/g1", "--hidden", "100000000",
          "--no-progress"),
        R("gan depth 1e6", "gan", "train", "--out", f"{d}/g1", "--depth", "1000000",
          "--no-progress"),
        R("gan z-dim 1e9", "gan", "train", "--out", f"{d}/g1", "--z-dim", "1000000000",
          "--no-progress"),
        R("gan batch 0", "gan", "train", "--out", f"{d}/g1", "--batch-size", "0",
          "--no-progress"),
        R("gan steps 0", "gan", "train", "--out", f"{d}/g1", "--steps", "0", "--no-progress"),
        R("gan lr nan", "gan", "train", "--out", f"{d}/g1", "--lr", "nan", "--no-progress"),
        R("gan lr -1", "gan", "train", "--out", f"{d}/g1", "--lr", "-1", "--no-progress"),
        R("gan lam inf", "gan", "train", "--out", f"{d}/g1", "--lam", "inf", "--no-progress"),
        R("gan model typo", "gan", "train", "--out", f"{d}/g1", "--model", "ganqp"),
        R("gan data typo", "gan", "train", "--out", f"{d}/g1", "--data", "rng"),
        R("gan distance l3", "gan", "train", "--out", f"{d}/g1", "--distance", "l3",
          "--no-progress"),
        R("gan out is file", "gan", "train", "--out", f, "--no-progress"),
        R("gan out /proc", "gan", "train", "--out", "/proc/kexue", "--no-progress"),
        R("gan ckpt-every 0", "gan", "train", "--out", f"{d}/g1", "--ckpt-every", "0",
          "--no-progress"),
        R("gan resume other arch", "gan", "train", "--out", str(ck["gan"].parent), "--hidden",
          "32", "--steps", "25", "--no-progress"),
        R("gan sample n 1e12", "gan", "sample", "--ckpt", gan, "--n", "1000000000000"),
        R("gan sample n 0", "gan", "sample", "--ckpt", gan, "--n", "0"),
        R("gan sample missing ckpt", "gan", "sample", "--ckpt", f"{d}/none.safetensors"),
        R("gan sample ckpt is text", "gan", "sample", "--ckpt", f),
        R("gan sample ckpt is dir", "gan", "sample", "--ckpt", str(d)),
        R("gan sample png bad suffix", "gan", "sample", "--ckpt", gan, "--png", f"{d}/s.qq"),
        R("gan sample png empty", "gan", "sample", "--ckpt", gan, "--png", ""),
        OK("gan sample ok", "gan", "sample", "--ckpt", gan, "--n", "3",
           check=lambda r: len(r["stdout"].strip().splitlines()) == 3),
        OK("gan sample png dir", "gan", "sample", "--ckpt", gan, "--n", "50", "--png",
           str(exist_dir), check=lambda r: (exist_dir / "samples.png").is_file()),
        R("gan reconstruct not bigan", "gan", "reconstruct", "--ckpt", gan),
        R("gan reconstruct n 0", "gan", "reconstruct", "--ckpt", gan, "--n", "0"),
        # --- onlstm
        R("onlstm hidden 1e8", "onlstm", "train", "--grammar", "english", "--out", f"{d}/o1",
          "--hidden", "100000000", "--no-progress"),
        R("onlstm layers 1e5", "onlstm", "train", "--grammar", "english", "--out", f"{d}/o1",
          "--layers", "100000", "--no-progress"),
        R("onlstm threads 1e5", "onlstm", "train", "--grammar", "english", "--out", f"{d}/o1",
          "--threads", "100000", "--no-progress"),
        R("onlstm chunk 0", "onlstm", "train", "--grammar", "english", "--out", f"{d}/o1",
          "--chunk", "0", "--no-progress"),
        R("onlstm chunk 7", "onlstm", "train", "--grammar", "english", "--out", f"{d}/o1",
          "--chunk", "7", "--no-progress"),
        R("onlstm grammar typo", "onlstm", "train", "--grammar", "englsh", "--out", f"{d}/o1"),
        R("onlstm both grammar corpus", "onlstm", "train", "--grammar", "english", "--corpus",
          f, "--out", f"{d}/o1"),
        R("onlstm corpus missing", "onlstm", "train", "--corpus", f"{d}/none.txt", "--out",
          f"{d}/o1"),
        R("onlstm corpus empty", "onlstm", "train", "--corpus", str(_empty(d)), "--out",
          f"{d}/o1", "--no-progress"),
        R("onlstm steps -1", "onlstm", "train", "--grammar", "english", "--out", f"{d}/o1",
          "--steps", "-1"),
        R("onlstm out is file", "onlstm", "train", "--grammar", "english", "--out", f),
        R("onlstm resume other hidden", "onlstm", "train", "--grammar", "arithmetic", "--out",
          str(ck["onlstm"].parent), "--hidden", "64", "--no-progress"),
        R("onlstm parse empty", "onlstm", "parse", "", "--ckpt", on),
        R("onlstm parse unknown word", "onlstm", "parse", "zebra quux", "--ckpt", on),
        R("onlstm parse reading typo", "onlstm", "parse", "+ 1 2", "--ckpt", on, "--reading",
          "L9·forget"),
        R("onlstm parse ckpt missing", "onlstm", "parse", "+ 1 2", "--ckpt", f"{d}/no.st"),
        R("onlstm parse ckpt text", "onlstm", "parse", "+ 1 2", "--ckpt", f),
        R("onlstm parse gan ckpt", "onlstm", "parse", "+ 1 2", "--ckpt", gan),
        OK("onlstm parse ok", "onlstm", "parse", "+ 1 2", "--ckpt", on,
           check=lambda r: "1" in r["stdout"] and "2" in r["stdout"]),
        # --- integrals
        R("int digits 1e6", "integrals", "verify", "F3", "--digits", "1000000"),
        R("int digits 0", "integrals", "verify", "F3", "--digits", "0"),
        R("int show digits 1e6", "integrals", "show", "F3", "--digits", "1000000"),
        R("int unknown entry", "integrals", "show", "F99"),
        R("int verify nothing", "integrals", "verify"),
        R("int verify all and names", "integrals", "verify", "F3", "--all"),
        OK("int verify ok", "integrals", "verify", "F3", "--digits", "20",
           check=lambda r: "1 of 1 entries verified" in r["stdout"]),
        OK("int list", "integrals", "list"),
        # --- reproduce
        R("rep unknown", "reproduce", "nope", "--quick", "--out", f"{d}/r"),
        R("rep out file", "reproduce", "smooth-max", "--quick", "--out", f),
        R("rep out empty", "reproduce", "smooth-max", "--quick", "--out", ""),
        R("rep set k_max<k_min", "reproduce", "smooth-max", "--quick", "--set", "k_max=0.1",
          "--out", f"{d}/r"),
        R("rep set spread -1", "reproduce", "smooth-max", "--quick", "--set", "spread=-1",
          "--out", f"{d}/r"),
        R("rep set n_values 1", "reproduce", "smooth-max", "--quick", "--set", "n_values=1",
          "--out", f"{d}/r"),
        R("rep set nan", "reproduce", "smooth-max", "--quick", "--set", "spread=nan", "--out",
          f"{d}/r"),
        R("rep set inf", "reproduce", "smooth-max", "--quick", "--set", "k_max=inf", "--out",
          f"{d}/r"),
        R("rep set int as float", "reproduce", "smooth-max", "--quick", "--set",
          "n_trials=1.5", "--out", f"{d}/r"),
        R("rep set unknown key", "reproduce", "smooth-max", "--quick", "--set", "nope=1",
          "--out", f"{d}/r"),
        R("rep set no equals", "reproduce", "smooth-max", "--quick", "--set", "k_max",
          "--out", f"{d}/r"),
        R("rep seed -1", "reproduce", "smooth-max", "--quick", "--seed", "-1", "--out",
          f"{d}/r"),
        R("rep device cuda:9", "reproduce", "smooth-max", "--quick", "--device", "cuda:9",
          "--out", f"{d}/r"),
        R("rep jobs 0", "reproduce", "smooth-max", "--quick", "--jobs", "0", "--out", f"{d}/r"),
        R("rep jobs and nproc", "reproduce", "smooth-max", "--quick", "--jobs", "2", "--nproc",
          "2", "--out", f"{d}/r"),
        R("rep thesis-walk bad set", "reproduce", "thesis-walk-limit", "--quick", "--set",
          "seed=abc", "--out", f"{d}/r"),
        OK("rep smooth-max ok", "reproduce", "smooth-max", "--quick", "--out", f"{d}/rok",
           check=lambda r: (d / "rok" / "index.html").is_file()),
        # --- top level
        R("unknown command", "frobnicate"),
        OK("list json", "list", "--json", check=lambda r: r["stdout"].lstrip().startswith("[")),
        OK("version", "--version"),
    ]
    # --- diffusion (helper D's commands; swept, not owned)
    cases += [
        R("diff sample n 1e12", "diffusion", "sample", "--ckpt", diff, "--n", "1000000000000",
          "--out", f"{d}/ds.png"),
        R("diff sample out empty", "diffusion", "sample", "--ckpt", diff, "--out", ""),
        R("diff sample ckpt missing", "diffusion", "sample", "--ckpt", f"{d}/none",
          "--out", f"{d}/ds.png"),
        R("diff train steps -1", "diffusion", "train", "--out", f"{d}/dd", "--steps", "-1"),
        R("diff train width 1e8", "diffusion", "train", "--out", f"{d}/dd", "--width",
          "100000000", "--quiet"),
        R("diff train n-train 1e12", "diffusion", "train", "--out", f"{d}/dd", "--n-train",
          "1000000000000", "--quiet"),
        R("diff train threads 1e5", "diffusion", "train", "--out", f"{d}/dd", "--threads",
          "100000", "--quiet"),
        R("diff train batch 1e11", "diffusion", "train", "--out", f"{d}/dd", "--batch-size",
          "100000000000"),
        R("diff train out file", "diffusion", "train", "--out", f),
        R("diff sde typo", "diffusion", "train", "--out", f"{d}/dd", "--sde", "vpp"),
    ]
    return cases


def _empty(d: Path) -> Path:
    p = d / "empty.txt"
    p.write_text("")
    return p


def make_checkpoints(d: Path) -> dict[str, Path]:
    """Three tiny checkpoints to sample/parse from (seconds each)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = {}
    runs = {
        "gan": (["gan", "train", "--out", str(d / "ckgan"), "--steps", "20", "--hidden", "16",
                 "--batch-size", "64", "--no-progress"], d / "ckgan" / "last.safetensors"),
        "onlstm": (["onlstm", "train", "--grammar", "arithmetic", "--out", str(d / "ckon"),
                    "--steps", "5", "--hidden", "16", "--chunk", "4", "--layers", "1",
                    "--no-progress"], d / "ckon" / "last.safetensors"),
        "diffusion": (["diffusion", "train", "--out", str(d / "ckdiff"), "--steps", "5",
                       "--quiet"], d / "ckdiff" / "last.safetensors"),
    }
    for key, (argv, path) in runs.items():
        r = subprocess.run([sys.executable, "-m", "kexue", *argv], capture_output=True,
                           text=True, env=env, timeout=600, cwd=d)
        if path.exists():
            out[key] = path
        else:
            print(f"[setup] {key} checkpoint not made (rc {r.returncode}): "
                  f"{(r.stderr or r.stdout).strip()[-300:]}", file=sys.stderr)
            out[key] = d / f"missing-{key}"
    return out


def run_cli(case: Case, cwd: Path) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200"}
    start = time.perf_counter()
    try:
        r = subprocess.run([sys.executable, "-m", "kexue", *case.argv], capture_output=True,
                           text=True, env=env, timeout=CLI_TIMEOUT, cwd=cwd)
    except subprocess.TimeoutExpired:
        return {"outcome": "hang", "seconds": CLI_TIMEOUT, "detail": "timed out"}
    sec = time.perf_counter() - start
    res = {"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr, "seconds": round(sec, 2)}
    both = r.stdout + r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    if "Traceback" in both or r.returncode not in (0, 1, 2, 130):
        res["outcome"] = "traceback"
    elif case.expect == "refuse":
        if r.returncode == 0:
            res["outcome"] = "silent"
        elif r.returncode in case.codes + (2,) and any(
                ln.startswith(("error:", "Error:")) or "Error" in ln for ln in lines):
            res["outcome"] = "pass"
        else:
            res["outcome"] = "traceback"  # refused without a clear line
    else:
        if r.returncode != 0:
            res["outcome"] = "refused-good"
        elif case.check is not None and not case.check(res):
            res["outcome"] = "silent"
        else:
            res["outcome"] = "pass"
    res["detail"] = (lines[-1] if lines else r.stdout.strip().splitlines()[-1:] or [""])
    if isinstance(res["detail"], list):
        res["detail"] = res["detail"][0] if res["detail"] else ""
    res.pop("stdout")
    res.pop("stderr")
    return res


# ----------------------------------------------------------------------------------- API cases
def api_cases() -> list[Case]:
    import numpy as np
    import sympy
    import torch

    from kexue import forms, integrals, regularize, smooth, stochastic
    from kexue._limits import SizeLimitError
    from kexue.experiments import ConfigError, registry, resolve_config

    R = lambda name, call, errors=(ValueError, TypeError): Case(  # noqa: E731
        name, "refuse", call=call, errors=errors)
    OK = lambda name, call, check=None: Case(name, "ok", call=call, check=check)  # noqa: E731
    meta = torch.empty(4, 3, device="meta")
    ou = stochastic.SDE(lambda t, x: -x, lambda t, x: torch.full_like(x, 0.8))
    zero = stochastic.SDE(lambda t, x: -x, lambda t, x: torch.zeros_like(x))
    grid = np.linspace(-4, 4, 201)
    delta = np.zeros(201)
    delta[100] = 1 / (grid[1] - grid[0])
    C = forms.coords("x y")
    x, y = C.symbols
    spec = registry()["smooth-max"]
    g0 = torch.Generator().manual_seed(0)
    cases = [
        # smooth
        R("smooth_max empty dim", lambda: smooth.smooth_max(torch.empty(3, 0))),
        R("smooth_min empty", lambda: smooth.smooth_min(torch.empty(0))),
        R("soft_argmax empty", lambda: smooth.soft_argmax(torch.empty(2, 0))),
        R("smooth_max meta", lambda: smooth.smooth_max(meta)),
        R("smooth_max int tensor", lambda: smooth.smooth_max(torch.arange(3))),
        R("smooth_max k=0", lambda: smooth.smooth_max(torch.ones(3), k=0.0)),
        R("smooth_max k=nan", lambda: smooth.smooth_max(torch.ones(3), k=float("nan"))),
        R("smooth_max dim 7", lambda: smooth.smooth_max(torch.ones(3), dim=7)),
        R("smooth_max list", lambda: smooth.smooth_max([1.0, 2.0])),
        R("soft_accuracy empty", lambda: smooth.soft_accuracy(
            torch.empty(0, 3), torch.empty(0, dtype=torch.long))),
        R("soft_f1 labels out of range", lambda: smooth.soft_f1(
            torch.zeros(2, 3), torch.tensor([0, 5]))),
        R("soft_f1 meta targets", lambda: smooth.soft_f1(
            torch.zeros(2, 3), torch.zeros(2, dtype=torch.long, device="meta"))),
        OK("smooth_max bound", lambda: float(smooth.smooth_max(
            torch.tensor([0.0, 1.0], dtype=torch.float64), k=2.0)),
           check=lambda v: 1.0 <= v <= 1.0 + math.log(2) / 2),
        # regularize
        R("gp ignores input", lambda: regularize.input_gradient_penalty(
            lambda z: torch.ones(z.shape[0], requires_grad=True), torch.randn(4, 3))),
        R("gp detached", lambda: regularize.input_gradient_penalty(
            lambda z: z.detach().sum(1), torch.randn(4, 3))),
        R("gp meta", lambda: regularize.input_gradient_penalty(lambda z: z.sum(1), meta)),
        R("gp int input", lambda: regularize.input_gradient_penalty(
            lambda z: z.sum(1), torch.ones(4, 3, dtype=torch.long))),
        R("gp empty batch", lambda: regularize.input_gradient_penalty(
            lambda z: z.sum(1), torch.empty(0, 3))),
        R("gp 1-D input", lambda: regularize.input_gradient_penalty(lambda z: z, torch.ones(3))),
        R("gp bad reduction", lambda: regularize.input_gradient_penalty(
            lambda z: z.sum(1), torch.ones(2, 3), reduction="max")),
        OK("gp exact", lambda: float(regularize.input_gradient_penalty(
            lambda z: 2.0 * z.sum(1), torch.ones(2, 3, dtype=torch.float64))),
           check=lambda v: abs(v - 12.0) < 1e-12),
        # stochastic PDEs
        R("fp zero diffusion", lambda: stochastic.fokker_planck(zero, grid, delta, [0, 1])),
        R("fp collapsed grid", lambda: stochastic.fokker_planck(
            ou, np.linspace(-7e-6, 7e-6, 201), delta, [0, 1]), errors=(SizeLimitError,)),
        R("fp dt 1e-12", lambda: stochastic.fokker_planck(ou, grid, delta, [0, 1], dt=1e-12),
          errors=(SizeLimitError,)),
        R("fp n_steps 1e12", lambda: stochastic.fokker_planck(
            ou, grid, delta, [0, 1], n_steps=10**12), errors=(SizeLimitError,)),
        R("fp p0 nan", lambda: stochastic.fokker_planck(ou, grid, delta * np.nan, [0, 1])),
        R("fp grid not uniform", lambda: stochastic.fokker_planck(
            ou, grid ** 3, delta, [0, 1])),
        R("fp ts decreasing", lambda: stochastic.fokker_planck(ou, grid, delta, [1, 0])),
        R("fp bc typo", lambda: stochastic.fokker_planck(ou, grid, delta, [0, 1], bc="wall")),
        R("kb n_steps 1e12", lambda: stochastic.kolmogorov_backward(
            ou, grid, np.ones(201), [0, 1], n_steps=10**12), errors=(SizeLimitError,)),
        R("fp negative density warns", lambda: _negative_density(stochastic, np),
          errors=(stochastic.NegativeDensityWarning,)),
        OK("fp OU mass", lambda: float(stochastic.fokker_planck(
            ou, grid, delta, [0, 1], bc="reflecting", rannacher=4)[-1].sum()
            * (grid[1] - grid[0])), check=lambda v: abs(v - 1) < 1e-3),
        R("pi2d dense too big", lambda: stochastic.path_integral_2d(
            lambda t, X: -X, np.linspace(-3, 3, 150), np.linspace(-3, 3, 150),
            np.ones((150, 150)), 1.0, alpha=1.0, n_slices=1)),
        R("fp2d steps 1e12", lambda: stochastic.fokker_planck_2d(
            lambda t, X: -X, np.linspace(-3, 3, 31), np.linspace(-3, 3, 31),
            np.ones((31, 31)), 1.0, alpha=1.0, n_steps=10**12), errors=(SizeLimitError,)),
        R("fp2d alpha 0", lambda: stochastic.fokker_planck_2d(
            lambda t, X: -X, np.linspace(-3, 3, 31), np.linspace(-3, 3, 31),
            np.ones((31, 31)), 1.0, alpha=0.0, n_steps=10)),
        # integrals
        R("verify digits 1e6", lambda: integrals.verify("F3", digits=10**6)),
        R("verify digits 0", lambda: integrals.verify("F3", digits=0)),
        R("verify bad symbol", lambda: integrals.verify("F3", points=[{"zz": 1}])),
        R("verify missing symbol", lambda: integrals.verify("F3", points=[{}])),
        R("verify nan value", lambda: integrals.verify("F3", points=[{"a": float("nan")}])),
        R("verify complex value", lambda: integrals.verify("F3", points=[{"a": sympy.I}])),
        R("verify unknown entry", lambda: integrals.verify("F99"), errors=(KeyError,)),
        R("evaluate digits 5000", lambda: integrals.CATALOGUE["F3"].integral.evaluate(
            1, digits=5000)),
        R("ParametricIntegral string code", lambda: integrals.ParametricIntegral(
            "__import__('os').system('true')", x, y, 0, 1)),
        OK("verify F3 ok", lambda: integrals.verify("F3", digits=20).ok, check=bool),
        # forms
        R("form zoo", lambda: forms.Form({(0,): sympy.zoo}, C)),
        R("form nan", lambda: forms.Form({(0,): sympy.nan}, C)),
        R("form oo", lambda: forms.Form({(0,): sympy.oo * x}, C)),
        R("form float nan", lambda: forms.Form({(0,): float("nan")}, C)),
        R("form / 0", lambda: forms.Form({(0,): x}, C) / 0),
        R("form string", lambda: forms.Form({(0,): "__import__('os').getcwd()"}, C)),
        R("form work strings", lambda: C.work(["x", "y"])),
        R("form index out of range", lambda: forms.Form({(5,): x}, C)),
        R("form mixed degrees", lambda: forms.Form({(0,): x, (0, 1): y}, C)),
        OK("form d exact", lambda: forms.d(forms.Form({(1,): x}, C))
           == forms.Form({(0, 1): 1}, C), check=bool),
        # configs
        R("config k_max<k_min", lambda: resolve_config(
            spec, quick=True, overrides={"k_max": "0.1"}), errors=(ConfigError,)),
        R("config nan", lambda: resolve_config(
            spec, quick=True, overrides={"spread": "nan"}), errors=(ConfigError,)),
        R("config int as 1.5", lambda: resolve_config(
            spec, quick=True, overrides={"n_trials": "1.5"}), errors=(ConfigError,)),
        R("config n_values=1", lambda: resolve_config(
            spec, quick=True, overrides={"n_values": "1"}), errors=(ConfigError,)),
        R("config seed -1", lambda: resolve_config(spec, quick=True, seed=-1),
          errors=(ConfigError,)),
        # solve (helper F owns NaN mid-run; swept)
        R("solve drift nan mid-run", lambda: stochastic.solve(
            stochastic.SDE(lambda t, z: torch.where(t > 0.5, z * float("nan"), -z),
                           lambda t, z: torch.ones_like(z)),
            torch.zeros(8, 1), [0.0, 1.0], dt=0.01, generator=g0),
          errors=(ValueError, TypeError, getattr(stochastic, "SolveDiverged", ValueError))),
        R("solve meta x0", lambda: stochastic.solve(ou, torch.zeros(8, 1, device="meta"),
                                                    [0.0, 1.0], dt=0.1, generator=0)),
    ]
    return cases


def _negative_density(stochastic, np):
    import warnings

    import torch

    sde = stochastic.SDE(lambda t, z: torch.full_like(z, 40.0),
                         lambda t, z: torch.full_like(z, 0.05))
    xg = np.linspace(-2.0, 10.0, 121)
    p0 = np.zeros(121)
    p0[20] = 1 / (xg[1] - xg[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", stochastic.NegativeDensityWarning)
        return stochastic.fokker_planck(sde, xg, p0, [0.0, 0.1], rannacher=0)


class _Alarm(Exception):
    pass


def run_api(case: Case) -> dict:
    def on_alarm(signum, frame):
        raise _Alarm()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(API_TIMEOUT)
    start = time.perf_counter()
    res: dict = {}
    try:
        value = case.call()
    except _Alarm:
        res = {"outcome": "hang", "detail": "timed out"}
    except case.errors as exc:
        msg = str(exc)
        ok = case.expect == "refuse" and "\n" not in msg.strip()
        res = {"outcome": "pass" if ok else ("refused-good" if case.expect == "ok"
                                             else "traceback"),
               "detail": f"{type(exc).__name__}: {msg[:160]}"}
    except Exception as exc:  # noqa: BLE001 - the sweep classifies every escape
        res = {"outcome": "traceback", "detail": f"{type(exc).__name__}: {str(exc)[:160]}"}
    else:
        if case.expect == "refuse":
            res = {"outcome": "silent", "detail": f"returned {str(value)[:80]!r}"}
        elif case.check is not None and not case.check(value):
            res = {"outcome": "silent", "detail": f"check failed on {str(value)[:80]!r}"}
        else:
            res = {"outcome": "pass", "detail": str(value)[:80]}
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    res["seconds"] = round(time.perf_counter() - start, 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--only", default="")
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--no-api", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kexue-sweep-"))
    results: list[Case] = []
    if not args.no_api:
        for case in api_cases():
            if args.only in case.name:
                case.result = run_api(case)
                results.append(case)
                print(f"{case.result['outcome']:>12}  api  {case.name}: "
                      f"{case.result['detail'][:110]}", flush=True)
    if not args.no_cli:
        ck = make_checkpoints(tmp)
        cases = [c for c in cli_cases(tmp, ck) if args.only in c.name]

        def one(case: Case) -> Case:
            case.result = run_cli(case, tmp)
            print(f"{case.result['outcome']:>12}  cli  {case.name}: "
                  f"{str(case.result.get('detail', ''))[:110]}", flush=True)
            return case

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results += list(pool.map(one, cases))
    counts = Counter(c.result["outcome"] for c in results)
    print(f"\n{len(results)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if args.json:
        args.json.write_text(json.dumps(
            [{"name": c.name, "kind": "cli" if c.argv is not None else "api",
              "argv": c.argv, "expect": c.expect, **c.result} for c in results], indent=1))


if __name__ == "__main__":
    main()
