"""The machinery every diffusion sampler shares: score-evaluation accounting, the per-grid
coefficients, argument checks, the Brownian path, the last step to ``t = 0``, and :func:`drive`,
which runs one sampler's loop on a checked time grid.

Notation (as in :mod:`kexue.diffusion._samplers`): on a grid ``t_0 > … > t_N`` of a
:class:`GaussianPathSDE` with kernel ``x_t = ᾱ_t x_0 + β̄_t ε``: ``a = ᾱ``, ``s = β̄``,
``σ = s/a``, ``λ = ln(a/s)``, ``S`` the score, ``D = (x + s² S)/a`` (Tweedie's data prediction;
kexue.fm 9209, Song et al. 2021 arXiv:2011.13456).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..rng import as_generator
from ..stochastic import BrownianInterval
from ._checks import FiniteGuard, check_score_and_sde, check_states
from ._sde import GaussianPathSDE

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepFn = Callable[["_Run", torch.Tensor], torch.Tensor]

CHECK_FINITE = ("every", "end")
DENOISE = ("tweedie", "ode")


class _Model:
    """The score-function adapter: counts evaluations, checks shape once and finiteness as
    ``check_finite`` says (``"every"``: each evaluation at once; ``"end"``: counts kept on the
    device and read once at the end; ``False``: never), and gives the noise and data
    predictions."""

    def __init__(self, score_fn: ScoreFn, x_like: torch.Tensor, n_steps: int = 0, *,
                 check_finite: str | bool | None = None) -> None:
        self.fn = score_fn
        self.nfe = 0
        self.shape = tuple(x_like.shape)
        self.n_steps = n_steps
        defer = None if check_finite is None else check_finite == "end"   # None: by device
        self.guard = (FiniteGuard(x_like.device, self._message, defer=defer)
                      if check_finite is not False else None)

    def _message(self, bad: int, where: tuple[int, float, int]) -> str:
        step, t, nfe = where
        at = ("during the adaptive solve" if step < 0 else
              f"at step {step + 1} of {self.n_steps}" if step < self.n_steps else
              "at the final step to t = 0")
        return (f"score_fn returned {bad} non-finite values (NaN/inf) {at} (t={t:.6g}, "
                f"evaluation {nfe}). Check the model for this t, or use more steps / a "
                "larger t_end.")

    def score(self, x: torch.Tensor, tb: torch.Tensor, where: tuple[int, float]) -> torch.Tensor:
        out = self.fn(x, tb)
        self.nfe += 1
        if self.nfe == 1:
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"score_fn(x, t) must return a tensor; got {type(out).__name__}")
            if tuple(out.shape) != self.shape:
                raise ValueError(
                    f"score_fn(x, t) must return x's shape {self.shape} = (batch, …); got "
                    f"{tuple(out.shape)}. Check that the model's input and output sizes match x.")
        if self.guard is not None:
            self.guard(out, (*where, self.nfe))
        return out

    def finish(self) -> None:
        if self.guard is not None:
            self.guard.finish()


class _Run:
    """Grid coefficients as Python floats plus per-time ``(batch,)`` tensors, computed once."""

    def __init__(self, sde: GaussianPathSDE, ts: torch.Tensor, x: torch.Tensor,
                 model: _Model, gen: torch.Generator | None, opts: dict[str, Any]) -> None:
        self.sde, self.model, self.gen, self.opts = sde, model, gen, opts
        self.brownian = opts.get("brownian")
        a, s = sde.marginal(ts)
        f, g2 = sde.coefficients(ts)
        self.t = ts.tolist()
        self.a, self.s = a.tolist(), s.tolist()
        self.f, self.g2 = f.tolist(), g2.tolist()
        self.sig = [si / ai for ai, si in zip(self.a, self.s)]
        self.lam = [math.log(ai / si) for ai, si in zip(self.a, self.s)]
        self.batch = x.shape[0]
        self.dtype, self.device = x.dtype, x.device
        tb = ts.to(dtype=x.dtype, device=x.device)[:, None].repeat(1, self.batch)   # (N+1, B)
        self.tb = list(tb.unbind(0))
        self.n = len(self.t) - 1
        self.callback = opts.get("callback")

    def time_batch(self, t: float) -> torch.Tensor:
        return torch.full((self.batch,), t, dtype=self.dtype, device=self.device)

    def coefs(self, t: float) -> tuple[float, float]:
        a, s = self.sde.marginal(t)
        return float(a), float(s)

    def score(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return self.model.score(x, self.tb[i], (i, self.t[i]))

    def noise(self, x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.shape, generator=self.gen, dtype=x.dtype, device=x.device)

    def step_noise(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """The standard normal of step ``i`` (``t_i → t_{i+1}``): a fresh draw, or with a
        Brownian path ``W(t_{i+1}, t_i)/√(t_i − t_{i+1})`` — the same path at any step count."""
        if self.brownian is None:
            return self.noise(x)
        lo, hi = self.t[i + 1], self.t[i]
        dw = self.brownian(lo, hi)
        return dw.to(device=x.device, dtype=x.dtype) / math.sqrt(hi - lo)

    def denoised(self, x: torch.Tensor, S: torch.Tensor, i: int) -> torch.Tensor:
        """Tweedie ``D = (x + s² S)/a`` at grid point ``i``."""
        return (x + self.s[i] ** 2 * S) / self.a[i]

    def done(self, i: int, x: torch.Tensor) -> None:
        if self.callback is not None:
            self.callback({"i": i, "t": self.t[i + 1], "x": x, "nfe": self.model.nfe})


# ----------------------------------------------------------------------------- argument checks
def check_float(name: str, v: Any, *, lo: float | None = None, positive: bool = False) -> float:
    """``v`` a finite real number (``>= lo``, ``> 0`` if ``positive``), else ``ValueError``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number; got {v!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be positive; got {v!r}")
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}; got {v!r}")
    return float(v)


def check_times(ts: Any, sde: GaussianPathSDE) -> torch.Tensor:
    """A sampling grid ``t_0 > t_1 > … > t_N`` (``N >= 1``) in ``(0, T]`` as a float64 CPU tensor
    (a tensor on any device or a sequence of floats), else ``TypeError``/``ValueError``."""
    if isinstance(ts, torch.Tensor):
        if ts.is_complex() or ts.dtype == torch.bool:
            raise TypeError(f"ts must be a real tensor of times; got dtype {ts.dtype}")
        t = ts.detach().to(device="cpu", dtype=torch.float64)
    elif isinstance(ts, Sequence) and not isinstance(ts, str):
        try:
            t = torch.tensor([float(v) for v in ts], dtype=torch.float64)
        except (TypeError, ValueError):
            raise TypeError(f"ts must be a 1-D tensor or a sequence of times; got {ts!r}") from None
    else:
        raise TypeError(f"ts must be a 1-D tensor or a sequence of times (decreasing, from "
                        f"t_start to t_end); got {type(ts).__name__}. Build one with "
                        f"kexue.diffusion.time_grid(sde, steps, grid=...)")
    if t.ndim != 1 or t.numel() < 2:
        raise ValueError(f"ts must be 1-D with at least 2 times (N >= 1 steps); got shape "
                         f"{tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError("ts must be finite")
    if not bool((torch.diff(t) < 0).all()):
        raise ValueError("ts must be strictly decreasing (from t_start down to t_end); got "
                         f"{t.tolist()[:6]}{' …' if t.numel() > 6 else ''}")
    T = float(sde.T)
    if float(t[0]) > T * (1 + 1e-12) or float(t[-1]) <= 0.0:
        raise ValueError(f"ts must lie in (0, T] = (0, {T:g}]; got [{float(t[-1]):g}, "
                         f"{float(t[0]):g}]. Sampling stops at a small positive t_end; "
                         "denoise_last=True finishes at t = 0.")
    return t


def resolve_final(denoise_last: Any, stochastic: bool) -> str | None:
    """``denoise_last`` as ``"tweedie"``, ``"ode"`` or ``None``."""
    if denoise_last is True:
        return "tweedie" if stochastic else "ode"
    if denoise_last is False:
        return None
    if denoise_last in DENOISE:
        return denoise_last
    raise ValueError(f"denoise_last must be True, False or one of {DENOISE}; got "
                     f"{denoise_last!r}")


def check_finite_mode(check_finite: Any) -> str | bool | None:
    """``"every"``, ``"end"``, ``False`` or ``None`` (automatic: :class:`FiniteGuard` checks each
    evaluation at once on the CPU, where it is free and fails fast, and once at the end on an
    accelerator, with no host synchronisation per step), else ``ValueError``."""
    if check_finite is None or check_finite is False or check_finite in CHECK_FINITE:
        return check_finite
    raise ValueError(f"check_finite must be 'every', 'end', False or None (automatic); got "
                     f"{check_finite!r}")


def brownian_path(brownian: Any, x_T: torch.Tensor, ts: torch.Tensor, sde: GaussianPathSDE,
                  method: str, stochastic: bool) -> Any:
    """Check a sampler's ``brownian`` argument; an int seed becomes a
    :class:`~kexue.stochastic.BrownianInterval` on ``[0, sde.T]``."""
    if brownian is None:
        return None
    if not stochastic:
        raise ValueError(f"brownian= drives the noise of stochastic samplers; method {method!r} "
                         "draws no noise (use em, eta, reverse_diffusion, ancestral, pc, or ddim "
                         "with eta > 0)")
    shape = tuple(x_T.shape)
    if isinstance(brownian, int) and not isinstance(brownian, bool):
        return BrownianInterval(0.0, float(sde.T), shape, seed=brownian, dtype=torch.float64,
                                device=x_T.device)
    t0 = getattr(brownian, "t0", getattr(brownian, "_start", None))
    t1 = getattr(brownian, "t1", getattr(brownian, "_end", None))
    bshape = getattr(brownian, "shape", None)
    if not callable(brownian) or t0 is None or t1 is None or bshape is None:
        raise TypeError(f"brownian must be None, an int seed or a Brownian path W(s, t) with t0, "
                        f"t1 and shape (kexue.stochastic.BrownianInterval); got "
                        f"{type(brownian).__name__}")
    if tuple(bshape) != shape:
        raise ValueError(f"brownian has shape {tuple(bshape)} but x_T has shape {shape}; build "
                         f"it as BrownianInterval(t0, t1, x_T.shape, ...)")
    lo, hi = float(ts.min()), float(ts.max())
    if float(t0) > lo or float(t1) < hi:
        raise ValueError(f"brownian covers [{float(t0):g}, {float(t1):g}] but the time grid spans "
                         f"[{lo:g}, {hi:g}]; build it over [0, sde.T] = [0, {float(sde.T):g}]")
    return brownian


# ------------------------------------------------------------------------------ the last step
def final_ode(r: _Run, x: torch.Tensor) -> torch.Tensor:
    """Euler step of the probability-flow ODE in ``u = σ²`` from ``t_end`` to ``t = 0``:
    ``y_0 = y + (1 − u_0/u)(D − y)/2``, ``y = x/ᾱ`` (``= ½(y + D)`` when ``σ_0 = 0``)."""
    n = r.n
    S = r.score(x, n)
    D = r.denoised(x, S, n)
    a0, s0 = r.coefs(0.0)
    u_ratio = (s0 / a0) ** 2 / r.sig[n] ** 2
    y = x / r.a[n]
    return a0 * (y + (0.5 * (1.0 - u_ratio)) * (D - y))


def final_tweedie(r: _Run, x: torch.Tensor) -> torch.Tensor:
    """Tweedie's ``E[x_0 | x_{t_end}] = (x + β̄² S)/ᾱ`` (score_sde's noise removal)."""
    n = r.n
    return r.denoised(x, r.score(x, n), n)


# ----------------------------------------------------------------------------------- driver
def drive(step: StepFn, score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
          name: str, stochastic: bool, opts: dict[str, Any], generator: Any = None,
          brownian: Any = None, denoise_last: bool | str = True,
          callback: Callable[[dict[str, Any]], None] | None = None,
          check_finite: str | bool | None = None, own_final: bool = False,
          noisy: bool | None = None, check_finite_default: str | None = None,
          ) -> tuple[torch.Tensor, dict[str, Any]]:
    """Run ``step(run, x_T)`` (one sampler's loop over the grid ``ts``) and the last step.

    ``stochastic``: a stochastic method (``denoise_last=True`` means Tweedie's step, else the
    ODE step); ``noisy``: this run draws noise, so ``generator``/``brownian`` are used (default
    ``stochastic``; stochastic DDIM is a deterministic method that draws noise); ``own_final``: the
    sampler takes the ``"ode"`` step to ``t = 0`` itself (``opts["final"]`` tells it);
    ``check_finite_default``: the automatic ``check_finite`` of this sampler (``rk45``'s step
    control synchronises anyway, so it checks at once). Returns ``(x, info)`` with ``"nfe"``,
    ``"ts"``, ``"method"``, ``"t_final"``, ``"denoise_last"``.
    """
    check_score_and_sde(score_fn, sde)
    check_states(x_T, "x_T")
    grid = check_times(ts, sde)
    final = resolve_final(denoise_last, stochastic)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be None or a callable(dict)")
    if check_finite is None and check_finite_default is not None:
        check_finite = check_finite_default
    finite = check_finite_mode(check_finite)
    opts = dict(opts, callback=callback, final=final)
    noisy = stochastic if noisy is None else noisy
    gen = as_generator(generator, device=x_T.device) if noisy else None
    opts["brownian"] = brownian_path(brownian, x_T, grid, sde, name, noisy)
    n = grid.numel() - 1
    model = _Model(score_fn, x_T, n, check_finite=finite)
    run = _Run(sde, grid, x_T, model, gen, opts)
    with torch.no_grad():
        x = step(run, x_T)
        if final == "ode" and not own_final:
            x = final_ode(run, x)
        elif final == "tweedie":
            x = final_tweedie(run, x)
    model.finish()
    info = {"nfe": model.nfe, "ts": grid, "method": name,
            "t_final": 0.0 if final else float(grid[-1]), "denoise_last": final}
    return x, info
