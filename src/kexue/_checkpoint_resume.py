"""The one resume rule of kexue's trainers: same kind, same configuration, except the lr.

Part of :mod:`kexue.checkpoint`: :func:`check_resume` compares a checkpoint's recorded
training configuration with the resuming run's (:data:`SAFE_OVERRIDES` may differ);
:func:`resume_engine` applies it to a :class:`kexue.training.Engine` after
:func:`check_engine_meta` has checked the keys every engine checkpoint has.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from ._checkpoint_io import CorruptCheckpoint, load
from ._checkpoint_schema import Field, validate_meta

__all__ = ["check_resume", "resume_engine", "check_engine_meta", "SAFE_OVERRIDES"]

#: Training settings that may differ between a checkpoint and the run resuming it (the learning
#: rate: the usual fix after a divergence). Every other setting must match.
SAFE_OVERRIDES = ("lr", "lr_final")


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
