"""Checkpoints: safetensors with JSON metadata, written atomically, never unpickled.

``save(path, tensors, meta)`` writes one ``.safetensors`` file whose header carries ``meta`` as a
JSON string (key ``"kexue_meta"``). It writes a temporary file in the same directory, fsyncs it and
``os.replace``-s it over ``path``, so a crash mid-write leaves the previous checkpoint intact.
``load(path)`` reads only that format (safetensors never executes code, unlike ``torch.load`` of
a pickle). Training loops use these for exact resume (model, optimiser state, RNG state, step).

Integrity (verified on every load):

* ``save`` stores, under the header key ``"kexue_sha256"``, the SHA-256 of the metadata string
  and of every tensor (its name, dtype, shape and bytes; see :func:`tensor_digest`). ``load``
  recomputes them and raises :class:`CorruptCheckpoint` (a ``ValueError``) naming the file and
  the first tensor that differs — a flipped byte anywhere in the data or the metadata is caught.
  A file written before checksums existed (no such key) loads with a
  :class:`UnverifiedCheckpointWarning`; re-save it to add the checksums.
* ``save`` refuses, and ``load`` refuses, NaN/inf in any floating tensor (parameters *and*
  optimiser state) except those whose name starts with a prefix of ``allow_nonfinite``
  (default ``("history/",)``: recorded metric curves): :class:`NonFiniteCheckpoint` (a
  ``ValueError``) names the tensors. A refused save writes nothing, so the previous file stays.
* ``load`` requires the metadata to be a JSON object with string keys; :func:`validate_meta`
  checks it against a schema (types, ranges, no missing or extra keys) and
  :func:`build_module` builds a network on PyTorch's ``meta`` device first, so a size recorded
  in the metadata that does not match the stored weights is refused before any memory is
  allocated.
* The trainers' loaders (``kexue.gan.load_gan``, ``kexue.diffusion.load_score_model``,
  ``kexue.onlstm.load_model`` / ``Trainer.load``, ``kexue.metrics.load_classifier``) validate
  their metadata with :func:`validate_meta` / :func:`validate_spec` right after :func:`load`.
  One rule for unknown keys: the objects a network is built from (network specs, the ON-LSTM
  ``config``, the SDE spec) refuse them; unknown *top-level* keys are free user metadata and
  are ignored. Every error is one line naming the file and the field.
* One resume rule (:func:`resume_engine`, used by every trainer): the training configuration
  must equal the checkpoint's, field by field, except :data:`SAFE_OVERRIDES` (the learning
  rate), which the resumed run takes from its own settings.
* Temporary files left by a save that was killed (``.NAME.*.tmp`` beside ``NAME``) are removed
  by the next save of the same path (one writer per path).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

__all__ = ["save", "load", "load_module", "build_module", "fingerprint", "check_resume",
           "validate_meta", "tensor_digest", "META_KEY", "DIGEST_KEY", "CorruptCheckpoint",
           "NonFiniteCheckpoint", "UnverifiedCheckpointWarning", "Field", "validate_spec",
           "resume_engine", "check_engine_meta", "SAFE_OVERRIDES", "DTYPE_NAMES", "dtype_from_name"]

META_KEY = "kexue_meta"
DIGEST_KEY = "kexue_sha256"
HISTORY_PREFIXES = ("history/",)
#: Training settings that may differ between a checkpoint and the run resuming it (the learning
#: rate: the usual fix after a divergence). Every other setting must match.
SAFE_OVERRIDES = ("lr", "lr_final")
#: The dtypes a checkpoint's metadata may name (with or without the ``torch.`` prefix).
DTYPE_NAMES = ("float32", "float64", "torch.float32", "torch.float64")


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


def check_resume(path: str | os.PathLike, meta: Mapping[str, Any], fmt: str,
                 config: Mapping[str, Any], *, what: str, safe: Collection[str] = (),
                 ) -> dict[str, tuple[Any, Any]]:
    """Refuse to resume from a checkpoint of another kind or another training configuration.

    ``meta`` is the loaded metadata; it must have ``meta["format"] == fmt`` and
    ``meta["train"] == config`` key by key (a ``"data_fingerprint"`` key, see
    :func:`fingerprint`, is reported as "different data"), except the keys in ``safe`` (e.g.
    :data:`SAFE_OVERRIDES`, the learning rate), which may differ. ``what`` names the kind in the
    error, e.g. ``"kexue.gan training"``.

    Returns:
        ``{key: (old, new)}`` for the ``safe`` keys that differ (the overrides to apply).

    Raises:
        ValueError: naming the differing keys with their old and new values, and the fix.
    """
    if meta.get("format") != fmt:
        raise ValueError(f"{str(path)!r} is not a {what} checkpoint")
    old = meta.get("train", {})
    if not isinstance(old, dict):
        raise CorruptCheckpoint(f"checkpoint {str(path)!r}: metadata['train'] must be a JSON "
                                f"object; got {type(old).__name__}")
    diff = [k for k in config if old.get(k) != config[k]]
    overrides = {k: (old.get(k), config[k]) for k in diff if k in safe}
    diff = [k for k in diff if k not in safe]
    if diff:
        detail = ", ".join(f"{k}: {old.get(k)!r} → {config[k]!r}"
                           for k in diff if k != "data_fingerprint")
        allowed = f" (only {', '.join(safe)} may change on resume)" if safe else ""
        raise ValueError(
            f"checkpoint {str(path)!r} was written with a different training configuration "
            f"({detail or 'different data'}); resume with the same settings{allowed}, or use a "
            "new checkpoint path / resume=False")
    return overrides


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


# ---------------------------------------------------------------------- metadata schemas
@dataclass(frozen=True)
class Field:
    """One metadata entry of a :func:`validate_meta` schema.

    Args:
        kind: allowed JSON type(s): ``int``, ``float`` (ints accepted), ``str``, ``bool``,
            ``list``, ``dict``, ``type(None)``; a ``bool`` is never accepted as a number.
        low, high: inclusive bounds of a number, or of a string's/list's length.
        choices: the allowed values.
        required: whether the key must be present.
        items: the type of a list's items.
        schema: the schema of a nested object (``kind=dict``).
    """

    kind: type | tuple[type, ...]
    low: float | None = None
    high: float | None = None
    choices: Collection[Any] | None = None
    required: bool = True
    items: type | None = None
    schema: Mapping[str, Field] | None = None


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return kinds + ((int,) if float in kinds and int not in kinds else ())


def _check_value(where: str, value: Any, spec: Field) -> str | None:
    kinds = _kinds(spec.kind)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        return f"{where} must be {names}; got {type(value).__name__} {value!r:.60}"
    if spec.choices is not None and value not in spec.choices:
        return f"{where} must be one of {sorted(map(repr, spec.choices))}; got {value!r:.60}"
    size = len(value) if isinstance(value, (str, list, dict)) else value
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        if (spec.low is not None and size < spec.low) or (
                spec.high is not None and size > spec.high) or (
                isinstance(size, float) and not math.isfinite(size)):
            what = "length" if isinstance(value, (str, list, dict)) else "value"
            return (f"{where} has {what} {size}, outside [{spec.low}, {spec.high}]")
    if spec.items is not None and isinstance(value, list):
        for i, item in enumerate(value):
            wrong_bool = isinstance(item, bool) and spec.items is not bool
            if wrong_bool or not isinstance(item, spec.items):
                return (f"{where}[{i}] must be {spec.items.__name__}; got "
                        f"{type(item).__name__}")
    if spec.schema is not None and isinstance(value, dict):
        return _check_object(where, value, spec.schema)
    return None


def _check_object(where: str, obj: Mapping[str, Any], schema: Mapping[str, Field]) -> str | None:
    extra = sorted(set(obj) - set(schema))
    if extra:
        return f"{where} has unexpected keys {extra[:5]}"
    missing = sorted(k for k, f in schema.items() if f.required and k not in obj)
    if missing:
        return f"{where} lacks the keys {missing[:5]}"
    for key, spec in schema.items():
        if key in obj:
            problem = _check_value(f"{where}[{key!r}]", obj[key], spec)
            if problem:
                return problem
    return None


def validate_meta(path: str | os.PathLike, meta: Any, schema: Mapping[str, Field], *,
                  extra: str = "refuse", where: str = "metadata") -> None:
    """Check checkpoint metadata against ``schema`` before anything is built from it.

    Every key of ``meta`` must be in ``schema`` (no extra keys; ``extra="ignore"`` lets
    unknown *top-level* keys through, e.g. free user metadata — nested schemas still refuse
    them), every required key present, each value of the declared JSON type, within its bounds
    (sizes such as ``hidden`` get an upper bound, so ``hidden = 200000`` is refused with the
    number before any allocation) and among its choices (``dtype`` among
    ``("float32", "float64")``, never a name such as ``"load"`` looked up on ``torch``).
    ``where`` names the object in the message (``"metadata['nets']['critic']"``).

    Raises:
        CorruptCheckpoint: naming the file, the key and what was expected.
    """
    if extra not in ("refuse", "ignore"):
        raise ValueError(f"extra must be 'refuse' or 'ignore'; got {extra!r}")
    if not isinstance(meta, dict):
        raise CorruptCheckpoint(f"checkpoint {str(path)!r}: {where} must be a JSON object; "
                                f"got {type(meta).__name__}")
    if extra == "ignore":
        meta = {k: v for k, v in meta.items() if k in schema}
    problem = _check_object(where, meta, schema)
    if problem:
        raise CorruptCheckpoint(f"checkpoint {str(path)!r}: {problem}; it was not written by "
                                "this version of kexue or was edited — use another checkpoint")


def validate_spec(path: str | os.PathLike, spec: Any, schemas: Mapping[str, Mapping[str, Field]],
                  *, where: str) -> None:
    """Check a network spec (``{"kind": K, **kwargs}``) against the schema of its kind.

    ``schemas`` maps each allowed ``kind`` to the schema of the other keys (unknown keys are
    refused: they would reach the network's constructor as keyword arguments).

    Raises:
        CorruptCheckpoint: naming the file, ``where``, the key and what was expected.
    """
    if not isinstance(spec, dict):
        raise CorruptCheckpoint(f"checkpoint {str(path)!r}: {where} must be a JSON object; "
                                f"got {type(spec).__name__}")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in schemas:
        raise CorruptCheckpoint(f"checkpoint {str(path)!r}: {where}['kind'] must be one of "
                                f"{sorted(schemas)}; got {kind!r:.60}")
    validate_meta(path, spec, {"kind": Field(str), **schemas[kind]}, where=where)


def dtype_from_name(path: str | os.PathLike, name: Any, *, where: str = "metadata['dtype']"
                    ) -> torch.dtype:
    """The dtype named in checkpoint metadata (one of :data:`DTYPE_NAMES`; never an arbitrary
    attribute of ``torch``).

    Raises:
        CorruptCheckpoint: any other value.
    """
    if not isinstance(name, str) or name not in DTYPE_NAMES:
        raise CorruptCheckpoint(f"checkpoint {str(path)!r}: {where} must be one of "
                                f"{list(DTYPE_NAMES[:2])}; got {name!r:.60}")
    return torch.float64 if name.endswith("float64") else torch.float32


#: The keys every :class:`kexue.training.Engine` checkpoint has (see :func:`resume_engine`).
_ENGINE_SCHEMA = {"format": Field(str, high=200), "step": Field(int, 0, 10**12),
                  "train": Field(dict), "optimizers": Field(dict, high=64),
                  "metrics": Field(list, high=64, items=str)}


def resume_engine(engine: Any, resume: bool = True, *,
                  schema: Mapping[str, Field] | None = None,
                  safe: Collection[str] = SAFE_OVERRIDES) -> bool:
    """Resume a :class:`kexue.training.Engine` from its checkpoint, if it exists and ``resume``,
    with the one resume rule of every kexue trainer:

    * the metadata is checked against ``schema`` (unknown top-level keys ignored) before
      anything is loaded into the task;
    * the training configuration must equal the checkpoint's (:func:`check_resume`), except
      the keys in ``safe`` (default :data:`SAFE_OVERRIDES`, the learning rate); a changed
      ``lr`` is written into every optimiser's parameter groups after the optimiser state is
      restored, so the new value is the one used (a schedule that sets ``lr`` every step reads
      it from the new configuration anyway).

    Returns:
        Whether a checkpoint was loaded.

    Raises:
        ValueError: (naming the file and the fields) metadata of the wrong form, a checkpoint of
            another kind, or a configuration that differs outside ``safe``.
    """
    path = engine.path
    if path is None or not resume or not Path(path).exists():
        return False
    _, meta = load(path)
    validate_meta(path, meta, {**_ENGINE_SCHEMA, **dict(schema or {})}, extra="ignore")
    check_engine_meta(path, meta)
    overrides = check_resume(path, meta, engine.fmt, engine.config, what=engine.fmt, safe=safe)
    engine.load(path, check=False)
    if "lr" in overrides:
        for opt in engine.task.optimizers().values():
            for group in opt.param_groups:
                group["lr"] = overrides["lr"][1]
    return True


def check_engine_meta(path: str | os.PathLike, meta: Any) -> None:
    """Check the keys every :class:`kexue.training.Engine` checkpoint has (``format``,
    ``step``, ``train``, ``optimizers`` — lists of parameter groups —, ``metrics``) before
    ``Engine.load`` reads them; unknown keys are ignored.

    Raises:
        CorruptCheckpoint: naming the file and the field.
    """
    validate_meta(path, meta, _ENGINE_SCHEMA, extra="ignore")
    for name, groups in meta["optimizers"].items():
        ok = isinstance(groups, list) and all(
            isinstance(g, dict) and isinstance(g.get("params"), list)
            and all(isinstance(i, int) and not isinstance(i, bool) for i in g["params"])
            for g in groups)
        if not ok:
            raise CorruptCheckpoint(f"checkpoint {str(path)!r}: metadata['optimizers'][{name!r}] "
                                    "must be a list of parameter groups (objects with a 'params' "
                                    "list of ints); use another checkpoint")


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
