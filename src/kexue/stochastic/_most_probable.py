r"""Most probable paths and bridges of ``dx = p(t, x) dt + sqrt(alpha) dW`` between fixed ends.

Su's thesis, part 3–4 (kexue.fm archives 3757, 3762): the path weight of the SDE is the
Onsager–Machlup functional (eq. 66) ``exp{−(1/(2alpha)) ∫ [(ẋ − p)² + alpha p_x] dt}``; the most
probable path from ``(t0, xa)`` to ``(t0 + T, xb)`` minimises it — a boundary-value problem whose
Euler–Lagrange equation is ``ẍ = p p_x + (alpha/2) p_xx + p_t`` (for a gradient drift
``p = −U'`` this is Su's "classical" equation ``ẍ = −∂V/∂x`` with the potential of eqs. 18–19).

:func:`most_probable_path` discretises the action on ``n_steps`` intervals (midpoint rule, which
carries the Jacobian term ``½ p_x``; or the Itô pre-point rule, whose minimiser tends to the
Freidlin–Wentzell path ``ẍ = p p_x + p_t`` instead) and minimises it over the interior points by
Newton's method: the action couples only neighbouring points, so its Hessian is tridiagonal and
is recovered from three Hessian–vector products (autograd, float64); steps are Levenberg-damped
with an Armijo backtracking line search, so the iteration also works where the action is not
convex.

:func:`sde_bridges` draws Monte Carlo bridges: Brownian bridges from ``xa`` to ``xb`` with
self-normalised importance weights ``exp((1/alpha) ∫ V(t, X_t) dt)`` (trapezoid rule), ``V`` Su's
potential. By Girsanov and Itô's formula the bridge law of a time-independent drift is exactly
this reweighted Brownian bridge (the boundary term ``e^{(U(xb) − U(xa))/alpha}`` is a constant);
for a linear drift the weighted mean path equals the most probable path (Gaussian: mean = mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..rng import as_generator
from ._path_integral import OM_CONVENTIONS, schrodinger_potential

__all__ = ["most_probable_path", "MostProbablePath", "sde_bridges", "BridgeSample"]


def _positive(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
            or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {v!r}.")
    return float(v)


def _finite(name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
            or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number; got {v!r}.")
    return float(v)


def _steps(v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
        raise ValueError(f"n_steps must be an integer >= 2 (at least one interior point); "
                         f"got {v!r}.")
    return int(v)


@dataclass
class MostProbablePath:
    """Result of :func:`most_probable_path`.

    Source: Su's thesis, parts 3–4 (kexue.fm archives 3757, 3762).

    Attributes:
        ts: times, shape ``(n_steps + 1,)`` (float64 tensor).
        path: the minimising path, shape ``(n_steps + 1,)``, end points included.
        action: the discrete Onsager–Machlup action at the minimum (a float).
        grad_norm: sup norm of the action's gradient over the interior points at the end.
        iterations: Newton iterations used.
    """

    ts: torch.Tensor
    path: torch.Tensor
    action: float
    grad_norm: float
    iterations: int


def _drift(drift, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``p(t, x)`` for ``x`` of shape ``(M,)`` with ``t`` of shape ``(M,)``; returns ``(M,)``."""
    if isinstance(drift, (int, float, np.floating, np.integer)) and not isinstance(drift, bool):
        return torch.full_like(x, float(drift))
    out = torch.as_tensor(drift(t[:, None], x[:, None]), dtype=x.dtype, device=x.device)
    return torch.broadcast_to(out, (x.shape[0], 1)).reshape(-1)


def _action(drift, x: torch.Tensor, ts: torch.Tensor, alpha: float, dt: float, convention: str,
            drift_dx) -> torch.Tensor:
    """Discrete OM action of one path ``x`` of shape ``(n + 1,)`` (differentiable in ``x``)."""
    dx = x[1:] - x[:-1]  # (n,)
    if convention == "ito":
        p = _drift(drift, ts[:-1], x[:-1])
        return ((dx - p * dt) ** 2).sum() / (2.0 * alpha * dt)
    xm, tm = 0.5 * (x[1:] + x[:-1]), ts[:-1] + 0.5 * dt
    if drift_dx is None:
        xm_ = xm if xm.requires_grad else xm.detach().requires_grad_(True)
        p = _drift(drift, tm, xm_)
        if p.requires_grad:
            (px,) = torch.autograd.grad(p.sum(), xm_, create_graph=True, allow_unused=True)
            px = torch.zeros_like(xm) if px is None else px
        else:
            px = torch.zeros_like(xm)
    else:
        p = _drift(drift, tm, xm)
        px = _drift(drift_dx, tm, xm)
    return ((dx - p * dt) ** 2).sum() / (2.0 * alpha * dt) + 0.5 * dt * px.sum()


def most_probable_path(drift, xa: float, xb: float, T: float, *, alpha: float, n_steps: int,
                       convention: str = "midpoint", t0: float = 0.0, init=None, drift_dx=None,
                       max_iter: int = 100, tol: float = 1e-10,
                       device: str | torch.device | None = None) -> MostProbablePath:
    r"""Minimise the discrete Onsager–Machlup action between fixed end points (a BVP).

    Su's thesis, archive 3762, eqs. 60–66 (the action) and archive 3757 (most probable path);
    Onsager & Machlup (1953); Dürr & Bach (1978) for the "most probable tube" meaning of the
    midpoint (OM) functional. Solved by damped Newton iterations on the tridiagonal Hessian
    (see the module docstring). With ``Δt = T/n_steps``, ``t_k = t0 + kΔt`` and ``x_0 = xa``,
    ``x_n = xb`` held fixed:

    * ``"midpoint"``: ``S = Σ_k (Δx_k − p(t̄_k, x̄_k)Δt)²/(2alpha Δt) + ½ Σ_k p_x(t̄_k, x̄_k) Δt``;
      the minimiser converges at ``O(Δt²)`` to the solution of ``ẍ = p p_x + (alpha/2) p_xx + p_t``;
    * ``"ito"``: ``S = Σ_k (Δx_k − p(t_k, x_k)Δt)²/(2alpha Δt)``: the mode of the Euler–Maruyama
      joint density, converging at ``O(Δt)`` to the Freidlin–Wentzell path ``ẍ = p p_x + p_t``.

    For the OU drift ``p = −θx`` both give ``[xa sinh θ(T−t) + xb sinh θt]/sinh θT``
    (:func:`kexue.stochastic.closed_forms.harmonic_classical_path` with ``ω = θ``).

    Args:
        drift: ``p`` — a number or a callable ``(t, x)`` of torch operations, elementwise, on
            float64 tensors ``t`` and ``x`` of shape ``(M, 1)`` (one time per point), returning
            ``(M, 1)``.
        xa, xb: start and end points.
        T: duration (> 0).
        alpha: diffusion constant (> 0).
        n_steps: number of time intervals (≥ 2).
        convention: ``"midpoint"`` (default) or ``"ito"``.
        t0: start time.
        init: initial guess, shape ``(n_steps + 1,)`` (end points are overwritten); default the
            straight line. For a multi-modal action (e.g. a double well) the minimiser found
            depends on it.
        drift_dx: optional ``∂p/∂x (t, x)`` (else autograd, with a double backward).
        max_iter: Newton iteration cap.
        tol: stop when the sup norm of the gradient falls below ``tol``.
        device: where to compute (default CPU, or ``init``'s device).

    Returns:
        :class:`MostProbablePath`.

    Raises:
        ValueError: bad numbers, unknown convention, ``init`` of the wrong shape.
    """
    xa, xb = _finite("xa", xa), _finite("xb", xb)
    T = _positive("T", T)
    alpha = _positive("alpha", alpha)
    n = _steps(n_steps)
    t0 = _finite("t0", t0)
    if convention not in OM_CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(OM_CONVENTIONS)}; "
                         f"got {convention!r}.")
    if not callable(drift) and not isinstance(drift, (int, float, np.floating, np.integer)):
        raise TypeError(f"drift must be a number or a callable (t, x); got {type(drift).__name__}.")
    if device is None:
        device = init.device if isinstance(init, torch.Tensor) else torch.empty(0).device
    device = torch.device(device)
    dt = T / n
    ts = t0 + dt * torch.arange(n + 1, dtype=torch.float64, device=device)  # (n + 1,)
    if init is None:
        guess = xa + (xb - xa) * (ts - t0) / T
    else:
        guess = torch.as_tensor(init, dtype=torch.float64, device=device).reshape(-1)
        if guess.shape != (n + 1,) or not torch.isfinite(guess).all():
            raise ValueError(f"init must be a finite path of shape (n_steps + 1,) = ({n + 1},); "
                             f"got shape {tuple(guess.shape)}.")
    ends = (torch.tensor([xa], dtype=torch.float64, device=device),
            torch.tensor([xb], dtype=torch.float64, device=device))

    def action(inner: torch.Tensor) -> torch.Tensor:
        return _action(drift, torch.cat([ends[0], inner, ends[1]]), ts, alpha, dt, convention,
                       drift_dx)

    inner = guess[1:-1].clone()  # (n − 1,)
    S, g = _value_grad(action, inner)
    it = 0
    damping = 0.0
    while it < max_iter and float(g.abs().max()) > tol:
        it += 1
        diag, off = _tridiagonal_hessian(action, inner)
        while True:  # Levenberg-damped Newton step with backtracking
            step = _solve_tridiagonal(diag + damping, off, -g)
            if bool(torch.isfinite(step).all()) and float((step * g).sum()) < 0:
                lr, accepted = 1.0, False
                for _ in range(30):
                    cand = inner + lr * step
                    S_new = action(cand).detach()
                    if bool(torch.isfinite(S_new)) and float(S_new) <= float(S) + \
                            1e-4 * lr * float((step * g).sum()):
                        accepted = True
                        break
                    lr *= 0.5
                if accepted:
                    inner = cand
                    damping *= 0.1
                    break
            damping = max(10.0 * damping, 1e-6 * float(diag.abs().max()))
            if damping > 1e12 * float(diag.abs().max() + 1.0):
                raise RuntimeError("most_probable_path: Newton iteration stalled; give a better "
                                   "init or more n_steps.")
        S, g = _value_grad(action, inner)
    path = torch.cat([ends[0], inner.detach(), ends[1]])
    return MostProbablePath(ts=ts, path=path, action=float(S), grad_norm=float(g.abs().max()),
                            iterations=it)


def _value_grad(action, inner: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = inner.detach().clone().requires_grad_(True)
    S = action(x)
    (g,) = torch.autograd.grad(S, x)
    return S.detach(), g


def _tridiagonal_hessian(action, inner: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagonal ``(m,)`` and off-diagonal ``(m − 1,)`` of the (tridiagonal) Hessian of the action.

    The action couples only neighbouring points, so three Hessian–vector products with the
    probes ``1[i ≡ c mod 3]`` recover every entry (Curtis–Powell–Reid colouring).
    """
    x = inner.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(action(x), x, create_graph=True)
    m = x.shape[0]
    idx = torch.arange(m, device=x.device)
    diag = torch.zeros_like(x)
    off = torch.zeros(max(m - 1, 0), dtype=x.dtype, device=x.device)
    for c in range(3):
        v = (idx % 3 == c).to(x.dtype)
        (hv,) = torch.autograd.grad(g, x, grad_outputs=v, retain_graph=True, allow_unused=True)
        hv = torch.zeros_like(x) if hv is None else hv.detach()
        sel = idx % 3 == c
        diag[sel] = hv[sel]
        below = sel[:-1]  # H[i+1, i] for i ≡ c: row i + 1 of H·v
        off[below] = hv[1:][below]
    return diag, off


def _solve_tridiagonal(diag: torch.Tensor, off: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve the symmetric tridiagonal system (LAPACK banded LU on the host), float64."""
    from scipy.linalg import solve_banded

    m = diag.shape[0]
    ab = np.zeros((3, m))
    ab[0, 1:] = off.cpu().numpy()
    ab[1] = diag.cpu().numpy()
    ab[2, :-1] = off.cpu().numpy()
    try:
        out = solve_banded((1, 1), ab, rhs.cpu().numpy())
    except (np.linalg.LinAlgError, ValueError):
        out = np.full(m, np.nan)
    return torch.as_tensor(out, dtype=diag.dtype, device=diag.device)


@dataclass
class BridgeSample:
    """Monte Carlo bridges from :func:`sde_bridges`.

    Source: Su's thesis, parts 3–4 (kexue.fm archives 3757, 3762).

    Attributes:
        ts: times, shape ``(n_steps + 1,)``.
        paths: Brownian-bridge paths, shape ``(n_steps + 1, n_paths)`` (time-major).
        weights: self-normalised importance weights, shape ``(n_paths,)``, summing to 1.
        ess: effective sample size ``1/Σ w²``.
    """

    ts: torch.Tensor
    paths: torch.Tensor
    weights: torch.Tensor
    ess: float

    def mean(self) -> torch.Tensor:
        """Weighted mean path, shape ``(n_steps + 1,)``."""
        return self.paths @ self.weights

    def mean_se(self) -> torch.Tensor:
        """Delta-method standard error of :meth:`mean`, shape ``(n_steps + 1,)``."""
        dev = self.paths - self.mean()[:, None]  # (n + 1, n_paths)
        return torch.sqrt((dev**2 * self.weights**2).sum(-1))


def sde_bridges(drift, xa: float, xb: float, T: float, *, alpha: float, n_paths: int,
                n_steps: int, generator=None, device: str | torch.device | None = None,
                dtype: torch.dtype = torch.float64) -> BridgeSample:
    r"""Bridges of ``dx = p(x) dt + sqrt(alpha) dW`` by reweighted Brownian bridges.

    Su's thesis, archives 3750/3762: with ``U = ∫ p dx`` and Su's potential
    ``V = −½(alpha p_x + p²)``, Girsanov's theorem and Itô's formula give the path density of the
    SDE relative to ``sqrt(alpha) W`` as
    ``e^{(U(x_T) − U(x_0))/alpha} e^{(1/alpha)∫_0^T V(x_t) dt}``.
    Pinning both ends makes the first factor constant, so the SDE bridge is the Brownian bridge
    reweighted by ``exp((1/alpha)∫V dt)`` (the Feynman–Kac form of the bridge). Weights use the
    trapezoid rule on the grid (bias ``O(Δt²)`` for smooth ``V``) and are self-normalised.

    Args:
        drift: time-independent ``p``: a callable ``(t, x)`` of torch operations (``t`` ignored),
            elementwise on ``(M, 1)``, or a number.
        xa, xb, T, alpha: end points, duration (> 0), diffusion constant (> 0).
        n_paths: number of bridges (≥ 2).
        n_steps: time steps of each bridge (≥ 2).
        generator: ``torch.Generator``, int seed, or ``None`` (PyTorch's default generator).
        device, dtype: where and how the paths are drawn.

    Returns:
        :class:`BridgeSample`.
    """
    xa, xb = _finite("xa", xa), _finite("xb", xb)
    T = _positive("T", T)
    alpha = _positive("alpha", alpha)
    n = _steps(n_steps)
    if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or n_paths < 2:
        raise ValueError(f"n_paths must be an integer >= 2; got {n_paths!r}.")
    if device is not None:
        dev = torch.device(device)
    elif isinstance(generator, torch.Generator):
        dev = torch.device(generator.device)
    else:
        dev = torch.empty(0).device
    gen = as_generator(generator, device=dev)
    dt = T / n
    ts = dt * torch.arange(n + 1, dtype=dtype, device=dev)
    dW = math.sqrt(alpha * dt) * torch.randn(n, int(n_paths), generator=gen, dtype=dtype,
                                             device=dev)  # (n, n_paths)
    W = torch.cat([torch.zeros(1, int(n_paths), dtype=dtype, device=dev), dW.cumsum(0)])
    frac = (ts / T)[:, None]  # (n + 1, 1)
    paths = xa + (xb - xa) * frac + W - frac * W[-1:]  # Brownian bridge, (n + 1, n_paths)
    V = schrodinger_potential(drift, alpha)
    v = V(0.0, paths.to(torch.float64).reshape(-1)).reshape(paths.shape).to(dtype)
    logw = (dt * (v[1:-1].sum(0) + 0.5 * (v[0] + v[-1]))) / alpha  # (n_paths,)
    w = torch.softmax(logw, 0)
    return BridgeSample(ts=ts, paths=paths, weights=w, ess=float(1.0 / (w**2).sum()))
