"""Argument checks shared by the regularisers: each error names the argument, what was expected,
what came, and how to fix it."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import torch

from ..limits import check_has_data
from ..rng import as_generator

__all__ = ["REDUCTIONS", "check_batch", "check_callable", "check_scale", "check_count",
           "check_generator", "check_reduction", "reduce", "draw_normal", "eval_mode",
           "log_probs", "logits_2d", "per_sample_norm", "flat_outputs"]

REDUCTIONS = ("mean", "sum", "none")


def check_batch(x: object, name: str = "x") -> torch.Tensor:
    """``x`` must be a floating tensor with a batch dimension, shape ``(N, ...)``, ``ndim ≥ 2``."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"tensor of {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point torch.Tensor of shape (N, ...); got "
                        f"{got}. Convert it with torch.as_tensor({name}, dtype=torch.float32).")
    if x.dim() < 2:
        raise ValueError(
            f"{name} must have a batch dimension, shape (N, ...) with ndim >= 2; got shape "
            f"{tuple(x.shape)}. For a single example use {name}.unsqueeze(0); for N scalar "
            f"inputs use {name}.unsqueeze(1).")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(x.shape)}); pass at least "
                         "one example.")
    return check_has_data(x, name)


def check_callable(fn: object, name: str) -> Callable:
    if not callable(fn):
        raise TypeError(f"{name} must be callable (a function or torch.nn.Module mapping a batch "
                        f"(N, ...) to its outputs); got {type(fn).__name__}.")
    return fn  # type: ignore[return-value]


def check_scale(value: object, name: str, *, allow_zero: bool = False) -> float:
    """A finite real ``> 0`` (or ``≥ 0`` when ``allow_zero``)."""
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number {bound}; got {type(value).__name__}. "
                        f"Pass e.g. {name}=1.0.")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {bound}; got {value}.")
    return v


def check_count(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= {minimum}; got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}.")
    return value


def check_generator(generator: object, name: str = "generator", *,
                    device: torch.device | str | None = None) -> torch.Generator | None:
    """The randomness rule (:mod:`kexue.rng`): ``None`` (torch's default RNG), an int seed (a
    generator on ``device``, the inputs' device) or a ``torch.Generator`` (on any device: draws
    are moved to the inputs, see :func:`draw_normal`)."""
    if isinstance(generator, torch.Generator):
        return generator
    return as_generator(generator, device=device, name=name)  # type: ignore[arg-type]


def check_reduction(reduction: object) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}; got {reduction!r}.")
    return reduction  # type: ignore[return-value]


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-sample values ``(N,)`` by ``"mean"``, ``"sum"`` or ``"none"``."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def draw_normal(shape: tuple[int, ...], like: torch.Tensor,
                generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal draws of ``shape`` in ``like``'s dtype and device, from ``generator``
    (drawn on the generator's own device, then moved: a CPU generator works for CUDA inputs)."""
    if generator is None:
        return torch.randn(shape, dtype=like.dtype, device=like.device)
    z = torch.randn(shape, dtype=like.dtype, device=generator.device, generator=generator)
    return z.to(like.device)


@contextlib.contextmanager
def eval_mode(model: object) -> Iterator[None]:
    """Put every submodule of ``model`` in eval mode and restore each one's own flag afterwards
    (so a model whose parts were in mixed modes comes back exactly as it was)."""
    if not isinstance(model, torch.nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in modes:
            m.training = flag


def logits_2d(out: object, n: int, name: str = "model") -> torch.Tensor:
    """Logits ``(N, C)`` from a model output: ``(N, C)`` as is, ``(N,)`` (one Bernoulli logit per
    example) as ``[0, z]``."""
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        got = out.dtype if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"{name} must return floating-point logits, shape (N, C); got {got}.")
    if out.dim() == 1 and out.shape[0] == n:
        return torch.stack([torch.zeros_like(out), out], dim=1)  # (N, 2)
    if out.dim() == 2 and out.shape[0] == n and out.shape[1] >= 2:
        return out  # (N, C)
    raise ValueError(
        f"{name} must return logits of shape (N, C) with C >= 2, or (N,) for a binary model, for "
        f"an input batch of N={n}; got shape {tuple(out.shape)}. Return raw class scores "
        "(before softmax), one row per example.")


def log_probs(out: object, n: int, name: str = "model") -> torch.Tensor:
    """Log-probabilities ``(N, C)`` from logits ``(N, C)`` or ``(N,)`` (see :func:`logits_2d`)."""
    return torch.log_softmax(logits_2d(out, n, name), dim=1)


def per_sample_norm(t: torch.Tensor) -> torch.Tensor:
    """L2 norm of each example over all non-batch dimensions, shaped ``(N, 1, ..., 1)`` so that
    it broadcasts against ``t``."""
    flat = t.reshape(t.shape[0], -1)  # (N, D)
    return flat.norm(dim=1).reshape((t.shape[0],) + (1,) * (t.dim() - 1))


def flat_outputs(out: object, n: int, name: str) -> torch.Tensor:
    """Outputs of a per-example function as ``(N, K)``: ``(N,)`` → ``(N, 1)``, ``(N, ...)`` →
    ``(N, prod(...))``."""
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        got = out.dtype if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"{name} must return a floating-point tensor of per-example values, shape "
                        f"(N,) or (N, K); got {got}.")
    if out.dim() == 0 or out.shape[0] != n:
        raise ValueError(
            f"{name} must return one value (or row) per example: shape (N,) or (N, K) with N={n}; "
            f"got shape {tuple(out.shape)}. Use reduction='none' in the loss (e.g. "
            "F.cross_entropy(..., reduction='none')) instead of a batch mean.")
    return out.reshape(n, -1)  # (N, K)
