"""Checkpoints: safetensors with JSON metadata, written atomically, never unpickled.

``save(path, tensors, meta)`` writes one ``.safetensors`` file whose header carries ``meta`` as a
JSON string (key ``"kexue_meta"``). It writes a temporary file in the same directory, fsyncs it and
``os.replace``-s it over ``path``, so a crash mid-write leaves the previous checkpoint intact.
``load(path)`` reads only that format (safetensors never executes code, unlike ``torch.load`` of
a pickle). Training loops use these for exact resume (model, optimiser state, RNG state, step).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

__all__ = ["save", "load", "load_module", "fingerprint", "check_resume", "META_KEY"]

META_KEY = "kexue_meta"


def save(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor],
         meta: Mapping[str, Any] | None = None) -> Path:
    """Atomically write ``tensors`` and JSON-serialisable ``meta`` to ``path``.

    Args:
        path: destination file (conventionally ``*.safetensors``); parent directories are created.
        tensors: name → tensor. Tensors are made contiguous and moved to CPU; shared storage is
            copied (safetensors refuses aliasing).
        meta: JSON-serialisable metadata (step, config, metrics...).

    Returns:
        The path written.

    Raises:
        TypeError: a value in ``tensors`` is not a tensor, or ``meta`` is not JSON-serialisable.
    """
    path = Path(path)
    clean: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"tensors keys must be str; got {type(key).__name__}")
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"tensors[{key!r}] must be a torch.Tensor; got {type(value).__name__}. "
                "Put scalars and strings in meta instead."
            )
        clean[key] = value.detach().to("cpu").contiguous().clone()
    try:
        header = {META_KEY: json.dumps(dict(meta or {}), sort_keys=True)}
    except TypeError as exc:
        raise TypeError(f"meta must be JSON-serialisable: {exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(clean, tmp, metadata=header)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save`. Returns ``(tensors, meta)``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a safetensors file (e.g. a pickle from ``torch.save``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types
        raise ValueError(
            f"{str(path)!r} is not a safetensors checkpoint ({exc}); kexue never unpickles "
            "files — re-save it with kexue.checkpoint.save"
        ) from None
    meta = json.loads(header.get(META_KEY, "{}"))
    return tensors, meta


def fingerprint(data: torch.Tensor) -> str:
    """SHA-256 of a tensor's bytes, dtype and shape: identifies a training set in a checkpoint's
    metadata so that a resume on other data is refused. Exact, and unlike sums of the values it
    does not depend on the number of threads."""
    raw = data.detach().to("cpu").contiguous()
    return hashlib.sha256(raw.numpy().tobytes() + str((raw.dtype, tuple(raw.shape))).encode()
                          ).hexdigest()


def check_resume(path: str | os.PathLike, meta: Mapping[str, Any], fmt: str,
                 config: Mapping[str, Any], *, what: str) -> None:
    """Refuse to resume from a checkpoint of another kind or another training configuration.

    ``meta`` is the loaded metadata; it must have ``meta["format"] == fmt`` and
    ``meta["train"] == config`` key by key (a ``"data_fingerprint"`` key, see
    :func:`fingerprint`, is reported as "different data"). ``what`` names the kind in the error,
    e.g. ``"kexue.gan training"``.

    Raises:
        ValueError: naming the differing keys with their old and new values, and the fix.
    """
    if meta.get("format") != fmt:
        raise ValueError(f"{str(path)!r} is not a {what} checkpoint")
    old = meta.get("train", {})
    diff = [k for k in config if old.get(k) != config[k]]
    if diff:
        detail = ", ".join(f"{k}: {old.get(k)!r} → {config[k]!r}"
                           for k in diff if k != "data_fingerprint")
        raise ValueError(
            f"checkpoint {str(path)!r} was written with a different training configuration "
            f"({detail or 'different data'}); resume with the same settings, or use a new "
            "checkpoint path / resume=False")


def load_module(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], prefix: str, *,
                path: str | os.PathLike) -> None:
    """Load the tensors named ``prefix + key`` into ``module`` (its ``state_dict`` keys), after
    checking that the checkpoint holds exactly that network (same keys, same shapes).

    Raises:
        ValueError: another network (``prefix`` names it in the message, with the fix).
    """
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    own = module.state_dict()
    if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
        raise ValueError(
            f"checkpoint {str(path)!r} holds a different network ({prefix.rstrip('/')}); train "
            "into a new checkpoint path / --out directory, or pass resume=False")
    module.load_state_dict(state)
