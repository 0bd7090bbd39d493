"""Exact likelihoods through the probability-flow ODE (instantaneous change of variables).

Along the probability-flow ODE ``dx/dt = v_t(x) = f_t x − ½ g_t² ∇log p_t(x)`` (kexue.fm 9228)
the density obeys ``d log p_t(x_t)/dt = −∇·v_t(x_t)`` (Chen et al. 2018, arXiv:1806.07366), so
integrating from the data end ``t_end`` to ``T``:

    log p_{t_end}(x) = log p_T(x_T) + ∫_{t_end}^T ∇·v_t(x_t) dt        (Song et al. 2021, eq. 39)

The direction is data → noise: ``x`` is the sample at ``t_end ≈ 0``, ``x_T`` its latent code, and
``log p_T`` the prior's log-density (``sde.prior_logp`` unless overridden). The ODE is solved
with the log-SNR ``λ`` as independent variable (see :func:`kexue.diffusion.pf_ode_lambda`), where
``∇·v_λ = β̄² ∇·S − (2β̄² f/g²) D``. The divergence of the score is computed exactly
(``D`` vector–Jacobian products per evaluation; small ``D``) or by the Hutchinson–Skilling
estimator ``E[zᵀ (∂S/∂x) z]`` with probes fixed for the whole solve (Rademacher or Gaussian;
Grathwohl et al. 2019, arXiv:1810.01367), which is unbiased and whose spread falls like
``1/√n_probes``.

Over a data set, ``block_size`` cuts the rows into fixed blocks, each solved on its own with its
randomness (probes, dequantisation) from :func:`kexue.rng.block_generator` ``(seed, b)``; inside
a process group each rank solves its blocks and the per-row results are all-gathered in block
order (:mod:`kexue.parallel`), so the values are bit-identical for any number of processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import parallel
from ..rng import as_generator, block_generator
from ._blocks import gather_rows
from ._checks import check_score_and_sde, check_states
from ._sampling_core import ScoreFn
from ._sampling_core import check_float as _check_float
from ._sde import GaussianPathSDE

__all__ = ["log_likelihood", "bits_per_dim", "DIVERGENCES", "PROBES"]

DIVERGENCES = ("exact", "hutchinson")
PROBES = ("rademacher", "gaussian")


def log_likelihood(score_fn: ScoreFn, sde: GaussianPathSDE, x: torch.Tensor, *,
                   divergence: str = "exact", n_probes: int = 1, probe: str = "rademacher",
                   rtol: float = 1e-5, atol: float = 1e-5, t_end: float = 1e-5,
                   prior_logp: Callable[[torch.Tensor], torch.Tensor] | None = None,
                   generator: torch.Generator | int | None = None,
                   block_size: int | None = None,
                   ) -> tuple[torch.Tensor, dict[str, Any]]:
    """``log p_{t_end}(x)`` by the probability-flow ODE (Song et al. 2021, §D.2; Chen et al.
    2018): Dormand–Prince (torchdiffeq ``dopri5``) on ``(x, ∫∇·v)`` from ``t_end`` to ``T``.

    Args:
        score_fn: ``score_fn(x, t) -> ∇_x log p_t(x)``, ``x (batch, *shape)``, ``t (batch,)``.
        sde: the forward :class:`GaussianPathSDE`.
        x: data ``(batch, *shape)``, read as the state at ``t_end``.
        divergence: ``"exact"`` (``D`` backward passes per evaluation) or ``"hutchinson"``.
        n_probes: Hutchinson probes per sample (fixed for the whole solve; the estimate is
            their mean).
        probe: ``"rademacher"`` (±1) or ``"gaussian"``.
        rtol, atol: tolerances of the adaptive solver (score_sde uses 1e-5).
        t_end: the data end of the integration, ``0 < t_end < T`` (score_sde: 1e-5).
        prior_logp: ``z (batch, *shape) -> (batch,)``, the log-density at ``T``; default
            ``sde.prior_logp`` (pass the exact ``p_T`` to remove the prior mismatch in tests).
        generator: for the Hutchinson probes, following :mod:`kexue.rng`: a
            ``torch.Generator`` on ``x``'s device, an int seed, or ``None`` (PyTorch's default
            generator). With ``block_size`` it gives the seed of the block generators (an int
            is used as it is; see :func:`kexue.rng.seed_from`).
        block_size: ``None`` — one solve for the whole batch, here. An int — rows cut into
            blocks of ``block_size``, each solved on its own (its own adaptive steps) with its
            probes from :func:`kexue.rng.block_generator` ``(seed, b)``, shared across the
            process group if there is one and gathered in block order: the same values for any
            number of processes (on one kind of device and thread count).

    Returns:
        ``(logp, info)``: ``logp (batch,)`` in nats; ``info`` has ``"nfe"`` (score
        evaluations, summed over blocks), ``"prior_logp" (batch,)``, ``"delta_logp" (batch,)``
        (the divergence integral), ``"z" (batch, *shape)`` (the latent codes), ``"rtol"``,
        ``"atol"``, ``"t_end"``, ``"divergence"``, ``"n_probes"``; with ``block_size`` also
        ``"nfe_per_block"``, ``"block_size"``, ``"seed"``, ``"world_size"``.

    Raises:
        TypeError: bad ``score_fn``/``sde``/``x`` types.
        ValueError: unknown ``divergence``/``probe`` (listing the valid ones), ``n_probes < 1``,
            ``t_end`` outside ``(0, T)``, non-finite ``x``, a score of the wrong shape or
            non-finite (the message gives ``t``), ``block_size`` not a positive int, more
            processes than blocks.
    """
    check_score_and_sde(score_fn, sde)
    check_states(x, "x")
    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}; valid: {', '.join(DIVERGENCES)}")
    if probe not in PROBES:
        raise ValueError(f"unknown probe {probe!r}; valid: {', '.join(PROBES)}")
    if isinstance(n_probes, bool) or not isinstance(n_probes, int) or n_probes < 1:
        raise ValueError(f"n_probes must be an int >= 1; got {n_probes!r}")
    rtol = _check_float("rtol", rtol, positive=True)
    atol = _check_float("atol", atol, positive=True)
    t_end = _check_float("t_end", t_end)
    if not (0.0 < t_end < sde.T):
        raise ValueError(f"t_end must lie in (0, T) = (0, {sde.T:g}); got {t_end:g}. "
                         "Use a small positive time such as 1e-5.")
    prior = sde.prior_logp if prior_logp is None else prior_logp
    if not callable(prior):
        raise TypeError("prior_logp must be None or a callable z -> (batch,)")
    opts = dict(divergence=divergence, n_probes=n_probes, probe=probe, rtol=rtol, atol=atol,
                t_end=t_end, prior=prior)
    if block_size is None:
        gen = as_generator(generator, device=x.device) if divergence == "hutchinson" else None
        return _log_likelihood(score_fn, sde, x, gen, **opts)
    parallel.check_block_size(block_size)
    base = parallel.shared_seed(generator)
    return _blocked(lambda b, xb: _log_likelihood(
        score_fn, sde, xb, block_generator(base, b, device=x.device), **opts),
        x, block_size, base)


def _blocked(solve: Callable[[int, torch.Tensor], tuple[torch.Tensor, dict[str, Any]]],
             x: torch.Tensor, block_size: int, seed: int,
             ) -> tuple[torch.Tensor, dict[str, Any]]:
    """``solve(b, x[lo:hi])`` per block across the process group; the per-row ``logp``,
    ``prior_logp``, ``delta_logp`` and ``z`` gathered in block order."""
    n, shape = x.shape[0], tuple(x.shape[1:])
    D = math.prod(shape)
    keep: dict[str, Any] = {}

    def block(b: int, lo: int, hi: int) -> tuple[torch.Tensor, int]:
        out, info = solve(b, x[lo:hi])
        keep.update(info)
        cols = torch.stack([out, info["prior_logp"], info["delta_logp"]], 1)   # (rows, 3)
        return torch.cat([cols, info["z"].reshape(hi - lo, D)], 1), info["nfe"]

    rows, nfes = gather_rows(block, n, block_size)      # (n, 3 + D)
    info = {key: keep[key] for key in ("rtol", "atol", "t_end", "divergence", "n_probes")
            if key in keep}
    info.update({"nfe": sum(nfes), "prior_logp": rows[:, 1], "delta_logp": rows[:, 2],
                 "z": rows[:, 3:].reshape(n, *shape), "nfe_per_block": nfes,
                 "block_size": block_size, "seed": seed, "world_size": parallel.world_size()})
    return rows[:, 0], info


def _log_likelihood(score_fn: ScoreFn, sde: GaussianPathSDE, x: torch.Tensor,
                    gen: torch.Generator | None, *, divergence: str, n_probes: int, probe: str,
                    rtol: float, atol: float, t_end: float,
                    prior: Callable[[torch.Tensor], torch.Tensor],
                    ) -> tuple[torch.Tensor, dict[str, Any]]:
    """One PF-ODE solve for the batch ``x`` (arguments checked by :func:`log_likelihood`)."""
    from torchdiffeq import odeint

    batch, shape = x.shape[0], tuple(x.shape[1:])
    D = math.prod(shape)
    probes = None
    if divergence == "hutchinson":
        if probe == "rademacher":
            probes = torch.randint(0, 2, (n_probes, batch, *shape), generator=gen,
                                   device=x.device).to(x.dtype) * 2 - 1
        else:
            probes = torch.randn((n_probes, batch, *shape), generator=gen, dtype=x.dtype,
                                 device=x.device)
    lam_T, lam_0 = float(sde.log_snr(sde.T)), float(sde.log_snr(t_end))
    counter = {"nfe": 0}

    def div_and_score(xx: torch.Tensor, tb: torch.Tensor, t: float,
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            xr = xx.detach().requires_grad_(True)
            S = score_fn(xr, tb)
            counter["nfe"] += 1
            if not isinstance(S, torch.Tensor) or S.shape != xr.shape:
                raise ValueError(
                    f"score_fn(x, t) must return x's shape {tuple(xr.shape)}; got "
                    f"{tuple(S.shape) if isinstance(S, torch.Tensor) else type(S).__name__}")
            if not bool(torch.isfinite(S.detach().sum())):
                raise ValueError(f"score_fn returned non-finite values at t={t:.6g} "
                                 f"(evaluation {counter['nfe']})")
            if not S.requires_grad:
                raise ValueError("score_fn(x, t) must be differentiable in x for the "
                                 "divergence (it returned a tensor without grad)")
            if divergence == "exact":
                flat_S = S.reshape(batch, D)
                div = torch.zeros(batch, dtype=xx.dtype, device=xx.device)
                for i in range(D):
                    (gi,) = torch.autograd.grad(flat_S[:, i].sum(), xr, retain_graph=True)
                    div = div + gi.reshape(batch, D)[:, i]
            else:
                div = torch.zeros(batch, dtype=xx.dtype, device=xx.device)
                for k in range(n_probes):
                    zk = probes[k]
                    (gk,) = torch.autograd.grad((S * zk).sum(), xr,
                                                retain_graph=k < n_probes - 1)
                    div = div + (gk * zk).reshape(batch, D).sum(1)
                div = div / n_probes
        return div.detach(), S.detach()

    def rhs(lam: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        lv = min(max(float(lam), lam_T), lam_0)
        t = sde.t_of_log_snr(lv)
        _, s = sde.kernel(t)
        f, g2 = sde.coefficients(t)
        s2, c = float(s) ** 2, 2.0 * float(s) ** 2 * float(f) / float(g2)
        xx = state[:, :D].reshape(batch, *shape)
        tb = torch.full((batch,), float(t), dtype=x.dtype, device=x.device)
        div_S, S = div_and_score(xx, tb, float(t))
        dx = s2 * S - c * xx                                            # dx/dλ
        ddelta = s2 * div_S - c * D                                     # ∇·(dx/dλ)
        return torch.cat([dx.reshape(batch, D), ddelta[:, None]], dim=1)  # (batch, D+1)

    state0 = torch.cat([x.detach().reshape(batch, D),
                        torch.zeros(batch, 1, dtype=x.dtype, device=x.device)], dim=1)
    lam = torch.tensor([lam_0, lam_T], dtype=x.dtype, device=x.device)

    def norm(e: torch.Tensor) -> torch.Tensor:
        # the state's RMS and the log-density's RMS are controlled separately: in the plain RMS
        # over (batch, D + 1) entries the log-density column would weigh only 1/(D + 1)
        return e.abs().max()

    with torch.no_grad():
        out = odeint(rhs, state0, lam, method="dopri5", rtol=rtol, atol=atol,
                     options={"norm": norm})[-1]
    z = out[:, :D].reshape(batch, *shape)
    delta = out[:, D]
    p_T = prior(z)
    logp = p_T + delta
    info = {"nfe": counter["nfe"], "prior_logp": p_T, "delta_logp": delta, "z": z,
            "rtol": rtol, "atol": atol, "t_end": t_end, "divergence": divergence,
            "n_probes": n_probes if divergence == "hutchinson" else 0}
    return logp, info


def bits_per_dim(score_fn: ScoreFn, sde: GaussianPathSDE, levels: torch.Tensor, *,
                 n_bins: int = 256, data_range: tuple[float, float] = (-1.0, 1.0),
                 dequantize: bool = True, generator: torch.Generator | int | None = None,
                 dtype: torch.dtype = torch.float64, block_size: int | None = None,
                 **likelihood_kwargs: Any,
                 ) -> tuple[torch.Tensor, dict[str, Any]]:
    """Bits per dimension of discrete data under the PF-ODE likelihood, with uniform
    dequantisation (Song et al. 2021 §D.2; Theis et al. 2016, arXiv:1511.01844).

    ``levels`` are integers ``k ∈ {0, …, n_bins − 1}``; they are dequantised to
    ``u = (k + U)/n_bins``, ``U ~ U[0, 1)^D`` (``U = ½`` with ``dequantize=False``) and mapped to
    the model's scale ``y = lo + (hi − lo) u`` (the model must be trained on the same map). Then

        bpd = −log p(y)/(D ln 2) + log₂(n_bins/(hi − lo)),

    an upper bound on the discrete model's bits/dim (Jensen). The data-scaling offset is
    ``log₂(n_bins/(hi − lo))``: **7** for 8-bit data in ``[−1, 1]``, **8** for ``[0, 1]``,
    ``log₂(17/2) ≈ 3.087`` for the 17-level sklearn digits in ``[−1, 1]``.

    Args:
        score_fn, sde: as in :func:`log_likelihood`.
        levels: ``(batch, *shape)`` integer-valued tensor (any dtype).
        n_bins: number of levels.
        data_range: ``(lo, hi)`` of the model's data scale.
        dequantize: uniform noise (``True``) or bin centres.
        generator: for the dequantisation noise and then the Hutchinson probes, following
            :mod:`kexue.rng` (``None``: PyTorch's default generator); with ``block_size``, the
            seed of the block generators.
        dtype: floating dtype for the likelihood computation.
        block_size: as in :func:`log_likelihood`: block ``b`` draws its dequantisation noise
            and then its probes from :func:`kexue.rng.block_generator` ``(seed, b)``, and the
            blocks are shared across the process group (same values for any process count).
        **likelihood_kwargs: passed to :func:`log_likelihood` (``divergence``, ``n_probes``,
            ``rtol``, ``atol``, ``t_end``, …).

    Returns:
        ``(bpd (batch,), info)`` with ``info`` from :func:`log_likelihood` plus ``"offset"``
        and ``"logp" (batch,)`` (nats, of the continuous ``y``).

    Raises:
        ValueError: levels not integers in ``[0, n_bins)``, ``n_bins < 2``, ``hi <= lo``.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 2:
        raise ValueError(f"n_bins must be an int >= 2; got {n_bins!r}")
    lo, hi = (float(v) for v in data_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"data_range must be (lo, hi) with hi > lo; got {data_range!r}")
    if not isinstance(levels, torch.Tensor):
        raise TypeError(f"levels must be a tensor of integer levels; got "
                        f"{type(levels).__name__}")
    k = levels.to(dtype)
    if not bool((k == torch.round(k)).all()) or float(k.min()) < 0 or float(k.max()) >= n_bins:
        raise ValueError(
            f"levels must be integers in [0, n_bins) = [0, {n_bins}); got values in "
            f"[{float(k.min()):g}, {float(k.max()):g}]. Pass the quantised data (e.g. "
            "pixel values 0..255), not data already scaled to the model's range.")
    if "block_size" in likelihood_kwargs:
        raise TypeError("pass block_size to bits_per_dim itself")

    def dequantised(kk: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        noise = (torch.rand(kk.shape, generator=gen, dtype=dtype, device=kk.device)
                 if dequantize else torch.full_like(kk, 0.5))
        return lo + (hi - lo) * (kk + noise) / n_bins

    if block_size is None:
        gen = as_generator(generator, device=k.device)
        logp, info = log_likelihood(score_fn, sde, dequantised(k, gen), generator=gen,
                                    **likelihood_kwargs)
    else:
        parallel.check_block_size(block_size)
        base = parallel.shared_seed(generator)

        def solve(b: int, kb: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
            gen = block_generator(base, b, device=k.device)
            return log_likelihood(score_fn, sde, dequantised(kb, gen), generator=gen,
                                  **likelihood_kwargs)

        logp, info = _blocked(solve, k, block_size, base)
    D = math.prod(tuple(k.shape[1:]))
    offset = math.log2(n_bins / (hi - lo))
    bpd = -logp / (D * math.log(2.0)) + offset
    info = dict(info, offset=offset, logp=logp)
    return bpd, info
