r"""Su's position-dependent asymmetric walk propagated exactly on a lattice (kexue.fm archive
3750, his thesis).

:class:`LatticeWalk` — Su's asymmetric walk: from site ``x`` at time ``t`` step ``+Δs`` with
probability ``w+ = ½(1 + p(t, x) Δs/alpha)`` and ``−Δs`` with ``w− = ½(1 − p(t, x) Δs/alpha)``,
every ``Δt = Δs²/alpha``. Its master equation
``P(x, t+Δt) = w+(x−Δs) P(x−Δs, t) + w−(x+Δs) P(x+Δs, t)`` tends to the Fokker–Planck equation
``P_t = (alpha/2) P_xx − ∂x(p P)`` (thesis eq. 12) with error ``O(Δs²) = O(Δt)``.

Parity pitfall: from a point mass only every other site is reachable at a given time, so the
density on the reachable sub-lattice is ``pmf/(2Δs)``, not ``pmf/Δs``;
:meth:`LatticeWalk.density` handles this.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._pde_grid import _eval_1d
from ._sde import SDE
from ._walk import _count

__all__ = ["LatticeWalk", "LATTICE_BOUNDARIES"]


LATTICE_BOUNDARIES = ("absorbing", "reflecting")


class LatticeWalk:
    """Su's position-dependent asymmetric walk on a finite lattice, propagated exactly.

    Sites ``x_j = x_min + j Δs`` (``j = 0..M``), time step ``Δt = Δs²/alpha``, step probabilities
    ``w± = ½(1 ± p(t, x) Δs/alpha)`` (kexue.fm archive 3750; continuum limit thesis eq. 12).
    Build it with :meth:`from_drift`.

    Attributes:
        x: sites, shape ``(M + 1,)``.
        ds, dt, alpha: lattice spacing, time step and diffusion constant.
    """

    def __init__(self, x: np.ndarray, w_up: Callable[[float], np.ndarray], dt: float,
                 alpha: float) -> None:
        self.x = x
        self.ds = float(x[1] - x[0])
        self.dt = float(dt)
        self.alpha = float(alpha)
        self._w_up = w_up

    @classmethod
    def from_drift(cls, p, alpha: float, ds: float, *,
                   bounds: tuple[float, float] = (-5.0, 5.0)) -> LatticeWalk:
        """The asymmetric walk whose continuum limit is ``dx = p(t, x) dt + sqrt(alpha) dW``.

        Args:
            p: the drift — a number, a callable ``(t, x) -> (N, 1)`` in the SDE convention
                (``x`` a float64 tensor of shape ``(N, 1)``), or a 1-D :class:`SDE` (its drift).
            alpha: diffusion constant (> 0).
            ds: lattice spacing (> 0); the time step is ``Δt = ds²/alpha``.
            bounds: ``(x_min, x_max)``; ``x_max − x_min`` is rounded to a whole number of ``ds``
                (at least 2 sites). The boundary rule is chosen in :meth:`propagate`.

        Raises:
            ValueError: bad ``alpha``/``ds``/``bounds``, or a step probability outside
                ``[0, 1]`` somewhere on the lattice (``|p| Δs/alpha > 1``: reduce ``ds``).
        """
        if isinstance(p, SDE):
            p = p.drift
        if not (isinstance(alpha, (int, float, np.floating)) and math.isfinite(alpha)
                and alpha > 0):
            raise ValueError(f"alpha must be a positive diffusion constant; got {alpha!r}.")
        if not (isinstance(ds, (int, float, np.floating)) and math.isfinite(ds) and ds > 0):
            raise ValueError(f"ds must be a positive lattice spacing; got {ds!r}.")
        lo, hi = (float(b) for b in bounds)
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"bounds must be a finite pair (x_min, x_max) with x_min < x_max; "
                             f"got {bounds!r}.")
        m = round((hi - lo) / ds)
        if m < 2:
            raise ValueError(f"bounds {bounds!r} hold fewer than 3 sites at ds={ds!r}; "
                             "widen bounds or reduce ds.")
        x = lo + ds * np.arange(m + 1)
        scale = ds / alpha
        constant = isinstance(p, (int, float, np.floating, np.integer))

        def w_up(t: float) -> np.ndarray:
            drift = _eval_1d(p, t, x, name="p")
            w = 0.5 * (1.0 + drift * scale)
            bad = (w < 0.0) | (w > 1.0)
            if np.any(bad):
                j = int(np.argmax(np.abs(drift) * bad))
                raise ValueError(
                    f"step probability ½(1 ± p Δs/alpha) leaves [0, 1] at x={x[j]:g}, t={t:g} "
                    f"(|p| Δs/alpha = {abs(drift[j]) * scale:.3g} > 1); reduce ds below "
                    f"{alpha / abs(drift[j]):.3g} or shrink bounds.")
            return w

        if constant:
            w_const = w_up(0.0)
            return cls(x, lambda t: w_const, ds * ds / alpha, alpha)
        w_up(0.0)  # validate once up front
        return cls(x, w_up, ds * ds / alpha, alpha)

    def __repr__(self) -> str:
        return (f"LatticeWalk(sites={self.x.size}, x=[{self.x[0]:g}, {self.x[-1]:g}], "
                f"ds={self.ds:g}, dt={self.dt:g}, alpha={self.alpha:g})")

    def step_probabilities(self, t: float = 0.0) -> np.ndarray:
        """``w+(t, x_j)`` on the sites, shape ``(M + 1,)`` (``w− = 1 − w+``)."""
        return self._w_up(float(t))

    def delta(self, x0: float) -> np.ndarray:
        """Point mass (pmf) at the site nearest ``x0``, shape ``(M + 1,)``."""
        if not (self.x[0] <= x0 <= self.x[-1]):
            raise ValueError(f"x0={x0!r} lies outside the lattice [{self.x[0]:g}, {self.x[-1]:g}];"
                             " widen bounds.")
        pmf = np.zeros(self.x.size)
        pmf[int(round((x0 - self.x[0]) / self.ds))] = 1.0
        return pmf

    def from_density(self, density) -> np.ndarray:
        """Site masses ``density(x_j)·Δs`` (shape ``(M + 1,)``) of a smooth initial density; both
        parity sub-lattices are occupied, so :meth:`density` divides by ``Δs``."""
        d = np.asarray(density, dtype=np.float64)
        if d.shape != self.x.shape:
            raise ValueError(f"density must have the lattice's shape {self.x.shape}; "
                             f"got {d.shape}. Evaluate it on walk.x.")
        return d * self.ds

    def propagate(self, p0, n_steps: int, *, boundary: str = "absorbing",
                  t0: float = 0.0) -> np.ndarray:
        """Run the master equation exactly for ``n_steps`` ticks (deterministic).

        ``P_{n+1}(x) = w+(x − Δs) P_n(x − Δs) + w−(x + Δs) P_n(x + Δs)`` with ``w±`` evaluated at
        the source site and the current time ``t0 + n Δt``.

        Args:
            p0: site masses (pmf), shape ``(M + 1,)``, non-negative.
            n_steps: number of ticks (≥ 0); the final time is ``t0 + n_steps·dt``.
            boundary: ``"absorbing"`` — mass stepping onto an end site is removed (the end sites
                act as killing walls ``P = 0``); ``"reflecting"`` — a step that would leave the
                lattice is reflected, i.e. from an end site the walker moves inward with
                probability 1; total mass is conserved exactly (to rounding).
            t0: starting time (matters for time-dependent drift).

        Returns:
            the pmf after ``n_steps``, shape ``(M + 1,)``.
        """
        n_steps = _count("n_steps", n_steps)
        if boundary not in LATTICE_BOUNDARIES:
            raise ValueError(f"boundary must be one of {', '.join(LATTICE_BOUNDARIES)}; "
                             f"got {boundary!r}.")
        P = np.asarray(p0, dtype=np.float64).copy()
        if P.shape != self.x.shape:
            raise ValueError(f"p0 must have the lattice's shape {self.x.shape}; got {P.shape}. "
                             "Use walk.delta(x0) or walk.from_density(...).")
        if not np.all(np.isfinite(P)) or np.any(P < 0):
            raise ValueError("p0 must be a finite, non-negative pmf on the lattice.")
        absorbing = boundary == "absorbing"
        if absorbing:
            P[0] = P[-1] = 0.0
        new = np.empty_like(P)
        for n in range(n_steps):
            wp = self._w_up(t0 + n * self.dt)
            if not absorbing:
                wp = wp.copy()
                wp[0], wp[-1] = 1.0, 0.0
            up_flux = wp * P  # (M+1,) mass moving right
            down_flux = P - up_flux  # mass moving left
            new[0] = down_flux[1]
            new[-1] = up_flux[-2]
            new[1:-1] = up_flux[:-2] + down_flux[2:]
            if absorbing:
                new[0] = new[-1] = 0.0
            P, new = new, P
        return P

    def density(self, pmf) -> tuple[np.ndarray, np.ndarray]:
        """Density estimate from site masses, handling the parity pitfall.

        If one parity sub-lattice carries no mass (a walk from a point mass), the density lives
        on the occupied sub-lattice with spacing ``2Δs``: returns those sites and ``pmf/(2Δs)``.
        Otherwise returns all sites and ``pmf/Δs``.

        Returns:
            ``(sites, density)``, 1-D arrays of equal length.
        """
        P = np.asarray(pmf, dtype=np.float64)
        if P.shape != self.x.shape:
            raise ValueError(f"pmf must have the lattice's shape {self.x.shape}; got {P.shape}.")
        even, odd = P[0::2].sum(), P[1::2].sum()
        if odd == 0.0 and even > 0.0:
            return self.x[0::2], P[0::2] / (2.0 * self.ds)
        if even == 0.0 and odd > 0.0:
            return self.x[1::2], P[1::2] / (2.0 * self.ds)
        return self.x.copy(), P / self.ds
