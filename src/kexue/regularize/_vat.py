"""Virtual adversarial training (Miyato et al. arXiv:1704.03976) and Gaussian-noise consistency,
the label-free relatives of input noise (kexue.fm archive 7466).

With ``D(r) = KL(p(·|x) ‖ p(·|x + r))``, ``D(0) = 0`` and ``∇D(0) = 0``, so
``D(r) ≈ ½ rᵀF r`` where ``F`` is the Fisher information of the output distribution w.r.t. the
input (for logits ``z(x)``: ``F = J_zᵀ(diag p − ppᵀ)J_z``). Isotropic noise ``r ~ N(0, σ²I)``
therefore costs ``(σ²/2)·tr F`` on average, while the worst direction of norm ``ε`` costs
``(ε²/2)·λ_max(F)``: VAT replaces the average by the maximum. The top eigenvector is found by power
iteration with the finite difference ``F d ≈ ∇_r D(r)|_{r = ξd} / ξ``.

Design (bugs seen in popular ports, see the reference notes): every pass here — the clean one
and the perturbed ones — runs in eval mode, so dropout masks cannot differ between them and batch
norm neither uses batch statistics nor updates its running averages; the clean prediction is
detached; the start direction is Gaussian (not ``torch.rand``); nothing is divided in place and
tensors stay on ``x``'s device. Two float32 precautions: the finite-difference step is floored at
``√eps_dtype·‖x_n‖`` (with ``ξ = 1e-6`` in float32 the step is below the rounding of ``x + ξd``,
the gradient is rounding noise or exactly 0 and VAT silently does nothing), and the power
iteration differentiates the KL in a form that never subtracts probabilities close to 1
(:func:`kl_from_logits`), so confident predictions still give an accurate direction.
"""

from __future__ import annotations

import math

import torch

from ._adversarial import unit_rows
from ._checks import (
    check_batch,
    check_callable,
    check_count,
    check_generator,
    check_reduction,
    check_scale,
    draw_normal,
    eval_mode,
    log_probs,
    logits_2d,
    per_sample_norm,
    reduce,
)

__all__ = ["vat_direction", "vat_loss", "consistency_loss", "xi_step", "kl_from_log_probs",
           "kl_from_logits"]


def kl_from_log_probs(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """``KL(p ‖ q) = Σ_c p_c (log p_c − log q_c)`` per row, from log-probabilities ``(N, C)``.
    Entries with ``p_c = 0`` contribute 0."""
    p = logp.exp()
    terms = torch.where(p > 0, p * (logp - logq), torch.zeros_like(p))
    return terms.sum(dim=1)  # (N,)


_EXPM1_SAFE = 20.0  # logit shifts below this use the expm1 form (no overflow in float32)


def kl_from_logits(z: torch.Tensor, z_new: torch.Tensor) -> torch.Tensor:
    """``KL(softmax z ‖ softmax z_new)`` per row, accurate in float32 even for nearly one-hot
    ``p``, from logits ``(N, C)``.

    With ``k = argmax z``, ``a = (z_new − z) − (z_new − z)_k`` and ``s = Σ_c p_c·expm1(a_c)``:
    ``KL = log1p(s) − Σ_c p_c a_c``. Nothing here subtracts two probabilities close to 1, so its
    gradient ``q − p`` keeps its relative accuracy when ``1 − p_max`` is below float32's
    resolution near 1 (``6e-8``), where ``Σ p (log p − log q)`` is rounding noise. Rows with a
    shift ``max |a| ≥ 20`` use the log-probability form (no overflow)."""
    p = torch.softmax(z, dim=1)  # (N, C)
    dz = z_new - z
    a = dz - dz.gather(1, z.argmax(dim=1, keepdim=True))  # (N, C), 0 at the argmax
    small = a.abs().amax(dim=1) < _EXPM1_SAFE  # (N,)
    a_safe = a.clamp(-_EXPM1_SAFE, _EXPM1_SAFE)
    precise = torch.log1p((p * torch.expm1(a_safe)).sum(1)) - (p * a_safe).sum(1)
    fallback = kl_from_log_probs(torch.log_softmax(z, dim=1), torch.log_softmax(z_new, dim=1))
    return torch.where(small, precise, fallback)


def xi_step(x: torch.Tensor, xi: float) -> torch.Tensor:
    """The finite-difference step actually used for each example, ``(N, 1, ..., 1)``:
    ``max(ξ, √eps·‖x_n‖)`` with ``eps`` the machine epsilon of ``x``'s dtype (``‖x_n‖`` replaced
    by 1 for an all-zero example). In float64 ``ξ = 1e-6`` is used as given for inputs of norm
    ``< 6e3``; in float32 the floor (≈ ``3.5e-4·‖x_n‖``) keeps the perturbed input and the
    softmax difference well above rounding.

    Source: the finite-difference power iteration of VAT (Miyato et al., arXiv:1704.03976).
    """
    root_eps = math.sqrt(torch.finfo(x.dtype).eps)
    scale = per_sample_norm(x.detach())
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.clamp(root_eps * scale, min=xi)


def _check_model(model: object) -> None:
    check_callable(model, "model")


def _power_iteration(model, x: torch.Tensor, z0: torch.Tensor, d: torch.Tensor, xi: float,
                     n_power: int) -> torch.Tensor:
    """``n_power`` steps ``d ← unit(∇_r KL(p ‖ p(x + r))|_{r = ξd})`` from the clean logits
    ``z0`` (detached); the model must already be in eval mode."""
    step = xi_step(x, xi)  # (N, 1, ..., 1)
    xd = x.detach()
    for _ in range(n_power):
        with torch.enable_grad():
            r = (step * d).requires_grad_(True)
            z1 = logits_2d(model(xd + r), x.shape[0])
            kl = kl_from_logits(z0, z1).sum()
            (g,) = torch.autograd.grad(kl, r, allow_unused=True)
        if g is None:  # the model ignores its input: keep the direction
            break
        d = unit_rows(g.detach(), fallback=d)
    return d


def _direction_and_clean(model, x: torch.Tensor, xi: float, n_power: int,
                         generator: torch.Generator | None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """In eval mode: the VAT direction and the clean log-probabilities (detached)."""
    with torch.no_grad():
        z0 = logits_2d(model(x.detach()), x.shape[0]).detach()  # (N, C)
    d = unit_rows(draw_normal(tuple(x.shape), x, generator))  # (N, ...), unit rows
    d = _power_iteration(model, x, z0, d, xi, n_power)
    return d, torch.log_softmax(z0, dim=1)


def _check_common(model, x, xi, n_power, generator):
    _check_model(model)
    check_batch(x)
    xi = check_scale(xi, "xi")
    n_power = check_count(n_power, "n_power", minimum=0)
    gen = check_generator(generator, device=x.device)
    return xi, n_power, gen


def vat_direction(model: torch.nn.Module, x: torch.Tensor, *, xi: float = 1e-6,
                  n_power: int = 1, generator: torch.Generator | int | None = None
                  ) -> torch.Tensor:
    """Virtual adversarial direction (Miyato et al. arXiv:1704.03976, Algorithm 1): the unit
    direction ``d_n`` that most increases ``KL(p(·|x_n) ‖ p(·|x_n + r))``, i.e. the top eigenvector
    of the output Fisher matrix ``F(x_n)``, found by ``n_power`` power-iteration steps
    ``d ← unit(F d)`` with ``F d ≈ ∇_r KL|_{r = ξd} / ξ`` (kexue.fm archive 7466).

    Starts from a Gaussian direction drawn from ``generator``. Runs the model in eval mode and
    restores each submodule's mode afterwards; batch-norm statistics are not touched.

    Args:
        model: maps ``(N, ...)`` to logits ``(N, C)`` (or ``(N,)`` for one binary logit).
        x: inputs ``(N, ...)``, floating.
        xi: finite-difference step ``> 0`` (Miyato et al.'s ``ξ = 1e-6``); the step used per
            example is ``max(ξ, √eps_dtype·‖x_n‖)``, see :func:`xi_step`.
        n_power: power iterations ``≥ 0`` (1 suffices in practice; 0 returns the random start,
            the "random perturbation training" baseline).
        generator: ``torch.Generator`` or int seed for the start; ``None`` uses torch's global RNG.

    Returns:
        ``d``, shape of ``x``, unit L2 norm per example, detached.

    Raises:
        TypeError: ``model`` not callable or not returning float logits; ``x`` not floating;
            bad ``generator``.
        ValueError: ``x`` without a batch dimension; ``xi ≤ 0``; ``n_power < 0``; logits of the
            wrong shape.
    """
    xi, n_power, gen = _check_common(model, x, xi, n_power, generator)
    with eval_mode(model):
        d, _ = _direction_and_clean(model, x, xi, n_power, gen)
    return d


def vat_loss(model: torch.nn.Module, x: torch.Tensor, *, xi: float = 1e-6, eps: float = 1.0,
             n_power: int = 1, generator: torch.Generator | int | None = None,
             reduction: str = "mean") -> torch.Tensor:
    """Local distributional smoothness ``LDS = KL(p(·|x) ‖ p(·|x + ε·d))`` with ``d`` the virtual
    adversarial direction — the VAT regulariser (Miyato et al. arXiv:1704.03976; kexue.fm archive
    7466). For small ``ε`` it is ``≈ ½ε²·λ_max(F(x))``.

    Train on ``CE(labelled) + α·vat_loss(model, x_labelled ∪ x_unlabelled)`` (α = 1 in the paper);
    no labels are needed. The clean prediction is computed under ``no_grad`` (a constant); the
    perturbed pass carries the graph to the parameters. All passes run in eval mode (dropout
    off, batch norm on running statistics and not updated); each submodule's mode is restored.

    Args:
        model: maps ``(N, ...)`` to logits ``(N, C)`` (or ``(N,)`` for one binary logit).
        x: inputs ``(N, ...)``, floating.
        xi: power-iteration step ``> 0``, floored per example as in :func:`xi_step`.
        eps: perturbation norm ``> 0`` per example (L2 over all non-batch dims, in ``x``'s units).
        n_power: power iterations ``≥ 0`` (0: random direction of norm ``eps``).
        generator: ``torch.Generator`` or int seed for the Gaussian start; ``None`` uses torch's
            global RNG.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    Returns:
        Scalar, or ``(N,)`` with ``reduction="none"``.

    Raises:
        TypeError, ValueError: as :func:`vat_direction`; also ``eps ≤ 0`` or a bad ``reduction``.

    Examples:
        >>> import torch
        >>> from kexue.regularize import vat_loss
        >>> model = torch.nn.Linear(4, 3).double()
        >>> x = torch.randn(8, 4, dtype=torch.float64)
        >>> lds = vat_loss(model, x, eps=0.5, generator=0)
        >>> lds.shape, bool(lds >= 0)
        (torch.Size([]), True)
    """
    xi, n_power, gen = _check_common(model, x, xi, n_power, generator)
    eps = check_scale(eps, "eps")
    reduction = check_reduction(reduction)
    with eval_mode(model):
        d, logp = _direction_and_clean(model, x, xi, n_power, gen)
        logq = log_probs(model(x.detach() + eps * d), x.shape[0])  # (N, C), with graph
    return reduce(kl_from_log_probs(logp, logq), reduction)


def consistency_loss(model: torch.nn.Module, x: torch.Tensor, *, sigma: float,
                     n_samples: int = 1, generator: torch.Generator | int | None = None,
                     reduction: str = "mean") -> torch.Tensor:
    """Gaussian-noise consistency ``E_ε KL(p(·|x) ‖ p(·|x + ε))``, ``ε ~ N(0, σ²I)`` — the
    isotropic relative of VAT, ``≈ (σ²/2)·tr F(x)`` (kexue.fm archive 7466; a KL Π-model; the
    label-free form of Bishop 1995's noise ≈ gradient penalty).

    Same conventions as :func:`vat_loss`: eval mode for every pass, clean prediction detached,
    modes restored, noise from ``generator`` (``torch.randn((n_samples, *x.shape))``).

    Args:
        model: maps ``(N, ...)`` to logits ``(N, C)`` (or ``(N,)``).
        x: inputs ``(N, ...)``, floating.
        sigma: noise standard deviation ``> 0`` per coordinate.
        n_samples: noise draws ``≥ 1`` averaged.
        generator: ``torch.Generator`` or int seed; ``None`` uses torch's global RNG.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    Returns:
        Scalar, or ``(N,)`` with ``reduction="none"``.

    Raises:
        TypeError, ValueError: as :func:`vat_loss`; ``sigma ≤ 0``, ``n_samples < 1``.
    """
    _check_model(model)
    check_batch(x)
    sigma = check_scale(sigma, "sigma")
    n_samples = check_count(n_samples, "n_samples")
    gen = check_generator(generator, device=x.device)
    reduction = check_reduction(reduction)
    z = draw_normal((n_samples, *x.shape), x, gen)  # (S, N, ...)
    with eval_mode(model):
        with torch.no_grad():
            logp = log_probs(model(x.detach()), x.shape[0]).detach()
        total = None
        for s in range(n_samples):
            kl = kl_from_log_probs(logp, log_probs(model(x.detach() + sigma * z[s]), x.shape[0]))
            total = kl if total is None else total + kl
    return reduce(total / n_samples, reduction)
