r"""The Lamperti transform: multiplicative noise ``g(x) dW`` made additive.

Su's thesis, part 5 (kexue.fm archive 3766), solves the stock-price SDE by ``x = ln S``; the
general map (Lamperti 1964; Møller & Madsen 2010, "From state dependent diffusion to constant
diffusion in stochastic differential equations by the Lamperti transform") is, for the Itô SDE
``dX = f(t, X) dt + g(X) dW`` with ``g > 0`` on the state space,

``Y = φ(X) = ∫_{x_ref}^{X} dz / g(z)``,  ``dY = [f(t, X)/g(X) − g'(X)/2] dt + dW``,
``X = φ^{-1}(Y)``

(Itô's formula with ``φ' = 1/g`` and ``φ'' = −g'/g²``). Examples: GBM ``g = σx`` gives
``Y = ln(x)/σ`` and the constant drift ``μ/σ − σ/2``; CIR ``dX = κ(θ − X)dt + σ√X dW`` gives
``Y = 2√x/σ`` and ``(4κθ − σ²)/(2σ² Y) − κY/2``.

Densities map as ``p_X(x) = p_Y(φ(x)) / g(x)``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np
import torch

from ._sde import SDE

__all__ = ["lamperti_transform", "LampertiTransform"]

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(64)


class LampertiTransform:
    r"""A Lamperti map ``Y = φ(X) = ∫_{x_ref}^X dz/g(z)`` with its transformed Itô drift.

    Source: Lamperti 1964; Su's thesis, part 5 (kexue.fm archive 3766) uses ``x = ln S``.

    Built by :func:`lamperti_transform`. ``to_y``/``to_x``/``drift_y``/``density_x`` accept
    tensors (returned as tensors) or arrays (returned as arrays).

    Attributes:
        y_expr, x_expr, drift_expr: the sympy expressions of ``φ(x)``, ``φ^{-1}(y)`` and the
            drift of ``Y`` in ``(t, y)`` (symbolic input only), else ``None``.
    """

    def __init__(self, to_y: Callable, to_x: Callable, drift_y: Callable, g: Callable,
                 y_expr=None, x_expr=None, drift_expr=None) -> None:
        self._to_y, self._to_x, self._drift_y, self._g = to_y, to_x, drift_y, g
        self.y_expr, self.x_expr, self.drift_expr = y_expr, x_expr, drift_expr

    @staticmethod
    def _io(fn, *args):
        was_tensor = any(isinstance(a, torch.Tensor) for a in args)
        ts = [torch.as_tensor(a, dtype=torch.float64) for a in args]
        out = fn(*ts)
        return out if was_tensor else out.detach().cpu().numpy()

    def to_y(self, x):
        """``y = φ(x)``, same shape as ``x``."""
        return self._io(self._to_y, x)

    def to_x(self, y):
        """``x = φ^{-1}(y)``, same shape as ``y``."""
        return self._io(self._to_x, y)

    def drift_y(self, t, y):
        """The Itô drift ``f/g − g'/2`` of ``Y`` at ``x = φ^{-1}(y)``, same shape as ``y``."""
        return self._io(lambda tt, yy: self._drift_y(tt, yy), t, y)

    def sde(self) -> SDE:
        """The transformed SDE ``dY = drift_y(t, Y) dt + dW`` (additive unit noise)."""
        return SDE(lambda t, y: self._drift_y(t, y), lambda t, y: torch.ones_like(y),
                   noise="additive")

    def density_x(self, density_y: Callable, x):
        """Map a density of ``Y`` to one of ``X``: ``p_X(x) = p_Y(φ(x))/g(x)``.

        ``density_y`` is called on ``φ(x)`` (same array/tensor kind as ``x``).
        """
        y = self.to_y(x)
        g = self._io(self._g, x)
        return density_y(y) / g


def _symbolic(drift, diffusion, x_ref) -> LampertiTransform:
    from ..extras import symbolic
    sp = symbolic()[0]

    # strict: a string (or an object converted through its str) is never parsed, i.e. eval-ed
    for name, value in (("drift", drift), ("diffusion", diffusion)):
        try:
            sp.sympify(value, strict=True)
        except (sp.SympifyError, TypeError):
            raise TypeError(f"{name} must be a sympy expression in x (and t), a number or a "
                            f"callable (t, x); got {type(value).__name__} {value!r}. Strings are "
                            "not parsed: build the expression with SymPy, e.g. 0.5 * x with "
                            "x = sympy.Symbol('x').") from None
    free = sp.sympify(drift).free_symbols | sp.sympify(diffusion).free_symbols
    syms = {s.name: s for s in free}
    extra = set(syms) - {"x", "t"}
    if extra:
        raise ValueError(f"symbolic drift/diffusion may contain only x and t; found "
                         f"{sorted(extra)}. Substitute numbers for the parameters first.")
    if "t" in {s.name for s in sp.sympify(diffusion).free_symbols}:
        raise ValueError("diffusion must not depend on t (the time-dependent Lamperti map has an "
                         "extra ∂φ/∂t term, not implemented).")
    x = syms.get("x", sp.Symbol("x"))
    t = syms.get("t", sp.Symbol("t"))
    xp = sp.Symbol("x", positive=True)
    y = sp.Symbol("y", real=True)
    f, g = sp.sympify(drift).subs(x, xp), sp.sympify(diffusion).subs(x, xp)
    phi = sp.integrate(1 / g, xp)
    if phi.has(sp.Integral):
        raise ValueError(f"sympy could not integrate 1/g = {1 / g}; pass callables instead "
                         "(numerical quadrature is used then).")
    if x_ref is not None:
        phi = phi - phi.subs(xp, sp.nsimplify(x_ref))
    phi = sp.simplify(phi)
    sols = sp.solve(sp.Eq(phi, y), xp)
    probe = sp.Float(0.7317)
    inv = None
    for cand in sols:
        try:
            back = complex(cand.subs(y, phi.subs(xp, probe)).evalf())
        except (TypeError, ValueError):
            continue
        if abs(back - float(probe)) < 1e-9:
            inv = cand
            break
    if inv is None:
        raise ValueError(f"could not invert φ(x) = {phi} symbolically; pass callables instead.")
    mu_x = sp.simplify(f / g - sp.diff(g, xp) / 2)
    mu_y = sp.simplify(mu_x.subs(xp, inv))

    def lam(expr, var):
        return sp.lambdify((t, var), expr, modules="torch")

    phi_t, inv_t, mu_t = lam(phi, xp), lam(inv, y), lam(mu_y, y)
    g_t = lam(g, xp)
    zero = torch.zeros((), dtype=torch.float64)

    def bcast(out, like):
        return torch.broadcast_to(torch.as_tensor(out, dtype=torch.float64, device=like.device),
                                  like.shape).clone()

    return LampertiTransform(
        to_y=lambda xx: bcast(phi_t(zero, xx), xx),
        to_x=lambda yy: bcast(inv_t(zero, yy), yy),
        drift_y=lambda tt, yy: bcast(mu_t(torch.as_tensor(tt, dtype=yy.dtype), yy), yy),
        g=lambda xx: bcast(g_t(zero, xx), xx),
        y_expr=phi.subs(xp, x), x_expr=inv, drift_expr=mu_y)


def _numeric(drift, diffusion, x_ref: float, newton_steps: int,
             ode_steps: int) -> LampertiTransform:
    nodes = torch.as_tensor((_GL_NODES + 1.0) / 2.0, dtype=torch.float64)  # on (0, 1)
    weights = torch.as_tensor(_GL_WEIGHTS / 2.0, dtype=torch.float64)
    zero = torch.zeros((), dtype=torch.float64)

    def g(xx: torch.Tensor) -> torch.Tensor:
        flat = xx.reshape(-1, 1)
        out = torch.as_tensor(diffusion(zero, flat), dtype=torch.float64)
        return torch.broadcast_to(out, flat.shape).reshape(xx.shape)

    def to_y(xx: torch.Tensor) -> torch.Tensor:
        flat = xx.reshape(-1)
        pts = x_ref + (flat - x_ref)[:, None] * nodes[None, :]  # (M, 64)
        vals = 1.0 / g(pts)
        return ((flat - x_ref) * (vals * weights).sum(-1)).reshape(xx.shape)

    def to_x(yy: torch.Tensor) -> torch.Tensor:
        """Solve ``dx/dy = g(x)``, ``x(0) = x_ref`` (RK4, ``ode_steps`` steps), then Newton."""
        xx = torch.full_like(yy, x_ref)
        h = yy / ode_steps
        for _ in range(ode_steps):
            k1 = g(xx)
            k2 = g(xx + 0.5 * h * k1)
            k3 = g(xx + 0.5 * h * k2)
            k4 = g(xx + h * k3)
            xx = xx + h * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
        for _ in range(newton_steps):  # φ' = 1/g: Newton step (φ(x) − y)·g(x)
            step = (to_y(xx) - yy) * g(xx)
            xx = xx - step
            if float(step.abs().max()) < 1e-14 * (1.0 + float(xx.abs().max())):
                break
        return xx

    def drift_y(tt, yy: torch.Tensor) -> torch.Tensor:
        tt = torch.as_tensor(tt, dtype=torch.float64)
        xx = to_x(yy).reshape(-1, 1).detach()
        with torch.enable_grad():
            xr = xx.clone().requires_grad_(True)
            gx = torch.broadcast_to(torch.as_tensor(diffusion(tt, xr), dtype=torch.float64),
                                    xr.shape)
            (gp,) = torch.autograd.grad(gx.sum(), xr, allow_unused=True)
        gp = torch.zeros_like(xx) if gp is None else gp
        f = torch.broadcast_to(torch.as_tensor(drift(tt, xx), dtype=torch.float64), xx.shape)
        return (f / gx.detach() - gp / 2.0).reshape(yy.shape)

    return LampertiTransform(to_y=to_y, to_x=to_x, drift_y=drift_y, g=g)


def lamperti_transform(drift, diffusion, *, x_ref: float | None = None,
                       newton_steps: int = 5, ode_steps: int = 64) -> LampertiTransform:
    r"""The Lamperti transform of ``dX = f(t, X) dt + g(X) dW`` (Itô, scalar, ``g > 0``).

    Lamperti (1964); Su's thesis part 5 (kexue.fm archive 3766) for ``g = σx``. Returns the map
    ``φ(x) = ∫_{x_ref}^x dz/g(z)``, its inverse and the drift ``f/g − g'/2`` of ``Y = φ(X)``, which
    has unit additive noise: ``dY = (f/g − g'/2) dt + dW``.

    Two ways to give the coefficients:

    * sympy expressions in ``x`` (and ``t`` for the drift), numbers substituted for parameters:
      ``φ`` by ``sympy.integrate`` (an antiderivative; ``x_ref`` fixes its constant if given),
      the inverse by ``sympy.solve`` (the real branch that round-trips), and the drift simplified;
      ``x`` is taken positive (GBM, CIR, …);
    * callables ``(t, x)`` of torch operations on ``(M, 1)`` float64 tensors: ``φ`` by 64-point
      Gauss–Legendre on ``[x_ref, x]`` (accurate for ``g`` smooth and bounded away from zero on
      that interval), the inverse by integrating ``dx/dy = g(x)`` from ``(0, x_ref)`` (RK4)
      and polishing with Newton's method, ``g'`` by autograd; ``x_ref`` required.

    Args:
        drift: ``f(t, x)``.
        diffusion: ``g(x)`` (for callables, ``g(t, x)`` with ``t`` ignored; must be > 0).
        x_ref: lower limit of the integral (the point mapped to ``y = 0``).
        newton_steps: Newton iterations polishing the numerical inverse.
        ode_steps: RK4 steps of the numerical inverse's ODE ``dx/dy = g(x)``.

    Returns:
        a :class:`LampertiTransform` (``to_y``, ``to_x``, ``drift_y``, ``sde()``, ``density_x``).

    Raises:
        ValueError: unknown symbols, a non-integrable or non-invertible ``φ``, missing ``x_ref``.
        TypeError: coefficients that are neither sympy expressions nor callables.
    """
    sympy = sys.modules.get("sympy")
    if sympy is not None and isinstance(diffusion, sympy.Basic):
        return _symbolic(drift, diffusion, x_ref)
    if not (callable(drift) and callable(diffusion)):
        raise TypeError(f"drift and diffusion must both be sympy expressions in x (and t) or both "
                        f"callables (t, x); got {type(drift).__name__} and "
                        f"{type(diffusion).__name__}.")
    if x_ref is None or isinstance(x_ref, bool) or not math.isfinite(float(x_ref)):
        raise ValueError(f"x_ref (a finite point where g > 0) is required for callable "
                         f"coefficients; got {x_ref!r}.")
    g0 = float(torch.as_tensor(diffusion(torch.zeros((), dtype=torch.float64),
                                         torch.full((1, 1), float(x_ref), dtype=torch.float64)),
                               dtype=torch.float64).reshape(-1)[0])
    if not g0 > 0:
        raise ValueError(f"diffusion must be > 0 at x_ref = {x_ref}; got g(x_ref) = {g0}. Choose "
                         "x_ref inside the state space (e.g. x_ref = 1 for GBM or CIR).")
    return _numeric(drift, diffusion, float(x_ref), int(newton_steps), int(ode_steps))
