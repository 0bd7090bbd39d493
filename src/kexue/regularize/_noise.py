"""Input noise and the second-order terms it stands for (kexue.fm archive 7466; Bishop 1995).

With ``ε ~ N(0, σ²I)`` and a per-example loss ``ℓ(x)``, a Taylor expansion whose odd moments
vanish gives

    E_ε[ℓ(x + ε)] = ℓ(x) + (σ²/2)·Δₓℓ(x) + O(σ⁴),

so training with input noise is, to second order, training with a Laplacian penalty. For a squared
loss ``ℓ = ‖f(x) − y‖²`` the Laplacian is ``2‖J_f‖²_F + 2(f − y)·Δf``; near a fit the second term
is small and the noise is the gradient penalty ``σ²‖J_f‖²_F`` (Bishop 1995, "Training with noise is
equivalent to Tikhonov regularization", Neural Computation 7(1)).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import (
    check_batch,
    check_callable,
    check_count,
    check_generator,
    check_scale,
    draw_normal,
    flat_outputs,
)

__all__ = ["noise_loss", "laplacian", "rademacher", "leaf"]


def leaf(x: torch.Tensor) -> torch.Tensor:
    """``x`` itself when it already requires grad (its outer graph is kept), else a detached copy
    that requires grad."""
    return x if x.requires_grad else x.detach().requires_grad_(True)


def rademacher(shape: tuple[int, ...], like: torch.Tensor,
               generator: torch.Generator | None) -> torch.Tensor:
    """Independent ±1 entries (``E[vvᵀ] = I``) in ``like``'s dtype and device."""
    dev = like.device if generator is None else generator.device
    v = torch.randint(0, 2, shape, generator=generator, device=dev).to(like.dtype) * 2 - 1
    return v.to(like.device)


def noise_loss(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
               sigma: float, n_samples: int = 1, antithetic: bool = False,
               generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Monte-Carlo estimate of the input-noise loss ``E_ε[ℓ(x + ε)]``, ``ε ~ N(0, σ²I)``
    (kexue.fm archive 7466; Bishop 1995).

    To second order it equals ``ℓ(x) + (σ²/2)·Δₓℓ(x)`` (see :func:`laplacian`); the remainder is
    ``O(σ⁴)``. With ``antithetic=True`` each draw ``z`` is used as ``+σz`` and ``−σz``, which
    cancels the odd Taylor terms exactly and lowers the variance of the estimate.

    The noise is drawn in one call, ``z = torch.randn((n_samples, *x.shape))`` from
    ``generator``; draw ``s`` evaluates ``loss_fn(x + σ·z[s])`` (and ``loss_fn(x − σ·z[s])``).

    Args:
        loss_fn: maps a batch ``(N, ...)`` to a loss of any shape (per-example ``(N,)`` or a
            scalar); it is called ``n_samples`` times (twice as often when antithetic).
        x: inputs ``(N, ...)``, floating.
        sigma: noise standard deviation ``≥ 0`` (in the units of ``x``).
        n_samples: number of noise draws ``≥ 1`` averaged.
        antithetic: also evaluate ``x − ε`` for every draw.
        generator: ``torch.Generator`` or int seed for the noise; ``None`` uses torch's global RNG.

    Returns:
        The average of ``loss_fn`` over the draws, with ``loss_fn``'s output shape; it carries
        the graph of ``loss_fn`` (differentiable in the parameters).

    Raises:
        TypeError: ``loss_fn`` not callable, ``x`` not a floating tensor, bad ``generator``.
        ValueError: ``x`` without a batch dimension, ``sigma < 0``, ``n_samples < 1``.
    """
    check_callable(loss_fn, "loss_fn")
    check_batch(x)
    sigma = check_scale(sigma, "sigma", allow_zero=True)
    n_samples = check_count(n_samples, "n_samples")
    gen = check_generator(generator, device=x.device)
    z = draw_normal((n_samples, *x.shape), x, gen)  # (S, N, ...)
    total = None
    for s in range(n_samples):
        signs = (1.0, -1.0) if antithetic else (1.0,)
        for sign in signs:
            value = loss_fn(x + (sign * sigma) * z[s])
            total = value if total is None else total + value
    return total / (n_samples * (2 if antithetic else 1))


def laplacian(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
              create_graph: bool = False, n_projections: int | None = None,
              generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Input Laplacian ``Δₓℓ = tr ∇²ₓℓ`` of a per-example scalar function, the second-order
    term of input noise ``E[ℓ(x+ε)] − ℓ(x) ≈ (σ²/2)·Δₓℓ`` (kexue.fm archive 7466).

    Exact by default (one double-backward pass per input coordinate, ``D = prod(x.shape[1:])``);
    with ``n_projections = m`` it is Hutchinson's unbiased estimate ``mean_j vⱼᵀ∇²ℓ vⱼ`` with
    Rademacher ``vⱼ`` (``m`` passes). Examples must not interact inside ``fn`` (no train-mode
    batch norm), since the Hessian is taken of ``Σ_n ℓ(x_n)``.

    Args:
        fn: maps ``(N, ...)`` to per-example values ``(N,)`` (or ``(N, 1)``).
        x: inputs ``(N, ...)``, floating.
        create_graph: keep the graph so the result can be differentiated (penalty training).
        n_projections: ``None`` for the exact trace, else the number of Hutchinson probes ``≥ 1``.
        generator: for the Hutchinson probes; ``None`` uses torch's global RNG.

    Returns:
        ``(N,)`` Laplacian of ``fn`` at each example.

    Raises:
        TypeError: ``fn`` not callable or returning non-float values, ``x`` not a float tensor.
        ValueError: ``fn`` returns more than one value per example, or bad ``n_projections``.
    """
    check_callable(fn, "fn")
    check_batch(x)
    if n_projections is not None:
        check_count(n_projections, "n_projections")
    gen = check_generator(generator, device=x.device)
    n = x.shape[0]
    with torch.enable_grad():
        xl = leaf(x)
        out = flat_outputs(fn(xl), n, "fn")  # (N, K)
        if out.shape[1] != 1:
            raise ValueError(f"fn must return one scalar per example, shape (N,); got shape "
                             f"{tuple(out.shape)} after flattening. For a vector output take "
                             "the Laplacian of each component separately.")
        (g,) = torch.autograd.grad(out.sum(), xl, create_graph=True, allow_unused=True)
        zero = torch.zeros(n, dtype=x.dtype, device=x.device)
        if g is None or not g.requires_grad:  # fn is affine in x: zero Hessian
            return zero
        gf = g.reshape(n, -1)  # (N, D)
        if n_projections is None:
            lap = zero
            for i in range(gf.shape[1]):
                (h,) = torch.autograd.grad(gf[:, i].sum(), xl, retain_graph=True,
                                           create_graph=create_graph, allow_unused=True)
                if h is not None:
                    lap = lap + h.reshape(n, -1)[:, i]
            return lap
        lap = zero
        for _ in range(n_projections):
            v = rademacher(tuple(gf.shape), x, gen)  # (N, D)
            (hv,) = torch.autograd.grad((gf * v).sum(), xl, retain_graph=True,
                                        create_graph=create_graph, allow_unused=True)
            if hv is not None:
                lap = lap + (hv.reshape(n, -1) * v).sum(1)
        return lap / n_projections
