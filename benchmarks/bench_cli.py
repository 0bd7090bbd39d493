"""B-CLI: start-up time of the ``kexue`` command (issue 15's goal: ``kexue --help`` ≤ 0.5 s).

Each contender is a fresh ``python`` process, timed from ``subprocess.run`` to its exit (wall)
and by the CPU time it used (user + system, from ``RUSAGE_CHILDREN``). Repetitions alternate the
contenders, so machine noise (other jobs on a shared machine) hits all of them alike; the table
reports medians and the minimum wall time over ``--reps`` runs. The contenders:

* ``python -c pass``: the interpreter alone (the floor of any command);
* ``python -c "import torch"``: the floor of any command that needs torch;
* ``kexue --help``, ``kexue list``, ``kexue diffusion --help``, ``kexue sde --help``: the lazy
  CLI (``kexue.cli.main``, as the console script runs it);
* ``kexue --help at REV`` (with ``--before REV``): the ``kexue --help`` of an earlier commit,
  its ``src`` extracted by ``git archive REV src`` into a temporary directory put first on
  ``PYTHONPATH`` (read-only for the repository), in the same run and the same environment: the
  before-number of a change (11d9dd2, the commit before the CLI was made lazy, imported every
  command group with torch and sympy behind it).

Rerun::

    .venv/bin/python benchmarks/bench_cli.py --before 11d9dd2  # about a minute on 2 busy cores
    .venv/bin/python benchmarks/bench_cli.py --reps 15

Not collected by pytest (that ``--help`` imports no heavy module is a test:
``tests/test_cli_lazy.py``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_MAIN = "import sys; from kexue.cli import main; sys.argv = ['kexue', *sys.argv[1:]]; main()"

CONTENDERS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import torch'": ["-c", "import torch"],
    "kexue --help": ["-c", _MAIN, "--help"],
    "kexue list": ["-c", _MAIN, "list"],
    "kexue diffusion --help": ["-c", _MAIN, "diffusion", "--help"],
    "kexue sde --help": ["-c", _MAIN, "sde", "--help"],
}
_ENV: dict[str, dict[str, str]] = {}  # extra environment of a contender


def _once(name: str) -> tuple[float, float]:
    """(wall s, CPU s) of one run of the contender ``name``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *CONTENDERS[name]], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "120", **_ENV.get(name, {})})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} exited {proc.returncode}: {proc.stderr[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="runs of each contender (median)")
    parser.add_argument("--only", nargs="*", default=None, help="contender names to run")
    parser.add_argument("--before", default=None, metavar="REV",
                        help="also time `kexue --help` of this git revision (e.g. 11d9dd2)")
    opts = parser.parse_args()
    if opts.reps < 1:
        parser.error(f"--reps must be >= 1; got {opts.reps}")
    with tempfile.TemporaryDirectory() as tmp:
        if opts.before is not None:
            _add_revision(opts.before, Path(tmp))
        _run(opts)


def _add_revision(rev: str, tmp: Path) -> None:
    """Extract ``src`` of ``rev`` into ``tmp`` and add its ``kexue --help`` as a contender."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", rev, "src"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"error: --before {rev}: git archive failed: "
                         f"{archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
    name = f"kexue --help at {rev}"
    CONTENDERS[name] = ["-c", _MAIN, "--help"]
    _ENV[name] = {"PYTHONPATH": os.pathsep.join(
        [str(tmp / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}


def _run(opts: argparse.Namespace) -> None:
    names = opts.only or list(CONTENDERS)
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        raise SystemExit(f"error: unknown contender {unknown[0]!r}; valid: "
                         f"{', '.join(CONTENDERS)}")
    for name in names:  # warm the file cache and the bytecode caches
        _once(name)
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(opts.reps):
        for name in names:
            w, c = _once(name)
            walls[name].append(w)
            cpus[name].append(c)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# kexue CLI start-up, {opts.reps} runs each (alternating), "
          f"{platform.node()} · {platform.machine()} · Python {platform.python_version()} · "
          f"{os.cpu_count()} CPUs · load {load:.2f}")
    print(f"{'contender':<28} {'median wall s':>14} {'min wall s':>11} {'median CPU s':>13}")
    for name in names:
        print(f"{name:<28} {statistics.median(walls[name]):>14.3f} {min(walls[name]):>11.3f} "
              f"{statistics.median(cpus[name]):>13.3f}")
    if "kexue --help" in walls:
        goal = statistics.median(walls["kexue --help"])
        print(f"kexue --help: median {goal:.3f} s wall against the 0.5 s goal: "
              f"{'met' if goal <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
