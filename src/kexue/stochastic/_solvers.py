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

import math
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from ..rng import as_generator
from ._affine import affine_coefficients
from ._brownian import BrownianIncrements, _draw, _grid_floats
from ._brownian_interval import BrownianInterval
from ._finite import CHECK_EVERY, SolveDiverged, all_finite, locate_nonfinite
from ._sde import SDE, ito_to_stratonovich, stratonovich_to_ito

__all__ = [
    "Method", "Euler", "Milstein", "StratonovichHeun", "StratonovichMidpoint", "SRA1", "METHODS",
    "solve", "get_method", "CoarseStepWarning", "MIN_DEFAULT_STEPS",
]

Step = Callable[[int, torch.Tensor, tuple, "torch.Tensor | None"], torch.Tensor]

# Elements (steps × batch × noise dim) of Brownian increments drawn per torch.randn call.
_CHUNK_ELEMENTS = 1 << 18


def _gdw(g: torch.Tensor, dw: torch.Tensor) -> torch.Tensor:
    """General noise: ``g dW`` for ``g (batch or 1, d, m)``, ``dW (batch, m)`` → ``(batch, d)``."""
    return torch.matmul(g, dw.unsqueeze(-1)).squeeze(-1)


class Method:
    """A fixed-step SDE scheme. Subclasses set the class attributes and ``make_step``.

    Source: Kloeden and Platen 1992, Numerical Solution of Stochastic Differential Equations.

    Attributes:
        name: the string accepted by ``solve(method=...)``.
        strong_order: strong (pathwise, ``E|X_N - X(T)|``) order for the noise types it supports.
        weak_order: weak order (error of ``E φ(X_N)`` for smooth ``φ``).
        interpretation: ``"ito"`` or ``"stratonovich"`` — how ``g dW`` is read.
        levy_area: whether the scheme needs ``dZ = ∫(W - W(t_k)) ds`` besides ``dW``.
    """

    name: str = ""
    strong_order: float = 0.0
    weak_order: float = 0.0
    interpretation: str = "ito"
    levy_area: bool = False

    def strong_order_for(self, sde: SDE) -> float:
        """The strong order on ``sde`` (some schemes gain an order for additive noise)."""
        return self.strong_order

    def check(self, sde: SDE, d: int) -> None:
        """Raise ``ValueError`` if the scheme does not apply to ``sde`` in dimension ``d``."""

    def noise_terms(self, dW: torch.Tensor, dZ: torch.Tensor | None,
                    h: torch.Tensor | float) -> tuple[torch.Tensor, ...]:
        """Per-chunk quantities, each ``(n_chunk, batch, m)``, from ``dW``/``dZ`` and steps ``h``
        (a float or ``(n_chunk, 1, 1)``); the step closure receives one slice of each."""
        return (dW,)

    def make_step(self, sde: SDE, t: Sequence[torch.Tensor], h: Sequence[float], *,
                  like: torch.Tensor, inplace: bool) -> Step:
        """Build ``step(k, x, noise_k, out) -> x_next`` for step ``k`` (``t[k] -> t[k+1]``).

        With ``inplace`` the result is written into ``out`` (never aliasing ``x``) and returned;
        otherwise ``out`` is ``None`` and a new tensor is returned (autograd-safe).
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, strong_order={self.strong_order}, "
                f"weak_order={self.weak_order}, interpretation={self.interpretation!r})")


class Euler(Method):
    """Euler–Maruyama: ``x + f(t, x) h + g(t, x) ΔW`` (Kloeden & Platen 1992, §10.2).

    Itô. Strong order 0.5 in general and 1.0 for additive noise; weak order 1.0.
    """

    name = "euler"
    strong_order = 0.5
    weak_order = 1.0

    def strong_order_for(self, sde: SDE) -> float:
        return 1.0 if sde.noise == "additive" else 0.5

    def make_step(self, sde, t, h, *, like, inplace):
        f, g = sde.drift, sde.diffusion
        if sde.noise == "general":
            if not inplace:
                def step_g(k, x, nk, out):
                    tk = t[k]
                    return x + f(tk, x) * h[k] + _gdw(g(tk, x), nk[0])
                return step_g

            def step_g_(k, x, nk, out):
                tk = t[k]
                fx = f(tk, x)
                torch.add(x, _gdw(g(tk, x), nk[0]), out=out)           # out = x + g ΔW
                return out.add_(fx, alpha=h[k])                          # out += f h
            return step_g_
        if not inplace:
            def step(k, x, nk, out):
                tk = t[k]
                return x + f(tk, x) * h[k] + g(tk, x) * nk[0]
            return step

        def step_(k, x, nk, out):
            tk = t[k]
            fx = f(tk, x)
            torch.addcmul(x, g(tk, x), nk[0], out=out)         # out = x + g ΔW
            return out.add_(fx, alpha=h[k])                      # out += f h
        return step_


class Milstein(Method):
    """Itô Milstein: ``x + f h + g ΔW + ½ g ∂g/∂x (ΔW² - h)`` (Kloeden & Platen 1992, §10.3).

    Diagonal noise (componentwise; ``g_i`` depends on ``x_i`` only), additive noise (where it
    equals Euler) or scalar noise with ``d == 1``. ``∂g/∂x`` comes from ``sde.diffusion_dx`` or
    autograd (``SDE.g_dx``). Strong order 1.0, weak order 1.0.
    """

    name = "milstein"
    strong_order = 1.0
    weak_order = 1.0

    def check(self, sde: SDE, d: int) -> None:
        if sde.noise == "general":
            raise ValueError(
                "method 'milstein' does not support noise='general': non-commutative noise "
                "needs the Lévy areas ∫W_i dW_j. Use method='euler' (Itô) or 'heun'/'midpoint' "
                "(Stratonovich; solve converts the drift), strong order 0.5."
            )
        if sde.noise == "scalar" and d != 1:
            raise ValueError(
                f"method 'milstein' supports scalar noise only for d == 1 (got d={d}): the "
                "correction g·∇g couples components. Use method='heun' on the Stratonovich form "
                "(ito_to_stratonovich needs d == 1 too) or method='euler'."
            )

    def noise_terms(self, dW, dZ, h):
        return dW, (dW * dW).sub_(h).mul_(0.5)                  # (n, batch, m) each

    def make_step(self, sde, t, h, *, like, inplace):
        if sde.noise == "additive":
            return Euler().make_step(sde, t, h, like=like, inplace=inplace)
        f, g, gdx, g_and_gdx = sde.drift, sde.diffusion, sde.g_dx, sde.g_and_g_dx
        if not inplace:
            def step(k, x, nk, out):
                tk = t[k]
                gx = g(tk, x)
                return x + f(tk, x) * h[k] + gx * nk[0] + gx * gdx(tk, x) * nk[1]
            return step

        def step_(k, x, nk, out):
            tk = t[k]
            fx = f(tk, x)
            gx, dgx = g_and_gdx(tk, x)
            noise = torch.addcmul(nk[0], dgx, nk[1])             # ΔW + g' (ΔW² - h)/2
            torch.addcmul(x, gx, noise, out=out)                 # x + g ΔW + ½ g g' (ΔW² - h)
            return out.add_(fx, alpha=h[k])                      # + f h
        return step_


class StratonovichHeun(Method):
    """Stratonovich Heun (predictor–corrector trapezoidal rule; Kloeden & Platen 1992, §11.1):

    ``x̃ = x + f(t, x) h + g(t, x) ΔW``,
    ``x' = x + ½[f(t, x) + f(t+h, x̃)] h + ½[g(t, x) + g(t+h, x̃)] ΔW``.

    It integrates the SDE in the **Stratonovich** sense ``dx = f dt + g ∘ dW``: applied to the
    coefficients of an Itô SDE it converges to a different process unless the noise is additive.
    :func:`solve` converts an Itô SDE first (:func:`kexue.stochastic.ito_to_stratonovich`, drift
    ``f - ½ g ∂g/∂x``). Strong order 1.0 for commutative noise (diagonal, scalar, additive), 0.5
    for general noise; weak order 1.0.
    """

    name = "heun"
    strong_order = 1.0
    weak_order = 1.0
    interpretation = "stratonovich"

    def strong_order_for(self, sde: SDE) -> float:
        return 0.5 if sde.noise == "general" else 1.0

    def make_step(self, sde, t, h, *, like, inplace):
        f, g = sde.drift, sde.diffusion
        if sde.noise == "general":
            def step_g(k, x, nk, out):
                tk, tn, hk, dw = t[k], t[k + 1], h[k], nk[0]
                fx, gx = f(tk, x), g(tk, x)
                xp = x + fx * hk + _gdw(gx, dw)
                y = x + (fx + f(tn, xp)) * (0.5 * hk) + _gdw(gx + g(tn, xp), dw) * 0.5
                return y if out is None else out.copy_(y)
            return step_g
        if not inplace:
            def step(k, x, nk, out):
                tk, tn, hk, dw = t[k], t[k + 1], h[k], nk[0]
                fx, gx = f(tk, x), g(tk, x)
                xp = x + fx * hk + gx * dw
                return x + (fx + f(tn, xp)) * (0.5 * hk) + (gx + g(tn, xp)) * (0.5 * dw)
            return step

        def step_(k, x, nk, out):
            tk, tn, hk, dw = t[k], t[k + 1], h[k], nk[0]
            fx = f(tk, x)
            gx = g(tk, x)
            torch.addcmul(x, gx, dw, out=out).add_(fx, alpha=hk)   # predictor x̃ in out
            gs = gx + g(tn, out)                                     # consumed before out is
            fs = fx + f(tn, out)                                     # overwritten below
            torch.addcmul(x, gs, dw, value=0.5, out=out)
            return out.add_(fs, alpha=0.5 * hk)
        return step_


class StratonovichMidpoint(Method):
    """Stratonovich midpoint rule (Kloeden & Platen 1992, §11.1; torchsde's ``midpoint``):

    ``x̃ = x + ½ f(t, x) h + ½ g(t, x) ΔW``,  ``x' = x + f(t + h/2, x̃) h + g(t + h/2, x̃) ΔW``.

    Stratonovich, like :class:`StratonovichHeun` (``solve`` converts an Itô SDE first). Strong
    order 1.0 for commutative noise (diagonal, scalar, additive), 0.5 for general noise; weak
    order 1.0. Every noise type.
    """

    name = "midpoint"
    strong_order = 1.0
    weak_order = 1.0
    interpretation = "stratonovich"

    def strong_order_for(self, sde: SDE) -> float:
        return 0.5 if sde.noise == "general" else 1.0

    def make_step(self, sde, t, h, *, like, inplace):
        f, g = sde.drift, sde.diffusion
        t_all = torch.stack(list(t))
        hs = torch.as_tensor(h, dtype=t_all.dtype, device=t_all.device)
        tm = list((t_all[:-1] + 0.5 * hs).unbind(0))                # midpoint times
        gdw = _gdw if sde.noise == "general" else torch.mul

        def step(k, x, nk, out):
            tk, hk, dw = t[k], h[k], nk[0]
            xm = x + f(tk, x) * (0.5 * hk) + gdw(g(tk, x), dw) * 0.5
            y = x + f(tm[k], xm) * hk + gdw(g(tm[k], xm), dw)
            if out is None:
                return y
            return out.copy_(y)
        return step


class SRA1(Method):
    """Rößler's SRA1 for additive noise, strong order 1.5 (Rößler 2010, SIAM J. Numer. Anal.
    48(3), Table 5.1). With ``I10 = ∫(W - W(t)) ds`` (``dZ``) over the step:

    ``H2 = x + ¾ f(t, x) h + (3/2) g(t+h) I10/h``,
    ``x' = x + [⅓ f(t, x) + ⅔ f(t + ¾h, H2)] h + g(t+h) (ΔW - I10/h) + g(t) I10/h``.

    Itô (= Stratonovich for additive noise). Requires ``noise="additive"``; ``(ΔW, I10)`` are
    drawn exactly as correlated Gaussians. Strong order 1.5, weak order 2.0 (deterministic
    order 2).
    """

    name = "sra1"
    strong_order = 1.5
    weak_order = 2.0
    levy_area = True

    def check(self, sde: SDE, d: int) -> None:
        if sde.noise != "additive":
            raise ValueError(
                f"method 'sra1' needs additive noise (diffusion g(t) independent of x); the SDE "
                f"has noise={sde.noise!r}. Use method='milstein' or 'euler', or build the SDE "
                "with noise='additive' if g does not depend on x."
            )

    def noise_terms(self, dW, dZ, h):
        return dW, dZ / h                                       # (n, batch, m) each

    def make_step(self, sde, t, h, *, like, inplace):
        f, g = sde.drift, sde.diffusion
        t_all = torch.stack(list(t))
        hs = torch.as_tensor(h, dtype=t_all.dtype, device=t_all.device)
        t34 = list((t_all[:-1] + 0.75 * hs).unbind(0))          # stage-2 drift times
        cache: list = [-1, None]                                 # g(t[k]) from the last step
        scratch = torch.empty_like(like) if inplace else None

        def g_pair(k, x):
            g0 = cache[1] if cache[0] == k else g(t[k], x)
            g1 = g(t[k + 1], x)
            cache[0], cache[1] = k + 1, g1
            return g0, g1

        if not inplace:
            def step(k, x, nk, out):
                hk, (dw, zh) = h[k], nk
                g0, g1 = g_pair(k, x)
                f1 = f(t[k], x)
                h2 = x + f1 * (0.75 * hk) + g1 * (1.5 * zh)
                f2 = f(t34[k], h2)
                return x + (f1 + 2.0 * f2) * (hk / 3.0) + g1 * (dw - zh) + g0 * zh
            return step

        def step_(k, x, nk, out):
            hk, (dw, zh) = h[k], nk
            g0, g1 = g_pair(k, x)
            f1 = f(t[k], x)
            torch.addcmul(x, g1, zh, value=1.5, out=scratch).add_(f1, alpha=0.75 * hk)  # H2
            f2 = f(t34[k], scratch)
            torch.addcmul(x, g1, dw, out=out)                    # x + g(t+h) ΔW
            out.addcmul_(g0 - g1, zh)                            # + (g(t) - g(t+h)) I10/h
            out.add_(f1, alpha=hk / 3.0)
            return out.add_(f2, alpha=2.0 * hk / 3.0)
        return step_


METHODS: dict[str, Method] = {m.name: m for m in (Euler(), Milstein(), StratonovichHeun(), SRA1(),
                                                   StratonovichMidpoint())}


def get_method(method: str | Method) -> Method:
    """The :class:`Method` for a name in ``METHODS`` (or the instance itself).

    Raises:
        ValueError: unknown name (the message lists the accepted ones).
        TypeError: neither a string nor a ``Method``.
    """
    if isinstance(method, Method):
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a string or a Method; got {type(method).__name__}")
    try:
        return METHODS[method]
    except KeyError:
        raise ValueError(
            f"unknown method {method!r}; accepted: {', '.join(METHODS)}"
        ) from None


def _check_x0(x0: torch.Tensor) -> torch.Tensor:
    if not isinstance(x0, torch.Tensor):
        raise TypeError(
            f"x0 must be a floating-point tensor of shape (batch, d); got {type(x0).__name__}. "
            "Use e.g. torch.full((n_paths, 1), 1.0, dtype=torch.float64)."
        )
    if not x0.is_floating_point():
        raise TypeError(f"x0 must be floating point; got dtype {x0.dtype}. Use x0.double().")
    if x0.ndim != 2:
        raise ValueError(
            f"x0 must have shape (batch, d); got {tuple(x0.shape)}. For a scalar SDE pass "
            "x0[:, None] (batch of 1-D states) or x0[None, :] (one d-dimensional state)."
        )
    if x0.shape[0] < 1 or x0.shape[1] < 1:
        raise ValueError(f"x0 must have batch >= 1 and d >= 1; got shape {tuple(x0.shape)}")
    if not bool(torch.isfinite(x0).all()):
        bad = x0[~torch.isfinite(x0)]
        raise ValueError(
            f"x0 must be finite; got {bad.numel()} non-finite entries (e.g. {float(bad[0])}). "
            "Replace NaN/inf initial states before solving."
        )
    return x0


#: Fewer steps than this with ``dt=None`` (steps on the ``ts`` grid) draw a
#: :class:`CoarseStepWarning`.
MIN_DEFAULT_STEPS = 20


class CoarseStepWarning(UserWarning):
    """:func:`solve` was called without ``dt`` on a ``ts`` grid so coarse (fewer than
    ``MIN_DEFAULT_STEPS`` steps) that the answer is probably dominated by discretisation error."""


def _check_dt(dt: float | None) -> float | None:
    if dt is None:
        return None
    if isinstance(dt, torch.Tensor) and dt.numel() == 1:
        dt = float(dt)
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise TypeError(f"dt must be a positive float or None; got {type(dt).__name__}")
    if not math.isfinite(dt) or dt <= 0:
        raise ValueError(
            f"dt must be a positive finite step size; got {dt!r}. Pass e.g. dt=1e-3, or "
            "dt=None to step exactly on the ts grid."
        )
    return float(dt)


def step_grid(ts: np.ndarray, dt: float | None) -> tuple[np.ndarray, list[int]]:
    """The solver's step grid and the positions of ``ts`` in it.

    With ``dt=None`` the steps are the intervals of ``ts``; otherwise interval ``i`` is cut into
    ``ceil((ts[i+1] - ts[i]) / dt)`` equal steps (a relative slack of 1e-9 absorbs rounding, so
    ``dt = 0.1`` on ``[0, 1]`` gives 10 steps).

    Returns:
        ``(grid (n+1,), out_index)`` with ``grid[out_index[i]] == ts[i]``.
    """
    if dt is None:
        return ts, list(range(ts.size))
    pieces, index, pos = [ts[:1]], [0], 0
    for a, b in zip(ts[:-1], ts[1:]):
        n = max(1, math.ceil((b - a) / dt * (1.0 - 1e-9)))
        inner = a + (b - a) * np.arange(1, n + 1) / n
        inner[-1] = b
        pieces.append(inner)
        pos += n
        index.append(pos)
    return np.concatenate(pieces), index


def _noise_chunks(method: Method, steps: np.ndarray, batch: int, m: int, dtype: torch.dtype,
                  device: torch.device, generator: torch.Generator | None,
                  ) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
    """Yield ``(k0, noise_terms)`` for consecutive chunks of steps, drawn on the fly."""
    n = steps.size
    chunk = max(1, min(n, _CHUNK_ELEMENTS // max(1, batch * m)))
    uniform = bool(np.all(np.abs(steps - steps[0]) <= 1e-12 * steps[0]))
    h_all = None if uniform else torch.as_tensor(steps, dtype=dtype, device=device).view(-1, 1, 1)
    for k0 in range(0, n, chunk):
        k1 = min(n, k0 + chunk)
        h = float(steps[0]) if uniform else h_all[k0:k1]        # float or (n_chunk, 1, 1)
        dw, dz = _draw((k1 - k0, batch, m), h, levy_area=method.levy_area,
                       generator=generator, dtype=dtype, device=device)
        yield k0, method.noise_terms(dw, dz, h)


def _callable_noise(method: Method, brownian, grid: np.ndarray
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Increments from a duck-typed Brownian path (torchsde's ``BrownianInterval``: ``bm(ta, tb)``
    → ``W(tb) - W(ta)``; ``bm(ta, tb, return_U=True)`` → ``(W, U)`` with ``U = ∫(W - W(ta))``),
    queried step by step in order and stacked to ``(n, batch, m)``."""
    ws, us = [], []
    for a, b in zip(grid[:-1].tolist(), grid[1:].tolist()):
        if method.levy_area:
            try:
                w, u = brownian(a, b, return_U=True)
            except TypeError:
                raise ValueError(
                    f"brownian: method {method.name!r} needs the space-time integral; the "
                    "callable must accept return_U=True (torchsde: levy_area_approximation="
                    "'space-time')."
                ) from None
            us.append(u)
        else:
            w = brownian(a, b)
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"brownian(s, t) must return a tensor (batch, m); got "
                            f"{type(w).__name__}")
        ws.append(w)
    return torch.stack(ws), (torch.stack(us) if us else None)


def _given_noise(method: Method, brownian, grid: np.ndarray,
                 batch: int, m: int, dtype: torch.dtype, device: torch.device,
                 ) -> tuple[int, tuple[torch.Tensor, ...]]:
    """Caller-provided increments, checked against the step grid and restricted onto it."""
    n = grid.size - 1
    if isinstance(brownian, BrownianInterval):
        if method.levy_area and brownian.levy_area is None:
            raise ValueError(
                f"brownian: method {method.name!r} needs the space-time integral dZ; build the "
                "BrownianInterval with levy_area='space-time'."
            )
        if brownian.t0 > grid[0] or brownian.t1 < grid[-1]:
            raise ValueError(
                f"brownian: the BrownianInterval covers [{brownian.t0!r}, {brownian.t1!r}] but "
                f"the solve runs over [{float(grid[0])!r}, {float(grid[-1])!r}]; build it over "
                "the whole solve interval."
            )
        if len(brownian.shape) != 2:
            raise ValueError(
                f"brownian: the BrownianInterval has shape {brownian.shape}; the solve needs "
                f"(batch, m) = ({batch}, {m})."
            )
        dw, dz = brownian.increments(grid)
    elif isinstance(brownian, BrownianIncrements):
        bm = brownian.restrict(grid)
        dw, dz = bm.dW, bm.dZ
        if method.levy_area and dz is None:
            raise ValueError(
                f"brownian: method {method.name!r} needs the space-time integral dZ; sample it "
                "with BrownianIncrements.sample(ts, batch, dim, levy_area=True)."
            )
    elif isinstance(brownian, torch.Tensor):
        if method.levy_area:
            raise ValueError(
                f"brownian: method {method.name!r} needs dZ as well as dW; pass a "
                "BrownianIncrements(ts, dW, dZ) instead of a raw increment tensor."
            )
        if brownian.ndim != 3 or brownian.shape[0] != n:
            raise ValueError(
                f"brownian must have shape (n_steps, batch, m) = ({n}, {batch}, {m}) for this "
                f"step grid; got {tuple(brownian.shape)}. Pass a BrownianIncrements to reuse "
                "one path on several grids."
            )
        if not bool(torch.isfinite(brownian).all()):
            raise ValueError("brownian contains non-finite increments.")
        dw, dz = brownian, None
    elif callable(brownian):
        dw, dz = _callable_noise(method, brownian, grid)
    else:
        raise TypeError(
            f"brownian must be None, a BrownianIncrements, a BrownianInterval, a tensor "
            f"(n_steps, batch, m) or a callable bm(s, t) (e.g. torchsde's BrownianInterval); "
            f"got {type(brownian).__name__}"
        )
    if dw.shape[1:] != (batch, m):
        raise ValueError(
            f"brownian: increments have (batch, m) = {tuple(dw.shape[1:])}, but the solve needs "
            f"({batch}, {m}) (m = d for diagonal/additive noise, 1 for scalar noise, "
            "diffusion(t, x).shape[-1] for general noise)."
        )
    dw = dw.to(dtype=dtype, device=device)
    dz = None if dz is None else dz.to(dtype=dtype, device=device)
    h = torch.as_tensor(np.diff(grid), dtype=dtype, device=device).view(-1, 1, 1)  # (n, 1, 1)
    return 0, method.noise_terms(dw, dz, h)


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


def _axpy(base: torch.Tensor, coef: torch.Tensor, dw: torch.Tensor,
          out: torch.Tensor) -> torch.Tensor:
    """``base + coef·dw`` into ``out``; a 0-d ``coef`` goes in as ``alpha`` (broadcasting
    ``addcmul`` over a stride-0 ``base`` runs ~3× slower than ``add`` with a scalar)."""
    if coef.ndim == 0:
        return torch.add(base, dw, alpha=float(coef), out=out)
    return torch.addcmul(base, coef, dw, out=out)


def _solve_linear(coefs: tuple[torch.Tensor, ...], additive: bool, milstein: bool,
                  chunks: Iterator, steps: np.ndarray, x0: torch.Tensor, n_out: int,
                  slot: list[int], locate: Callable | None = None) -> torch.Tensor:
    """Euler / Milstein for ``dx = (a x + b) dt + (c x + d) dW`` (``SDE.linear``), no autograd.

    Both schemes are affine in the state, ``x_{k+1} = M_k x_k + A_k`` with
    ``M_k = 1 + a h_k + c ΔW_k (+ c² q_k)`` and ``A_k = b h_k + d ΔW_k (+ c d q_k)``,
    ``q_k = (ΔW_k² − h_k)/2`` (Milstein's ``½ g g' (ΔW² − h)`` with ``g' = c``). ``M`` and ``A``
    are built for a whole chunk of steps with a few vectorised kernels; the loop is then one
    ``addcmul`` per step; when ``A ≡ 0`` (``b = d = 0``, e.g. GBM) not even that: one
    ``torch.cumprod`` of ``M`` over the chunk's steps gives every state. Returns
    ``(n_out, batch, d)`` like :func:`solve`. ``locate``: the finiteness check of :func:`solve`
    (``None``: no checks).
    """
    dtype, device = x0.dtype, x0.device
    a, b, c, d = (v.to(dtype=dtype, device=device) for v in coefs)
    out = torch.empty((n_out, *x0.shape), dtype=dtype, device=device)
    out[0] = x0
    rows = list(out.unbind(0))                                       # (batch, d) views
    priv = (torch.empty_like(x0), torch.empty_like(x0))              # ping-pong buffers
    x = rows[0]
    milstein = milstein and not additive          # Milstein's correction vanishes for c = 0
    homogeneous = not bool((b != 0).any() or (d != 0).any())         # A ≡ 0 (e.g. GBM)
    m_buf = a_buf = None                                             # (chunk, batch, d)
    saved = x0.clone() if locate is not None else None               # last checked state
    k_saved = 0
    slot_np = np.asarray(slot)

    for k0, terms in chunks:
        dw = terms[0]                                                # (n_c, batch, m)
        n_c = dw.shape[0]
        hk = torch.as_tensor(steps[k0:k0 + n_c], dtype=dtype, device=device).view(-1, 1, 1)
        M = (a * hk).add_(1.0)                                       # (n_c, 1, d or 1)
        if k0 == 0:                                                  # the largest chunk
            full = np.broadcast_shapes(M.shape, c.shape, dw.shape, x0.shape)  # (torch's: slow)
            m_buf = None if additive else torch.empty(full, dtype=dtype, device=device)
            a_buf = None if homogeneous else torch.empty(full, dtype=dtype, device=device)
        if not additive:
            M = _axpy(M, c, dw, m_buf[:n_c])                         # (n_c, batch, d)
        A = None if homogeneous else _axpy(b * hk, d, dw, a_buf[:n_c])
        if milstein:
            q = terms[1]                                             # (ΔW² − h)/2
            M.addcmul_(c * c, q)
            if A is not None:
                A.addcmul_(c * d, q)
        if A is None:
            # x_k = x_{k0} · M_{k0} ⋯ M_{k-1}: one cumulative product for the chunk, then the
            # output rows and the chunk's last state in one indexed multiply each
            P = torch.cumprod(M, dim=0)                              # (n_c, batch or 1, d)
            ks = (k0 + np.flatnonzero(slot_np[k0 + 1:k0 + n_c + 1] >= 0)).tolist()
            if ks:
                idx = torch.tensor([k - k0 for k in ks], device=device)
                out[[slot[k + 1] for k in ks]] = x * P.index_select(0, idx)
            s = slot[k0 + n_c]
            target = rows[s] if s >= 0 else (priv[1] if x is priv[0] else priv[0])
            if s < 0:
                torch.mul(x, P[-1], out=target)
            x = target
            if saved is not None:
                if not all_finite(x) or (ks and not all_finite(out)):
                    locate(saved, k_saved, k0 + n_c, terms, k0)
                saved.copy_(x)
                k_saved = k0 + n_c
            continue
        for k, (m_k, a_k) in enumerate(zip(M.unbind(0), A.unbind(0)), start=k0):
            s = slot[k + 1]
            target = rows[s] if s >= 0 else (priv[1] if x is priv[0] else priv[0])
            x = torch.addcmul(a_k, x, m_k, out=target)
            if saved is not None and (k + 1 - k_saved >= CHECK_EVERY or k + 1 == k0 + n_c):
                if not all_finite(x):
                    locate(saved, k_saved, k + 1, terms, k0)
                saved.copy_(x)
                k_saved = k + 1
    return out
