"""Stochastic samplers of diffusion models: reverse SDE, reverse diffusion, ancestral,
predictor–corrector and the η-family (kexue.fm 9209/9228; Song et al., ICLR 2021,
arXiv:2011.13456).

Each is a function ``sample_*(score_fn, sde, x_T, ts, *, options)`` on a decreasing time grid
``ts`` (``(N+1,)``, e.g. :func:`kexue.diffusion.time_grid`) returning ``(x, info)``; the options
every sampler takes are

* ``generator`` — for the noise, following :mod:`kexue.rng` (``torch.Generator`` on ``x_T``'s
  device, int seed, or ``None``: PyTorch's default generator);
* ``brownian`` — drive the noise of step ``t_i → t_{i+1}`` by one Brownian path,
  ``W(t_{i+1}, t_i)/√(t_i − t_{i+1})`` (a :class:`kexue.stochastic.BrownianInterval` of ``x_T``'s
  shape covering the grid, or an int seed for one on ``[0, T]``): the same path at any step
  count, so a sample changes little when only ``steps`` changes (k-diffusion's "Brownian tree
  noise sampler"; a virtual Brownian tree, Li et al. 2020, arXiv:2001.01328);
* ``denoise_last`` — ``True``/``"tweedie"``: one more evaluation at ``t_N`` and Tweedie's
  ``D = (x + β̄² S)/ᾱ`` (score_sde's noise removal); ``"ode"``: the PF-ODE step in ``u = σ²``;
  ``False``: return the state at ``t_N``;
* ``callback`` — called after every step with ``{"i", "t", "x", "nfe"}``;
* ``check_finite`` — ``"every"`` (each score at once), ``"end"`` (counts kept on the device, one
  host read at the end), ``False``, or ``None``: ``"every"`` on the CPU, ``"end"`` elsewhere.

Notation per step ``t_c → t_n``: ``a = ᾱ``, ``s = β̄``, ``S`` the score; the forward transition
``t_n → t_c`` is ``x_c = A x_n + V z`` with ``A = a_c/a_n``, ``V² = s_c² − A² s_n²``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ._sampling_core import ScoreFn, _Run, check_float, drive
from ._sde import GaussianPathSDE

__all__ = ["sample_euler_maruyama", "sample_eta", "sample_reverse_diffusion",
           "sample_ancestral", "sample_pc"]

Callback = Callable[[dict[str, Any]], None]
Result = tuple[torch.Tensor, dict[str, Any]]


def eta_family(r: _Run, x: torch.Tensor, eta: float) -> torch.Tensor:
    """Euler–Maruyama on ``dx = (f x − ½(1 + η²) g² S) dt + η g dw̄`` (kexue.fm 9228)."""
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


def transition(r: _Run, i: int) -> tuple[float, float]:
    """Forward transition ``t_{i+1} → t_i``: ``x_c = A x_n + V z``; returns ``(A, V²)``."""
    A = r.a[i] / r.a[i + 1]
    return A, max(r.s[i] ** 2 - (A * r.s[i + 1]) ** 2, 0.0)


def _reverse_diffusion_step(r: _Run, x: torch.Tensor, i: int) -> torch.Tensor:
    A, V2 = transition(r, i)
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
        A, V2 = transition(r, i)
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
        A, _ = transition(r, i)
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


# ----------------------------------------------------------------------------- public samplers
def sample_euler_maruyama(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any,
                          *, generator: Any = None, brownian: Any = None,
                          denoise_last: bool | str = True, callback: Callback | None = None,
                          check_finite: str | bool | None = None) -> Result:
    """Euler–Maruyama on the reverse SDE ``dx = (f x − g² S) dt + g dw̄`` (method ``"em"``; Song
    et al. 2021, arXiv:2011.13456, eq. 6; kexue.fm 9209). One evaluation per step.

    Args:
        score_fn: ``score_fn(x, t)`` with ``x (batch, *shape)``, ``t (batch,)``.
        sde: the forward :class:`GaussianPathSDE`.
        x_T: starting states at ``ts[0]``, ``(batch, *shape)``.
        ts: the decreasing grid ``(N+1,)`` in ``(0, T]``.
        generator, brownian, denoise_last, callback, check_finite: see the module docstring.

    Returns:
        ``(x, info)``: ``x`` of ``x_T``'s shape; ``info`` has ``"nfe"``, ``"ts"``, ``"method"``,
        ``"t_final"``, ``"denoise_last"``.
    """
    return drive(lambda r, x: eta_family(r, x, 1.0), score_fn, sde, x_T, ts, name="em",
                 stochastic=True, opts={}, generator=generator, brownian=brownian,
                 denoise_last=denoise_last, callback=callback, check_finite=check_finite)


def sample_eta(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
               eta: float | None = 1.0, generator: Any = None, brownian: Any = None,
               denoise_last: bool | str = True, callback: Callback | None = None,
               check_finite: str | bool | None = None) -> Result:
    """Euler–Maruyama on the family ``dx = (f x − ½(1 + η²) g² S) dt + η g dw̄`` whose members
    share the marginals ``p_t`` for every ``η ≥ 0`` (method ``"eta"``; kexue.fm 9228): ``η = 1``
    is :func:`sample_euler_maruyama`, ``η = 0`` the probability-flow ODE's Euler method.

    Args:
        eta: ``η >= 0`` (``None``: 1).
        score_fn, sde, x_T, ts, generator, brownian, denoise_last, callback, check_finite: as
            for :func:`sample_euler_maruyama`.
    """
    eta_v = 1.0 if eta is None else check_float("eta", eta, lo=0)
    return drive(lambda r, x: eta_family(r, x, eta_v), score_fn, sde, x_T, ts, name="eta",
                 stochastic=True, opts={"eta": eta_v}, generator=generator, brownian=brownian,
                 denoise_last=denoise_last, callback=callback, check_finite=check_finite)


def sample_reverse_diffusion(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor,
                             ts: Any, *, generator: Any = None, brownian: Any = None,
                             denoise_last: bool | str = True, callback: Callback | None = None,
                             check_finite: str | bool | None = None) -> Result:
    """The reverse of the exact forward transition between grid times,
    ``x_n = x_c − (A − 1) x_c + V² S + V z`` (method ``"reverse_diffusion"``; score_sde's
    ``ReverseDiffusionPredictor``, Song et al. 2021, arXiv:2011.13456). Arguments and return as
    :func:`sample_euler_maruyama`."""
    return drive(_reverse_diffusion, score_fn, sde, x_T, ts, name="reverse_diffusion",
                 stochastic=True, opts={}, generator=generator, brownian=brownian,
                 denoise_last=denoise_last, callback=callback, check_finite=check_finite)


def sample_ancestral(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
                     generator: Any = None, brownian: Any = None,
                     denoise_last: bool | str = True, callback: Callback | None = None,
                     check_finite: str | bool | None = None) -> Result:
    """Ancestral sampling from the Gaussian posterior ``q(x_n | x_c, x_0 = D)`` (method
    ``"ancestral"``; DDPM, Ho et al. 2020, arXiv:2006.11239; for VE exactly score_sde's
    ``AncestralSamplingPredictor``). Arguments and return as :func:`sample_euler_maruyama`."""
    return drive(_ancestral, score_fn, sde, x_T, ts, name="ancestral", stochastic=True, opts={},
                 generator=generator, brownian=brownian, denoise_last=denoise_last,
                 callback=callback, check_finite=check_finite)


def sample_pc(score_fn: ScoreFn, sde: GaussianPathSDE, x_T: torch.Tensor, ts: Any, *,
              snr: float = 0.16, n_corrector: int = 1, generator: Any = None,
              brownian: Any = None, denoise_last: bool | str = True,
              callback: Callback | None = None,
              check_finite: str | bool | None = None) -> Result:
    """Predictor–corrector: ``n_corrector`` Langevin steps at each grid time with step
    ``2 A² (snr ‖z‖/‖S‖)²``, then a reverse-diffusion predictor step (method ``"pc"``; Song et al.
    2021, arXiv:2011.13456, Algorithms 2–4). ``1 + n_corrector`` evaluations per step.

    Args:
        snr: the corrector's signal-to-noise ratio (score_sde: 0.16 for VE CIFAR-10).
        n_corrector: Langevin steps per grid time, ``>= 0``.
        brownian: drives the predictor only; the corrector (a step at fixed ``t``) draws from
            ``generator``.
        score_fn, sde, x_T, ts, generator, denoise_last, callback, check_finite: as for
            :func:`sample_euler_maruyama`.
    """
    snr_v = check_float("snr", snr, positive=True)
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"n_corrector must be an int >= 0; got {n_corrector!r}")
    return drive(_pc, score_fn, sde, x_T, ts, name="pc", stochastic=True,
                 opts={"snr": snr_v, "n_corrector": n_corrector}, generator=generator,
                 brownian=brownian, denoise_last=denoise_last, callback=callback,
                 check_finite=check_finite)
