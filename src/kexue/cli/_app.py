"""The ``kexue`` command: list experiments, reproduce them into an HTML report, use the library.

Thin by design: parse arguments, look up the experiment registry, run, hand to the report.
Bad input prints one line (``error: ...``) and exits with status 2; a failed experiment does not
stop the others and makes ``reproduce`` exit 1.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from .. import __version__
from ._errors import err_console
from ._launch import set_command_args
from ._reproduce import reproduce

# The command groups, mounted lazily: ``kexue --help`` lists them from this table, and a group's
# module (with torch, sympy, ... behind it) is imported only when a command line names it.
# name -> (module, its app's help); a test checks the help against each module's ``app``.
GROUPS: dict[str, tuple[str, str]] = {
    "sde": ("kexue.cli._sde",
            "Simulate 1-D SDEs dx = f(t,x) dt + g(t,x) dW given as expressions in x and t."),
    "diffusion": ("kexue.cli._diffusion",
                  "Score-based diffusion models (kexue.fm 9209/9228): train, sample, nll, "
                  "inpaint."),
    "onlstm": ("kexue.cli._onlstm",
               "Ordered-neuron LSTM (kexue.fm 6621): train a language model on a seeded grammar, "
               "read trees out of it."),
    "integrals": ("kexue.cli._integrals",
                  "Feynman's integration trick: derive and verify the catalogue of classical "
                  "integrals."),
    "gan": ("kexue.cli._gan",
            "GAN-QP and BiGAN-QP (kexue.fm 6163, 6214): adversarial training without a Lipschitz "
            "constraint; train, sample, reconstruct."),
}


class LazyGroup(typer.core.TyperGroup):
    """The root command: a Typer group whose :data:`GROUPS` are imported on first use.

    ``get_command`` imports a group's module when the command line (or a test) asks for it;
    listing the commands (``--help``, shell completion of the first word, "did you mean" for a
    mistyped group) shows a stand-in built from :data:`GROUPS` instead, so nothing is imported.
    """

    _peek = False

    def list_commands(self, ctx: Any) -> list[str]:
        # the groups after the root's own commands, in GROUPS order, loaded or not
        return [*(n for n in super().list_commands(ctx) if n not in GROUPS), *GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in GROUPS:
            return cmd
        module, help_text = GROUPS[cmd_name]
        if self._peek:  # a stand-in with the group's name and help
            return typer.core.TyperCommand(name=cmd_name, help=help_text)
        cmd = typer.main.get_group(importlib.import_module(module).app)
        cmd.name = cmd_name
        self.add_command(cmd, cmd_name)
        return cmd

    def _peeking(self, method: str, *args: Any) -> Any:
        self._peek = True
        try:
            return getattr(super(), method)(*args)
        finally:
            self._peek = False

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        self._peeking("format_commands", ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        return self._peeking("shell_complete", ctx, incomplete)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and not ctx.resilient_parsing:
            names = self.list_commands(ctx)
            if args[0] not in names:
                close = difflib.get_close_matches(args[0], names)
                hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
                ctx.fail(f"No such command {args[0]!r}.{hint} Commands: {', '.join(names)}.")
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="kexue",
    cls=LazyGroup,
    help="Su Jianlin's Scientific Spaces (kexue.fm) articles as runnable, tested code.",
    add_completion=True,
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
def list_experiments(
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print a JSON array instead of the table: one object per experiment with "
        "name, title, article, url, claim, quick_runtime_s (expected quick runtime in seconds on "
        "2 CPU cores) and section.")] = False,
) -> None:
    """List every experiment: name, article, one-line claim, expected quick runtime."""
    from ..experiments import listing  # the experiments' fields, without importing them

    rows = listing()
    if as_json:
        import json

        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table(title="kexue experiments", show_lines=False)
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("article")
    table.add_column("claim")
    table.add_column("quick", justify="right", no_wrap=True)
    for row in rows:
        table.add_row(row["name"], row["article"], row["claim"],
                      f"~{row['quick_runtime_s']:.0f} s")
    console.print(table)


app.command()(reproduce)  # `kexue reproduce` (its own module), listed after `kexue list`


def main() -> None:
    """Console-script entry point (also ``python -m kexue``, and what torchrun runs)."""
    set_command_args(sys.argv[1:])
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("error: interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
