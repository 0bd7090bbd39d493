"""``kexue reproduce``: resolve the chosen experiments' configs (fail fast on a typo), run them —
one after the other, side by side in worker processes (``--jobs``) or shared over a process
group (``--nproc``) — write the HTML report, and with ``--store`` keep each full-preset result
as the stored full run later reports show."""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ._errors import did_you_mean, err_console, fail
from ._launch import (
    NprocOption,
    ProgressOption,
    cli_device,
    cli_nproc,
    command_args,
    job,
    launch_if_asked,
)

console = Console()


def _parse_sets(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"--set expects key=value; got {item!r} (example: --set n_trials=100)")
        out[key.strip()] = value.strip()
    return out


def reproduce(
    names: Annotated[list[str] | None, typer.Argument(
        help="Experiments to run (default: all; see `kexue list`).", show_default=False)] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Quick presets (about a minute each).")]
    = False,
    out: Annotated[Path, typer.Option("--out", help="Output directory for the report.")]
    = Path("report"),
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for every experiment.")] = None,
    sets: Annotated[list[str] | None, typer.Option(
        "--set", help="Config override key=value (repeatable); with several experiments it "
        "applies to those that have the key, and must exist in at least one.",
        show_default=False)] = None,
    device: Annotated[str | None, typer.Option(
        "--device", help="auto | cpu | cuda | cuda:N for every experiment that has a device "
        "(same as --set device=...; default: each experiment's own, auto).",
        show_default=False)] = None,
    nproc: NprocOption = 1,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", help="Run up to N experiments at once, each in its own process with "
        "(CPU cores / N) torch threads (default 1: one after the other). Small experiments "
        "leave a core idle, so on a 2-core machine --jobs 2 cuts the wall time of --quick.",
        min=1)] = 1,
    progress: ProgressOption = True,
    store: Annotated[bool, typer.Option(
        "--store", help="After the run, write each successful experiment's result as its "
        "stored full run, DIR/<name>.json (date, commit, machine, command), which later reports "
        "show as the last full run. DIR: --store-dir, else $KEXUE_FULL_RUNS, else "
        "benchmarks/results/full of the source checkout kexue runs from. Full presets only: "
        "refused with --quick.")] = False,
    store_dir: Annotated[Path | None, typer.Option(
        "--store-dir", help="Where --store writes (implies --store; created if missing).",
        show_default=False)] = None,
) -> None:
    """Run experiments and write OUT/index.html, OUT/results.json and the figures.

    With --nproc N (or under torchrun) every process runs every experiment, Monte Carlo work is
    shared out in seeded blocks, and rank 0 alone prints and writes the report. In such a job an
    experiment that raises on any process stops the whole job with exit status 1 and that
    process's error (the others may be waiting for it inside a collective); when it was rank 0,
    the report of the experiments run so far is written first.
    """
    from ..experiments import ConfigError, listing, registry, resolve_config

    store_to = _store_dir(store or store_dir is not None, store_dir, quick)
    known = [row["name"] for row in listing()]  # names without importing torch
    unknown = [n for n in (names or []) if n not in known]
    if unknown:
        raise fail(f"unknown experiment {unknown[0]!r}{did_you_mean(unknown[0], known)}; "
                   f"valid names: {', '.join(known)}")
    specs = registry()
    chosen = list(names or specs)
    overrides = _parse_sets(sets or [])
    cli_nproc(nproc)
    if jobs > 1 and nproc > 1:
        raise fail(f"--jobs {jobs} and --nproc {nproc} cannot be combined: --nproc shares each "
                   "experiment's work between processes, --jobs runs several experiments side "
                   "by side; give one of them")
    dev = None
    if device is not None:
        dev = cli_device(device)
        if "device" in overrides and overrides["device"] != device:
            raise fail(f"--device {device} and --set device={overrides['device']} disagree; "
                       "give one of them")
        overrides.pop("device", None)
    elif "device" in overrides:
        cli_device(overrides["device"])  # a device that does not exist: one line, status 2

    # Resolve every config before running anything, so a typo fails fast.
    configs = {}
    for key in overrides:
        if len(chosen) > 1 and not any(_has_field(specs[n].config, key) for n in chosen):
            valid = sorted({f for n in chosen for f in _field_names(specs[n].config)})
            raise fail(f"unknown config key {key!r}{did_you_mean(key, valid)}; valid keys: "
                       f"{', '.join(valid)}")
    for name in chosen:
        spec = specs[name]
        own = overrides if len(chosen) == 1 else {
            k: v for k, v in overrides.items() if _has_field(spec.config, k)}
        if dev is not None and _has_field(spec.config, "device"):
            own = {**own, "device": str(dev)}  # what --set device=... does, for those with one
        try:
            configs[name] = resolve_config(spec, quick=quick, overrides=own, seed=seed)
        except ConfigError as exc:
            raise fail(str(exc)) from None
    from ._outputs import output_dir  # a bad --out is refused before any work (issue 16)
    output_dir(out)
    launch_if_asked(nproc)

    with job(dev if dev is not None else cli_device("auto")):
        _reproduce(specs, chosen, configs, quick=quick, out=out, seed=seed, jobs=jobs,
                   progress=progress, store=store_to)


def _store_dir(store: bool, store_dir: Path | None, quick: bool) -> Path | None:
    """Where ``reproduce --store`` writes (``None``: not storing), checked before any work:
    ``--store-dir``, else ``$KEXUE_FULL_RUNS``, else the source checkout's
    ``benchmarks/results/full``."""
    if not store:
        return None
    if quick:
        raise fail("--store keeps full-preset runs only (the report shows a stored run as the "
                   "last full run); drop --quick or --store")
    import os

    from ..report import FULL_RUNS_ENV, full_runs_dir

    if store_dir is None and os.environ.get(FULL_RUNS_ENV):
        store_dir = Path(os.environ[FULL_RUNS_ENV])
    if store_dir is None:
        store_dir = full_runs_dir()
    if store_dir is None:
        raise fail(f"--store: no stored-runs directory here (not a source checkout with "
                   f"benchmarks/results/full, ${FULL_RUNS_ENV} unset); give --store-dir DIR")
    from ._outputs import output_dir

    output_dir(store_dir, "--store-dir")  # not writable: refused before any work
    return store_dir


def _store_results(results: list, directory: Path, *, seconds: float) -> None:
    """Write each successful result of a full-preset run as a stored full run in
    ``directory`` (:func:`kexue.report.store_full_run`); say what was stored and what not."""
    import os

    import torch

    from ..report import store_full_run

    machine = (f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores), PyTorch "
               f"{torch.__version__}")
    command = "kexue " + " ".join(command_args())
    for result in results:
        if result.status != "ok":
            err_console.print(f"note: {result.name} failed; not stored", markup=False)
            continue
        path = store_full_run(result, directory, command=command,
                              machine=f"{machine}, device {result.device}",
                              training_runtime=f"{result.runtime_s:.0f} s wall "
                                               f"({seconds:.0f} s for the whole command)",
                              note="stored by `kexue reproduce --store`")
        console.print(f"stored {path}")


def _reproduce(specs: dict, chosen: list[str], configs: dict, *, quick: bool, out: Path,
               seed: int | None, jobs: int = 1, progress: bool = True,
               store: Path | None = None) -> None:
    """Run the resolved configs (every rank) and write the report (rank 0); ``progress``: the
    live bar (the one line per experiment is printed either way); ``store``: also write each
    successful result there as a stored full run (rank 0)."""
    from ..experiments import run_experiment
    from ..parallel import is_distributed, is_main, leave, world
    from ..report import write_report

    rank, size = world()
    results = []
    t0 = time.perf_counter()
    if jobs > 1 and size > 1:
        raise fail("--jobs cannot be used inside a torchrun job; run without it")

    def report() -> Path:
        meta = {
            "command": "kexue " + " ".join(command_args()),
            "quick": quick,
            "seed": seed,
            "total_runtime_s": round(time.perf_counter() - t0, 2),
            "machine": f"{platform.node()} · {platform.machine()} · "
                       f"Python {platform.python_version()}",
        }
        if size > 1:
            meta["processes"] = size
        if jobs > 1:
            meta["jobs"] = jobs
        if store is not None:
            return write_report(results, out, meta=meta, full_runs=store)
        return write_report(results, out, meta=meta)

    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console, transient=False,
                  disable=not (progress and is_main())) as bar:
        task = bar.add_task("reproducing", total=len(chosen))

        def done(name: str, result) -> None:
            mark = "[green]pass[/]" if result.passed else (
                "[red]FAILED[/]" if result.status == "failed" else "[yellow]claim missed[/]")
            bar.console.print(f"  {name}: {mark} ({result.runtime_s:.1f} s)"
                                   + (f" — {result.error}" if result.error else ""))
            bar.advance(task)

        if jobs > 1 and len(chosen) > 1:
            bar.update(task, description=f"{min(jobs, len(chosen))} at a time")
            results = _run_side_by_side(specs, chosen, configs, quick=quick, jobs=jobs,
                                        on_done=done)
            chosen = []
        for name in chosen:
            bar.update(task, description=f"{name}")
            result = run_experiment(specs[name], configs[name], quick=quick)
            results.append(result)
            done(name, result)
            if result.status == "failed" and is_distributed():
                # the other ranks may be inside a collective this rank never reaches: stop the
                # job (torchrun stops every process), with this rank's error on stderr
                err_console.print(result.notes.rstrip(), markup=False, highlight=False)
                err_console.print(f"error: rank {rank} of {size}: experiment {name} failed: "
                                  f"{result.error}", markup=False, highlight=False)
                if is_main():
                    report()
                leave()
                raise typer.Exit(1)
    if not is_main():
        return
    if store is not None:  # before the report, so that it shows them as the last full runs
        _store_results(results, store, seconds=time.perf_counter() - t0)
    index = report()
    total = time.perf_counter() - t0
    n_failed = sum(r.status == "failed" for r in results)
    n_missed = sum(r.status == "ok" and not r.passed for r in results)
    console.print(f"wrote {index} — {len(results) - n_failed - n_missed} passed, "
                  f"{n_missed} with a missed claim, {n_failed} failed, {total:.1f} s")
    if n_failed:
        raise typer.Exit(1)


def _run_one_job(name: str, config, quick: bool, threads: int):
    """Worker of :func:`_run_side_by_side` (a fresh process): run one experiment."""
    import torch

    from ..experiments import get, run_experiment

    torch.set_num_threads(threads)
    return run_experiment(get(name), config, quick=quick)


def _run_side_by_side(specs: dict, chosen: list[str], configs: dict, *, quick: bool, jobs: int,
                      on_done) -> list:
    """Run ``chosen`` in ``jobs`` worker processes (spawned: no state shared with this one),
    longest expected first so the last to finish is a short one; results in ``chosen`` order.
    Each worker gets ``max(1, cores // jobs)`` torch threads. Figures come back pickled."""
    import concurrent.futures as cf
    import multiprocessing as mp
    import os

    workers = min(jobs, len(chosen))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, (cores or 1) // workers)
    order = sorted(chosen, key=lambda n: -specs[n].quick_runtime_s)
    by_name = {}
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_run_one_job, n, configs[n], quick, threads): n for n in order}
        try:
            for fut in cf.as_completed(futures):
                name = futures[fut]
                try:
                    by_name[name] = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker that died, or a bad pickle
                    by_name[name] = _failed_result(specs[name], configs[name], quick, exc)
                on_done(name, by_name[name])
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [by_name[n] for n in chosen]


def _failed_result(spec, config, quick: bool, exc: BaseException):
    """A ``Result`` for an experiment whose worker process failed outside ``run_experiment``."""
    from ..experiments import Result

    return Result(status="failed", error=f"{type(exc).__name__}: {exc}", name=spec.name,
                  title=spec.title, article=spec.article, article_url=spec.article_url,
                  references=list(spec.references), config=dict(vars(config)),
                  seed=getattr(config, "seed", None), quick=quick)


def _field_names(config_cls: type) -> list[str]:
    import dataclasses

    return [f.name for f in dataclasses.fields(config_cls)]


def _has_field(config_cls: type, key: str) -> bool:
    return key in _field_names(config_cls)
