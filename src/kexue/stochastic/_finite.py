"""NaN/inf in the middle of a fixed-step solve: detect cheaply, then name the first bad step.

:func:`~kexue.stochastic.solve` (``check_finite=True``, the default) tests the state for NaN/inf
once every ``CHECK_EVERY`` steps (and at the end of each noise chunk and compiled block), not
after every step: one reduction and one host read per check, so on CUDA there is no host sync
per step. When a check fails, the steps since the last good check are replayed one at a time,
out of place, from the state saved there, on the same Brownian increments, and
:class:`SolveDiverged` names the first step whose result is non-finite, its times, and whether
the drift or the diffusion (evaluated at that step's start) or only the update produced it.

Shapes: states ``(batch, d)``; the noise of step ``k`` is the tuple of per-step terms the scheme
consumes (``ΔW`` ``(batch, m)``, and e.g. Milstein's ``(ΔW² − h)/2``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["SolveDiverged", "CHECK_EVERY", "all_finite", "locate_nonfinite"]

#: Steps between two finiteness checks of the state in :func:`~kexue.stochastic.solve`.
CHECK_EVERY = 64


class SolveDiverged(FloatingPointError):
    """A fixed-step solve produced a NaN/inf state.

    Attributes:
        step: index ``k`` of the first step ``t[k] → t[k+1]`` whose result is non-finite.
        t_start, t_end: the step's times.
        source: ``"drift"``, ``"diffusion"`` (non-finite at ``(t[k], x_k)``), or ``"update"``
            (both finite there; the step's arithmetic or a later stage overflowed).
        paths: indices of the paths (rows of the batch) that went non-finite at that step.
    """

    def __init__(self, message: str, *, step: int, t_start: float, t_end: float,
                 source: str, paths: list[int]) -> None:
        super().__init__(message)
        self.step, self.t_start, self.t_end = step, t_start, t_end
        self.source, self.paths = source, paths


def all_finite(x: torch.Tensor) -> bool:
    """Whether every entry of ``x`` is finite (one reduction, one host read)."""
    return bool(torch.isfinite(x).all())


def _bad_rows(v: torch.Tensor) -> list[int]:
    bad = ~torch.isfinite(v)
    return torch.nonzero(bad.reshape(bad.shape[0], -1).any(1)).flatten().tolist()


def locate_nonfinite(make_step: Callable, drift: Callable, diffusion: Callable,
                     t: Sequence[torch.Tensor], x_start: torch.Tensor, k_start: int,
                     k_stop: int, noise_at: Callable[[int], tuple]) -> None:
    """Replay steps ``k_start .. k_stop - 1`` from ``x_start`` (the state at ``t[k_start]``,
    known finite) and raise :class:`SolveDiverged` at the first non-finite result.

    ``make_step()`` builds the scheme's out-of-place step ``step(k, x, noise_k, None)``;
    ``noise_at(k)`` returns step ``k``'s noise terms. Returns normally only if the replay stays
    finite (a drift/diffusion that is not a function of ``(t, x)``); the caller then raises.
    """
    step = make_step()
    x = x_start
    with torch.no_grad():
        for k in range(k_start, k_stop):
            y = step(k, x, noise_at(k), None)
            if all_finite(y):
                x = y
                continue
            tk, tn = float(t[k]), float(t[k + 1])
            source = "update"
            for name, fn in (("drift", drift), ("diffusion", diffusion)):
                v = fn(t[k], x)
                if isinstance(v, torch.Tensor) and not all_finite(v):
                    source = name
                    break
            rows = _bad_rows(y)
            what = "NaN" if bool(torch.isnan(y).any()) else "inf"
            if source == "update":
                cause = (f"drift and diffusion are finite at (t = {tk:.6g}, x_k) but the step's "
                         f"result is not (an overflow, or a later stage of the scheme)")
            else:
                cause = (f"the {source} returned non-finite values at (t = {tk:.6g}, x_k), "
                         "x_k itself finite")
            raise SolveDiverged(
                f"solve: the state became non-finite ({what}) at step {k} (t = {tk:.6g} → "
                f"{tn:.6g}) for {len(rows)} of {y.shape[0]} paths (first: path {rows[0]}): "
                f"{cause}. Check the {source if source != 'update' else 'drift/diffusion'} "
                "there, or reduce dt (an explicit scheme on a stiff or superlinear drift "
                "overflows); check_finite=False returns the non-finite states instead.",
                step=k, t_start=tk, t_end=tn, source=source, paths=rows)
