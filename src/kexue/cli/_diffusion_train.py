"""``kexue diffusion train``: the training data, the size checks made before any work, and the
resumable training command (:func:`kexue.diffusion.train`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._checkpoints import CKPT_NAME, OLD_CKPT_NAME, note
from ._diffusion_common import DATASETS, SDES, TOY_PARAMS, Threads, _set_threads
from ._errors import choice_option, fail
from ._launch import (
    DeviceOption,
    LogOption,
    NprocOption,
    ProgressOption,
    QuietOption,
    cli_device,
    is_main,
    job,
    launch_if_asked,
)
from ._outputs import log_file, output_dir

if TYPE_CHECKING:  # torch loads with a command that runs, not with `kexue diffusion --help`
    import torch


def _check_train_sizes(data: str, width: int, batch_size: int, n_train: int, device) -> None:
    """The memory of the network (parameters, gradients, two Adam moments and the EMA copy:
    20 bytes a float32 weight), of one batch's activations and of the toy training set, against
    the memory here, before any work (``kexue.limits``).

    Weights: the toy MLP has ``4 h² + O(h)`` (3 residual layers, time embedding); ``UNet8``
    about ``400 ch²``. Activations, forward and backward (×3): the MLP ``batch × h × 12``
    floats, the U-Net ``batch × ch × 64 pixels × 24``.

    Raises:
        SizeLimitError: one line naming the options, the estimate and the fix.
    """
    from ..limits import check_memory

    if data == "digits":
        ch = float(width or 32)
        weights, acts = 400.0 * ch * ch, 3.0 * (batch_size or 128) * ch * 64 * 24
        what = f"--width {width or 32} (U-Net channels)"
    else:
        h = float(width or 128)
        weights, acts = 4.0 * h * h + 64.0 * h, 3.0 * (batch_size or 256) * h * 12
        what = f"--width {width or 128} (MLP width)"
        check_memory(f"--n-train {n_train}: the toy training set", 8.0 * 2 * n_train,
                     device=device, fix="use a smaller --n-train")
    check_memory(f"{what}: the weights, gradients, Adam moments and EMA copy", 20.0 * weights,
                 device=device, fix="use a smaller --width")
    check_memory(f"--batch-size {batch_size or 'default'} × {what}: the activations",
                 4.0 * acts, device=device, fix="use a smaller --batch-size or --width")


def _train_data(name: str, n: int, seed: int) -> torch.Tensor:
    import torch

    if name == "digits":
        from ..data import digits

        return digits().x_train
    from ..data import toy

    return toy(name, n, torch.Generator().manual_seed(seed), **TOY_PARAMS[name])


def train(
    data: Annotated[str, typer.Option(help=f"Training data: {', '.join(DATASETS)}.",
                                      **choice_option("--data", DATASETS))] = "ring",
    sde: Annotated[str, typer.Option(help=f"Forward SDE: {', '.join(SDES)}.",
                                     **choice_option("--sde", SDES))] = "vp",
    steps: Annotated[int, typer.Option(help="Total training steps (resume/extend).")] = 4000,
    out: Annotated[Path, typer.Option(help="Output directory (last.safetensors, loss.csv).")]
    = Path("runs/diffusion"),
    batch_size: Annotated[int, typer.Option(
        help="Mini-batch size (0: automatic, 128 for digits, 256 for the toys).")] = 0,
    lr: Annotated[float, typer.Option(
        help="Adam learning rate (0: automatic, 1e-3 for digits, 2e-3 for the toys).")] = 0.0,
    ema: Annotated[float, typer.Option(help="EMA decay of the weights.")] = 0.999,
    width: Annotated[int, typer.Option(help="MLP width (toys) or U-Net channels (digits) "
                                       "(0: automatic, 128 for the toys, 32 for digits).")]
    = 0,
    ckpt_every: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 500,
    n_train: Annotated[int, typer.Option(help="Toy training points.")] = 20000,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 0,
    progress: ProgressOption = True,
    quiet: QuietOption = False,
    threads: Threads = 1,
    device: DeviceOption = "auto",
    nproc: NprocOption = 1,
    log: LogOption = None,
) -> None:
    """Train a score model by denoising score matching; rerun to resume."""
    import torch

    from ..diffusion import MLPScoreNet, ScoreModel, UNet8, dequantise, make_sde, to_levels
    from ..diffusion import train as train_model

    dev = cli_device(device)
    try:
        _set_threads(threads)
        if data not in DATASETS:
            raise ValueError(f"--data must be one of {', '.join(DATASETS)}; got {data!r}")
        if sde not in SDES:
            raise ValueError(f"--sde must be one of {', '.join(SDES)}; got {sde!r}")
        for name, v in (("--steps", steps), ("--ckpt-every", ckpt_every), ("--n-train", n_train)):
            if v < 1:
                raise ValueError(f"{name} must be >= 1; got {v}")
        for name, v in (("--batch-size", batch_size), ("--lr", lr), ("--width", width)):
            if v < 0:
                raise ValueError(f"{name} must be positive (0 = the default); got {v}")
        if not 0 <= ema < 1:
            raise ValueError(f"--ema must lie in [0, 1); got {ema}")
        _check_train_sizes(data, width, batch_size, n_train, dev)
        x = _train_data(data, n_train, seed)
        # VE: σ_max about the largest distance in the data (score_sde's README rule of thumb)
        sde_obj = make_sde(sde, **({"sigma_max": 12.0 if data == "digits" else 5.0}
                                   if sde == "ve" else {}))
        if data == "digits":
            net = UNet8(ch=width or 32, seed=seed)
            model = ScoreModel(net, sde_obj)
            bs, rate = batch_size or 128, lr or 1e-3

            def augment(x0: torch.Tensor, g: torch.Generator) -> torch.Tensor:
                # dequantisation noise drawn where the generator lives, used where x0 is
                u = torch.rand(x0.shape, generator=g, device=g.device).to(x0.device)
                return dequantise(to_levels(x0), u)
        else:
            net = MLPScoreNet(2, hidden=width or 128, seed=seed)
            model = ScoreModel(net, sde_obj, sigma_data=float(x.std()))
            bs, rate, augment = batch_size or 256, lr or 2e-3, None
    except ValueError as exc:
        raise fail(str(exc)) from None
    output_dir(out)  # a bad --out is refused before any work (issue 16)
    log = log_file(log, out)
    launch_if_asked(nproc)
    path = out / CKPT_NAME
    old = out / OLD_CKPT_NAME
    with job(dev):
        if not path.exists() and old.is_file() and is_main():
            import shutil

            note(f"resuming from {str(old)!r} (the old checkpoint name); the run continues in "
                 f"{str(path)!r}")
            shutil.copy2(old, path)
        from .. import parallel

        parallel.barrier()  # the other ranks read the copy (a no-op in one process)
        try:
            res = train_model(model, sde_obj, x, steps=steps, batch_size=bs, lr=rate,
                              ema_decay=ema, warmup=100, seed=seed,
                              checkpoint=path, ckpt_every=ckpt_every,
                              progress=progress and not quiet and is_main(), augment=augment,
                              meta={"data": data, "n_train": n_train},
                              description=f"{data} · {sde}", device=dev,
                              log=log)
        except KeyboardInterrupt as exc:
            typer.echo(f"{exc or 'interrupted'}", err=True)
            raise typer.Exit(130) from None
        except (ValueError, FloatingPointError) as exc:
            raise fail(str(exc)) from None
        main = is_main()  # read inside the job: the group is gone after it
    if not main:
        return
    tail = res.losses[-min(200, len(res.losses)):].mean() if len(res.losses) else float("nan")
    typer.echo(f"trained {data} / {sde}: step {res.step} (resumed from {res.start_step}), "
               f"final loss {float(tail):.4g}, {res.seconds:.1f} s; checkpoint: {path}; "
               f"loss log: {log}")
