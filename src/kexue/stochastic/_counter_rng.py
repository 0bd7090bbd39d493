"""Counter-based standard normals: a pure function of ``(key, node, stream)``.

The randomness of :class:`~kexue.stochastic.BrownianInterval` (and of the adjoint's noise
replay): SplitMix64's finaliser (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
generators", OOPSLA) applied to a Weyl sequence keyed by ``(seed, node, stream)``, computed with
NumPy's wrapping ``uint64`` arithmetic, then Box–Muller (Box & Muller 1958). Float64 on the host;
the same numbers for any order of calls, any cache, any device.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["counter_normals"]


_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_ONE_BITS = _U64(0x3FF0000000000000)       # exponent bits of 1.0
_MASK = (1 << 64) - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15


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
    return _counter_rows(key, [4 * int(v) + stream + 1 for v in nodes.tolist()], n)


def _counter_rows(key: np.uint64, counters: list[int], n: int) -> np.ndarray:
    """:func:`counter_normals` for the node counters ``4 node + stream + 1`` (Python ints; any
    mix of nodes and streams in one call): ``(len(counters), n)`` float64."""
    if len(counters) <= 4:                               # few rows: node keys as Python ints
        k0 = int(key)
        node_key = np.array([[_mix_int((k0 + c * _GOLDEN_INT) & _MASK)] for c in counters],
                            dtype=_U64)
    else:
        c = np.array(counters, dtype=_U64).reshape(-1, 1)                 # (k, 1)
        node_key = _mix(key + c * _GOLDEN)                                 # (k, 1)
    half = (n + 1) // 2
    ctr = _CTR.get(half)
    if ctr is None:
        ctr = np.arange(1, 2 * half + 1, dtype=_U64) * _GOLDEN          # (2 half,)
        if half <= 1 << 16:
            _CTR[half] = ctr
    z = node_key + ctr                                                   # (k, 2 half)
    z ^= z >> _U64(30)                                                   # _mix, in place
    z *= _M1
    z ^= z >> _U64(27)
    z *= _M2
    z ^= z >> _U64(31)
    z >>= _U64(12)
    z |= _ONE_BITS
    f = z.view(np.float64)                                               # [1, 2), 52 bits
    r = np.subtract(2.0, f[:, :half])                # u1 = 2 - f ∈ (0, 1]; contiguous (k, half)
    np.log(r, out=r)
    r *= -2.0
    np.sqrt(r, out=r)
    theta = np.subtract(f[:, half:], 1.0)                                # u2 = f - 1 ∈ [0, 1)
    theta *= 2.0 * math.pi
    out = np.empty((z.shape[0], 2 * half))
    np.multiply(r, np.cos(theta), out=out[:, :half])
    np.multiply(r, np.sin(theta), out=out[:, half:])
    return out[:, :n]
