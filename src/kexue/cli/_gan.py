"""``kexue gan``: train GAN-QP / BiGAN-QP (or a baseline), sample, reconstruct.

``kexue gan train --model gan-qp --data grid --steps N --out DIR`` trains (resuming from
``DIR/last.safetensors`` when it exists; the loss log is ``DIR/loss.csv`` or ``--log PATH``) and
prints the sample metrics; ``kexue gan sample --ckpt PATH`` (the file or its directory) prints
generated samples as CSV (saves a figure with ``--png``, the samples with ``--save
samples.safetensors|.npy``); ``kexue gan reconstruct
--ckpt PATH`` (BiGAN-QP) reconstructs held-out digits ``G(E(x))`` and prints their MSE. Every
command takes ``--device auto|cpu|cuda|cuda:N``; ``train --nproc N`` trains on N processes (the
gradients averaged across them; rank 0 writes the checkpoint and prints). Bad input
prints one line ``error: ...`` to stderr and exits with status 2; a diverged run (NaN) exits
with status 1 and keeps its last good checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ._checkpoints import CKPT_NAME, ckpt_file
from ._errors import choice_option, fail
from ._launch import (
    DeviceOption,
    LogOption,
    NprocOption,
    ProgressOption,
    cli_device,
    is_main,
    job,
    launch_if_asked,
)
from ._outputs import (
    FIGURE_SUFFIXES,
    log_file,
    output_dir,
    output_file,
    samples_file,
    save_samples,
)

app = typer.Typer(
    name="gan",
    help="GAN-QP and BiGAN-QP (kexue.fm 6163, 6214): adversarial training without a Lipschitz "
         "constraint; train, sample, reconstruct.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()


MAX_SAMPLES = 1_000_000
"""Most samples ``kexue gan sample --n`` prints."""


def _check_train_sizes(batch_size: int, hidden: int | None, depth: int, z_dim: int | None,
                       ckpt_every: int, device) -> None:
    """Positive sizes, and the memory of the three MLPs (parameters, gradients and two Adam
    moments: 16 bytes a weight) and of one batch's activations (with the gradient penalty's
    double backward, about 8 copies per layer) against the memory here, before any work.

    Raises:
        typer.Exit(2): one line naming the option, the estimate and the fix.
    """
    from ..limits import SizeLimitError, check_memory

    for key, v in (("--batch-size", batch_size), ("--hidden", hidden), ("--depth", depth),
                   ("--z-dim", z_dim), ("--ckpt-every", ckpt_every)):
        if v is not None and v < 1:
            raise fail(f"{key} must be >= 1; got {v}")
    h = 256 if hidden is None else hidden
    z = 64 if z_dim is None else z_dim
    width = max(h, z, 64)  # digits are 64-dimensional
    weights = 3.0 * (depth * float(h) * h + 2.0 * width * h)
    try:
        zs = "" if z_dim is None else f" --z-dim {z_dim}"
        check_memory(f"--hidden {h} --depth {depth}{zs}: the weights and optimizer state",
                     16.0 * weights, device=device,
                     fix=f"use a smaller --hidden{' or --z-dim' if z_dim else ''} or --depth")
        check_memory(f"--batch-size {batch_size} × --hidden {h} × --depth {depth}: the "
                     "activations", 4.0 * 8 * 3 * batch_size * float(width) * (depth + 2),
                     device=device, fix="use a smaller --batch-size or --hidden")
    except SizeLimitError as exc:
        raise fail(str(exc)) from None


def _load(ckpt: Path, device):
    """The networks of ``ckpt`` (a file, or a ``train --out`` directory) on ``device``, and the
    checkpoint's metadata."""
    from ..gan import load_gan

    ckpt = ckpt_file(ckpt, "gan")
    try:
        res, meta = load_gan(ckpt)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise fail(str(exc)) from None
    for net in (res.generator, res.critic, res.encoder):
        if net is not None:
            net.to(device)
    return res, meta


def _save_png(fig, png: Path) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    console.print(f"saved {png}")


def _gan_names(table: str):
    """A function giving ``kexue.gan.<table>`` (``MODELS``, ``DATASETS``: a tuple;
    ``DATASET_ALIASES``: a dict), imported when a value is checked, not for ``--help``."""

    def names():
        from .. import gan

        value = getattr(gan, table)
        return dict(value) if isinstance(value, dict) else tuple(value)

    return names


@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", help="Directory for last.safetensors.",
                                      show_default=False)],
    model: Annotated[str, typer.Option("--model", help="gan-qp | bigan-qp | wgan-gp | sgan",
                                       **choice_option("--model", _gan_names("MODELS"),
                                                       noun="model"))] = "gan-qp",
    data: Annotated[str, typer.Option("--data", help="grid | ring | digits (the old names "
                                      "grid25, ring8 still work, deprecated)",
                                      **choice_option("--data", _gan_names("DATASETS"),
                                                      noun="data",
                                                      aliases=_gan_names("DATASET_ALIASES")))
                    ] = "grid",
    steps: Annotated[int, typer.Option("--steps", help="Total generator steps.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the weights and batches.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 256,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate (β1 0.5).")] = 2e-4,
    hidden: Annotated[int | None, typer.Option("--hidden", help="MLP width (default 128 for "
                                               "2-D data, 256 for digits).")] = None,
    depth: Annotated[int, typer.Option("--depth", help="Hidden layers per network.")] = 3,
    z_dim: Annotated[int | None, typer.Option("--z-dim", help="Latent size.")] = None,
    lam: Annotated[float, typer.Option("--lam", help="GAN-QP's λ.")] = 10.0,
    distance: Annotated[str, typer.Option("--distance", help="GAN-QP's distance: l1 | l2",
                                          **choice_option("--distance",
                                                          _gan_names("DISTANCES")))] = "l1",
    ckpt_every: Annotated[int, typer.Option("--ckpt-every")] = 500,
    progress: ProgressOption = True,
    device: DeviceOption = "auto",
    nproc: NprocOption = 1,
    log: LogOption = None,
) -> None:
    """Train MODEL on DATA, resumably (OUT/last.safetensors; loss log OUT/loss.csv); print the
    final sample metrics."""
    from ..data import grid_centers, ring_centers
    from ..gan import (
        DATASET_ALIASES,
        DATASETS,
        MODELS,
        TOY_STD,
        TrainingDiverged,
        mode_coverage,
        train_gan,
    )

    if model not in MODELS:
        raise fail(f"unknown model {model!r}; valid: {', '.join(MODELS)}")
    data = DATASET_ALIASES.get(data, data)  # noted when parsed (called directly: here)
    if data not in DATASETS:
        raise fail(f"unknown data {data!r}; valid: {', '.join(DATASETS)}")
    if steps < 1:
        raise fail(f"--steps must be >= 1; got {steps}")
    dev = cli_device(device)
    _check_train_sizes(batch_size, hidden, depth, z_dim, ckpt_every, dev)
    output_dir(out)  # a bad --out is refused before any work (issue 16)
    log = log_file(log, out)
    launch_if_asked(nproc)
    path = out / CKPT_NAME
    with job(dev):
        if path.exists():
            console.print(f"resuming from {path}")
        try:
            res = train_gan(model, data, steps=steps, seed=seed, batch_size=batch_size, lr=lr,
                            hidden=hidden, depth=depth, z_dim=z_dim, lam=lam,
                            distance=distance, checkpoint=path, ckpt_every=ckpt_every,
                            progress=progress and is_main(), device=dev,
                            log=log)
        except TrainingDiverged as exc:
            raise fail(str(exc), code=1) from None
        except KeyboardInterrupt as exc:  # SIGINT/SIGTERM: the checkpoint is written
            raise fail(str(exc) or "interrupted", code=130) from None
        except ValueError as exc:
            raise fail(str(exc)) from None
        main = is_main()  # read inside the job: the group is gone after it
    if not main:
        return
    console.print(f"{model} on {data}: {res.step} generator steps ({res.seconds:.1f} s this run)")
    if data in TOY_STD:
        centers = ring_centers() if data == "ring" else grid_centers()
        st = mode_coverage(res.sample(2500, seed).cpu(), centers, TOY_STD[data])
        console.print(f"modes covered {st.modes_covered}/{st.n_modes}, high-quality share "
                      f"{st.high_quality:.3f} (2500 samples)")
    elif res.encoder is not None:
        import torch

        from ..data import digits

        x = digits().x_test.to(dev)
        with torch.no_grad():
            mse = float((res.generator(res.encoder(x)) - x).pow(2).mean())
        console.print(f"held-out reconstruction MSE {mse:.4f} (per pixel, [-1, 1] scale)")
    console.print(f"saved {path}; loss log {log}")


@app.command()
def sample(
    ckpt: Annotated[Path, typer.Option("--ckpt", help="A checkpoint from `kexue gan train` (the "
                                       "file or its directory).",
                                       show_default=False)],
    n: Annotated[int, typer.Option("--n", help="Number of samples.")] = 16,
    seed: Annotated[int, typer.Option("--seed", help="Seed of z.")] = 0,
    png: Annotated[Path | None, typer.Option("--png", help="Also save a figure here.",
                                             show_default=False)] = None,
    save: Annotated[Path | None, typer.Option(
        "--save", help="Also save the samples: .safetensors (tensor 'samples' (n, d), the "
        "CSV's rows at full precision, with JSON metadata: command, seed, n, model, data, "
        "step) or .npy (the array alone).", show_default=False)] = None,
    device: DeviceOption = "auto",
) -> None:
    """Print N generated samples G(z) as CSV rows (one sample per line); --save writes them."""
    if n < 1:
        raise fail(f"--n must be >= 1; got {n}")
    if n > MAX_SAMPLES:
        raise fail(f"--n must be <= {MAX_SAMPLES} (samples printed as CSV); got {n}")
    if png is not None:
        png = output_file(png, "--png", default_name="samples.png", suffixes=FIGURE_SUFFIXES)
    save = samples_file(save)
    dev = cli_device(device)
    res, meta = _load(ckpt, dev)
    x = res.sample(n, seed).cpu()  # (n, D)
    for row in x.tolist():
        typer.echo(",".join(f"{v:.5g}" for v in row))  # one sample per line, never wrapped
    if png is not None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4, 4))
        ax = fig.subplots()
        if x.shape[1] == 2:
            ax.scatter(x[:, 0], x[:, 1], s=2)
        elif x.shape[1] == 64:
            from ..plotting import show_image_grid

            cols = int(n**0.5) or 1
            show_image_grid(ax, x, -(-n // cols), cols, image_shape=(8, 8), padding=0)
        ax.set_title(f"{meta['train']['model']} samples, step {meta['step']}")
        _save_png(fig, png)
    if save is not None:
        save_samples(save, {"samples": x}, {
            "seed": seed, "n": n, "ckpt": str(ckpt), "model": meta["train"]["model"],
            "data": meta["train"]["data"], "train_step": meta["step"], "shape": list(x.shape)})
        console.print(f"saved {save}", markup=False, highlight=False)


@app.command()
def reconstruct(
    ckpt: Annotated[Path, typer.Option("--ckpt", help="A BiGAN-QP checkpoint on digits (the "
                                       "file or its directory).",
                                       show_default=False)],
    n: Annotated[int, typer.Option("--n", help="Held-out digits to show.")] = 8,
    png: Annotated[Path | None, typer.Option("--png", help="Save x / G(E(x)) pairs here.",
                                             show_default=False)] = None,
    device: DeviceOption = "auto",
) -> None:
    """Reconstruct held-out digits as G(E(x)) (BiGAN-QP); print the MSE over the test split."""
    import torch

    from ..data import digits

    if n < 1:
        raise fail(f"--n must be >= 1; got {n}")
    if png is not None:
        png = output_file(png, "--png", default_name="reconstruct.png",
                          suffixes=FIGURE_SUFFIXES)
    dev = cli_device(device)
    res, meta = _load(ckpt, dev)
    if res.encoder is None:
        raise fail(f"{ckpt} holds a {meta['train']['model']} model without an encoder; "
                   "reconstruct needs a checkpoint from `kexue gan train --model bigan-qp`")
    if meta["train"]["dim"] != 64:
        raise fail(f"{ckpt} was trained on {meta['train']['data']!r}; reconstruct needs "
                   "--data digits")
    x = digits().x_test  # (N_test, 64)
    with torch.no_grad():
        rec = res.generator(res.encoder(x.to(dev))).cpu()
    mse = float((rec - x).pow(2).mean())
    console.print(f"held-out reconstruction MSE {mse:.4f} over {len(x)} test digits "
                  "(per pixel, [-1, 1] scale)")
    for i in range(min(n, len(x))):
        err = float((rec[i] - x[i]).pow(2).mean())
        console.print(f"digit {i}: MSE {err:.4f}", markup=False, highlight=False)
    if png is not None:
        from matplotlib.figure import Figure

        k = min(n, len(x))
        fig = Figure(figsize=(k, 2.2))
        axes = fig.subplots(2, k, squeeze=False)
        for i in range(k):
            for r, img in enumerate((x[i], rec[i])):
                axes[r][i].imshow(img.reshape(8, 8), cmap="gray_r", vmin=-1, vmax=1)
                axes[r][i].set_xticks([])
                axes[r][i].set_yticks([])
        axes[0][0].set_ylabel("x")
        axes[1][0].set_ylabel("G(E(x))")
        _save_png(fig, png)
