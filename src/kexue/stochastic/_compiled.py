"""``solve(..., compile=True)``: blocks of fixed steps fused by ``torch.compile`` (issue 18).

The eager solver pays PyTorch's per-call cost (a few µs per kernel launch and per Python call of
the user's ``f``/``g``) on every step; with few paths (100 paths × 2000 steps) that cost, not the
arithmetic, is the solve (BENCHMARKS.md, B1: the "eager floor"). Here a block of ``K``
consecutive steps — the user's drift and diffusion and the scheme's update, written out ``K``
times — is traced by TorchDynamo and compiled by Inductor (``torch.compile(fullgraph=True)``) into
one function of ``(x, t[k0 : k0+K+1], h[k0 : k0+K], noise[k0 : k0+K]) -> x_{k0+K}``; the solve
then makes ``n / K`` calls instead of ``n`` eager steps. The noise is drawn exactly as the eager
path draws it (same chunks, same generator), so both integrate the same Brownian path and agree
up to floating-point rounding (the fused code may reorder additions).

Shapes: ``x`` ``(batch, d)``, each noise term ``(n_chunk, batch, m)``; the result is the
``(n_out, batch, d)`` tensor of :func:`kexue.stochastic.solve`.

Compilation is cached per code object by TorchDynamo (guarded on the SDE and method objects and on
shapes/dtypes: a new SDE object, batch size or block length compiles again). Compile time grows
about linearly with ``K``: on the 2-core benchmark machine (load ~5), a cold compile of the GBM
block took ~20 s at ``K = 100`` and ~43 s at ``K = 200``; 3–6 s when Inductor's on-disk cache
(``TORCHINDUCTOR_CACHE_DIR``) already holds the kernel. It is paid once per process and SDE
object, so compile when the same SDE is solved many times. A Stratonovich method on an Itô SDE
(or the reverse) converts the SDE inside every ``solve`` — a new object, a new compile: declare
the SDE in the method's calculus (or convert it once) to reuse the compiled block. After
TorchDynamo's recompile limit (8 per code object by default) it runs the block uncompiled
(correct, eager speed). Output times strictly inside a block cut it: those steps run eagerly, so
a dense ``ts`` gains little; and with so many paths that a noise chunk holds fewer than
``MIN_BLOCK_STEPS`` steps nothing is compiled (no gain there). When
``torch.compile`` is unavailable or the step cannot be traced as one graph (a graph break in the
user's ``f``/``g``, autograd ``∂g/∂x``, data-dependent Python control flow), a
:class:`CompileFallbackWarning` is issued and the remaining steps run on the eager path — same
result, eager speed. Steps left over after the last whole block run eagerly too.

Reference for the per-step cost this removes: the "floor" and "hand loop" of ``benchmarks/
bench_sde.py`` (BENCHMARKS.md, B1).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import numpy as np
import torch

from ._finite import CHECK_EVERY, all_finite

__all__ = ["CompileFallbackWarning", "BLOCK_STEPS", "MIN_BLOCK_STEPS", "solve_blocks"]

#: Steps fused into one compiled call (at most; fewer when a noise chunk is shorter). Larger
#: blocks make fewer calls but compile for longer (both grow about linearly in K).
BLOCK_STEPS = 100
#: Shorter blocks are not compiled (run eagerly): with many paths the noise chunks
#: (``_CHUNK_ELEMENTS`` normals) hold only a few steps, the solve is bound by ``torch.randn`` and
#: fusing 2 steps saved nothing (10⁵ paths × 500 steps: 305 vs 291 ms eager, B1 vs JAX).
MIN_BLOCK_STEPS = 8

_COMPILED: dict[str, Callable] = {}
_FAILED: dict[tuple, tuple] = {}            # key → (objects kept alive so ids stay unique, error)


class CompileFallbackWarning(UserWarning):
    """``solve(compile=True)`` could not compile the step and ran it eagerly instead."""


def _block(stepper, sde, x: torch.Tensor, tv: torch.Tensor, hv: torch.Tensor,
           *noise: torch.Tensor) -> torch.Tensor:
    """``K = hv.shape[0]`` out-of-place steps of ``stepper`` from ``x``; the final state."""
    step = stepper.make_step(sde, list(tv.unbind(0)), list(hv.unbind(0)), like=x, inplace=False)
    for k in range(hv.shape[0]):
        x = step(k, x, tuple(v[k] for v in noise), None)
    return x


def _compiled_block() -> Callable:
    fn = _COMPILED.get("block")
    if fn is None:
        fn = _COMPILED["block"] = torch.compile(_block, fullgraph=True, dynamic=False)
    return fn


def _unavailable() -> str | None:
    """Why ``torch.compile`` cannot be used here, or ``None``."""
    try:
        import torch._dynamo as dynamo
    except Exception as exc:  # pragma: no cover - depends on the build
        return f"torch._dynamo does not import ({exc})"
    if not dynamo.is_dynamo_supported():  # pragma: no cover - depends on the build
        return "TorchDynamo is not supported on this Python/platform"
    return None


def solve_blocks(stepper, sde, chunks: Iterator, t_all: torch.Tensor, h: list[float],
                 x0: torch.Tensor, n_out: int, slot: list[int],
                 locate: Callable | None = None) -> torch.Tensor:
    """Run the no-grad fixed-step loop of ``solve`` with compiled blocks of steps.

    Args:
        stepper, sde: the :class:`~kexue.stochastic.Method` and the (already converted) SDE.
        chunks: ``solve``'s noise iterator of ``(k0, noise_terms)``, terms ``(n_c, batch, m)``.
        t_all: step times ``(n + 1,)`` in ``x0``'s dtype/device; ``h``: the ``n`` step sizes.
        x0: ``(batch, d)``; n_out, slot: output rows and the grid-index → row map of ``solve``.
        locate: ``solve``'s finiteness check (``None``: none): the state is tested after every
            compiled block and every ``CHECK_EVERY`` eager steps; a failure is replayed eagerly
            from the last good state to name the step.

    Returns:
        ``(n_out, batch, d)``, as the eager loop of ``solve`` returns.
    """
    key = (type(stepper).__name__, id(sde.drift), id(sde.diffusion), x0.dtype, x0.device.type)
    reason = _unavailable() or (_FAILED[key][1] if key in _FAILED else None)
    if reason is not None:
        warnings.warn(f"solve(compile=True): {reason}; running the eager solver.",
                      CompileFallbackWarning, stacklevel=3)
    block = None if reason is not None else _compiled_block()
    hv_all = torch.as_tensor(h, dtype=x0.dtype, device=x0.device)          # (n,)
    eager: list = []                            # the in-place eager step, built on first need

    def eager_step(k, x, nk, out):
        if not eager:
            eager.append(stepper.make_step(sde, list(t_all.unbind(0)), h, like=x0, inplace=True))
        return eager[0](k, x, nk, out)

    batch, d = x0.shape
    with torch.no_grad():
        out = torch.empty((n_out, batch, d), dtype=x0.dtype, device=x0.device)
        out[0] = x0
        rows = list(out.unbind(0))
        priv = (torch.empty_like(x0), torch.empty_like(x0))
        x = rows[0]
        saved = x0.clone() if locate is not None else None         # last checked state
        k_saved = 0
        K = None
        for k0, terms in chunks:
            n_c = terms[0].shape[0]
            if K is None:
                K = max(1, min(BLOCK_STEPS, n_c))
                if K < MIN_BLOCK_STEPS:
                    block = None
                # inner_free[k]: no output row strictly inside steps k .. k+K-1
                busy = np.concatenate([[0], np.cumsum(np.asarray(slot) >= 0)])  # rows < i
                idx = np.arange(len(slot))
                inner_free = (busy[np.minimum(idx + K, len(slot))]
                              == busy[np.minimum(idx + 1, len(slot))]).tolist()
            j = 0
            while j < n_c:
                k = k0 + j
                # a whole block with no output row strictly inside it
                if block is not None and j + K <= n_c and inner_free[k]:
                    try:
                        y = block(stepper, sde, x, t_all[k:k + K + 1], hv_all[k:k + K],
                                  *(v[j:j + K] for v in terms))
                    except Exception as exc:      # compile/trace failure: eager from here on
                        msg = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                        _FAILED[key] = ((sde.drift, sde.diffusion), msg)
                        warnings.warn(f"solve(compile=True): the step could not be compiled "
                                      f"({msg}); running the eager solver.",
                                      CompileFallbackWarning, stacklevel=3)
                        block = None
                        continue
                    s = slot[k + K]
                    target = rows[s] if s >= 0 else (priv[1] if x is priv[0] else priv[0])
                    x = target.copy_(y)
                    j += K
                else:
                    s = slot[k + 1]
                    target = rows[s] if s >= 0 else (priv[1] if x is priv[0] else priv[0])
                    x = eager_step(k, x, tuple(v[j] for v in terms), target)
                    j += 1
                if saved is not None and (k0 + j - k_saved >= CHECK_EVERY or j == n_c):
                    if not all_finite(x):
                        locate(saved, k_saved, k0 + j, terms, k0)
                    saved.copy_(x)
                    k_saved = k0 + j
    return out
