"""Size and cost checks made before any work starts: refuse, with the estimate and the fix, a
request that would exhaust memory or run for hours, instead of failing in the allocator.

* :func:`check_memory` — the bytes of the main allocation against the memory available now
  (:func:`available_memory`: ``MemAvailable`` of ``/proc/meminfo``, or free GPU memory for a CUDA
  device); refused above :data:`MEMORY_FRACTION` of it.
* :func:`check_work` — a cost in documented units (grid-node updates, path-steps, …) against a
  fixed budget.
* :func:`check_int` — an int in a range; :func:`check_has_data` — refuses a ``meta`` tensor.

Each raises :class:`SizeLimitError` (a ``ValueError``) naming the estimate, the limit and the
fix. The checks are skipped with ``force=True`` or the environment variable
``KEXUE_ALLOW_LARGE=1`` (:data:`ENV_ALLOW_LARGE`; :func:`forced`), for a machine where an
estimate is known to be too cautious. The library and the CLI use these for every size argument.

Example::

    from kexue.limits import SizeLimitError, check_memory

    try:
        check_memory("--paths 1e12: the final states", 8e12, fix="use fewer --paths")
    except SizeLimitError as exc:
        print(exc)
"""

from __future__ import annotations

from ._homes import claim_home
from ._limits import (
    ENV_ALLOW_LARGE,
    MEMORY_FRACTION,
    SizeLimitError,
    available_memory,
    check_has_data,
    check_int,
    check_memory,
    check_work,
    forced,
    format_bytes,
)

__all__ = ["SizeLimitError", "check_memory", "check_work", "check_int", "check_has_data",
           "available_memory", "format_bytes", "forced", "ENV_ALLOW_LARGE", "MEMORY_FRACTION"]

# The implementation lives in kexue._limits (tests patch its available_memory); this module is
# its public home, which the functions and the error report as their __module__.
claim_home(globals(), __all__, __name__)
