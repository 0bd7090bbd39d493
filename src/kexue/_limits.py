"""Size and cost checks made before any work starts (issue 16: no hangs, no allocator
tracebacks). The implementation; the public home of these names is :mod:`kexue.limits`.

Every size argument of the CLI and of the public functions that allocate in proportion to a
user-given number goes through one of these checks, which raise :class:`SizeLimitError` (a
``ValueError``) with the estimate, the limit and the fix *before* anything is allocated:

* :func:`check_memory` — the bytes of the main allocation against the memory available now
  (``MemAvailable`` of ``/proc/meminfo``, or free GPU memory for a CUDA device): refused above
  :data:`MEMORY_FRACTION` of it.
* :func:`check_work` — a cost in documented units (grid-node updates, path-steps, ...) against
  a fixed budget, so a command that would run for hours is refused, not started.

Both are skipped with ``force=True`` or the environment variable ``KEXUE_ALLOW_LARGE=1`` (for a
machine where the estimate is known to be too cautious).
"""

from __future__ import annotations

import math
import os
from typing import Any

__all__ = ["SizeLimitError", "ENV_ALLOW_LARGE", "MEMORY_FRACTION", "available_memory",
           "check_memory", "check_work", "check_int", "format_bytes", "forced", "check_has_data"]

ENV_ALLOW_LARGE = "KEXUE_ALLOW_LARGE"
MEMORY_FRACTION = 0.5
"""Largest share of the available memory one allocation may take."""

_FALLBACK_MEMORY = 8 * 2**30


class SizeLimitError(ValueError):
    """A size or cost above its documented limit, refused before any work started."""


def forced(force: bool = False) -> bool:
    """Whether the checks are off: ``force`` or ``KEXUE_ALLOW_LARGE`` set to 1/true/yes."""
    return bool(force) or os.environ.get(ENV_ALLOW_LARGE, "").strip().lower() in (
        "1", "true", "yes", "on")


def format_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'``; ``1.6e11`` → ``'149 GiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def available_memory(device: Any = None) -> int:
    """Bytes that can be allocated now: free GPU memory for a CUDA ``device``, else the host's
    ``MemAvailable`` (Linux), else total physical memory, else 8 GiB."""
    if device is not None and getattr(device, "type", str(device).split(":")[0]) == "cuda":
        try:
            import torch

            free, _ = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:  # noqa: BLE001 - no driver: fall back to the host's figure
            pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return _FALLBACK_MEMORY


def _skip_hint() -> str:
    return f"(or set {ENV_ALLOW_LARGE}=1 to skip this check)"


def check_memory(what: str, nbytes: float, *, fix: str, device: Any = None,
                 force: bool = False) -> None:
    """Refuse an allocation of about ``nbytes`` bytes above :data:`MEMORY_FRACTION` of
    :func:`available_memory` (on ``device``).

    Args:
        what: the allocation in words, naming the sizes it comes from
            (``"--paths 1e12: the final states"``).
        nbytes: estimated bytes (a float: products of user sizes may exceed 2**63).
        fix: what to change, e.g. ``"use fewer --paths"``.
        device: where it is allocated (``None``: host memory).
        force: skip the check.

    Raises:
        SizeLimitError: one line with the estimate, the memory available and the fix.
    """
    if forced(force):
        return
    nbytes = float(nbytes)
    if not math.isfinite(nbytes):
        raise SizeLimitError(f"{what}: the size overflows; {fix}")
    avail = available_memory(device)
    if nbytes > MEMORY_FRACTION * avail:
        where = "on the GPU" if device is not None and "cuda" in str(device) else "here"
        raise SizeLimitError(
            f"{what}: about {format_bytes(nbytes)} needed, more than {MEMORY_FRACTION:.0%} of the "
            f"{format_bytes(avail)} available {where}; {fix} {_skip_hint()}")


def check_work(what: str, units: float, *, limit: float, unit: str, fix: str,
               force: bool = False) -> None:
    """Refuse work of ``units`` (e.g. grid-node updates) above ``limit`` before it starts.

    Raises:
        SizeLimitError: one line with the estimate, the limit and the fix.
    """
    if forced(force):
        return
    units = float(units)
    if not math.isfinite(units) or units > limit:
        raise SizeLimitError(
            f"{what} would take about {units:.3g} {unit}, above the limit of {limit:.3g} "
            f"{unit}; {fix} {_skip_hint()}")


def check_int(name: str, value: Any, *, low: int = 1, high: int | None = None,
              fix: str = "") -> int:
    """``value`` as an int in ``[low, high]``.

    Raises:
        TypeError: not an int (a bool or a float is refused too).
        ValueError: outside the range (:class:`SizeLimitError` above ``high``).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except (ImportError, TypeError):
            raise TypeError(f"{name} must be an int; got {type(value).__name__} "
                            f"{value!r}") from None
    if value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")
    if high is not None and value > high:
        raise SizeLimitError(f"{name} must be <= {high}; got {value}"
                             + (f"; {fix}" if fix else ""))
    return value


def check_has_data(x: Any, name: str = "x") -> Any:
    """Refuse a tensor on PyTorch's ``meta`` device (shape only, no values): the public
    functions compute numbers, which a meta tensor cannot give.

    Raises:
        ValueError: naming ``name`` and the fix.
    """
    dev = getattr(x, "device", None)
    if dev is not None and getattr(dev, "type", None) == "meta":
        raise ValueError(f"{name} is on the 'meta' device (a shape without values); give a "
                         f"tensor with data, e.g. torch.zeros(shape) or {name}.to_empty(device="
                         "'cpu') filled with values")
    return x
