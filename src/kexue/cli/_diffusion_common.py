"""The ``kexue diffusion`` command group's Typer ``app`` and what its commands share: the choice
tables spelled out for ``--help`` (no torch), the ``--threads`` option, the toys' parameters and
the checkpoint loader."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._checkpoints import ckpt_file

if TYPE_CHECKING:  # torch loads with a command that runs, not with `kexue diffusion --help`
    import torch


app = typer.Typer(
    help="Score-based diffusion models (kexue.fm 9209/9228): train, sample, nll, inpaint.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DATASETS = ("ring", "moons", "digits")
SDES = ("vp", "subvp", "ve")
MASKS = ("bottom", "top", "left", "right", "center")
BROWNIAN = ("increments", "tree")
# kexue.diffusion.GRIDS, spelled out for --help without torch (a test keeps them equal)
GRIDS = ("uniform", "logsnr", "karras", "cosine")
# the toys' parameters, shared by training data (kexue.data.toy) and the exact oracles of `nll`
# (kexue.diffusion.GaussianMixture.ring / .moons); as in the diffusion-toy experiment
TOY_PARAMS: dict[str, dict[str, float]] = {"ring": {"std": 0.1}, "moons": {"noise": 0.05}}


def _sampler_names() -> list[str]:
    """The ``--method`` choices: :data:`kexue.diffusion.SAMPLERS` (imported when checked)."""
    from ..diffusion import SAMPLERS

    return list(SAMPLERS)


Threads = Annotated[int, typer.Option(
    help="torch intra-op threads (1 is fastest for these small models, and on a busy machine).")]


MAX_SAMPLES = 1_000_000
"""Most samples ``kexue diffusion sample --n`` draws (as ``kexue gan sample``)."""


def _set_threads(threads: int) -> None:
    import os

    import torch

    if threads < 1:
        raise ValueError(f"--threads must be >= 1; got {threads}")
    cores = os.cpu_count() or 1
    if threads > cores:
        raise ValueError(f"--threads {threads} is more than the {cores} CPU cores here; use "
                         f"--threads {cores} or fewer")
    torch.set_num_threads(threads)


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive; got {value}")


def _load(ckpt: Path, device: torch.device) -> tuple[Any, dict[str, Any]]:
    from ..diffusion import load_score_model

    ckpt = ckpt_file(ckpt, "diffusion")
    model, meta = load_score_model(ckpt, device=device)
    if meta.get("data") not in DATASETS:
        raise ValueError(f"--ckpt {str(ckpt)!r} was not written by `kexue diffusion train`")
    return model, meta
