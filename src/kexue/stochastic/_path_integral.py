r"""Path integrals of Su's thesis (kexue.fm archives 3757, 3762): the time-sliced propagator, the
Onsager–Machlup action of a discrete path, and Su's potential ``V`` that turns a Fokker–Planck
equation into an imaginary-time Schrödinger equation.

Conventions (diffusion constant ``alpha``, drift ``p``):

* The imaginary-time Schrödinger equation ``alpha φ_t = (alpha²/2) φ_xx + V φ`` has the kernel
  ``K(x_b, t_b; x_a, t_a) = ∫ exp[−(1/alpha) ∫ (ẋ²/2 − V) dt] Dx`` (thesis eqs. 40–41), whose
  short-time form is ``(2π alpha Δt)^{-1/2} exp(−Δx²/(2 alpha Δt) + V Δt/alpha)``.
* The SDE ``dx = p dt + sqrt(alpha) dW`` has the Onsager–Machlup path weight (eq. 66)
  ``exp{−(1/(2alpha)) ∫ [(ẋ − p)² + alpha p_x] dt}`` (midpoint discretisation), or
  ``exp{−(1/(2alpha)) ∫ (ẋ − p)² dt}`` with the Itô (pre-point) discretisation, whose Jacobian is 1.
* Su's transform ``P = exp(U/alpha) φ``, ``U(t, x) = ∫_0^x p(t, y) dy``, gives
  ``V = −½(alpha p_x + p²) − ∫_0^x p_t dy`` (eqs. 18–19).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    import sympy as sp

from ._pde_grid import _eval_1d, _uniform_grid

__all__ = [
    "path_integral_propagator", "onsager_machlup_action", "schrodinger_potential",
    "SchrodingerPotential", "OM_CONVENTIONS",
]

OM_CONVENTIONS = ("ito", "midpoint")


def _positive(name: str, v, fix: str = "") -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
            or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {v!r}. {fix}".rstrip())
    return float(v)


# --------------------------------------------------------------------------------- propagator
def path_integral_propagator(V, x, T: float, *, alpha: float, n_slices: int,
                             symmetric: bool = True, t0: float = 0.0) -> np.ndarray:
    r"""Time-sliced path integral: the kernel of ``alpha φ_t = (alpha²/2) φ_xx + V φ`` on a grid.

    Feynman's time slicing of the thesis' path integral (kexue.fm archive 3757, eqs. 23–41):
    ``K ≈ S_{n−1} Δx S_{n−2} Δx ⋯ Δx S_0`` with the slice kernel

    * symmetric (Strang/Trotter) split, error ``O(Δt²)``:
      ``S_k = e^{V(t_{k+1}) Δt/(2alpha)} K_0 e^{V(t_k) Δt/(2alpha)}``;
    * one-sided, error ``O(Δt)``: ``S_k = K_0 e^{V(t_k) Δt/alpha}`` (potential at the departure
      point),

    where ``K_0(x_i, x_j) = (2π alpha Δt)^{-1/2} exp(−(x_i − x_j)²/(2 alpha Δt))`` and the
    intermediate integrals are Riemann sums on the grid (spectrally accurate while
    ``Δx ≤ sqrt(alpha Δt)``; the grid must be wide enough for the kernel to vanish at its ends).
    For a time-independent ``V`` the product is a matrix power (``O(log n)`` products).

    Args:
        V: the potential — ``None`` (free), a number, an array of shape ``(N,)`` of values on
            ``x`` (time-independent), or a callable ``(t, x) -> (N, 1)`` (``x`` a float64 tensor
            of shape ``(N, 1)``), evaluated at the slice times ``t0 + kΔt``.
        x: uniform grid, shape ``(N,)``.
        T: propagation time (> 0).
        alpha: diffusion constant (> 0; plays ħ).
        n_slices: number of time slices ``n`` (≥ 1), ``Δt = T/n``.
        symmetric: symmetric split (default) or one-sided.
        t0: starting time for a time-dependent ``V``.

    Returns:
        ``(N, N)`` array ``K[b, a] = K(x_b, t0 + T; x_a, t0)`` (a density in ``x_b``); apply it to
        initial data ``φ_0`` on the grid as ``K @ φ_0 * Δx``.

    Raises:
        ValueError: bad ``T``/``alpha``/``n_slices``, non-uniform grid, or
            ``Δx > sqrt(alpha T/n_slices)`` (use a finer grid or fewer slices).
    """
    x, h = _uniform_grid(x)
    T = _positive("T", T)
    alpha = _positive("alpha", alpha, "alpha is the diffusion constant.")
    if isinstance(n_slices, bool) or not isinstance(n_slices, (int, np.integer)) or n_slices < 1:
        raise ValueError(f"n_slices must be a positive integer; got {n_slices!r}.")
    n = int(n_slices)
    dt = T / n
    width = math.sqrt(alpha * dt)
    if h > width:
        raise ValueError(
            f"grid spacing {h:.3g} exceeds the short-time kernel width sqrt(alpha*T/n_slices) = "
            f"{width:.3g}; the Riemann sums would be inaccurate. Use a finer grid (spacing below "
            f"{width:.3g}) or fewer slices (n_slices <= {int(alpha * T / h**2)}).")
    times = t0 + dt * np.arange(n + 1)
    if V is None or isinstance(V, (int, float, np.floating, np.integer)):
        vals = [np.full(x.size, 0.0 if V is None else float(V))]
    elif callable(V):
        vals = [_eval_1d(V, t, x, name="V") for t in times]
    else:
        arr = np.asarray(V, dtype=np.float64)
        if arr.shape != x.shape or not np.all(np.isfinite(arr)):
            raise ValueError(f"V given as an array must be finite with the grid's shape "
                             f"{x.shape}; got shape {arr.shape}.")
        vals = [arr]
    diff = x[:, None] - x[None, :]
    K0 = np.exp(-diff * diff / (2.0 * alpha * dt)) / math.sqrt(2.0 * math.pi * alpha * dt)

    def slice_kernel(va: np.ndarray, vb: np.ndarray) -> np.ndarray:
        if symmetric:
            return (np.exp(vb * dt / (2.0 * alpha))[:, None] * K0
                    * np.exp(va * dt / (2.0 * alpha))[None, :])
        return K0 * np.exp(va * dt / alpha)[None, :]

    if all(np.array_equal(vals[0], v) for v in vals[1:]):
        M = h * slice_kernel(vals[0], vals[0])  # (N, N) one-slice integral operator
        return np.linalg.matrix_power(M, n) / h
    K = slice_kernel(vals[0], vals[1])
    for k in range(1, n):
        K = slice_kernel(vals[k], vals[k + 1]) @ K * h  # (N, N)
    return K


# --------------------------------------------------------------------------- Onsager–Machlup
def _as64(v, like: torch.Tensor) -> torch.Tensor:
    """A drift value as a float64 tensor on ``like``'s device."""
    return torch.as_tensor(v, dtype=torch.float64, device=like.device)


def _drift_values(drift, t: torch.Tensor, x: torch.Tensor, *, with_dx: bool, drift_dx=None):
    """Drift (and ∂p/∂x) at points ``x`` of shape ``(B, 1)``; returns tensors of shape ``(B,)``."""
    b = x.shape[0]
    if isinstance(drift, (int, float, np.floating, np.integer)):
        p = x.new_full((b,), float(drift))
        return p, x.new_zeros(b)
    if not callable(drift):
        raise TypeError(f"drift must be a number or a callable (t, x) with x of shape (batch, 1); "
                        f"got {type(drift).__name__}.")
    if not with_dx:
        with torch.no_grad():
            p = torch.broadcast_to(_as64(drift(t, x), x), (b, 1))
        return p.reshape(b), None
    if drift_dx is not None:
        with torch.no_grad():
            p = torch.broadcast_to(_as64(drift(t, x), x), (b, 1))
            px = torch.broadcast_to(_as64(drift_dx(t, x), x), (b, 1))
        return p.reshape(b), px.reshape(b)
    with torch.enable_grad():
        xr = x.detach().clone().requires_grad_(True)
        p = torch.broadcast_to(_as64(drift(t, xr), xr), (b, 1))
        if p.requires_grad:
            (px,) = torch.autograd.grad(p.sum(), xr, allow_unused=True)
        else:
            px = None
    px = x.new_zeros(b) if px is None else px.reshape(b)
    return p.detach().reshape(b), px


def onsager_machlup_action(path, drift, alpha: float, dt: float, *, convention: str = "ito",
                           t0: float = 0.0, drift_dx=None):
    r"""Discrete Onsager–Machlup action ``S`` of paths of ``dx = p(t, x) dt + sqrt(alpha) dW``.

    Onsager & Machlup (1953); Su's thesis, kexue.fm archive 3762, eqs. 60–66. With
    ``Δx_k = x_{k+1} − x_k``:

    * ``"ito"`` (pre-point): ``S = Σ_k (Δx_k − p(t_k, x_k) Δt)²/(2 alpha Δt)``; the Jacobian of
      ``W → x`` is 1, and ``(2π alpha Δt)^{-n/2} e^{−S}`` is *exactly* the product of the
      Euler–Maruyama transition densities;
    * ``"midpoint"``: ``S = Σ_k [(Δx_k − p(t̄_k, x̄_k) Δt)²/(2 alpha Δt) + ½ p_x(t̄_k, x̄_k) Δt]``
      with ``x̄_k = (x_k + x_{k+1})/2``, ``t̄_k = t_k + Δt/2``: the ``+alpha p_x`` term of eq. 66 is
      the Jacobian ``exp(−½∫p_x dt)`` of eq. 64.

    Both weights give the same continuum transition density; the two differ by the Jacobian
    term ``½ Σ p_x Δt`` plus ``O(Δt^{1/2})`` discretisation differences.

    Args:
        path: discrete paths, shape ``(n + 1, batch)`` (time-major), NumPy array or tensor.
        drift: ``p`` — a number or a callable ``(t, x) -> (batch, 1)`` on float64 tensors.
        alpha: diffusion constant (> 0).
        dt: time step (> 0), ``t_k = t0 + k dt``.
        convention: ``"ito"`` or ``"midpoint"``.
        t0: time of the first point.
        drift_dx: optional ``∂p/∂x (t, x)`` for the midpoint rule (else autograd).

    Returns:
        ``S`` of shape ``(batch,)``, a NumPy array for NumPy input, a float64 tensor on the
        path's device for tensor input.
    """
    alpha = _positive("alpha", alpha, "alpha is the diffusion constant.")
    dt = _positive("dt", dt)
    if convention not in OM_CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(OM_CONVENTIONS)}; "
                         f"got {convention!r}.")
    is_tensor = isinstance(path, torch.Tensor)
    X = torch.as_tensor(path, dtype=torch.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"path must have shape (n + 1, batch) with n >= 1 steps; got "
                         f"{tuple(X.shape)}.")
    if not torch.isfinite(X).all():
        raise ValueError("path must be finite; it contains nan/inf.")
    n, batch = X.shape[0] - 1, X.shape[1]
    dX = X[1:] - X[:-1]  # (n, batch)
    if convention == "ito":
        pts = X[:-1].reshape(-1, 1)  # (n*batch, 1)
        ts = t0 + dt * torch.arange(n, dtype=torch.float64, device=X.device)
    else:
        pts = (0.5 * (X[:-1] + X[1:])).reshape(-1, 1)
        ts = t0 + dt * (torch.arange(n, dtype=torch.float64, device=X.device) + 0.5)
    S = X.new_zeros(batch)
    for k in range(n):  # one drift call per time step: the drift may depend on t
        xk = pts[k * batch:(k + 1) * batch]  # (batch, 1)
        p, px = _drift_values(drift, ts[k], xk, with_dx=convention == "midpoint",
                              drift_dx=drift_dx)
        S += (dX[k] - p * dt) ** 2 / (2.0 * alpha * dt)
        if convention == "midpoint":
            S += 0.5 * px * dt
    return S if is_tensor else S.numpy()


# ------------------------------------------------------------------------ Schrödinger potential
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(48)


class SchrodingerPotential:
    r"""Su's potential ``V(t, x) = −½(alpha p_x + p²) − ∫_0^x p_t dy`` and gauge ``U = ∫_0^x p dy``.

    If ``P`` solves ``P_t = (alpha/2) P_xx − (p P)_x`` then ``φ = exp(−U/alpha) P`` solves
    ``alpha φ_t = (alpha²/2) φ_xx + V φ`` (kexue.fm archive 3750, eqs. 18–19). Calling the object
    evaluates ``V``; :meth:`U` evaluates the gauge. Both accept ``(t, x)`` with ``x`` a tensor
    (returns a tensor of the same shape) or an array (returns an array).

    Attributes:
        expr, U_expr: the sympy expressions (symbolic drift only), else ``None``.
        alpha: the diffusion constant.
    """

    def __init__(self, V: Callable, U: Callable, alpha: float, expr=None, U_expr=None) -> None:
        self._V, self._U = V, U
        self.alpha = alpha
        self.expr, self.U_expr = expr, U_expr

    def __call__(self, t, x):
        return self._V(t, x)

    def U(self, t, x):
        """The gauge ``U(t, x) = ∫_0^x p(t, y) dy``."""
        return self._U(t, x)

    def __repr__(self) -> str:
        body = f"V={self.expr}" if self.expr is not None else "V from a callable drift"
        return f"SchrodingerPotential({body}, alpha={self.alpha})"


def _symbolic(drift: sp.Expr, alpha: float) -> SchrodingerPotential:
    from ..extras import symbolic  # imported on use: it costs ~1 s at start-up
    sp = symbolic()[0]

    names = {s.name: s for s in drift.free_symbols}
    extra = set(names) - {"x", "t"}
    if extra:
        raise ValueError(f"a symbolic drift may contain only the symbols x and t; found "
                         f"{sorted(extra)}. Substitute numbers for the parameters first, e.g. "
                         "drift.subs(theta, 1.3).")
    x = names.get("x", sp.Symbol("x"))
    t = names.get("t", sp.Symbol("t"))
    y = sp.Dummy("y")
    a = sp.Rational(repr(alpha))  # the decimal the user typed, exactly (0.7 -> 7/10)
    U_expr = sp.integrate(drift.subs(x, y), (y, 0, x))
    pt_int = sp.integrate(sp.diff(drift, t).subs(x, y), (y, 0, x))
    V_expr = sp.simplify(-(a * sp.diff(drift, x) + drift**2) / 2 - pt_int)
    if V_expr.has(sp.Integral) or U_expr.has(sp.Integral):
        raise ValueError("sympy could not integrate the drift in closed form; pass the drift as "
                         "a torch callable (t, x) instead (quadrature is used then).")

    def make(expr):
        f_np = sp.lambdify((t, x), expr, modules="numpy")
        try:
            f_t = sp.lambdify((t, x), expr, modules="torch")
        except Exception:  # noqa: BLE001 - older sympy without a torch printer
            f_t = None

        def call(tt, xx):
            if isinstance(xx, torch.Tensor):
                tt_t = torch.as_tensor(tt, dtype=torch.float64)
                if f_t is not None:
                    out = torch.as_tensor(f_t(tt_t, xx), dtype=torch.float64)
                else:
                    out = torch.as_tensor(f_np(float(tt_t), xx.detach().cpu().numpy()),
                                          dtype=torch.float64)
                return torch.broadcast_to(out, xx.shape).clone()
            xa = np.asarray(xx, dtype=np.float64)
            return np.broadcast_to(np.asarray(f_np(tt, xa), dtype=np.float64), xa.shape).copy()

        return call

    return SchrodingerPotential(make(V_expr), make(U_expr), alpha, V_expr, U_expr)


def _numeric(drift: Callable, alpha: float) -> SchrodingerPotential:
    nodes = torch.as_tensor((_GL_NODES + 1.0) / 2.0, dtype=torch.float64)  # on [0, 1]
    weights = torch.as_tensor(_GL_WEIGHTS / 2.0, dtype=torch.float64)

    def as_tensor(t, x):
        was_tensor = isinstance(x, torch.Tensor)
        xt = torch.as_tensor(x, dtype=torch.float64)
        return torch.as_tensor(t, dtype=torch.float64), xt, was_tensor, xt.shape

    def p_and_derivs(t, xf):
        """p, p_x, p_t at flat points ``xf`` (M,) by reverse-mode autograd.

        ``p_x``: gradient of ``Σ p`` (the drift is elementwise). ``p_t`` (a vector derivative with
        respect to the scalar ``t``): the double-vjp trick, ``∂/∂v [vᵀ ∂p/∂t] = ∂p/∂t``.
        """
        with torch.enable_grad():
            xc = xf.detach().reshape(-1, 1).clone().requires_grad_(True)  # (M, 1)
            tc = t.detach().clone().requires_grad_(True)
            p = torch.broadcast_to(torch.as_tensor(drift(tc, xc), dtype=torch.float64),
                                   xc.shape)
            zeros = torch.zeros_like(xc)
            if not p.requires_grad:  # constant drift
                return p.detach().reshape(-1), zeros.reshape(-1), zeros.reshape(-1)
            px, = torch.autograd.grad(p.sum(), xc, retain_graph=True, allow_unused=True)
            v = torch.ones_like(p, requires_grad=True)
            gt, = torch.autograd.grad(p, tc, grad_outputs=v, create_graph=True,
                                      allow_unused=True)
            pt = None
            if gt is not None and gt.requires_grad:
                pt, = torch.autograd.grad(gt, v, allow_unused=True)
            pt = zeros if pt is None else pt
        px = zeros if px is None else px
        return p.detach().reshape(-1), px.detach().reshape(-1), pt.detach().reshape(-1)

    def integral(t, xf, which: int):
        """∫_0^x (p or p_t) dy by 48-point Gauss–Legendre, for flat ``xf`` (M,)."""
        ys = xf[:, None] * nodes[None, :]  # (M, 48)
        vals = p_and_derivs(t, ys.reshape(-1))[which].reshape(ys.shape)
        return xf * (vals * weights).sum(dim=1)

    def V(t, x):
        tt, xt, was_tensor, shape = as_tensor(t, x)
        xf = xt.reshape(-1)
        p, px, pt = p_and_derivs(tt, xf)
        out = -0.5 * (alpha * px + p * p)
        if torch.any(pt != 0):
            out = out - integral(tt, xf, 2)
        out = out.reshape(shape)
        return out if was_tensor else out.numpy()

    def U(t, x):
        tt, xt, was_tensor, shape = as_tensor(t, x)
        out = integral(tt, xt.reshape(-1), 0).reshape(shape)
        return out if was_tensor else out.numpy()

    return SchrodingerPotential(V, U, alpha)


def schrodinger_potential(drift, alpha: float) -> SchrodingerPotential:
    r"""Su's potential for the drift ``p``: ``V = −½(alpha p_x + p²) − ∫_0^x p_t dy``.

    Removing the first-order term of the Fokker–Planck equation (kexue.fm archive 3750,
    eqs. 18–19): with ``U(t, x) = ∫_0^x p(t, y) dy`` and ``P = e^{U/alpha} φ``,
    ``P_t = (alpha/2) P_xx − (pP)_x  ⇔  alpha φ_t = (alpha²/2) φ_xx + V φ``. The lower limit 0 fixes
    the gauge: another limit adds a function of ``t`` to both ``U`` and ``V``, consistently. For a
    time-independent drift the last term vanishes.

    Two ways to give the drift:

    * a sympy expression in the symbols ``x`` and ``t`` (other parameters substituted by
      numbers): ``V`` and ``U`` are derived symbolically (``.expr``, ``.U_expr``) and lambdified;
    * a callable ``(t, x)`` on float64 tensors made of torch operations: ``p_x`` and ``p_t`` by
      automatic differentiation, the integrals by 48-point Gauss–Legendre on
      ``[0, x]`` (accurate to rounding for polynomial drifts up to degree 95, spectrally for
      smooth ones). The drift must be elementwise in ``x`` (row ``i`` of the output depends only
      on row ``i`` of ``x``).

    Args:
        drift: sympy expression, or callable ``(t, x) -> (batch, 1)``.
        alpha: diffusion constant (> 0).

    Returns:
        a :class:`SchrodingerPotential`: callable ``V(t, x)``, with ``.U(t, x)``.
    """
    alpha = _positive("alpha", alpha, "alpha is the diffusion constant.")
    sympy = sys.modules.get("sympy")  # a sympy expression implies sympy is imported already
    if sympy is not None and isinstance(drift, sympy.Basic):
        return _symbolic(sympy.sympify(drift), alpha)
    if isinstance(drift, (int, float, np.floating, np.integer)):
        from ..extras import symbolic
        sp = symbolic()[0]

        c = float(drift)
        return _symbolic(sp.Float(c) + 0 * sp.Symbol("x"), alpha)
    if callable(drift):
        return _numeric(drift, alpha)
    raise TypeError(f"drift must be a sympy expression in x and t, a number, or a callable "
                    f"(t, x); got {type(drift).__name__}.")
