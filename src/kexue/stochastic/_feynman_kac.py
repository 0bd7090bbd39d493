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

from .. import parallel
from ..devices import infer_device
from ..rng import block_generator
from ._montecarlo import (
    DEFAULT_BLOCK_SIZE,
    MonteCarloResult,
    block_moments,
    check_block_size,
    combine_moments,
    resolve_seed,
)

__all__ = ["feynman_kac", "FeynmanKacResult"]


@dataclass(frozen=True)
class FeynmanKacResult(MonteCarloResult):
    """Monte Carlo estimate with its standard error (a :class:`MonteCarloResult`).

    Source: Feynman–Kac (Kac 1949) as in Su's thesis, path integral (kexue.fm archive 3757).

    Attributes:
        mean: estimates, float64 tensor of the shape of the starting points ``x`` (0-d for a
            scalar ``x``) on the device of the computation. (Before kexue 12 a NumPy array;
            ``np.asarray(result.mean)``, ``float(result.mean)`` and arithmetic still work on
            CPU.)
        stderr: standard errors, same shape (from antithetic pair means when antithetic).
        n_paths: paths per starting point.
        n_samples: independent samples behind ``stderr`` (``n_paths/2`` when antithetic).
        block_size, seed: the Monte Carlo blocks (see :func:`feynman_kac`).
    """


def _call(fn, t: torch.Tensor | None, x: torch.Tensor, *, name: str) -> torch.Tensor:
    """Evaluate a number / ``(t, x)`` callable (or ``(x)`` when ``t`` is None) on ``x`` (M, 1);
    the result is ``(M,)`` on ``x``'s device and dtype."""
    m = x.shape[0]
    if fn is None:
        return x.new_zeros(m)
    if isinstance(fn, (int, float, np.floating, np.integer)):
        return x.new_full((m,), float(fn))
    out = fn(x) if t is None else fn(t, x)
    out = torch.as_tensor(out, dtype=x.dtype, device=x.device)
    try:
        out = torch.broadcast_to(out, (m,) if out.ndim == 1 else (m, 1))
    except RuntimeError:
        sig = "(x)" if t is None else "(t, x)"
        raise ValueError(f"{name}{sig} must return shape (M, 1) (or broadcastable) for x of "
                         f"shape ({m}, 1); got {tuple(out.shape)}.") from None
    return out.reshape(m)


def feynman_kac(V, f, x, T: float, *, alpha: float, drift=None, n_paths: int = 100_000,
                n_steps: int = 100, generator=None, antithetic: bool = True,
                t0: float = 0.0, block_size: int = DEFAULT_BLOCK_SIZE, seed: int | None = None,
                device: torch.device | str | None = None,
                dtype: torch.dtype = torch.float64) -> FeynmanKacResult:
    r"""Feynman–Kac Monte Carlo for ``E_x[exp((1/alpha) ∫_{t0}^{t0+T} V(s, X_s) ds) f(X_{t0+T})]``.

    ``dX = drift(t, X) dt + sqrt(alpha) dW``, ``X_{t0} = x``, simulated by Euler–Maruyama (exact
    for constant drift) on ``n_steps`` equal steps; the time integral of ``V`` by the trapezoid
    rule. Bias ``O(Δt)`` (weak order 1), statistical error ``O(n_paths^{-1/2})``. Antithetic
    variates (``W`` and ``−W``) reduce the variance for monotone integrands; the standard error
    is then computed from the ``n_paths/2`` independent pair means.

    Sign convention (kexue.fm archive 3757): a negative ``V`` kills/discounts. Su's harmonic case
    ``V = −ω² x²/2`` gives V11, ``V = −alpha c x`` gives V12.

    Blocks and processes: the ``n_paths`` paths (per starting point) are cut into blocks of
    ``block_size``; block ``b`` draws its increments from
    :func:`kexue.rng.block_generator` ``(seed, b)`` (antithetic pairs stay inside a block) and
    returns float64 moments of its samples, combined in block order (Chan et al. 1983). Under an
    initialised process group (``torchrun``) the blocks are shared among the processes; mean and
    standard error are then bit-identical to the single-process result with the same seed.

    Args:
        V: potential — ``None``, a number, or a callable ``(t, x) -> (M, 1)`` on tensors of
            ``dtype`` (``t`` 0-d, ``x`` of shape ``(M, 1)``).
        f: terminal function — a number or a callable ``(x) -> (M, 1)``.
        x: starting point(s): a number, a 1-D array or a 1-D tensor of shape ``(B,)``.
        T: time horizon (> 0).
        alpha: diffusion constant (> 0): the noise is ``sqrt(alpha) dW``.
        drift: ``None`` (pure Brownian motion), a number, or a callable ``(t, x) -> (M, 1)``.
        n_paths: paths per starting point (even when ``antithetic``).
        n_steps: Euler steps (≥ 1).
        generator: the blocks' seed by the rule of :mod:`kexue.rng`: an int is the seed, a
            ``torch.Generator`` gives one seed drawn from it, ``None`` draws it from PyTorch's
            default generator (``torch.manual_seed`` reproduces the run).
        antithetic: use antithetic pairs.
        t0: starting time.
        block_size: paths per block (even when ``antithetic``); the result depends on it, not
            on the number of processes.
        seed: the blocks' seed as an int (instead of ``generator``).
        device: where to simulate (default: ``x``'s device if a tensor, else PyTorch's default).
        dtype: simulation dtype (float64 default); the moments are float64 whatever it is.

    Returns:
        :class:`FeynmanKacResult` with ``.mean``, ``.stderr`` (float64 tensors of the shape of
        ``x`` on the device) and ``.ci(level)``.

    Raises:
        ValueError: ``alpha <= 0``, ``T <= 0``, bad ``n_paths``/``n_steps``/``block_size``,
            non-finite ``x``, callables returning the wrong shape, both ``seed`` and
            ``generator``, more processes than blocks.
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
    block_size = check_block_size(block_size, even=antithetic)
    dev = infer_device(device, x)
    if isinstance(x, torch.Tensor):
        x_arr = x.detach().to(dtype=torch.float64)
        shape = tuple(x_arr.shape)
    else:
        x_arr = np.asarray(x, dtype=np.float64)
        shape = x_arr.shape
    if len(shape) > 1:
        raise ValueError(f"x must be a number or a 1-D array of starting points; got shape "
                         f"{shape}.")
    starts = torch.as_tensor(x_arr, dtype=dtype, device=dev).reshape(-1)  # (B,)
    if not bool(torch.isfinite(starts).all()):
        raise ValueError("x must be finite; it contains nan/inf.")
    seed_value = resolve_seed(generator, seed)
    B, P = starts.numel(), int(n_paths)
    dt = float(T) / n_steps
    sq = math.sqrt(alpha * dt)
    # step times made once, as float(t0) + k dt (0-d tensors on the device)
    times = list(torch.tensor([float(t0) + k * dt for k in range(n_steps + 1)], dtype=dtype,
                              device=dev).unbind(0))
    ranges = parallel.block_ranges(P, block_size)

    def block(b: int) -> torch.Tensor:
        lo, hi = ranges[b]
        pb = hi - lo
        gen = block_generator(seed_value, b, device=dev)
        X = starts.repeat(pb, 1)  # (pb, B)
        v_prev = _call(V, times[0], X.reshape(-1, 1), name="V").reshape(pb, B)
        integral = torch.zeros(pb, B, dtype=dtype, device=dev)
        for k in range(n_steps):
            if antithetic:
                z = torch.randn(pb // 2, B, generator=gen, dtype=dtype, device=dev)
                z = torch.cat([z, -z], dim=0)  # (pb, B)
            else:
                z = torch.randn(pb, B, generator=gen, dtype=dtype, device=dev)
            if drift is not None:
                X = X + _call(drift, times[k], X.reshape(-1, 1), name="drift").reshape(pb, B) * dt
            X = X + sq * z
            v_next = _call(V, times[k + 1], X.reshape(-1, 1), name="V").reshape(pb, B)
            integral += 0.5 * (v_prev + v_next) * dt
            v_prev = v_next
        Y = torch.exp(integral / alpha) * _call(f, None, X.reshape(-1, 1), name="f").reshape(pb, B)
        if antithetic:
            Y = 0.5 * (Y[: pb // 2] + Y[pb // 2:])  # (pb/2, B) independent pair means
        return block_moments(Y)  # (3, B)

    with torch.no_grad():
        parts = parallel.map_blocks(block, len(ranges))
        mean, stderr = combine_moments(parts)
    return FeynmanKacResult(mean=mean.reshape(shape), stderr=stderr.reshape(shape), n_paths=P,
                            n_samples=P // 2 if antithetic else P, block_size=block_size,
                            seed=seed_value)
