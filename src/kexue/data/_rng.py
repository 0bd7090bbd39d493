"""One place that turns ``seed | torch.Generator`` into a ``torch.Generator``."""

from __future__ import annotations

import torch


def as_generator(generator: torch.Generator | int | None, *, name: str = "generator"
                 ) -> torch.Generator:
    """Return a CPU ``torch.Generator``: the given one, or a new one seeded with the int.

    ``None`` is rejected: randomness in kexue is always explicit.
    """
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, bool) or not isinstance(generator, int):
        raise TypeError(
            f"{name} must be a torch.Generator or an int seed; got {type(generator).__name__}. "
            "Pass e.g. generator=0 or generator=torch.Generator().manual_seed(0)."
        )
    return torch.Generator().manual_seed(generator)


def check_n(n: object, name: str = "n") -> int:
    """Validate a positive sample count."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name} must be a positive int; got {type(n).__name__}")
    if n <= 0:
        raise ValueError(f"{name} must be a positive int (number of samples); got {n}")
    return n
