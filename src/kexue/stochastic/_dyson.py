r"""The Dyson (perturbation) series of the thesis' propagator in the potential ``V``.

Su's thesis, part 3 (kexue.fm archive 3757, eq. 47): the kernel ``K`` of
``alpha φ_t = (alpha²/2) φ_xx + V φ`` expands in powers of ``V`` around the free (heat) kernel
``K_0(x_b, x_a; t) = (2π alpha t)^{-1/2} exp(−(x_b − x_a)²/(2 alpha t))``:

``K = K^{(0)} + K^{(1)} + K^{(2)} + …``, with the time-ordered terms

``K^{(1)} = (1/alpha) ∫_0^T ds ∫ dc K_0(b, c; T−s) V(s, c) K_0(c, a; s)``,

``K^{(2)} = (1/alpha²) ∫_{0<s_1<s_2<T} ∫∫ dc_2 dc_1 K_0(b, c_2; T−s_2) V(s_2, c_2)
K_0(c_2, c_1; s_2−s_1) V(s_1, c_1) K_0(c_1, a; s_1)``.

Evaluation. A product of free kernels is the free kernel times a Brownian-bridge density
(Chapman–Kolmogorov for Gaussians):
``K_0(b, c; T−s) K_0(c, a; s) = K_0(b, a; T) · N(c; a + (b−a)s/T, alpha s(T−s)/T)``, so

``K^{(n)} = K_0(b, a; T) alpha^{−n} ∫_{0<s_1<…<s_n<T} E[V(s_1, X_{s_1}) ⋯ V(s_n, X_{s_n})] ds``

with ``X`` the Brownian bridge from ``(0, a)`` to ``(T, b)`` of variance rate ``alpha`` — the
Feynman–Kac formula ``K = K_0 E_bridge[exp((1/alpha)∫V ds)]`` expanded term by term. The bridge
expectations are computed by Gauss–Hermite quadrature in space (the bridge is Gaussian; for
``n = 2`` the second point is drawn from the bridge conditioned on the first) and Gauss–Legendre
quadrature on the time simplex. For a polynomial ``V`` of degree ``d`` the result is exact to
rounding once ``n_space ≥ (n·d)/2 + 1`` and ``n_time`` is moderate (the integrand is then a
polynomial in the times).

For the harmonic potential ``V = −λ x²/2`` the exact kernel is Mehler's
(:func:`kexue.stochastic.closed_forms.mehler_kernel` with ``ω = √λ``), and the error of the
order-``n`` truncation falls as ``λ^{n+1}``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["dyson_terms", "DYSON_MAX_ORDER"]

DYSON_MAX_ORDER = 2
_CHUNK = 32  # end-point pairs per batch of the order-2 quadrature


def _positive(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
            or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {v!r}.")
    return float(v)


def _count(name: str, v, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}.")
    return int(v)


def _evaluate(V, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``V(t, x)`` at matching arrays ``t``, ``x`` (any shape); returns a float64 array."""
    if isinstance(V, (int, float, np.floating, np.integer)) and not isinstance(V, bool):
        return np.full(x.shape, float(V))
    if not callable(V):
        raise TypeError(f"V must be a number or a callable (t, x) on float64 tensors; got "
                        f"{type(V).__name__}.")
    m = x.size
    xt = torch.tensor(np.ascontiguousarray(x).reshape(m, 1), dtype=torch.float64)  # (M, 1)
    tt = torch.tensor(np.broadcast_to(t, x.shape).reshape(m, 1), dtype=torch.float64)
    with torch.no_grad():
        out = torch.as_tensor(V(tt, xt), dtype=torch.float64)
    try:
        out = torch.broadcast_to(out, (m, 1))
    except RuntimeError:
        raise ValueError(f"V(t, x) must return a tensor broadcastable to (M, 1) = ({m}, 1) for x "
                         f"of shape ({m}, 1); got shape {tuple(out.shape)}.") from None
    res = out.reshape(x.shape).cpu().numpy().astype(np.float64, copy=True)
    if not np.all(np.isfinite(res)):
        raise ValueError("V(t, x) returned nan/inf on the Brownian-bridge quadrature points; "
                         "check V away from the end points.")
    return res


def dyson_terms(V, xb, xa, T: float, *, alpha: float, order: int = 2, t0: float = 0.0,
                n_time: int = 16, n_space: int = 16) -> np.ndarray:
    r"""Terms ``K^{(0)}, …, K^{(order)}`` of the Dyson series of the thesis' propagator.

    The perturbation series of archive 3757, eq. 47, for the kernel of
    ``alpha φ_t = (alpha²/2) φ_xx + V φ`` (see the module docstring for the formulas and the
    Brownian-bridge evaluation). The order-``n`` approximation of the kernel is
    ``terms[:n + 1].sum(0)``; scaling ``V → λV`` scales term ``k`` by ``λ^k``.

    Args:
        V: the potential, a number or a callable ``(t, x)`` on float64 tensors, both of shape
            ``(M, 1)`` (elementwise), returning ``(M, 1)``.
        xb, xa: end and start points (arrays, broadcast together; shape ``S``).
        T: propagation time (> 0).
        alpha: diffusion constant (> 0).
        order: highest order, 0, 1 or 2.
        t0: starting time (for a time-dependent ``V``); the times are ``t0 + s``.
        n_time: Gauss–Legendre nodes per time variable.
        n_space: Gauss–Hermite nodes per bridge point.

    Returns:
        float64 array of shape ``(order + 1, *S)``: ``terms[k] = K^{(k)}(xb, xa)``.

    Raises:
        ValueError: bad ``T``/``alpha``/``order``/node counts or non-finite points.
        TypeError: ``V`` neither a number nor a callable.
    """
    T = _positive("T", T)
    alpha = _positive("alpha", alpha)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) \
            or not 0 <= order <= DYSON_MAX_ORDER:
        raise ValueError(f"order must be 0, 1 or {DYSON_MAX_ORDER}; got {order!r}. Higher orders "
                         "need n-dimensional bridge expectations (use feynman_kac instead).")
    n_time = _count("n_time", n_time, 1)
    n_space = _count("n_space", n_space, 1)
    xb, xa = np.broadcast_arrays(np.asarray(xb, dtype=np.float64),
                                 np.asarray(xa, dtype=np.float64))
    if not (np.all(np.isfinite(xb)) and np.all(np.isfinite(xa))):
        raise ValueError("xb and xa must be finite.")
    shape = xb.shape
    if order == 2 and xb.size > _CHUNK:  # the order-2 arrays are (P, nt, nt, ns, ns): chunk P
        flat_b, flat_a = xb.reshape(-1), xa.reshape(-1)
        parts = [dyson_terms(V, flat_b[i:i + _CHUNK], flat_a[i:i + _CHUNK], T, alpha=alpha,
                             order=order, t0=t0, n_time=n_time, n_space=n_space)
                 for i in range(0, flat_b.size, _CHUNK)]
        return np.concatenate(parts, axis=1).reshape((order + 1, *shape))
    b, a = xb.reshape(-1, 1), xa.reshape(-1, 1)  # (P, 1)
    K0 = np.exp(-(b - a) ** 2 / (2.0 * alpha * T)) / math.sqrt(2.0 * math.pi * alpha * T)
    terms = [K0.reshape(shape)]
    if order == 0:
        return np.stack(terms)
    u, wu = np.polynomial.legendre.leggauss(n_time)
    u, wu = (u + 1.0) / 2.0, wu / 2.0  # nodes/weights on (0, 1)
    z, wz = np.polynomial.hermite_e.hermegauss(n_space)
    wz = wz / math.sqrt(2.0 * math.pi)  # E[f(Z)] ≈ Σ wz f(z), Z ~ N(0, 1)

    # first order: ∫_0^T E[V(s, X_s)] ds, X_s ~ N(a + (b−a)s/T, alpha s(T−s)/T)
    s = T * u  # (n_time,)
    mean = a[:, :, None] + (b - a)[:, :, None] * (s / T)[None, :, None]  # (P, 1, 1)->(P, nt, 1)
    sd = np.sqrt(alpha * s * (T - s) / T)[None, :, None]  # (1, nt, 1)
    pts = mean + sd * z[None, None, :]  # (P, nt, ns)
    vals = _evaluate(V, np.broadcast_to((t0 + s)[None, :, None], pts.shape), pts)
    ev = (vals * wz).sum(-1)  # (P, nt): E[V(s, X_s)]
    terms.append((K0[:, 0] * (ev * (T * wu)).sum(-1) / alpha).reshape(shape))
    if order == 1:
        return np.stack(terms)

    # second order: ∫_{0<s1<s2<T} E[V(s1, X1) V(s2, X2)]; s2 = T u, s1 = s2 v (Jacobian T² u)
    s2 = T * u[:, None] * np.ones(n_time)[None, :]  # (nt, nt): [i, j] -> s2 = T u_i
    s1 = T * u[:, None] * u[None, :]  # s1 = T u_i u_j
    wt = (T * T) * (wu[:, None] * wu[None, :]) * u[:, None]  # (nt, nt)
    # X1 ~ N(a + (b−a)s1/T, alpha s1(T−s1)/T); X2 | X1 = bridge from (s1, X1) to (T, b)
    A = a[:, :, None, None, None]  # (P, 1, 1, 1, 1)
    B = b[:, :, None, None, None]
    S1, S2 = s1[None, :, :, None, None], s2[None, :, :, None, None]  # (1, nt, nt, 1, 1)
    x1 = (A + (B - A) * S1 / T
          + np.sqrt(alpha * S1 * (T - S1) / T) * z[None, None, None, :, None])  # (P,nt,nt,ns,1)
    frac = (S2 - S1) / (T - S1)
    x2 = (x1 + (B - x1) * frac
          + np.sqrt(alpha * (S2 - S1) * (T - S2) / (T - S1)) * z[None, None, None, None, :])
    full = np.broadcast_shapes(x1.shape, x2.shape)  # (P, nt, nt, ns, ns)
    v1 = _evaluate(V, np.broadcast_to(t0 + S1, x1.shape), x1)
    v2 = _evaluate(V, np.broadcast_to(t0 + S2, full), np.broadcast_to(x2, full))
    ev2 = (v1 * v2 * wz[:, None] * wz[None, :]).sum((-1, -2))  # (P, nt, nt)
    terms.append((K0[:, 0] * (ev2 * wt).sum((-1, -2)) / alpha**2).reshape(shape))
    return np.stack(terms)
