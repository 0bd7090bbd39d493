"""Fixed-step SDE solvers: Euler–Maruyama, Milstein, Stratonovich Heun and midpoint, Rößler SRA1.

One entry point, :func:`solve`, integrates ``dx = f(t, x) dt + g(t, x) dW`` (kexue.fm archive
3762, eq. 48 in Su's notation ``dx = p dt + sqrt(alpha) dW``) for a batch of paths and returns
the states at the requested times, time-major ``(len(ts), batch, d)``.

Each method is a small object that declares its own theory (``strong_order``, ``weak_order``,
the SDE interpretation it integrates) and builds a per-step closure. The driver keeps the
per-step Python overhead low:

* inputs and the user's drift/diffusion are validated once, by a probe call at ``(t0, x0)``;
* Brownian increments are drawn in chunks with one ``torch.randn`` call per chunk, and the
  chunk-level quantities a method needs (Milstein's ``(dW² - h)/2``, SRA1's ``dZ/h``) are
  computed once per chunk, vectorised over steps;
* step times are precomputed 0-d tensors, step sizes Python floats;
* without autograd, states are updated in place (``torch.addcmul(..., out=)``, ``add_``) in two
  ping-pong buffers, and the output slots are written directly. When ``x0`` or the probe's
  drift/diffusion require grad (and grad mode is on), the same formulas run out of place, so
  pathwise gradients flow through ``solve``.

References: Kloeden & Platen, *Numerical Solution of Stochastic Differential Equations*
(Springer 1992), §10.2 (Euler), §10.3 (Milstein), §11.1 (Heun-type schemes); Rößler, "Runge–Kutta
methods for the strong approximation of solutions of stochastic differential equations",
SIAM J. Numer. Anal. 48(3):922–952 (2010) (SRA1).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from ..rng import as_generator
from ._affine import affine_coefficients
from ._brownian import BrownianIncrements, _grid_floats
from ._brownian_interval import BrownianInterval
from ._finite import CHECK_EVERY, SolveDiverged, all_finite, locate_nonfinite
from ._ito_stratonovich import ito_to_stratonovich, stratonovich_to_ito
from ._methods import (
    METHODS,
    SRA1,
    Euler,
    Method,
    Milstein,
    StratonovichHeun,
    StratonovichMidpoint,
    get_method,
)
from ._sde import SDE
from ._solve_checks import MIN_DEFAULT_STEPS, CoarseStepWarning, _check_dt, _check_x0, step_grid
from ._solve_linear import _solve_linear
from ._solve_noise import _given_noise, _noise_chunks

__all__ = [
    "Method", "Euler", "Milstein", "StratonovichHeun", "StratonovichMidpoint", "SRA1", "METHODS",
    "solve", "get_method", "CoarseStepWarning", "MIN_DEFAULT_STEPS",
]


def solve(sde: SDE, x0: torch.Tensor, ts: torch.Tensor | Sequence[float], *,
          method: str | Method = "euler", dt: float | None = None,
          generator: torch.Generator | int | None = None,
          brownian: BrownianInterval | BrownianIncrements | torch.Tensor | Callable | None = None,
          adaptive: bool = False, rtol: float = 1e-3, atol: float = 1e-4,
          dt0: float | None = None, max_steps: int = 100_000, dt_max: float | None = None,
          error_estimate: str = "auto", compile: bool = False, check_finite: bool = True,
          adjoint: bool = False, params=None, adjoint_method: str | None = None,
          ) -> torch.Tensor:
    """Integrate ``dx = f(t, x) dt + g(t, x) dW`` with a fixed-step scheme; states at ``ts``.

    Su's SDE ``dx = p(x, t) dt + sqrt(alpha) dW`` (kexue.fm archive 3762) is the special case
    ``f = p``, ``g = sqrt(alpha)``. Schemes (see ``METHODS``; Kloeden & Platen 1992, Rößler 2010):

    ========== ============ ====== ==== ==================================================
    method     reads g dW   strong weak noise
    ========== ============ ====== ==== ==================================================
    euler      Itô          0.5    1    any (strong 1.0 for additive noise)
    milstein   Itô          1.0    1    diagonal, additive, scalar with d == 1 (not general)
    heun       Stratonovich 1.0    1    any (strong 0.5 for general noise)
    midpoint   Stratonovich 1.0    1    any (strong 0.5 for general noise)
    sra1       Itô          1.5    2    additive only
    ========== ============ ====== ==== ==================================================

    Affine SDEs run fused without being declared: when the drift and diffusion are plain
    callables whose traced graph (``torch.fx``; :mod:`kexue.stochastic._affine`) is elementwise
    affine in ``x`` and does not use ``t`` (``lambda t, x: x * mu``, ``-theta * (x - m)``, ...),
    Euler and Milstein without autograd run as :meth:`SDE.linear` does (``x ← M_k x + A_k``;
    for ``b = d = 0``, e.g. GBM, one cumulative product over the steps) — same increments, same
    result up to rounding.

    The SDE is solved as declared by ``sde.sde_type``: when the method reads ``g dW`` in the
    other calculus, the drift is converted first (:func:`~kexue.stochastic.ito_to_stratonovich`
    / :func:`~kexue.stochastic.stratonovich_to_ito`, Kloeden & Platen 1992, eq. 4.9.6; nothing to
    do for additive noise). ``noise="general"``: ``g`` is ``(batch, d, m)`` and ``m`` Brownian
    motions drive the state.

    Args:
        sde: the :class:`SDE`.
        x0: initial states ``(batch, d)``, floating point, finite. A 1-D tensor is rejected as
            ambiguous (``(batch,)`` or ``(d,)``?): pass ``x0[:, None]`` or ``x0[None, :]``.
        ts: output times ``(n_out,)``, strictly increasing, at least two; ``ts[0]`` is the time
            of ``x0``.
        method: a name from ``METHODS`` or a :class:`Method` instance.
        dt: step size. ``None``: one step per interval of ``ts`` (with fewer than
            ``MIN_DEFAULT_STEPS`` such steps and no ``brownian``, a :class:`CoarseStepWarning`).
            Otherwise each interval ``[ts[i], ts[i+1]]`` is cut into ``ceil(length / dt)``
            equal steps.
        generator: for the Brownian increments, by the rule of :mod:`kexue.rng`: a
            ``torch.Generator`` on ``x0``'s device, an int seed, or ``None`` (PyTorch's default
            generator of that device, so ``torch.manual_seed`` reproduces the paths). Every
            tensor is created on ``x0``'s device. For Monte Carlo means over many paths (and
            across processes) see :func:`kexue.stochastic.expectation`.
        brownian: caller-provided Brownian path instead of ``generator``: a
            :class:`BrownianInterval` over ``[ts[0], ts[-1]]`` (queried at the step times, so
            one path serves any grid), a :class:`BrownianIncrements` on a grid that contains
            every step time (restricted exactly to the step grid), a tensor ``dW`` of shape
            ``(n_steps, batch, m)`` on the step grid itself (``m = d``, 1 for scalar noise,
            ``g.shape[-1]`` for general noise), or any callable ``bm(s, t) -> W(t) - W(s)``
            such as torchsde's ``BrownianInterval`` (queried step by step; with
            ``return_U=True`` for ``sra1``). ``sra1`` needs the space-time integral ``dZ``.
        adaptive, rtol, atol, dt0, max_steps, dt_max, error_estimate: ``adaptive=True`` chooses
            the steps with a PI controller on one :class:`BrownianInterval` (``brownian`` must be
            one, or None to build it from ``generator``; ``dt`` must be None), the local error
            from an embedded pair where the method has one (heun, midpoint; euler and sra1 with
            additive noise) or else by step doubling (``error_estimate``); see
            :func:`~kexue.stochastic.solve_adaptive`, which also returns the step counts.
        compile: opt-in, fixed steps without autograd: fuse blocks of steps (the user's ``f``,
            ``g`` and the update) with ``torch.compile`` (:mod:`kexue.stochastic._compiled`);
            same noise, same result up to rounding, much less per-step overhead for few paths.
            Compiling takes seconds to a minute, once per process and SDE object; where it is
            unavailable or fails, a ``CompileFallbackWarning`` and the eager solver. Ignored
            with autograd, ``adaptive=True``, ``SDE.linear`` and affine callables (below),
            which run fused already.
        check_finite: test the state for NaN/inf every ``CHECK_EVERY`` (64) steps and at the
            end of each noise chunk / compiled block (no host sync per step on CUDA); on a
            failure replay the steps since the last good check and raise
            :class:`~kexue.stochastic.SolveDiverged` naming the first non-finite step, its times,
            the paths, and whether the drift, the diffusion or the update produced it.
            ``False``: no checks, non-finite states are returned as they are. With
            ``adjoint=True`` only the returned states are checked (no step is named).
        adjoint, params, adjoint_method: ``adjoint=True`` routes to
            :func:`~kexue.stochastic.solve_adjoint` (gradients with memory independent of the
            number of steps; same arguments, same result): ``params`` (an ``nn.Module`` or
            tensors requiring grad) is then required and ``method`` must be one of
            ``ADJOINT_METHODS`` (``euler``, ``heun``, ``midpoint``, ``reversible_heun``);
            ``adjoint_method`` picks the backward scheme of the stochastic adjoint. With
            ``brownian=None`` the path is ``solve_adjoint``'s counter-based path from
            ``generator`` (re-drawn by the backward pass), not the ``torch.randn`` draws of
            ``adjoint=False``. Not with ``adaptive=True`` or ``compile=True`` (``ValueError``).

    Returns:
        ``(len(ts), batch, d)`` tensor; ``[0]`` is ``x0``. Differentiable with respect to
        ``x0`` and to parameters used in the drift/diffusion when these require grad.

    Raises:
        TypeError: wrong argument types (``sde``, ``x0``, ``dt``, ``generator``, ``brownian``,
            or drift/diffusion returning a non-tensor).
        ValueError: non-finite ``x0`` or ``x0`` not ``(batch, d)``; ``ts`` not 1-D and strictly
            increasing; ``dt <= 0``; unknown ``method``; drift/diffusion of the wrong shape,
            non-finite, or a negative diffusion at ``(ts[0], x0)``; a method that does not apply
            to the noise type (``sra1`` with non-additive noise, ``milstein`` with general
            noise); a general-noise diffusion not ``(batch, d, m)``, or a ``(batch, d, m)``
            diffusion without ``noise="general"``; ``brownian`` of the wrong shape or interval;
            ``adjoint=True`` with ``adaptive``/``compile``/a method the adjoint lacks, or
            ``params``/``adjoint_method`` without ``adjoint=True``.
        SolveDiverged: (a ``FloatingPointError``) with ``check_finite``, the state turned
            NaN/inf mid-solve; the message names the step.

    Examples:
        >>> import math, torch
        >>> from kexue.stochastic import SDE, solve
        >>> sde = SDE.linear(a=-1.0, d=0.5)            # OU: dx = -x dt + 0.5 dW
        >>> x0 = torch.ones(4000, 1, dtype=torch.float64)
        >>> xs = solve(sde, x0, [0.0, 1.0], dt=0.01, generator=0)
        >>> xs.shape                                     # (len(ts), batch, d)
        torch.Size([2, 4000, 1])
        >>> se = xs[-1].std().item() / math.sqrt(4000)
        >>> abs(xs[-1].mean().item() - math.exp(-1.0)) < 3 * se   # E[X_1] = e^{-1}
        True
    """
    if not isinstance(sde, SDE):
        raise TypeError(
            f"sde must be a kexue.stochastic.SDE; got {type(sde).__name__}. Build one with "
            "SDE(drift, diffusion, noise=...)."
        )
    if adjoint:
        return _solve_via_adjoint(sde, x0, ts, method=method, dt=dt, generator=generator,
                                  brownian=brownian, adaptive=adaptive, compile=compile,
                                  params=params, adjoint_method=adjoint_method,
                                  check_finite=check_finite)
    if params is not None or adjoint_method is not None:
        raise ValueError(
            "params / adjoint_method are used only with adjoint=True (gradients by the adjoint "
            "method, kexue.stochastic.solve_adjoint); pass adjoint=True, or leave them out to "
            "backpropagate through the solver."
        )
    if isinstance(check_finite, torch.Tensor) or not isinstance(check_finite, bool):
        raise TypeError(f"check_finite must be True or False; got {check_finite!r}")
    if adaptive:
        if dt is not None:
            raise ValueError("adaptive=True chooses the steps itself: pass dt0 (the first "
                             f"step) instead of dt; got dt={dt!r}")
        from ._adaptive import solve_adaptive

        return solve_adaptive(sde, x0, ts, method=method, rtol=rtol, atol=atol, dt0=dt0,
                              max_steps=max_steps, brownian=brownian, generator=generator,
                              dt_max=dt_max, error_estimate=error_estimate).xs
    stepper = get_method(method)
    x0 = _check_x0(x0)
    grid_np, out_index = step_grid(_grid_floats(ts, "ts"), _check_dt(dt))
    if dt is None and brownian is None and grid_np.size - 1 < MIN_DEFAULT_STEPS:
        warnings.warn(
            f"solve(dt=None) steps exactly on ts: {grid_np.size - 1} step(s) of up to "
            f"{float(np.diff(grid_np).max()):.3g} here, too coarse for most dynamics (one Euler "
            "step of an OU on [0, 1] can get even the sign of the mean wrong). Pass dt "
            "(e.g. dt=1e-3), a finer ts, or adaptive=True; pass dt explicitly to keep coarse "
            "steps without this warning.",
            CoarseStepWarning, stacklevel=2)
    batch, d = x0.shape
    stepper.check(sde, d)
    if stepper.interpretation != getattr(sde, "sde_type", "ito") and sde.noise != "additive":
        sde = (ito_to_stratonovich if stepper.interpretation == "stratonovich"
               else stratonovich_to_ito)(sde)
    dtype, device = x0.dtype, x0.device

    t_all = torch.as_tensor(grid_np, dtype=dtype, device=device)    # (n+1,)
    steps = np.diff(grid_np)
    h = steps.tolist()
    f0, g0 = sde.probe(t_all[0], x0)
    m = sde.noise_dim(d, g0)
    grad = torch.is_grad_enabled() and (x0.requires_grad or f0.requires_grad
                                        or g0.requires_grad)

    if brownian is not None:
        chunks: Iterator = iter([_given_noise(stepper, brownian, grid_np, batch, m, dtype,
                                              device)])
    else:
        gen = as_generator(generator, device=device)
        chunks = _noise_chunks(stepper, steps, batch, m, dtype, device, gen)

    slot = [-1] * grid_np.size                                       # grid index -> output row
    for i, k in enumerate(out_index):
        slot[k] = i
    locate = _locator(stepper, sde, t_all, h, x0) if check_finite else None
    lin = None
    if not grad and type(stepper) in (Euler, Milstein):
        lin = sde.linear_coefficients
        if lin is None:                      # plain callables that are affine in x (traced)
            lin = affine_coefficients(sde, t_all[0], x0, f0, g0)
    if lin is not None:
        return _solve_linear(lin, sde.noise == "additive", type(stepper) is Milstein, chunks,
                             steps, x0, len(out_index), slot, locate)
    if compile and not grad:
        from ._compiled import solve_blocks

        return solve_blocks(stepper, sde, chunks, t_all, h, x0, len(out_index), slot,
                            locate=locate)
    t = list(t_all.unbind(0))                                        # 0-d tensors, made once
    step = stepper.make_step(sde, t, h, like=x0, inplace=not grad)

    if grad:
        xs = [x0]
        x = saved = x0
        k_saved = 0
        for k0, terms in chunks:
            n_c = terms[0].shape[0]
            for k, nk in enumerate(zip(*(v.unbind(0) for v in terms)), start=k0):
                x = step(k, x, nk, None)
                if slot[k + 1] >= 0:
                    xs.append(x)
                if locate is not None and (k + 1 - k_saved >= CHECK_EVERY
                                           or k + 1 == k0 + n_c):
                    if not all_finite(x.detach()):
                        locate(saved.detach(), k_saved, k + 1, terms, k0)
                    saved, k_saved = x, k + 1
        return torch.stack(xs)                                       # (n_out, batch, d)

    with torch.no_grad():
        out = torch.empty((len(out_index), batch, d), dtype=dtype, device=device)
        out[0] = x0
        rows = list(out.unbind(0))                                   # (batch, d) views
        priv = (torch.empty_like(x0), torch.empty_like(x0))          # ping-pong buffers
        x = rows[0]
        saved = x0.detach().clone() if locate is not None else None   # last checked state
        k_saved = 0
        for k0, terms in chunks:
            n_c = terms[0].shape[0]
            for k, nk in enumerate(zip(*(v.unbind(0) for v in terms)), start=k0):
                s = slot[k + 1]
                target = rows[s] if s >= 0 else (priv[1] if x is priv[0] else priv[0])
                x = step(k, x, nk, target)
                if saved is not None and (k + 1 - k_saved >= CHECK_EVERY or k + 1 == k0 + n_c):
                    if not all_finite(x):
                        locate(saved, k_saved, k + 1, terms, k0)
                    saved.copy_(x)
                    k_saved = k + 1
        return out


def _locator(stepper: Method, sde: SDE, t_all: torch.Tensor, h: list[float],
             x0: torch.Tensor) -> Callable:
    """``locate(x_start, k_start, k_stop, terms, k0)``: replay steps ``k_start .. k_stop - 1``
    (inside the noise chunk ``terms`` that starts at step ``k0``) and raise
    :class:`SolveDiverged` naming the first non-finite one. Costs nothing until called."""
    t: list[torch.Tensor] = []

    def make_step():
        return stepper.make_step(sde, t, h, like=x0, inplace=False)

    def locate(x_start, k_start, k_stop, terms, k0):
        nonlocal t
        t = list(t_all.unbind(0))
        locate_nonfinite(make_step, sde.drift, sde.diffusion, t, x_start, k_start, k_stop,
                         lambda k: tuple(v[k - k0] for v in terms))
        raise SolveDiverged(
            f"solve: the state became non-finite between steps {k_start} and {k_stop} (t = "
            f"{float(t[k_start]):.6g} → {float(t[k_stop]):.6g}), but a step-by-step replay "
            "from the last finite state stayed finite: the drift/diffusion is not a "
            "deterministic function of (t, x) (or the fused/linear kernel overflowed where the "
            "plain step does not). Check f and g there, or reduce dt.",
            step=k_start, t_start=float(t[k_start]), t_end=float(t[k_stop]),
            source="update", paths=[])
    return locate


def _solve_via_adjoint(sde, x0, ts, *, method, dt, generator, brownian, adaptive, compile,
                       params, adjoint_method, check_finite) -> torch.Tensor:
    """``solve(..., adjoint=True)``: check the options the adjoint does not have, then
    :func:`~kexue.stochastic.solve_adjoint` with the same arguments."""
    from ._adjoint import ADJOINT_METHODS, solve_adjoint

    if adaptive:
        raise ValueError(
            "adjoint=True with adaptive=True is not supported: the adjoint walks a fixed step "
            "grid backwards. Pass dt (fixed steps), or use adaptive=True without adjoint "
            "(gradients by backprop through solve_adaptive's steps)."
        )
    if compile:
        raise ValueError(
            "adjoint=True with compile=True is not supported: the compiled blocks run without "
            "autograd. Drop compile=True (the adjoint's memory does not grow with the steps)."
        )
    if isinstance(method, Method):
        method = method.name
    if method not in ADJOINT_METHODS:
        raise ValueError(
            f"adjoint=True: method {method!r} has no adjoint here; use one of "
            f"{', '.join(ADJOINT_METHODS)} ('reversible_heun' gives gradients exact to rounding), "
            "or adjoint=False to backpropagate through the solver."
        )
    if isinstance(check_finite, torch.Tensor) or not isinstance(check_finite, bool):
        raise TypeError(f"check_finite must be True or False; got {check_finite!r}")
    ys = solve_adjoint(sde, x0, ts, params=params, method=method, adjoint_method=adjoint_method,
                       dt=dt, brownian=brownian, generator=generator)
    if check_finite and not all_finite(ys.detach()):
        bad = (~torch.isfinite(ys.detach())).flatten(1).any(1).nonzero().flatten().tolist()
        raise SolveDiverged(
            f"solve(adjoint=True): the returned states are non-finite at output times "
            f"{bad[:5]} (index into ts); the adjoint solve does not name the step. Rerun with "
            "adjoint=False (same scheme) to locate it, or reduce dt.",
            step=-1, t_start=float("nan"), t_end=float("nan"), source="update", paths=[])
    return ys
