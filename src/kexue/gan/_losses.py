"""Adversarial losses: GAN-QP, BiGAN-QP, and the WGAN-GP / standard-GAN baselines.

GAN-QP (Su Jianlin, kexue.fm archive 6163; arXiv:1811.07296) writes the critic objective directly
in the dual space,

    max_T  E[ ΔT − ΔT² / (2 λ d(x_r, x_f)) ],   ΔT = T(x_r) − T(x_f),

over real/fake pairs ``(x_r, x_f)`` drawn element by element, with ``d`` a per-dimension *mean*
distance (so ``λ = 10`` works at any resolution). The generator minimises ``E[T(x_r) − T(G(z))]``.
No clipping, no gradient penalty, no spectral norm. BiGAN-QP (kexue.fm archive 6214) plays the
same game on joint pairs ``(x, E(x))`` vs ``(G(z), z)`` and adds two stop-gradient
reconstruction terms. Baselines: WGAN-GP (Gulrajani et al., arXiv:1704.00028) and the standard
GAN (Goodfellow et al., 2014), saturating or non-saturating.

Sign convention: every function here returns losses to **minimise**. The critic *maximises* the
GAN-QP objective, so :func:`qp_critic_loss` returns its negative,
``mean(−ΔT + ΔT² / (2 λ d))`` (the source of confusion in bojone/gan-qp issue #3).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DISTANCES", "pair_distance", "qp_critic_loss", "qp_generator_loss", "GANLosses",
           "BiGANLosses", "sgan_losses", "wgan_gp_losses", "gradient_penalty",
           "bigan_qp_losses"]

Distance = str | Callable[[Tensor, Tensor], Tensor]


def _l1(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).abs().flatten(1).mean(dim=1)  # (batch,)


def _l2(a: Tensor, b: Tensor) -> Tensor:
    return (a - b).pow(2).flatten(1).mean(dim=1).sqrt()  # (batch,)


#: The built-in per-dimension mean distances ``d(x_r, x_f)`` (each maps two ``(batch, ...)``
#: tensors to ``(batch,)``): ``"l1"`` = mean |x_r − x_f|, ``"l2"`` = sqrt(mean (x_r − x_f)²).
DISTANCES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"l1": _l1, "l2": _l2}


def _check_lam(lam: float, name: str = "lam") -> None:
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not (
            lam > 0 and math.isfinite(lam)):
        raise ValueError(f"{name} must be a positive finite number (the article uses 10); "
                         f"got {lam!r}")


def _flat_scores(t: Tensor, name: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of critic outputs; got {type(t).__name__}")
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 1:
        raise ValueError(f"{name} must have shape (batch,) or (batch, 1); got {tuple(t.shape)}")
    return t


def _same_batch(**tensors: Tensor) -> int:
    sizes = {k: int(v.shape[0]) for k, v in tensors.items() if v is not None}
    if len(set(sizes.values())) > 1:
        detail = ", ".join(f"{k}: {n}" for k, n in sizes.items())
        raise ValueError(f"real and fake batches must be paired element by element, so their "
                         f"batch sizes must match; got {detail}")
    return next(iter(sizes.values()))


def pair_distance(x_real: Tensor, x_fake: Tensor, distance: Distance = "l1") -> Tensor:
    """Per-pair distance ``d(x_r, x_f)`` used by GAN-QP (kexue.fm 6163), a per-dimension mean.

    Args:
        x_real, x_fake: ``(batch, ...)`` paired samples.
        distance: ``"l1"`` (mean |Δ|), ``"l2"`` (sqrt of mean Δ²) or a callable
            ``(x_real, x_fake) -> (batch,)``.

    Returns:
        ``(batch,)`` non-negative distances.

    Raises:
        ValueError: unknown distance name (the message lists the valid ones), mismatched shapes.
    """
    if isinstance(distance, str):
        if distance not in DISTANCES:
            raise ValueError(f"unknown distance {distance!r}; valid: "
                             f"{', '.join(repr(k) for k in DISTANCES)} or a callable "
                             "(x_real, x_fake) -> (batch,)")
        fn = DISTANCES[distance]
    elif callable(distance):
        fn = distance
    else:
        raise TypeError(f"distance must be 'l1', 'l2' or a callable; got {type(distance).__name__}")
    if x_real.shape != x_fake.shape:
        raise ValueError(f"x_real and x_fake must have the same shape (paired samples); got "
                         f"{tuple(x_real.shape)} and {tuple(x_fake.shape)}")
    d = fn(x_real, x_fake)
    if d.shape != (x_real.shape[0],):
        raise ValueError(f"distance must return shape (batch,) = ({x_real.shape[0]},); "
                         f"got {tuple(d.shape)}")
    return d


def qp_critic_loss(t_real: Tensor, t_fake: Tensor, x_real: Tensor, x_fake: Tensor, *,
                   lam: float = 10.0, distance: Distance = "l1", eps: float = 1e-8,
                   weights: Tensor | None = None) -> Tensor:
    """GAN-QP critic loss (kexue.fm 6163; arXiv:1811.07296), to **minimise**.

    The critic maximises ``E[ΔT − ΔT²/(2λ d)]``; this returns its negative::

        mean( −ΔT + ΔT² / (2 λ max(d, eps)) ),   ΔT = t_real − t_fake,  d = d(x_r, x_f)

    ``d`` is computed on detached samples: it is a fixed weight of the quadratic potential (the
    critic's parameters do not enter it), and detaching keeps the ``"l2"`` distance differentiable
    when a fake equals its real partner (``d = 0``, where ``sqrt`` has no derivative).

    Args:
        t_real: ``(batch,)`` or ``(batch, 1)`` critic values on the real samples (for a pairwise
            critic, ``T(x_r, x_f)``).
        t_fake: same shape, critic values on the paired fakes (``T(x_f, x_r)``).
        x_real, x_fake: ``(batch, ...)`` the paired samples, for ``d``.
        lam: λ > 0, the scale of the quadratic potential (10 in the article and code).
        distance: ``"l1"``, ``"l2"`` or a callable ``(x_real, x_fake) -> (batch,)``.
        eps: floor of ``d`` in the denominator (``d → 0`` late in training).
        weights: optional ``(batch,)`` non-negative pair weights summing to 1 (an exact
            expectation over a discrete distribution of pairs); default uniform.

    Returns:
        Scalar loss.

    Raises:
        ValueError: mismatched batch sizes, ``lam <= 0``, ``eps <= 0``, unknown distance.
    """
    _check_lam(lam)
    if not eps > 0:
        raise ValueError(f"eps must be > 0 (floor of d in the denominator); got {eps}")
    t_real, t_fake = _flat_scores(t_real, "t_real"), _flat_scores(t_fake, "t_fake")
    _same_batch(t_real=t_real, t_fake=t_fake, x_real=x_real, x_fake=x_fake, weights=weights)
    d = pair_distance(x_real.detach(), x_fake.detach(), distance)  # (batch,)
    dt = t_real - t_fake  # (batch,)
    per_pair = -dt + dt.pow(2) / (2.0 * lam * d.clamp_min(eps))  # (batch,)
    if weights is None:
        return per_pair.mean()
    return (weights.to(per_pair.dtype) * per_pair).sum()


def qp_generator_loss(t_real: Tensor, t_fake: Tensor, x_real: Tensor | None = None,
                      x_fake: Tensor | None = None, *, lam: float = 10.0,
                      distance: Distance = "l1", eps: float = 1e-8,
                      normalized: bool = False) -> Tensor:
    """GAN-QP generator loss (kexue.fm 6163; arXiv:1811.07296), to minimise: ``mean(ΔT)``.

    ``ΔT = T(x_r) − T(G(z))``; only the second term depends on the generator, so its gradient is
    the WGAN generator gradient. With the optimal critic on disjoint supports, ``ΔT* = λ d`` and the
    loss becomes ``λ E[d(x_r, G(z))]``, whose gradient does not vanish.

    Args:
        t_real, t_fake: ``(batch,)`` or ``(batch, 1)`` critic values.
        x_real, x_fake, lam, distance, eps: used only with ``normalized=True``.
        normalized: the optional variant ``mean(ΔT / (λ max(d, eps)))`` (off by default, as in the
            article and code).

    Returns:
        Scalar loss.
    """
    t_real, t_fake = _flat_scores(t_real, "t_real"), _flat_scores(t_fake, "t_fake")
    _same_batch(t_real=t_real, t_fake=t_fake)
    dt = t_real - t_fake  # (batch,)
    if not normalized:
        return dt.mean()
    _check_lam(lam)
    if x_real is None or x_fake is None:
        raise ValueError("normalized=True needs x_real and x_fake to compute d")
    _same_batch(t_real=t_real, x_real=x_real, x_fake=x_fake)
    d = pair_distance(x_real.detach(), x_fake.detach(), distance)
    return (dt / (lam * d.clamp_min(eps))).mean()


class GANLosses(NamedTuple):
    """A critic loss and a generator loss, both scalars to minimise (``None`` if not computed).

    Source: GAN-QP (kexue.fm archive 6163, arXiv:1811.07296); baselines WGAN-GP (arXiv:1704.00028)
    and the standard GAN (Goodfellow et al. 2014).
    """

    critic: Tensor | None
    generator: Tensor | None


def sgan_losses(t_real: Tensor, t_fake: Tensor, *, saturating: bool = False) -> GANLosses:
    """Standard GAN losses on logits (Goodfellow et al., NeurIPS 2014, arXiv:1406.2661).

    Critic (discriminator): ``−log σ(t_r) − log(1 − σ(t_f))``. Generator: non-saturating
    ``−log σ(t_f)`` (default), or the saturating minimax form ``log(1 − σ(t_f))``, whose gradient
    vanishes when the discriminator confidently rejects the fakes.

    Args:
        t_real, t_fake: ``(batch,)`` or ``(batch, 1)`` logits.

    Returns:
        :class:`GANLosses`.
    """
    t_real, t_fake = _flat_scores(t_real, "t_real"), _flat_scores(t_fake, "t_fake")
    _same_batch(t_real=t_real, t_fake=t_fake)
    critic = F.softplus(-t_real).mean() + F.softplus(t_fake).mean()
    generator = -F.softplus(t_fake).mean() if saturating else F.softplus(-t_fake).mean()
    return GANLosses(critic, generator)


def gradient_penalty(critic: Callable[[Tensor], Tensor], x_real: Tensor, x_fake: Tensor, *,
                     generator: torch.Generator | None = None, u: Tensor | None = None
                     ) -> Tensor:
    """WGAN-GP two-sided penalty ``mean((‖∇T(x̂)‖₂ − 1)²)`` on random interpolates
    ``x̂ = u x_r + (1 − u) x_f``, ``u ~ U(0, 1)`` per sample (Gulrajani et al., arXiv:1704.00028).

    Built with ``create_graph=True`` (the double backprop that makes WGAN-GP's critic step costly).
    ``u`` (``(batch, 1, …)``) gives the interpolation weights instead of drawing them (a process
    of a data-parallel job takes its slice of the global batch's weights).
    """
    u_shape = (x_real.shape[0],) + (1,) * (x_real.ndim - 1)
    if u is None:
        u = torch.rand(u_shape, generator=generator, dtype=x_real.dtype, device=x_real.device)
    elif tuple(u.shape) != u_shape:
        raise ValueError(f"u must have shape {u_shape} (one weight per sample); got "
                         f"{tuple(u.shape)}")
    x_hat = (u * x_real.detach() + (1 - u) * x_fake.detach()).requires_grad_(True)
    out = critic(x_hat).sum()
    (grad,) = torch.autograd.grad(out, x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1.0).pow(2).mean()


def wgan_gp_losses(critic: Callable[[Tensor], Tensor], x_real: Tensor, x_fake: Tensor, *,
                   penalty: float = 10.0, generator: torch.Generator | None = None,
                   part: str = "both", u: Tensor | None = None) -> GANLosses:
    """WGAN-GP losses (Gulrajani et al., NeurIPS 2017, arXiv:1704.00028).

    Critic: ``mean(T(x_f)) − mean(T(x_r)) + penalty · mean((‖∇T(x̂)‖ − 1)²)``;
    generator: ``−mean(T(x_f))``.

    Args:
        critic: ``(batch, ...) -> (batch,)`` or ``(batch, 1)``.
        x_real, x_fake: ``(batch, ...)``.
        penalty: the gradient-penalty weight (10 in the paper); ``0`` is plain WGAN.
        generator: RNG of the interpolation weights.
        part: ``"both"``, ``"critic"`` (skips the generator term) or ``"generator"`` (skips the
            penalty, the costly part).
        u: the interpolation weights, instead of drawing them (see :func:`gradient_penalty`).

    Returns:
        :class:`GANLosses` (the skipped part is ``None``).
    """
    if part not in ("both", "critic", "generator"):
        raise ValueError(f"part must be 'both', 'critic' or 'generator'; got {part!r}")
    if isinstance(penalty, bool) or not penalty >= 0:
        raise ValueError(f"penalty must be >= 0 (10 in Gulrajani et al.); got {penalty!r}")
    _same_batch(x_real=x_real, x_fake=x_fake)
    c_loss = g_loss = None
    if part in ("both", "critic"):
        t_real = _flat_scores(critic(x_real), "critic(x_real)")
        t_fake = _flat_scores(critic(x_fake.detach()), "critic(x_fake)")
        c_loss = t_fake.mean() - t_real.mean()
        if penalty > 0:
            c_loss = c_loss + penalty * gradient_penalty(critic, x_real, x_fake,
                                                         generator=generator, u=u)
    if part in ("both", "generator"):
        g_loss = -_flat_scores(critic(x_fake), "critic(x_fake)").mean()
    return GANLosses(c_loss, g_loss)


class BiGANLosses(NamedTuple):
    """BiGAN-QP losses (scalars to minimise; ``None`` where not computed).

    Source: BiGAN-QP (kexue.fm archive 6214).

    Attributes:
        critic: the GAN-QP critic loss on joint pairs.
        generator: the G/E loss ``mean(ΔT) + β1·latent_rec + β2·image_rec``.
        latent_rec: ``mean ‖z − E(sg G(z))‖²`` (per-dimension mean).
        image_rec: ``mean ‖x − G(sg E(x))‖²`` (per-dimension mean).
    """

    critic: Tensor | None
    generator: Tensor | None
    latent_rec: Tensor | None
    image_rec: Tensor | None


def bigan_qp_losses(critic: Callable[[Tensor, Tensor], Tensor],
                    encoder: Callable[[Tensor], Tensor], generator: Callable[[Tensor], Tensor],
                    x: Tensor, z: Tensor, *, lam: float = 10.0, beta1: float = 2.0,
                    beta2: float = 3.0, distance: Distance = "l1", eps: float = 1e-8,
                    stop_gradient: bool = True, part: str = "both") -> BiGANLosses:
    """BiGAN-QP losses (Su Jianlin, kexue.fm archive 6214; merged into arXiv:1811.07296).

    The GAN-QP game on joint pairs: ``ΔT = T(x, E(x)) − T(G(z), z)`` with
    ``d = d(x, G(z)) + d(E(x), z)`` (per-dimension means, summed, as in the reference code).
    Critic loss (to minimise) ``mean(−ΔT + ΔT²/(2λ max(d, eps)))`` on detached ``E(x)``, ``G(z)``;
    generator/encoder loss::

        mean(ΔT) + β1 · mean‖z − E(sg G(z))‖² + β2 · mean‖x − G(sg E(x))‖²

    where ``sg`` is stop-gradient: the generator gets no gradient from the latent term and the
    encoder none from the image term (the article's fix for the blur caused by the coupled MSE
    terms). ``stop_gradient=False`` is the article's first, blurrier version.

    Args:
        critic: ``(x (batch, Dx), z (batch, Dz)) -> (batch,)`` or ``(batch, 1)``.
        encoder: ``(batch, Dx) -> (batch, Dz)``; generator: ``(batch, Dz) -> (batch, Dx)``.
        x: ``(batch, Dx)`` real data; z: ``(batch, Dz)`` prior samples (paired by row).
        lam, distance, eps: as in :func:`qp_critic_loss`.
        beta1, beta2: weights of the latent and image reconstruction terms (article: 2 and 3 at
            128 px); ``>= 0``.
        stop_gradient: put the stop-gradients where the article puts them.
        part: ``"both"``, ``"critic"`` or ``"generator"``.

    Returns:
        :class:`BiGANLosses`.
    """
    _check_lam(lam)
    if part not in ("both", "critic", "generator"):
        raise ValueError(f"part must be 'both', 'critic' or 'generator'; got {part!r}")
    for name, b in (("beta1", beta1), ("beta2", beta2)):
        if isinstance(b, bool) or not b >= 0:
            raise ValueError(f"{name} must be >= 0; got {b!r}")
    _same_batch(x=x, z=z)
    if isinstance(distance, str) and distance not in DISTANCES:
        pair_distance(x[:1], x[:1], distance)  # raises with the list of valid names
    ex = encoder(x)  # (batch, Dz)
    gz = generator(z)  # (batch, Dx)
    c_loss = g_loss = lat = img = None
    if part in ("both", "critic"):
        exd, gzd = ex.detach(), gz.detach()
        d = (pair_distance(x, gzd, distance) + pair_distance(exd, z, distance))  # (batch,)
        dt = (_flat_scores(critic(x, exd), "critic(x, E(x))")
              - _flat_scores(critic(gzd, z), "critic(G(z), z)"))  # (batch,)
        c_loss = (-dt + dt.pow(2) / (2.0 * lam * d.detach().clamp_min(eps))).mean()
    if part in ("both", "generator"):
        dt = (_flat_scores(critic(x, ex), "critic(x, E(x))")
              - _flat_scores(critic(gz, z), "critic(G(z), z)"))
        gz_in = gz.detach() if stop_gradient else gz
        ex_in = ex.detach() if stop_gradient else ex
        lat = (z - encoder(gz_in)).pow(2).mean()
        img = (x - generator(ex_in)).pow(2).mean()
        g_loss = dt.mean() + beta1 * lat + beta2 * img
    return BiGANLosses(c_loss, g_loss, lat, img)
