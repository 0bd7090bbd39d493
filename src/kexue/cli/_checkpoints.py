"""The checkpoint file names of the ``train`` commands, one rule for every group.

``kexue diffusion|gan|onlstm train --out DIR`` writes ``DIR/last.safetensors`` (rerunning the
command resumes from it), and every ``--ckpt`` takes that file or its directory. Diffusion
checkpoints were called ``model.safetensors`` before: a directory holding only that name still
loads (with a one-line note on stderr), and ``kexue diffusion train`` resumes from it.
"""

from __future__ import annotations

from pathlib import Path

from ._errors import err_console, fail

__all__ = ["CKPT_NAME", "OLD_CKPT_NAME", "ckpt_file", "note"]

CKPT_NAME = "last.safetensors"
"""The checkpoint a ``train`` command writes in its ``--out`` directory."""
OLD_CKPT_NAME = "model.safetensors"
"""The name ``kexue diffusion train`` used before :data:`CKPT_NAME`; still read."""


def note(message: str) -> None:
    """One ``note: ...`` line on stderr (not an error: the command goes on)."""
    err_console.print(f"note: {message}", markup=False)


def ckpt_file(path: Path | str, group: str, option: str = "--ckpt") -> Path:
    """The checkpoint file that ``option`` names: ``path`` itself, or in a directory its
    :data:`CKPT_NAME` (or, failing that, the old :data:`OLD_CKPT_NAME`, with a note).

    Args:
        path: the option's value, a file or a ``train --out`` directory.
        group: the command group (``"diffusion"``) for the message's fix.
        option: the option's name, for the messages.

    Raises:
        typer.Exit(2): after one ``error:`` line: the file or a checkpoint in the directory
            does not exist.
    """
    path = Path(path)
    fix = (f"train one with `kexue {group} train --out DIR` (it writes DIR/{CKPT_NAME}) and give "
           f"{option} DIR or {option} DIR/{CKPT_NAME}")
    if path.is_dir():
        new, old = path / CKPT_NAME, path / OLD_CKPT_NAME
        if new.is_file():
            return new
        if old.is_file():
            note(f"{option} {str(path)!r} has no {CKPT_NAME}; reading {str(old)!r} (the "
                 "name `kexue diffusion train` used before)")
            return old
        raise fail(f"{option} {str(path)!r}: the directory holds no {CKPT_NAME}; {fix}")
    if not path.is_file():
        raise fail(f"{option} {str(path)!r} does not exist; {fix}")
    return path
