"""Loading a kexue.gan training checkpoint back: :func:`load_gan` checks the metadata, builds
each network on the meta device against the stored weights, and returns a
:class:`~kexue.gan.GANTrainResult` of a GAN-QP / BiGAN-QP / WGAN-GP run (Su 2018,
arXiv:1811.07296; kexue.fm 6163, 6214)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import checkpoint as ckpt_io
from ._conv import conv_net_from_spec
from ._image import IMAGE_NET_SCHEMAS, IMAGE_TRAIN_FORMAT
from ._nets import net_from_spec
from ._result import _HIST, GANTrainResult
from ._schemas import _F, MAX_WIDTH, META_SCHEMA, NET_SCHEMAS, TRAIN_FORMAT

__all__ = ["load_gan"]


def _stored_history(tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
    n = len(tensors["history/critic"])
    return {k: tensors.get(f"history/{k}", torch.full((n,), float("nan"), dtype=torch.float64))
            for k in _HIST}


def _check_train(path: Path, train: dict) -> torch.dtype:
    """The parts of ``meta["train"]`` a loader reads: ``dtype`` and ``z_dim``."""
    if "z_dim" not in train:
        raise ckpt_io.CorruptCheckpoint(f"checkpoint {str(path)!r}: metadata['train'] lacks "
                                        "the key 'z_dim'; use another checkpoint")
    ckpt_io.validate_meta(path, {"z_dim": train["z_dim"]}, {"z_dim": _F(int, 1, MAX_WIDTH)},
                          where="metadata['train']")
    return ckpt_io.dtype_from_name(path, train.get("dtype"), where="metadata['train']['dtype']")


def load_gan(path: str | Path) -> tuple[GANTrainResult, dict[str, Any]]:
    """Rebuild the networks stored by :func:`train_gan` (or :func:`kexue.gan.train_image_gan`)
    at ``path``.

    The metadata is checked first (:data:`META_SCHEMA`; network specs against
    :data:`NET_SCHEMAS` / the image networks' schemas, unknown keys refused there, unknown
    top-level keys ignored; ``dtype`` among float32/float64; sizes bounded), and every network
    is built on the meta device and compared with the stored weights before any memory is
    allocated (:func:`kexue.checkpoint.build_module`).

    Returns:
        ``(result, meta)``: a :class:`GANTrainResult` with the networks in eval mode, and the
        checkpoint's metadata (``meta["train"]`` is the training configuration).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a kexue.gan training checkpoint, or metadata of the wrong form (one
            line naming the file and the field).
    """
    path = Path(path)
    tensors, meta = ckpt_io.load(path)
    if meta.get("format") not in (TRAIN_FORMAT, IMAGE_TRAIN_FORMAT):
        raise ValueError(f"{str(path)!r} is not a kexue.gan training checkpoint (written by "
                         "kexue.gan.train_gan / kexue gan train)")
    ckpt_io.validate_meta(path, meta, META_SCHEMA, extra="ignore")
    image = meta["format"] == IMAGE_TRAIN_FORMAT
    schemas, from_spec = (IMAGE_NET_SCHEMAS, conv_net_from_spec) if image else (
        NET_SCHEMAS, net_from_spec)
    nets = meta["nets"]
    for name in ("generator", "critic", "encoder"):
        if nets[name] is not None:
            ckpt_io.validate_spec(path, nets[name], schemas, where=f"metadata['nets'][{name!r}]")
    dtype = _check_train(path, meta["train"])
    built = {}
    for name in ("generator", "critic", "encoder"):
        spec = nets[name]
        built[name] = None if spec is None else ckpt_io.build_module(
            path, lambda spec=spec: from_spec(spec).to(dtype), tensors, f"{name}/")
    g, c, e = built["generator"], built["critic"], built["encoder"]
    if "history/critic" not in tensors:
        raise ckpt_io.CorruptCheckpoint(f"checkpoint {str(path)!r} has no loss history "
                                        "(history/critic); use another checkpoint")
    for m in (g, c, e):
        if m is not None:
            m.eval()
    res = GANTrainResult(generator=g, critic=c, encoder=e,
                         history=_stored_history(tensors), step=meta["step"],
                         start_step=meta["step"], stopped=False, seconds=0.0,
                         checkpoint=path, config=meta["train"])
    return res, meta
