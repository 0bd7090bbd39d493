"""A Brownian path queryable at any time: a stateless dyadic tree of Brownian bridges.

``BrownianInterval(t0, t1, shape, seed=...)`` is one batch of Brownian motions ``W`` on
``[t0, t1]`` that answers ``W(s, t) = W(t) - W(s)`` for any ``t0 <= s < t <= t1``, in any order,
with the same numbers every time: a *virtual* Brownian tree (Li, Wong, Chen & Duvenaud 2020,
arXiv:2001.01328, §4; diffrax's ``VirtualBrownianTree``), written here from the maths.

**The tree.** Node ``n`` (heap numbering: the root is 1, the children of ``n`` are ``2n`` and
``2n + 1``) is the dyadic interval ``[j 2^-L, (j + 1) 2^-L]`` of ``[t0, t1]`` rescaled to
``[0, 1]`` (``L = floor(log2 n)``, ``j = n - 2^L``), of length ``h = (t1 - t0) 2^-L``. It holds
its increment ``W`` and, with ``levy_area="space-time"``, its space-time Lévy area
``H = (1/h) ∫ (W(u) - W(a)) du - W/2`` (``~ N(0, h/12)``, independent of ``W``). The root is
``W ~ N(0, t1 - t0)``, ``H ~ N(0, (t1 - t0)/12)``. A node's halves follow from its own two
standard normals ``Z1, Z2`` (Brownian bridge; for ``H`` the conditional law derived from
``H = ½(H_L + H_R) + ¼(W_L - W_R)``)::

    without H:  D = sqrt(h) Z1
    with H:     D = 3H + (sqrt(h)/2) Z1,   K = sqrt(h/12) Z2,   P = 2H - D/2
    W_L = (W + D)/2,  W_R = (W - D)/2,     H_L = (P + K)/2,  H_R = (P - K)/2

so ``W_L | W ~ N(W/2, h/4)`` (the bridge at the midpoint) and, with ``H``, ``W_L | W, H ~
N(W/2 + 3H/2, h/16)``; ``W_L + W_R = W`` exactly in exact arithmetic.

**Randomness.** The normals of node ``n`` are a pure function of ``(seed, n)``: a counter-based
generator (the SplitMix64 finaliser of Steele, Lea & Flood 2014 applied to a Weyl sequence keyed
by ``(seed, n, stream)``, then Box–Muller), computed with NumPy's wrapping ``uint64`` arithmetic.
The whole tree is float64 on the host; results are copied to ``device`` and cast to ``dtype``.
So the path does not depend on the order of queries, on the cache, on ``dtype`` (a float32 path
is the float64 path rounded) or on the device (bit-identical on CPU and CUDA). (PyTorch's CPU
generator keeps only the low 32 bits of a seed, so per-node ``manual_seed`` would collide.)
The tree's ``W`` depends on ``levy_area`` (the bridge is conditioned on ``H`` too): the same
seed gives another path (with the same law) with and without Lévy area.

**Queries.** ``W(t) - W(t0)`` is the sum of the left siblings passed on the way down to ``t``
(and ``I(t) = ∫_{t0}^t (W(u) - W(t0)) du`` likewise, for the Lévy area). Dyadic times
``t0 + k 2^-L (t1 - t0)`` with ``L <= depth`` are nodes and exact. Other times stop at a leaf of
length ``<= tol`` and take the conditional mean of the path given the leaf's ``W`` (and ``H``):
linear (quadratic) interpolation, whose variance falls short of Brownian motion's by at most
``tol/4`` — choose ``tol`` well below the step size (diffrax's advice: ``tol <= dt/2``).

**One query** does not walk the tree node by node: the nodes on the way to ``t`` are read off
the bits of ``ceil(u 2^depth)`` (``u`` the time rescaled to ``[0, 1]``), and ``W(t) - W(t0)``
(and ``I(t)``) is a linear combination of the root's ``(W, H)`` and the normals of those nodes
whose coefficients depend on ``u`` only (every bridge formula above is linear): they are computed
in Python floats by one backward sweep over the levels, and the value is one small matrix
product with the path's normals. The normals of the last queried path are kept, so a query draws
(in one vectorised call) only the nodes below the level where its path leaves the previous one
— about ``log2(dt/tol)`` nodes for a step ``dt``, 10 at the default ``tol`` and ``dt = 10^-3``.
A bounded LRU cache (``cache_size`` nodes) keeps the normals of the upper levels (those with at
most ``cache_size`` nodes), which every query shares; evicted nodes are redrawn identically, so
memory stays bounded for any number of queries. Every value is a pure function of the seed and
the time: the same numbers whatever the order of queries or the cache. :meth:`increments` (a
grid known in advance) descends level by level for all points at once, the same tree (equal up
to rounding).

Space-time Lévy area of a query ``[s, t]`` is returned as ``dZ = ∫_s^t (W(u) - W(s)) du =
(t - s)(H_{s,t} + W_{s,t}/2)`` — the ``I_(1,0)`` of Kloeden & Platen (1992, §5.8) that
:class:`~kexue.stochastic.BrownianIncrements` and ``sra1`` use (torchsde calls it ``U``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

from ..rng import seed_from
from ._brownian import BrownianIncrements, _grid_floats
from ._counter_rng import _counter_rows, _tree_key, counter_normals

__all__ = ["BrownianInterval", "LEVY_AREAS"]

LEVY_AREAS = (None, "space-time")

_MAX_DEPTH = 50   # dyadic times of depth <= 50 are exact in float64 on [0, 1]
_MEMO_POINTS = 8  # query points whose values are kept
_CHUNK_NUMBERS = 1 << 22   # grid points × prod(shape) per vectorised descent in increments()
_INF = (math.inf, -math.inf)


def _as_time(v, name: str) -> float:
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        v = float(v)
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        what = (f"a tensor of shape {tuple(v.shape)}" if isinstance(v, torch.Tensor)
                else type(v).__name__)
        raise TypeError(f"{name} must be a real number (a float, or a one-element tensor); got "
                        f"{what}. Query one interval at a time, or use increments(ts) for a "
                        "grid.")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite; got {v!r}. Pass a time inside the Brownian "
                         "interval [t0, t1].")
    return v


class BrownianInterval:
    """Brownian motion on ``[t0, t1]``, queryable as ``bm(s, t)`` at any times, any order.

    A virtual Brownian tree (Li et al. 2020, arXiv:2001.01328, §4): a stateless dyadic tree of
    Brownian bridges whose node normals are a counter-based function of ``(seed, node)``, with a
    bounded LRU cache (see the module docstring for the maths and its one approximation:
    non-dyadic times inside a leaf of length ``<= tol``).

    Pass it as ``solve(..., brownian=bm)``: the solver takes the increments on its step grid
    (``bm.restrict(grid)``), so one path drives every step size.

    Args:
        t0, t1: the time interval, ``t0 < t1``.
        shape: shape of ``W(s, t)``; ``(batch, m)`` for :func:`~kexue.stochastic.solve`.
        seed: an int seed (alternative to ``generator``).
        generator: by the rule of :mod:`kexue.rng` — an int seed, a ``torch.Generator`` (one
            62-bit draw from it becomes the seed) or ``None`` (one draw from PyTorch's default
            generator, so ``torch.manual_seed`` reproduces the path). The seed is ``self.seed``.
        dtype: of the returned increments (the tree itself is float64).
        device: of the returned increments (default: PyTorch's default device).
        levy_area: ``None`` or ``"space-time"`` (also return ``dZ = ∫(W - W(s)) du``; needed by
            ``sra1``).
        tol: leaf length; default ``(t1 - t0) 2^-20``. Times off the dyadic grid of depth
            ``depth = ceil(log2((t1 - t0)/tol))`` are interpolated inside a leaf.
        cache_size: number of upper-level nodes whose normals are kept (LRU); the object
            holds a bounded number of path arrays (:attr:`held_nbytes`), whatever the number of
            queries.

    Raises:
        TypeError / ValueError: non-finite or unordered ``t0, t1``; a bad ``shape``; both
            ``seed`` and ``generator``; unknown ``levy_area``; ``tol`` not in ``(0, t1 - t0]``;
            ``cache_size < 1``.

    Examples:
        >>> import torch
        >>> from kexue.stochastic import BrownianInterval
        >>> bm = BrownianInterval(0.0, 1.0, (3, 1), seed=0)
        >>> bm(0.0, 1.0).shape
        torch.Size([3, 1])
        >>> torch.allclose(bm(0.0, 0.5) + bm(0.5, 1.0), bm(0.0, 1.0))   # increments add up
        True
        >>> torch.equal(bm(0.2, 0.7), bm(0.2, 0.7))                      # same query, same path
        True
    """

    def __init__(self, t0: float, t1: float, shape: Sequence[int] | int, *,
                 seed: int | None = None, generator: torch.Generator | int | None = None,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
                 levy_area: str | None = None, tol: float | None = None,
                 cache_size: int = 128) -> None:
        t0, t1 = _as_time(t0, "t0"), _as_time(t1, "t1")
        if not t0 < t1:
            raise ValueError(f"t0 must be < t1; got t0={t0!r}, t1={t1!r}. Swap them.")
        if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
            shape = (int(shape),)
        try:
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise TypeError(f"shape must be a tuple of ints such as (batch, m); got "
                            f"{shape!r}") from None
        if any(s < 1 for s in shape):
            raise ValueError(f"shape must have positive sizes, e.g. (batch, m); got {shape}")
        if seed is not None and generator is not None:
            raise ValueError("pass either seed= or generator=, not both (generator= also "
                             "accepts an int seed)")
        if levy_area not in LEVY_AREAS:
            raise ValueError(f"levy_area must be one of {LEVY_AREAS}; got {levy_area!r}. Use "
                             "'space-time' for sra1.")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype; got {dtype!r}")
        span = t1 - t0
        tol = span * 2.0 ** -20 if tol is None else _as_time(tol, "tol")
        if not 0 < tol <= span:
            raise ValueError(f"tol must be in (0, t1 - t0] = (0, {span!r}]; got {tol!r}. "
                             "Take tol <= dt/2 for a solver with step dt.")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(f"cache_size must be a positive int; got {cache_size!r}. The "
                             "default 128 suits a solver's forward queries.")
        self.t0, self.t1, self.shape = t0, t1, shape
        self.dtype = dtype
        self.device = torch.device(device) if device is not None else torch.empty(0).device
        self.levy_area = levy_area
        self.seed = int(seed_from(generator if seed is None else seed,
                                  name="seed" if seed is not None else "generator"))
        self.depth = min(_MAX_DEPTH, max(0, math.ceil(math.log2(span / tol) - 1e-12)))
        self.tol = span * 2.0 ** -self.depth
        self.cache_size = cache_size
        self._key = _tree_key(self.seed)
        self._numel = math.prod(shape)
        self._cache: OrderedDict[int, tuple] = OrderedDict()
        # the values at the last _MEMO_POINTS query points (an adaptive solver re-queries the
        # end of a rejected step or of the step before)
        self._last: OrderedDict[float, tuple] = OrderedDict()
        w = self._normals(np.array([0]), 0)[0] * math.sqrt(span)
        h = self._normals(np.array([0]), 1)[0] * math.sqrt(span / 12) if levy_area else None
        self._root = (w, h)
        # Single queries (_point): rows [W_root, (H_root,) Z1 of levels 0..depth-1, (Z2 ...)]
        # of the last queried path, and that path's split nodes per level.
        self._off = 1 if levy_area is None else 2
        self._m = np.zeros((self._off + (1 if levy_area is None else 2) * self.depth,
                            self._numel))
        self._m[0] = w.reshape(-1)
        if levy_area is not None:
            self._m[1] = h.reshape(-1)
        self._leaf_old, self._f_old = 1 << self.depth, 0   # rows of levels < _f_old are valid
        # the LRU cache takes the nodes of the levels with at most cache_size nodes (node ids
        # below 2^(L+1)): a solver's queries share those; deeper nodes are rarely revisited
        self._cache_levels = cache_size.bit_length()
        self._cache_below = 1 << self._cache_levels
        # sqrt(h_L)/2 (the bridge's sd) without Lévy area; with it, sqrt(h_L)
        self._sqrt_h = [math.sqrt(span * 2.0 ** -i) * (0.5 if levy_area is None else 1.0)
                        for i in range(self.depth)]
        self._half_sqrt_12 = 0.5 / math.sqrt(12.0)
        # the host result is cast by NumPy (same rounding as torch's) where no copy to a
        # device is needed
        self._np_dtype = ({torch.float64: np.float64, torch.float32: np.float32}.get(dtype)
                          if self.device.type == "cpu" else None)
        self._span = span

    # ------------------------------------------------------------------ tree
    # The tree lives on the host in float64 NumPy arrays (small-array NumPy calls cost a
    # fraction of PyTorch's per-op overhead); results are copied to ``device`` at the end.
    def _normals(self, nodes: np.ndarray, stream: int) -> np.ndarray:
        """Standard normals ``(len(nodes), *shape)`` float64 for ``nodes``."""
        return counter_normals(self._key, nodes, stream, self._numel).reshape(-1, *self.shape)

    def _split(self, nodes: np.ndarray, w: np.ndarray, hh: np.ndarray | None, h: float,
               z: tuple[np.ndarray, np.ndarray | None] | None = None):
        """Children of ``nodes`` (values ``w``, ``hh`` of shape ``(k, *shape)``, length ``h``):
        ``(W_L, H_L, W_R, H_R)``, each ``(k, *shape)`` (``H`` None without Lévy area). ``z``:
        the nodes' normals ``(Z1, Z2)`` if already drawn."""
        z1, z2 = z if z is not None else (self._normals(nodes, 0), None)
        if hh is None:
            d = z1 * math.sqrt(h)
            return (w + d) * 0.5, None, (w - d) * 0.5, None
        if z2 is None:
            z2 = self._normals(nodes, 1)
        d = hh * 3.0 + z1 * (0.5 * math.sqrt(h))
        k = z2 * math.sqrt(h / 12.0)
        p = hh * 2.0 - d * 0.5
        return (w + d) * 0.5, (p + k) * 0.5, (w - d) * 0.5, (p - k) * 0.5

    def _rows(self, leaf: int, j: int, f: int) -> None:
        """Put the normals of the split nodes of levels ``j .. f-1`` on the way to ``leaf``
        (node ``leaf >> (depth - level)`` at ``level``) into the path buffer ``self._m``: from
        the LRU cache where held, the rest drawn in one vectorised call (both streams) and
        cached. Rows of levels ``< j`` are the previous query's, unchanged."""
        cache, m, depth, off = self._cache, self._m, self.depth, self._off
        levy = self.levy_area is not None
        miss_lv: list[int] = []
        miss: list[int] = []
        for level in range(j, min(f, self._cache_levels)):     # deeper levels are never cached
            node = leaf >> (depth - level)
            got = cache.get(node)
            if got is None:
                miss_lv.append(level)
                miss.append(node)
                continue
            cache.move_to_end(node)
            block, i, k = got
            m[off + level] = block[i]
            if levy:
                m[off + depth + level] = block[i + k]
        deep = range(max(j, self._cache_levels), f)
        miss_lv.extend(deep)
        miss.extend(leaf >> (depth - level) for level in deep)
        if not miss:
            return
        k = len(miss)
        ctr = [4 * v + 1 for v in miss]
        if levy:
            ctr += [4 * v + 2 for v in miss]
        block = _counter_rows(self._key, ctr, self._numel)                 # (k or 2k, numel)
        if miss_lv[-1] - miss_lv[0] == k - 1:                              # contiguous levels
            m[off + miss_lv[0]: off + miss_lv[0] + k] = block[:k]
            if levy:
                m[off + depth + miss_lv[0]: off + depth + miss_lv[0] + k] = block[k:]
        else:
            lv = np.array(miss_lv) + off
            m[lv] = block[:k]
            if levy:
                m[lv + depth] = block[k:]
        if miss[0] < self._cache_below:           # upper levels only (deeper: no revisits)
            for i, node in enumerate(miss):
                if node >= self._cache_below:
                    break
                cache[node] = (block, i, k)
            while len(cache) > self.cache_size:
                cache.popitem(last=False)

    def _point(self, u: float) -> tuple[np.ndarray | float, np.ndarray | float]:
        """``(W(t) - W(t0), ∫_{t0}^t (W - W(t0)) du)`` at ``t = t0 + u (t1 - t0)``, float64
        ``shape`` (the integral is 0.0 without Lévy area).

        Without materialising the nodes on the way down: the descent is read off the bits of
        ``K = ceil(u 2^depth)`` (the node at level ``L`` that holds ``u`` in ``(a, a + width]``
        is ``(2^depth + K - 1) >> (depth - L)``; a dyadic ``u`` stops at its own level), and the
        value is linear in the root's ``(W, H)`` and the normals ``(Z1, Z2)`` of the nodes split
        on the way, with coefficients that depend on ``u`` only (the bridge formulas of the
        module docstring are linear), computed as Python floats by one backward sweep over the
        levels (the adjoint of the descent). The normals of the current path sit in a
        ``(rows, numel)`` buffer whose upper levels are shared with the previous query
        (adaptive and grid queries are local), so a query draws only the nodes below the level
        where its path leaves the previous one, and the answer is one small matrix product:
        the same numbers for a point whatever the queries before it (order- and
        cache-independent)."""
        if u <= 0.0:
            return 0.0, 0.0
        depth = self.depth
        scaled = u * (1 << depth) if u < 1.0 else float(1 << depth)      # exact (power of 2)
        kk = math.ceil(scaled)
        leaf = (1 << depth) + kk - 1                                      # node at level depth
        if scaled == kk:                                                  # dyadic: stops early
            f = depth - ((kk & -kk).bit_length() - 1)
            x = 1.0
        else:
            f = depth
            x = scaled - (kk - 1)
        j = min(f, self._f_old, depth + 1 - (leaf ^ self._leaf_old).bit_length())
        if j < f:                                  # rows j.. now hold this path's nodes
            self._rows(leaf, j, f)
            self._leaf_old, self._f_old = leaf, f
        sq = self._sqrt_h
        if self.levy_area is None:
            coef = [0.0] * (1 + depth)
            cw = x                                             # ∂P/∂W at the current level
            for i in range(f - 1, -1, -1):                     # backward over the splits
                if (leaf >> (depth - i - 1)) & 1:              # went right at level i
                    coef[1 + i] = sq[i] * (1.0 - cw)
                    cw = 0.5 * cw + 0.5
                else:
                    coef[1 + i] = sq[i] * cw
                    cw = 0.5 * cw
            coef[0] = cw
            return np.dot(coef, self._m).reshape(self.shape), 0.0
        span = self.t1 - self.t0
        hf = span * 2.0 ** -f
        # adjoints of P (pw, ph, pp, pi) and of I (iw, ih, ip, ii) w.r.t. (W, H, p, I)
        pw, ph, pp, pi_ = x, 6.0 * x * (1.0 - x), 1.0, 0.0
        iw, ih, ip, ii = hf * x * x * 0.5, hf * (3.0 * x * x - 2.0 * x ** 3), x * hf, 1.0
        cp = [0.0] * (2 + 2 * depth)
        ci = [0.0] * (2 + 2 * depth)
        c12 = self._half_sqrt_12
        for i in range(f - 1, -1, -1):
            ai, bi = sq[i] * 0.25, sq[i] * c12
            hi = span * 2.0 ** -i
            if (leaf >> (depth - i - 1)) & 1:
                cp[2 + i] = ai * (pp - pw - 0.5 * ph)
                cp[2 + depth + i] = bi * (0.5 * hi * pi_ - ph)
                ci[2 + i] = ai * (ip - iw - 0.5 * ih)
                ci[2 + depth + i] = bi * (0.5 * hi * ii - ih)
                pw, ph, pp = (0.5 * pw + 0.5 * pp + 0.125 * hi * pi_,
                              -1.5 * pw + 0.25 * ph + 1.5 * pp + 0.5 * hi * pi_,
                              pp + 0.5 * hi * pi_)
                iw, ih, ip = (0.5 * iw + 0.5 * ip + 0.125 * hi * ii,
                              -1.5 * iw + 0.25 * ih + 1.5 * ip + 0.5 * hi * ii,
                              ip + 0.5 * hi * ii)
            else:
                cp[2 + i] = ai * (pw - 0.5 * ph)
                cp[2 + depth + i] = bi * ph
                ci[2 + i] = ai * (iw - 0.5 * ih)
                ci[2 + depth + i] = bi * ih
                pw, ph = 0.5 * pw, 1.5 * pw + 0.25 * ph
                iw, ih = 0.5 * iw, 1.5 * iw + 0.25 * ih
        cp[0], cp[1], ci[0], ci[1] = pw, ph, iw, ih
        both = np.dot([cp, ci], self._m)                       # (2, numel)
        return both[0].reshape(self.shape), both[1].reshape(self.shape)

    def _points(self, us: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Vectorised :meth:`_point` over ``us`` ``(n,)``: ``(P, I)`` each ``(n, *shape)``
        float64 (``I`` None without Lévy area); one level of the tree at a time, every node's
        children drawn in one call. Bypasses the cache; same numbers up to rounding."""
        n, span, levy = us.size, self.t1 - self.t0, self.levy_area is not None
        P = np.zeros((n, *self.shape))
        I = np.zeros_like(P) if levy else None
        active = np.flatnonzero(us > 0.0)                      # point indices still descending
        node = np.ones(active.size, dtype=np.int64)
        a = np.zeros(active.size)
        w_root, h_root = self._root
        uniq, vals_w = np.array([1]), w_root[None]
        vals_h = None if h_root is None else h_root[None]
        level = 0
        bshape = (-1,) + (1,) * len(self.shape)
        while active.size:
            width = 2.0 ** -level
            h = span * width
            pos = np.searchsorted(uniq, node)                  # row of each point's node
            wn = vals_w[pos]
            hn = None if vals_h is None else vals_h[pos]
            u = us[active]
            ends = u >= a + width
            done = ends | (level >= self.depth)
            if done.any():
                rows = active[done]
                xt = np.where(ends, 1.0, (u - a) / width)[done].reshape(bshape)
                wd = wn[done]
                if levy:
                    hd = hn[done]
                    poly = (xt * xt * 0.5 * wd + (3 * xt * xt - 2 * xt ** 3) * hd) * h
                    I[rows] = I[rows] + poly + P[rows] * (xt * h)
                    P[rows] = P[rows] + wd * xt + hd * (6 * xt * (1 - xt))
                else:
                    P[rows] = P[rows] + wd * xt
            keep = ~done
            if not keep.any():
                break
            active, node, a, u = active[keep], node[keep], a[keep], u[keep]
            uniq_next = np.unique(node)
            pos = np.searchsorted(uniq, uniq_next)
            wl, hl, wr, hr = self._split(uniq_next, vals_w[pos],
                                         None if vals_h is None else vals_h[pos], h)
            row = np.searchsorted(uniq_next, node)
            mid = a + width * 0.5
            right = u > mid
            if right.any():
                rows, src = active[right], row[right]
                if levy:
                    I[rows] = I[rows] + (hl[src] + wl[src] * 0.5) * (0.5 * h) \
                        + P[rows] * (0.5 * h)
                P[rows] = P[rows] + wl[src]
            node = np.where(right, 2 * node + 1, 2 * node)
            a = np.where(right, mid, a)
            uniq = np.concatenate([2 * uniq_next, 2 * uniq_next + 1])
            order = np.argsort(uniq)
            uniq = uniq[order]
            vals_w = np.concatenate([wl, wr])[order]
            vals_h = None if hl is None else np.concatenate([hl, hr])[order]
            level += 1
        return P, I

    def _memo(self, u: float) -> tuple:
        """:meth:`_point` at ``u`` through the memo of the last query points."""
        last = self._last
        got = last.get(u)
        if got is None:
            got = last[u] = self._point(u)
        else:
            last.move_to_end(u)
        return got

    def _out(self, v: np.ndarray | float) -> torch.Tensor:
        """A float64 host value as a ``dtype`` tensor on ``device`` (a float: ``shape``). ``v``
        must be a fresh array (the result may share its memory)."""
        if not isinstance(v, np.ndarray):
            v = np.full(self.shape, float(v))
        if self._np_dtype is not None:          # CPU float32/float64: NumPy's cast is cheaper
            return torch.from_numpy(np.ascontiguousarray(v, dtype=self._np_dtype))
        return torch.from_numpy(np.ascontiguousarray(v)).to(device=self.device,
                                                            dtype=self.dtype)

    # ------------------------------------------------------------------ queries
    def _u(self, t: float, name: str) -> float:
        if t < self.t0 or t > self.t1:
            raise ValueError(
                f"{name}={t!r} is outside the Brownian interval [t0, t1] = [{self.t0!r}, "
                f"{self.t1!r}]; build the BrownianInterval over the whole solve interval."
            )
        return (t - self.t0) / (self.t1 - self.t0)

    def __call__(self, s: float, t: float, *, return_U: bool = False,  # noqa: N803
                 ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``W(t) - W(s)`` of shape ``shape``; with ``return_U`` also
        ``dZ = ∫_s^t (W(u) - W(s)) du`` (needs ``levy_area="space-time"``; torchsde's ``U``).

        Raises:
            ValueError: ``s >= t``, a time outside ``[t0, t1]``, or ``return_U`` without Lévy
                area.
        """
        if type(s) is not float or type(t) is not float:   # noqa: E721 (fast path: floats)
            s, t = _as_time(s, "s"), _as_time(t, "t")
        if not s < t:
            if s != s or t != t or s in _INF or t in _INF:
                s, t = _as_time(s, "s"), _as_time(t, "t")          # raises: not finite
            raise ValueError(f"need s < t for the increment W(s, t); got s={s!r}, t={t!r}. "
                             "Swap them (W(t, s) = -W(s, t)).")
        t0 = self.t0
        if s < t0 or t > self.t1 or s in _INF or t in _INF:     # raises, naming the time
            self._u(_as_time(s, "s"), "s")
            self._u(_as_time(t, "t"), "t")
        us, ut = (s - t0) / self._span, (t - t0) / self._span
        if return_U and self.levy_area is None:
            raise ValueError("return_U needs the Lévy area: build the BrownianInterval with "
                             "levy_area='space-time'")
        last = self._last
        ps, i_s = self._memo(us)
        pt, i_t = self._memo(ut)
        while len(last) > _MEMO_POINTS:
            last.popitem(last=False)
        dw = self._out(pt - ps)
        if not return_U:
            return dw
        return dw, self._out((i_t - i_s) - (t - s) * ps)

    def increments(self, ts: torch.Tensor | Sequence[float] | np.ndarray
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Increments on the grid ``ts`` ``(n+1,)`` (strictly increasing, inside ``[t0, t1]``),
        vectorised: ``dW (n, *shape)`` and ``dZ (n, *shape)`` (``None`` without Lévy area).
        Equal to ``[bm(ts[k], ts[k+1]) for k ...]`` up to rounding (same tree)."""
        grid = _grid_floats(ts, "ts")
        if grid[0] < self.t0 or grid[-1] > self.t1:
            bad = grid[0] if grid[0] < self.t0 else grid[-1]
            raise ValueError(
                f"ts: time {float(bad)!r} is outside the Brownian interval [t0, t1] = "
                f"[{self.t0!r}, {self.t1!r}]; build the BrownianInterval over the whole "
                "solve interval."
            )
        us = np.clip((grid - self.t0) / (self.t1 - self.t0), 0.0, 1.0)
        # Points in chunks of about 2^22 numbers, so the per-level work arrays stay small
        # whatever the grid (each point's arithmetic does not depend on the other points).
        chunk = max(1, _CHUNK_NUMBERS // self._numel)
        parts = [self._points(us[i:i + chunk]) for i in range(0, us.size, chunk)]
        P = parts[0][0] if len(parts) == 1 else np.concatenate([q[0] for q in parts])
        I = None if parts[0][1] is None else (
            parts[0][1] if len(parts) == 1 else np.concatenate([q[1] for q in parts]))
        dw = self._out(P[1:] - P[:-1])                                  # (n, *shape)
        if I is None:
            return dw, None
        span = np.diff(grid).reshape((-1,) + (1,) * len(self.shape))   # (n, 1, ...)
        return dw, self._out(I[1:] - I[:-1] - span * P[:-1])

    def restrict(self, ts: torch.Tensor | Sequence[float] | np.ndarray) -> BrownianIncrements:
        """The path on the grid ``ts`` as :class:`BrownianIncrements` (``shape`` must be
        ``(batch, m)``): how :func:`~kexue.stochastic.solve` consumes it."""
        if len(self.shape) != 2:
            raise ValueError(f"restrict needs shape (batch, m); this BrownianInterval has shape "
                             f"{self.shape}. Build it with shape=(batch, m).")
        dw, dz = self.increments(ts)
        return BrownianIncrements(_grid_floats(ts, "ts"), dw, dz)

    @property
    def cache_len(self) -> int:
        """Nodes currently cached (``<= cache_size``)."""
        return len(self._cache)

    @property
    def held_nbytes(self) -> int:
        """Bytes of path values the object holds (root, the normals blocks referenced by the
        cache, the last query points, the last path's normals): at most
        ``2 + 2 depth (cache_size + 1) + 18`` rows of ``prod(shape)`` float64, whatever the number
        of queries (arrays shared between these are counted once)."""
        arrays = [*self._root, *(entry[0] for entry in self._cache.values()),
                  *(v for vals in self._last.values() for v in vals), self._m]
        unique = {id(v): v for v in arrays if isinstance(v, np.ndarray)}
        return sum(v.nbytes for v in unique.values())

    def __repr__(self) -> str:
        return (f"BrownianInterval(t0={self.t0!r}, t1={self.t1!r}, shape={self.shape}, "
                f"seed={self.seed}, levy_area={self.levy_area!r}, depth={self.depth}, "
                f"dtype={self.dtype}, device={self.device})")
