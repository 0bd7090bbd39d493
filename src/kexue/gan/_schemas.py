"""The metadata of a kexue.gan training checkpoint: its format name and the schemas its
networks' specs are checked against before anything is built (:mod:`kexue.checkpoint`)."""

from __future__ import annotations

from .. import checkpoint as ckpt_io
from ._nets import ACTIVATIONS

__all__ = ["TRAIN_FORMAT", "NET_SCHEMAS", "META_SCHEMA", "MAX_WIDTH", "MAX_DEPTH"]


TRAIN_FORMAT = "kexue.gan.train/2"

# Checkpoint metadata schemas (kexue.checkpoint.validate_meta). Rule: the objects a network is
# built from refuse unknown keys (they would reach a constructor); unknown top-level keys are
# free user metadata (train_gan(meta=...)) and are ignored. Sizes have upper bounds, and the
# networks are then built on the meta device and compared with the stored weights first.
_F = ckpt_io.Field
MAX_WIDTH = 1 << 15  # hidden / z_dim / dim bounds of a stored network
MAX_DEPTH = 64
NET_SCHEMAS = {
    "mlp": {"in_dim": _F(int, 1, MAX_WIDTH), "out_dim": _F(int, 1, MAX_WIDTH),
            "hidden": _F(int, 1, MAX_WIDTH), "depth": _F(int, 1, MAX_DEPTH),
            "act": _F(str, choices=tuple(ACTIVATIONS)),
            "out_act": _F((str, type(None)), choices=(None, "tanh"))},
    "pair": {"x_dim": _F(int, 1, MAX_WIDTH), "z_dim": _F(int, 1, MAX_WIDTH),
             "hidden": _F(int, 1, MAX_WIDTH), "depth": _F(int, 1, MAX_DEPTH),
             "act": _F(str, choices=tuple(ACTIVATIONS))},
}
_NETS = {"generator": _F(dict), "critic": _F(dict), "encoder": _F((dict, type(None)))}
META_SCHEMA = {"format": _F(str, high=200), "step": _F(int, 0, 10**12),
               "train": _F(dict),
               "nets": _F(dict, schema=_NETS)}
