"""``kexue ... --nproc N``: relaunch a command on N processes through ``torch.distributed.run``.

The CLI's side of scale-out (the maths side is :mod:`kexue.parallel`). A command that takes
``--nproc N`` checks its arguments, then

* outside a torchrun job and with ``N > 1``: :func:`relaunch` runs exactly
  ``torchrun --standalone --nproc-per-node N --local-addr 127.0.0.1 -m kexue <the same arguments
  without --nproc>`` through :func:`torch.distributed.run.main` (a c10d rendezvous on a free
  localhost port) and exits with its status — the status of the first process that failed, whose
  own error it printed;
* inside a job (``torchrun ... -m kexue ...``, or the processes :func:`relaunch` started): enters
  :func:`job`, which joins the process group (:func:`kexue.parallel.init_from_env`; gloo for CPU
  tensors and NCCL for CUDA tensors when the device is a GPU). Only rank 0 prints and writes
  files (:func:`kexue.parallel.is_main`).

Single machine, sandboxes: gloo binds to the address of the host name, which may not be
reachable; :func:`relaunch` sets ``GLOO_SOCKET_IFNAME`` to the loopback interface (unless it is
set) and gives torchrun ``--local-addr 127.0.0.1`` so the workers' ``MASTER_ADDR`` is the
loopback address rather than the host's fully qualified name (pytorch#73656, #150532).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._errors import fail

if TYPE_CHECKING:
    import torch

# torch (and kexue.parallel, kexue.devices, which import it) is imported inside the functions
# that need it, so that `kexue --help` and the option declarations below do not load it.
# kexue.devices.DEVICE_CHOICES, spelled out here for the same reason (a test keeps them equal).
_DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps"

__all__ = ["in_job", "check_nproc", "strip_option", "torchrun_args", "relaunch", "job",
           "set_command_args", "command_args", "DeviceOption",
           "NprocOption", "LogOption", "ProgressOption", "QuietOption", "cli_device", "cli_nproc",
           "launch_if_asked", "fail_all", "is_main"]

_COMMAND_ARGS: list[str] | None = None


def set_command_args(args: Sequence[str]) -> None:
    """Record the command line of this ``kexue`` invocation (without the program name)."""
    global _COMMAND_ARGS
    _COMMAND_ARGS = [str(a) for a in args]


def command_args() -> list[str]:
    """The arguments this ``kexue`` command was called with (``sys.argv[1:]`` unless
    :func:`set_command_args` recorded them)."""
    return list(_COMMAND_ARGS) if _COMMAND_ARGS is not None else sys.argv[1:]


def is_main() -> bool:
    """:func:`kexue.parallel.is_main` (rank 0, or no job), importing torch only when called."""
    from .. import parallel

    return parallel.is_main()


def in_job() -> bool:
    """True inside a torchrun job (or any launcher that sets ``WORLD_SIZE``)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or "WORLD_SIZE" in os.environ


def check_nproc(nproc: object, name: str = "--nproc") -> int:
    """``nproc`` as a positive int.

    Raises:
        ValueError: zero, negative or not an int.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"{name} must be a positive number of processes (1 runs here, N > 1 "
                         f"launches N through torch.distributed.run); got {nproc!r}")
    return nproc


def strip_option(args: Sequence[str], option: str) -> list[str]:
    """``args`` without ``option VALUE`` / ``option=VALUE`` (before a ``--`` separator)."""
    out: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--":
            out.append(a)
            out.extend(it)
            break
        if a == option:
            next(it, None)
            continue
        if a.startswith(option + "="):
            continue
        out.append(a)
    return out


def _loopback() -> str | None:
    """The loopback interface's name (``lo`` on Linux, ``lo0`` on macOS), if there is one."""
    try:
        names = {name for _, name in socket.if_nameindex()}
    except (AttributeError, OSError):
        return None
    return next((n for n in ("lo", "lo0") if n in names), None)


def torchrun_args(nproc: int, args: Sequence[str], *,
                  entry: Sequence[str] = ("-m", "kexue")) -> list[str]:
    """The torchrun command line (without ``torchrun``) that :func:`relaunch` runs."""
    check_nproc(nproc)
    return ["--standalone", "--nproc-per-node", str(nproc), "--max-restarts", "0",
            "--local-addr", "127.0.0.1", *entry, *strip_option(args, "--nproc")]


def relaunch(nproc: int, args: Sequence[str] | None = None, *,
             entry: Sequence[str] = ("-m", "kexue")) -> int:
    """Run ``python -m kexue ARGS`` on ``nproc`` processes of this machine through
    :func:`torch.distributed.run.main` (exactly ``torchrun``); return the exit status.

    Args:
        nproc: number of processes (>= 1).
        args: the kexue arguments (default: this command's, :func:`command_args`); ``--nproc``
            is removed from them.
        entry: what torchrun runs: ``("-m", "kexue")`` or a script path (tests).

    Returns:
        0 when every process succeeded; otherwise the exit status of the first process that
        failed (1 when it was killed by a signal), as torchrun reports it. Its error message
        was printed by that process itself on stderr.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun_main

    argv = torchrun_args(nproc, command_args() if args is None else args, entry=entry)
    lo = _loopback()
    if lo is not None:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", lo)
    # torchrun would set 1 thread per process with a warning; share the cores out instead
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    try:
        torchrun_main(argv)
    except ChildFailedError as exc:
        _, failure = exc.get_first_failure()
        return failure.exitcode if failure.exitcode > 0 else 1
    except SignalException as exc:  # SIGINT/SIGTERM to the launcher: the workers are stopped
        return 128 + int(exc.sigval)
    return 0


@contextlib.contextmanager
def job(device: torch.device) -> Iterator[bool]:
    """Join the torchrun job described by the environment, if any, for the body; yields whether
    a process group with several processes is in use.

    On a CUDA ``device`` the group has NCCL for CUDA tensors and gloo for CPU tensors; gloo alone
    otherwise. Ranks other than 0 run the body with standard output sent to ``os.devnull`` (they
    compute, rank 0 reports; errors still reach stderr). The group is destroyed on a normal exit;
    after an exception, the code that stops the rank calls :func:`kexue.parallel.leave` when it
    is safe.

    Raises:
        typer.Exit: an incomplete torchrun environment (one ``error:`` line, status 2).
    """
    from .. import parallel

    already = parallel.is_distributed()
    try:  # NCCL for CUDA tensors beside gloo for CPU ones on a CUDA device (init_from_env)
        started = not already and parallel.init_from_env(device=device)
    except ValueError as exc:
        raise fail(str(exc)) from None
    with contextlib.ExitStack() as stack:
        if not parallel.is_main():
            sink = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(sink))
        yield parallel.is_distributed()
    if started:
        parallel.leave()


# ---------------------------------------------------------------------------------------------
# the options as the commands declare them

DeviceOption = Annotated[str, typer.Option(
    "--device", help=f"Where to compute: {_DEVICE_CHOICES} (auto: a GPU when there is one; under "
    "torchrun, cuda means the process's own GPU).")]
NprocOption = Annotated[int, typer.Option(
    "--nproc", help="Processes on this machine; N > 1 relaunches the command through "
    "torch.distributed.run (under torchrun, torchrun decides).")]
LogOption = Annotated[Path | None, typer.Option(
    "--log", help="Loss log: one row per training step, .csv or .jsonl (default: OUT/loss.csv; "
    "a resumed run appends, rows past the resumed step are dropped).", show_default=False)]
ProgressOption = Annotated[bool, typer.Option(
    "--progress/--no-progress", help="Show a progress bar (on standard output, rank 0 only).")]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", hidden=True, help="Old spelling of --no-progress.")]


def cli_device(device: str) -> torch.device:
    """``--device`` resolved for this process, or one ``error:`` line and status 2."""
    from ..devices import resolve_device

    try:
        return resolve_device(device)
    except (ValueError, TypeError) as exc:
        raise fail(str(exc)) from None


def cli_nproc(nproc: int) -> int:
    """``--nproc`` checked, or one ``error:`` line and status 2."""
    try:
        return check_nproc(nproc)
    except ValueError as exc:
        raise fail(str(exc)) from None


def launch_if_asked(nproc: int) -> None:
    """Call after a command checked its arguments: with ``nproc > 1`` outside a torchrun job,
    run this command on ``nproc`` processes and exit with their status (``typer.Exit``)."""
    if cli_nproc(nproc) > 1 and not in_job():
        if _COMMAND_ARGS is None:  # called as a function, not as `kexue ...`: no command line
            raise fail(f"--nproc {nproc} relaunches the command line, so it needs `kexue ...` or "
                       "`python -m kexue ...` (kexue.cli.main); here there is none")
        raise typer.Exit(relaunch(nproc))


def fail_all(message: str, code: int = 2) -> typer.Exit:
    """For an error that every rank of a job meets alike (same data): rank 0 prints the one
    ``error:`` line, every rank waits for it and then exits with ``code``. Outside a job this is
    :func:`kexue.cli._errors.fail`."""
    from .. import parallel

    if parallel.is_main():
        fail(message, code)
    parallel.barrier()
    parallel.leave()
    return typer.Exit(code)
