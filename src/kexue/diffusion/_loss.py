"""Denoising score matching (Vincent 2011) for SDEs with a Gaussian kernel (Song et al. 2021).

For a forward SDE with kernel ``p(x_t | x0) = N(a_t x0, s_t² I)`` the conditional score is
``∇log p(x_t|x0) = −(x_t − a_t x0)/s_t² = −ε/s_t``. Since ``∇log p_t(x_t)`` is the posterior mean
of the conditional scores, it minimises the squared error to them (Su Jianlin, kexue.fm 9209):

    L(θ) = E_{t ~ U(t_min, T)} E_{x0, ε} λ(t) ‖s_θ(x_t, t) + ε/s_t‖²,   x_t = a_t x0 + s_t ε,

and ``L(θ) = E λ(t)‖s_θ − ∇log p_t‖² + C`` with ``C = E λ‖∇log p(x_t|x0) − ∇log p_t(x_t)‖²``
independent of θ (the closed-form minimum). With ``s_θ = −ε_θ/s_t`` (ε-parametrisation, Ho et al.
2020, arXiv:2006.11239) the weightings are

* ``"sigma2"``: ``λ = s_t²`` (Song et al.'s variance-reducing choice) → ``‖ε_θ − ε‖²``;
* ``"likelihood"``: ``λ = g_t²`` (Song, Durkan, Murray, Ermon 2021, arXiv:2101.09258; the weight
  that makes the loss bound the KL) → ``(g_t²/s_t²)‖ε_θ − ε‖²``.

``‖·‖²`` sums over all non-batch dimensions (the squared norm of the papers; for images
``(batch, C, H, W)`` over ``C·H·W``); the batch is averaged. A class-conditional model gets the
labels, ``ε̂(x_t, t, c)`` (classifier-free guidance training, Ho & Salimans 2022,
arXiv:2207.12598, drops them to the null class with :func:`kexue.diffusion.drop_labels`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from ..rng import as_generator
from ._net_parts import _time_vector, per_row
from ._nets import marginal_coefs

__all__ = ["dsm_loss", "WEIGHTINGS", "as_eps_fn", "diffusion_sq"]

WEIGHTINGS = ("sigma2", "likelihood")
REDUCTIONS = ("mean", "none")


def as_eps_fn(model: Any, sde: Any, labels: torch.Tensor | None = None,
              ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The ε-prediction of ``model``: ``model.eps`` if it has one (a :class:`ScoreModel`),
    else treat ``model(x, t)`` as a score and return ``ε̂ = −s_t · model(x, t)``. With
    ``labels`` the model is called with ``labels=labels`` (a class-conditional model)."""
    eps = getattr(model, "eps", None)
    if callable(eps):
        if labels is None:
            return eps
        return lambda x, t: eps(x, t, labels=labels)
    if not callable(model):
        raise TypeError(
            f"model must be a ScoreModel (with .eps) or a score function (x, t) -> x's shape; "
            f"got {type(model).__name__}")

    def from_score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, s = marginal_coefs(sde, t)
        out = model(x, t) if labels is None else model(x, t, labels=labels)
        return -per_row(s, x) * out

    return from_score


def _accepts_one_arg(fn: Callable) -> bool:
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.default is inspect.Parameter.empty
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) == 1


def diffusion_sq(sde: Any, t: torch.Tensor) -> torch.Tensor:
    """``g(t)²`` as a ``(batch,)`` tensor for ``t`` ``(batch,)``.

    Uses ``sde.g2(t)`` when the SDE has it, else ``sde.diffusion(t)`` (or ``sde.diffusion(t, x)``
    with a dummy ``x``): the diffusion coefficient of a diffusion SDE does not depend on ``x``.
    """
    g2 = getattr(sde, "g2", None)
    if callable(g2) and _accepts_one_arg(g2):
        out = torch.as_tensor(g2(t), dtype=t.dtype, device=t.device)
        return out.expand_as(t) if out.numel() == 1 else out.reshape(t.shape)
    fn = sde.diffusion
    if _accepts_one_arg(fn):
        g = fn(t)
    else:
        g = fn(t, torch.zeros(t.shape[0], 1, dtype=t.dtype, device=t.device))
    g = torch.as_tensor(g, dtype=t.dtype, device=t.device)
    if g.numel() == 1:
        g = g.reshape(()).expand_as(t)
    elif g.ndim >= 1 and g.shape[0] == t.shape[0]:
        g = g.reshape(t.shape[0], -1)[:, 0]  # (batch,), constant over x
    else:
        raise ValueError(f"sde.diffusion(t) returned shape {tuple(g.shape)} for t of shape "
                         f"{tuple(t.shape)}; expected a scalar or (batch,)")
    return g**2


def _check_given(name: str, v: Any, shape: tuple[int, ...], x0: torch.Tensor) -> torch.Tensor:
    """A user-given ``t``/``eps``: a floating tensor of ``shape`` on ``x0``'s device."""
    if not isinstance(v, torch.Tensor) or not v.is_floating_point():
        raise TypeError(f"{name} must be a floating torch.Tensor of shape {shape}; got "
                        f"{type(v).__name__}" + (f" of dtype {v.dtype}"
                                                 if isinstance(v, torch.Tensor) else ""))
    if tuple(v.shape) != shape:
        raise ValueError(f"{name} must have shape {shape} to match x0 {tuple(x0.shape)}; got "
                         f"{tuple(v.shape)}")
    if v.device != x0.device:
        raise ValueError(f"{name} lives on {v.device} but x0 on {x0.device}; move it with "
                         f"{name}.to(x0.device)")
    return v.to(x0.dtype)


def _check_labels(labels: Any, x0: torch.Tensor) -> torch.Tensor:
    b = x0.shape[0]
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long \
            or tuple(labels.shape) != (b,):
        got = (f"shape {tuple(labels.shape)} and dtype {labels.dtype}"
               if isinstance(labels, torch.Tensor) else type(labels).__name__)
        raise ValueError(f"labels must be an int64 tensor of shape (batch,) = ({b},) to match "
                         f"x0; got {got}")
    if labels.device != x0.device:
        raise ValueError(f"labels live on {labels.device} but x0 on {x0.device}; move them "
                         "with labels.to(x0.device)")
    return labels


def dsm_loss(model: Any, sde: Any, x0: torch.Tensor, *, weighting: str = "sigma2",
             t_min: float = 1e-5, generator: torch.Generator | int | None = None,
             reduction: str = "mean", t: torch.Tensor | None = None,
             eps: torch.Tensor | None = None,
             labels: torch.Tensor | None = None) -> torch.Tensor:
    """Denoising score matching loss for a continuous-time diffusion SDE (Vincent 2011;
    Song et al., ICLR 2021, arXiv:2011.13456, eq. (7); kexue.fm 9209).

    Draws ``t ~ U(t_min, T)`` and then ``ε ~ N(0, I)`` per example from ``generator`` on
    ``x0``'s device (unless given), forms ``x_t = a_t x0 + s_t ε`` with ``(a_t, s_t) =
    sde.marginal(t)``, and returns ``λ(t)/s_t² · ‖ε̂(x_t, t) − ε‖²`` averaged over the batch (see
    the module docstring). ``‖·‖²`` sums over every non-batch dimension, so images
    ``(batch, C, H, W)`` give the loss of their flattened ``(batch, C·H·W)`` rows.

    Passing ``t`` and ``eps`` makes the loss a deterministic function of them: a distributed
    trainer draws one global batch's ``t``/``ε`` and hands each process its slice, so the
    processes together compute exactly the single-process loss.

    Args:
        model: a :class:`ScoreModel` (ε-prediction, used directly) or any score function
            ``(x, t) -> x's shape`` (converted with ``ε̂ = −s_t·score``), e.g. the exact score of
            a :class:`GaussianMixture`.
        sde: a diffusion SDE with ``marginal(t)``, and ``diffusion(t)`` for the likelihood
            weighting; its horizon ``sde.T`` (default 1).
        x0: data, ``(batch, *shape)``: flat ``(batch, D)`` or images ``(batch, C, H, W)``.
        weighting: ``"sigma2"`` (``λ = s_t²``) or ``"likelihood"`` (``λ = g_t²``).
        t_min: smallest time drawn (the ``ε`` of Song et al.; 1e-5), in ``(0, T)``.
        generator: for the draws of ``t`` and ``ε``, following :mod:`kexue.rng`: a
            ``torch.Generator`` on ``x0``'s device, an int seed (a new generator there), or
            ``None`` (PyTorch's default generator, as ``torch.randn``). ``t`` is drawn first,
            then ``ε``; what is given is not drawn (and draws nothing).
        reduction: ``"mean"`` (scalar) or ``"none"`` (per-example losses, ``(batch,)``).
        t: optional diffusion times ``(batch,)`` on ``x0``'s device, used instead of drawing
            (they should lie in ``(0, T]``; checked only on the CPU, to avoid a host sync).
        eps: optional noise of ``x0``'s shape on ``x0``'s device, used instead of drawing.
        labels: class labels ``(batch,)`` int64 on ``x0``'s device for a class-conditional
            model (``model.eps(x, t, labels=labels)``; the null class ``num_classes`` trains the
            unconditional branch); ``None`` calls the model without labels. They draw nothing.

    Returns:
        The loss: a 0-d tensor, or ``(batch,)`` for ``reduction="none"``.

    Raises:
        ValueError: unknown weighting/reduction, ``t_min`` outside ``(0, T)``, ``x0`` with no
            data dimension, ``t``/``eps``/``labels`` of the wrong shape or on another device.
        TypeError: ``x0``, ``t`` or ``eps`` not a floating tensor.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {weighting!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}; got {reduction!r}")
    if not isinstance(x0, torch.Tensor) or not x0.is_floating_point():
        raise TypeError(f"x0 must be a floating torch.Tensor of shape (batch, D); "
                        f"got {type(x0).__name__}")
    if x0.ndim < 2 or x0.shape[0] == 0:
        raise ValueError(f"x0 must have shape (batch, D) or (batch, *shape), e.g. images "
                         f"(batch, C, H, W), with batch >= 1; got {tuple(x0.shape)}. For one "
                         "example use x0[None].")
    T = float(getattr(sde, "T", 1.0))
    if not (0.0 < t_min < T):
        raise ValueError(f"t_min must lie in (0, T) = (0, {T}); got {t_min}")
    b = x0.shape[0]
    if t is not None:
        t = _check_given("t", t, (b,), x0)
    if eps is not None:
        eps = _check_given("eps", eps, tuple(x0.shape), x0)
    if labels is not None:
        labels = _check_labels(labels, x0)
    gen = as_generator(generator, device=x0.device) if t is None or eps is None else None
    if t is None:
        t = t_min + (T - t_min) * torch.rand(b, generator=gen, dtype=x0.dtype,
                                             device=x0.device)  # (batch,)
    if eps is None:
        eps = torch.randn(x0.shape, generator=gen, dtype=x0.dtype,
                          device=x0.device)  # (batch, *shape)
    a, s = marginal_coefs(sde, t)  # (batch,)
    xt = per_row(a, x0) * x0 + per_row(s, x0) * eps  # (batch, *shape)
    eps_hat = as_eps_fn(model, sde, labels)(xt, _time_vector(t, b, x0))
    sq = (eps_hat - eps).pow(2)  # (batch, *shape)
    err = sq.sum(dim=1) if sq.ndim == 2 else sq.flatten(1).sum(dim=1)  # (batch,)
    if weighting == "likelihood":
        err = err * diffusion_sq(sde, t) / s**2
    return err.mean() if reduction == "mean" else err
