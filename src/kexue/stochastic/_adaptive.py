"""Adaptive SDE steps on one Brownian path: embedded error estimates or step doubling, PI control.

Every attempt over ``[t, t+h]`` is driven by one :class:`~kexue.stochastic.BrownianInterval`:
the increments of a rejected (and shortened) step are bridge values of the *same* path,
conditioned on what was already queried, so a rejection never redraws noise and acceptance does
not bias the law (Rackauckas & Nie 2017 on why redrawing is wrong). Two error estimates:

* **embedded**, where the method has one: a second, lower-order solution ``x̂`` from the same
  stages and the same ``ΔW`` —

  ======== ============================== ===================================== ===========
  method   kept solution ``x'``           embedded ``x̂``                        local order
  ======== ============================== ===================================== ===========
  heun     Heun (Stratonovich)            its Euler predictor ``x + f h + g ΔW`` 1 (1.5 [*])
  midpoint midpoint (Stratonovich)        Euler ``2 x̃ - x`` from its half step  1 (1.5 [*])
  euler    Euler (additive noise only)    Heun's corrector [†]                   1.5
  sra1     SRA1 (additive noise)          ``x + f(t, x) h + g(t+h) ΔW``         1.5
  ======== ============================== ===================================== ===========

  [*] for additive noise. [†] first same as last: the corrector's ``f(t+h, x̂)`` and (additive
  noise) ``g(t+h)`` are the next step's ``f(t, x)``, ``g(t)``, so an accepted step costs one f
  and one g call, as fixed-step Euler. The Euler/Heun pair is the Heun–Euler embedded pair of
  ODE solvers (Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4) read on a Brownian path, as
  diffrax's ``Heun`` and DifferentialEquations.jl's ``EulerHeun`` use it. For ``sra1`` (Rößler
  2010, SIAM J. Numer. Anal. 48(3), Table 5.1) the lower-order solution takes the drift weights
  ``(1, 0)`` instead of ``(⅓, ⅔)`` and ``g(t+h) ΔW`` alone, so ``x' - x̂ = ⅔ (f(t+¾h, H2) -
  f(t, x)) h + (g(t) - g(t+h)) I10/h`` — the two terms DifferentialEquations.jl's ``SRA1``
  controls. ``x' - x̂`` estimates the local error of the *lower-order* solution: heun, midpoint
  and sra1 keep the higher-order ``x'`` (local extrapolation; the estimate is conservative),
  euler keeps its own solution ``x̂`` and uses the corrector only to measure its error. The
  estimate costs no drift/diffusion call beyond the method's own (Euler: see [†]).
* **doubling**, for every method (the only estimate for milstein, for euler with non-additive
  noise and for custom :class:`~kexue.stochastic.Method` objects): one step ``x_1`` over
  ``[t, t+h]`` and two steps ``x_2`` over the halves (Gaines & Lyons 1997, SIAM J. Appl. Math.
  57(5); torchsde's ``adaptive=True``), keeping ``x_2``: three step evaluations per attempt,
  two queries of the tree (the half steps; the whole step's increment is their sum,
  :func:`join_increments`). Local order: the method's strong order + ½.

The error is the RMS over the batch and the state of ``(x' - x̂) / (atol + rtol max(|x|, |x'|))``
and a step is accepted when it is ``<= 1``. The next step is ``h · clip(safety · e_n^{-β1} ·
e_{n-1}^{β2}, factor_min, factor_max)`` with ``β1 = 0.7/k``, ``β2 = 0.4/k`` (Söderlind's PI
controller; Hairer & Wanner, *Solving ODEs II*, §IV.2; ``k`` the local order of the estimate, the
exponent diffrax's ``PIDController`` uses for SDEs), and no growth right after a rejection. One
step size is shared by the whole batch. Steps never cross an output time.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..rng import seed_from
from ._brownian import _grid_floats
from ._brownian_interval import BrownianInterval
from ._ito_stratonovich import ito_to_stratonovich, stratonovich_to_ito
from ._methods import (
    SRA1,
    Euler,
    Method,
    StratonovichHeun,
    StratonovichMidpoint,
    _gdw,
    get_method,
)
from ._sde import SDE
from ._solve_checks import _check_x0

__all__ = ["AdaptiveSolution", "solve_adaptive", "ERROR_ESTIMATES", "has_embedded",
           "join_increments"]

ERROR_ESTIMATES = ("auto", "embedded", "doubling")


@dataclass
class AdaptiveSolution:
    """Result of :func:`solve_adaptive`.

    Source: Gaines and Lyons 1997 (SIAM J. Appl. Math.).

    Attributes:
        xs: states at the output times ``(len(ts), batch, d)``.
        steps: the accepted step times ``(n_accepted + 1,)`` float64 (NumPy).
        n_accepted: accepted steps.
        n_rejected: rejected steps (each cost as much as an accepted one).
        n_f: calls of the drift ``f`` made by the solve (every attempt, every stage, the
            Itô–Stratonovich conversion; not the calls of the boundary check at ``(t0, x0)``).
        n_g: calls of the diffusion ``g``, counted likewise (autograd ``∂g/∂x`` included).
        error_estimate: ``"embedded"`` or ``"doubling"``: the estimate that was used.
    """

    xs: torch.Tensor
    steps: np.ndarray
    n_accepted: int
    n_rejected: int
    n_f: int = 0
    n_g: int = 0
    error_estimate: str = "doubling"

    @property
    def n_attempts(self) -> int:
        """Accepted plus rejected steps."""
        return self.n_accepted + self.n_rejected


def _positive(v, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                        f"float; got {type(v).__name__}. Typical values: rtol=1e-3, atol=1e-4.")
    v = float(v)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                         f"finite number; got {v!r}. Typical values: rtol=1e-3, atol=1e-4.")
    return v


def has_embedded(method: str | Method, noise: str) -> bool:
    """Whether ``method`` has an embedded error estimate for ``noise`` (see the module table):
    heun and midpoint for every noise type, euler and sra1 for additive noise."""
    stepper = get_method(method)
    if type(stepper) in (StratonovichHeun, StratonovichMidpoint):
        return True
    return type(stepper) in (Euler, SRA1) and noise == "additive"


def join_increments(first: tuple[torch.Tensor, ...], second: tuple[torch.Tensor, ...],
                    h2: float) -> tuple[torch.Tensor, ...]:
    """The Brownian increment (and space-time integral) over ``[a, c]`` from those over
    ``[a, b]`` and ``[b, c]``, ``h2 = c - b``: ``W_ac = W_ab + W_bc`` and
    ``Z_ac = Z_ab + Z_bc + h2 W_ab`` (``Z_st = ∫_s^t (W(u) - W(s)) du``; the integral over
    ``[b, c]`` measured from ``W(a)`` gains ``h2 (W(b) - W(a))``). Step doubling queries the two
    half steps and joins them, so each attempt costs two queries of the tree, not three."""
    if len(first) == 1:
        return (first[0] + second[0],)
    return first[0] + second[0], first[1] + second[1] + h2 * first[0]


def _counting(sde: SDE) -> tuple[SDE, list[int]]:
    """A copy of ``sde`` whose drift and diffusion count their calls in ``counts = [n_f, n_g]``."""
    counts = [0, 0]
    drift, diffusion = sde.drift, sde.diffusion

    def f(t, x):
        counts[0] += 1
        return drift(t, x)

    def g(t, x):
        counts[1] += 1
        return diffusion(t, x)

    return SDE(f, g, noise=sde.noise, diffusion_dx=sde.diffusion_dx,
               sde_type=sde.sde_type), counts


Attempt = Callable[[torch.Tensor, float, float], "tuple[torch.Tensor, torch.Tensor]"]


def _embedded_attempt(stepper: Method, sde: SDE, noise: Callable, tt: Callable) -> Attempt:
    """``attempt(x, ta, tb) -> (x', x' - x̂)`` for the embedded pairs of the module table.

    Values at the end of an attempt that the next attempt needs are kept (first same as last):
    Euler's pair keeps ``x̂ = x + f h + g ΔW``, so ``f(t+h, x̂)`` is the next step's ``f(t, x)``;
    with additive noise ``g(t+h)`` is the next step's ``g(t)``. A rejected attempt's values are
    not reused (another ``x`` or another time)."""
    f, g = sde.drift, sde.diffusion
    gdw = _gdw if sde.noise == "general" else torch.mul
    kind = type(stepper)
    additive = sde.noise == "additive"
    memo: dict[str, tuple] = {}

    def fc(ta: float, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        got = memo.get("f")
        if got is not None and got[0] == ta and got[1] is x:
            return got[2]
        return f(t, x)

    def gc(ta: float, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        got = memo.get("g")
        if got is not None and got[0] == ta and (additive or got[1] is x):
            return got[2]
        return g(t, x)

    if kind is SRA1:
        def attempt_sra1(x, ta, tb):
            h = tb - ta
            dw, dz = noise(ta, tb)
            zh = dz / h                                            # I10 / h
            t0, t1 = tt(ta), tt(tb)
            g0, g1 = gc(ta, t0, x), g(t1, x)
            memo["g"] = (tb, None, g1)
            f1 = f(t0, x)
            h2 = x + f1 * (0.75 * h) + g1 * (1.5 * zh)
            f2 = f(tt(ta + 0.75 * h), h2)
            y = x + (f1 + 2.0 * f2) * (h / 3.0) + g1 * (dw - zh) + g0 * zh
            return y, (f2 - f1) * (2.0 * h / 3.0) + (g0 - g1) * zh
        return attempt_sra1

    if kind is StratonovichMidpoint:
        def attempt_mid(x, ta, tb):
            h = tb - ta
            (dw,) = noise(ta, tb)
            t0, tm = tt(ta), tt(ta + 0.5 * h)
            xm = x + f(t0, x) * (0.5 * h) + gdw(g(t0, x), dw) * 0.5
            y = x + f(tm, xm) * h + gdw(g(tm, xm), dw)
            return y, y - (2.0 * xm - x)                           # Euler = 2 x̃ - x
        return attempt_mid

    keep_euler = kind is Euler                                     # euler: keep x̂, Heun measures

    def attempt_heun(x, ta, tb):
        h = tb - ta
        (dw,) = noise(ta, tb)
        t0, t1 = tt(ta), tt(tb)
        fx, gx = fc(ta, t0, x), gc(ta, t0, x)
        xp = x + fx * h + gdw(gx, dw)                              # Euler (predictor)
        fp, gp = f(t1, xp), g(t1, xp)
        memo["f"], memo["g"] = (tb, xp, fp), (tb, xp, gp)
        y = x + (fx + fp) * (0.5 * h) + gdw(gx + gp, dw) * 0.5
        return (xp, y - xp) if keep_euler else (y, y - xp)
    return attempt_heun


def solve_adaptive(sde: SDE, x0: torch.Tensor, ts: torch.Tensor | Sequence[float], *,
                   method: str | Method = "euler", rtol: float = 1e-3, atol: float = 1e-4,
                   dt0: float | None = None, dt_min: float | None = None,
                   dt_max: float | None = None, max_steps: int = 100_000,
                   brownian: BrownianInterval | None = None,
                   generator: torch.Generator | int | None = None,
                   error_estimate: str = "auto", safety: float = 0.9,
                   factor_min: float = 0.2, factor_max: float = 5.0) -> AdaptiveSolution:
    """Adaptive-step solve of ``dx = f dt + g dW`` on one Brownian path (embedded pair or step
    doubling, PI controller).

    Source: step control on one Brownian path (Gaines and Lyons 1997, SIAM J. Appl. Math.); rejected
    steps keep their noise (Rackauckas and Nie 2017).

    See the module docstring for the error estimates and the controller. The SDE is solved as
    declared by ``sde.sde_type`` (converted for the method like :func:`solve` does).

    Args:
        sde, x0, ts, method: as for :func:`~kexue.stochastic.solve` (``x0`` ``(batch, d)``).
        rtol, atol: relative and absolute tolerance of the local error (``rtol > 0``,
            ``atol >= 0``).
        dt0: first step (default ``(ts[-1] - ts[0]) / 100``).
        dt_min: smallest step; a step this small is accepted whatever its error (default: the
            Brownian tree's leaf ``tol``).
        dt_max: largest step (default: none). An error estimate only sees the stages it
            evaluates: a feature narrower than a step (a burst of the drift in time) can be
            stepped over unseen; ``dt_max`` below its width prevents that.
        max_steps: most step attempts (accepted + rejected) before giving up.
        brownian: a :class:`BrownianInterval` over ``[ts[0], ts[-1]]`` of shape ``(batch, m)``
            (with ``levy_area="space-time"`` for ``sra1``); default: one built from
            ``generator`` (the :mod:`kexue.rng` rule) on ``x0``'s device.
        generator: seed source when ``brownian`` is None.
        error_estimate: ``"auto"`` (embedded where the method has a pair — heun, midpoint; euler
            and sra1 with additive noise — else doubling), ``"embedded"`` (an error if there is
            no pair) or ``"doubling"``.
        safety, factor_min, factor_max: controller constants.

    Returns:
        :class:`AdaptiveSolution` with ``xs (len(ts), batch, d)``, the accepted step times, the
        accepted/rejected counts and the numbers of drift/diffusion calls.

    Raises:
        TypeError: ``brownian`` not a :class:`BrownianInterval`; wrong argument types
            (``rtol``/``atol``/``dt*`` not real numbers, ``max_steps`` not an int).
        ValueError: ``rtol <= 0``, ``atol < 0``, ``dt0``/``dt_min``/``dt_max <= 0``,
            ``dt_max < dt_min``, ``max_steps < 1``,
            unknown ``error_estimate`` or ``"embedded"`` for a method without a pair,
            ``brownian`` not covering ``ts`` or of the wrong shape, and everything
            :func:`solve` rejects.
        RuntimeError: more than ``max_steps`` attempts.
    """
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be a kexue.stochastic.SDE; got {type(sde).__name__}. Build "
                        "one with SDE(drift, diffusion, noise=...).")
    stepper = get_method(method)
    x0 = _check_x0(x0)
    grid = _grid_floats(ts, "ts")
    rtol = _positive(rtol, "rtol")
    atol = _positive(atol, "atol", allow_zero=True)
    span = float(grid[-1] - grid[0])
    h = span / 100 if dt0 is None else _positive(dt0, "dt0")
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral):
        raise TypeError(f"max_steps must be a positive int; got {type(max_steps).__name__} "
                        f"{max_steps!r}. It bounds the step attempts, e.g. max_steps=100_000.")
    if max_steps < 1:
        raise ValueError(f"max_steps must be a positive int; got {max_steps!r}. It bounds the "
                         "step attempts, e.g. max_steps=100_000.")
    if not isinstance(error_estimate, str) or error_estimate not in ERROR_ESTIMATES:
        raise ValueError(f"error_estimate must be one of {', '.join(ERROR_ESTIMATES)}; got "
                         f"{error_estimate!r}.")
    batch, d = x0.shape
    stepper.check(sde, d)
    embedded = has_embedded(stepper, sde.noise)
    if error_estimate == "embedded" and not embedded:
        raise ValueError(
            f"error_estimate='embedded': method {stepper.name!r} has no embedded pair for "
            f"noise={sde.noise!r} (pairs: heun and midpoint for any noise, euler and sra1 for "
            "additive noise); use error_estimate='doubling' or 'auto', or method='heun'.")
    embedded = embedded and error_estimate != "doubling"
    sde, counts = _counting(sde)
    if stepper.interpretation != getattr(sde, "sde_type", "ito") and sde.noise != "additive":
        sde = (ito_to_stratonovich if stepper.interpretation == "stratonovich"
               else stratonovich_to_ito)(sde)
    dtype, device = x0.dtype, x0.device
    t0 = torch.as_tensor(grid[0], dtype=dtype, device=device)
    _, g0 = sde.probe(t0, x0)
    m = sde.noise_dim(d, g0)
    counts[0] = counts[1] = 0                                  # the probe is not the solve's
    levy = "space-time" if stepper.levy_area else None
    if brownian is None:
        brownian = BrownianInterval(grid[0], grid[-1], (batch, m), seed=seed_from(generator),
                                    dtype=dtype, device=device, levy_area=levy)
    elif not isinstance(brownian, BrownianInterval):
        raise TypeError(f"brownian must be a BrownianInterval (rejected steps are re-queried "
                        f"at new times); got {type(brownian).__name__}. Build one with "
                        f"BrownianInterval(t0, t1, (batch, m), seed=...).")
    if brownian.t0 > grid[0] or brownian.t1 < grid[-1]:
        raise ValueError(f"brownian covers [{brownian.t0!r}, {brownian.t1!r}] but ts spans "
                         f"[{float(grid[0])!r}, {float(grid[-1])!r}]; build it over ts.")
    if brownian.shape != (batch, m):
        raise ValueError(f"brownian has shape {brownian.shape}; the solve needs (batch, m) = "
                         f"({batch}, {m}) (m = d for diagonal/additive noise, 1 for scalar, "
                         "g.shape[-1] for general); build it with that shape.")
    if levy and brownian.levy_area is None:
        raise ValueError(f"method {stepper.name!r} needs levy_area='space-time' in brownian; "
                         "got levy_area=None. Build it with BrownianInterval(..., "
                         "levy_area='space-time').")
    h_min = brownian.tol if dt_min is None else _positive(dt_min, "dt_min")
    h_max = math.inf if dt_max is None else _positive(dt_max, "dt_max")
    if h_max < h_min:
        raise ValueError(f"dt_max={h_max!r} is below dt_min={h_min!r} (dt_min defaults to the "
                         "Brownian tree's leaf tol); raise dt_max or lower dt_min.")
    h = min(h, h_max)

    def tt(v: float) -> torch.Tensor:
        return torch.as_tensor(v, dtype=dtype, device=device)

    def noise(ta: float, tb: float) -> tuple[torch.Tensor, ...]:
        if levy:
            dw, dz = brownian(ta, tb, return_U=True)
            return dw.to(dtype), dz.to(dtype)
        return (brownian(ta, tb).to(dtype),)

    if embedded:
        kind = type(stepper)
        base = 1.0 if sde.noise == "additive" or kind in (Euler, SRA1) else 0.5
        order = base + 0.5
        attempt = _embedded_attempt(stepper, sde, noise, tt)
    else:
        order = stepper.strong_order_for(sde) + 0.5

        def one(x, ta, tb, nz):
            hk = tb - ta
            terms = stepper.noise_terms(nz[0][None], nz[1][None] if levy else None, hk)
            step = stepper.make_step(sde, [tt(ta), tt(tb)], [hk], like=x, inplace=False)
            return step(0, x, tuple(v[0] for v in terms), None)

        def attempt(x, ta, tb):
            tm = 0.5 * (ta + tb)
            n1, n2 = noise(ta, tm), noise(tm, tb)      # two queries; the whole step is their join
            x1 = one(x, ta, tb, join_increments(n1, n2, tb - tm))
            x2 = one(one(x, ta, tm, n1), tm, tb, n2)
            return x2, x2 - x1
    beta1, beta2 = 0.7 / order, 0.4 / order

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
                x_new, diff = attempt(x, t, tb)
                scale = atol + rtol * torch.maximum(x.abs(), x_new.abs())
                err = float((diff / scale).pow(2).mean().sqrt())
                if not math.isfinite(err):
                    err = math.inf
                if err <= 1.0 or tb - t <= h_min:
                    x, t = x_new, tb
                    steps.append(t)
                    n_acc += 1
                    fac = safety * max(err, 1e-10) ** -beta1 * prev_err ** beta2
                    if just_rejected:
                        fac = min(fac, 1.0)
                    prev_err, just_rejected = max(err, 1e-4), False
                    if not last:                     # an output time cut the step: keep h
                        h = min(h_max, hk * min(factor_max, max(factor_min, fac)))
                else:
                    n_rej += 1
                    just_rejected = True
                    fac = safety * err ** -beta1 if math.isfinite(err) else factor_min
                    h = max(h_min, (tb - t) * min(1.0, max(factor_min, fac)))
            xs.append(x)
    return AdaptiveSolution(torch.stack(xs), np.asarray(steps), n_acc, n_rej, counts[0],
                            counts[1], "embedded" if embedded else "doubling")
