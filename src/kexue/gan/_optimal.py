"""Closed-form optimum of the GAN-QP critic for discrete distributions (the test oracle).

Derivation (kexue.fm 6163; arXiv:1811.07296), for a pairwise critic ``ΔT(a, b) = −ΔT(b, a)``:
grouping the ``(a, b)`` and ``(b, a)`` terms of ``E_{a~p, b~q}[ΔT − ΔT²/(2λ d)]`` with
``u = ΔT(a, b)`` gives ``A u − B u²/(2λ d(a, b))``, ``A = p(a)q(b) − p(b)q(a)``,
``B = p(a)q(b) + p(b)q(a)``, maximised at

    u* = λ d(a, b) · A / B      (so |ΔT*| ≤ λ d(a, b): a built-in Lipschitz-like bound)

with the optimal value (the QP divergence) ``(λ/4) Σ_{a,b} d(a, b) A² / B ≥ 0``, zero iff p = q.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["optimal_qp_critic", "qp_divergence"]


def _check(p: Tensor, q: Tensor, d: Tensor, lam: float) -> tuple[Tensor, Tensor, Tensor]:
    p, q, d = (torch.as_tensor(v, dtype=torch.float64) for v in (p, q, d))
    if p.ndim != 1 or q.shape != p.shape:
        raise ValueError(f"p and q must be 1-D probability vectors of the same length; got "
                         f"{tuple(p.shape)} and {tuple(q.shape)}")
    n = p.shape[0]
    if d.shape != (n, n):
        raise ValueError(f"d must be an (n, n) = ({n}, {n}) distance matrix; got {tuple(d.shape)}")
    for name, v in (("p", p), ("q", q)):
        if (v < 0).any() or abs(float(v.sum()) - 1.0) > 1e-9:
            raise ValueError(f"{name} must be non-negative and sum to 1; got sum {float(v.sum())}")
    if (d < 0).any() or not torch.allclose(d, d.T):
        raise ValueError("d must be symmetric and non-negative")
    if isinstance(lam, bool) or not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be a positive finite number; got {lam!r}")
    return p, q, d


def optimal_qp_critic(p: Tensor, q: Tensor, d: Tensor, lam: float = 10.0) -> Tensor:
    """Optimal GAN-QP critic difference ``ΔT*(a, b)`` for discrete ``p`` (real) and ``q`` (fake).

    ``ΔT*(a, b) = λ d(a, b) (p(a)q(b) − p(b)q(a)) / (p(a)q(b) + p(b)q(a))``, and 0 where both
    products vanish (the pair never occurs). Source: kexue.fm 6163, arXiv:1811.07296.

    Args:
        p, q: ``(n,)`` probabilities on the same ``n`` points.
        d: ``(n, n)`` symmetric non-negative distances between the points.
        lam: λ > 0.

    Returns:
        ``(n, n)`` float64 antisymmetric matrix; ``|ΔT*| ≤ λ d`` elementwise.
    """
    p, q, d = _check(p, q, d, lam)
    pq = p[:, None] * q[None, :]  # (n, n): p(a) q(b)
    a = pq - pq.T
    b = pq + pq.T
    safe = torch.where(b > 0, b, torch.ones_like(b))
    return torch.where(b > 0, lam * d * a / safe, torch.zeros_like(b))


def qp_divergence(p: Tensor, q: Tensor, d: Tensor, lam: float = 10.0) -> Tensor:
    """The QP divergence: the optimal critic objective ``max_T E[ΔT − ΔT²/(2λd)]``.

    ``(λ/4) Σ_{a,b} d(a, b) (p(a)q(b) − p(b)q(a))² / (p(a)q(b) + p(b)q(a))`` (kexue.fm 6163);
    non-negative, and zero iff ``p = q`` on points at positive distance.

    Returns:
        float64 scalar.

    Examples:
        >>> import torch
        >>> from kexue.gan import qp_divergence
        >>> p = torch.tensor([0.5, 0.5], dtype=torch.float64)
        >>> q = torch.tensor([0.9, 0.1], dtype=torch.float64)
        >>> dist = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
        >>> round(qp_divergence(p, p, dist).item(), 6)   # zero iff p = q
        0.0
        >>> qp_divergence(p, q, dist).item() > 0
        True
    """
    p, q, d = _check(p, q, d, lam)
    pq = p[:, None] * q[None, :]
    a = pq - pq.T
    b = pq + pq.T
    safe = torch.where(b > 0, b, torch.ones_like(b))
    return (lam / 4.0) * torch.where(b > 0, d * a.pow(2) / safe, torch.zeros_like(b)).sum()
