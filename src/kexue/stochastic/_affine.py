"""Recognise an affine, time-homogeneous SDE given as plain callables (issue 18).

``SDE(lambda t, x: x * mu, lambda t, x: x * sigma)`` is the linear SDE
``dx = (a x + b) dt + (c x + d) dW`` with ``a = mu, b = 0, c = sigma, d = 0``; declared through
:meth:`~kexue.stochastic.SDE.linear` it runs on :func:`~kexue.stochastic.solve`'s fused path
(``x ← M_k x + A_k``, and for ``b = d = 0`` one cumulative product over all steps). This module
finds that structure without the user declaring it, *soundly*: the drift and diffusion are traced
symbolically with ``torch.fx`` (never judged from sample values), and accepted only when

* ``t`` is not used (time-homogeneous), and
* every operation that touches ``x`` is elementwise and affine in it — ``x + c``, ``x - c``,
  ``c - x``, ``-x``, ``x * c``, ``c * x``, ``x / c`` (``c`` free of ``x``: a number, a
  captured tensor, or an expression of such), or a sum/difference of affine terms; any other
  operation on ``x`` (``x * x``, ``torch.sin(x)``, indexing, a module, control flow on ``x``,
  a tracing error) rejects.

The coefficients are then exact elementwise: ``b = f(t0, 0)``, ``a = ∂f/∂x`` by autograd (an
affine elementwise map has a constant derivative), likewise ``(c, d)`` for ``g``, each shaped
like ``x0``. Results equal the step-by-step solve up to rounding (products are associated
differently). The recognition is cached on the :class:`~kexue.stochastic.SDE` object (the
trace calls each callable once with ``torch.fx`` proxies instead of tensors, so a side effect in
``f``/``g`` runs once more); set ``RECOGNISE = False`` to turn it off.
"""

from __future__ import annotations

import operator

import torch

__all__ = ["affine_coefficients", "RECOGNISE"]

#: Set to False to turn the recognition off (every callable SDE then runs step by step; the
#: benchmarks use it to time the plain-callable paths themselves).
RECOGNISE = True

_ADD = {operator.add, torch.add, "add"}
_SUB = {operator.sub, torch.sub, "sub"}
_MUL = {operator.mul, torch.mul, "mul"}
_DIV = {operator.truediv, torch.div, "div"}
_NEG = {operator.neg, torch.neg, "neg"}
_SHAPE_ONLY = {torch.zeros_like, torch.ones_like, torch.full_like}   # use x's shape, not values


def _is_affine(fn) -> bool:
    """Whether ``fn(t, x)`` is, by its traced graph, elementwise affine in ``x`` and free of
    ``t`` (see the module docstring)."""
    import torch.fx as fx

    try:
        gm = fx.symbolic_trace(fn)
    except Exception:                  # data-dependent control flow, untraceable calls, ...
        return False
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 2:
        return False
    t_node, x_node = placeholders
    if t_node.users:
        return False
    kind: dict = {x_node: "x"}                                   # node -> "x" (affine) | "c"
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "get_attr":
            kind[node] = "c"
            continue
        if node.op == "output":
            out = node.args[0]
            return isinstance(out, fx.Node) and kind.get(out) in ("x", "c")
        if node.op not in ("call_function", "call_method") or node.kwargs:
            return False
        args = [kind.get(a, "c") if isinstance(a, fx.Node) else "c" for a in node.args]
        if any(k is None for k in args):
            return False
        if "x" not in args or (node.target in _SHAPE_ONLY and args[1:].count("x") == 0):
            kind[node] = "c"                                     # a constant expression
            continue
        op = node.target
        if op in _ADD or op in _SUB:
            ok = len(args) == 2
        elif op in _MUL:
            ok = len(args) == 2 and args.count("x") == 1
        elif op in _DIV:
            ok = len(args) == 2 and args == ["x", "c"]
        elif op in _NEG:
            ok = len(args) == 1
        else:
            ok = False
        if not ok:
            return False
        kind[node] = "x"
    return False


def _coefficients(fn, t0: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(slope, offset)`` of an elementwise affine ``fn(t0, ·)``, each shaped like ``x0``."""
    with torch.enable_grad():
        z = torch.zeros_like(x0, requires_grad=True)
        y = fn(t0, z)
        y = y.expand(x0.shape)
        slope = torch.autograd.grad(y.sum(), z, allow_unused=True)[0] if y.requires_grad \
            else None
    slope = torch.zeros_like(x0) if slope is None else slope
    return slope.detach(), y.detach().clone()


def _agrees(slope, offset, x0, value) -> bool:
    """``slope·x0 + offset`` equals ``value`` (the callable at ``(t0, x0)``) to rounding."""
    lin = slope * x0 + offset
    eps = torch.finfo(x0.dtype).eps
    scale = (slope * x0).abs() + offset.abs()
    return bool(((lin - value.expand(x0.shape)).abs() <= 64 * eps * scale + 1e-300).all())


def affine_coefficients(sde, t0: torch.Tensor, x0: torch.Tensor,
                        f0: torch.Tensor | None = None, g0: torch.Tensor | None = None,
                        ) -> tuple[torch.Tensor, ...] | None:
    """``(a, b, c, d)`` (each shaped like ``x0``) when ``sde`` is ``dx = (a x + b) dt +
    (c x + d) dW`` by the traced structure of its callables (module docstring), else ``None``.

    Only Itô SDEs with diagonal or additive noise qualify (the fused path's noise types). The
    structural verdict is cached on the SDE object; ``f0``/``g0`` (the callables at
    ``(t0, x0)``, :meth:`SDE.probe`'s values) are checked against ``a x0 + b`` / ``c x0 + d``
    on every call, so a closure whose code path changed since the trace (a flag captured by the
    callable) falls back to the step-by-step solver.
    """
    if not RECOGNISE or getattr(sde, "sde_type", "ito") != "ito" \
            or sde.noise not in ("diagonal", "additive"):
        return None
    cached = getattr(sde, "_affine_cache", None)
    if cached is None or cached[0] is not sde.drift or cached[1] is not sde.diffusion:
        ok = _is_affine(sde.drift) and _is_affine(sde.diffusion)
        cached = (sde.drift, sde.diffusion, ok)
        sde._affine_cache = cached
    if not cached[2]:
        return None
    a, b = _coefficients(sde.drift, t0, x0)
    c, d = _coefficients(sde.diffusion, t0, x0)
    if not all(bool(torch.isfinite(v).all()) for v in (a, b, c, d)):
        return None
    if (f0 is not None and not _agrees(a, b, x0, f0)) or \
            (g0 is not None and not _agrees(c, d, x0, g0)):
        return None
    return a, b, c, d
