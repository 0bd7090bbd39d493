"""``kexue integrals``: the catalogue of classical integrals derived by Feynman's trick.

Source: Feynman's integration trick series (kexue.fm archive 1619; part 7, 2013-03-27)::

    kexue integrals list                 # F1–F24 with their closed forms and source article
    kexue integrals show F3              # derivation steps, each replayed, and the 30-digit check
    kexue integrals show F23             # part 7: G'' = G, Euler's regularised ∫cos = 0, the kink
    kexue integrals verify --all         # every entry: digits agreed and re-derivation
    kexue integrals verify F4 gaussian --digits 40

Bad input (an unknown name, no names, a bad ``--digits``) prints one line ``error: ...`` to
stderr and exits with status 2; a failed check exits with status 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ._errors import fail

if TYPE_CHECKING:  # sympy and mpmath load with the catalogue, not with `kexue integrals --help`
    import mpmath

__all__ = ["app"]

app = typer.Typer(
    help="Feynman's integration trick: derive and verify the catalogue of classical integrals.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(highlight=False)



def _entry(name: str):
    from ..integrals import CATALOGUE

    if name not in CATALOGUE:
        raise fail(f"unknown integral {name!r}; valid names: {', '.join(CATALOGUE.names())}")
    return CATALOGUE[name]


def _check_digits(digits: int) -> None:
    from ..integrals import MAX_DIGITS

    if not 1 <= digits <= MAX_DIGITS:
        raise fail(f"--digits must be between 1 and {MAX_DIGITS}; got {digits}")


def _short_part(part: str) -> str:
    """``"part 7 (2013-03-27), per issue 14"`` → ``"part 7"``; unknown → ``"not confirmed"``."""
    if part.startswith("part "):
        return " ".join(part.split()[:2])
    return "not confirmed"


def _num(v: mpmath.mpf, digits: int) -> str:
    import mpmath

    return mpmath.nstr(v, digits, min_fixed=-5, max_fixed=5)


def _sstr(expr: Any) -> str:
    """``sympy.sstr(expr)``: a closed form in one line."""
    import sympy

    return sympy.sstr(expr)


@app.command("list")
def list_entries() -> None:
    """List the catalogue: id, name, integral and closed form."""
    from ..integrals import CATALOGUE

    table = Table(title="Feynman-trick catalogue", show_lines=False)
    for col in ("id", "name", "integral", "closed form", "conditions", "article"):
        table.add_column(col)
    for e in CATALOGUE:
        table.add_row(e.id, e.slug, e.title, _sstr(e.closed_form), e.conditions,
                      _short_part(e.part))
    console.print(table)


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Entry id or name, e.g. F3 or dirichlet.")],
    digits: Annotated[int, typer.Option("--digits", help="Digits the numeric check needs.")]
    = 30,
) -> None:
    """Show one integral: the family, the recorded derivation (each step replayed) and the
    check of the closed form against mpmath."""
    from ..integrals import verify

    _check_digits(digits)
    e = _entry(name)
    console.print(f"{e.id} ({e.slug}): {e.title}", markup=False)
    at = ", ".join(f"{k} = {v}" for k, v in e.at.items())
    console.print(f"  family     G = {e.integral!r}" + (f"  at {at}" if at else ""), markup=False)
    console.print(f"  closed     {_sstr(e.closed_form)}   ({e.conditions})", markup=False)
    console.print(f"  source     {e.part}", markup=False)
    if e.notes:
        console.print(f"  note       {e.notes}", markup=False)
    console.print("derivation:", markup=False)
    rep = e.replay()
    lines = e.derivation.render()
    n0 = len(e.derivation.initial)
    for line in lines[:n0]:
        console.print(f"  {line}", markup=False)
    for line, check in zip(lines[n0:], rep.checks):
        mark = "ok" if check.ok else "FAILED"
        console.print(f"  {line}", markup=False)
        console.print(f"       replayed: {mark} ({check.how})", markup=False)
    ok_d, how_d = e.rederived()
    console.print(f"re-derived closed form: {'yes' if ok_d else 'NO'} ({how_d})", markup=False)
    v = verify(e, digits=digits)
    console.print(f"check against mpmath ({digits} digits):", markup=False)
    for c in v.checks:
        pt = ", ".join(f"{k} = {val}" for k, val in c.point.items()) or "—"
        console.print(f"  [{pt}] {c.integral}: closed {_num(c.exact, digits)}  numeric "
                      f"{_num(c.numeric, digits)}  digits {c.digits:.1f}  "
                      f"{'ok' if c.ok else 'FAILED'}", markup=False)
    if not (ok_d and v.ok):
        raise typer.Exit(1)


@app.command("verify")
def verify_cmd(
    names: Annotated[list[str] | None, typer.Argument(
        help="Entries to verify (ids or names); or use --all.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Verify every entry.")] = False,
    digits: Annotated[int, typer.Option("--digits", help="Significant digits required.")] = 30,
    derivations: Annotated[bool, typer.Option(
        "--derivations/--no-derivations", help="Also replay each derivation.")] = True,
) -> None:
    """Compare closed forms with mpmath to --digits digits (and replay the derivations); exit 1
    if any entry fails."""
    from ..integrals import CATALOGUE, verify

    _check_digits(digits)
    if all_ and names:
        raise fail("give entry names or --all, not both")
    if not all_ and not names:
        raise fail(f"give entry names or --all; valid names: {', '.join(CATALOGUE.names())}")
    entries = list(CATALOGUE) if all_ else [_entry(n) for n in names]
    table = Table(title=f"closed form vs mpmath, {digits} digits")
    for col in ("id", "integral", "closed form", "numeric (first point)", "digits",
                "re-derived", "status"):
        table.add_column(col)
    failed = 0
    with console.status("verifying…") as status:
        for e in entries:
            status.update(f"verifying {e.id}…")
            v = verify(e, digits=digits)
            ok_d, _ = e.rederived() if derivations else (True, "")
            ok = v.ok and ok_d
            failed += not ok
            table.add_row(e.id, e.title, _sstr(e.closed_form),
                          _num(v.checks[0].numeric, 20), f"{v.min_digits:.1f}",
                          ("yes" if ok_d else "NO") if derivations else "—",
                          "ok" if ok else "FAILED")
    console.print(table)
    console.print(f"{len(entries) - failed} of {len(entries)} entries verified", markup=False)
    if failed:
        raise typer.Exit(1)
