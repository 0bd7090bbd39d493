"""Device choice: ``auto | cpu | cuda | cuda:N`` (and ``mps``), checked once with a clear error."""

from __future__ import annotations

import os
import re

import torch

__all__ = ["resolve_device", "infer_device", "DEVICE_CHOICES", "device_text"]

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps"


def resolve_device(device: str | torch.device | None = "auto", *, name: str = "device"
                   ) -> torch.device:
    """Turn a device request into a ``torch.device`` that exists on this machine.

    ``"auto"`` (or ``None``) picks CUDA when it is available and the CPU otherwise; ``"auto"``
    and ``"cuda"`` mean ``cuda:LOCAL_RANK`` under ``torchrun``, so each process of a job gets its
    own GPU.

    Raises:
        ValueError: an unknown name, CUDA (or MPS) asked for on a machine without it, or a
            CUDA index past the number of GPUs; the message names the fix.
        TypeError: ``device`` is not a string, ``torch.device`` or ``None``.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", "0"))
            return torch.device("cuda", local % torch.cuda.device_count())
        return torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        text = device.strip().lower()
        if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", text):
            raise ValueError(f"{name} must be one of {DEVICE_CHOICES}; got {device!r}")
        dev = torch.device(text)
    else:
        raise TypeError(f"{name} must be a str such as 'cuda:0' or a torch.device; "
                        f"got {type(device).__name__}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name} {str(dev)!r} was requested but CUDA is not available on "
                             f"this machine (torch {torch.__version__}); use --{name} cpu or auto")
        count = torch.cuda.device_count()
        if dev.index is None and "LOCAL_RANK" in os.environ:  # one GPU per process under torchrun
            dev = torch.device("cuda", int(os.environ["LOCAL_RANK"]) % count)
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{name} {str(dev)!r} does not exist: this machine has {count} CUDA "
                             f"device(s), cuda:0 … cuda:{count - 1}")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"{name} 'mps' was requested but MPS is not available; use cpu")
    elif dev.type != "cpu":
        raise ValueError(f"{name} must be one of {DEVICE_CHOICES}; got {str(dev)!r}")
    return dev


def infer_device(device: str | torch.device | None, *like: object) -> torch.device:
    """The device a library function works on: ``device`` if given (checked with
    :func:`resolve_device`), else the device of the first tensor or ``torch.Generator`` in
    ``like`` (its inputs), else PyTorch's default device (``torch.set_default_device`` is
    honoured)."""
    if device is not None:
        return resolve_device(device)
    for v in like:
        if isinstance(v, (torch.Tensor, torch.Generator)):
            return torch.device(v.device)
    return torch.empty(0).device


def device_text(device: str | torch.device) -> str:
    """A human description for reports: ``"cpu (2 threads)"`` or ``"cuda:0 (NVIDIA H100)"``."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    if dev.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(dev)
