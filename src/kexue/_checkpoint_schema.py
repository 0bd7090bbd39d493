"""Checkpoint metadata schemas: :class:`Field`, :func:`validate_meta`, :func:`validate_spec`.

Part of :mod:`kexue.checkpoint`: every loader checks a checkpoint's JSON metadata against a
schema (types, ranges, choices, required keys, nested objects) right after loading it, and
refuses it with a one-line :class:`~kexue.checkpoint.CorruptCheckpoint` naming the file and the
field; :func:`dtype_from_name` reads a recorded dtype.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ._checkpoint_io import CorruptCheckpoint

__all__ = ["Field", "validate_meta", "validate_spec", "dtype_from_name", "DTYPE_NAMES"]

#: The dtypes a checkpoint's metadata may name (with or without the ``torch.`` prefix).
DTYPE_NAMES = ("float32", "float64", "torch.float32", "torch.float64")


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
