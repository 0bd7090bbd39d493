"""The coefficients of ``kexue sde``: ``--drift``/``--diffusion`` expressions in ``x`` and ``t``
parsed safely (:func:`kexue.expr.parse_expression`, never ``eval``/``sympify`` of user text),
compiled to torch callables with ``sympy.lambdify(..., modules="torch")``, and the
:class:`~kexue.stochastic.SDE` they make (``∂g/∂x`` taken symbolically)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # sympy, torch load with a command that runs, not with --help
    import sympy

    from ..stochastic import SDE

__all__ = ["parse_coefficient"]


@cache
def _symbols() -> tuple[Any, Any]:
    """The SymPy symbols ``x``, ``t`` (real) the coefficients are written in."""
    import sympy

    return sympy.symbols("x t", real=True)



def parse_coefficient(text: str, name: str) -> tuple[Callable, bool, sympy.Expr]:
    """Parse an expression in ``x`` and ``t`` into a torch callable ``(t, x) -> tensor``.

    The text goes through :func:`kexue.expr.parse_expression` (an allow-list over Python's
    ``ast``, bounded work; never ``eval``/``sympify`` of the text).

    Args:
        text: e.g. ``"-1.3*x"``, ``"0.84"``, ``"sqrt(1 + x^2) * exp(-t)"``.
        name: the option name, for error messages (``"--drift"``).

    Returns:
        ``(fn, depends_on_x, expr)``; ``fn`` returns a tensor broadcastable to ``x``.

    Raises:
        ValueError: characters, names, functions or syntax outside the allow-list, attribute
            access, numeric exponents above 64 in magnitude (also nested or simplified ones),
            constants that are too large, undefined or not real; the message names what is
            allowed.
    """
    from ..expr import FUNCTIONS, parse_expression

    _X, _T = _symbols()

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name} must be a non-empty expression in x and t, e.g. '-1.3*x'")
    expr = parse_expression(text, name=name, variables={"x": _X, "t": _T}, functions=FUNCTIONS)
    return _torch_fn(expr), _X in expr.free_symbols, expr


def _torch_fn(expr: sympy.Expr) -> Callable:
    """``expr`` in ``t``, ``x`` as a torch callable ``(t, x) -> tensor`` (a constant as a 0-d
    tensor on ``x``'s device). Numeric sub-expressions (``sqrt(2)``, ``1/sqrt(pi)``) are
    evaluated to floats first: torch's ``sqrt``/``exp`` accept tensors only."""
    import sympy
    import torch

    _X, _T = _symbols()

    raw = sympy.lambdify((_T, _X), expr.evalf(17), modules="torch")

    def fn(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        out = raw(t, x)
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(float(out), dtype=x.dtype, device=x.device)
        return out

    return fn


def _build_sde(drift: str, diffusion: str) -> tuple[SDE, str]:
    """The SDE of ``--drift``/``--diffusion``; when ``g`` depends on ``x`` its derivative
    ``∂g/∂x`` is taken symbolically (SymPy) and given as ``diffusion_dx``, so Milstein and the
    Itô → Stratonovich conversion of heun/midpoint need no autograd call per step."""
    import sympy
    import torch

    from ..stochastic import SDE

    _X, _T = _symbols()

    f, _, _ = parse_coefficient(drift, "--drift")
    g, g_x, g_expr = parse_coefficient(diffusion, "--diffusion")
    gdx = None
    if g_x:
        raw_dx = _torch_fn(sympy.diff(g_expr, _X))

        def gdx(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return torch.broadcast_to(raw_dx(t, x), x.shape)

    sde = SDE(f, g, noise="diagonal" if g_x else "additive", diffusion_dx=gdx)
    return sde, f"dx = ({drift.strip()}) dt + ({diffusion.strip()}) dW"


def _degenerate(diffusion: str) -> bool:
    """Whether the ``--diffusion`` expression is identically zero (after simplification)."""
    import sympy

    _, _, g = parse_coefficient(diffusion, "--diffusion")
    return bool(sympy.simplify(g) == 0)
