"""The empirical score: the exact score of a finite training set smoothed by the forward kernel.

kexue.fm 9209 ("Generative diffusion models (5): the SDE framework") writes the marginal score as
the posterior-weighted mean of the conditional scores before introducing a network; for the
empirical data law ``p̂_0 = (1/n) Σ_i δ(x − x_i)`` it is available in closed form. With the kernel
``x_t = ᾱ_t x_0 + β̄_t ε`` (write ``a = ᾱ_t``, ``s = β̄_t``)

    p̂_t(x) = (1/n) Σ_i N(x; a x_i, s² I),
    ∇ log p̂_t(x) = (a D̂(x) − x)/s²,      D̂(x) = Σ_i w_i(x) x_i,
    w_i(x) = softmax_i(−‖x − a x_i‖²/(2 s²))                   (posterior over training points),

so Tweedie's denoiser ``D̂`` is a convex combination of training points that tends to the
nearest one as ``t → 0``. It is the minimiser of the denoising score-matching loss over *all*
functions on this training set, which is why sampling with it reproduces training points
(memorisation) and a useful learned score must generalise instead (see the experiment
``diffusion-memorise``). Distances use ``‖x‖² − 2a x·x_i + a²‖x_i‖²`` (one matrix product) in
float64.
"""

from __future__ import annotations

import math

import torch

from ._sde import GaussianPathSDE

__all__ = ["EmpiricalScore", "empirical_score"]

_F64 = torch.float64


class EmpiricalScore:
    """``score_fn(x, t) = ∇_x log p̂_t(x)`` of a training set under a diffusion SDE (kexue.fm
    9209): a mixture of ``n`` Gaussians ``N(ᾱ_t x_i, β̄_t² I)`` with equal weights.

    Args:
        data: training set ``(n, *shape)`` (flat ``(n, D)`` or images ``(n, C, H, W)``),
            finite floating point.
        sde: the forward :class:`GaussianPathSDE`.

    Methods take ``x (batch, *shape)`` and ``t`` a float, 0-d or ``(batch,)`` tensor with
    ``β̄_t > 0`` (``t > 0`` for VP/sub-VP); the computation is float64 on ``x``'s device (the
    data are copied there once and cached) and results come back in ``x``'s dtype.
    ``batch_rows`` bounds the ``(rows, n)`` distance matrix held at once.
    """

    def __init__(self, data: torch.Tensor, sde: GaussianPathSDE, *, batch_rows: int = 512) -> None:
        if not isinstance(sde, GaussianPathSDE):
            raise TypeError(f"sde must be a GaussianPathSDE (VPSDE, VESDE, …); got "
                            f"{type(sde).__name__}")
        if not isinstance(data, torch.Tensor) or not data.is_floating_point():
            raise TypeError(f"data must be a floating-point tensor (n, *shape); got "
                            f"{type(data).__name__}"
                            + (f" of dtype {data.dtype}" if isinstance(data, torch.Tensor) else ""))
        if data.ndim < 2 or data.shape[0] < 1 or data[0].numel() < 1:
            raise ValueError(f"data must have shape (n, *shape) with n >= 1 training points, e.g. "
                             f"(n, D) or (n, C, H, W); got {tuple(data.shape)}")
        if not bool(torch.isfinite(data).all()):
            raise ValueError("data must be finite (it has NaN or inf entries)")
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise ValueError(f"batch_rows must be a positive int; got {batch_rows!r}")
        self.sde = sde
        self.shape = tuple(data.shape[1:])
        self.n = int(data.shape[0])
        self.dim = math.prod(self.shape)
        self.batch_rows = batch_rows
        flat = data.detach().reshape(self.n, self.dim).to(_F64)
        self._cache: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {
            flat.device: (flat, (flat * flat).sum(1))}

    # ------------------------------------------------------------------------------ internals
    def _data(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._cache:
            flat = next(iter(self._cache.values()))[0].to(device)
            self._cache[device] = (flat, (flat * flat).sum(1))
        return self._cache[device]

    def _check(self, x: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` flat float64 ``(B, D)`` and ``a, s`` as ``(B|1, 1)`` float64 on ``x``'s device."""
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x must be a floating-point tensor (batch, *shape); got "
                            f"{type(x).__name__}")
        if x.ndim < 1 or tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"x must have shape (batch, *{self.shape}) like the training data; "
                             f"got {tuple(x.shape)}")
        batch = x.shape[0]
        a, s = self.sde.marginal(t)
        a = a.to(device=x.device, dtype=_F64).reshape(-1, 1)
        s = s.to(device=x.device, dtype=_F64).reshape(-1, 1)
        if a.shape[0] not in (1, batch):
            raise ValueError(f"t must be a scalar or have shape (batch,) = ({batch},); got "
                             f"{a.shape[0]} times")
        if not bool((s > 0).all()):
            raise ValueError("the empirical score is singular where the kernel std β̄_t = 0 "
                             "(t = 0 for VP/sub-VP); evaluate it at t > 0, e.g. t_end = 1e-3")
        return x.detach().reshape(batch, self.dim).to(_F64), a, s

    def _logits(self, xf: torch.Tensor, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``−‖x − a x_i‖²/(2s²)``: ``(B, n)``."""
        data, sq = self._data(xf.device)
        d2 = (xf * xf).sum(1, keepdim=True) - (2.0 * a) * (xf @ data.T) + (a * a) * sq[None]
        return -d2.clamp_min(0.0) / (2.0 * s * s)                               # (B, n)

    def _rows(self, x: torch.Tensor, t, fn) -> torch.Tensor:
        xf, a, s = self._check(x, t)
        outs = []
        for lo in range(0, xf.shape[0], self.batch_rows):
            hi = lo + self.batch_rows
            outs.append(fn(xf[lo:hi], a[lo:hi] if a.shape[0] > 1 else a,
                           s[lo:hi] if s.shape[0] > 1 else s))
        return torch.cat(outs) if outs else xf.new_zeros((0,))

    # -------------------------------------------------------------------------------- public
    def weights(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """Posterior probabilities ``w_i(x)`` of the training points: ``(batch, n)``."""
        return self._rows(x, t, lambda xf, a, s: torch.softmax(self._logits(xf, a, s), 1)
                          ).to(x.dtype)

    def denoise(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """Tweedie's ``D̂(x) = E[x_0 | x_t = x] = Σ_i w_i x_i``: ``(batch, *shape)``."""
        def fn(xf, a, s):
            return torch.softmax(self._logits(xf, a, s), 1) @ self._data(xf.device)[0]
        return self._rows(x, t, fn).reshape(x.shape).to(x.dtype)

    def __call__(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """``∇_x log p̂_t(x) = (a D̂(x) − x)/s²``: ``(batch, *shape)``."""
        def fn(xf, a, s):
            D = torch.softmax(self._logits(xf, a, s), 1) @ self._data(xf.device)[0]
            return (a * D - xf) / (s * s)
        return self._rows(x, t, fn).reshape(x.shape).to(x.dtype)

    def log_prob(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """``log p̂_t(x) = logsumexp_i(−‖x − a x_i‖²/(2s²)) − log n − (D/2) log(2π s²)``:
        ``(batch,)``."""
        def fn(xf, a, s):
            lse = torch.logsumexp(self._logits(xf, a, s), 1)
            return lse - math.log(self.n) - 0.5 * self.dim * torch.log(2 * math.pi * s[:, 0] ** 2)
        return self._rows(x, t, fn).to(x.dtype)

    def nearest(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Distance to the nearest training point and its index: ``(batch,)`` each."""
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"x must have shape (batch, *{self.shape}); got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)}")
        return nearest_distance(x, next(iter(self._cache.values()))[0].reshape(-1, *self.shape))

    def __repr__(self) -> str:
        return f"EmpiricalScore(n={self.n}, shape={self.shape}, sde={self.sde!r})"


def empirical_score(data: torch.Tensor, sde: GaussianPathSDE, *,
                    batch_rows: int = 512) -> EmpiricalScore:
    """The exact score of the training set ``data (n, *shape)`` smoothed by ``sde``'s kernel —
    the non-learned "empirical score" of kexue.fm 9209 — as a ``score_fn(x, t)`` for
    :func:`kexue.diffusion.sample` (see :class:`EmpiricalScore` for the formula and methods).

    Raises:
        TypeError: ``data`` not a floating tensor, ``sde`` not a :class:`GaussianPathSDE`.
        ValueError: ``data`` without a batch dimension or empty, not finite; and, when called,
            ``x`` of another shape than the data or a ``t`` with ``β̄_t = 0``.
    """
    return EmpiricalScore(data, sde, batch_rows=batch_rows)


def nearest_distance(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean distance from each row of ``x (batch, *shape)`` to its nearest row of
    ``ref (m, *shape)`` (over all non-batch dimensions), float64: ``(dist (batch,), index
    (batch,))``. Rows of ``x`` are processed in blocks of 1024.

    Source: the memorisation check of the empirical score (kexue.fm archive 9209).
    """
    if not isinstance(x, torch.Tensor) or not isinstance(ref, torch.Tensor):
        raise TypeError("x and ref must be tensors (batch, *shape) and (m, *shape)")
    if x.shape[1:] != ref.shape[1:] or ref.shape[0] < 1:
        raise ValueError(f"x {tuple(x.shape)} and ref {tuple(ref.shape)} must share the sample "
                         f"shape, with ref non-empty")
    xf = x.detach().reshape(x.shape[0], -1).to(_F64)
    rf = ref.detach().reshape(ref.shape[0], -1).to(device=xf.device, dtype=_F64)
    dists, idx = [], []
    for lo in range(0, xf.shape[0], 1024):
        d = torch.cdist(xf[lo:lo + 1024], rf,                               # (b, m)
                         compute_mode="donot_use_mm_for_euclid_dist")
        v, i = d.min(1)
        dists.append(v)
        idx.append(i)
    if not dists:
        return xf.new_zeros(0), torch.zeros(0, dtype=torch.long, device=xf.device)
    return torch.cat(dists), torch.cat(idx)
