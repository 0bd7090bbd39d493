"""Samplers for diffusion SDEs: reverse SDE, predictor–corrector, η-family, probability-flow ODE.

One entry point, :func:`sample`, runs any method in ``SAMPLERS`` from ``x_T`` at ``t_start``
down a time grid to ``t_end`` and (``denoise_last``) on to ``t = 0``. Every method is written
once for the Gaussian kernel ``x_t = ᾱ_t x_0 + β̄_t ε`` (:class:`GaussianPathSDE`), so VE, VP,
sub-VP and DDPM tables share the code. Notation per step ``t_c → t_n`` (``t_n < t_c``):
``a = ᾱ``, ``s = β̄``, ``σ = s/a``, ``λ = ln(a/s)``, ``h = λ_n − λ_c``, ``S`` the score,
``ε̂ = −s S`` (noise prediction), ``D = (x + s² S)/a`` (Tweedie's data prediction).

Stochastic samplers (Song et al., ICLR 2021, arXiv:2011.13456; kexue.fm 9209/9228):

* ``em`` — Euler–Maruyama on the reverse SDE ``dx = (f x − g² S) dt + g dw̄``;
* ``reverse_diffusion`` — the reverse of the exact forward transition between grid times
  (score_sde's ``ReverseDiffusionPredictor``);
* ``ancestral`` — the Gaussian posterior ``q(x_n | x_c, x_0 = D)`` (DDPM ancestral sampling;
  for VE exactly score_sde's ``AncestralSamplingPredictor``);
* ``pc`` — ``n_corrector`` Langevin corrector steps with signal-to-noise ratio ``snr``, then a
  reverse-diffusion predictor step (Song et al. 2021, Algorithms 2–3);
* ``eta`` — Euler–Maruyama on the family ``dx = (f x − ½(1 + η²) g² S) dt + η g dw̄`` that
  shares the marginals for every ``η ≥ 0`` (kexue.fm 9228); ``η = 1`` is ``em``, ``η = 0`` is
  ``ode_euler``.

Probability-flow ODE ``dx/dt = f x − ½ g² S`` samplers (deterministic):

* ``ode_euler`` — explicit Euler in ``t``;
* ``heun`` — Heun's second-order method on ``y = x/ᾱ`` in ``σ`` (Karras et al. 2022,
  arXiv:2206.00364, Algorithm 1), 2 evaluations per step;
* ``rk45`` — adaptive Dormand–Prince (torchdiffeq ``dopri5``) on ``x`` with the log-SNR ``λ`` as
  the independent variable, ``rtol``/``atol`` on each sample's error norm (score_sde's ODE
  sampler uses RK45 in ``t``, which crowds its steps near ``t = 0``);
* ``ddim`` — the first-order exponential integrator ``x_n = a_n D + s_n ε̂`` (DDIM, Song et al.
  ICLR 2021, arXiv:2010.02502; ≡ DPM-Solver-1; ``eta > 0`` gives stochastic DDIM);
* ``dpm_solver_2`` — DPM-Solver-2 (Lu et al. 2022, arXiv:2206.00927, Algorithm 1 with
  ``r₁ = ½``), 2 evaluations per step;
* ``dpmpp_2m`` — DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095, Algorithm 2), multistep,
  1 evaluation per step;
* ``dpmpp_3m`` — the third-order multistep data-prediction exponential integrator (Lu et al.
  2022b, §B), 1 evaluation per step. Its second-derivative weight is the exact integral
  ``1 − 2/h + 2(1 − e^{−h})/h²`` of the quadratic through the last three ``D`` (measured order 3);
  the ``φ₃`` weight of the reference implementations is half of it;
* ``trig_pc`` — Adams predictor–corrector on the angular form ``dw/dθ = −F`` of the PF-ODE with
  a data scale ``sigma_data`` (EDM's normalised output / the TrigFlow velocity; ``F ≡ 0`` for
  Gaussian data of that scale), UniPC-style corrector at no extra evaluation, and a free final
  step through the known ``F(θ = 0) = 0``; order ``order + 1`` (default 3). Best with the
  ``"cosine"`` grid (uniform angle) and ``t_end=None``. See :func:`_trig_pc`.

The last step. Sampling stops at ``t_end > 0``. With ``denoise_last=True`` one more evaluation at
``t_end`` takes the state to ``t = 0``: stochastic samplers return Tweedie's ``D`` (score_sde's
"noise removal"); ODE samplers take an Euler step of the probability-flow ODE in ``u = σ²``,
``dy/du = (y − D)/(2σ²)`` (``y = x/ᾱ``), which for ``σ_0 = 0`` is ``y_0 = ½(y + D)``: its local
error is ``O(σ⁴)`` where ``D`` alone is ``O(σ²)``. Pass ``denoise_last="tweedie"`` or ``"ode"`` to
choose explicitly. The ``"ode"`` step assumes ``p_0`` has a bounded score (a smooth density such
as a Gaussian mixture or dequantised data); for data on a low-dimensional manifold the score
blows up as ``σ → 0`` and ``"tweedie"`` is the safer choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .. import parallel
from ..devices import infer_device
from ..rng import as_generator, block_generator
from ..stochastic import BrownianInterval
from ._blocks import gather_rows
from ._checks import FiniteGuard, check_score_and_sde, check_states
from ._grids import GRIDS, time_grid
from ._sde import GaussianPathSDE

__all__ = ["Sampler", "SAMPLERS", "sample", "sample_n", "pf_ode_lambda", "sample_norm"]

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _Model:
    """The score-function adapter: counts evaluations, checks shape once and finiteness always
    (on an accelerator through a :class:`FiniteGuard`, read once at the end, unless ``defer`` is
    false), and gives the noise and data predictions."""

    def __init__(self, score_fn: ScoreFn, x_like: torch.Tensor, n_steps: int = 0, *,
                 defer: bool | None = None) -> None:
        self.fn = score_fn
        self.nfe = 0
        self.shape = tuple(x_like.shape)
        self.n_steps = n_steps
        self.guard = FiniteGuard(x_like.device, self._message, defer=defer)

    def _message(self, bad: int, where: tuple[int, float, int]) -> str:
        step, t, nfe = where
        at = ("during the adaptive solve" if step < 0 else
              f"at step {step + 1} of {self.n_steps}" if step < self.n_steps else
              "at the final step to t = 0")
        return (f"score_fn returned {bad} non-finite values (NaN/inf) {at} (t={t:.6g}, "
                f"evaluation {nfe}). Check the model for this t, or use more steps / a "
                "larger t_end.")

    def score(self, x: torch.Tensor, tb: torch.Tensor, where: tuple[int, float]) -> torch.Tensor:
        out = self.fn(x, tb)
        self.nfe += 1
        if self.nfe == 1:
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"score_fn(x, t) must return a tensor; got {type(out).__name__}")
            if tuple(out.shape) != self.shape:
                raise ValueError(
                    f"score_fn(x, t) must return x's shape {self.shape} = (batch, …); got "
                    f"{tuple(out.shape)}. Check that the model's input and output sizes match x.")
        self.guard(out, (*where, self.nfe))
        return out


class _Run:
    """Grid coefficients as Python floats plus per-time ``(batch,)`` tensors, computed once."""

    def __init__(self, sde: GaussianPathSDE, ts: torch.Tensor, x: torch.Tensor,
                 model: _Model, gen: torch.Generator | None, opts: dict[str, Any]) -> None:
        self.sde, self.model, self.gen, self.opts = sde, model, gen, opts
        self.brownian = opts.get("brownian")
        a, s = sde.marginal(ts)
        f, g2 = sde._f_g2(ts)
        self.t = ts.tolist()
        self.a, self.s = a.tolist(), s.tolist()
        self.f, self.g2 = f.tolist(), g2.tolist()
        self.sig = [si / ai for ai, si in zip(self.a, self.s)]
        self.lam = [math.log(ai / si) for ai, si in zip(self.a, self.s)]
        self.batch = x.shape[0]
        self.dtype, self.device = x.dtype, x.device
        tb = ts.to(dtype=x.dtype, device=x.device)[:, None].repeat(1, self.batch)   # (N+1, B)
        self.tb = list(tb.unbind(0))
        self.n = len(self.t) - 1
        self.callback = opts.get("callback")

    def time_batch(self, t: float) -> torch.Tensor:
        return torch.full((self.batch,), t, dtype=self.dtype, device=self.device)

    def coefs(self, t: float) -> tuple[float, float]:
        a, s = self.sde.marginal(t)
        return float(a), float(s)

    def score(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return self.model.score(x, self.tb[i], (i, self.t[i]))

    def noise(self, x: torch.Tensor) -> torch.Tensor:
        return torch.randn(x.shape, generator=self.gen, dtype=x.dtype, device=x.device)

    def step_noise(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """The standard normal of step ``i`` (``t_i → t_{i+1}``): a fresh draw, or with a
        Brownian path ``W(t_{i+1}, t_i)/√(t_i − t_{i+1})`` — the same path at any step count."""
        if self.brownian is None:
            return self.noise(x)
        lo, hi = self.t[i + 1], self.t[i]
        dw = self.brownian(lo, hi)
        return dw.to(device=x.device, dtype=x.dtype) / math.sqrt(hi - lo)

    def denoised(self, x: torch.Tensor, S: torch.Tensor, i: int) -> torch.Tensor:
        """Tweedie ``D = (x + s² S)/a`` at grid point ``i``."""
        return (x + self.s[i] ** 2 * S) / self.a[i]

    def done(self, i: int, x: torch.Tensor) -> None:
        if self.callback is not None:
            self.callback({"i": i, "t": self.t[i + 1], "x": x, "nfe": self.model.nfe})


# ------------------------------------------------------------------------ stochastic samplers
def _em(r: _Run, x: torch.Tensor) -> torch.Tensor:
    return _eta_family(r, x, 1.0)


def _eta(r: _Run, x: torch.Tensor) -> torch.Tensor:
    return _eta_family(r, x, r.opts["eta"])


def _eta_family(r: _Run, x: torch.Tensor, eta: float) -> torch.Tensor:
    c = 0.5 * (1.0 + eta * eta)
    for i in range(r.n):
        h = r.t[i] - r.t[i + 1]
        S = r.score(x, i)
        # x − h (f x − c g² S) + η g √h z
        x = x * (1.0 - h * r.f[i]) + (c * h * r.g2[i]) * S
        if eta > 0:
            x = x + (eta * math.sqrt(r.g2[i] * h)) * r.step_noise(x, i)
        r.done(i, x)
    return x


def _transition(r: _Run, i: int) -> tuple[float, float]:
    """Forward transition ``t_{i+1} → t_i``: ``x_c = A x_n + V z``; returns ``(A, V²)``."""
    A = r.a[i] / r.a[i + 1]
    return A, max(r.s[i] ** 2 - (A * r.s[i + 1]) ** 2, 0.0)


def _reverse_diffusion_step(r: _Run, x: torch.Tensor, i: int) -> torch.Tensor:
    A, V2 = _transition(r, i)
    S = r.score(x, i)
    x = x * (2.0 - A) + V2 * S                      # x − (A − 1)x + V² S
    return x + math.sqrt(V2) * r.step_noise(x, i)


def _reverse_diffusion(r: _Run, x: torch.Tensor) -> torch.Tensor:
    for i in range(r.n):
        x = _reverse_diffusion_step(r, x, i)
        r.done(i, x)
    return x


def _ancestral(r: _Run, x: torch.Tensor) -> torch.Tensor:
    for i in range(r.n):
        A, V2 = _transition(r, i)
        S = r.score(x, i)
        D = r.denoised(x, S, i)
        sc2, sn2 = r.s[i] ** 2, r.s[i + 1] ** 2
        x = (A * sn2 / sc2) * x + (r.a[i + 1] * V2 / sc2) * D
        x = x + math.sqrt(V2 * sn2 / sc2) * r.step_noise(x, i)
        r.done(i, x)
    return x


def _pc(r: _Run, x: torch.Tensor) -> torch.Tensor:
    snr, n_corr = r.opts["snr"], r.opts["n_corrector"]
    for i in range(r.n):
        A, _ = _transition(r, i)
        alpha = A * A                                   # score_sde: 1 − β_i for VP, 1 for VE
        for _ in range(n_corr):                          # Langevin corrector (Algorithm 4)
            S = r.score(x, i)
            z = r.noise(x)
            g_norm = S.reshape(r.batch, -1).norm(dim=1).mean()
            z_norm = z.reshape(r.batch, -1).norm(dim=1).mean()
            step = 2.0 * alpha * (snr * z_norm / g_norm) ** 2
            x = x + step * S + torch.sqrt(2.0 * step) * z
        x = _reverse_diffusion_step(r, x, i)
        r.done(i, x)
    return x


# -------------------------------------------------------------------- probability-flow ODE
def _ode_euler(r: _Run, x: torch.Tensor) -> torch.Tensor:
    return _eta_family(r, x, 0.0)


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
            _, V2 = _transition(r, i)
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


def _lagrange_weights(nodes: list[float], lo: float, hi: float) -> list[float]:
    """``∫_lo^hi ℓ_j(θ) dθ`` for the Lagrange basis ``ℓ_j`` on ``nodes`` (exact; plain floats).

    In ``u = (θ − lo)/h``, ``h = hi − lo``: ``ℓ_j = Π_{m≠j} (u − u_m)/(u_j − u_m)``, whose
    coefficients are integrated term by term over ``[0, 1]``."""
    h = hi - lo
    us = [(v - lo) / h for v in nodes]
    out = []
    for j, uj in enumerate(us):
        coef, den = [1.0], 1.0                       # coefficients of Π (u − u_m), low first
        for m, um in enumerate(us):
            if m != j:
                coef = [0.0] + coef                  # × u
                for p in range(len(coef) - 1):
                    coef[p] -= um * coef[p + 1]      # − u_m ×
                den *= uj - um
        out.append(h * sum(c / (p + 1) for p, c in enumerate(coef)) / den)
    return out


def _trig_pc(r: _Run, x: torch.Tensor) -> torch.Tensor:
    """Adams predictor–corrector on the angular form of the probability-flow ODE.

    With a data scale ``c`` (``sigma_data``), ``θ = arctan(σ/c)`` and
    ``w = (x/ᾱ)/√(c² + σ²)`` the PF-ODE ``dy/dσ = (y − D)/σ`` (``y = x/ᾱ``) becomes

        dw/dθ = −F,   F = ((c² + σ²) D − c² y) / (σ c √(c² + σ²))   (= α x + β S),

    EDM's normalised network output (Karras et al. 2022, eq. 7, ``c_skip``/``c_out``) and the
    TrigFlow velocity of Lu & Song 2024 (arXiv:2410.11081); for ``c = 1`` and VP it is the
    v-prediction ODE in the angle (Salimans & Ho 2022, arXiv:2202.00512). ``F ≡ 0`` for Gaussian
    data ``N(0, c²I)``, so the Gaussian part of the flow is integrated exactly and ``F`` only
    carries the non-Gaussian structure. Each step: Adams–Bashforth through the last ``order``
    values of ``F`` in ``θ``, one evaluation at the predicted point, then Adams–Moulton through it
    and the ``order`` previous values (the corrector of UniPC, Zhao et al. 2023,
    arXiv:2302.04867: one order higher at no extra evaluation; the next step reuses that
    evaluation). The final step to ``σ = 0`` (``θ = 0``) is a corrector step through the known
    ``F(θ = 0) = −lim ε̂ = 0`` (a density with a bounded score), so it costs nothing.
    """
    c = r.opts["sigma_data"]
    order = r.opts["order"]
    use_corr = r.opts["corrector"]
    final_ode = r.opts.get("final") == "ode"
    n = r.n
    sig, a, s = r.sig, r.a, r.s
    th = [math.atan(v / c) for v in sig]
    rad = [math.sqrt(c * c + v * v) for v in sig]
    kappa = [a[i] * rad[i] for i in range(n + 1)]                      # x = κ w
    alpha = [sig[i] / (a[i] * c * rad[i]) for i in range(n + 1)]       # F = α x + β S
    beta = [rad[i] * s[i] ** 2 / (a[i] * sig[i] * c) for i in range(n + 1)]
    a0, s0 = r.coefs(0.0)
    zero_end = final_ode and s0 == 0.0                                   # F(θ=0) = 0 known
    th_end = math.atan((s0 / a0) / c) if final_ode else None

    def F(xx: torch.Tensor, i: int) -> torch.Tensor:
        S = r.score(xx, i)
        return torch.add(xx, S, alpha=beta[i] / alpha[i]).mul_(alpha[i])

    # all Adams weights depend on the grid only: compute them before the loop
    pred_w, corr_w = [], []
    for i in range(n):
        lo_i = max(0, i - order + 1)
        pred_w.append(_lagrange_weights(th[lo_i:i + 1], th[i], th[i + 1]))
        lo_c = max(0, i - order + 1)
        corr_w.append(_lagrange_weights(th[lo_c:i + 2], th[i], th[i + 1]))
    callback = r.callback is not None

    w = x / kappa[0]
    Fs = [F(x, 0)]                                   # F at grid points max(0, i−order+1)..i
    for i in range(n):
        hist = Fs[-order:]
        last = i == n - 1
        w_pred = w.clone()
        for wt, fv in zip(pred_w[i], hist):
            w_pred.add_(fv, alpha=-wt)
        if last and not (use_corr or final_ode):
            w = w_pred
        else:
            F_new = F(w_pred.mul_(kappa[i + 1]), i + 1)     # w_pred now holds x_pred
            if use_corr:
                for wt, fv in zip(corr_w[i], hist + [F_new]):
                    w.add_(fv, alpha=-wt)                   # w is the sampler's own tensor
            else:
                w = w_pred.div_(kappa[i + 1])
            Fs.append(F_new)
            if len(Fs) > order + 1:
                Fs.pop(0)
        if callback:
            r.done(i, w * kappa[i + 1])
    if final_ode:
        if zero_end:                      # Adams–Moulton through the known F(0) = 0
            wc = _lagrange_weights(th[n - order + 1:n + 1] + [0.0] if n >= order - 1
                                   else th[:n + 1] + [0.0], th[n], 0.0)
            for wt, fv in zip(wc[:-1], Fs[-min(order, len(Fs)):]):
                w.add_(fv, alpha=-wt)
        else:                             # σ(0) > 0: Adams–Bashforth extrapolation
            hist_th = th[max(0, n - order + 1):n + 1]
            wp = _lagrange_weights(hist_th, th[n], th_end)
            for wt, fv in zip(wp, Fs[-len(hist_th):]):
                w.add_(fv, alpha=-wt)
        return w * (a0 * math.sqrt(c * c + (s0 / a0) ** 2))
    return w * kappa[n]


def _dpmpp_2m(r: _Run, x: torch.Tensor) -> torch.Tensor:
    return _dpmpp_multistep(r, x, 2)


def _dpmpp_3m(r: _Run, x: torch.Tensor) -> torch.Tensor:
    return _dpmpp_multistep(r, x, 3)


def pf_ode_lambda(sde: GaussianPathSDE, score: Callable[[torch.Tensor, torch.Tensor, float],
                  torch.Tensor], lam_lo: float, lam_hi: float,
                  ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The probability-flow ODE with the log-SNR ``λ`` as independent variable.

    ``dλ/dt = −g²/(2β̄²)``, so ``dx/dλ = (f x − ½ g² S)/(dλ/dt) = β̄² S − (2β̄² f/g²) x`` (for VP
    ``= ᾱ(D − ᾱx)``): bounded at both ends, unlike ``dx/dt`` (which blows up like ``1/t`` near
    ``t = 0`` for VP). ``score(x, tb, t)`` is called with the ``(batch,)`` time tensor ``tb``;
    ``λ`` is clamped to ``[lam_lo, lam_hi]`` (adaptive solvers probe slightly outside).
    """

    def rhs(lam: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        lv = min(max(float(lam), lam_lo), lam_hi)
        t = sde.t_of_log_snr(lv)
        a, s = sde._kernel(t)
        f, g2 = sde._f_g2(t)
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


def _final_ode(r: _Run, x: torch.Tensor) -> torch.Tensor:
    """Euler step of the probability-flow ODE in ``u = σ²`` from ``t_end`` to ``t = 0``:
    ``y_0 = y + (1 − u_0/u)(D − y)/2``, ``y = x/ᾱ`` (``= ½(y + D)`` when ``σ_0 = 0``)."""
    n = r.n
    S = r.score(x, n)
    D = r.denoised(x, S, n)
    a0, s0 = r.coefs(0.0)
    u_ratio = (s0 / a0) ** 2 / r.sig[n] ** 2
    y = x / r.a[n]
    return a0 * (y + (0.5 * (1.0 - u_ratio)) * (D - y))


def _final_tweedie(r: _Run, x: torch.Tensor) -> torch.Tensor:
    """Tweedie's ``E[x_0 | x_{t_end}] = (x + β̄² S)/ᾱ`` (score_sde's noise removal)."""
    n = r.n
    return r.denoised(x, r.score(x, n), n)


@dataclass(frozen=True)
class Sampler:
    """A sampling method and its theory.

    Attributes:
        name: the string accepted by ``sample(method=...)``.
        fn: ``fn(run, x) -> x`` (internal).
        order: global order of accuracy in the step size for the deterministic methods
            (``None`` for stochastic and adaptive ones); tests fit it by regression.
        stochastic: whether the method injects noise (``generator`` is used).
        evals_per_step: score evaluations per grid step (``pc``: ``1 + n_corrector``; ``rk45``:
            adaptive, ``0`` here).
        reference: the source of the algorithm.
        own_final: the method takes the ``"ode"`` last step to ``t = 0`` itself.
    """

    name: str
    fn: Callable[[_Run, torch.Tensor], torch.Tensor]
    order: float | None
    stochastic: bool
    evals_per_step: int
    reference: str
    own_final: bool = False

    def __repr__(self) -> str:
        return (f"Sampler({self.name!r}, order={self.order}, stochastic={self.stochastic}, "
                f"evals_per_step={self.evals_per_step})")


_SONG = "Song et al., ICLR 2021, arXiv:2011.13456"
SAMPLERS: dict[str, Sampler] = {s.name: s for s in (
    Sampler("em", _em, None, True, 1, f"reverse-SDE Euler–Maruyama; {_SONG}"),
    Sampler("reverse_diffusion", _reverse_diffusion, None, True, 1,
            f"reverse-diffusion predictor; {_SONG}"),
    Sampler("ancestral", _ancestral, None, True, 1,
            "ancestral sampling; Ho et al. 2020 / " + _SONG),
    Sampler("pc", _pc, None, True, 2, f"predictor–corrector with Langevin; {_SONG} Alg. 2–4"),
    Sampler("eta", _eta, None, True, 1, "σ_t = η g_t family; kexue.fm 9228"),
    Sampler("ode_euler", _ode_euler, 1.0, False, 1, f"probability-flow ODE, Euler; {_SONG}"),
    Sampler("heun", _heun, 2.0, False, 2, "Karras et al. 2022, arXiv:2206.00364, Alg. 1"),
    Sampler("rk45", _rk45, None, False, 0, "Dormand–Prince (torchdiffeq dopri5)"),
    Sampler("ddim", _ddim, 1.0, False, 1, "DDIM, Song et al. 2021, arXiv:2010.02502"),
    Sampler("dpm_solver_2", _dpm_solver_2, 2.0, False, 2,
            "DPM-Solver-2, Lu et al. 2022, arXiv:2206.00927, Alg. 1"),
    Sampler("dpmpp_2m", _dpmpp_2m, 2.0, False, 1,
            "DPM-Solver++(2M), Lu et al. 2022, arXiv:2211.01095, Alg. 2"),
    Sampler("dpmpp_3m", _dpmpp_3m, 3.0, False, 1,
            "third-order multistep DPM-Solver++, Lu et al. 2022, arXiv:2211.01095 §B"),
    Sampler("trig_pc", _trig_pc, 3.0, False, 1,
            "Adams predictor–corrector on the angular (TrigFlow/EDM-normalised) PF-ODE; "
            "kexue", own_final=True),
)}

_DENOISE = ("tweedie", "ode")


def _check_float(name: str, v: Any, *, lo: float | None = None, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number; got {v!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be positive; got {v!r}")
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}; got {v!r}")
    return float(v)


def _brownian_path(brownian: Any, x_T: torch.Tensor, ts: torch.Tensor, sde: GaussianPathSDE,
                   method: str, stochastic: bool) -> Any:
    """Check ``sample``'s ``brownian`` argument; an int seed becomes a
    :class:`~kexue.stochastic.BrownianInterval` on ``[0, sde.T]``."""
    if brownian is None:
        return None
    if not stochastic:
        raise ValueError(f"brownian= drives the noise of stochastic samplers; method {method!r} "
                         "draws no noise (use em, eta, reverse_diffusion, ancestral, pc, or ddim "
                         "with eta > 0)")
    shape = tuple(x_T.shape)
    if isinstance(brownian, int) and not isinstance(brownian, bool):
        return BrownianInterval(0.0, float(sde.T), shape, seed=brownian, dtype=torch.float64,
                                device=x_T.device)
    t0 = getattr(brownian, "t0", getattr(brownian, "_start", None))
    t1 = getattr(brownian, "t1", getattr(brownian, "_end", None))
    bshape = getattr(brownian, "shape", None)
    if not callable(brownian) or t0 is None or t1 is None or bshape is None:
        raise TypeError(f"brownian must be None, an int seed or a Brownian path W(s, t) with t0, "
                        f"t1 and shape (kexue.stochastic.BrownianInterval); got "
                        f"{type(brownian).__name__}")
    if tuple(bshape) != shape:
        raise ValueError(f"brownian has shape {tuple(bshape)} but x_T has shape {shape}; build "
                         f"it as BrownianInterval(t0, t1, x_T.shape, ...)")
    lo, hi = float(ts.min()), float(ts.max())
    if float(t0) > lo or float(t1) < hi:
        raise ValueError(f"brownian covers [{float(t0):g}, {float(t1):g}] but the time grid spans "
                         f"[{lo:g}, {hi:g}]; build it over [0, sde.T] = [0, {float(sde.T):g}]")
    return brownian


def sample(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, *, method: str,
           steps: int | None = None, grid: str = "uniform", t_end: float | None = 1e-3,
           t_start: float | None = None, denoise_last: bool | str = True,
           eta: float | None = None, snr: float = 0.16, n_corrector: int = 1,
           rtol: float = 1e-5, atol: float = 1e-5, rho: float = 7.0,
           sigma_data: float = 1.0, grid_scale: float | None = None, order: int = 2,
           corrector: bool = True,
           generator: torch.Generator | int | None = None,
           callback: Callable[[dict[str, Any]], None] | None = None,
           brownian: Any = None,
           ) -> tuple[torch.Tensor, dict[str, Any]]:
    """Sample from a diffusion model by integrating a reverse process from ``x_T`` (see the
    module docstring for the methods; kexue.fm 9209/9228, Song et al. 2021 arXiv:2011.13456).

    Args:
        score_fn: ``score_fn(x, t) -> ∇_x log p_t(x)`` with ``x (batch, *shape)`` and ``t`` a
            ``(batch,)`` tensor of diffusion times; returns ``x``'s shape. (The score-model
            convention ``(x, t)``, as in score_sde and PyTorch networks.)
        sde: the forward :class:`GaussianPathSDE` (VE, VP, sub-VP, table, …).
        x_T: starting states at ``t_start``, ``(batch, *shape)`` floating point, e.g.
            ``sde.prior_sample(...)``.
        method: a name in ``SAMPLERS``.
        steps: number of grid intervals ``N >= 1`` (ignored by ``rk45``, whose steps are
            adaptive). Evaluations: ``N·evals_per_step`` (+1 with ``denoise_last``).
        grid: ``"uniform"`` (in t), ``"logsnr"``, ``"karras"`` (ρ = ``rho``) or ``"cosine"``
            (uniform angle ``arctan(σ/grid_scale)``); see :func:`kexue.diffusion.time_grid`.
        t_end: the last grid time, ``0 < t_end < t_start``; ``None`` with the cosine grid: one
            angular step above ``σ = 0``.
        t_start: the first time (default ``sde.T``).
        denoise_last: ``True`` — one more evaluation at ``t_end`` and a step to ``t = 0``:
            Tweedie's mean for stochastic methods, an Euler step in ``u = σ²`` of the
            probability-flow ODE for deterministic ones; ``"tweedie"``/``"ode"`` force one of
            them; ``False`` returns the state at ``t_end``.
        eta: ``η`` of the ``eta`` family (default 1) and of stochastic ``ddim`` (default 0).
        snr, n_corrector: Langevin corrector of ``pc`` (score_sde: ``snr`` 0.16 for VE CIFAR).
        rtol, atol: tolerances of ``rk45``.
        rho: exponent of the ``"karras"`` grid.
        sigma_data: the data scale ``c`` of ``trig_pc`` (EDM's ``σ_data``; 1 makes it the VP
            v-prediction ODE in the angle) and the default ``grid_scale``.
        grid_scale: the ``c`` of the ``"cosine"`` grid (default ``sigma_data``); steps
            concentrate around ``σ ≈ c``.
        order, corrector: ``trig_pc``'s Adams–Bashforth order ``p`` (1–3) and whether the
            Adams–Moulton corrector runs (global order ``p + 1`` with it, ``p`` without).
        generator: for the noise of stochastic methods, following :mod:`kexue.rng`: a
            ``torch.Generator`` on ``x_T``'s device, an int seed (a new generator there), or
            ``None`` (PyTorch's default generator, as ``torch.randn``).
        callback: called after every step with ``{"i", "t", "x", "nfe"}``.
        brownian: drive the stochastic steps by one Brownian path instead of fresh draws (the
            "Brownian tree noise sampler" of k-diffusion; a virtual Brownian tree, Li et al.
            2020 arXiv:2001.01328): the noise of step ``t_i → t_{i+1}`` is
            ``W(t_{i+1}, t_i)/√(t_i − t_{i+1})``, so the same path is used at any step count
            and a sample changes little when only ``steps`` changes (Euler–Maruyama converges
            pathwise, strong order 1 here since the noise ``g_t dw̄`` is additive). A
            :class:`kexue.stochastic.BrownianInterval` (or any object with ``t0``, ``t1``,
            ``shape`` and ``W(s, t)``) of shape ``x_T.shape`` whose ``[t0, t1]`` covers the grid,
            or an int seed: ``BrownianInterval(0, sde.T, x_T.shape, seed=brownian)`` on
            ``x_T``'s device. Used by ``em``, ``eta``, ``reverse_diffusion``, ``ancestral``,
            stochastic ``ddim`` and ``pc``'s predictor (the Langevin corrector, a step at fixed
            ``t``, still draws from ``generator``). ``None`` (default): fresh draws.

    Everything runs on ``x_T``'s device; the score's finiteness is checked without a host
    synchronisation per step on accelerators (once at the end; ``rk45``'s step control
    synchronises anyway and checks at once).

    Returns:
        ``(x, info)``: ``x`` of ``x_T``'s shape at ``t = 0`` (or ``t_end``); ``info`` has
        ``"nfe"`` (score evaluations, counted), ``"ts"`` (the grid, ``(N+1,)``), ``"method"``,
        ``"grid"``, ``"t_final"``.

    Raises:
        TypeError: ``score_fn`` not callable, ``sde`` not a :class:`GaussianPathSDE`, ``x_T`` not
            a floating tensor, ``score_fn`` returning a non-tensor.
        ValueError: unknown ``method``/``grid`` (the message lists the valid ones), ``steps < 1``,
            a ``brownian`` path of the wrong shape or not covering the grid, or given to a
            deterministic method,
            ``t_end``/``t_start`` outside ``(0, T]``, ``x_T`` not ``(batch, …)`` or not finite,
            a score of the wrong shape, a non-finite score (the message names the step).
    """
    check_score_and_sde(score_fn, sde)
    if method not in SAMPLERS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(SAMPLERS)}")
    if grid not in GRIDS:
        raise ValueError(f"unknown grid {grid!r}; valid grids: {', '.join(GRIDS)}")
    spec = SAMPLERS[method]
    check_states(x_T, "x_T")
    if method == "rk45":
        steps = 1 if steps is None else steps
    if t_end is None and grid != "cosine":
        raise ValueError("t_end=None (an automatic end) is defined for grid='cosine' only")
    if steps is None:
        raise ValueError(f"steps is required for method {method!r} (number of grid intervals)")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1; got {steps!r}")
    if denoise_last is True:
        final = "tweedie" if spec.stochastic else "ode"
    elif denoise_last is False:
        final = None
    elif denoise_last in _DENOISE:
        final = denoise_last
    else:
        raise ValueError(f"denoise_last must be True, False or one of {_DENOISE}; got "
                         f"{denoise_last!r}")
    eta_v = (1.0 if method == "eta" else 0.0) if eta is None else _check_float("eta", eta, lo=0)
    opts = {
        "eta": eta_v, "snr": _check_float("snr", snr, positive=True),
        "rtol": _check_float("rtol", rtol, positive=True),
        "atol": _check_float("atol", atol, positive=True), "callback": callback,
    }
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"n_corrector must be an int >= 0; got {n_corrector!r}")
    opts["n_corrector"] = n_corrector
    opts["sigma_data"] = _check_float("sigma_data", sigma_data, positive=True)
    scale = opts["sigma_data"] if grid_scale is None else _check_float(
        "grid_scale", grid_scale, positive=True)
    if isinstance(order, bool) or order not in (1, 2, 3):
        raise ValueError(f"order must be 1, 2 or 3; got {order!r}")
    opts["order"], opts["corrector"], opts["final"] = order, bool(corrector), final
    if callback is not None and not callable(callback):
        raise TypeError("callback must be None or a callable(dict)")
    ts = time_grid(sde, steps, grid=grid, t_start=t_start, t_end=t_end, rho=rho, scale=scale)
    gen = as_generator(generator, device=x_T.device) if (
        spec.stochastic or opts["eta"] > 0) else None
    opts["brownian"] = _brownian_path(brownian, x_T, ts, sde, method,
                                      spec.stochastic or opts["eta"] > 0)
    model = _Model(score_fn, x_T, steps, defer=False if method == "rk45" else None)
    run = _Run(sde, ts, x_T, model, gen, opts)
    with torch.no_grad():
        x = spec.fn(run, x_T)
        if final == "ode" and spec.own_final:
            pass
        elif final == "ode":
            x = _final_ode(run, x)
        elif final == "tweedie":
            x = _final_tweedie(run, x)
    model.guard.finish()
    info = {"nfe": model.nfe, "ts": ts, "method": method, "grid": grid,
            "t_final": 0.0 if final else float(ts[-1]), "denoise_last": final}
    return x, info


def sample_n(score_fn: ScoreFn, sde: GaussianPathSDE, n: int, shape: int | tuple[int, ...], *,
             method: str, steps: int | None = None, seed: torch.Generator | int | None = 0,
             block_size: int = 1024, device: torch.device | str | None = None,
             dtype: torch.dtype | None = None,
             prior: Callable[[int, torch.Generator], torch.Tensor] | None = None,
             **sample_kwargs: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """``n`` samples by :func:`sample`, cut into seeded blocks and shared across processes — the
    same ``(n, *shape)`` result, bit for bit, for any number of processes.

    Rows are cut into fixed blocks of ``block_size`` (:func:`kexue.parallel.block_ranges`);
    block ``b`` uses one generator, :func:`kexue.rng.block_generator` ``(seed, b)`` on
    ``device``, first for its prior draw ``x_T`` and then for the sampler's noise. Inside a
    process group (``torchrun``, :func:`kexue.parallel.init_from_env`) each rank samples its own
    blocks and the blocks are all-gathered in block order, so every rank returns all ``n``
    samples; without one, everything runs here. Results match across process counts on the
    same kind of device and thread count (a block's own arithmetic must not change).

    Args:
        score_fn, sde, method, steps: as for :func:`sample`.
        n: number of samples, ``>= 1``.
        shape: the shape of one sample (an int ``D`` for flat data).
        seed: an int (or a generator / ``None``, from which one seed is drawn on rank 0 and
            broadcast, see :func:`kexue.rng.seed_from`).
        block_size: rows per block; the number of processes may not exceed the number of blocks
            ``ceil(n / block_size)``.
        device: where to sample (default PyTorch's default device); checked by
            :func:`kexue.devices.resolve_device`.
        dtype: floating dtype of the samples (default ``torch.get_default_dtype()``).
        prior: ``prior(rows, generator) -> (rows, *shape)`` draws a block's starting states
            (e.g. the exact ``p_T`` of a :class:`GaussianMixture`); default
            ``sde.prior_sample``.
        **sample_kwargs: the other options of :func:`sample` (``grid``, ``t_end``, ``eta``, …;
            not ``generator``, which the blocks own).

    Returns:
        ``(x, info)``: ``x (n, *shape)`` on ``device``; ``info`` has ``"nfe"`` (summed over
        blocks), ``"nfe_per_block"``, ``"n_blocks"``, ``"block_size"``, ``"seed"``,
        ``"world_size"``, and ``"method"``, ``"grid"``, ``"t_final"``, ``"ts"`` of the last block
        sampled here.

    Raises:
        TypeError: ``generator`` among ``sample_kwargs``; the errors of :func:`sample`.
        ValueError: ``n`` or ``block_size`` not a positive int, a bad ``shape``, more processes
            than blocks, a ``prior`` returning the wrong shape; the errors of :func:`sample`.
    """
    check_score_and_sde(score_fn, sde)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (number of samples); got {n!r}")
    if "generator" in sample_kwargs:
        raise TypeError("sample_n draws from per-block generators derived from seed; pass "
                        "seed=... instead of generator=...")
    if "brownian" in sample_kwargs:
        raise TypeError("sample_n draws its noise from per-block generators; to drive samples "
                        "by a Brownian path call sample(..., brownian=...) with a path of "
                        "x_T's shape")
    if "x_T" in sample_kwargs:
        raise TypeError("sample_n draws x_T itself (per block, from prior); use sample() to "
                        "start from given states")
    dims = (shape,) if isinstance(shape, int) and not isinstance(shape, bool) else shape
    if not (isinstance(dims, tuple) and dims and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims)):
        raise ValueError(f"shape must be a positive int D or a tuple of positive ints; got "
                         f"{shape!r}")
    if method not in SAMPLERS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(SAMPLERS)}")
    dev = infer_device(device)
    dtype = dtype or torch.get_default_dtype()
    base = parallel.shared_seed(seed, name="seed")
    D = math.prod(dims)
    last: dict[str, Any] = {}

    def block(b: int, lo: int, hi: int) -> tuple[torch.Tensor, int]:
        gen = block_generator(base, b, device=dev)
        rows = hi - lo
        if prior is None:
            x_T = sde.prior_sample((rows, *dims), gen, dtype=dtype, device=dev)
        else:
            x_T = prior(rows, gen)
            if not isinstance(x_T, torch.Tensor) or tuple(x_T.shape) != (rows, *dims):
                got = tuple(x_T.shape) if isinstance(x_T, torch.Tensor) else type(x_T).__name__
                raise ValueError(f"prior(rows, generator) must return a tensor of shape "
                                 f"{(rows, *dims)}; got {got}")
            x_T = x_T.to(dev, dtype)
        x, info = sample(score_fn, sde, x_T, method=method, steps=steps, generator=gen,
                         **sample_kwargs)
        last.update(info)
        return x.reshape(rows, D), int(info["nfe"])

    flat, nfes = gather_rows(block, n, block_size)
    info = {"nfe": sum(nfes), "nfe_per_block": nfes, "n_blocks": len(nfes),
            "block_size": block_size, "seed": base, "world_size": parallel.world_size(),
            **{k: last[k] for k in ("method", "grid", "t_final", "ts") if k in last}}
    return flat.reshape(n, *dims), info
