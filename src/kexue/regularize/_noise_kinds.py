"""Noise in a hidden layer and in the weights, each with the penalty it stands for (kexue.fm archive
7466, "noise can go into the input, a hidden layer, the weights θ or the output y"). Noise in the
output is in :mod:`kexue.regularize._noise_output`, dropout in :mod:`kexue.regularize._dropout`.

* **Hidden layer.** With ``h`` a hidden activation, ``o = rest(h)`` the rest of the network and
  ``ℓ(h) = loss(rest(h))``, Gaussian noise ``ε ~ N(0, σ²I)`` on ``h`` gives, like input noise,
  ``E[ℓ(h+ε)] = ℓ(h) + (σ²/2)·Δ_h ℓ + O(σ⁴)``. The Laplacian splits into
  ``tr(Jᵀ ∇²_o loss J) + ∇_o loss · Δ_h o`` with ``J = ∂o/∂h`` the Jacobian of the rest of the
  network; the first part, the Jacobian weighted by the loss curvature, is the article's penalty
  (``σ²‖J‖²_F`` for a squared loss, ``(σ²/2)·tr(Jᵀ(diag π − ππᵀ)J)`` for softmax
  cross-entropy); the second vanishes when ``rest`` is linear or the fit is exact.
* **Weights.** ``E[L(θ+ε)] = L(θ) + (σ²/2)·tr ∇²_θ L + O(σ⁴)``: the exact second-order term is
  the Hessian trace, a preference for flat minima. That is the form implemented here, because it
  is what the expansion gives for every loss and its remainder is a clean ``O(σ⁴)``; the
  ``‖∂l/∂θ‖²`` (Fisher / Gauss–Newton) form agrees with it only in expectation over the model's
  own labels, or near a fit of a squared loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._checks import (
    check_batch,
    check_callable,
    check_count,
    check_generator,
    check_reduction,
    check_scale,
    draw_normal,
    flat_outputs,
    reduce,
)
from ._noise import laplacian, leaf, noise_loss, rademacher

__all__ = ["hidden_noise_loss", "hidden_noise_penalty", "weight_noise_loss",
           "weight_noise_penalty", "HIDDEN_PENALTY_FORMS"]

HIDDEN_PENALTY_FORMS = ("laplacian", "gauss-newton")


# --------------------------------------------------------------------------- hidden-layer noise
def hidden_noise_loss(rest: Callable[[torch.Tensor], torch.Tensor],
                      loss: Callable[[torch.Tensor], torch.Tensor], h: torch.Tensor, *,
                      sigma: float, n_samples: int = 1, antithetic: bool = False,
                      generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Monte-Carlo estimate of hidden-layer noise ``E_ε[loss(rest(h + ε))]``,
    ``ε ~ N(0, σ²I)`` (kexue.fm archive 7466).

    This is :func:`noise_loss` applied at a hidden activation: the draws and their order are the
    same (``z = randn((n_samples, *h.shape))``).

    Args:
        rest: the rest of the network, hidden activations ``(N, ...)`` → outputs ``(N, K)``.
        loss: outputs → per-example loss ``(N,)`` (close over the targets).
        h: hidden activations ``(N, ...)``, floating (keep its graph to train the layers below).
        sigma: noise standard deviation ``≥ 0``.
        n_samples, antithetic, generator: as in :func:`noise_loss`.

    Returns:
        ``(N,)`` average of the per-example loss over the draws, differentiable.

    Raises:
        TypeError, ValueError: as :func:`noise_loss`; ``rest``/``loss`` not callable.
    """
    check_callable(rest, "rest")
    check_callable(loss, "loss")
    return noise_loss(lambda z: loss(rest(z)), h, sigma=sigma, n_samples=n_samples,
                      antithetic=antithetic, generator=generator)


def hidden_noise_penalty(rest: Callable[[torch.Tensor], torch.Tensor],
                         loss: Callable[[torch.Tensor], torch.Tensor], h: torch.Tensor, *,
                         sigma: float, form: str = "laplacian", create_graph: bool = True,
                         reduction: str = "mean") -> torch.Tensor:
    """Second-order term of hidden-layer noise, ``E[ℓ(h+ε)] − ℓ(h) ≈ (σ²/2)·Δ_h ℓ``
    (kexue.fm archive 7466; Bishop 1995 for the Jacobian form).

    ``form="laplacian"``: the exact term ``(σ²/2)·Δ_h loss(rest(h))`` (remainder ``O(σ⁴)``).
    ``form="gauss-newton"``: its Jacobian part ``(σ²/2)·tr(Jᵀ ∇²_o loss J)``, ``J = ∂o/∂h``
    ``(K, H)`` per example: the Jacobian of the rest of the network weighted by the loss
    curvature. It drops ``(σ²/2)·∇_o loss·Δ_h o``, which is zero when ``rest`` is linear and small
    near a fit; it is ``≥ 0`` for a convex loss, so it is the one to train on (the Laplacian
    can be pushed negative, see ``noise-vs-penalty``).

    Examples must not interact inside ``rest`` (no train-mode batch norm).

    Args:
        rest: hidden ``(N, H)`` (or ``(N, ...)``) → outputs ``(N, K)`` (``(N,)`` is read as K = 1).
        loss: outputs → per-example loss ``(N,)``.
        h: hidden activations ``(N, ...)``, floating.
        sigma: noise standard deviation ``≥ 0``.
        form: ``"laplacian"`` | ``"gauss-newton"``.
        create_graph: keep the graph (to train on the penalty).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    Returns:
        Scalar, or ``(N,)`` for ``reduction="none"``.

    Raises:
        TypeError: non-callable ``rest``/``loss``, ``h`` not floating.
        ValueError: ``sigma < 0``, unknown ``form`` or ``reduction``, ``loss`` not per-example.
    """
    check_callable(rest, "rest")
    check_callable(loss, "loss")
    check_batch(h, "h")
    sigma = check_scale(sigma, "sigma", allow_zero=True)
    reduction = check_reduction(reduction)
    if form not in HIDDEN_PENALTY_FORMS:
        raise ValueError(f"form must be one of {', '.join(HIDDEN_PENALTY_FORMS)}; got {form!r}.")
    n = h.shape[0]

    def per_example(z: torch.Tensor) -> torch.Tensor:
        out = flat_outputs(loss(rest(z)), n, "loss")
        if out.shape[1] != 1:
            raise ValueError(f"loss must return one value per example, shape (N,); got shape "
                             f"{tuple(out.shape)} after flattening. Use reduction='none'.")
        return out[:, 0]

    if form == "laplacian":
        val = laplacian(per_example, h, create_graph=create_graph)
        return reduce(sigma**2 / 2 * val, reduction)
    with torch.enable_grad():
        hl = leaf(h)
        o_raw = rest(hl)
        o = flat_outputs(o_raw, n, "rest")  # (N, K)
        # the loss Hessian is taken at the outputs; detached unless the penalty is to be trained
        ol = o_raw if create_graph else o_raw.detach().requires_grad_(True)
        lv = flat_outputs(loss(ol), n, "loss")  # (N, 1)
        if lv.shape[1] != 1:
            raise ValueError(f"loss must return one value per example, shape (N,); got "
                             f"{tuple(lv.shape)} after flattening. Use reduction='none'.")
        (g,) = torch.autograd.grad(lv.sum(), ol, create_graph=True)
        g = g.reshape(n, -1)  # (N, K)
        k = o.shape[1]
        rows = []
        for i in range(k):  # loss Hessian in the outputs, row i: (N, K)
            hi = None
            if g.requires_grad:
                (hi,) = torch.autograd.grad(g[:, i].sum(), ol, retain_graph=True,
                                            create_graph=create_graph, allow_unused=True)
            rows.append(torch.zeros_like(o) if hi is None else hi.reshape(n, -1))
        hess = torch.stack(rows, dim=1)  # (N, K, K)
        jac = []
        for i in range(k):  # Jacobian of the rest, row i: (N, H)
            (ji,) = torch.autograd.grad(o[:, i].sum(), hl, retain_graph=True,
                                        create_graph=create_graph, allow_unused=True)
            jac.append(torch.zeros_like(hl).reshape(n, -1) if ji is None else ji.reshape(n, -1))
        jac_t = torch.stack(jac, dim=1)  # (N, K, H)
        gram = jac_t @ jac_t.transpose(1, 2)  # (N, K, K): J_i · J_j
        val = (hess * gram).sum((1, 2))  # (N,) tr(Jᵀ H J)
    return reduce(sigma**2 / 2 * val, reduction)


# ------------------------------------------------------------------------------- weight noise
def _params(model: object) -> dict[str, torch.Tensor]:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (its parameters get the noise); got "
                        f"{type(model).__name__}.")
    params = {k: p for k, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise ValueError("model has no trainable parameters (requires_grad=True) to add noise "
                         "to.")
    return params


def weight_noise_loss(model: torch.nn.Module, loss: Callable[[torch.Tensor], torch.Tensor],
                      x: torch.Tensor, *, sigma: float, n_samples: int = 1,
                      antithetic: bool = False,
                      generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Monte-Carlo estimate of weight noise ``E_ε[loss(f_{θ+ε}(x))]``, ``ε ~ N(0, σ²I)`` on every
    trainable parameter (kexue.fm archive 7466; Hinton & van Camp 1993; Graves 2011).

    One noise draw is shared by the whole batch (the network is perturbed, not the examples).
    Draw ``s`` perturbs the parameters in ``model.named_parameters()`` order, each with
    ``randn(p.shape)`` from ``generator``; with ``antithetic=True`` it also evaluates ``θ − ε``.
    The model is evaluated with :func:`torch.func.functional_call`, so the result is
    differentiable in ``θ``.

    Args:
        model: the network ``x ↦ outputs``.
        loss: outputs → per-example loss ``(N,)`` or a scalar.
        x: inputs ``(N, ...)``.
        sigma: noise standard deviation ``≥ 0`` (in parameter units).
        n_samples: draws averaged ``≥ 1``.
        antithetic: also evaluate ``θ − ε`` for every draw.
        generator: ``torch.Generator`` or int seed; ``None``: torch's global RNG.

    Returns:
        ``loss``'s output averaged over the draws.

    Raises:
        TypeError: ``model`` not a module, ``loss`` not callable, bad ``generator``.
        ValueError: ``sigma < 0``, ``n_samples < 1``, no trainable parameters.
    """
    params = _params(model)
    check_callable(loss, "loss")
    check_batch(x)
    sigma = check_scale(sigma, "sigma", allow_zero=True)
    n_samples = check_count(n_samples, "n_samples")
    gen = check_generator(generator, device=x.device)
    total = None
    for _ in range(n_samples):
        noise = {k: draw_normal(tuple(p.shape), p, gen) for k, p in params.items()}
        for sign in ((1.0, -1.0) if antithetic else (1.0,)):
            moved = {k: p + (sign * sigma) * noise[k] for k, p in params.items()}
            value = loss(torch.func.functional_call(model, moved, (x,)))
            total = value if total is None else total + value
    return total / (n_samples * (2 if antithetic else 1))


def weight_noise_penalty(model: torch.nn.Module, loss: Callable[[torch.Tensor], torch.Tensor],
                         x: torch.Tensor, *, sigma: float, n_projections: int | None = None,
                         create_graph: bool = True,
                         generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Second-order term of weight noise, ``(σ²/2)·tr ∇²_θ L`` with ``L`` the batch mean of
    ``loss(f_θ(x))`` (kexue.fm archive 7466): ``E[L(θ+ε)] = L(θ) + (σ²/2)·tr ∇²_θ L + O(σ⁴)``.

    The Hessian trace measures the flatness of the minimum. Exact by default (one
    double-backward pass per parameter coordinate, ``P`` passes: for small models); with
    ``n_projections = m`` Hutchinson's estimate ``mean_j vⱼᵀ∇²L vⱼ`` with Rademacher ``vⱼ``.

    Args:
        model: the network; loss: outputs → per-example losses (or a scalar); x: inputs.
        sigma: noise standard deviation ``≥ 0``.
        n_projections: ``None`` (exact) or the number of Hutchinson probes ``≥ 1``.
        create_graph: keep the graph (to train on the penalty; needs third derivatives).
        generator: for the probes.

    Returns:
        Scalar tensor.

    Raises:
        TypeError, ValueError: as :func:`weight_noise_loss`; bad ``n_projections``.
    """
    params = _params(model)
    check_callable(loss, "loss")
    check_batch(x)
    sigma = check_scale(sigma, "sigma", allow_zero=True)
    if n_projections is not None:
        check_count(n_projections, "n_projections")
    gen = check_generator(generator, device=x.device)
    plist = list(params.values())
    with torch.enable_grad():
        value = loss(model(x)).mean()
        grads = torch.autograd.grad(value, plist, create_graph=True, allow_unused=True)
        pairs = [(p, g) for p, g in zip(plist, grads) if g is not None and g.requires_grad]
        tr = torch.zeros((), dtype=x.dtype, device=x.device)
        if n_projections is None:
            for p, g in pairs:
                gf = g.reshape(-1)
                for i in range(gf.numel()):
                    (hi,) = torch.autograd.grad(gf[i], p, retain_graph=True,
                                                create_graph=create_graph, allow_unused=True)
                    if hi is not None:
                        tr = tr + hi.reshape(-1)[i]
        else:
            for _ in range(n_projections):
                vs = [rademacher(tuple(p.shape), p, gen) for p, _ in pairs]
                dot = sum((g * v).sum() for (_, g), v in zip(pairs, vs))
                hvs = torch.autograd.grad(dot, [p for p, _ in pairs], retain_graph=True,
                                          create_graph=create_graph, allow_unused=True)
                tr = tr + sum((hv * v).sum() for hv, v in zip(hvs, vs) if hv is not None)
            tr = tr / n_projections
    return sigma**2 / 2 * tr
