"""Classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598) as a score-model adapter.

A class-conditional ε-network trained with its labels dropped to a "null" class ``∅`` with
probability ``p_uncond`` (:func:`drop_labels`) is both a conditional model ``ε(x, t, c)`` and an
unconditional one ``ε(x, t, ∅)``. Guidance samples with

    ε̃(x, t, c) = (1 + w) ε(x, t, c) − w ε(x, t, ∅)          (Ho & Salimans, eq. 6)

i.e. the score ``s̃ = −ε̃/s_t = ∇log p_t(x|c) + w ∇log p_t(c|x)`` of ``p_t(x|c) p_t(c|x)^w``
(an implicit classifier). Conventions: Ho & Salimans' guidance **weight** ``w`` is the API here —
``w = 0`` is the conditional model, ``w = −1`` the unconditional one, ``w > 0`` sharpens towards
the class. GLIDE (Nichol et al. 2021, arXiv:2112.10741) and most libraries (diffusers'
``guidance_scale``) write the same thing with the **scale** ``s = 1 + w``:
``ε̃ = ε(x, ∅) + s (ε(x, c) − ε(x, ∅))``, so ``s = 1`` is conditional and ``s = 0``
unconditional; pass ``w = s − 1``.

:func:`guided` wraps the model once (STYLE: adapters, not branches): the result has the
interface of a :class:`ScoreModel` (``eps(x, t)``, ``__call__(x, t)`` the score, ``sde``), so every
sampler of :func:`kexue.diffusion.sample`, :func:`kexue.diffusion.sample_n` (with one class for all
rows) and :func:`kexue.diffusion.inpaint` uses guidance without knowing about it.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..rng import as_generator
from ._net_parts import _time_vector, per_row
from ._nets import marginal_coefs

__all__ = ["Guided", "guided", "drop_labels"]


def _null_class(model: Any, null_class: int | None) -> int:
    if null_class is None:
        null_class = getattr(model, "num_classes", None)
    if null_class is None:
        raise TypeError(
            f"model must be class-conditional (a ScoreModel around a network built with "
            f"num_classes=K, e.g. UNet(..., num_classes=10)); {type(model).__name__} has no "
            "num_classes. Pass null_class=... for another conditional model.")
    if isinstance(null_class, bool) or not isinstance(null_class, int) or null_class < 1:
        raise ValueError(f"null_class must be an int >= 1 (the number of classes K); got "
                         f"{null_class!r}")
    return null_class


def drop_labels(labels: torch.Tensor, p_uncond: float,
                generator: torch.Generator | int | None = None, *,
                null_class: int) -> torch.Tensor:
    """Replace each label by the null class with probability ``p_uncond``: the label dropout of
    classifier-free guidance training (Ho & Salimans 2022, arXiv:2207.12598, Algorithm 1; they
    use ``p_uncond`` 0.1–0.2).

    Draws ``u ~ U[0, 1)`` per label (one ``torch.rand(batch)``, on ``labels``' device) and sets
    ``labels[u < p_uncond] = null_class``. With ``p_uncond = 0`` nothing is drawn and the labels
    come back unchanged (a copy); with ``p_uncond = 1`` all become null (nothing drawn either).

    Args:
        labels: ``(batch,)`` int64 class labels.
        p_uncond: probability in ``[0, 1]``.
        generator: following :mod:`kexue.rng`: a ``torch.Generator`` on ``labels``' device, an
            int seed (a new generator there), or ``None`` (PyTorch's default generator).
        null_class: the null label, the model's ``num_classes`` ``K``.

    Returns:
        ``(batch,)`` int64, a new tensor.

    Raises:
        ValueError: ``labels`` not a ``(batch,)`` int64 tensor, ``p_uncond`` outside ``[0, 1]``,
            ``null_class`` not a positive int.
    """
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long or labels.ndim != 1:
        got = (f"shape {tuple(labels.shape)} and dtype {labels.dtype}"
               if isinstance(labels, torch.Tensor) else type(labels).__name__)
        raise ValueError(f"labels must be an int64 tensor of shape (batch,); got {got}")
    if isinstance(p_uncond, bool) or not isinstance(p_uncond, (int, float)) \
            or not (0.0 <= p_uncond <= 1.0):
        raise ValueError(f"p_uncond must be a probability in [0, 1]; got {p_uncond!r}")
    if isinstance(null_class, bool) or not isinstance(null_class, int) or null_class < 1:
        raise ValueError(f"null_class must be an int >= 1 (the number of classes K); got "
                         f"{null_class!r}")
    if p_uncond == 0:
        return labels.clone()
    if p_uncond == 1:
        return torch.full_like(labels, null_class)
    gen = as_generator(generator, device=labels.device)
    u = torch.rand(labels.shape, generator=gen, dtype=torch.float64, device=labels.device)
    return torch.where(u < p_uncond, torch.full_like(labels, null_class), labels)


class Guided:
    """A class-conditional score model with classifier-free guidance, behind the interface of a
    :class:`ScoreModel`: ``eps(x, t)`` is ``ε̃ = (1 + w) ε(x, t, c) − w ε(x, t, ∅)`` and
    ``guided(x, t)`` the score ``−ε̃/s_t`` (Ho & Salimans 2022, arXiv:2207.12598). Build it with
    :func:`guided`.

    The two branches run as one batched forward pass of ``2·batch`` rows (``[x; x]`` with
    labels ``[c; ∅]``). For ``w = 0`` only the conditional branch is evaluated and for
    ``w = −1`` only the unconditional one, so those are the conditional and unconditional models
    exactly, at the cost of one pass.

    Attributes:
        model: the wrapped conditional model (``model.eps(x, t, labels=...)``, ``model.sde``).
        labels: ``(batch,)`` int64, or an int (one class for every row).
        w: the guidance weight (Ho & Salimans' ``w``; GLIDE's scale is ``1 + w``).
        null_class: the null label ``K``.
        sde: ``model.sde``.
    """

    def __init__(self, model: Any, labels: torch.Tensor | int, w: float, *,
                 null_class: int | None = None) -> None:
        if not callable(getattr(model, "eps", None)):
            raise TypeError(f"model must have eps(x, t, labels=...) (a ScoreModel around a "
                            f"class-conditional network); got {type(model).__name__}")
        sde = getattr(model, "sde", None)
        if not callable(getattr(sde, "marginal", None)):
            raise TypeError("model.sde must have marginal(t) -> (mean_coef, std) to turn the "
                            "guided noise prediction into a score")
        self.null_class = _null_class(model, null_class)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
            raise ValueError(f"w must be a finite number (guidance weight; w = 0 conditional, "
                             f"w = -1 unconditional, GLIDE scale s = 1 + w); got {w!r}")
        k = self.null_class
        if isinstance(labels, int) and not isinstance(labels, bool):
            if not (0 <= labels < k):
                raise ValueError(f"labels must be classes in 0..{k - 1}; got the unknown class "
                                 f"{labels} (the null class {k} is what w = -1 selects)")
        elif isinstance(labels, torch.Tensor) and labels.dtype == torch.long \
                and labels.ndim == 1 and labels.numel() >= 1:
            bad = labels[(labels < 0) | (labels >= k)]            # one host sync, here only
            if bad.numel():
                raise ValueError(f"labels must be classes in 0..{k - 1}; got the unknown class "
                                 f"{int(bad[0])} (the null class {k} is what w = -1 selects)")
        else:
            got = (f"shape {tuple(labels.shape)} and dtype {labels.dtype}"
                   if isinstance(labels, torch.Tensor) else type(labels).__name__)
            raise ValueError(f"labels must be an int class or an int64 tensor of shape (batch,);"
                             f" got {got}")
        self.model, self.labels, self.w, self.sde = model, labels, float(w), sde
        self.num_classes = k

    def _labels(self, b: int, device: torch.device) -> torch.Tensor:
        if isinstance(self.labels, int):
            return torch.full((b,), self.labels, dtype=torch.long, device=device)
        if self.labels.shape[0] != b:
            raise ValueError(f"labels have {self.labels.shape[0]} rows but x has {b}; pass one "
                             "label per row of x (or an int class for all rows)")
        return self.labels.to(device)

    def eps(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        """Guided noise prediction ``ε̃(x, t)``, ``x``'s shape (``x (batch, *shape)``)."""
        b = x.shape[0]
        tv = _time_vector(t, b, x)                                   # (batch,)
        cond = self._labels(b, x.device)                             # (batch,)
        if self.w == 0.0:
            return self.model.eps(x, tv, labels=cond)
        null = torch.full_like(cond, self.null_class)
        if self.w == -1.0:
            return self.model.eps(x, tv, labels=null)
        e = self.model.eps(torch.cat([x, x]), torch.cat([tv, tv]),
                           labels=torch.cat([cond, null]))           # (2·batch, *shape)
        e_c, e_u = e[:b], e[b:]
        return (1.0 + self.w) * e_c - self.w * e_u

    def __call__(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        """Guided score ``−ε̃(x, t)/s_t``, ``x``'s shape."""
        tv = _time_vector(t, x.shape[0], x)
        _, s = marginal_coefs(self.sde, tv)                          # (batch,)
        eps = self.eps(x, tv)
        return -eps / per_row(s, eps)

    def __repr__(self) -> str:
        lab = self.labels if isinstance(self.labels, int) else f"<{self.labels.shape[0]} labels>"
        return f"Guided(w={self.w:g}, labels={lab}, null_class={self.null_class})"


def guided(model: Any, labels: torch.Tensor | int, w: float, *,
           null_class: int | None = None) -> Guided:
    """Classifier-free guidance of a class-conditional score model (Ho & Salimans 2022,
    arXiv:2207.12598): ``ε̃ = (1 + w) ε(x, t, c) − w ε(x, t, ∅)``, as an adapter that every
    sampler takes in place of a score model.

    ``w`` is Ho & Salimans' guidance weight: ``w = 0`` gives the conditional model, ``w = −1``
    the unconditional one, ``w > 0`` stronger class adherence (they find ``w`` ≈ 0.1–0.3 best
    for FID, larger ``w`` for IS). GLIDE's / diffusers' ``guidance_scale`` is ``s = 1 + w``.

    Example::

        model = ScoreModel(UNet(1, num_classes=10), VPSDE())
        x, info = sample(guided(model, labels, w=0.5), sde, x_T, method="dpmpp_2m", steps=30)

    Args:
        model: a :class:`ScoreModel` around a class-conditional network (``num_classes = K``),
            or any object with ``eps(x, t, labels=...)``, ``sde`` and ``num_classes``.
        labels: ``(batch,)`` int64 classes in ``0 … K−1`` (one per row of the states to be
            sampled), or an int class for every row (works with any batch, e.g.
            :func:`kexue.diffusion.sample_n`'s blocks).
        w: guidance weight (a finite float; negative values interpolate towards, and below
            ``−1`` past, the unconditional model).
        null_class: the null label; default ``model.num_classes``.

    Returns:
        A :class:`Guided` with ``eps(x, t)``, ``__call__(x, t)`` (the score) and ``sde``.

    Raises:
        TypeError: ``model`` without ``eps``/``sde``, or not class-conditional.
        ValueError: a label outside ``0 … K−1`` (the message names it), labels not int64
            ``(batch,)``, ``w`` not finite.
    """
    return Guided(model, labels, w, null_class=null_class)
