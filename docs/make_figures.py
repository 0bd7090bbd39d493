"""Regenerate the documentation figures in docs/figures/ from the experiments' quick presets.

Run from the repository root: ``.venv/bin/python docs/make_figures.py [NAME ...]`` (about three
minutes on 2 CPU cores for all; the names are the PNG stems below). Each figure is the one the
HTML report shows for that experiment (``kexue reproduce NAME --quick``, seed 0, on the CPU),
saved small: 64 dpi, palette PNG, at most ``MAX_BYTES`` each, so the repository carries no large
binaries. The pages link to ``figures/<stem>.png``; ``mkdocs build --strict`` fails if one is
missing.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from PIL import Image  # noqa: E402 (after the backend is chosen)

from kexue.experiments import get, resolve_config, run_experiment  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"
MAX_BYTES = 100_000
# PNG stem -> (experiment, figure key in its Result.figures)
FIGURES = {
    "strong_order": ("thesis-strong-order", "strong-order"),
    "four_ways": ("thesis-four-ways", "four-ways"),
    "diffusion_toy": ("diffusion-toy", "samples"),
    "ganqp_toy": ("ganqp-toy", None),  # its first figure
    "smooth_max": ("smooth-max", "gap"),
    "noise_vs_penalty": ("noise-vs-penalty", "identity"),
    "forms_stokes": ("forms-stokes", "stokes"),
}


def save_small(fig, path: Path, *, dpi: int = 64) -> int:
    """Save ``fig`` as a palette PNG at ``dpi``; lower the dpi until it fits ``MAX_BYTES``."""
    while True:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        buf.seek(0)
        img = Image.open(buf).convert("RGB").quantize(colors=64)
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
        if out.tell() <= MAX_BYTES or dpi <= 32:
            path.write_bytes(out.getvalue())
            return out.tell()
        dpi -= 8


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        print(f"unknown figure(s) {unknown}; valid: {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    for stem in names or list(FIGURES):
        name, key = FIGURES[stem]
        spec = get(name)
        config = resolve_config(spec, quick=True, seed=0)
        if hasattr(config, "device"):
            config = type(config)(**{**config.__dict__, "device": "cpu"})
        result = run_experiment(spec, config, quick=True)
        if result.status == "failed" or not result.figures:
            print(f"{stem}: {name} gave no figure ({result.error})", file=sys.stderr)
            return 1
        fig = result.figures[key] if key else next(iter(result.figures.values()))
        size = save_small(fig, OUT / f"{stem}.png")
        print(f"{stem}.png  {size / 1000:.0f} kB  from {name} (quick, {result.runtime_s:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
