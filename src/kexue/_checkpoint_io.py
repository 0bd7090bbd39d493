"""Checkpoint files: safetensors with JSON metadata and SHA-256 digests, written atomically.

The file format and its integrity checks of :mod:`kexue.checkpoint` (the public module; see
its docstring for the contract): :func:`save` (temporary file, fsync, ``os.replace``;
NaN/inf refused), :func:`load` (digests verified, never unpickled), :func:`load_module` and
:func:`build_module` (shapes checked, on PyTorch's ``meta`` device first), :func:`fingerprint`
of a training set.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

__all__ = ["save", "load", "load_module", "build_module", "fingerprint", "tensor_digest",
           "META_KEY", "DIGEST_KEY", "HISTORY_PREFIXES", "CorruptCheckpoint",
           "NonFiniteCheckpoint", "UnverifiedCheckpointWarning"]

META_KEY = "kexue_meta"
DIGEST_KEY = "kexue_sha256"
HISTORY_PREFIXES = ("history/",)


class CorruptCheckpoint(ValueError):
    """A checkpoint whose bytes do not match the SHA-256 digests stored when it was written, or
    whose header/metadata is not of the documented form."""


class NonFiniteCheckpoint(ValueError):
    """NaN/inf values in the saved state (parameters or optimiser state) of a checkpoint."""


class UnverifiedCheckpointWarning(UserWarning):
    """A checkpoint written before kexue stored checksums: loaded without verification."""


def tensor_digest(name: str, tensor: torch.Tensor) -> str:
    """SHA-256 (hex) of a tensor's name, dtype, shape and raw bytes (CPU, contiguous)."""
    raw = tensor.detach().to("cpu").contiguous()
    h = hashlib.sha256(f"{name}\0{raw.dtype}\0{tuple(raw.shape)}\0".encode())
    h.update(raw.reshape(-1).view(torch.uint8).numpy().tobytes() if raw.numel() else b"")
    return h.hexdigest()


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _nonfinite(tensors: Mapping[str, torch.Tensor], allow: Collection[str]) -> list[str]:
    """Names (with counts) of floating tensors holding NaN/inf, outside the allowed prefixes."""
    bad = []
    for key, value in tensors.items():
        if any(key.startswith(p) for p in allow):
            continue
        if value.is_floating_point() or value.is_complex():
            n = int((~torch.isfinite(value)).sum())
            if n:
                bad.append(f"{key} ({n} of {value.numel()} values)")
    return bad


def _remove_stale_temps(path: Path) -> None:
    """Delete temporary files of an earlier, killed save of ``path`` (``.NAME.*.tmp``)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            stale.unlink()
        except OSError:
            pass


def save(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor],
         meta: Mapping[str, Any] | None = None, *,
         allow_nonfinite: Collection[str] = HISTORY_PREFIXES) -> Path:
    """Atomically write ``tensors`` and JSON-serialisable ``meta`` to ``path``.

    Args:
        path: destination file (conventionally ``*.safetensors``); parent directories are created.
        tensors: name → tensor. Tensors are made contiguous and moved to CPU; shared storage is
            copied (safetensors refuses aliasing).
        meta: JSON-serialisable metadata (step, config, metrics...).
        allow_nonfinite: name prefixes of tensors that may hold NaN/inf (metric histories).

    Returns:
        The path written.

    Raises:
        TypeError: a value in ``tensors`` is not a tensor, or ``meta`` is not JSON-serialisable.
        NonFiniteCheckpoint: a floating tensor outside ``allow_nonfinite`` holds NaN/inf;
            nothing is written (an existing file at ``path`` is kept).
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
        meta_text = json.dumps(dict(meta or {}), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"meta must be JSON-serialisable: {exc}") from None
    bad = _nonfinite(clean, allow_nonfinite)
    if bad:
        raise NonFiniteCheckpoint(
            f"not saving {str(path)!r}: non-finite values in {', '.join(bad[:3])}"
            f"{f' and {len(bad) - 3} more tensors' if len(bad) > 3 else ''}; the previous "
            "checkpoint is kept")
    digests = {"meta": _text_digest(meta_text),
               "tensors": {k: tensor_digest(k, v) for k, v in sorted(clean.items())}}
    header = {META_KEY: meta_text, DIGEST_KEY: json.dumps(digests, sort_keys=True)}
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
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


def load(path: str | os.PathLike, *, allow_nonfinite: Collection[str] = HISTORY_PREFIXES,
         ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read and verify a checkpoint written by :func:`save`. Returns ``(tensors, meta)``.

    Checks, in order: the file is safetensors; the metadata is a JSON object with string keys;
    the SHA-256 of the metadata and of every tensor match those stored at save time (a file
    without them, from before kexue stored checksums, loads with an
    :class:`UnverifiedCheckpointWarning`); no floating tensor outside ``allow_nonfinite``
    holds NaN/inf.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a safetensors file (e.g. a pickle from ``torch.save``).
        CorruptCheckpoint: metadata of the wrong form, or bytes that differ from the digests.
        NonFiniteCheckpoint: NaN/inf in the saved state.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            f"{str(path)!r} is not a safetensors checkpoint ({first}); kexue never unpickles "
            "files — re-save it with kexue.checkpoint.save"
        ) from None
    meta_text = header.get(META_KEY, "{}")
    try:
        meta = json.loads(meta_text)
    except (ValueError, RecursionError) as exc:
        raise CorruptCheckpoint(f"checkpoint {str(path)!r} has unreadable metadata "
                                f"({str(exc).splitlines()[0]})") from None
    if not isinstance(meta, dict):
        raise CorruptCheckpoint(f"checkpoint {str(path)!r} has metadata of the wrong form: a "
                                f"JSON {type(meta).__name__}, expected an object")
    _verify(path, header, meta_text, tensors)
    bad = _nonfinite(tensors, allow_nonfinite)
    if bad:
        raise NonFiniteCheckpoint(
            f"checkpoint {str(path)!r} holds non-finite values in {', '.join(bad[:3])}"
            f"{f' and {len(bad) - 3} more tensors' if len(bad) > 3 else ''}; it cannot be "
            "resumed or sampled — use an earlier checkpoint or retrain")
    return tensors, meta


def _verify(path: Path, header: Mapping[str, str], meta_text: str,
            tensors: Mapping[str, torch.Tensor]) -> None:
    """Compare the stored SHA-256 digests with the file's metadata and tensors."""
    if DIGEST_KEY not in header:
        warnings.warn(f"checkpoint {str(path)!r} has no checksums (written before kexue stored "
                      "them): loaded without verification; re-save it to add them",
                      UnverifiedCheckpointWarning, stacklevel=3)
        return
    where = f"checkpoint {str(path)!r} is corrupt"
    try:
        digests = json.loads(header[DIGEST_KEY])
        stored = digests["tensors"]
        if not (isinstance(digests, dict) and isinstance(stored, dict)
                and isinstance(digests["meta"], str)):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise CorruptCheckpoint(f"{where}: its checksum record is unreadable") from None
    if digests["meta"] != _text_digest(meta_text):
        raise CorruptCheckpoint(f"{where}: the metadata does not match its SHA-256; restore "
                                "the file from a copy or retrain")
    if set(stored) != set(tensors):
        missing = sorted(set(stored) ^ set(tensors))[:3]
        raise CorruptCheckpoint(f"{where}: the tensors {missing} were added or removed")
    for key in sorted(tensors):
        if stored[key] != tensor_digest(key, tensors[key]):
            raise CorruptCheckpoint(f"{where}: tensor {key!r} does not match its SHA-256; "
                                    "restore the file from a copy or retrain")


def fingerprint(data: torch.Tensor) -> str:
    """SHA-256 of a tensor's bytes, dtype and shape: identifies a training set in a checkpoint's
    metadata so that a resume on other data is refused. Exact, and unlike sums of the values it
    does not depend on the number of threads."""
    raw = data.detach().to("cpu").contiguous()
    return hashlib.sha256(raw.numpy().tobytes() + str((raw.dtype, tuple(raw.shape))).encode()
                          ).hexdigest()


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


def build_module(path: str | os.PathLike, build: Callable[[], torch.nn.Module],
                 tensors: Mapping[str, torch.Tensor], prefix: str) -> torch.nn.Module:
    """Build a network from checkpoint metadata without trusting its sizes, then load it.

    ``build()`` runs first on PyTorch's ``meta`` device (no memory is allocated); its
    parameter and buffer shapes must equal the stored tensors named ``prefix + key``. Only
    then is it built for real (so its size is that of the stored weights, which the file
    holds) and loaded with :func:`load_module`.

    Raises:
        CorruptCheckpoint: the metadata describes another network than the stored weights (the
            message names the first differing tensor and both shapes).
    """
    try:
        with torch.device("meta"):
            probe = build()
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CorruptCheckpoint(f"checkpoint {str(path)!r}: its metadata does not describe a "
                                f"network ({str(exc).splitlines()[0] if str(exc) else exc!r})"
                                ) from None
    own = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    stored = {k[len(prefix):]: tuple(v.shape) for k, v in tensors.items() if k.startswith(prefix)}
    for key in sorted(set(own) | set(stored)):
        if own.get(key) != stored.get(key):
            raise CorruptCheckpoint(
                f"checkpoint {str(path)!r}: the metadata describes a network whose "
                f"{prefix}{key} has shape {own.get(key)}, but the file stores "
                f"{stored.get(key)}; the metadata was edited or belongs to another file")
    del probe
    module = build()
    load_module(module, tensors, prefix, path=path)
    return module
