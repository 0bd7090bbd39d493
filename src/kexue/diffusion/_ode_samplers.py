"""Deterministic samplers: integrators of the probability-flow ODE ``dx/dt = f x − ½ g² S``
(Song et al., ICLR 2021, arXiv:2011.13456; kexue.fm 9228 "(6): the ODE framework").

Each is a function ``sample_*(score_fn, sde, x_T, ts, *, options)`` on a decreasing time grid
``ts`` (``(N+1,)``, e.g. :func:`kexue.diffusion.time_grid`) returning ``(x, info)``. Common
options: ``denoise_last`` (``True``/``"ode"``: one more evaluation at ``t_N`` and an Euler step
of the PF-ODE in ``u = σ²``, ``y_0 = ½(y + D)`` for ``σ_0 = 0``, local error ``O(σ⁴)``;
``"tweedie"``: Tweedie's ``D``; ``False``: stop at ``t_N``), ``callback`` (after every step,
``{"i", "t", "x", "nfe"}``), ``check_finite`` (``"every"``/``"end"``/``False``/``None`` =
automatic, as in :mod:`kexue.diffusion._sde_samplers`) and ``generator`` (accepted for a uniform
signature; used only by stochastic DDIM).

Notation per step ``t_c → t_n``: ``a = ᾱ``, ``s = β̄``, ``σ = s/a``, ``λ = ln(a/s)``,
``h = λ_n − λ_c``, ``ε̂ = −s S`` (noise prediction), ``D = (x + s² S)/a`` (data prediction).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ._sampling_core import ScoreFn, _Run, check_float, drive
from ._sde import GaussianPathSDE
from ._sde_samplers import eta_family, transition

__all__ = ["sample_euler", "sample_heun", "sample_rk45", "sample_ddim", "sample_dpm_solver_2",
           "sample_dpmpp_2m", "sample_dpmpp_3m", "pf_ode_lambda", "sample_norm"]

Callback = Callable[[dict[str, Any]], None]
Result = tuple[torch.Tensor, dict[str, Any]]


def _heun(r: _Run, x: torch.Tensor) -> torch.Tensor:
    for i in range(r.n):
        ac, an, dsig = r.a[i], r.a[i + 1], r.sig[i + 1] - r.sig[i]
        y = x / ac
        d = r.score(x, i) * (-r.s[i])                               # dy/dσ = ε̂
        y1 = y + dsig * d
        d1 = r.score(an * y1, i + 1) * (-r.s[i + 1])
        x = an * (y + (0.5 * dsig) * (d + d1))
        r.done(i, x)
    return x


def _ddim(r: _Run, x: torch.Tensor) -> torch.Tensor:
    eta = r.opts["eta"]
    for i in range(r.n):
        S = r.score(x, i)
        eps = S * (-r.s[i])
        D = (x - r.s[i] * eps) / r.a[i]
        sn = r.s[i + 1]
        if eta > 0:
            _, V2 = transition(r, i)
            c = eta * math.sqrt(V2) * sn / r.s[i]
            x = r.a[i + 1] * D + math.sqrt(max(sn * sn - c * c, 0.0)) * eps + c * r.step_noise(x, i)
        else:
            x = r.a[i + 1] * D + sn * eps
        r.done(i, x)
    return x


def _dpm_solver_2(r: _Run, x: torch.Tensor) -> torch.Tensor:
    lam_mid = [0.5 * (r.lam[i] + r.lam[i + 1]) for i in range(r.n)]
    t_mid = r.sde.t_of_log_snr(torch.tensor(lam_mid, dtype=torch.float64)).tolist()
    for i in range(r.n):
        ac, sc, an, sn = r.a[i], r.s[i], r.a[i + 1], r.s[i + 1]
        h = r.lam[i + 1] - r.lam[i]
        am, sm = r.coefs(t_mid[i])
        eps = r.score(x, i) * (-sc)
        u = (am / ac) * x - (sm * math.expm1(0.5 * h)) * eps
        eps_m = r.model.score(u, r.time_batch(t_mid[i]), (i, t_mid[i])) * (-sm)
        x = (an / ac) * x - (sn * math.expm1(h)) * eps_m
        r.done(i, x)
    return x


def _dpmpp_multistep(r: _Run, x: torch.Tensor, order: int) -> torch.Tensor:
    """DPM-Solver++ multistep in data prediction (Lu et al. 2022b, arXiv:2211.01095):

        x_n = (s_n/s_c) x + a_n ∫_0^h e^{τ−h} P(λ_c + τ) dτ,

    with ``P`` the polynomial in ``λ`` through the last ``order`` data predictions ``D``
    (Adams–Bashforth in ``λ``). Writing ``P = D + τ D' + τ² D''/2`` and ``D1 = h D'``,
    ``D2 = h² D''/2``, the weights are ``φ₁ = 1 − e^{−h}``, ``I₁/h = 1 − φ₁/h`` and
    ``I₂/h² = 1 − 2/h + 2φ₁/h²`` (``I_k = ∫_0^h τ^k e^{τ−h} dτ``)."""
    Ds: list[torch.Tensor] = []
    hs: list[float] = []
    for i in range(r.n):
        S = r.score(x, i)
        D = r.denoised(x, S, i)
        h = r.lam[i + 1] - r.lam[i]
        an = r.a[i + 1]
        phi1 = -math.expm1(-h)                                         # 1 − e^{−h}
        k = min(order, len(Ds) + 1)
        x = (r.s[i + 1] / r.s[i]) * x + (an * phi1) * D
        if k >= 2:
            w1 = 1.0 - phi1 / h                                        # I₁/h
            D1_0 = (D - Ds[-1]) * (h / hs[-1])                          # ≈ h D'(λ_c − h₀/2)
            if k == 2 and order == 2:                                  # Lu et al. Alg. 2
                x = x + (0.5 * an * phi1) * D1_0
            elif k == 2:
                x = x + (an * w1) * D1_0
            else:
                h0, h1 = hs[-1], hs[-2]
                D1_1 = (Ds[-1] - Ds[-2]) * (h / h1)
                D2 = (D1_0 - D1_1) * (h / (h0 + h1))                    # h² D''/2
                D1 = D1_0 + (h0 / h) * D2                               # h D'(λ_c)
                w2 = 1.0 - 2.0 / h + 2.0 * phi1 / (h * h)              # I₂/h²
                if h < 1e-3:                                           # series, avoids 1/h³
                    w2 = h / 3.0 - h * h / 12.0
                x = x + (an * w1) * D1 + (an * w2) * D2
        Ds.append(D)
        hs.append(h)
        if len(Ds) > 2:
            Ds.pop(0)
            hs.pop(0)
        r.done(i, x)
    return x


def pf_ode_lambda(sde: GaussianPathSDE, score: Callable[[torch.Tensor, torch.Tensor, float],
                  torch.Tensor], lam_lo: float, lam_hi: float,
                  ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The probability-flow ODE with the log-SNR ``λ`` as independent variable.

    Source: the PF-ODE of kexue.fm archive 9228 in DPM-Solver's variable ``λ`` (Lu et al. 2022,
    arXiv:2206.00927).

    ``dλ/dt = −g²/(2β̄²)``, so ``dx/dλ = (f x − ½ g² S)/(dλ/dt) = β̄² S − (2β̄² f/g²) x`` (for VP
    ``= ᾱ(D − ᾱx)``): bounded at both ends, unlike ``dx/dt`` (which blows up like ``1/t`` near
    ``t = 0`` for VP). ``score(x, tb, t)`` is called with the ``(batch,)`` time tensor ``tb``;
    ``λ`` is clamped to ``[lam_lo, lam_hi]`` (adaptive solvers probe slightly outside).
    """

    def rhs(lam: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        lv = min(max(float(lam), lam_lo), lam_hi)
        t = sde.t_of_log_snr(lv)
        a, s = sde.kernel(t)
        f, g2 = sde.coefficients(t)
        s2, t_f = float(s) ** 2, float(t)
        tb = torch.full((x.shape[0],), t_f, dtype=x.dtype, device=x.device)
        return s2 * score(x, tb, t_f) - (2.0 * s2 * float(f) / float(g2)) * x

    return rhs


def sample_norm(e: torch.Tensor) -> torch.Tensor:
    """Error norm of the adaptive solvers: per-sample Euclidean norm, RMS over the batch, so a
    tolerance bounds each sample's error ``‖x − x_exact‖`` in any dimension."""
    flat = e.reshape(e.shape[0], -1)
    return flat.pow(2).sum(1).mean().sqrt()


def _rk45(r: _Run, x: torch.Tensor) -> torch.Tensor:
    """Dormand–Prince (torchdiffeq ``dopri5``) on ``dx/dλ`` (:func:`pf_ode_lambda`) from
    ``λ(t_start)`` to ``λ(t_end)``; the error norm is :func:`sample_norm`."""
    from torchdiffeq import odeint

    model = r.model
    lam = torch.tensor([r.lam[0], r.lam[-1]], dtype=torch.float64)

    def score(xx, tb, t):
        return model.score(xx, tb, (-1, t))

    rhs = pf_ode_lambda(r.sde, score, r.lam[0], r.lam[-1])
    x = odeint(rhs, x, lam.to(x.device, x.dtype), method="dopri5", rtol=r.opts["rtol"],
               atol=r.opts["atol"], options={"norm": sample_norm})[-1]
    r.done(r.n - 1, x)
    return x


# ----------------------------------------------------------------------------- public samplers
def _ode(step, name: str, score_fn, sde, x_T, ts, opts, denoise_last, callback, check_finite,
         **kw) -> Result:
    return drive(step, score_fn, sde, x_T, ts, name=name, stochastic=False, opts=opts,
                 denoise_last=denoise_last, callback=callback, check_finite=check_finite, **kw)


def sample_euler(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
                 generator: Any = None, denoise_last: bool | str = True,
                 callback: Callback | None = None,
                 check_finite: str | bool | None = None) -> Result:
    """Explicit Euler in ``t`` on the probability-flow ODE (method ``"ode_euler"``, order 1; Song
    et al. 2021, arXiv:2011.13456; the ``η = 0`` member of kexue.fm 9228's family). One
    evaluation per step.

    Args:
        score_fn: ``score_fn(x, t)`` with ``x (batch, *shape)``, ``t (batch,)``.
        sde: the forward :class:`GaussianPathSDE`.
        x_T: starting states at ``ts[0]``, ``(batch, *shape)``.
        ts: the decreasing grid ``(N+1,)`` in ``(0, T]``.
        generator, denoise_last, callback, check_finite: see the module docstring.

    Returns:
        ``(x, info)``: ``x`` of ``x_T``'s shape; ``info`` has ``"nfe"``, ``"ts"``, ``"method"``,
        ``"t_final"``, ``"denoise_last"``.
    """
    return _ode(lambda r, x: eta_family(r, x, 0.0), "ode_euler", score_fn, sde, x_T, ts, {},
                denoise_last, callback, check_finite)


def sample_heun(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
                generator: Any = None, denoise_last: bool | str = True,
                callback: Callback | None = None,
                check_finite: str | bool | None = None) -> Result:
    """Heun's second-order method on ``y = x/ᾱ`` in ``σ``, ``dy/dσ = ε̂`` (method ``"heun"``;
    Karras et al. 2022, arXiv:2206.00364, Algorithm 1). Two evaluations per step. Arguments and
    return as :func:`sample_euler`."""
    return _ode(_heun, "heun", score_fn, sde, x_T, ts, {}, denoise_last, callback, check_finite)


def sample_rk45(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
                rtol: float = 1e-5, atol: float = 1e-5, generator: Any = None,
                denoise_last: bool | str = True, callback: Callback | None = None,
                check_finite: str | bool | None = None) -> Result:
    """Adaptive Dormand–Prince (torchdiffeq ``dopri5``) from ``ts[0]`` to ``ts[-1]`` with the
    log-SNR ``λ`` as independent variable (:func:`pf_ode_lambda`; method ``"rk45"``); only the
    grid's end points are used. score_sde's ODE sampler uses RK45 in ``t``, which crowds its
    steps near ``t = 0``.

    Source: Dormand and Prince 1980 on the probability-flow ODE (kexue.fm archive 9228; Song et al.
    2021, arXiv:2011.13456).

    Args:
        rtol, atol: tolerances on each sample's error norm (:func:`sample_norm`).
        check_finite: automatic means ``"every"`` here (the step control synchronises anyway).
        score_fn, sde, x_T, ts, generator, denoise_last, callback: as for :func:`sample_euler`.
    """
    opts = {"rtol": check_float("rtol", rtol, positive=True),
            "atol": check_float("atol", atol, positive=True)}
    return _ode(_rk45, "rk45", score_fn, sde, x_T, ts, opts, denoise_last, callback,
                check_finite, check_finite_default="every")


def sample_ddim(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
                eta: float | None = 0.0, generator: Any = None, brownian: Any = None,
                denoise_last: bool | str = True, callback: Callback | None = None,
                check_finite: str | bool | None = None) -> Result:
    """DDIM, the first-order exponential integrator ``x_n = a_n D + s_n ε̂`` (method ``"ddim"``;
    Song et al. 2021, arXiv:2010.02502; ≡ DPM-Solver-1). ``eta > 0`` is stochastic DDIM: noise
    ``c = η V s_n/s_c`` replaces part of ``ε̂`` (drawn from ``generator`` or ``brownian``, as in
    :func:`kexue.diffusion.sample_euler_maruyama`).

    Args:
        eta: ``η >= 0`` (``None``: 0, deterministic).
        score_fn, sde, x_T, ts, generator, brownian, denoise_last, callback, check_finite: as
            for :func:`sample_euler`.
    """
    eta_v = 0.0 if eta is None else check_float("eta", eta, lo=0)
    return _ode(_ddim, "ddim", score_fn, sde, x_T, ts, {"eta": eta_v}, denoise_last, callback,
                check_finite, noisy=eta_v > 0, generator=generator, brownian=brownian)


def sample_dpm_solver_2(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any,
                        *, generator: Any = None, denoise_last: bool | str = True,
                        callback: Callback | None = None,
                        check_finite: str | bool | None = None) -> Result:
    """DPM-Solver-2 (method ``"dpm_solver_2"``; Lu et al. 2022, arXiv:2206.00927, Algorithm 1
    with ``r₁ = ½``): a midpoint in log-SNR, two evaluations per step. Arguments and return as
    :func:`sample_euler`."""
    return _ode(_dpm_solver_2, "dpm_solver_2", score_fn, sde, x_T, ts, {}, denoise_last,
                callback, check_finite)


def sample_dpmpp_2m(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
                    generator: Any = None, denoise_last: bool | str = True,
                    callback: Callback | None = None,
                    check_finite: str | bool | None = None) -> Result:
    """DPM-Solver++(2M) (method ``"dpmpp_2m"``; Lu et al. 2022, arXiv:2211.01095, Algorithm 2):
    multistep in data prediction, one evaluation per step. Arguments and return as
    :func:`sample_euler`."""
    return _ode(lambda r, x: _dpmpp_multistep(r, x, 2), "dpmpp_2m", score_fn, sde, x_T, ts, {},
                denoise_last, callback, check_finite)


def sample_dpmpp_3m(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
                    generator: Any = None, denoise_last: bool | str = True,
                    callback: Callback | None = None,
                    check_finite: str | bool | None = None) -> Result:
    """The third-order multistep data-prediction exponential integrator (method ``"dpmpp_3m"``;
    Lu et al. 2022, arXiv:2211.01095 §B), one evaluation per step. Its second-derivative weight
    is the exact integral ``1 − 2/h + 2(1 − e^{−h})/h²`` of the quadratic through the last three
    ``D`` (measured order 3); the ``φ₃`` weight of the reference implementations is half of it.
    Arguments and return as :func:`sample_euler`."""
    return _ode(lambda r, x: _dpmpp_multistep(r, x, 3), "dpmpp_3m", score_fn, sde, x_T, ts, {},
                denoise_last, callback, check_finite)
