"""Score networks: MLP with Fourier time features, U-Nets for images, ε→score adapter.

The networks predict the noise ``ε`` of the Gaussian kernel ``x_t = a_t x0 + s_t ε``
(ε-parametrisation, Ho et al. 2020, arXiv:2006.11239); :class:`ScoreModel` turns that into the
score the samplers need, ``s_θ(x, t) = −ε_θ(c_in(t)·x, t) / s_t`` (Song et al., ICLR 2021,
arXiv:2011.13456; Su Jianlin, kexue.fm 9209: ``∇log p(x_t|x0) = −ε/β̄_t``). ``c_in(t) =
1/√(a_t² σ_data² + s_t²)`` scales the input to unit variance (as in EDM, Karras et al. 2022), so
one network works for VE (``s_t`` up to ``σ_max``) and VP/sub-VP (``a_t² + s_t² ≈ 1``).

Shapes: ``x`` is ``(batch, *shape)`` — flat ``(batch, D)`` or images ``(batch, C, H, W)`` — and
``t`` is ``(batch,)`` or a scalar; every network returns ``x``'s shape. :class:`MLPScoreNet`
flattens any trailing shape with ``D`` entries; :class:`UNet8` takes flat ``(batch, H·W)`` or
``(batch, 1, H, W)``; :class:`UNet` takes ``(batch, C, H, W)`` or its flat ``(batch, C·H·W)``.
Class-conditional networks (:class:`UNet` with ``num_classes``) take ``labels (batch,)`` as a
third argument, with the extra index ``num_classes`` as the "null" class of classifier-free
guidance (Ho & Salimans 2022, arXiv:2207.12598).

Devices: the networks are ordinary ``nn.Module``s (``.to(device)`` moves them); the constructors'
``device=`` builds the weights exactly as on the CPU with the same ``seed`` (initialisation draws
from a forked CPU generator) and then moves them, so a seed gives the same network everywhere.
Time features and the ε→score adapter follow the device of their inputs.

Networks carry a JSON-able ``spec`` (``{"kind": ..., **kwargs}``) so that a checkpoint can rebuild
them with :func:`net_from_spec`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ._net_parts import (
    FourierTimeFeatures,
    _check_pos_int,
    _init_rng,
    _place,
    _time_vector,
    per_row,
)
from ._unets import UNet, UNet8

__all__ = [
    "FourierTimeFeatures", "MLPScoreNet", "UNet8", "UNet", "ScoreModel", "net_from_spec",
    "NETS", "marginal_coefs", "per_row",
]


class MLPScoreNet(nn.Module):
    """MLP ε-predictor for low-dimensional data (2-D toys, 16-D mixtures).

    ``h_0 = W_in x + e(t)``, then ``depth`` residual layers ``h ← h + W_l SiLU(h) + U_l e(t)``,
    and a zero-initialised output layer (so ``ε_θ ≡ 0`` at initialisation), where ``e(t)`` is a
    two-layer embedding of :class:`FourierTimeFeatures`. The 3×128 default is the toy model of
    Song et al. (2021) scaled to a CPU.

    Args:
        dim: data dimension ``D``.
        hidden: width.
        depth: number of residual hidden layers.
        n_freq: Fourier frequencies of the time features.
        seed: seeds the weight initialisation (the global RNG is left as it was); ``None`` uses
            the global RNG like any ``nn.Module``.
        device: where the parameters live (built as on the CPU, then moved); default PyTorch's
            default device.

    Shapes: ``x`` ``(batch, D)``, ``t`` ``(batch,)`` → ``(batch, D)``; ``x`` of any shape
    ``(batch, *shape)`` with ``prod(shape) = D`` (e.g. images) is flattened and the output given
    back in that shape.
    """

    def __init__(self, dim: int, *, hidden: int = 128, depth: int = 3, n_freq: int = 16,
                 seed: int | None = None, device: torch.device | str | None = None):
        super().__init__()
        with _init_rng(seed):
            self._build(dim, hidden, depth, n_freq)
        _place(self, device)

    def _build(self, dim: int, hidden: int, depth: int, n_freq: int) -> None:
        _check_pos_int("dim", dim)
        _check_pos_int("hidden", hidden)
        _check_pos_int("depth", depth)
        self.spec = {"kind": "mlp", "dim": dim, "hidden": hidden, "depth": depth,
                     "n_freq": n_freq}
        self.dim = dim
        self.time = FourierTimeFeatures(n_freq)
        self.t_embed = nn.Sequential(nn.Linear(self.time.out_features, hidden), nn.SiLU(),
                                     nn.Linear(hidden, hidden))
        self.inp = nn.Linear(dim, hidden)
        self.layers = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(depth)])
        self.t_proj = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(depth)])
        self.out = nn.Linear(hidden, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.ndim > 2 and math.prod(x.shape[1:]) == self.dim:
            return self.forward(x.reshape(x.shape[0], self.dim), t).reshape(x.shape)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (batch, {self.dim}) or (batch, *shape) with "
                             f"{self.dim} entries per row; got {tuple(x.shape)}")
        t = _time_vector(t, x.shape[0], x)
        e = self.act(self.t_embed(self.time(t)))  # (batch, hidden)
        h = self.inp(x) + e  # (batch, hidden)
        for lin, proj in zip(self.layers, self.t_proj):
            h = h + lin(self.act(h)) + proj(e)
        return self.out(self.act(h))  # (batch, D)


NETS = {"mlp": MLPScoreNet, "unet8": UNet8, "unet": UNet}


def net_from_spec(spec: Mapping[str, Any], *, device: torch.device | str | None = None,
                  dtype: torch.dtype | None = None) -> nn.Module:
    """Rebuild a network from its ``spec`` (as stored in a checkpoint's metadata), on
    ``device`` (default PyTorch's default device) with parameters of ``dtype`` (default: the
    default dtype); load the weights afterwards."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in NETS:
        raise ValueError(f"unknown network kind {kind!r}; valid kinds: {', '.join(NETS)}")
    if kind == "mlp":
        net: nn.Module = MLPScoreNet(spec.pop("dim"), **spec)
    elif kind == "unet":
        spec["channels"] = tuple(spec["channels"])
        spec["image_size"] = tuple(spec["image_size"])
        net = UNet(spec.pop("in_channels"), **spec)
    else:
        if "image_shape" in spec:
            spec["image_shape"] = tuple(spec["image_shape"])
        net = UNet8(**spec)
    if dtype is not None:
        net.to(dtype)
    _place(net, device)
    return net


def marginal_coefs(sde: Any, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(a_t, s_t)`` of the kernel ``x_t = a_t x0 + s_t ε`` as ``(batch,)`` tensors like ``t``.

    Calls ``sde.marginal(t)`` (which may return floats, 0-d or ``(batch,)`` tensors).
    """
    a, s = sde.marginal(t)
    a = torch.as_tensor(a, dtype=t.dtype, device=t.device).expand_as(t)
    s = torch.as_tensor(s, dtype=t.dtype, device=t.device).expand_as(t)
    return a, s


def _unwrapped(net: Any) -> Any:
    """The network inside a wrapper such as DDP (``.module``), else ``net``."""
    inner = getattr(net, "module", None)
    return inner if isinstance(inner, nn.Module) else net


class ScoreModel(nn.Module):
    """Adapter from an ε-predicting network to the score ``s(x, t)`` that samplers call.

    ``eps(x, t) = net(c_in(t)·x, t)`` with ``c_in = 1/√(a_t² σ_data² + s_t²)``, and
    ``forward(x, t) = score(x, t) = −eps(x, t)/s_t`` — the ε-parametrisation of Ho et al. (2020)
    written for a continuous-time SDE (Song et al. 2021; kexue.fm 9209, ``s_θ = −ε_θ/β̄_t``).

    A class-conditional network (one with ``num_classes``, e.g. :class:`UNet`) is called as
    ``net(x, t, labels=labels)`` when ``labels`` are given; without them it sees the null class
    (the unconditional model). :func:`kexue.diffusion.guided` combines the two branches.

    Args:
        net: ``(x, t) -> ε̂`` (or ``(x, t, labels=...)``) with ``x`` ``(batch, *shape)``.
        sde: anything with ``marginal(t) -> (mean_coef, std)`` (``VPSDE``, ``VESDE``, ...).
        sigma_data: per-coordinate scale of the data used by ``c_in`` (1 is fine for data in
            [-1, 1]; about 1.4 for the radius-2 ring).

    Shapes: ``x`` ``(batch, *shape)`` (flat ``(batch, D)`` or images ``(batch, C, H, W)``);
    ``t`` scalar or ``(batch,)``; ``labels`` ``(batch,)`` int64 or ``None``; returns ``x``'s
    shape.
    """

    def __init__(self, net: nn.Module, sde: Any, *, sigma_data: float = 1.0):
        super().__init__()
        if not callable(getattr(sde, "marginal", None)):
            raise TypeError(f"sde must have marginal(t) -> (mean_coef, std); got {type(sde)}")
        if not (isinstance(sigma_data, (int, float)) and sigma_data > 0):
            raise ValueError(f"sigma_data must be a positive number; got {sigma_data!r}")
        self.net = net
        self.sde = sde
        self.sigma_data = float(sigma_data)

    @property
    def num_classes(self) -> int | None:
        """The network's number of classes ``K`` (its null label), ``None`` if unconditional."""
        return getattr(_unwrapped(self.net), "num_classes", None)

    def _eps_std(self, x: torch.Tensor, t: Any, labels: torch.Tensor | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        t = _time_vector(t, x.shape[0], x)
        a, s = marginal_coefs(self.sde, t)  # (batch,)
        c_in = torch.rsqrt(a**2 * self.sigma_data**2 + s**2)
        xin = x * per_row(c_in, x)  # (batch, *shape)
        if labels is None:
            return self.net(xin, t), s
        if self.num_classes is None:
            name = type(_unwrapped(self.net)).__name__
            raise TypeError(f"labels were given but the network ({name}) is not "
                            "class-conditional; build it with num_classes=K")
        return self.net(xin, t, labels=labels), s

    def eps(self, x: torch.Tensor, t: Any, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted noise ``ε̂(x, t[, labels])``, ``x``'s shape."""
        return self._eps_std(x, t, labels)[0]

    def forward(self, x: torch.Tensor, t: Any, labels: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Score ``s_θ(x, t[, labels]) = −ε̂/s_t``, ``x``'s shape."""
        eps, s = self._eps_std(x, t, labels)
        return -eps / per_row(s, eps)
