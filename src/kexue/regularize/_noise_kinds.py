"""Noise in the hidden layer, the weights, the output, and multiplicative (dropout) noise, each with
the penalty it stands for (kexue.fm archive 7466, "noise can go into the input, a hidden layer, the
weights θ or the output y"; Wager, Wang & Liang 2013, arXiv:1307.1493, for dropout).

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
* **Output.** For cross-entropy, replacing the label with a uniformly drawn class with
  probability ``ε`` is label smoothing *exactly*: cross-entropy is linear in the target, so
  ``E[CE(z, ỹ)] = CE(z, (1 − ε)·onehot(y) + ε/C)``. (Zero-mean additive noise on a one-hot ``y``
  does nothing at all in expectation, for the same reason.)
* **Dropout.** Multiplicative noise ``x ⊙ ξ`` with ``E ξ = 1``, ``Var ξ = δ = p/(1 − p)``
  (inverted Bernoulli dropout ``ξ = b/(1 − p)``, ``b ~ Bernoulli(1 − p)``, or uniform
  ``ξ ~ U(1 − a, 1 + a)``, ``a = √(3δ)``). For a GLM with log-partition ``A`` the expected loss is
  the loss plus ``E[A(x̃·β)] − A(x·β) ≈ ½·δ·A''(x·β)·Σ_j x_j²β_j²`` (Wager et al. 2013 for
  logistic regression; the softmax version uses ``W_jᵀ(diag π − ππᵀ)W_j``). The remainder is of
  third order in the size of the per-feature contributions ``x_jβ_j`` (fourth order for a
  symmetric ξ, e.g. uniform or ``p = ½``), not in ``p``: at fixed weights all moments of Bernoulli
  noise are ``O(p)``, so the approximation does not improve as ``p → 0``.
"""

from __future__ import annotations

import math
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
           "weight_noise_penalty", "smooth_labels", "label_smoothing_loss", "output_noise_loss",
           "dropout_mask", "dropout_loss", "dropout_penalty", "DROPOUT_KINDS",
           "HIDDEN_PENALTY_FORMS"]

DROPOUT_KINDS = ("bernoulli", "uniform")
HIDDEN_PENALTY_FORMS = ("laplacian", "gauss-newton")


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p must be a real number in [0, 1) (the drop rate); got "
                        f"{type(p).__name__}. Pass e.g. p=0.2.")
    v = float(p)
    if not (math.isfinite(v) and 0.0 <= v < 1.0):
        raise ValueError(f"p must be a drop rate in [0, 1); got {p}. p = 1 drops everything "
                         "(the inverted-dropout scale 1/(1 − p) is infinite); use p < 1.")
    return v


def _check_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a real number in [0, 1]; got {type(eps).__name__}.")
    v = float(eps)
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise ValueError(f"eps must be a probability in [0, 1] (the chance that the label is "
                         f"redrawn uniformly); got {eps}.")
    return v


def _check_kind(kind: object) -> str:
    if kind not in DROPOUT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DROPOUT_KINDS)}; got {kind!r}.")
    return kind  # type: ignore[return-value]



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


# ------------------------------------------------------------------- output noise (labels)
def _check_labels(labels: object, n_classes: int, n: int | None = None) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dim() != 1:
        got = (f"tensor of {labels.dtype} and shape {tuple(labels.shape)}"
               if isinstance(labels, torch.Tensor) else type(labels).__name__)
        raise TypeError(f"labels must be an integer tensor of class indices, shape (N,); got "
                        f"{got}.")
    if n is not None and labels.shape[0] != n:
        raise ValueError(f"labels must have one entry per row of logits (N={n}); got "
                         f"{labels.shape[0]}.")
    if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}; got values in "
                         f"{labels.min().item()}..{labels.max().item()}.")
    return labels


def _check_logits(logits: object) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() \
            or logits.dim() != 2 or logits.shape[1] < 2:
        got = (f"shape {tuple(logits.shape)}, {logits.dtype}"
               if isinstance(logits, torch.Tensor) else type(logits).__name__)
        raise ValueError(f"logits must be a floating tensor of shape (N, C) with C >= 2; got "
                         f"{got}.")
    return logits


def smooth_labels(labels: torch.Tensor, n_classes: int, *, eps: float,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Label-smoothed targets ``(1 − ε)·onehot(y) + ε/C``, ``(N, C)`` (Szegedy et al. 2016,
    arXiv:1512.00567): the mean of the noisy one-hot label when ``y`` is redrawn uniformly from
    the ``C`` classes with probability ``ε`` (kexue.fm archive 7466).

    Raises:
        TypeError: ``labels`` not an integer ``(N,)`` tensor.
        ValueError: labels out of range, ``eps ∉ [0, 1]``, ``n_classes < 2``.
    """
    n_classes = check_count(n_classes, "n_classes", minimum=2)
    labels = _check_labels(labels, n_classes)
    eps = _check_eps(eps)
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(dtype)  # (N, C)
    return (1 - eps) * onehot + eps / n_classes


def label_smoothing_loss(logits: torch.Tensor, labels: torch.Tensor, *, eps: float,
                         reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy against smoothed labels, ``−Σ_c q_c log π_c``, ``q = (1 − ε)·onehot + ε/C``;
    equal, exactly, to the expected cross-entropy under output noise (:func:`output_noise_loss`)
    and to ``(1 − ε)·CE + ε·mean_c(−log π_c)``.

    Source: Szegedy et al. 2016 (arXiv:1512.00567); noise on the output ``y`` as in kexue.fm archive
    7466.

    Args:
        logits: ``(N, C)``. labels: ``(N,)`` class indices. eps: smoothing ``∈ [0, 1]``.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"``.
    """
    logits = _check_logits(logits)
    reduction = check_reduction(reduction)
    q = smooth_labels(labels, logits.shape[1], eps=eps, dtype=logits.dtype)
    _check_labels(labels, logits.shape[1], logits.shape[0])
    return reduce(-(q * torch.log_softmax(logits, 1)).sum(1), reduction)


def output_noise_loss(logits: torch.Tensor, labels: torch.Tensor, *, eps: float,
                      n_samples: int = 1, generator: torch.Generator | int | None = None,
                      reduction: str = "mean") -> torch.Tensor:
    """Monte-Carlo cross-entropy under output (label) noise: each label is replaced, with
    probability ``ε``, by a class drawn uniformly from all ``C`` (kexue.fm archive 7466). Its
    expectation is :func:`label_smoothing_loss` exactly.

    Draw order: per sample, ``u = rand(N)`` then ``c = randint(C, (N,))``; the label is ``c``
    where ``u < ε``.

    Returns:
        Scalar, or ``(N,)`` for ``reduction="none"``; the average over ``n_samples`` draws.
    """
    logits = _check_logits(logits)
    n, c = logits.shape
    labels = _check_labels(labels, c, n)
    eps = _check_eps(eps)
    n_samples = check_count(n_samples, "n_samples")
    reduction = check_reduction(reduction)
    gen = check_generator(generator, device=logits.device)
    dev = logits.device if gen is None else gen.device
    logp = torch.log_softmax(logits, 1)  # (N, C)
    total = torch.zeros(n, dtype=logits.dtype, device=logits.device)
    for _ in range(n_samples):
        u = torch.rand(n, generator=gen, device=dev, dtype=logits.dtype).to(logits.device)
        other = torch.randint(0, c, (n,), generator=gen, device=dev).to(logits.device)
        noisy = torch.where(u < eps, other, labels)
        total = total - logp.gather(1, noisy[:, None])[:, 0]
    return reduce(total / n_samples, reduction)


# ----------------------------------------------------------------- multiplicative (dropout)
def dropout_mask(shape: tuple[int, ...], like: torch.Tensor, *, p: float,
                 kind: str = "bernoulli",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Multiplicative noise ``ξ`` with ``E ξ = 1`` and ``Var ξ = p/(1 − p)``, in ``like``'s dtype
    and device: ``"bernoulli"`` is inverted dropout ``b/(1 − p)``, ``b ~ Bernoulli(1 − p)``;
    ``"uniform"`` is ``U(1 − a, 1 + a)`` with ``a = √(3p/(1 − p))`` (same mean and variance).

    Source: Srivastava et al. 2014 (JMLR 15); its penalty reading: Wager, Wang and Liang 2013
    (arXiv:1307.1493), kexue.fm archive 7466.

    Draws ``u = rand(shape)`` from ``generator``: Bernoulli keeps ``u ≥ p``; uniform is
    ``1 + a·(2u − 1)``.
    """
    p = _check_p(p)
    kind = _check_kind(kind)
    dev = like.device if generator is None else generator.device
    u = torch.rand(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)
    if kind == "bernoulli":
        return (u >= p).to(like.dtype) / (1 - p)
    a = math.sqrt(3 * p / (1 - p))
    return 1 + a * (2 * u - 1)


def dropout_loss(loss_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, p: float,
                 kind: str = "bernoulli", n_samples: int = 1,
                 generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Monte-Carlo estimate of multiplicative-noise (dropout) loss ``E_ξ[ℓ(x ⊙ ξ)]``
    (Srivastava et al. 2014; kexue.fm archive 7466; Wager et al. 2013, arXiv:1307.1493), with
    ``ξ`` from :func:`dropout_mask` (one mask per draw, shape of ``x``).

    Args:
        loss_fn: batch ``(N, ...)`` → loss of any shape (per-example ``(N,)`` or scalar).
        x: inputs (or hidden activations) ``(N, ...)``.
        p: drop rate ``∈ [0, 1)``; ``Var ξ = p/(1 − p)``.
        kind: ``"bernoulli"`` | ``"uniform"``.
        n_samples: masks averaged ``≥ 1``.
        generator: ``torch.Generator`` or int seed; ``None``: torch's global RNG.

    Returns:
        ``loss_fn``'s output averaged over the masks (differentiable).

    Raises:
        TypeError: bad types. ValueError: ``p ∉ [0, 1)``, unknown ``kind``, ``n_samples < 1``.
    """
    check_callable(loss_fn, "loss_fn")
    check_batch(x)
    p = _check_p(p)
    kind = _check_kind(kind)
    n_samples = check_count(n_samples, "n_samples")
    gen = check_generator(generator, device=x.device)
    total = None
    for _ in range(n_samples):
        value = loss_fn(x * dropout_mask(tuple(x.shape), x, p=p, kind=kind, generator=gen))
        total = value if total is None else total + value
    return total / n_samples


def dropout_penalty(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
                    p: float, reduction: str = "mean") -> torch.Tensor:
    """Wager, Wang & Liang's quadratic dropout penalty for logistic / softmax regression
    (arXiv:1307.1493; kexue.fm archive 7466 calls dropout multiplicative noise).

    Binary (``weight`` of shape ``(D,)``, logit ``u = x·β + b``):
    ``R = ½·δ·A''(u)·Σ_j x_j²β_j²`` with ``A(u) = log(1 + eᵘ)``, ``A'' = s(1 − s)``.
    Softmax (``weight`` ``(C, D)``, logits ``z = xWᵀ + b``): ``R = ½·δ·Σ_j x_j² W_jᵀ(diag π −
    ππᵀ)W_j`` with ``W_j`` the column of feature ``j``. ``δ = p/(1 − p)``. Dropping features
    ``x ⊙ ξ`` changes the expected negative log-likelihood by ``E[A(z̃)] − A(z) ≈ R`` (the
    label term is linear in ``z`` and ``E z̃ = z``), so ``R`` needs no label.

    Args:
        x: features ``(N, D)``. weight: ``(D,)`` or ``(C, D)``. bias: scalar / ``(C,)`` or None.
        p: drop rate ``∈ [0, 1)``. reduction: ``"mean"`` | ``"sum"`` | ``"none"``.

    Returns:
        Scalar, or ``(N,)``; differentiable in ``weight``, ``bias`` (and ``x``).

    Raises:
        ValueError: shapes that do not match, ``p ∉ [0, 1)``, bad ``reduction``.
    """
    check_batch(x)
    p = _check_p(p)
    reduction = check_reduction(reduction)
    if x.dim() != 2:
        raise ValueError(f"x must be features of shape (N, D); got {tuple(x.shape)}.")
    if not isinstance(weight, torch.Tensor) or weight.dim() not in (1, 2) \
            or weight.shape[-1] != x.shape[1]:
        got = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"weight must have shape (D,) (logistic) or (C, D) (softmax) with "
                         f"D={x.shape[1]}; got {got}.")
    delta = p / (1 - p)
    if weight.dim() == 1:
        u = x @ weight + (0 if bias is None else bias)  # (N,)
        s = torch.sigmoid(u)
        pen = 0.5 * delta * s * (1 - s) * ((x * weight) ** 2).sum(1)
        return reduce(pen, reduction)
    z = x @ weight.T + (0 if bias is None else bias)  # (N, C)
    pi = torch.softmax(z, 1)  # (N, C)
    contrib = x[:, None, :] * weight[None]  # (N, C, D): x_j W_cj
    # Σ_j cⱼᵀ(diag π − ππᵀ)cⱼ = Σ_j [Σ_c π_c c_cj² − (Σ_c π_c c_cj)²]
    first = (pi[:, :, None] * contrib**2).sum((1, 2))
    second = ((pi[:, :, None] * contrib).sum(1) ** 2).sum(1)
    return reduce(0.5 * delta * (first - second), reduction)
