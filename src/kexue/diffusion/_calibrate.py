"""Choosing a deterministic sampler's knobs on data: a grid search over a fixed family.

For a fixed evaluation budget (NFE) the accuracy of a probability-flow-ODE sampler depends as much
on its step schedule and parametrisation as on its order (BENCHMARKS.md, "samplers vs
diffusers": the untuned ``trig_pc`` misses the 2× goal at four of six settings, the calibrated one
meets it at all six). :func:`calibrate` runs every member of a family of :func:`sample` settings
from a small calibration batch, measures each member's pathwise error against an accurate solve of
the same ODE, and returns the best member's keyword arguments.

In the spirit of "Align Your Steps" (Sabour, Fidler, Kreis 2024, arXiv:2404.14507): an optimised
sampling schedule chosen on data for a given model and NFE. Unlike AYS (which optimises the
time steps themselves by minimising a KL upper bound) this is a plain **grid search over a fixed,
finite family** of settings, so its result is never worse on the calibration draw than any member
of the family — the untuned default included — and generalises to fresh draws as far as the
calibration batch is representative.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ._checks import check_score_and_sde, check_states
from ._samplers import SAMPLERS, ScoreFn, sample
from ._sde import GaussianPathSDE

__all__ = ["TRIG_PC_DEFAULT", "Calibration", "calibrate", "default_family", "pathwise_error"]

#: The untuned ``trig_pc`` (the member the calibration must never lose to on its own draw).
TRIG_PC_DEFAULT: dict[str, Any] = dict(method="trig_pc", grid="cosine", t_end=None,
                                       sigma_data=1.0, grid_scale=1.0, order=2, corrector=True)

#: Keys that :func:`calibrate` sets itself and a family member may not carry.
_RESERVED = ("steps", "callback", "generator", "t_start")

#: The reference solve ends where ``σ = β̄/ᾱ`` is this small, then takes the u = σ² Euler step.
_REF_SIGMA_END = 1e-6


def default_family() -> list[dict[str, Any]]:
    """The 64-member ``trig_pc`` family of the samplers benchmark.

    Source: Sabour, Fidler and Kreis 2024 (arXiv:2404.14507) for calibrating a sampler family.

    ``sigma_data`` ∈ {0.5, 1, 2, 4} × ``grid_scale`` ∈ {0.25, 0.5, 1, 2} × ``order`` ∈ {2, 3} ×
    ``corrector`` ∈ {on, off}, all on the ``"cosine"`` grid with ``t_end=None`` (the free last
    step to σ = 0), in that nesting order (``corrector`` varies fastest). The untuned default
    (``sigma_data=1``, ``grid_scale=1``, order 2 with corrector) is a member.
    """
    return [dict(method="trig_pc", grid="cosine", t_end=None, sigma_data=cv, grid_scale=cg,
                 order=order, corrector=corr)
            for cv, cg, order, corr in itertools.product((0.5, 1.0, 2.0, 4.0),
                                                         (0.25, 0.5, 1.0, 2.0), (2, 3),
                                                         (True, False))]


def pathwise_error(x: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean over the batch of the per-sample Euclidean distance ``‖x − x_ref‖`` (all non-batch
    dimensions flattened) — the primary metric of the samplers benchmark.

    Source: Sabour, Fidler and Kreis 2024 (arXiv:2404.14507) for the pathwise criterion.
    """
    return float((x - ref).reshape(x.shape[0], -1).norm(dim=1).mean())


@dataclass(frozen=True)
class Calibration:
    """The result of :func:`calibrate`.

    Source: in the spirit of Align Your Steps (Sabour, Fidler and Kreis 2024, arXiv:2404.14507).

    Attributes:
        kwargs: the best member's keyword arguments for :func:`sample` (without ``steps``): use
            ``sample(score_fn, sde, x, steps=cal.steps, **cal.kwargs)``.
        error: its pathwise error on the calibration draw (``min(errors)`` over eligible members).
        nfe: the evaluation budget calibrated for; ``steps = nfe − 1`` grid intervals per member.
        family: every member's kwargs, in the order tried.
        errors: each member's pathwise error on the calibration draw (``inf`` for members over
            budget; ``nan`` never — a non-finite result raises).
        nfes: each member's counted score evaluations.
        index: position of the chosen member in ``family``.
        reference_nfe: score evaluations of the reference solve (``0`` when one was given).
        reference_tol: its dopri5 tolerance (``None`` when a reference was given).
        seconds: wall time of the whole calibration.
    """

    kwargs: dict[str, Any]
    error: float
    nfe: int
    family: tuple[dict[str, Any], ...] = field(repr=False)
    errors: tuple[float, ...] = field(repr=False)
    nfes: tuple[int, ...] = field(repr=False)
    index: int = 0
    reference_nfe: int = 0
    reference_tol: float | None = None
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        """Grid intervals to pass to :func:`sample` (``nfe − 1``)."""
        return self.nfe - 1

    def error_of(self, **kwargs: Any) -> float:
        """The calibration error of the member with exactly these kwargs (e.g. the untuned
        default, :data:`TRIG_PC_DEFAULT`). Raises ``KeyError`` if it is not in the family."""
        for member, err in zip(self.family, self.errors):
            if member == kwargs:
                return err
        raise KeyError(f"no family member with kwargs {kwargs!r}")


def _check_member(i: int, member: Any) -> dict[str, Any]:
    if not isinstance(member, Mapping):
        raise TypeError(f"family[{i}] must be a dict of sample() keyword arguments; got "
                        f"{type(member).__name__}. Example: "
                        "{'method': 'trig_pc', 'grid': 'cosine', 't_end': None}")
    m = dict(member)
    method = m.get("method")
    if method not in SAMPLERS:
        raise ValueError(f"family[{i}] needs 'method' among {', '.join(SAMPLERS)}; got "
                         f"{method!r}")
    spec = SAMPLERS[method]
    eta = m.get("eta")
    noisy = isinstance(eta, (int, float)) and not isinstance(eta, bool) and eta > 0
    if spec.stochastic or method == "rk45" or noisy:
        raise ValueError(f"family[{i}]: method {method!r}"
                         + (f" with eta={eta!r}" if noisy else "")
                         + " is not a fixed-step deterministic sampler; a pathwise error against "
                         "the probability-flow ODE needs one (e.g. trig_pc, dpmpp_2m, heun, ddim "
                         "with eta=0)")
    bad = [k for k in _RESERVED if k in m]
    if bad:
        raise ValueError(f"family[{i}] sets {', '.join(map(repr, bad))}, which calibrate sets "
                         "itself (steps = nfe − 1, start at sde.T, no callback or generator); "
                         "remove them")
    return m


def calibrate(score_fn: ScoreFn, sde: GaussianPathSDE, x_cal: torch.Tensor, nfe: int, *,
              method: str = "trig_pc", family: Iterable[Mapping[str, Any]] | None = None,
              reference: torch.Tensor | None = None, reference_tol: float = 1e-9,
              progress: bool | Callable[[str], None] = False) -> Calibration:
    """Pick the member of a family of sampler settings with the smallest pathwise error at a
    given NFE, measured on a calibration batch — a grid search over a fixed family, in the spirit
    of "Align Your Steps" (Sabour et al. 2024, arXiv:2404.14507: an optimised schedule chosen on
    data). See the module docstring and BENCHMARKS.md.

    Every member runs ``sample(score_fn, sde, x_cal, steps=nfe − 1, **member)`` (the NFE
    accounting of the samplers benchmark: ``nfe − 1`` grid intervals plus the first evaluation,
    e.g. ``trig_pc`` uses exactly ``nfe`` evaluations with its free last step to σ = 0); members
    whose counted evaluations exceed ``nfe`` are not eligible. The error of a member is
    :func:`pathwise_error` ``mean ‖x − x_ref‖`` against the reference end state.

    Args:
        score_fn: ``score_fn(x, t) -> ∇log p_t(x)``, as for :func:`sample`.
        sde: the forward :class:`GaussianPathSDE`.
        x_cal: calibration starting states at ``t = sde.T``, ``(batch, *shape)`` floating point
            (a small batch drawn like the states the sampler will be used on, e.g. from the
            prior; a few hundred suffice). Use a draw *separate* from the one you evaluate on.
        nfe: the evaluation budget, an int ``>= 2``.
        method: the sampler of the default family; only ``"trig_pc"`` has one (ignored when
            ``family`` is given, where every member names its own method).
        family: an iterable of keyword-argument dicts for :func:`sample`, each with ``method``
            (a deterministic fixed-step sampler) and without ``steps``, ``t_start``,
            ``callback``, ``generator``. Default: :func:`default_family` (64 ``trig_pc``
            members).
        reference: the accurate end state for ``x_cal`` (same shape), if already computed.
            Otherwise: ``sample(..., method="rk45", rtol=atol=reference_tol)`` — Dormand–Prince
            on the PF-ODE in log-SNR, error norm :func:`kexue.diffusion.sample_norm` — down to
            the time where ``σ = β̄/ᾱ = 1e-6``, then the Euler step in ``u = σ²`` to ``t = 0``
            (its error is ``O(u²) = O(1e-24)`` relative to the data's variance scale). At
            ``1e-9`` it agrees with a σ-space dopri5 solve at the same tolerance to ≈ 1e-8
            (ring2d) and 2e-7 (gmm16d) in pathwise error (DDPM-table SDE, measured) — far below
            any calibrated error at NFE ≤ 50. It costs ≈ 550–750 evaluations there.
        reference_tol: dopri5 ``rtol = atol`` of the computed reference (a positive number).
        progress: ``True`` prints one line per member; a callable receives those lines instead.

    Returns:
        A :class:`Calibration`: ``kwargs`` (ready for ``sample(..., steps=cal.steps,
        **cal.kwargs)``), ``error``, per-member ``errors`` and ``nfes``, ``reference_nfe``.

    Raises:
        TypeError: ``score_fn`` not callable, ``sde`` not a :class:`GaussianPathSDE`, ``x_cal``
            or ``reference`` not a floating tensor, a family member not a dict.
        ValueError: ``nfe`` not an int ``>= 2``, ``x_cal`` not ``(batch, *shape)`` or not finite,
            ``reference`` of another shape or not finite, an unknown ``method``, an empty family,
            a member with a stochastic/adaptive method or a reserved key, no member within the
            budget, a member producing a non-finite state.
    """
    t0 = time.perf_counter()
    check_score_and_sde(score_fn, sde)
    check_states(x_cal, "x_cal", what=" of starting states at t = T",
                 nonfinite_hint="; draw it from the prior, e.g. sde.prior_sample((n, dim), "
                                "generator)")
    if isinstance(nfe, bool) or not isinstance(nfe, int) or nfe < 2:
        raise ValueError(f"nfe must be an int >= 2 (the evaluation budget; steps = nfe − 1); "
                         f"got {nfe!r}")
    if family is None:
        if method != "trig_pc":
            raise ValueError(f"method={method!r} has no default family; only 'trig_pc' has one. "
                             "Pass family=[{'method': ..., ...}, ...] for other samplers")
        members = default_family()
    else:
        if isinstance(family, Mapping) or isinstance(family, (str, bytes)):
            raise TypeError("family must be an iterable of dicts (e.g. a list of them); got "
                            f"one {type(family).__name__}. Wrap a single member in a list")
        members = [_check_member(i, m) for i, m in enumerate(family)]
        if not members:
            raise ValueError("family is empty; give at least one dict of sample() kwargs or "
                             "family=None for the default trig_pc family")
    if isinstance(reference_tol, bool) or not isinstance(reference_tol, (int, float)) or not (
            math.isfinite(reference_tol) and reference_tol > 0):
        raise ValueError(f"reference_tol must be a positive number (dopri5 rtol = atol); got "
                         f"{reference_tol!r}")
    say = progress if callable(progress) else (print if progress else None)

    ref_nfe, ref_tol = 0, None
    if reference is None:
        sig_end = torch.tensor(_REF_SIGMA_END, dtype=torch.float64)
        t_ref = float(sde.t_of_sigma(sig_end))
        if not (0.0 < t_ref < sde.T):
            t_ref = 1e-6 * sde.T
        reference, info = sample(score_fn, sde, x_cal, method="rk45", rtol=reference_tol,
                                 atol=reference_tol, t_end=t_ref, denoise_last="ode")
        ref_nfe, ref_tol = int(info["nfe"]), float(reference_tol)
        if say:
            say(f"reference: rk45 (tol {reference_tol:g}) to sigma {_REF_SIGMA_END:g} + final "
                f"step, {ref_nfe} NFE")
    else:
        if not isinstance(reference, torch.Tensor) or not reference.is_floating_point():
            raise TypeError("reference must be a floating-point tensor of x_cal's shape (the "
                            f"accurate end states) or None; got {type(reference).__name__}")
        if tuple(reference.shape) != tuple(x_cal.shape):
            raise ValueError(f"reference must have x_cal's shape {tuple(x_cal.shape)}; got "
                             f"{tuple(reference.shape)}. Compute it from the same x_cal, or "
                             "pass reference=None")
        if not bool(torch.isfinite(reference).all()):
            raise ValueError("reference contains non-finite values")

    errors, nfes = [], []
    for i, kw in enumerate(members):
        x, info = sample(score_fn, sde, x_cal, steps=nfe - 1, **kw)
        used = int(info["nfe"])
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"family[{i}] ({kw!r}) produced non-finite samples; remove it or "
                             "check the score at small t")
        err = pathwise_error(x, reference.to(x.device, x.dtype)) if used <= nfe else math.inf
        errors.append(err)
        nfes.append(used)
        if say:
            say(f"[{i + 1}/{len(members)}] {kw}: error {err:.4g}, nfe {used}")
    best = min(range(len(members)), key=lambda j: errors[j])
    if not math.isfinite(errors[best]):
        raise ValueError(f"no family member fits the budget nfe={nfe} (they use "
                         f"{sorted(set(nfes))} evaluations at steps = nfe − 1); raise nfe or "
                         "choose single-evaluation-per-step methods")
    return Calibration(kwargs=dict(members[best]), error=errors[best], nfe=nfe,
                       family=tuple(dict(m) for m in members), errors=tuple(errors),
                       nfes=tuple(nfes), index=best, reference_nfe=ref_nfe,
                       reference_tol=ref_tol, seconds=time.perf_counter() - t0)
