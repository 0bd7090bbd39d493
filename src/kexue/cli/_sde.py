"""``kexue sde``: simulate a 1-D SDE from the command line; compare its law with Fokker–Planck.

``dx = f(t, x) dt + g(t, x) dW`` with ``f`` and ``g`` given as expressions in ``x`` and ``t``
(kexue.fm archive 3762 writes ``dx = p(x, t) dt + sqrt(alpha) dW``)::

    kexue sde simulate --drift "-1.3*x" --diffusion "0.84" --x0 1 --T 1 --paths 10000 \\
        --steps 200 --method euler --seed 0 --out paths.png
    kexue sde simulate ... --device cuda           # the paths on a GPU
    kexue sde simulate ... --nproc 4               # the paths shared by 4 processes
    kexue sde simulate ... --adaptive --rtol 1e-3 --atol 1e-4   # adaptive steps (tree path)
    kexue sde simulate ... --brownian tree         # fixed steps on a BrownianInterval
    kexue sde simulate ... --save xt.safetensors   # X_T of every path, and the drawn paths
    kexue sde density --drift "x - x^3" --diffusion "0.8" --x0 0 --T 2 --out density.png

The paths are cut into seeded blocks (:mod:`kexue.parallel`: block ``b`` draws from
``block_generator(seed, b)``, or from the :class:`~kexue.stochastic.BrownianInterval` seeded with
``block_seed(seed, b)`` with ``--brownian tree``), so ``X_T`` is the same for any number of
processes (on the same kind of device); only rank 0 prints and writes the figure. With
``--adaptive`` each block is one :func:`~kexue.stochastic.solve_adaptive` call (one step size
shared by the block's paths, first step ``T / steps``) on a Brownian tree, and the accepted and
rejected steps and the drift/diffusion calls are summed over the blocks.

Expressions are parsed by :func:`kexue.expr.parse_expression` (an allow-list over Python's
``ast``: numbers, ``x``, ``t``, ``pi``, ``E``, ``+ - * / ^ **`` and the functions in ``FUNCTIONS``;
bounded work), never by ``eval``/``sympify`` of user text; each is compiled with
``sympy.lambdify(..., modules="torch")``. Bad input prints one line ``error: ...`` to stderr and
exits with status 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._errors import choice_option, fail
from ._launch import DeviceOption, NprocOption, cli_device, fail_all, job, launch_if_asked
from ._sde_coefficients import _build_sde, _degenerate, parse_coefficient
from ._sde_paths import (
    _FIXED,
    MAX_PATH_STEPS,
    MAX_POINTS,
    MAX_SHOW,
    Stepping,
    _block_size,
    _check,
    _check_sizes,
    _simulate_final,
    _solve_block,
)

if TYPE_CHECKING:  # numpy, sympy, torch load with a command that runs, not with --help
    import numpy as np
    import torch

    from ..expr import FUNCTIONS
    from ..stochastic import SDE

# the size limits and the parser live in _sde_paths / _sde_coefficients; named here too, where
# they were (kexue.cli_sde, the deprecated alias of this module, gives them)
__all__ = ["app", "parse_coefficient", "FUNCTIONS", "MAX_PATH_STEPS", "MAX_SHOW", "MAX_POINTS"]

app = typer.Typer(
    help="Simulate 1-D SDEs dx = f(t,x) dt + g(t,x) dW given as expressions in x and t.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# kexue.stochastic.METHODS, spelled out for --help without torch (a test keeps them equal)
_METHOD_NAMES = ("euler", "milstein", "heun", "sra1", "midpoint")


def _method_names() -> list[str]:
    from ..stochastic import METHODS

    return list(METHODS)


def __getattr__(name: str) -> Any:
    if name == "FUNCTIONS":  # re-exported from kexue.expr (which imports sympy) on first use
        from ..expr import FUNCTIONS

        return FUNCTIONS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _fokker_planck() -> Callable | None:
    """``kexue.stochastic._pde.fokker_planck`` if that module is present, else ``None``."""
    try:
        from ..stochastic import fokker_planck
    except ImportError:
        return None
    return fokker_planck


Method = Annotated[str, typer.Option(help=f"Scheme: {', '.join(_METHOD_NAMES)}.",
                                     **choice_option("--method", _method_names, noun="method"))]
Drift = Annotated[str, typer.Option(help="Drift f(t, x), e.g. '-1.3*x'.")]
Diffusion = Annotated[str, typer.Option(help="Diffusion g(t, x) >= 0, e.g. '0.84'.")]


BROWNIAN = ("auto", "tree", "increments")

SAVE_HELP = ("Also save the numbers: .safetensors with tensors 'samples' (paths, 1): X_T of "
             "every path (float64), 'ts' (steps + 1,): the step times, and 'paths' "
             "(steps + 1, show, 1): the sample paths of the figure (time-major, as "
             "kexue.stochastic.solve returns them), with JSON metadata (command, seed, steps, "
             "method, drift, diffusion, x0, T, ...); or .npy: the 'samples' array alone.")


@app.command()
def simulate(
    drift: Drift,
    diffusion: Diffusion,
    x0: Annotated[float, typer.Option("--x0", help="Initial value.")] = 0.0,
    T: Annotated[float, typer.Option("--T", help="Horizon.")] = 1.0,
    paths: Annotated[int, typer.Option(
        help="Number of Monte Carlo paths (paths × steps <= 3e9).")] = 10000,
    steps: Annotated[int, typer.Option(
        help="Steps on [0, T] (with --adaptive: the first step is T/steps).")] = 200,
    method: Method = "euler",
    seed: Annotated[int, typer.Option(help="Seed of the torch.Generator.")] = 0,
    show: Annotated[int, typer.Option(help="Sample paths drawn in the figure (<= 1000).")] = 50,
    out: Annotated[Path, typer.Option(
        help="Figure file (PNG/PDF/SVG; a directory: paths.png inside it).")] = Path("paths.png"),
    adaptive: Annotated[bool, typer.Option(
        "--adaptive", help="Adaptive steps (embedded error estimate where the method has one, "
        "else step doubling; PI controller) on a Brownian tree. Default: fixed steps.")] = False,
    rtol: Annotated[float | None, typer.Option(
        help="Relative tolerance of --adaptive (> 0). Default 1e-3.")] = None,
    atol: Annotated[float | None, typer.Option(
        help="Absolute tolerance of --adaptive (>= 0). Default 1e-4.")] = None,
    brownian: Annotated[str, typer.Option(
        help="Brownian path: 'tree' (a BrownianInterval queried at the step times), "
        "'increments' (increments drawn on the step grid) or 'auto' (default: tree with "
        "--adaptive, increments otherwise).", **choice_option("--brownian", BROWNIAN))]
    = "auto",
    save: Annotated[Path | None, typer.Option(help=SAVE_HELP, show_default=False)] = None,
    device: DeviceOption = "auto",
    nproc: NprocOption = 1,
) -> None:
    """Simulate paths; print mean/std of X_T; save sample paths and the histogram of X_T in a
    figure, and with --save the numbers (X_T of every path, the drawn paths)."""
    import numpy as np

    from ..parallel import block_ranges, is_main
    from ._outputs import FIGURE_SUFFIXES, output_file, samples_file

    dev = cli_device(device)
    out = output_file(out, "--out", default_name="paths.png", suffixes=FIGURE_SUFFIXES)
    save = samples_file(save)
    try:
        _check("--x0", x0)
        _check("--T", T, positive=True)
        for key, v in (("--paths", paths), ("--steps", steps), ("--show", show)):
            if v < 1:
                raise ValueError(f"{key} must be >= 1; got {v}")
        if seed < 0:
            raise ValueError(f"--seed must be >= 0; got {seed}")
        _check_sizes(paths, steps, dev, show=show)
        stepping = _stepping(adaptive, rtol, atol, brownian)
        sde, text = _build_sde(drift, diffusion)
        # probe the scheme and coefficients on two paths before launching any process
        _check_sde(sde, x0, T, method, dev)
        n_blocks = len(block_ranges(paths, _block_size(paths)))
        if nproc > n_blocks:
            raise ValueError(f"--nproc {nproc} is more than the {n_blocks} block(s) of "
                             f"{_block_size(paths)} paths that {paths} paths make; use --nproc "
                             f"{n_blocks} at most, or more --paths")
    except (ValueError, TypeError) as exc:
        raise fail(str(exc)) from None
    launch_if_asked(nproc)
    with job(dev):
        try:
            xT, counts = _simulate_final(sde, x0, T, paths, steps, method, seed, dev, stepping)
        except (ValueError, TypeError, RuntimeError) as exc:  # e.g. max_steps reached
            raise fail_all(str(exc)) from None
        if not np.all(np.isfinite(xT)):
            raise fail_all(f"{int((~np.isfinite(xT)).sum())} of {paths} paths blew up "
                           "(inf/nan); use more --steps or check the coefficients")
        if is_main():
            _simulate_report(sde, text, xT, x0, T, paths, steps, method, seed, show, out, dev,
                             stepping, counts, save=save,
                             meta={"drift": drift, "diffusion": diffusion})


def _stepping(adaptive: bool, rtol: float | None, atol: float | None,
              brownian: str) -> Stepping:
    """Check ``--adaptive --rtol --atol --brownian`` together; the :class:`Stepping`."""
    if brownian not in BROWNIAN:
        raise ValueError(f"--brownian must be one of {', '.join(BROWNIAN)}; got {brownian!r}")
    if not adaptive:
        for key, v in (("--rtol", rtol), ("--atol", atol)):
            if v is not None:
                raise ValueError(f"{key} sets the tolerance of adaptive steps; add --adaptive "
                                 f"(or drop {key} for fixed steps)")
        return Stepping(tree=brownian == "tree")
    if brownian == "increments":
        raise ValueError("--adaptive re-queries the Brownian path at the times of rejected "
                         "and shortened steps, which pre-drawn increments cannot answer; use "
                         "--brownian tree (or auto)")
    rtol = 1e-3 if rtol is None else rtol
    atol = 1e-4 if atol is None else atol
    if not math.isfinite(rtol) or rtol <= 0:
        raise ValueError(f"--rtol must be a finite number > 0; got {rtol}. Typical: 1e-3")
    if not math.isfinite(atol) or atol < 0:
        raise ValueError(f"--atol must be a finite number >= 0; got {atol}. Typical: 1e-4")
    return Stepping(adaptive=True, rtol=rtol, atol=atol, tree=True)


def _check_sde(sde: SDE, x0: float, T: float, method: str, device: torch.device) -> None:
    """One step of two paths: raises the solver's ValueError/TypeError for a bad scheme or
    coefficients (e.g. a negative diffusion) before any work is shared out."""
    import torch

    from ..stochastic import solve

    x = torch.full((2, 1), x0, dtype=torch.float64, device=device)
    with torch.no_grad():
        solve(sde, x, [0.0, T], method=method, dt=T, generator=0)


def _simulate_report(sde: SDE, text: str, xT: np.ndarray, x0: float, T: float, paths: int,
                     steps: int, method: str, seed: int, show: int, out: Path,
                     device: torch.device, stepping: Stepping = _FIXED,
                     counts: np.ndarray | None = None, *, save: Path | None = None,
                     meta: dict | None = None) -> None:
    """Rank 0: the sample paths, the figure, the ``--save`` file and the printed summary of
    ``simulate``."""
    import torch

    k = min(show, paths)
    ts = torch.linspace(0.0, T, steps + 1, dtype=torch.float64)
    try:
        with torch.no_grad():
            shown, _ = _solve_block(sde, torch.full((k, 1), x0, dtype=torch.float64,
                                                    device=device),
                                    ts, T / steps, method, seed + 1, stepping)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    shown_paths = shown.cpu()  # (steps + 1, k, 1)
    shown = shown[:, :, 0].cpu().numpy()  # (steps + 1, k)
    mean, std = float(xT.mean()), float(xT.std(ddof=1)) if paths > 1 else 0.0
    se = std / math.sqrt(paths)
    if stepping.adaptive:
        scheme = f"{method}, adaptive rtol {stepping.rtol:g} atol {stepping.atol:g}"
    else:
        scheme = f"{method}, Δt = {T / steps:.3g}" + (", Brownian tree" if stepping.tree else "")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    ax1.plot(ts.numpy(), shown, lw=0.6, alpha=0.7)
    ax1.set_xlabel("t")
    ax1.set_ylabel("x")
    ax1.set_title(f"{k} sample paths ({scheme})", fontsize=9)
    ax2.hist(xT, bins=min(100, max(10, paths // 50)), density=True, color="#1f77b4", alpha=0.7)
    ax2.axvline(mean, color="k", lw=1)
    ax2.set_xlabel(f"x(T = {T:g})")
    ax2.set_title(f"mean {mean:.4g}, std {std:.4g}", fontsize=9)
    fig.suptitle(text, fontsize=9)
    fig.tight_layout()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot write --out {str(out)!r}: {exc}") from None
    if stepping.adaptive and counts is not None:
        acc = counts[:, 0]
        per = f"{int(acc.min())}" + ("" if acc.min() == acc.max() else f"–{int(acc.max())}")
        run = (f"{method}, adaptive rtol {stepping.rtol:g} atol {stepping.atol:g}: "
               f"{int(acc.sum())} accepted steps ({per} per block of up to "
               f"{_block_size(paths)} paths), {int(counts[:, 1].sum())} rejected, "
               f"{int(counts[:, 2].sum())} f / {int(counts[:, 3].sum())} g calls")
    else:
        run = f"{method}, {steps} steps" + (", Brownian tree" if stepping.tree else "")
    saved = ""
    if save is not None:
        from ._outputs import save_samples

        save_samples(save, {"samples": torch.from_numpy(xT).reshape(paths, 1), "ts": ts,
                            "paths": shown_paths},
                     {**(meta or {}), "seed": seed, "steps": steps, "method": method,
                      "x0": x0, "T": T, "n_paths": paths, "show": k,
                      "adaptive": stepping.adaptive, "brownian_tree": stepping.tree,
                      **({"rtol": stepping.rtol, "atol": stepping.atol}
                         if stepping.adaptive else {}),
                      "shapes": {"samples": [paths, 1], "ts": [steps + 1],
                                 "paths": list(shown_paths.shape)}})
        saved = f"; samples: {save}"
    typer.echo(f"{text}: x(T={T:g}) mean {mean:.6g} ± {se:.2g} (SE), std {std:.6g} over "
               f"{paths} paths ({run}, {device.type}); figure: {out}{saved}")


@app.command()
def density(
    drift: Drift,
    diffusion: Diffusion,
    x0: Annotated[float, typer.Option("--x0", help="Initial value (a delta at x0).")] = 0.0,
    T: Annotated[float, typer.Option("--T", help="Horizon.")] = 1.0,
    paths: Annotated[int, typer.Option(
        help="Number of Monte Carlo paths (paths × steps <= 3e9).")] = 100000,
    steps: Annotated[int, typer.Option(help="SDE steps on [0, T].")] = 400,
    method: Method = "euler",
    points: Annotated[int, typer.Option(
        help="Fokker–Planck grid points (50 to 100001).")] = 801,
    seed: Annotated[int, typer.Option(help="Seed of the torch.Generator.")] = 0,
    out: Annotated[Path, typer.Option(
        help="Figure file (PNG/PDF/SVG; a directory: density.png inside it).")]
    = Path("density.png"),
    device: DeviceOption = "auto",
) -> None:
    """Histogram of X_T (Monte Carlo) against the Fokker–Planck density (Crank–Nicolson)."""
    import numpy as np

    from ._outputs import FIGURE_SUFFIXES, output_file

    dev = cli_device(device)
    out = output_file(out, "--out", default_name="density.png", suffixes=FIGURE_SUFFIXES)
    try:
        _check("--x0", x0)
        _check("--T", T, positive=True)
        for key, v, lo in (("--paths", paths, 100), ("--steps", steps, 1),
                           ("--points", points, 50)):
            if v < lo:
                raise ValueError(f"{key} must be >= {lo}; got {v}")
        if seed < 0:
            raise ValueError(f"--seed must be >= 0; got {seed}")
        _check_sizes(paths, steps, dev, points=points)
        sde, text = _build_sde(drift, diffusion)
        if _degenerate(diffusion):
            raise ValueError(f"--diffusion {diffusion.strip()!r} is identically zero: X_T is "
                             "then a single point (an ODE), which has no density to compare; "
                             "give a positive diffusion, or use `kexue sde simulate`")
        _check_sde(sde, x0, T, method, dev)
        xT, _ = _simulate_final(sde, x0, T, paths, steps, method, seed, dev)
    except (ValueError, TypeError) as exc:
        raise fail(str(exc)) from None
    if not np.all(np.isfinite(xT)):
        raise fail("some paths blew up (inf/nan); use more --steps or check the coefficients")
    spread = float(xT.std())
    if not spread > 1e-9 * max(1.0, abs(float(xT.mean()))):
        raise fail(f"X_T has standard deviation {spread:.3g}: the diffusion is too small for a "
                   "density on a grid (Δx would collapse); give a larger --diffusion, or use "
                   "`kexue sde simulate`")
    lo = min(x0, float(np.quantile(xT, 1e-4))) - 2 * spread
    hi = max(x0, float(np.quantile(xT, 1 - 1e-4))) + 2 * spread
    dx = (hi - lo) / (points - 1)
    lo = x0 - round((x0 - lo) / dx) * dx                      # put x0 on a grid node
    grid = lo + dx * np.arange(points)
    bins = np.linspace(grid[0], grid[-1], min(120, max(20, paths // 200)) + 1)
    hist, edges = np.histogram(xT, bins=bins, density=False)
    width = edges[1] - edges[0]
    hist = hist / (paths * width)                               # density on the bins
    centers = 0.5 * (edges[1:] + edges[:-1])
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    ax.bar(centers, hist, width=width, color="#1f77b4", alpha=0.5,
           label=f"Monte Carlo, {paths} paths ({method})")
    summary = ""
    fokker_planck = _fokker_planck()
    if fokker_planck is not None:
        p0 = np.zeros(points)
        p0[int(round((x0 - grid[0]) / dx))] = 1.0 / dx          # delta at x0
        try:
            p = fokker_planck(sde, grid, p0, [0.0, T], bc="absorbing", rannacher=4,
                              dt=min(dx, T / 200))[-1]
        except (ValueError, TypeError) as exc:
            raise fail(f"Fokker–Planck solve failed: {exc}") from None
        # bin averages of the PDE density, to compare like with like
        p_bins = np.array([np.mean(np.interp(np.linspace(a, b, 9), grid, p))
                           for a, b in zip(edges[:-1], edges[1:])])
        l1 = float(np.sum(np.abs(hist - p_bins)) * width)
        ax.plot(grid, p, "r-", lw=1.5, label="Fokker–Planck (Crank–Nicolson)")
        mass = float(dx * (p.sum() - 0.5 * (p[0] + p[-1])))     # trapezoid rule
        summary = f"Fokker–Planck mass {mass:.5f}, L1 distance histogram vs PDE {l1:.4f}"
    else:
        m, s = float(xT.mean()), float(xT.std())
        ax.plot(grid, np.exp(-0.5 * ((grid - m) / s) ** 2) / (s * math.sqrt(2 * math.pi)),
                "r-", lw=1.5, label="Gaussian fit")
        summary = "kexue.stochastic.fokker_planck unavailable: Gaussian fit shown"
    ax.set_xlabel(f"x(T = {T:g})")
    ax.set_ylabel("density")
    ax.set_title(text, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=110)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot write --out {str(out)!r}: {exc}") from None
    typer.echo(f"{text}: x(T={T:g}) mean {float(xT.mean()):.6g}, std {float(xT.std()):.6g}; "
               f"{summary}; figure: {out}")
