"""Output paths checked before any work: one line and exit status 2 instead of a traceback after
the work (issue 16).

:func:`output_dir` is called by ``kexue reproduce --out`` and ``kexue gan|diffusion|onlstm train
--out`` before any work; :func:`output_file` is for commands that write one figure. Neither
creates anything (a refused command leaves no trace): they find the nearest existing directory
and prove it writable by creating and removing a probe file there. A figure's ``--out`` that
names an existing directory writes the command's default file name inside it, and the command
prints the path it wrote.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._errors import fail
from ._launch import command_args

__all__ = ["output_dir", "output_file", "FIGURE_SUFFIXES", "LOG_SUFFIXES", "LOG_NAME", "log_file",
           "SAMPLE_SUFFIXES", "samples_file", "save_samples"]


def _given_empty(option: str) -> bool:
    """Whether the command line gave ``option`` an empty value (``--out ""`` or ``--out=``);
    typer turns ``""`` into ``Path(".")``, so the raw arguments are consulted."""
    args = command_args()
    for i, arg in enumerate(args):
        if arg == f"{option}=" or (arg == option and i + 1 < len(args) and args[i + 1] == ""):
            return True
    return False


def _probe(directory: Path, option: str, shown: Path, *, created: bool = False) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".kexue-write-test.", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        what = "cannot create the directory" if created else "the directory is not writable"
        raise fail(f"{option} {str(shown)!r}: {what} ({str(directory)!r}: "
                   f"{exc.strerror or type(exc).__name__}); choose another {option}") from None


def _existing_ancestor(path: Path, option: str, shown: Path) -> Path:
    """The nearest existing ancestor of ``path`` (``path`` itself if it exists); refused when
    it is not a directory, since then nothing can be created below it."""
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise fail(f"{option} {str(shown)!r}: cannot create the directory ({str(probe)!r} is a "
                   f"file); choose another {option}")
    return probe


def output_dir(path: Path | str, option: str = "--out") -> Path:
    """Check an output directory before any work, without creating anything: it is a
    directory or can be created (its nearest existing ancestor is a directory), and that
    directory is writable (a probe file is created and removed there). The command creates the
    directory when it writes.

    Raises:
        typer.Exit(2): after printing one line ``error: ...``: an empty value, an existing file
            (not a directory), a directory that cannot be created, or one that is not writable.
    """
    if str(path) == "" or _given_empty(option):
        raise fail(f"{option} is empty; give a directory, e.g. {option} report")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise fail(f"{option} {str(path)!r} is an existing file, not a directory; give a "
                   "directory (it is created if missing)")
    base = _existing_ancestor(path, option, path)
    _probe(base, option, path, created=base != path.absolute())
    return path


FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
"""File types the figure-writing commands accept (what matplotlib writes without extras)."""


def output_file(path: Path | str, option: str = "--out", *, default_name: str | None = None,
                suffixes: tuple[str, ...] | None = None) -> Path:
    """Check an output file's path before any work, without creating anything: not empty,
    its directory existing or creatable, and writable; return the path the command writes.

    Args:
        path: the option's value.
        option: its name, for the messages.
        default_name: when given and ``path`` is an existing directory, the file is
            ``path / default_name`` (returned); without it a directory is refused.
        suffixes: accepted file types (e.g. :data:`FIGURE_SUFFIXES`); a name without a suffix
            gets the first one appended (so the printed path is the one written), any other
            suffix is refused.

    Raises:
        typer.Exit(2): after printing one line ``error: ...``.
    """
    if str(path) == "" or _given_empty(option):
        example = default_name or "figure.png"
        raise fail(f"{option} is empty; give a file name, e.g. {option} {example}")
    path = Path(path)
    if path.is_dir():
        if default_name is None:
            raise fail(f"{option} {str(path)!r} is a directory; give a file name, e.g. "
                       f"{option} {str(path / 'figure.png')!r}")
        path = path / default_name
        if path.is_dir():
            raise fail(f"{option}: {str(path)!r} is a directory; give a file name")
    if suffixes is not None:
        suffix = path.suffix.lower()
        if suffix == "":
            path = path.with_name(path.name + suffixes[0])
        elif suffix not in suffixes:
            raise fail(f"{option} {str(path)!r}: unknown file type {path.suffix!r}; use one of "
                       f"{', '.join(suffixes)}")
    base = _existing_ancestor(path.parent, option, path)
    _probe(base, option, path, created=base != path.parent.absolute())
    return path


LOG_SUFFIXES = (".csv", ".jsonl")
"""Loss-log formats of the ``train`` commands (``--log``)."""
LOG_NAME = "loss.csv"
"""The loss log a ``train`` command writes in ``--out`` when ``--log`` is not given."""


def log_file(log: Path | str | None, out: Path) -> Path:
    """The loss log of a ``train`` command, checked before any work: ``--log`` (``.csv`` or
    ``.jsonl``; a name without a suffix gets ``.csv``), or ``OUT/loss.csv`` when not given.

    Raises:
        typer.Exit(2): as :func:`output_file`.
    """
    if log is None:
        return out / LOG_NAME
    return output_file(log, "--log", default_name=LOG_NAME, suffixes=LOG_SUFFIXES)


SAMPLE_SUFFIXES = (".safetensors", ".npy")
"""File types of ``--save`` (the samples of ``sample``/``simulate``): safetensors (the tensors
with JSON metadata, read back with :func:`kexue.checkpoint.load`) or NumPy's ``.npy`` (the
``samples`` array alone)."""


def samples_file(path: Path | str | None) -> Path | None:
    """``--save`` checked before any work (``None``: not given): a ``.safetensors`` or ``.npy``
    file (a name without a suffix gets ``.safetensors``) in a writable directory.

    Raises:
        typer.Exit(2): as :func:`output_file`.
    """
    if path is None:
        return None
    return output_file(path, "--save", suffixes=SAMPLE_SUFFIXES)


def save_samples(path: Path, tensors: dict, meta: dict) -> Path:
    """Write the samples of a command to ``path`` (from :func:`samples_file`).

    ``.safetensors``: every tensor of ``tensors`` (``"samples"`` first, the others alongside)
    and ``meta`` (JSON: the command line, seed, steps, method, ...) through
    :func:`kexue.checkpoint.save` (atomic, with checksums; NaN/inf values are kept);
    ``.npy``: ``tensors["samples"]`` alone, as a NumPy array of its dtype.

    Raises:
        typer.Exit(2): the file cannot be written (one ``error:`` line).
    """
    import numpy as np

    from .. import checkpoint

    meta = {"command": "kexue " + " ".join(command_args()), **meta}
    try:
        if path.suffix.lower() == ".npy":
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as fh:  # np.save(path) would add a second .npy
                np.save(fh, tensors["samples"].detach().cpu().numpy())
        else:
            checkpoint.save(path, tensors, meta, allow_nonfinite=tuple(tensors))
    except (OSError, ValueError, TypeError) as exc:
        raise fail(f"cannot write --save {str(path)!r}: {exc}") from None
    return path
