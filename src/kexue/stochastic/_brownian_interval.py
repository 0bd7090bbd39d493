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
``tol/4`` — choose ``tol`` well below the step size (diffrax's advice: ``tol <= dt/2``). A
bounded LRU cache (``cache_size`` nodes) keeps the children of recently visited nodes, so a
sequence of nearby queries (a solver's steps) draws about two nodes per query; evicted nodes are
recomputed identically, so memory stays ``O((cache_size + depth) × prod(shape))`` for any
number of queries. A query resumes from the deepest node of the previous one that contains it.

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

__all__ = ["BrownianInterval", "LEVY_AREAS"]

LEVY_AREAS = (None, "space-time")

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_ONE_BITS = _U64(0x3FF0000000000000)       # exponent bits of 1.0
_MASK = (1 << 64) - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15
_MAX_DEPTH = 50   # dyadic times of depth <= 50 are exact in float64 on [0, 1]
_CHUNK_NUMBERS = 1 << 22   # grid points × prod(shape) per vectorised descent in increments()


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a ``uint64`` array (wrapping arithmetic mod 2^64)."""
    z = (z ^ (z >> _U64(30))) * _M1
    z = (z ^ (z >> _U64(27))) * _M2
    return z ^ (z >> _U64(31))


def _tree_key(seed: int) -> np.uint64:
    return _mix(np.array([seed % (1 << 64)], dtype=_U64) ^ _U64(0x5851F42D4C957F2D))[0]


_CTR: dict[int, np.ndarray] = {}


def _mix_int(z: int) -> int:
    """:func:`_mix` on one Python int (exact arithmetic mod 2^64)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def counter_normals(key: np.uint64, nodes: np.ndarray, stream: int, n: int) -> np.ndarray:
    """Standard normals ``(len(nodes), n)`` float64, a pure function of ``(key, node, stream)``.

    Node key ``k = mix(key + (4 node + stream + 1) φ)``, bits ``b_e = mix(k + (e + 1) φ)``
    (``φ`` the 64-bit golden ratio; SplitMix64, all mod 2^64), 52-bit uniforms from the top
    bits (``u1 ∈ (0, 1]``, ``u2 ∈ [0, 1)`` for the two halves of ``b``), Box–Muller.
    """
    nodes = np.asarray(nodes).reshape(-1)
    if nodes.size == 1:                                  # the per-query path: Python ints
        nk = _mix_int((int(key) + (4 * int(nodes[0]) + stream + 1) * _GOLDEN_INT) & _MASK)
        node_key = np.array([[nk]], dtype=_U64)
    else:
        nodes = nodes.astype(_U64).reshape(-1, 1)                        # (k, 1)
        node_key = _mix(key + (nodes * _U64(4) + _U64(stream + 1)) * _GOLDEN)  # (k, 1)
    half = (n + 1) // 2
    ctr = _CTR.get(half)
    if ctr is None:
        ctr = np.arange(1, 2 * half + 1, dtype=_U64) * _GOLDEN          # (2 half,)
        if half <= 1 << 16:
            _CTR[half] = ctr
    bits = _mix(node_key + ctr)                                          # (k, 2 half)
    f = ((bits >> _U64(12)) | _ONE_BITS).view(np.float64)               # [1, 2), 52 bits
    r = np.sqrt(-2.0 * np.log(2.0 - f[:, :half]))                        # u1 = 2 - f ∈ (0, 1]
    theta = (f[:, half:] - 1.0) * (2.0 * math.pi)                        # u2 = f - 1 ∈ [0, 1)
    out = np.empty((bits.shape[0], 2 * half))
    np.multiply(r, np.cos(theta), out=out[:, :half])
    np.multiply(r, np.sin(theta), out=out[:, half:])
    return out[:, :n]


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
        cache_size: number of nodes whose children are kept (LRU); the object holds at most
            ``(4 cache_size + 6 depth + 6) × prod(shape) × 8`` bytes of path values
            (:attr:`held_nbytes`), whatever the number of queries.

    Raises:
        TypeError / ValueError: non-finite or unordered ``t0, t1``; a bad ``shape``; both
            ``seed`` and ``generator``; unknown ``levy_area``; ``tol`` not in ``(0, t1 - t0]``;
            ``cache_size < 1``.
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
        self._last: dict[float, tuple] = {}            # the last two query points' values
        self._pending: dict[int, tuple] = {}           # prefetched normals of one descent
        self._stack: list[tuple] = []                  # the last descent's states (<= depth)
        w = self._normals(np.array([0]), 0)[0] * math.sqrt(span)
        h = self._normals(np.array([0]), 1)[0] * math.sqrt(span / 12) if levy_area else None
        self._root = (w, h)

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

    def _prefetch(self, node: int, level: int, a: float, u: float) -> None:
        """Draw, in one vectorised call per stream, the normals of every uncached node on the
        way from ``node`` (at ``level``, left end ``a``) down to ``u``: a cache miss usually
        means the rest of the path is missing too."""
        nodes = []
        while level < self.depth:
            width = 2.0 ** -level
            if u >= a + width:
                break
            if node not in self._cache:
                nodes.append(node)
            mid = a + width * 0.5
            if u <= mid:
                node = 2 * node
            else:
                node, a = 2 * node + 1, mid
            level += 1
        if not nodes:
            return
        ids = np.array(nodes, dtype=np.int64)
        z1 = self._normals(ids, 0)
        z2 = self._normals(ids, 1) if self.levy_area is not None else None
        for i, n in enumerate(nodes):
            self._pending[n] = (z1[i:i + 1], None if z2 is None else z2[i:i + 1])

    def _children(self, node: int, w: np.ndarray, hh: np.ndarray | None, h: float,
                  level: int, a: float, u: float):
        cache = self._cache
        got = cache.get(node)
        if got is not None:
            cache.move_to_end(node)
            return got
        z = self._pending.pop(node, None)
        if z is None:
            self._pending.clear()
            self._prefetch(node, level, a, u)
            z = self._pending.pop(node)
        wl, hl, wr, hr = self._split(np.array([node]), w[None], None if hh is None else hh[None],
                                     h, z)
        got = (wl[0], None if hl is None else hl[0], wr[0], None if hr is None else hr[0])
        cache[node] = got
        if len(cache) > self.cache_size:
            cache.popitem(last=False)
        return got

    def _point(self, u: float) -> tuple[np.ndarray | float, np.ndarray | float]:
        """``(W(t) - W(t0), ∫_{t0}^t (W - W(t0)) du)`` at ``t = t0 + u (t1 - t0)``, float64
        ``shape`` (the integral is 0.0 without Lévy area)."""
        p: np.ndarray | float = 0.0
        integ: np.ndarray | float = 0.0
        if u <= 0.0:
            return p, integ
        span, levy = self.t1 - self.t0, self.levy_area is not None
        # Resume from the deepest node of the previous descent with u strictly inside it
        # (a < u < a + width): exactly the nodes a descent from the root passes through before
        # stopping, so the same states and the same numbers, without walking the shared upper
        # levels again.
        stack = self._stack
        while stack:
            node, level, a, p, integ, w, hh = stack[-1]
            if a < u < a + 2.0 ** -level:
                break
            stack.pop()
        else:
            node, level, a = 1, 0, 0.0
            w, hh = self._root
        self._pending.clear()
        while True:
            width = 2.0 ** -level
            h = span * width
            if u >= a + width:                                 # the node ends at u
                if levy:
                    integ = integ + (hh + w * 0.5) * h + p * h
                return p + w, integ
            if level >= self.depth:                            # inside a leaf: cond. mean
                x = (u - a) / width
                if levy:
                    integ = integ + (w * (0.5 * x * x) + hh * (3 * x * x - 2 * x ** 3)) * h \
                        + p * (x * h)
                    return p + w * x + hh * (6 * x * (1 - x)), integ
                return p + w * x, integ
            if not stack or stack[-1][0] != node:
                stack.append((node, level, a, p, integ, w, hh))
            wl, hl, wr, hr = self._children(node, w, hh, h, level, a, u)
            mid = a + width * 0.5
            if u <= mid:
                node, w, hh = 2 * node, wl, hl
            else:
                if levy:
                    integ = integ + (hl + wl * 0.5) * (0.5 * h) + p * (0.5 * h)
                p = p + wl
                node, w, hh, a = 2 * node + 1, wr, hr, mid
            level += 1

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

    def _out(self, v: np.ndarray | float) -> torch.Tensor:
        """A float64 host value as a ``dtype`` tensor on ``device`` (a float: ``shape``)."""
        if not isinstance(v, np.ndarray):
            v = np.full(self.shape, float(v))
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
        s, t = _as_time(s, "s"), _as_time(t, "t")
        if not s < t:
            raise ValueError(f"need s < t for the increment W(s, t); got s={s!r}, t={t!r}. "
                             "Swap them (W(t, s) = -W(s, t)).")
        us, ut = self._u(s, "s"), self._u(t, "t")
        if return_U and self.levy_area is None:
            raise ValueError("return_U needs the Lévy area: build the BrownianInterval with "
                             "levy_area='space-time'")
        last = self._last
        ps, i_s = last.get(us) or self._point(us)
        pt, i_t = last.get(ut) or self._point(ut)
        self._last = {us: (ps, i_s), ut: (pt, i_t)}
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
        """Bytes of path values the object holds (root, cache, last query points, prefetched
        normals, the last descent): at most ``2 + 4 cache_size + 4 + 6 depth`` arrays of
        ``prod(shape)`` float64, whatever the number of queries (arrays shared between these
        are counted once)."""
        arrays = [*self._root, *(v for vals in self._cache.values() for v in vals),
                  *(v for vals in self._last.values() for v in vals),
                  *(v for vals in self._pending.values() for v in vals),
                  *(v for st in self._stack for v in st[3:])]
        unique = {id(v): v for v in arrays if isinstance(v, np.ndarray)}
        return sum(v.nbytes for v in unique.values())

    def __repr__(self) -> str:
        return (f"BrownianInterval(t0={self.t0!r}, t1={self.t1!r}, shape={self.shape}, "
                f"seed={self.seed}, levy_area={self.levy_area!r}, depth={self.depth}, "
                f"dtype={self.dtype}, device={self.device})")
