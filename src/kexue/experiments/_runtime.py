"""Where an experiment runs: its device (``Config.device``) and its torch thread count."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["config_device", "host_device_text", "torch_threads"]


def config_device(config: Any) -> Any:
    """``config.device`` (``auto | cpu | cuda | cuda:N``) as a ``torch.device`` that exists here
    (:func:`kexue.devices.resolve_device`; ``auto``: a GPU when there is one).

    Raises:
        ValueError: a device that does not exist here, with the fix.
    """
    from ..devices import resolve_device

    return resolve_device(config.device, name="device")


def host_device_text(config: Any, work: str) -> str:
    """``Result.device`` for an experiment whose work runs on the host whatever the device
    (``work`` names it, e.g. ``"SymPy and NumPy"``): ``config.device`` is still checked
    (:func:`config_device`) and a requested accelerator is named as unused."""
    dev = config_device(config)
    unused = "" if dev.type == "cpu" else f"; device {dev} requested, not used"
    return f"cpu ({work}{unused})"


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (at least 1), then restore the caller's
    setting. Experiments with small tensors use 1: more threads only add synchronisation, and on
    a shared machine OpenMP threads waiting at barriers make tiny kernels far slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
