r"""Feynman–Kac Monte Carlo: ``E_x[exp((1/alpha) ∫_0^T V(s, X_s) ds) f(X_T)]``.

The probabilistic form of the path integral in Su's thesis (kexue.fm archive 3757, §"path
integral with a potential"): ``φ(x, t) = E_x[exp((1/alpha) ∫_0^t V(X_s) ds) φ_0(X_t)]`` solves
``alpha φ_t = (alpha²/2) φ_xx + V φ`` when ``X = x + sqrt(alpha) W`` (Feynman 1948; Kac 1949). With
a drift, ``dX = p dt + sqrt(alpha) dW``, the same expectation solves the backward equation
``u_t + p u_x + (alpha/2) u_xx + (V/alpha) u = 0`` read in time-to-go (see
:func:`~kexue.stochastic.kolmogorov_backward`, whose potential is ``V/alpha``).

Terminal-value problems are expressible directly: Black–Scholes is ``x = ln S``, ``alpha = sigma²``,
``drift = r − sigma²/2``, ``V = −r·sigma²`` (so ``(1/alpha)∫V = −rT``, the discount) and
``f(x) = max(e^x − K, 0)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from ._walk import _generator

__all__ = ["feynman_kac", "FeynmanKacResult"]


@dataclass(frozen=True)
class FeynmanKacResult:
    """Monte Carlo estimate with its standard error.

    Attributes:
        mean: estimates, the shape of the starting points ``x`` (0-d for a scalar ``x``).
        stderr: standard errors, same shape (from antithetic pair means when antithetic).
        n_paths: paths per starting point.
        n_samples: independent samples behind ``stderr`` (``n_paths/2`` when antithetic).
    """

    mean: np.ndarray
    stderr: np.ndarray
    n_paths: int
    n_samples: int

    def ci(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Normal-approximation confidence interval ``mean ± z_{(1+level)/2} · stderr``."""
        if not (0.0 < level < 1.0):
            raise ValueError(f"level must lie in (0, 1), e.g. 0.95; got {level!r}.")
        z = stats.norm.ppf(0.5 * (1.0 + level))
        return self.mean - z * self.stderr, self.mean + z * self.stderr


def _call(fn, t: torch.Tensor | None, x: torch.Tensor, *, name: str) -> torch.Tensor:
    """Evaluate a number / ``(t, x)`` callable (or ``(x)`` when ``t`` is None) on ``x`` (M, 1)."""
    m = x.shape[0]
    if fn is None:
        return torch.zeros(m, dtype=torch.float64)
    if isinstance(fn, (int, float, np.floating, np.integer)):
        return torch.full((m,), float(fn), dtype=torch.float64)
    out = fn(x) if t is None else fn(t, x)
    out = torch.as_tensor(out, dtype=torch.float64)
    try:
        out = torch.broadcast_to(out, (m,) if out.ndim == 1 else (m, 1))
    except RuntimeError:
        sig = "(x)" if t is None else "(t, x)"
        raise ValueError(f"{name}{sig} must return shape (M, 1) (or broadcastable) for x of "
                         f"shape ({m}, 1); got {tuple(out.shape)}.") from None
    return out.reshape(m)


def feynman_kac(V, f, x, T: float, *, alpha: float, drift=None, n_paths: int = 100_000,
                n_steps: int = 100, generator=None, antithetic: bool = True,
                t0: float = 0.0) -> FeynmanKacResult:
    r"""Feynman–Kac Monte Carlo for ``E_x[exp((1/alpha) ∫_{t0}^{t0+T} V(s, X_s) ds) f(X_{t0+T})]``.

    ``dX = drift(t, X) dt + sqrt(alpha) dW``, ``X_{t0} = x``, simulated by Euler–Maruyama (exact
    for constant drift) on ``n_steps`` equal steps; the time integral of ``V`` by the trapezoid
    rule. Bias ``O(Δt)`` (weak order 1), statistical error ``O(n_paths^{-1/2})``. Antithetic
    variates (``W`` and ``−W``) reduce the variance for monotone integrands; the standard error
    is then computed from the ``n_paths/2`` independent pair means.

    Sign convention (kexue.fm archive 3757): a negative ``V`` kills/discounts. Su's harmonic case
    ``V = −ω² x²/2`` gives V11, ``V = −alpha c x`` gives V12.

    Args:
        V: potential — ``None``, a number, or a callable ``(t, x) -> (M, 1)`` on float64 tensors
            (``t`` 0-d, ``x`` of shape ``(M, 1)``).
        f: terminal function — a number or a callable ``(x) -> (M, 1)``.
        x: starting point(s): a number or a 1-D array of shape ``(B,)``.
        T: time horizon (> 0).
        alpha: diffusion constant (> 0): the noise is ``sqrt(alpha) dW``.
        drift: ``None`` (pure Brownian motion), a number, or a callable ``(t, x) -> (M, 1)``.
        n_paths: paths per starting point (even when ``antithetic``).
        n_steps: Euler steps (≥ 1).
        generator: ``torch.Generator`` or int seed (``None``: fresh non-deterministic seed).
        antithetic: use antithetic pairs.
        t0: starting time.

    Returns:
        :class:`FeynmanKacResult` with ``.mean``, ``.stderr`` (shape of ``x``) and ``.ci(level)``.

    Raises:
        ValueError: ``alpha <= 0``, ``T <= 0``, bad ``n_paths``/``n_steps``, non-finite ``x``,
            callables returning the wrong shape.
    """
    for name, v in (("alpha", alpha), ("T", T)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a positive finite number; got {v!r}.")
    for name, v, lo in (("n_paths", n_paths, 4 if antithetic else 2), ("n_steps", n_steps, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}.")
    if antithetic and n_paths % 2:
        raise ValueError(f"n_paths must be even with antithetic=True (pairs W, -W); got "
                         f"{n_paths}. Use {n_paths + 1} or antithetic=False.")
    x_arr = np.asarray(x, dtype=np.float64)
    if x_arr.ndim > 1:
        raise ValueError(f"x must be a number or a 1-D array of starting points; got shape "
                         f"{x_arr.shape}.")
    if not np.all(np.isfinite(x_arr)):
        raise ValueError("x must be finite; it contains nan/inf.")
    gen = _generator(generator)
    starts = torch.as_tensor(x_arr.reshape(-1), dtype=torch.float64)  # (B,)
    B, P = starts.numel(), int(n_paths)
    dt = float(T) / n_steps
    sq = math.sqrt(alpha * dt)
    X = starts.repeat(P, 1)  # (P, B)
    t = torch.tensor(float(t0), dtype=torch.float64)
    v_prev = _call(V, t, X.reshape(-1, 1), name="V").reshape(P, B)
    integral = torch.zeros(P, B, dtype=torch.float64)
    for k in range(n_steps):
        if antithetic:
            z = torch.randn(P // 2, B, generator=gen, dtype=torch.float64)
            z = torch.cat([z, -z], dim=0)  # (P, B)
        else:
            z = torch.randn(P, B, generator=gen, dtype=torch.float64)
        if drift is not None:
            X = X + _call(drift, t, X.reshape(-1, 1), name="drift").reshape(P, B) * dt
        X = X + sq * z
        t = torch.tensor(float(t0) + (k + 1) * dt, dtype=torch.float64)
        v_next = _call(V, t, X.reshape(-1, 1), name="V").reshape(P, B)
        integral += 0.5 * (v_prev + v_next) * dt
        v_prev = v_next
    Y = torch.exp(integral / alpha) * _call(f, None, X.reshape(-1, 1), name="f").reshape(P, B)
    if antithetic:
        Y = 0.5 * (Y[: P // 2] + Y[P // 2:])  # (P/2, B) independent pair means
    n_samples = Y.shape[0]
    mean = Y.mean(dim=0).numpy().reshape(x_arr.shape)
    stderr = (Y.std(dim=0, unbiased=True) / math.sqrt(n_samples)).numpy().reshape(x_arr.shape)
    return FeynmanKacResult(mean=mean, stderr=stderr, n_paths=P, n_samples=n_samples)
