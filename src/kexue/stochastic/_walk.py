r"""Random walks of Su's thesis (kexue.fm archive 3750): exact laws, gambler's ruin and the
continuum limit. The position-dependent asymmetric walk propagated exactly on a lattice,
:class:`LatticeWalk`, is in :mod:`kexue.stochastic._lattice_walk`.

* :class:`RandomWalk` — i.i.d. steps ``+up`` (probability ``p``) and ``−down`` (``q = 1 − p``).
  After ``n`` steps ``X_n = k·up − (n−k)·down``, ``k ~ Binomial(n, p)`` (thesis eq. 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import parallel
from ..devices import infer_device
from ..rng import as_generator, block_generator
from ._montecarlo import (
    DEFAULT_BLOCK_SIZE,
    MonteCarloResult,
    block_moments,
    check_block_size,
    combine_moments,
    resolve_seed,
)
from ._sde import SDE

__all__ = ["RandomWalk"]


def _count(name: str, n, *, minimum: int = 0) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {n!r}.")
    return int(n)


class RandomWalk:
    """Walk with i.i.d. steps ``+up`` (probability ``p``) and ``−down`` (probability ``1 − p``).

    The constant-bias walk of Su's thesis (kexue.fm archive 3750), exposed exactly, with no limit
    taken.

    Args:
        p: probability of the up-step, in ``[0, 1]``.
        up: length of the up-step (> 0).
        down: length of the down-step (> 0).

    Raises:
        ValueError: ``p`` outside ``[0, 1]`` or non-positive step lengths.
    """

    def __init__(self, p: float, *, up: float = 1.0, down: float = 1.0) -> None:
        if not isinstance(p, (int, float, np.floating, np.integer)) or not (0.0 <= p <= 1.0):
            raise ValueError(f"p must be a probability in [0, 1]; got {p!r}. For a drift-scaled "
                             "walk use p = (1 + mu*ds/alpha)/2 with ds small enough.")
        for name, v in (("up", up), ("down", down)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive finite step length; got {v!r}.")
        self.p = float(p)
        self.q = 1.0 - self.p
        self.up = float(up)
        self.down = float(down)

    def __repr__(self) -> str:
        return f"RandomWalk(p={self.p!r}, up={self.up!r}, down={self.down!r})"

    # -- exact law --------------------------------------------------------------------------
    def pmf(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact law after ``n`` steps from 0: ``(positions, probabilities)``, each ``(n + 1,)``.

        ``P(X_n = k·up − (n−k)·down) = C(n, k) p^k q^{n−k}`` (V1), ordered by ``k = 0..n``.
        """
        from . import closed_forms as cf  # scipy: imported on use

        n = _count("n", n)
        return cf.walk_pmf(n, self.p, self.up, self.down)

    def mean(self, n) -> np.ndarray:
        """``E X_n = n (p·up − q·down)``."""
        from . import closed_forms as cf  # scipy: imported on use

        return cf.walk_mean(n, self.p, self.up, self.down)

    def var(self, n) -> np.ndarray:
        """``Var X_n = n p q (up + down)²``."""
        from . import closed_forms as cf  # scipy: imported on use

        return cf.walk_var(n, self.p, self.up, self.down)

    def _paths(self, n_steps: int, n_walkers: int, gen: torch.Generator | None, x0: float,
               device: torch.device) -> torch.Tensor:
        """``(n_steps + 1, n_walkers)`` float64 positions drawn from ``gen`` on ``device``."""
        u = torch.rand(n_steps, n_walkers, generator=gen, dtype=torch.float64, device=device)
        # float64 step lengths (Python scalars alone would make torch.where float32)
        steps = torch.where(u < self.p, u.new_tensor(self.up), u.new_tensor(-self.down))
        out = torch.empty(n_steps + 1, n_walkers, dtype=torch.float64, device=device)
        out[0] = x0
        torch.cumsum(steps, dim=0, out=out[1:])
        out[1:] += x0
        return out

    def sample(self, n_steps: int, n_walkers: int, *, generator=None,
               x0: float = 0.0, device: torch.device | str | None = None,
               block_size: int | None = None) -> torch.Tensor:
        """Monte Carlo walkers, time-major.

        Args:
            n_steps: number of steps.
            n_walkers: number of independent walkers.
            generator: the randomness rule of :mod:`kexue.rng`. Without ``block_size``: a
                ``torch.Generator`` on ``device``, an int seed, or ``None`` (PyTorch's default
                generator, so ``torch.manual_seed`` reproduces the draw). With ``block_size``:
                the blocks' seed (an int, or one seed drawn from the generator / the default
                generator).
            x0: starting position.
            device: where the walkers are drawn (default: the generator's device for a
                ``torch.Generator`` without ``block_size``, else PyTorch's default device).
            block_size: ``None`` (default): one stream for all walkers. An int: walkers cut into
                blocks of ``block_size``, block ``b`` drawn from
                :func:`kexue.rng.block_generator` ``(seed, b)``; under an initialised process
                group the blocks are shared among the processes and gathered, so every process
                returns the same tensor for any number of processes.

        Returns:
            float64 tensor of positions, shape ``(n_steps + 1, n_walkers)`` on ``device``; row 0
            is ``x0``.
        """
        n_steps = _count("n_steps", n_steps)
        n_walkers = _count("n_walkers", n_walkers, minimum=1)
        if device is None and isinstance(generator, torch.Generator) and block_size is None:
            device = generator.device                  # draw where the generator lives
        dev = infer_device(device)
        if block_size is None:
            return self._paths(n_steps, n_walkers, as_generator(generator, device=dev), x0, dev)
        block_size = check_block_size(block_size)
        seed = resolve_seed(generator)
        ranges = parallel.block_ranges(n_walkers, block_size)

        def block(b: int) -> torch.Tensor:
            lo, hi = ranges[b]
            return self._paths(n_steps, hi - lo, block_generator(seed, b, device=dev), x0,
                               dev)  # (n_steps + 1, hi − lo)

        return torch.cat(parallel.map_blocks(block, len(ranges)), dim=1)

    def expectation(self, fn, n_steps: int, *, n_walkers: int, x0: float = 0.0,
                    block_size: int = DEFAULT_BLOCK_SIZE, generator=None,
                    seed: int | None = None,
                    device: torch.device | str | None = None) -> MonteCarloResult:
        """Monte Carlo ``E[fn(X)]`` over walks, with its standard error; the same for any number
        of processes.

        Walkers are simulated in blocks of ``block_size`` (block ``b`` from
        :func:`kexue.rng.block_generator` ``(seed, b)``), each block reduced to float64 moments,
        combined in block order (see :mod:`kexue.parallel`); under ``torchrun`` the blocks are
        shared among the processes and mean and standard error are bit-identical to one
        process. E.g. ``rw.expectation(lambda X: X[-1], 100, n_walkers=10**6)`` estimates
        ``E X_100 = 100 (p·up − q·down)``.

        Args:
            fn: ``fn(X) -> (m,)`` or ``(m, *k)`` for the block's positions ``X`` of shape
                ``(n_steps + 1, m)`` (time-major, as :meth:`sample` returns).
            n_steps: steps per walk.
            n_walkers: number of walks.
            x0: starting position.
            block_size: walkers per block.
            generator, seed: the blocks' seed (rule of :mod:`kexue.rng`; see
                :func:`kexue.stochastic.expectation`).
            device: where to simulate (default: PyTorch's default device).

        Returns:
            :class:`~kexue.stochastic.MonteCarloResult` (``mean``, ``stderr``, ``ci()``).

        Raises:
            ValueError: bad counts, ``fn`` returning a first dimension other than the block's
                number of walkers, more processes than blocks.
        """
        n_steps = _count("n_steps", n_steps)
        n_walkers = _count("n_walkers", n_walkers, minimum=1)
        if not callable(fn):
            raise TypeError(f"fn must be a callable X -> (m, ...); got {type(fn).__name__}")
        block_size = check_block_size(block_size)
        dev = infer_device(device)
        seed_value = resolve_seed(generator, seed)
        ranges = parallel.block_ranges(n_walkers, block_size)

        def block(b: int) -> torch.Tensor:
            lo, hi = ranges[b]
            X = self._paths(n_steps, hi - lo, block_generator(seed_value, b, device=dev), x0,
                            dev)
            y = torch.as_tensor(fn(X), device=dev)
            if y.ndim < 1 or y.shape[0] != hi - lo:
                raise ValueError(f"fn(X) must return shape (m, ...) with m = {hi - lo} walkers "
                                 f"for X of shape {tuple(X.shape)}; got {tuple(y.shape)}. "
                                 "Reduce over time, not over walkers (e.g. X[-1]).")
            return block_moments(y)

        with torch.no_grad():
            mean, stderr = combine_moments(parallel.map_blocks(block, len(ranges)))
        return MonteCarloResult(mean=mean, stderr=stderr, n_paths=n_walkers,
                                n_samples=n_walkers, block_size=block_size, seed=seed_value)

    # -- gambler's ruin -----------------------------------------------------------------------
    def _ruin_setup(self, start, lower, upper):
        for name, v in (("start", start), ("lower", lower), ("upper", upper)):
            if not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number; got {v!r}.")
        if not lower < upper:
            raise ValueError(f"need lower < upper; got lower={lower!r}, upper={upper!r}.")
        if self.up == self.down:
            h = self.up
            k = (start - lower) / h
            N = (upper - lower) / h
            if abs(k - round(k)) > 1e-9 or abs(N - round(N)) > 1e-9:
                raise ValueError(
                    f"start - lower and upper - lower must be whole multiples of the step "
                    f"{h!r}; got start={start!r}, lower={lower!r}, upper={upper!r}.")
            return "closed", int(round(k)), int(round(N))
        for name, v in (("up", self.up), ("down", self.down), ("start", start),
                        ("lower", lower), ("upper", upper)):
            if float(v) != round(float(v)):
                raise ValueError(
                    f"with up != down the gambler's-ruin problem is solved on the integer "
                    f"lattice, so {name} must be an integer; got {v!r}. Rescale the walk so "
                    "that up, down and the barriers are integers.")
        return "system", int(start), (int(lower), int(upper))

    def _ruin_system(self, start: int, lower: int, upper: int):
        """Exact linear system on the transient states ``lower < s < upper`` (integer steps)."""
        from scipy import sparse

        states = np.arange(lower + 1, upper)
        m = states.size
        up, down = int(self.up), int(self.down)
        rows, cols, vals = [np.arange(m)], [np.arange(m)], [np.ones(m)]
        b_hit = np.zeros(m)
        for step, prob in ((up, self.p), (-down, self.q)):
            if prob == 0.0:
                continue
            dest = states + step
            inside = (dest > lower) & (dest < upper)
            idx = np.nonzero(inside)[0]
            rows.append(idx)
            cols.append(dest[inside] - (lower + 1))
            vals.append(np.full(idx.size, -prob))
            b_hit += prob * (dest >= upper)
        A = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                      np.concatenate(cols))), shape=(m, m))
        return A, b_hit, start - (lower + 1)

    def hit_probability(self, start: float, lower: float, upper: float) -> float:
        """Probability that the walk from ``start`` reaches ``upper`` before ``lower`` (exact).

        For ``up == down`` the barriers must lie on the walk's lattice (``start − lower`` and
        ``upper − lower`` whole multiples of the step) and the gambler's-ruin closed form
        ``(1 − r^k)/(1 − r^N)``, ``r = q/p`` (V3), is used. For ``up != down`` the walk lives on
        the integers (``up``, ``down``, barriers integers); exit happens at the first position
        ``≥ upper`` (counted as hitting ``upper``, overshoot allowed) or ``≤ lower``, and the
        first-step equations ``h(s) = p h(s + up) + q h(s − down)`` are solved directly (sparse LU).
        """
        from . import closed_forms as cf  # scipy: imported on use

        kind, k, N = self._ruin_setup(start, lower, upper)
        if kind == "closed":
            return float(cf.gamblers_ruin_probability(k, N, self.p))
        lo, hi = N
        if k >= hi:
            return 1.0
        if k <= lo:
            return 0.0
        from scipy.sparse.linalg import spsolve

        A, b_hit, i = self._ruin_system(k, lo, hi)
        return float(spsolve(A.tocsc(), b_hit)[i])

    def mean_duration(self, start: float, lower: float, upper: float) -> float:
        """Expected number of steps until the walk from ``start`` leaves ``(lower, upper)`` (exact).

        ``k(N − k)`` (symmetric) or ``k/(q − p) − N/(q − p)·(1 − r^k)/(1 − r^N)`` (V3) when
        ``up == down``; for ``up != down`` the equations ``m(s) = 1 + p m(s + up) + q m(s − down)``
        on the integer lattice are solved exactly (see :meth:`hit_probability` for the exit rule).
        """
        from . import closed_forms as cf  # scipy: imported on use

        kind, k, N = self._ruin_setup(start, lower, upper)
        if kind == "closed":
            if self.p in (0.0, 1.0):
                if 0 < k < N:
                    return float(N - k) if self.p == 1.0 else float(k)
                return 0.0
            return float(cf.gamblers_ruin_duration(k, N, self.p))
        lo, hi = N
        if k >= hi or k <= lo:
            return 0.0
        from scipy.sparse.linalg import spsolve

        A, _, i = self._ruin_system(k, lo, hi)
        return float(spsolve(A.tocsc(), np.ones(A.shape[0]))[i])

    # -- continuum limit ----------------------------------------------------------------------
    def continuum_coefficients(self, ds: float, dt: float) -> tuple[float, float]:
        """Drift and diffusion constant ``(mu, alpha)`` of the walk with steps scaled by ``ds``.

        A step ``+up·ds`` or ``−down·ds`` every ``dt`` has mean ``(p·up − q·down)·ds`` and variance
        ``p q (up + down)² ds²`` (archive 3750, §2.2), so ``mu = (p·up − q·down)·ds/dt`` and
        ``alpha = p q (up + down)² ds²/dt``. For ``up = down = 1``: ``(p − q) ds/dt`` and
        ``4 p q ds²/dt``. A finite non-trivial limit needs ``p − q = O(ds)`` and ``ds² ∝ dt``.
        """
        for name, v in (("ds", ds), ("dt", dt)):
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be positive and finite; got {v!r}.")
        mu = (self.p * self.up - self.q * self.down) * ds / dt
        alpha = self.p * self.q * (self.up + self.down) ** 2 * ds**2 / dt
        return mu, alpha

    def continuum_limit(self, ds: float, dt: float) -> SDE:
        """The drift–diffusion SDE ``dx = mu dt + sqrt(alpha) dW`` matching the walk's first two
        moments per step (see :meth:`continuum_coefficients`); additive noise."""
        mu, alpha = self.continuum_coefficients(ds, dt)
        g = math.sqrt(alpha)
        return SDE(lambda t, x: torch.full_like(x, mu), lambda t, x: torch.full_like(x, g),
                   noise="additive")
