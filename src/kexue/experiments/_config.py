"""Experiment configurations: ``--set key=value`` strings to typed fields, presets, validation.

:func:`resolve_config` builds an experiment's ``Config`` from its defaults (the full preset), the
``quick`` preset, the CLI's ``--set`` strings (parsed as the field's annotated type) and a seed;
:func:`validate_config` checks the types, ``seed >= 0`` and the Config's own ``validate()``.
Every refusal is a :class:`ConfigError` naming the key, the value and the valid choices.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._base import Experiment

__all__ = ["ConfigError", "resolve_config", "validate_config"]


class ConfigError(ValueError):
    """A configuration that cannot be run: an override with an unknown key or a value of the
    wrong type, a number that is not finite, or a field out of range / breaking a relation
    (the Config's own ``validate()``). ``kexue reproduce`` prints it on one line, exit 2."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_int(raw: str) -> int:
    """``"12"``, ``"1_000"`` or an integral float literal such as ``"1e3"``."""
    try:
        return int(raw)
    except ValueError:
        v = float(raw)
        if math.isfinite(v) and v == int(v) and abs(v) < 2**63:
            return int(v)
        raise


def _coerce(name: str, raw: str, default: Any, kind: type | None = None) -> Any:
    """Parse the string ``raw`` to ``kind`` (the field's annotated type; default: the type of
    ``default``, the field's default value). Numbers must be finite."""
    kind = type(default) if kind is None else kind
    try:
        if kind is bool:
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if kind is int:
            return _parse_int(raw.strip())
        if kind is float:
            v = float(raw)
            if not math.isfinite(v):
                raise ConfigError(f"--set {name}: expected a finite number; got {raw!r}")
            return v
        if kind is tuple:
            parts = [p for p in raw.replace("(", "").replace(")", "").split(",") if p.strip()]
            if not parts:
                raise ValueError
            inner = type(default[0]) if default else float
            return tuple(_coerce(name, p.strip(), inner()) for p in parts)
        return raw
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(
            f"--set {name}: expected a value of type {kind.__name__} "
            f"(default {default!r}); got {raw!r}"
        ) from None


def _field_kinds(config_cls: type) -> dict[str, type]:
    """Each field's plain type (``int``, ``float``, ``bool``, ``str``, ``tuple``) from the
    dataclass annotations (strings under ``from __future__ import annotations``); a field whose
    annotation is anything else is left out (only its default's type is then known)."""
    import typing

    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # noqa: BLE001 - an unresolvable annotation: fall back to the defaults
        hints = {}
    kinds: dict[str, type] = {}
    for f in dataclasses.fields(config_cls):
        hint = hints.get(f.name, f.type)
        origin = typing.get_origin(hint) or hint
        if origin in (int, float, bool, str, tuple):
            kinds[f.name] = origin
    return kinds


def _check_value(spec_name: str, key: str, value: Any, kind: type | None) -> None:
    """A resolved field against its type and finiteness (bool is not an int here, an int is
    accepted for a float)."""
    def bad(what: str) -> ConfigError:
        return ConfigError(f"{spec_name}: {key} = {value!r} {what}; set it with "
                           f"--set {key}=VALUE")

    if kind is bool and not isinstance(value, bool):
        raise bad("is not a bool (true/false)")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad("is not an int")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("is not a number")
        if not math.isfinite(value):
            raise bad("is not finite")
    if kind is str and not isinstance(value, str):
        raise bad("is not a string")
    if kind is tuple:
        if not isinstance(value, tuple):
            raise bad("is not a tuple")
        for v in value:
            if isinstance(v, float) and not math.isfinite(v):
                raise bad("holds a value that is not finite")


def validate_config(spec: Experiment, config: Any) -> Any:
    """Check a resolved config before any work: every field's type against the dataclass
    annotations, numbers finite, ``seed >= 0``, then the Config's own ``validate()`` (ranges
    and relations; helpers in :mod:`kexue.experiments._config_checks`) if it defines one.
    Returns ``config``.

    Raises:
        ConfigError: one line naming the experiment, the field, the value and the fix. A
            ``ValueError``/``TypeError`` raised by ``validate()`` is turned into one.
    """
    kinds = _field_kinds(type(config))
    for f in dataclasses.fields(config):
        _check_value(spec.name, f.name, getattr(config, f.name), kinds.get(f.name))
    seed = getattr(config, "seed", 0)
    if isinstance(seed, int) and seed < 0:
        raise ConfigError(f"{spec.name}: seed = {seed} is out of range: must be >= 0; set it "
                          "with --seed N")
    hook = getattr(config, "validate", None)
    if callable(hook):
        try:
            hook()
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{spec.name}: invalid config: {exc}") from None
    return config


def resolve_config(spec: Experiment, *, quick: bool, overrides: Mapping[str, str] | None = None,
                   seed: int | None = None) -> Any:
    """Build ``spec.config`` from its defaults, the quick preset, ``--set`` strings and ``seed``.

    Raises:
        ConfigError: an override names an unknown key (the message lists the valid keys), its
            value does not parse as the field's annotated type or is not finite, or the
            resolved config fails :func:`validate_config` (types, ``seed >= 0``, the Config's
            ``validate()`` ranges and relations).
    """
    fields = {f.name: f for f in dataclasses.fields(spec.config)}
    kinds = _field_kinds(spec.config)
    base = spec.config()
    values: dict[str, Any] = dict(spec.quick) if quick else {}
    for key, raw in (overrides or {}).items():
        if key not in fields:
            raise ConfigError(
                f"unknown config key {key!r} for experiment {spec.name!r}; "
                f"valid keys: {', '.join(sorted(fields))}"
            )
        values[key] = _coerce(key, raw, getattr(base, key), kinds.get(key))
    if seed is not None:
        values["seed"] = seed
    return validate_config(spec, dataclasses.replace(base, **values))
