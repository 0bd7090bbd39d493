"""``kexue diffusion sample | nll | inpaint``: what a trained score model does from the shell —
draw samples (a figure and ``--save``), the negative log-likelihood of held-out data, and
inpainting of held-out digits."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._diffusion_common import (
    BROWNIAN,
    GRIDS,
    MASKS,
    MAX_SAMPLES,
    TOY_PARAMS,
    Threads,
    _load,
    _positive,
    _sampler_names,
    _set_threads,
)
from ._errors import choice_option, fail
from ._launch import DeviceOption, cli_device
from ._outputs import FIGURE_SUFFIXES, output_file, samples_file, save_samples

if TYPE_CHECKING:  # torch loads with a command that runs, not with `kexue diffusion --help`
    import torch


def _plot_samples(x: torch.Tensor, data: str, title: str, out: Path) -> None:
    from matplotlib.figure import Figure

    if data == "digits":
        from ..diffusion import to_data_scale
        from ..plotting import show_image_grid

        imgs = to_data_scale(x)
        cols = min(8, len(imgs))
        rows = max(1, len(imgs) // cols)
        fig = Figure(figsize=(0.6 * cols + 0.4, 0.6 * rows + 0.6))
        show_image_grid(fig.subplots(), imgs, rows, cols, title, image_shape=(8, 8))
    else:
        fig = Figure(figsize=(5, 5))
        ax = fig.subplots()
        ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), s=2, alpha=0.5)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


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

    from ..plotting import show_image_grid

    cols = min(n, 12)
    fig = Figure(figsize=(0.6 * cols + 0.4, 2.6))
    show_image_grid(fig.subplots(), torch.cat([x[:cols], masked[:cols], img[:cols]]), 3, cols,
                    f"original / {mask} hidden / completed ({info['nfe']} NFE)",
                    image_shape=(8, 8))
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=120)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot write --out {str(out)!r}: {exc}") from None
    typer.echo(f"completed {n} test digits ({mask} half hidden, {steps} steps, resample "
               f"{resample}, {info['nfe']} score evaluations); MSE on hidden pixels "
               f"{mse:.4f}; figure: {out}")
