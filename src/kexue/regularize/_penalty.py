"""Explicit input-gradient penalty ``‖∇ₓf‖²`` (kexue.fm archive 7466; Bishop 1995).

It is what input noise reduces to near a fit (``E‖f(x+ε) − y‖² ≈ ‖f − y‖² + σ²‖J_f‖²_F``), the
label-free consistency ``E‖f(x+ε) − f(x)‖² = σ²‖J_f‖²_F + O(σ⁴)``, and, with the loss in place of
``f``, the first-order gain of adversarial training (``ε‖∇ₓℓ‖``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from ._checks import (
    check_batch,
    check_callable,
    check_count,
    check_generator,
    check_reduction,
    flat_outputs,
    reduce,
)
from ._noise import leaf, rademacher

__all__ = ["input_gradient_penalty", "gradient_penalty"]


def input_gradient_penalty(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                     create_graph: bool = True, reduction: str = "mean",
                     n_projections: int | None = None,
                     generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Gradient penalty ``‖∇ₓ f(x_n)‖²`` (squared Frobenius norm of the input Jacobian for vector
    outputs), the Tikhonov term that input noise amounts to (Bishop 1995; kexue.fm archive 7466).

    Exact by default: one backward pass per output component ``K``. With ``n_projections = m``
    it is the unbiased estimate ``mean_j ‖J_fᵀvⱼ‖²`` with Rademacher ``vⱼ ∈ {±1}^K``
    (``E[vvᵀ] = I``), ``m`` backward passes whatever ``K``. Examples must not interact inside
    ``fn`` (no train-mode batch norm): the gradient is taken of ``Σ_n f(x_n)``.

    A label-free penalty matched to a KL consistency loss is the trace of the output Fisher
    matrix, ``tr F = Σ_c p_c‖∇ₓ log p_c‖²``: pass
    ``fn = lambda x: log_softmax(model(x)) * log_softmax(model(x)).detach().exp().sqrt()``.

    Args:
        fn: maps ``(N, ...)`` to per-example values ``(N,)`` or ``(N, K, ...)`` (e.g. logits,
            or a loss with ``reduction='none'``).
        x: inputs ``(N, ...)``, floating.
        create_graph: keep the graph so the penalty can be trained on (double backprop).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.
        n_projections: ``None`` for the exact norm, else the number of random probes ``≥ 1``.
        generator: for the probes; ``None`` uses torch's global RNG.

    Returns:
        Scalar, or ``(N,)`` when ``reduction="none"``.

    Raises:
        TypeError: ``fn`` not callable or returning non-float values; ``x`` not a float tensor.
        ValueError: ``fn`` does not return one row per example; bad ``reduction``; ``fn``'s
            output does not depend on ``x`` (no autograd path: detached, ``no_grad``, NumPy);
            ``x`` on the meta device.
    """
    check_callable(fn, "fn")
    check_batch(x)
    reduction = check_reduction(reduction)
    if n_projections is not None:
        check_count(n_projections, "n_projections")
    gen = check_generator(generator, device=x.device)
    n = x.shape[0]
    with torch.enable_grad():
        xl = leaf(x)
        out = flat_outputs(fn(xl), n, "fn")  # (N, K)
        if not out.requires_grad:
            raise ValueError(_NO_PATH)
        pen = torch.zeros(n, dtype=x.dtype, device=x.device)
        linked = False
        if n_projections is None:
            for k in range(out.shape[1]):
                (g,) = torch.autograd.grad(out[:, k].sum(), xl, retain_graph=True,
                                           create_graph=create_graph, allow_unused=True)
                if g is not None:
                    linked = True
                    pen = pen + g.reshape(n, -1).pow(2).sum(1)
        else:
            for _ in range(n_projections):
                v = rademacher(tuple(out.shape), out, gen)  # (N, K)
                (g,) = torch.autograd.grad((out * v).sum(), xl, retain_graph=True,
                                           create_graph=create_graph, allow_unused=True)
                if g is not None:
                    linked = True
                    pen = pen + g.reshape(n, -1).pow(2).sum(1)
            pen = pen / n_projections
        if not linked:
            raise ValueError(_NO_PATH)
    return reduce(pen, reduction)


_NO_PATH = ("input_gradient_penalty: fn's output does not depend on its input x (autograd finds no "
            "path from x to fn(x)); fn may detach x, run under torch.no_grad(), go through "
            "NumPy, or ignore x. Make fn use x differentiably (a constant fn has no input "
            "gradient to penalise).")


def gradient_penalty(*args, **kwargs) -> torch.Tensor:
    """Deprecated alias of :func:`input_gradient_penalty` (renamed so that it is not confused
    with WGAN-GP's :func:`kexue.gan.gradient_penalty`, a penalty on ``(‖∇T‖ − 1)²`` at
    interpolates); warns ``DeprecationWarning`` and will be removed in the next release.

    Source: Bishop 1995; kexue.fm archive 7466.
    """
    warnings.warn("kexue.regularize.gradient_penalty is renamed input_gradient_penalty (the "
                  "old name will be removed in the next release); kexue.gan.gradient_penalty "
                  "is WGAN-GP's penalty", DeprecationWarning, stacklevel=2)
    return input_gradient_penalty(*args, **kwargs)
