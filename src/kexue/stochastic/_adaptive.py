"""Adaptive SDE stepping on one Brownian path: step doubling with a PI step-size controller.

Every fixed-step method of :mod:`kexue.stochastic` becomes adaptive by *step doubling*
(Gaines & Lyons 1997, SIAM J. Appl. Math. 57(5); torchsde's ``adaptive=True``): from ``(t, x)``
with step ``h`` take one step ``x_1`` over ``[t, t+h]`` and two steps ``x_2`` over
``[t, t+h/2]``, ``[t+h/2, t+h]``, all three driven by the *same* Brownian path (a
:class:`~kexue.stochastic.BrownianInterval`: the half-step increments are the bridge values
conditioned on ``W(t, t+h)``, so a rejected step never redraws its noise and acceptance does not
bias the law — Rackauckas & Nie 2017 on why redrawing is wrong). The error is the RMS over the
batch and the state of ``(x_2 - x_1) / (atol + rtol max(|x|, |x_2|))``; a step is accepted when
it is ``<= 1`` and then ``x ← x_2``. The next step is ``h · clip(safety · e_n^{-β1} · e_{n-1}^{β2},
factor_min, factor_max)`` with ``β1 = 0.7/k``, ``β2 = 0.4/k`` (Söderlind's PI controller; Hairer &
Wanner, *Solving ODEs II*, §IV.2), ``k = strong order + ½`` (the local order of a strong scheme;
diffrax's ``PIDController`` uses the same exponent for SDEs), and no growth right after a
rejection. One step size is shared by the whole batch. Steps never cross an output time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..rng import seed_from
from ._brownian import _grid_floats
from ._brownian_interval import BrownianInterval
from ._sde import SDE, ito_to_stratonovich, stratonovich_to_ito
from ._solvers import Method, _check_x0, get_method

__all__ = ["AdaptiveSolution", "solve_adaptive"]


@dataclass
class AdaptiveSolution:
    """Result of :func:`solve_adaptive`.

    Attributes:
        xs: states at the output times ``(len(ts), batch, d)``.
        steps: the accepted step times ``(n_accepted + 1,)`` float64 (NumPy).
        n_accepted: accepted steps.
        n_rejected: rejected steps (each cost three step evaluations, as an accepted one).
    """

    xs: torch.Tensor
    steps: np.ndarray
    n_accepted: int
    n_rejected: int


def _positive(v, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{name} must be a positive float; got {type(v).__name__}")
    v = float(v)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                         f"finite number; got {v!r}. Typical values: rtol=1e-3, atol=1e-4.")
    return v


def solve_adaptive(sde: SDE, x0: torch.Tensor, ts: torch.Tensor | Sequence[float], *,
                   method: str | Method = "euler", rtol: float = 1e-3, atol: float = 1e-4,
                   dt0: float | None = None, dt_min: float | None = None,
                   max_steps: int = 100_000, brownian: BrownianInterval | None = None,
                   generator: torch.Generator | int | None = None, safety: float = 0.9,
                   factor_min: float = 0.2, factor_max: float = 5.0) -> AdaptiveSolution:
    """Adaptive-step solve of ``dx = f dt + g dW`` by step doubling on one Brownian path.

    See the module docstring for the error estimate and the PI controller. The SDE is solved as
    declared by ``sde.sde_type`` (converted for the method like :func:`solve` does).

    Args:
        sde, x0, ts, method: as for :func:`~kexue.stochastic.solve` (``x0`` ``(batch, d)``).
        rtol, atol: relative and absolute tolerance of the local error (``rtol > 0``,
            ``atol >= 0``).
        dt0: first step (default ``(ts[-1] - ts[0]) / 100``).
        dt_min: smallest step; a step this small is accepted whatever its error (default: the
            Brownian tree's leaf ``tol``).
        max_steps: most step attempts (accepted + rejected) before giving up.
        brownian: a :class:`BrownianInterval` over ``[ts[0], ts[-1]]`` of shape ``(batch, m)``
            (with ``levy_area="space-time"`` for ``sra1``); default: one built from
            ``generator`` (the :mod:`kexue.rng` rule) on ``x0``'s device.
        generator: seed source when ``brownian`` is None.
        safety, factor_min, factor_max: controller constants.

    Returns:
        :class:`AdaptiveSolution` with ``xs (len(ts), batch, d)``, the accepted step times and
        the accepted/rejected counts.

    Raises:
        TypeError: ``brownian`` not a :class:`BrownianInterval`; wrong argument types.
        ValueError: ``rtol <= 0``, ``atol < 0``, ``dt0``/``dt_min <= 0``, ``max_steps < 1``,
            ``brownian`` not covering ``ts`` or of the wrong shape, and everything
            :func:`solve` rejects.
        RuntimeError: more than ``max_steps`` attempts.
    """
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be a kexue.stochastic.SDE; got {type(sde).__name__}")
    stepper = get_method(method)
    x0 = _check_x0(x0)
    grid = _grid_floats(ts, "ts")
    rtol = _positive(rtol, "rtol")
    atol = _positive(atol, "atol", allow_zero=True)
    span = float(grid[-1] - grid[0])
    h = span / 100 if dt0 is None else _positive(dt0, "dt0")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int; got {max_steps!r}")
    batch, d = x0.shape
    stepper.check(sde, d)
    if stepper.interpretation != getattr(sde, "sde_type", "ito") and sde.noise != "additive":
        sde = (ito_to_stratonovich if stepper.interpretation == "stratonovich"
               else stratonovich_to_ito)(sde)
    dtype, device = x0.dtype, x0.device
    t0 = torch.as_tensor(grid[0], dtype=dtype, device=device)
    _, g0 = sde.probe(t0, x0)
    m = sde.noise_dim(d, g0)
    levy = "space-time" if stepper.levy_area else None
    if brownian is None:
        brownian = BrownianInterval(grid[0], grid[-1], (batch, m), seed=seed_from(generator),
                                    dtype=dtype, device=device, levy_area=levy)
    elif not isinstance(brownian, BrownianInterval):
        raise TypeError(f"brownian must be a BrownianInterval (rejected steps are re-queried "
                        f"at new times); got {type(brownian).__name__}")
    if brownian.t0 > grid[0] or brownian.t1 < grid[-1]:
        raise ValueError(f"brownian covers [{brownian.t0!r}, {brownian.t1!r}] but ts spans "
                         f"[{float(grid[0])!r}, {float(grid[-1])!r}]; build it over ts.")
    if brownian.shape != (batch, m):
        raise ValueError(f"brownian has shape {brownian.shape}; the solve needs (batch, m) = "
                         f"({batch}, {m}).")
    if levy and brownian.levy_area is None:
        raise ValueError(f"method {stepper.name!r} needs levy_area='space-time' in brownian")
    h_min = brownian.tol if dt_min is None else _positive(dt_min, "dt_min")
    order = stepper.strong_order_for(sde) + 0.5
    beta1, beta2 = 0.7 / order, 0.4 / order

    def one(x, ta, tb):
        hk = tb - ta
        tt = [torch.as_tensor(ta, dtype=dtype, device=device),
              torch.as_tensor(tb, dtype=dtype, device=device)]
        if levy:
            dw, dz = brownian(ta, tb, return_U=True)
            terms = stepper.noise_terms(dw[None].to(dtype), dz[None].to(dtype), hk)
        else:
            terms = stepper.noise_terms(brownian(ta, tb)[None].to(dtype), None, hk)
        step = stepper.make_step(sde, tt, [hk], like=x, inplace=False)
        return step(0, x, tuple(v[0] for v in terms), None)

    xs = [x0]
    x, t = x0, float(grid[0])
    steps = [t]
    n_acc = n_rej = 0
    prev_err = 1.0
    just_rejected = False
    with torch.no_grad() if not x0.requires_grad else torch.enable_grad():
        for t_out in grid[1:]:
            t_out = float(t_out)
            while t < t_out:
                if n_acc + n_rej >= max_steps:
                    raise RuntimeError(
                        f"solve_adaptive: {max_steps} step attempts reached at t={t:g} (of "
                        f"{float(grid[-1]):g}); raise max_steps or loosen rtol/atol.")
                hk = min(h, t_out - t)
                last = t + hk >= t_out - 1e-12 * max(1.0, abs(t_out))
                tb = t_out if last else t + hk
                x1 = one(x, t, tb)
                tm = 0.5 * (t + tb)
                x2 = one(one(x, t, tm), tm, tb)
                scale = atol + rtol * torch.maximum(x.abs(), x2.abs())
                err = float(((x2 - x1) / scale).pow(2).mean().sqrt())
                if not math.isfinite(err):
                    err = math.inf
                if err <= 1.0 or tb - t <= h_min:
                    x, t = x2, tb
                    steps.append(t)
                    n_acc += 1
                    fac = safety * max(err, 1e-10) ** -beta1 * prev_err ** beta2
                    if just_rejected:
                        fac = min(fac, 1.0)
                    prev_err, just_rejected = max(err, 1e-4), False
                    if not last:                     # an output time cut the step: keep h
                        h = hk * min(factor_max, max(factor_min, fac))
                else:
                    n_rej += 1
                    just_rejected = True
                    fac = safety * err ** -beta1 if math.isfinite(err) else factor_min
                    h = max(h_min, (tb - t) * min(1.0, max(factor_min, fac)))
            xs.append(x)
    return AdaptiveSolution(torch.stack(xs), np.asarray(steps), n_acc, n_rej)
