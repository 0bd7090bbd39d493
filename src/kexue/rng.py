"""The one randomness rule of kexue.

Every function that draws random numbers takes ``generator=``:

* a ``torch.Generator`` — used as it is (it must live on the device that draws);
* an ``int`` seed — a new generator on the drawing device, seeded with it;
* ``None`` — PyTorch's default generator of the drawing device, exactly as ``torch.randn(...,
  generator=None)`` does, so ``torch.manual_seed(0)`` makes a run reproducible.

Monte Carlo that may run across processes does not draw from one stream: it cuts the paths into
fixed blocks and gives block ``b`` its own generator, :func:`block_generator` ``(seed, b)``
(seeds derived with NumPy's ``SeedSequence(seed, spawn_key=(b,))``, as torchsde derives its
Brownian seeds), so the numbers do not depend on how many processes share the blocks.

CPU and CUDA generators seeded alike give different streams (PyTorch's reproducibility notes):
a seed reproduces a run on the same kind of device.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["as_generator", "block_seed", "block_generator", "seed_from"]

Generatorish = torch.Generator | int | None


def _device(device: torch.device | str | None) -> torch.device:
    return torch.device(device) if device is not None else torch.empty(0).device


def as_generator(generator: Generatorish, *, device: torch.device | str | None = None,
                 name: str = "generator") -> torch.Generator | None:
    """Apply the randomness rule: a ``torch.Generator`` for ``device``, or ``None`` (default RNG).

    Args:
        generator: a ``torch.Generator``, an ``int`` seed or ``None``.
        device: the device the random numbers are drawn on (default: PyTorch's default device).
        name: the argument's name, for error messages.

    Returns:
        The generator to pass to ``torch.rand*`` (``None`` for PyTorch's default generator).

    Raises:
        TypeError: ``generator`` is none of the three.
        ValueError: a negative seed, or a generator on another kind of device than ``device``.
    """
    if generator is None:
        return None
    dev = _device(device)
    if isinstance(generator, torch.Generator):
        if torch.device(generator.device).type != dev.type:
            raise ValueError(
                f"{name} lives on {generator.device} but the numbers are drawn on {dev}; create "
                f"it with torch.Generator(device={str(dev)!r}) or pass an int seed")
        return generator
    if isinstance(generator, bool) or not isinstance(generator, (int, np.integer)):
        raise TypeError(
            f"{name} must be a torch.Generator, an int seed or None; got "
            f"{type(generator).__name__}. Pass e.g. {name}=0 or "
            f"{name}=torch.Generator().manual_seed(0).")
    if generator < 0:
        raise ValueError(f"{name} must be a non-negative int seed; got {generator}")
    return torch.Generator(device=dev).manual_seed(int(generator))


def seed_from(generator: Generatorish, *, name: str = "generator") -> int:
    """An ``int`` seed from ``generator``: the int itself, one 62-bit draw from a
    ``torch.Generator``, or one draw from PyTorch's default CPU generator for ``None`` (so
    ``torch.manual_seed`` works). Used where a whole computation is seeded once (e.g. the seed
    of Monte Carlo blocks).

    Raises:
        TypeError: ``generator`` is none of the three. ValueError: a negative seed.
    """
    if isinstance(generator, torch.Generator):
        return int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    if generator is None:
        return int(torch.randint(2**62, (1,)))
    if isinstance(generator, bool) or not isinstance(generator, (int, np.integer)):
        as_generator(generator, name=name)  # raises the TypeError with the fix
    if generator < 0:
        raise ValueError(f"{name} must be a non-negative int seed; got {generator}")
    return int(generator)


def block_seed(seed: int, block: int) -> int:
    """The 63-bit seed of Monte Carlo block ``block`` under ``seed``:
    ``SeedSequence(seed, spawn_key=(block,))`` — independent streams for distinct blocks."""
    if seed < 0 or block < 0:
        raise ValueError(f"seed and block must be non-negative; got seed={seed}, block={block}")
    state = np.random.SeedSequence(int(seed), spawn_key=(int(block),)).generate_state(
        1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


def block_generator(seed: int, block: int, *, device: torch.device | str | None = None
                    ) -> torch.Generator:
    """A generator on ``device`` seeded with :func:`block_seed` ``(seed, block)``."""
    return torch.Generator(device=_device(device)).manual_seed(block_seed(seed, block))
