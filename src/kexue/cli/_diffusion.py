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

from ._diffusion_common import (
    BROWNIAN,
    DATASETS,
    GRIDS,
    MASKS,
    MAX_SAMPLES,
    SDES,
    TOY_PARAMS,
    app,
)
from ._diffusion_train import train
from ._diffusion_trained import inpaint, nll, sample

# The commands live by concept: training (_diffusion_train) and what a trained model does
# (_diffusion_trained); registered here, in the order --help lists them.
for _command in (train, sample, nll, inpaint):
    app.command()(_command)
del _command

__all__ = ["app", "DATASETS", "MASKS", "SDES", "GRIDS", "BROWNIAN", "TOY_PARAMS", "MAX_SAMPLES"]
