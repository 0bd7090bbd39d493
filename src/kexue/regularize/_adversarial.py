"""Fast-gradient adversarial training (Goodfellow et al. arXiv:1412.6572; Miyato et al.
arXiv:1605.07725), read as a gradient-norm penalty (kexue.fm archive 7466).

With ``g = ∇ₓℓ`` and the L2 step ``r = ε·g/‖g‖``, ``ℓ(x + r) = ℓ(x) + ε‖g‖ + O(ε²)``: adversarial
training adds ``ε‖∇ₓℓ‖`` to the loss. The unnormalised step ``r = ε·g`` adds ``ε‖g‖²`` (the
gradient penalty itself) and the sign step of FGSM adds ``ε‖g‖₁``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import check_batch, check_callable, check_scale

__all__ = ["fgm_perturbation", "adversarial_loss", "FGM_NORMS", "unit_rows"]

FGM_NORMS = ("l2", "linf", "none")


def unit_rows(g: torch.Tensor, fallback: torch.Tensor | None = None) -> torch.Tensor:
    """Each example of ``g`` scaled to unit L2 norm over its non-batch dims. It divides by the
    max-abs entry first (as the official VAT code does), so tiny or huge gradients neither
    underflow nor overflow. Rows that are all zero become ``fallback``'s rows (or stay 0)."""
    n = g.shape[0]
    flat = g.reshape(n, -1)  # (N, D)
    amax = flat.abs().amax(dim=1, keepdim=True)  # (N, 1)
    zero = amax == 0
    flat = flat / torch.where(zero, torch.ones_like(amax), amax)
    norm = flat.norm(dim=1, keepdim=True)
    flat = flat / torch.where(zero, torch.ones_like(norm), norm)
    if fallback is not None:
        flat = torch.where(zero, fallback.reshape(n, -1), flat)
    return flat.reshape(g.shape)


def fgm_perturbation(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                     eps: float, norm: str = "l2") -> torch.Tensor:
    """Fast gradient perturbation (FGM, Miyato et al. arXiv:1605.07725; FGSM, Goodfellow et al.
    arXiv:1412.6572): the first-order worst-case input perturbation of size ``eps``.

    With ``g_n = ∇_{x_n} Σ loss_fn(x)`` per example:

    * ``norm="l2"`` (FGM): ``r_n = ε·g_n/‖g_n‖`` — first-order gain ``ε‖g_n‖``;
    * ``norm="linf"`` (FGSM): ``r_n = ε·sign(g_n)`` — gain ``ε‖g_n‖₁``;
    * ``norm="none"``: ``r_n = ε·g_n`` — gain ``ε‖g_n‖²`` (depends on the loss's scale).

    Examples whose gradient is exactly zero get ``r_n = 0``. The loss's parameters get no
    ``.grad`` from this call; the result is detached (a constant, as in FGM).

    Args:
        loss_fn: maps ``(N, ...)`` to a loss (per-example ``(N,)`` or a scalar; it is summed).
        x: inputs ``(N, ...)``, floating.
        eps: perturbation size ``> 0`` (L2 norm per example for ``"l2"``).
        norm: ``"l2"`` | ``"linf"`` | ``"none"``.

    Returns:
        ``r`` with the shape and dtype of ``x``.

    Raises:
        TypeError: ``loss_fn`` not callable / not returning a float tensor, ``x`` not floating.
        ValueError: ``x`` without a batch dimension, ``eps ≤ 0``, unknown ``norm``.
    """
    check_callable(loss_fn, "loss_fn")
    check_batch(x)
    eps = check_scale(eps, "eps")
    if norm not in FGM_NORMS:
        raise ValueError(f"norm must be one of {', '.join(FGM_NORMS)}; got {norm!r}. Use 'l2' "
                         "for FGM (Miyato et al.) or 'linf' for FGSM (Goodfellow et al.).")
    with torch.enable_grad():
        xl = x.detach().requires_grad_(True)
        loss = loss_fn(xl)
        if not isinstance(loss, torch.Tensor) or not loss.is_floating_point():
            raise TypeError(f"loss_fn must return a floating-point tensor; got "
                            f"{type(loss).__name__}.")
        (g,) = torch.autograd.grad(loss.sum(), xl, allow_unused=True)
    if g is None:
        return torch.zeros_like(x)
    g = g.detach()
    if norm == "l2":
        return eps * unit_rows(g)
    if norm == "linf":
        return eps * torch.sign(g)
    return eps * g


def adversarial_loss(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                     eps: float, norm: str = "l2") -> torch.Tensor:
    """Adversarial-training loss ``ℓ(x + r_FGM)`` (Goodfellow et al. arXiv:1412.6572; Miyato et
    al. arXiv:1605.07725), ≈ ``ℓ(x) + ε‖∇ₓℓ‖`` to first order (kexue.fm archive 7466).

    Train on ``ℓ(x) + adversarial_loss(...)`` (or either alone); the perturbation is a constant,
    the returned loss carries the graph of ``loss_fn`` at ``x + r``.

    Args:
        loss_fn, x, eps, norm: as in :func:`fgm_perturbation`.

    Returns:
        ``loss_fn(x + r)``, with ``loss_fn``'s output shape.

    Raises:
        As :func:`fgm_perturbation`.
    """
    r = fgm_perturbation(loss_fn, x, eps=eps, norm=norm)
    return loss_fn(x + r)
