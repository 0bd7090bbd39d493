"""``kexue diffusion``: train score models, sample, compute likelihoods and inpaint from the shell.

::

    kexue diffusion train --data digits --sde subvp --steps 4000 --out runs/digits
    kexue diffusion sample --ckpt runs/digits --method heun --steps 20 \\
        --n 64 --out grid.png --save samples.safetensors
    kexue diffusion sample --ckpt runs/ring --method em --steps 50 --brownian tree  # one path
    kexue diffusion nll --ckpt runs/digits/last.safetensors           # bits/dim on the test split
    kexue diffusion inpaint --ckpt runs/digits --mask bottom --out fill.png
    kexue diffusion train --data digits --device cuda --nproc 2 ...  # DDP on two processes

``train`` writes ``OUT/last.safetensors`` (kexue.checkpoint: model, EMA, optimiser, RNG state)
and the loss log ``OUT/loss.csv`` (or ``--log PATH``); running the same command again resumes it
(Ctrl-C saves first), and a larger ``--steps`` extends it. ``--ckpt`` takes the file or its
directory (a directory with only the old name ``model.safetensors`` still loads). ``sample
--save PATH`` writes the samples (``.safetensors`` with metadata, or ``.npy``). ``--device
auto|cpu|cuda|cuda:N`` picks where every command computes (auto: a GPU when there is one);
``train --nproc N`` trains with DDP on N processes (rank 0 writes the checkpoint
and prints). Data: ``ring`` (8 Gaussians, radius 2, std 0.1) and ``moons`` (noise 0.05) train an
MLP; ``digits`` (scikit-learn 8×8, dequantised) trains the U-Net. Bad input prints one line
``error: ...`` to stderr and exits with status 2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._checkpoints import CKPT_NAME, OLD_CKPT_NAME, ckpt_file, note
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
from ._outputs import (
    FIGURE_SUFFIXES,
    log_file,
    output_dir,
    output_file,
    samples_file,
    save_samples,
)

if TYPE_CHECKING:  # torch loads with a command that runs, not with `kexue diffusion --help`
    import torch

__all__ = ["app", "DATASETS", "MASKS"]

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


def _grid(ax: Any, imgs: torch.Tensor, rows: int, cols: int, title: str) -> None:
    """Tile ``rows·cols`` flat 8×8 images (data scale ``[−1, 1]``) into one picture."""
    import torch

    tiles = imgs[: rows * cols].cpu().reshape(-1, 8, 8)  # (≤ rows·cols, 8, 8)
    canvas = torch.full((rows * 9 - 1, cols * 9 - 1), float("nan"))
    for n, tile in enumerate(tiles):
        i, j = divmod(n, cols)
        canvas[i * 9: i * 9 + 8, j * 9: j * 9 + 8] = tile
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


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


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive; got {value}")


def _train_data(name: str, n: int, seed: int) -> torch.Tensor:
    import torch

    if name == "digits":
        from ..data import digits

        return digits().x_train
    from ..data import toy

    return toy(name, n, torch.Generator().manual_seed(seed), **TOY_PARAMS[name])


def _load(ckpt: Path, device: torch.device) -> tuple[Any, dict[str, Any]]:
    from ..diffusion import load_score_model

    ckpt = ckpt_file(ckpt, "diffusion")
    model, meta = load_score_model(ckpt, device=device)
    if meta.get("data") not in DATASETS:
        raise ValueError(f"--ckpt {str(ckpt)!r} was not written by `kexue diffusion train`")
    return model, meta


@app.command()
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


def _plot_samples(x: torch.Tensor, data: str, title: str, out: Path) -> None:
    from matplotlib.figure import Figure

    if data == "digits":
        from ..diffusion import to_data_scale

        imgs = to_data_scale(x)
        cols = min(8, len(imgs))
        rows = max(1, len(imgs) // cols)
        fig = Figure(figsize=(0.6 * cols + 0.4, 0.6 * rows + 0.6))
        _grid(fig.subplots(), imgs, rows, cols, title)
    else:
        fig = Figure(figsize=(5, 5))
        ax = fig.subplots()
        ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), s=2, alpha=0.5)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


@app.command()
def sample(
    ckpt: Annotated[Path, typer.Option(help="Checkpoint from `kexue diffusion train` (the "
                                        "file or its directory).")],
    method: Annotated[str, typer.Option(help="Sampler: a name of kexue.diffusion.SAMPLERS "
                                        "(heun, em, pc, ddim, dpmpp_2m, ...).",
                                        **choice_option("--method", _sampler_names))]
    = "heun",
    steps: Annotated[int, typer.Option(help="Sampler steps.")] = 20,
    n: Annotated[int, typer.Option(help="Number of samples.")] = 64,
    grid: Annotated[str, typer.Option(help=f"Time grid: {', '.join(GRIDS)}.",
                                      **choice_option("--grid", GRIDS))] = "uniform",
    seed: Annotated[int, typer.Option(help="Seed of the prior draw and sampler noise.")] = 0,
    brownian: Annotated[str, typer.Option(
        help="Noise of stochastic samplers: 'increments' (fresh normal draws per step, from "
             "--seed) or 'tree' (one BrownianInterval on [0, T] seeded by --seed + 1: a sample "
             "changes little when only --steps changes).",
        **choice_option("--brownian", BROWNIAN))] = "increments",
    out: Annotated[Path, typer.Option(help="Figure (PNG/PDF/SVG).")] = Path("grid.png"),
    save: Annotated[Path | None, typer.Option(
        help="Also save the samples: .safetensors (tensor 'samples' (n, d) in the model's "
             "space — digits: d = 64 on the dequantised scale, to_data_scale maps it to "
             "[-1, 1] — with JSON metadata: command, seed, steps, method, grid, nfe, ...) or "
             ".npy (the array alone).", show_default=False)] = None,
    threads: Threads = 1,
    device: DeviceOption = "auto",
) -> None:
    """Draw samples with the EMA weights and save an image grid (digits) or a scatter (toys),
    and with --save the samples themselves."""
    import torch

    from ..diffusion import sample as run_sampler
    from ..stochastic import BrownianInterval

    dev = cli_device(device)
    save = samples_file(save)  # a bad --save is refused before any work
    out = output_file(out, "--out", default_name="grid.png", suffixes=FIGURE_SUFFIXES)
    try:
        _set_threads(threads)
        if n < 1:
            raise ValueError(f"--n must be >= 1; got {n}")
        if n > MAX_SAMPLES:
            raise ValueError(f"--n {n} is more than the {MAX_SAMPLES:,} samples one call draws; "
                             "draw them in several calls with different --seed")
        if brownian not in BROWNIAN:
            raise ValueError(f"--brownian must be one of {', '.join(BROWNIAN)}; got "
                             f"{brownian!r}")
        model, meta = _load(ckpt, dev)
        dim = model.net.dim
        gen = torch.Generator(device=dev).manual_seed(seed)
        x_T = model.sde.prior_sample((n, dim), gen, device=dev)
        path = (BrownianInterval(0.0, float(model.sde.T), (n, dim), seed=seed + 1,
                                 dtype=torch.float64, device=dev)
                if brownian == "tree" else None)
        with torch.no_grad():
            x, info = run_sampler(model, model.sde, x_T, method=method, steps=steps, grid=grid,
                                  generator=gen, brownian=path)
        x = x.cpu()
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    try:
        _plot_samples(x, meta["data"], f"{meta['data']} · {meta['sde']['kind']} · {method}, "
                                       f"{info['nfe']} NFE", out)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot write --out {str(out)!r}: {exc}") from None
    saved = ""
    if save is not None:
        save_samples(save, {"samples": x}, {
            "seed": seed, "steps": steps, "method": method, "grid": grid, "brownian": brownian,
            "n": n, "nfe": int(info["nfe"]), "ckpt": str(ckpt), "data": meta["data"],
            "sde": meta["sde"]["kind"], "train_step": meta["step"], "shape": list(x.shape)})
        saved = f"; samples: {save}"
    typer.echo(f"{n} samples ({method}, {steps} steps, {info['nfe']} score evaluations) from "
               f"{meta['data']} / {meta['sde']['kind']} at step {meta['step']}; figure: {out}"
               f"{saved}")


@app.command()
def nll(
    ckpt: Annotated[Path, typer.Option(help="Checkpoint from `kexue diffusion train` (the "
                                        "file or its directory).")],
    n: Annotated[int, typer.Option(help="Test points (digits: test images; toys: fresh "
                                        "samples).")] = 128,
    tol: Annotated[float, typer.Option(help="dopri5 rtol = atol.")] = 1e-4,
    probes: Annotated[int, typer.Option(help="Hutchinson probes (digits).")] = 1,
    seed: Annotated[int, typer.Option(help="Seed (dequantisation, probes, toy points).")] = 1,
    threads: Threads = 1,
    device: DeviceOption = "auto",
) -> None:
    """Negative log-likelihood by the probability-flow ODE: bits/dim on the digits test split
    (dequantised, offset log₂(17/2)); nats/point for the toys, beside the true value."""
    import torch

    from ..diffusion import bits_per_dim, log_likelihood

    dev = cli_device(device)
    try:
        _set_threads(threads)
        if n < 1 or probes < 1:
            raise ValueError(f"--n and --probes must be >= 1; got {n}, {probes}")
        _positive("--tol", tol)
        model, meta = _load(ckpt, dev)
        if meta["data"] == "digits":
            from ..data import digits
            from ..diffusion import DIGITS_N_BINS, to_levels

            k = to_levels(digits().x_test)[:n].to(dev)
            bpd, info = bits_per_dim(model, model.sde, k, n_bins=DIGITS_N_BINS,
                                     divergence="hutchinson", n_probes=probes, rtol=tol,
                                     atol=tol, generator=seed, dtype=torch.float32)
            se = float(bpd.std() / math.sqrt(len(bpd))) if len(bpd) > 1 else float("nan")
            typer.echo(f"test bits/dim {float(bpd.mean()):.4f} ± {se:.4f} (SE) on {len(bpd)} "
                       f"images; offset {info['offset']:.4f}; {info['nfe']} score evaluations, "
                       f"rtol = atol = {tol:g}, {probes} probe(s)")
            return
        from ..diffusion import GaussianMixture

        oracle = (GaussianMixture.ring(8, 2.0, TOY_PARAMS["ring"]["std"]) if meta["data"] == "ring"
                  else GaussianMixture.moons(100, TOY_PARAMS["moons"]["noise"]))
        x = oracle.sample(n, seed).float()
        logp, info = log_likelihood(model, model.sde, x.to(dev), divergence="exact", rtol=tol,
                                    atol=tol)
        true = oracle.log_prob(x.double())
        typer.echo(f"NLL {-float(logp.mean()):.4f} nats/point on {n} fresh {meta['data']} "
                   f"points (true NLL {-float(true.mean()):.4f}); {info['nfe']} score "
                   f"evaluations, rtol = atol = {tol:g}, exact divergence")
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None


def _image_mask(kind: str) -> torch.Tensor:
    """``(64,)`` bool, true where the pixel is known."""
    import torch

    m = torch.ones(8, 8, dtype=torch.bool)
    if kind == "bottom":
        m[4:] = False
    elif kind == "top":
        m[:4] = False
    elif kind == "left":
        m[:, :4] = False
    elif kind == "right":
        m[:, 4:] = False
    else:
        m[2:6, 2:6] = False
    return m.reshape(64)


@app.command()
def inpaint(
    ckpt: Annotated[Path, typer.Option(help="A digits checkpoint from `kexue diffusion train` "
                                        "(the file or its directory).")],
    mask: Annotated[str, typer.Option(help=f"Hidden region: {', '.join(MASKS)}.",
                                      **choice_option("--mask", MASKS))] = "bottom",
    n: Annotated[int, typer.Option(help="Test images to complete.")] = 16,
    steps: Annotated[int, typer.Option(help="Reverse-SDE steps.")] = 25,
    resample: Annotated[int, typer.Option(
        help="RePaint repeats per step (1 = plain imputation, which is biased towards the "
             "unconditional law; 10 or more harmonise the completion).")] = 10,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Figure: originals, masked, completed.")]
    = Path("inpaint.png"),
    threads: Threads = 1,
    device: DeviceOption = "auto",
) -> None:
    """Hide part of test digits and fill it in by imputation (Song et al. 2021, App. I.2) with
    RePaint resampling (Lugmayr et al. 2022)."""
    import torch

    from ..data import digits
    from ..diffusion import dequantise, to_data_scale, to_levels
    from ..diffusion import inpaint as run_inpaint

    dev = cli_device(device)
    try:
        _set_threads(threads)
        if mask not in MASKS:
            raise ValueError(f"--mask must be one of {', '.join(MASKS)}; got {mask!r}")
        if n < 1:
            raise ValueError(f"--n must be >= 1; got {n}")
        model, meta = _load(ckpt, dev)
        if meta["data"] != "digits":
            raise ValueError(f"inpainting needs an image model (train with --data digits); "
                             f"{str(ckpt)!r} is a {meta['data']} model")
        x = digits().x_test[:n]
        known = _image_mask(mask)
        filled, info = run_inpaint(model, model.sde, dequantise(to_levels(x)).to(dev),
                                   known.to(dev), steps=steps, resample=resample,
                                   generator=seed)
        filled = filled.cpu()
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    img = to_data_scale(filled)
    mse = float((img - x)[:, ~known].pow(2).mean())
    masked = torch.where(known, x, torch.full_like(x, -1.0))
    from matplotlib.figure import Figure

    cols = min(n, 12)
    fig = Figure(figsize=(0.6 * cols + 0.4, 2.6))
    _grid(fig.subplots(), torch.cat([x[:cols], masked[:cols], img[:cols]]), 3, cols,
          f"original / {mask} hidden / completed ({info['nfe']} NFE)")
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=120)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot write --out {str(out)!r}: {exc}") from None
    typer.echo(f"completed {n} test digits ({mask} half hidden, {steps} steps, resample "
               f"{resample}, {info['nfe']} score evaluations); MSE on hidden pixels "
               f"{mse:.4f}; figure: {out}")
