"""Argument checks shared by the public diffusion functions (sample, log_likelihood, calibrate)."""

from __future__ import annotations

from typing import Any

import torch

from ._sde import GaussianPathSDE


def check_score_and_sde(score_fn: Any, sde: Any) -> None:
    """``score_fn`` callable and ``sde`` a :class:`GaussianPathSDE`, else ``TypeError``."""
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
