"""SDE gradients with memory independent of the number of steps: reversible Heun and the
stochastic adjoint.

:func:`solve_adjoint` returns the states at ``ts`` like :func:`~kexue.stochastic.solve`, as the
output of one ``torch.autograd.Function`` whose forward pass keeps only the outputs and the
terminal state; its backward pass walks the step grid backwards on the **same Brownian path**
(re-queried from a :class:`~kexue.stochastic.BrownianInterval`, never stored) and accumulates
vector–Jacobian products of ``f`` and ``g`` (``torch.autograd.grad``) for ``x0`` and the
parameters:

* ``method="reversible_heun"`` (Kidger, Foster, Li & Lyons 2021, arXiv:2105.13493): the
  backward pass reconstructs the forward states algebraically, so the gradient is the gradient
  of the discrete forward pass itself, exact up to floating point (see
  :mod:`kexue.stochastic._reversible_heun`).
* ``method="euler" | "heun" | "midpoint"`` with ``adjoint_method="midpoint" | "heun" | "euler"``:
  the stochastic adjoint of Li, Wong, Chen & Duvenaud 2020 (arXiv:2001.01328, §3): the state and
  the adjoint ``a = ∂L/∂y`` solve the augmented Stratonovich SDE backwards in time::

      dy = f dt + g ∘ dW,   da = -aᵀ ∂f/∂y dt - aᵀ ∂g/∂y ∘ dW,   dθ̄ = -aᵀ ∂f/∂θ dt - aᵀ ∂g/∂θ ∘ dW

  integrated from ``t_N`` to ``t_0`` with ``adjoint_method`` on the same increments. Per step
  the augmented drift and diffusion are one vector–Jacobian product of ``f h + g ΔW`` with
  cotangent ``a``. The gradient differs from backprop through the forward solver by the
  discretisation error of both passes and converges with ``dt``. An Itô SDE is read in its
  Stratonovich form (drift ``f - ½ g ∂g/∂x``, differentiated through ``∂g/∂x`` too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..rng import seed_from
from ._brownian import BrownianIncrements, _grid_floats
from ._brownian_interval import BrownianInterval
from ._counter_rng import _tree_key, counter_normals
from ._methods import get_method
from ._reversible_heun import rh_backward, rh_forward
from ._sde import SDE
from ._solve_checks import _check_dt, _check_x0, step_grid
from ._stochastic_adjoint import _method_forward, _stratonovich_backward, _stratonovich_drift

__all__ = ["solve_adjoint", "ADJOINT_METHODS", "ADJOINT_BACKWARD_METHODS", "GRADIENTS"]

ADJOINT_METHODS = ("reversible_heun", "euler", "heun", "midpoint")
ADJOINT_BACKWARD_METHODS = ("midpoint", "heun", "euler")
GRADIENTS = ("adjoint", "backprop")

# Elements (steps × batch × m) of Brownian increments fetched per query of the path.
_CHUNK_ELEMENTS = 1 << 16


def _check_params(params) -> tuple[torch.Tensor, ...]:
    if params is None:
        raise ValueError(
            "params is required: solve_adjoint differentiates with respect to the parameters "
            "of f and g, which it cannot see inside closures. Pass params=model (an nn.Module) "
            "or params=(theta, sigma) (tensors with requires_grad=True); use solve() for "
            "gradients by backprop only."
        )
    if isinstance(params, nn.Module):
        out = tuple(p for p in params.parameters() if p.requires_grad)
        if not out:
            raise ValueError(f"params: the module {type(params).__name__} has no parameters "
                             "with requires_grad=True; nothing to differentiate.")
        return out
    if isinstance(params, torch.Tensor):
        params = (params,)
    if not isinstance(params, (tuple, list)):
        raise TypeError(f"params must be an nn.Module or a tuple of tensors; got "
                        f"{type(params).__name__}")
    if len(params) == 0:
        raise ValueError("params is empty: pass the tensors (requires_grad=True) that f and g "
                         "use, e.g. params=(theta, sigma), or an nn.Module.")
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"params[{i}] must be a tensor; got {type(p).__name__}")
        if not p.requires_grad:
            raise ValueError(
                f"params[{i}] (shape {tuple(p.shape)}) does not require grad; create it with "
                "requires_grad=True (or p.requires_grad_()), or leave it out of params."
            )
    return tuple(params)


class _Path:
    """Brownian increments on the step grid, fetched in chunks on demand (forward in order,
    backward in reverse), so at most two chunks are held: memory independent of the steps."""

    def __init__(self, brownian, generator, grid: np.ndarray, batch: int, m: int,
                 dtype: torch.dtype, device: torch.device) -> None:
        n = grid.size - 1
        self.grid, self.n, self.dtype, self.device = grid, n, dtype, device
        self.chunk = max(1, min(n, _CHUNK_ELEMENTS // max(1, batch * m)))
        self._held: dict[int, torch.Tensor] = {}
        self._fetch: Callable[[int, int], torch.Tensor]
        want = (batch, m)
        if brownian is None:
            # A path on this step grid only: ΔW_k = sqrt(h_k) N(seed, k), counter-based normals
            # (the BrownianInterval's generator), so any step is re-drawn identically, in any
            # order, with nothing stored and one normal per element (no tree descent).
            self.seed = seed_from(generator)
            key = _tree_key(self.seed) ^ np.uint64(0x2545F4914F6CDD1D)
            sq = np.sqrt(np.diff(grid))

            def fetch(k0: int, k1: int) -> torch.Tensor:
                z = counter_normals(key, np.arange(k0, k1), 0, batch * m)    # (k1-k0, b*m)
                z = (z * sq[k0:k1, None]).reshape(k1 - k0, batch, m)
                return torch.from_numpy(z)
            self._fetch = fetch
        elif generator is not None:
            raise ValueError("pass either brownian= or generator=, not both")
        elif isinstance(brownian, BrownianInterval):
            if brownian.t0 > grid[0] or brownian.t1 < grid[-1]:
                raise ValueError(
                    f"brownian: the BrownianInterval covers [{brownian.t0!r}, {brownian.t1!r}] "
                    f"but the solve runs over [{float(grid[0])!r}, {float(grid[-1])!r}]; build "
                    "it over the whole solve interval."
                )
            if tuple(brownian.shape) != want:
                raise ValueError(f"brownian: the BrownianInterval has shape {brownian.shape}; "
                                 f"the solve needs (batch, m) = {want}.")
            self._fetch = lambda k0, k1: brownian.increments(grid[k0:k1 + 1])[0]
        elif isinstance(brownian, (BrownianIncrements, torch.Tensor)):
            dw = brownian.restrict(grid).dW if isinstance(brownian, BrownianIncrements) \
                else brownian
            if dw.ndim != 3 or tuple(dw.shape) != (n, *want):
                raise ValueError(
                    f"brownian: increments must have shape (n_steps, batch, m) = ({n}, {batch}, "
                    f"{m}) on the step grid; got {tuple(dw.shape)}. A BrownianInterval keeps "
                    "the memory independent of the number of steps."
                )
            self._fetch = lambda k0, k1: dw[k0:k1]
        elif callable(brownian):
            g = grid.tolist()
            self._fetch = lambda k0, k1: torch.stack([brownian(g[k], g[k + 1])
                                                      for k in range(k0, k1)])
        else:
            raise TypeError(
                f"brownian must be None, a BrownianInterval, a BrownianIncrements, a tensor "
                f"(n_steps, batch, m) or a callable bm(s, t) (e.g. torchsde's "
                f"BrownianInterval); got {type(brownian).__name__}"
            )
        first = self._fetch(0, 1)
        if tuple(first.shape[1:]) != want:
            raise ValueError(f"brownian: increments have shape {tuple(first.shape[1:])}; the "
                             f"solve needs (batch, m) = {want} (m = d for diagonal/additive "
                             "noise, 1 for scalar, g.shape[-1] for general).")

    def __call__(self, k: int) -> torch.Tensor:
        """``ΔW_k`` ``(batch, m)``."""
        c = k // self.chunk
        block = self._held.get(c)
        if block is None:
            k0 = c * self.chunk
            block = self._fetch(k0, min(self.n, k0 + self.chunk)).to(dtype=self.dtype,
                                                                      device=self.device)
            if len(self._held) >= 2:                     # keep this chunk and its neighbour
                self._held.pop(min(self._held, key=lambda j: -abs(j - c)))
            self._held[c] = block
        return block[k - c * self.chunk]


class _Adjoint(torch.autograd.Function):
    """Forward: the solve without autograd (outputs and terminal state kept). Backward: the
    reversible-Heun reversal or the stochastic adjoint on the same Brownian path."""

    @staticmethod
    def forward(ctx, plan, x0, *params):
        with torch.no_grad():
            if plan.method == "reversible_heun":
                ys, y_n, z_n = rh_forward(plan.f, plan.g, plan.noise, x0, plan.t, plan.h,
                                          plan.path, plan.slot, plan.n_out)
                ctx.save_for_backward(ys, z_n)
            else:
                ys = _method_forward(plan.step, x0, len(plan.h), plan.path, plan.slot)
                ctx.save_for_backward(ys)
        ctx.plan = plan
        return ys

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_ys):
        plan = ctx.plan
        if plan.method == "reversible_heun":
            ys, z_n = ctx.saved_tensors
            gx, gp = rh_backward(plan.f, plan.g, plan.noise, plan.params, plan.t, plan.h,
                                 plan.path, plan.slot, ys, ys[-1], z_n, grad_ys)
        else:
            (ys,) = ctx.saved_tensors
            gx, gp = _stratonovich_backward(plan.f, plan.g, plan.noise, plan.params,
                                            plan.adjoint_method, plan.t, plan.h, plan.path,
                                            plan.slot, ys, grad_ys)
        return (None, gx, *gp)


class _Plan:
    """What the Function needs besides tensors (functions, grid, path)."""

    def __init__(self, **kw) -> None:
        self.__dict__.update(kw)


def solve_adjoint(sde: SDE, x0: torch.Tensor, ts: torch.Tensor | Sequence[float], *,
                  params: nn.Module | Sequence[torch.Tensor] | torch.Tensor,
                  method: str = "reversible_heun", adjoint_method: str | None = None,
                  dt: float | None = None,
                  brownian: BrownianInterval | BrownianIncrements | torch.Tensor | Callable
                  | None = None,
                  generator: torch.Generator | int | None = None,
                  gradient: str = "adjoint") -> torch.Tensor:
    """Solve an SDE and differentiate by the adjoint method: memory independent of the steps.

    Reversible Heun (Kidger et al. 2021, arXiv:2105.13493; exact gradients of the discrete
    solve by algebraic reversal) or the stochastic adjoint (Li et al. 2020, arXiv:2001.01328;
    the augmented Stratonovich SDE solved backwards on the same Brownian path). See the module
    docstring for the formulas.

    ================= ========================== ===================================
    method            forward reads ``g dW`` as  backward
    ================= ========================== ===================================
    reversible_heun   Stratonovich               exact reversal (``adjoint_method`` unused)
    euler             Itô                        ``adjoint_method``: midpoint (default),
    heun, midpoint    Stratonovich               heun, or euler (additive noise only)
    ================= ========================== ===================================

    Noise: diagonal, additive, scalar and general (``g`` ``(batch, d, m)``) for Stratonovich
    SDEs; an Itô SDE is converted to its Stratonovich form (differentiably) for the
    Stratonovich methods and the backward pass, which is supported for additive, diagonal and
    scalar (``d == 1``) noise — an Itô SDE with general noise must be given in Stratonovich form.

    Args:
        sde: the :class:`~kexue.stochastic.SDE`; ``f``/``g`` may use the tensors in ``params``.
        x0: initial states ``(batch, d)``; gradients flow to it if it requires grad.
        ts: output times ``(n_out,)``, strictly increasing; ``ts[0]`` is the time of ``x0``.
        params: the parameters to differentiate: an ``nn.Module`` (its parameters that require
            grad) or a tensor / tuple of tensors with ``requires_grad=True``. Required.
        method: one of ``ADJOINT_METHODS``.
        adjoint_method: the backward scheme of the stochastic adjoint, one of
            ``ADJOINT_BACKWARD_METHODS`` (default ``"midpoint"``).
        dt: step size (``None``: one step per interval of ``ts``), as in :func:`solve`.
        brownian: the Brownian path, re-queried by the backward pass: a
            :class:`BrownianInterval` over ``[ts[0], ts[-1]]`` of shape ``(batch, m)`` (memory
            independent of the steps), a :class:`BrownianIncrements` or a tensor
            ``(n_steps, batch, m)`` (held whole), or a callable ``bm(s, t)`` such as torchsde's
            ``BrownianInterval``. ``None``: a :class:`BrownianInterval` from ``generator``.
        generator: seed / ``torch.Generator`` for the default path (rule of :mod:`kexue.rng`).
        gradient: ``"adjoint"`` (default) or ``"backprop"`` (the same forward pass recorded by
            autograd: memory ``O(steps)``; the reference the adjoint is compared with).

    Returns:
        ``(len(ts), batch, d)``; ``[0]`` is ``x0``. Differentiable in ``x0`` and ``params``
        (first order only).

    Raises:
        ValueError: ``params`` missing, empty or not requiring grad; unknown ``method`` /
            ``adjoint_method`` / ``gradient``; ``adjoint_method="euler"`` with non-additive
            noise; an Itô SDE with general noise; ``method="euler"`` on a Stratonovich SDE
            with non-additive noise; drift/diffusion of the wrong shape for the
            noise type (the probe of :func:`solve`); ``brownian`` of the wrong shape or interval;
            bad ``x0``/``ts``/``dt`` as in :func:`solve`.
        TypeError: ``sde`` not an SDE, ``params`` of the wrong type.
    """
    if not isinstance(sde, SDE):
        raise TypeError(f"sde must be a kexue.stochastic.SDE; got {type(sde).__name__}")
    params = _check_params(params)
    if method not in ADJOINT_METHODS:
        raise ValueError(f"method must be one of {', '.join(ADJOINT_METHODS)}; got {method!r}")
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {', '.join(GRADIENTS)}; got {gradient!r}")
    if method == "reversible_heun":
        if adjoint_method not in (None, "reversible_heun"):
            raise ValueError("adjoint_method: reversible_heun is reversed exactly; leave "
                             f"adjoint_method=None (got {adjoint_method!r})")
    else:
        adjoint_method = "midpoint" if adjoint_method is None else adjoint_method
        if adjoint_method not in ADJOINT_BACKWARD_METHODS:
            raise ValueError(f"adjoint_method must be one of "
                             f"{', '.join(ADJOINT_BACKWARD_METHODS)}; got {adjoint_method!r}")
        if adjoint_method == "euler" and sde.noise != "additive":
            raise ValueError(
                "adjoint_method='euler' integrates the Stratonovich adjoint SDE in the Itô "
                f"sense, which is only right for additive noise (got noise={sde.noise!r}); use "
                "'midpoint' or 'heun'."
            )
    x0 = _check_x0(x0)
    grid, out_index = step_grid(_grid_floats(ts, "ts"), _check_dt(dt))
    batch, d = x0.shape
    dtype, device = x0.dtype, x0.device
    t = torch.as_tensor(grid, dtype=dtype, device=device)               # (n+1,)
    with torch.no_grad():
        _, g0 = sde.probe(t[0], x0)
    m = sde.noise_dim(d, g0)
    f_strat = _stratonovich_drift(sde, d)
    slot = [-1] * grid.size
    for i, k in enumerate(out_index):
        slot[k] = i
    path = _Path(brownian, generator, grid, batch, m, dtype, device)
    h = np.diff(grid).tolist()
    plan = _Plan(method=method, adjoint_method=adjoint_method, f=f_strat, g=sde.diffusion,
                 noise=sde.noise, t=t, h=h, path=path, slot=slot, n_out=len(out_index),
                 params=params, step=None)
    if method != "reversible_heun":
        stepper = get_method(method)
        stepper.check(sde, d)
        if stepper.interpretation == "ito" and sde.sde_type == "stratonovich" \
                and sde.noise != "additive":
            raise ValueError(
                f"method {method!r} reads g dW in the Itô sense, and the Itô form of this "
                "Stratonovich SDE is not differentiable in the parameters here; use "
                "method='reversible_heun', 'heun' or 'midpoint' (Stratonovich)."
            )
        if stepper.interpretation == "stratonovich" or sde.noise == "additive":
            fwd = SDE(f_strat, sde.diffusion, noise=sde.noise, sde_type="stratonovich")
        else:                                                            # euler: Itô
            fwd = sde
        plan.step = stepper.make_step(fwd, list(t.unbind(0)), h, like=x0, inplace=False)
    if gradient == "backprop":
        if method == "reversible_heun":
            return rh_forward(f_strat, sde.diffusion, sde.noise, x0, t, h, path, slot,
                              plan.n_out)[0]
        return _method_forward(plan.step, x0, len(h), path, slot)
    return _Adjoint.apply(plan, x0, *params)
