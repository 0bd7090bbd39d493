"""Range and relation checks for experiment ``Config.validate`` methods (issue 16/17).

Each check raises :class:`~kexue.experiments._config.ConfigError` naming the field, the value that
came and the allowed range, e.g. ``"smooth-max: k_max = 0.1 is out of range: must be > k_min
(0.25); set it with --set k_max=VALUE"``. The ``name`` argument is the experiment's CLI name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ._config import ConfigError

__all__ = ["fail", "require", "positive", "non_negative", "at_least", "probability",
           "tuple_values"]


def fail(name: str, field: str, value: Any, allowed: str) -> None:
    """Raise the :class:`ConfigError` for ``field = value`` outside ``allowed`` (words)."""
    raise ConfigError(f"{name}: {field} = {value!r} is out of range: must be {allowed}; set it "
                      f"with --set {field}=VALUE")


def require(ok: bool, name: str, field: str, value: Any, allowed: str) -> None:
    """:func:`fail` unless ``ok``."""
    if not ok:
        fail(name, field, value, allowed)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def positive(cfg: Any, name: str, fields: Iterable[str]) -> None:
    """Each field a finite number ``> 0``."""
    for f in fields:
        v = getattr(cfg, f)
        require(_finite(v) and v > 0, name, f, v, "a finite number > 0")


def non_negative(cfg: Any, name: str, fields: Iterable[str]) -> None:
    """Each field a finite number ``≥ 0``."""
    for f in fields:
        v = getattr(cfg, f)
        require(_finite(v) and v >= 0, name, f, v, "a finite number ≥ 0")


def at_least(cfg: Any, name: str, fields: Iterable[str], minimum: int = 1) -> None:
    """Each field an integer ``≥ minimum`` (counts: steps, paths, seeds, sizes)."""
    for f in fields:
        v = getattr(cfg, f)
        require(isinstance(v, int) and not isinstance(v, bool) and v >= minimum, name, f, v,
                f"an integer ≥ {minimum}")


def probability(cfg: Any, name: str, fields: Iterable[str]) -> None:
    """Each field a probability strictly inside ``(0, 1)``."""
    for f in fields:
        v = getattr(cfg, f)
        require(_finite(v) and 0 < v < 1, name, f, v, "a probability in (0, 1)")


def tuple_values(cfg: Any, name: str, field: str, *, min_len: int = 1, kind: str = "positive",
                 distinct: bool = False, increasing: bool = False, integer: bool = False,
                 minimum: float | None = None) -> tuple:
    """``field`` a tuple of at least ``min_len`` values, each ``> 0`` (``kind="positive"``),
    ``≥ 0`` (``"non-negative"``) or any finite number (``"finite"``); integers when
    ``integer``; each ``≥ minimum`` when given; pairwise different when ``distinct``; strictly
    increasing when ``increasing``. Returns the tuple."""
    v = getattr(cfg, field)
    require(isinstance(v, (tuple, list)) and len(v) >= min_len, name, field, v,
            f"a tuple of at least {min_len} value{'s' if min_len != 1 else ''}")
    what = {"positive": "> 0", "non-negative": "≥ 0", "finite": "finite"}[kind]
    for x in v:
        ok = _finite(x) and (kind == "finite" or (x > 0 if kind == "positive" else x >= 0))
        if integer:
            ok = ok and isinstance(x, int)
        if minimum is not None:
            ok = ok and _finite(x) and x >= minimum
        allowed = f"{'integers' if integer else 'numbers'} {what}" + (
            f" and ≥ {minimum:g}" if minimum is not None else "")
        require(ok, name, field, v, allowed)
    if distinct:
        require(len(set(v)) == len(v), name, field, v, "pairwise different values")
    if increasing:
        require(all(a < b for a, b in zip(v, v[1:])), name, field, v,
                "strictly increasing values")
    return tuple(v)
