"""Score-model checkpoints: the SDE and network specs they record, their schemas, and loading.

A checkpoint of :func:`~kexue.diffusion.train` (DSM, Vincent 2011; Song et al., ICLR 2021,
arXiv:2011.13456) goes through :mod:`kexue.checkpoint` (safetensors + JSON, never a pickle) and
records the network spec and, for VP, sub-VP and VE SDEs, the SDE spec
(:func:`sde_spec`), so that :func:`load_score_model` rebuilds the model without the caller's
code. Every field read back is checked against :data:`NET_SCHEMAS` / :data:`SDE_SCHEMAS` before
anything is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint as ckpt_io
from ..devices import resolve_device
from ._nets import ScoreModel, net_from_spec
from ._sde_kinds import VESDE, VPSDE, SubVPSDE

__all__ = ["load_score_model", "TRAIN_FORMAT", "SDE_KINDS", "make_sde", "sde_spec",
           "sde_from_spec", "NET_SCHEMAS", "SDE_SCHEMAS"]


SDE_KINDS = {"vp": VPSDE, "subvp": SubVPSDE, "ve": VESDE}


# Checkpoint metadata schemas (kexue.checkpoint.validate_meta). Rule: the objects the model is
# built from (network spec, SDE spec) refuse unknown keys (they would reach a constructor);
# unknown top-level keys are free user metadata (train(meta=...)) and are ignored. Sizes have
# upper bounds, and the network is then built on the meta device and compared with the stored
# weights before any memory is allocated.
_F = ckpt_io.Field
_MAXW = 1 << 15
_POS = _F(float, 1e-12, 1e12)
#: Network spec schemas by ``kind`` (see :func:`kexue.diffusion.net_from_spec`).
NET_SCHEMAS = {
    "mlp": {"dim": _F(int, 1, _MAXW), "hidden": _F(int, 1, _MAXW), "depth": _F(int, 1, 64),
            "n_freq": _F(int, 1, 4096)},
    "unet8": {"ch": _F(int, 1, 4096), "image_shape": _F(list, 2, 2, items=int),
              "n_freq": _F(int, 1, 4096)},
    "unet": {"in_channels": _F(int, 1, 64), "channels": _F(list, 1, 16, items=int),
             "image_size": _F(list, 2, 2, items=int),
             "num_classes": _F((int, type(None)), 1, 1 << 20),
             "num_res_blocks": _F(int, 1, 64), "n_freq": _F(int, 1, 4096)},
}
#: SDE spec schemas by ``kind`` (see :func:`sde_spec`).
SDE_SCHEMAS = {
    "vp": {"beta_min": _POS, "beta_max": _POS, "T": _POS},
    "subvp": {"beta_min": _POS, "beta_max": _POS, "T": _POS},
    "ve": {"sigma_min": _POS, "sigma_max": _POS, "T": _POS},
}
META_SCHEMA = {"format": _F(str, high=200), "step": _F(int, 0, 10**12), "train": _F(dict),
               "net": _F(dict), "sde": _F((dict, type(None)), required=False),
               "sigma_data": _F(float, 1e-12, 1e12, required=False)}


def make_sde(kind: str, **params: float) -> Any:
    """``"vp"`` → :class:`VPSDE`, ``"subvp"`` → :class:`SubVPSDE`, ``"ve"`` → :class:`VESDE`,
    with the constructor's keyword parameters (e.g. ``sigma_max=4.0``).

    Source: Song et al. 2021 (arXiv:2011.13456, §3.4).
    """
    if kind not in SDE_KINDS:
        raise ValueError(f"unknown SDE {kind!r}; valid: {', '.join(SDE_KINDS)}")
    return SDE_KINDS[kind](**params)


def sde_spec(sde: Any) -> dict[str, Any] | None:
    """A JSON-able description of a VP/sub-VP/VE SDE (``None`` for other SDEs)."""
    for kind, cls in (("subvp", SubVPSDE), ("vp", VPSDE), ("ve", VESDE)):
        if type(sde) is cls:
            keys = ("sigma_min", "sigma_max") if kind == "ve" else ("beta_min", "beta_max")
            return {"kind": kind, **{k: getattr(sde, k) for k in keys}, "T": sde.T}
    return None


def sde_from_spec(spec: Mapping[str, Any]) -> Any:
    """Inverse of :func:`sde_spec`."""
    spec = dict(spec)
    return make_sde(spec.pop("kind", None), **spec)

TRAIN_FORMAT = "kexue.diffusion.train/2"


def load_score_model(path: str | Path, sde: Any = None, *, ema: bool = True,
                     device: str | torch.device | None = None
                     ) -> tuple[ScoreModel, dict[str, Any]]:
    """Rebuild the score model stored by :func:`train` at ``path``.

    Args:
        path: a training checkpoint.
        sde: the SDE it was trained with; ``None`` rebuilds it from ``meta["sde"]`` (VP, sub-VP
            and VE SDEs are recorded automatically).
        ema: load the EMA weights (default) or the raw weights.
        device: where to put the model (default: the CPU, where checkpoints are read).

    Returns:
        ``(model, meta)``, the model in eval mode; ``model.sde`` is the SDE.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a training checkpoint, or ``sde=None`` and no SDE recorded.
    """
    path = Path(path)
    tensors, meta = ckpt_io.load(path)
    if meta.get("format") != TRAIN_FORMAT or not meta.get("net"):
        raise ValueError(f"{str(path)!r} is not a kexue.diffusion training checkpoint "
                         "(written by kexue.diffusion.train / kexue diffusion train)")
    ckpt_io.validate_meta(path, meta, META_SCHEMA, extra="ignore")
    ckpt_io.validate_spec(path, meta["net"], NET_SCHEMAS, where="metadata['net']")
    if sde is None:
        if not meta.get("sde"):
            raise ValueError(f"{str(path)!r} does not record its SDE; pass sde=...")
        ckpt_io.validate_spec(path, meta["sde"], SDE_SCHEMAS, where="metadata['sde']")
        try:
            sde = sde_from_spec(meta["sde"])
        except (ValueError, TypeError) as exc:
            raise ckpt_io.CorruptCheckpoint(
                f"checkpoint {str(path)!r}: metadata['sde'] does not describe an SDE "
                f"({str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    sigma_data = meta.get("sigma_data", 1.0)
    prefix = "ema/" if ema else "model/"
    net = ckpt_io.build_module(
        path, lambda: net_from_spec(meta["net"]), {k: v for k, v in tensors.items()
                                                   if k.startswith(prefix + "net.")},
        prefix + "net.")
    model = ScoreModel(net, sde, sigma_data=sigma_data)
    ckpt_io.load_module(model, tensors, prefix, path=path)
    if device is not None:
        model.to(resolve_device(device))
    return model.eval(), meta
