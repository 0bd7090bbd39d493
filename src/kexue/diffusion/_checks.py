"""Argument checks shared by the public diffusion functions (sample, log_likelihood, calibrate)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def check_score_and_sde(score_fn: Any, sde: Any) -> None:
    """``score_fn`` callable and ``sde`` a :class:`GaussianPathSDE`, else ``TypeError``."""
    from ._sde import GaussianPathSDE  # here: _sde itself imports this module

    if not callable(score_fn):
        raise TypeError(f"score_fn must be a callable (x, t) -> score; got "
                        f"{type(score_fn).__name__}")
    if not isinstance(sde, GaussianPathSDE):
        raise TypeError(f"sde must be a GaussianPathSDE (VPSDE, SubVPSDE, VESDE, …); got "
                        f"{type(sde).__name__}")


def check_states(x: Any, name: str, *, what: str = "", nonfinite_hint: str = "") -> None:
    """``x`` a finite floating tensor of shape ``(batch, *shape)`` with ``batch >= 1``.

    ``what`` describes the states in the ``TypeError`` (e.g. "of starting states at t = T");
    ``nonfinite_hint`` is appended to the non-finite ``ValueError``.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        dtype = f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else ""
        raise TypeError(f"{name} must be a floating-point tensor (batch, *shape){what}; got "
                        f"{type(x).__name__}{dtype}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must have shape (batch, *shape) with batch >= 1; got "
                         f"{tuple(x.shape)}. For one sample use x[None].")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains non-finite values{nonfinite_hint}")


class FiniteGuard:
    """NaN/inf checks of a sampler's score evaluations without a host sync per step.

    On the CPU each output is checked at once (a check costs nothing there and fails fast). On
    an accelerator the count of non-finite entries is kept on the device and :meth:`finish`
    reads all counts once at the end, raising for the first bad evaluation; the message is
    ``message(n_bad, where)`` either way.
    """

    def __init__(self, device: torch.device, message: Callable[[int, Any], str], *,
                 defer: bool | None = None) -> None:
        self.defer = torch.device(device).type != "cpu" if defer is None else defer
        self.message = message
        self._counts: list[torch.Tensor] = []
        self._where: list[Any] = []

    def __call__(self, out: torch.Tensor, where: Any) -> None:
        if self.defer:
            self._counts.append((~torch.isfinite(out)).sum())
            self._where.append(where)
        elif not bool(torch.isfinite(out.sum())):
            raise ValueError(self.message(int((~torch.isfinite(out)).sum()), where))

    def finish(self) -> None:
        """Raise for the first non-finite evaluation recorded (one host sync)."""
        if not self._counts:
            return
        counts = torch.stack(self._counts).tolist()          # (evaluations,), one transfer
        where = self._where
        self._counts, self._where = [], []
        for c, w in zip(counts, where):
            if c:
                raise ValueError(self.message(int(c), w))
