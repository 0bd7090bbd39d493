"""The ``kexue`` command: list experiments, reproduce them into an HTML report, use the library.

Thin by design: parse arguments, look up the experiment registry, run, hand to the report.
Bad input prints one line (``error: ...``) and exits with status 2; a failed experiment does not
stop the others and makes ``reproduce`` exit 1.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from ._cli_errors import err_console, fail

app = typer.Typer(
    name="kexue",
    help="Su Jianlin's Scientific Spaces (kexue.fm) articles as runnable, tested code.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"kexue {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """kexue: reproduce kexue.fm articles (``kexue list``, ``kexue reproduce``)."""


@app.command("list")
def list_experiments() -> None:
    """List every experiment: name, article, one-line claim, expected quick runtime."""
    from .experiments import registry

    table = Table(title="kexue experiments", show_lines=False)
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("article")
    table.add_column("claim")
    table.add_column("quick", justify="right", no_wrap=True)
    for spec in registry().values():
        table.add_row(spec.name, spec.article, spec.claim, f"~{spec.quick_runtime_s:.0f} s")
    console.print(table)


def _parse_sets(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"--set expects key=value; got {item!r} (example: --set n_trials=100)")
        out[key.strip()] = value.strip()
    return out


@app.command()
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
) -> None:
    """Run experiments and write OUT/index.html, OUT/results.json and the figures."""
    from .experiments import ConfigError, registry, resolve_config, run_experiment
    from .report import write_report

    specs = registry()
    chosen = list(names or specs)
    unknown = [n for n in chosen if n not in specs]
    if unknown:
        raise fail(f"unknown experiment {unknown[0]!r}; valid names: {', '.join(specs)}")
    overrides = _parse_sets(sets or [])

    # Resolve every config before running anything, so a typo fails fast.
    configs = {}
    for key in overrides:
        if len(chosen) > 1 and not any(_has_field(specs[n].config, key) for n in chosen):
            valid = sorted({f for n in chosen for f in _field_names(specs[n].config)})
            raise fail(f"unknown config key {key!r}; valid keys: {', '.join(valid)}")
    for name in chosen:
        spec = specs[name]
        own = overrides if len(chosen) == 1 else {
            k: v for k, v in overrides.items() if _has_field(spec.config, k)}
        try:
            configs[name] = resolve_config(spec, quick=quick, overrides=own, seed=seed)
        except ConfigError as exc:
            raise fail(str(exc)) from None

    results = []
    t0 = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        task = progress.add_task("reproducing", total=len(chosen))
        for name in chosen:
            progress.update(task, description=f"{name}")
            result = run_experiment(specs[name], configs[name], quick=quick)
            results.append(result)
            mark = "[green]pass[/]" if result.passed else (
                "[red]FAILED[/]" if result.status == "failed" else "[yellow]claim missed[/]")
            progress.console.print(f"  {name}: {mark} ({result.runtime_s:.1f} s)"
                                   + (f" — {result.error}" if result.error else ""))
            progress.advance(task)
    total = time.perf_counter() - t0
    meta = {
        "command": "kexue " + " ".join(sys.argv[1:]),
        "quick": quick,
        "seed": seed,
        "total_runtime_s": round(total, 2),
        "machine": f"{platform.node()} · {platform.machine()} · Python {platform.python_version()}",
    }
    index = write_report(results, out, meta=meta)
    n_failed = sum(r.status == "failed" for r in results)
    n_missed = sum(r.status == "ok" and not r.passed for r in results)
    console.print(f"wrote {index} — {len(results) - n_failed - n_missed} passed, "
                  f"{n_missed} with a missed claim, {n_failed} failed, {total:.1f} s")
    if n_failed:
        raise typer.Exit(1)


def _field_names(config_cls: type) -> list[str]:
    import dataclasses

    return [f.name for f in dataclasses.fields(config_cls)]


def _has_field(config_cls: type, key: str) -> bool:
    return key in _field_names(config_cls)


def _mount_subcommands() -> None:
    """Attach the per-subpackage command groups (``kexue gan ...``)."""
    from .cli_diffusion import app as diffusion_app
    from .cli_gan import app as gan_app
    from .cli_integrals import app as integrals_app
    from .cli_onlstm import app as onlstm_app
    from .cli_sde import app as sde_app

    app.add_typer(sde_app, name="sde")
    app.add_typer(diffusion_app, name="diffusion")
    app.add_typer(onlstm_app, name="onlstm")
    app.add_typer(integrals_app, name="integrals")
    app.add_typer(gan_app, name="gan")


_mount_subcommands()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("error: interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
