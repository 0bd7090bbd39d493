"""DCGAN-style convolutional generator, critic, encoder and pair critic for small images.

The networks of the image experiments of GAN-QP / BiGAN-QP (Su Jianlin, kexue.fm archives 6163
and 6214; arXiv:1811.07296), sized like the 28×28 MNIST networks of WGAN-GP's ``gan_mnist.py``
(Gulrajani et al., arXiv:1704.00028) and DCGAN (Radford et al., arXiv:1511.06434): 5×5
kernels, stride 2, widths ``dim, 2·dim, 4·dim``, LeakyReLU(0.2) in the critics, ReLU and a
``tanh`` output in the generator (images in [−1, 1]).

* :class:`ConvGenerator` ``(B, z_dim) -> (B, C, H, W)``: Linear → ``(4·dim, ⌈H/8⌉, ⌈W/8⌉)`` →
  three stride-2 transposed convolutions (the ``2⌈H/8⌉`` map is cropped to ``H/4`` when they
  differ, 8 → 7 for 28×28, as in ``gan_mnist.py``).
* :class:`ConvCritic` ``(B, C, H, W) -> (B, out_dim)``: three stride-2 convolutions (``H`` →
  ``⌈H/2⌉`` → ``⌈H/4⌉`` → ``⌈H/8⌉``, 28 → 14 → 7 → 4) → Linear. With ``out_dim = 1`` a critic
  or discriminator; :class:`ConvEncoder` is the same body with ``out_dim = z_dim``.
* :class:`ConvPairCritic` ``((B, C, H, W), (B, z_dim)) -> (B,)``: BiGAN-QP's critic ``T(x, z)``
  (conv features of ``x`` concatenated with ``z``, then an MLP), as in bojone's
  ``bigan_qp_128.py``.

Normalisation (``norm``): ``"none"``, ``"batch"`` (``BatchNorm2d`` after every convolution but
the first, DCGAN and bojone/gan-qp) or ``"layer"`` (``GroupNorm(1, ·)``, a per-sample layer
norm). **A critic trained with a gradient penalty must not use ``"batch"``**: WGAN-GP penalises
the norm of the gradient of ``T(x̂)`` with respect to *each* interpolate ``x̂`` on its own, but
with batch normalisation each output depends on the whole batch, so that per-sample gradient is
not the quantity the penalty is derived for (Gulrajani et al. §4 recommend layer norm or none).
:func:`check_penalty_norm` raises on that combination. GAN-QP needs no penalty, so the reference
code's batch-norm critic is allowed there.

Every network carries a JSON-able ``spec`` (:func:`conv_net_from_spec` rebuilds it) and is
initialised by :func:`init_conv_` from a seeded ``torch.Generator`` (He-uniform, zero biases),
never from the global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["ConvGenerator", "ConvCritic", "ConvEncoder", "ConvPairCritic", "NORMS",
           "conv_net_from_spec", "init_conv_", "check_penalty_norm"]

#: Accepted values of ``norm``.
NORMS = ("none", "batch", "layer")


def _check_int(name: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name} must be an int >= {lo}; got {v!r}")
    return v


def _image_size(image_size: int | Sequence[int]) -> tuple[int, int]:
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 8
                             for s in size):
        raise ValueError(f"image_size must be an int or (H, W) with H, W >= 8; got "
                         f"{image_size!r}")
    return size  # type: ignore[return-value]


def _check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
    return norm


def _norm_layer(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def _half(n: int) -> int:
    """Output size of a 5×5, stride-2, padding-2 convolution: ``⌈n/2⌉``."""
    return (n + 1) // 2


def _check_images(x: Any, shape: tuple[int, int, int], name: str = "x") -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images; got {type(x).__name__}")
    if x.ndim != 4 or tuple(x.shape[1:]) != shape:
        c, h, w = shape
        raise ValueError(f"{name} must be images of shape (batch, {c}, {h}, {w}); got "
                         f"{tuple(x.shape)}. Reshape flat images with x.reshape(-1, {c}, {h}, "
                         f"{w}).")
    return x


def _check_latent(z: Any, z_dim: int, name: str = "z") -> Tensor:
    if not isinstance(z, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(z).__name__}")
    if z.ndim != 2 or z.shape[1] != z_dim:
        raise ValueError(f"{name} must have shape (batch, z_dim) = (batch, {z_dim}); got "
                         f"{tuple(z.shape)}")
    return z


class ConvGenerator(nn.Module):
    """DCGAN-style generator ``G``: ``(B, z_dim) -> (B, C, H, W)`` in [−1, 1].

    Source: DCGAN (Radford et al., arXiv:1511.06434), sized like WGAN-GP's MNIST networks
    (arXiv:1704.00028); used for GAN-QP (kexue.fm archive 6163).

    ``Linear(z_dim → 4·dim·⌈H/8⌉·⌈W/8⌉)``–ReLU → reshape ``(B, 4·dim, ⌈H/8⌉, ⌈W/8⌉)`` →
    ``ConvT5×5/2(4·dim → 2·dim)``–ReLU, cropped to ``(H/4, W/4)`` → ``ConvT5×5/2(2·dim → dim)``–
    ReLU ``(H/2, W/2)`` → ``ConvT5×5/2(dim → C)``–tanh ``(H, W)``. (For 28×28: 4 → 8 → 7 → 14 →
    28, WGAN-GP's ``gan_mnist.py`` generator.) ``norm="batch"`` adds BatchNorm after the linear
    layer and the first two transposed convolutions (DCGAN).

    Args:
        z_dim: latent size. dim: base width (64 in ``gan_mnist.py``).
        channels: image channels ``C``. image_size: ``H`` or ``(H, W)``, multiples of 4, ``>= 8``.
        norm: ``"none"`` (default) or ``"batch"``/``"layer"``.

    Raises:
        ValueError: non-positive sizes, ``H`` or ``W`` not a multiple of 4, unknown ``norm``.
    """

    init_slope = 0.0  # ReLU (see init_conv_)

    def __init__(self, z_dim: int = 128, dim: int = 64, channels: int = 1,
                 image_size: int | Sequence[int] = 28, norm: str = "none"):
        super().__init__()
        _check_int("z_dim", z_dim, 1)
        _check_int("dim", dim, 1)
        _check_int("channels", channels, 1)
        h, w = _image_size(image_size)
        if h % 4 or w % 4:
            raise ValueError(f"image_size must be a multiple of 4 for the generator's three "
                             f"stride-2 upsamplings (28, 32, ...); got {(h, w)}")
        _check_norm(norm)
        self.z_dim, self.dim, self.image_shape = z_dim, dim, (channels, h, w)
        self.base = (-(-h // 8), -(-w // 8))  # (⌈H/8⌉, ⌈W/8⌉)
        self.fc = nn.Linear(z_dim, 4 * dim * self.base[0] * self.base[1])
        self.n0 = nn.BatchNorm1d(4 * dim * self.base[0] * self.base[1]) if norm == "batch" \
            else nn.Identity()
        self.up1 = nn.ConvTranspose2d(4 * dim, 2 * dim, 5, 2, padding=2, output_padding=1)
        self.n1 = _norm_layer(norm, 2 * dim)
        self.up2 = nn.ConvTranspose2d(2 * dim, dim, 5, 2, padding=2, output_padding=1)
        self.n2 = _norm_layer(norm, dim)
        self.up3 = nn.ConvTranspose2d(dim, channels, 5, 2, padding=2, output_padding=1)
        self.spec = {"kind": "conv-generator", "z_dim": z_dim, "dim": dim, "channels": channels,
                     "image_size": [h, w], "norm": norm}

    def forward(self, z: Tensor) -> Tensor:
        _check_latent(z, self.z_dim)
        c, h, w = self.image_shape
        x = torch.relu(self.n0(self.fc(z)))  # (B, 4·dim·h0·w0)
        x = x.reshape(z.shape[0], 4 * self.dim, *self.base)  # (B, 4·dim, ⌈H/8⌉, ⌈W/8⌉)
        x = torch.relu(self.n1(self.up1(x)))[:, :, :h // 4, :w // 4]  # (B, 2·dim, H/4, W/4)
        x = torch.relu(self.n2(self.up2(x)))  # (B, dim, H/2, W/2)
        return torch.tanh(self.up3(x))  # (B, C, H, W)


class ConvCritic(nn.Module):
    """DCGAN-style critic / discriminator: ``(B, C, H, W) -> (B, out_dim)``.

    Source: DCGAN (Radford et al., arXiv:1511.06434), sized like WGAN-GP's MNIST networks
    (arXiv:1704.00028); used for GAN-QP (kexue.fm archive 6163).

    ``Conv5×5/2(C → dim)``–LReLU ``(⌈H/2⌉)`` → ``Conv5×5/2(dim → 2·dim)``–norm–LReLU ``(⌈H/4⌉)``
    → ``Conv5×5/2(2·dim → 4·dim)``–norm–LReLU ``(⌈H/8⌉)`` → flatten → ``Linear(→ out_dim)``, no
    output activation (GAN-QP's and WGAN's critic are unbounded; SGAN reads it as a logit).

    Args:
        dim: base width. channels, image_size: the images ``(C, H, W)`` it takes.
        norm: ``"none"`` (default; required with a gradient penalty, see the module docstring),
            ``"batch"`` (DCGAN, bojone/gan-qp) or ``"layer"``.
        out_dim: outputs per image (1 for a critic).
    """

    kind = "conv-critic"

    def __init__(self, dim: int = 64, channels: int = 1, image_size: int | Sequence[int] = 28,
                 norm: str = "none", out_dim: int = 1):
        super().__init__()
        _check_int("dim", dim, 1)
        _check_int("channels", channels, 1)
        _check_int("out_dim", out_dim, 1)
        h, w = _image_size(image_size)
        _check_norm(norm)
        self.image_shape, self.norm, self.out_dim = (channels, h, w), norm, out_dim
        self.body = nn.Sequential(
            nn.Conv2d(channels, dim, 5, 2, padding=2), nn.LeakyReLU(0.2),
            nn.Conv2d(dim, 2 * dim, 5, 2, padding=2), _norm_layer(norm, 2 * dim),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * dim, 4 * dim, 5, 2, padding=2), _norm_layer(norm, 4 * dim),
            nn.LeakyReLU(0.2))
        self.n_features = 4 * dim * _half(_half(_half(h))) * _half(_half(_half(w)))
        self.out = nn.Linear(self.n_features, out_dim)
        self.spec = {"kind": self.kind, "dim": dim, "channels": channels, "image_size": [h, w],
                     "norm": norm, "out_dim": out_dim}

    def features(self, x: Tensor) -> Tensor:
        """``(B, C, H, W) -> (B, 4·dim·⌈H/8⌉·⌈W/8⌉)``, the flattened last feature map."""
        return self.body(_check_images(x, self.image_shape)).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.features(x))  # (B, out_dim)


class ConvEncoder(ConvCritic):
    """BiGAN-QP encoder ``E``: ``(B, C, H, W) -> (B, z_dim)``, the :class:`ConvCritic` body with
    ``z_dim`` outputs (the reference code's encoder is its critic's conv stack → Dense(z_dim)).

    Source: BiGAN-QP (kexue.fm archive 6214).
    """

    kind = "conv-encoder"

    def __init__(self, z_dim: int = 128, dim: int = 64, channels: int = 1,
                 image_size: int | Sequence[int] = 28, norm: str = "none"):
        _check_int("z_dim", z_dim, 1)
        super().__init__(dim, channels, image_size, norm, out_dim=z_dim)
        self.spec = {"kind": self.kind, "z_dim": z_dim, "dim": dim, "channels": channels,
                     "image_size": list(self.image_shape[1:]), "norm": norm}


class ConvPairCritic(nn.Module):
    """BiGAN-QP critic ``T(x, z)`` on joint pairs: ``(B, C, H, W), (B, z_dim) -> (B,)``.

    Source: BiGAN-QP (kexue.fm archive 6214).

    ``x`` goes through a :class:`ConvCritic` body (its flattened feature map), which is
    concatenated with ``z`` and fed to ``Linear(→ hidden)``–LReLU–``Linear(hidden → hidden)``–
    LReLU–``Linear(hidden → 1)`` (bojone's ``bigan_qp_128.py``: 1024–1024–1).
    """

    def __init__(self, z_dim: int = 128, dim: int = 64, channels: int = 1,
                 image_size: int | Sequence[int] = 28, norm: str = "none", hidden: int = 512):
        super().__init__()
        _check_int("z_dim", z_dim, 1)
        _check_int("hidden", hidden, 1)
        self.z_dim = z_dim
        self.x_net = ConvCritic(dim, channels, image_size, norm, out_dim=1)
        self.head = nn.Sequential(
            nn.Linear(self.x_net.n_features + z_dim, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
        self.spec = {"kind": "conv-pair-critic", "z_dim": z_dim, "dim": dim,
                     "channels": channels, "image_size": list(self.x_net.image_shape[1:]),
                     "norm": norm, "hidden": hidden}

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        h = self.x_net.features(x)  # (B, F)
        _check_latent(z, self.z_dim)
        if z.shape[0] != x.shape[0]:
            raise ValueError(f"x and z must be paired by row; got batch sizes {x.shape[0]} and "
                             f"{z.shape[0]}")
        return self.head(torch.cat([h, z], dim=1))[:, 0]  # (B,)


_KINDS = {"conv-generator": ConvGenerator, "conv-critic": ConvCritic,
          "conv-encoder": ConvEncoder, "conv-pair-critic": ConvPairCritic}


def conv_net_from_spec(spec: Mapping[str, Any]) -> nn.Module:
    """Rebuild (untrained) a network of this module from its ``spec``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"unknown network kind {kind!r}; valid: {', '.join(_KINDS)}")
    return _KINDS[kind](**spec)


def _fan_in(m: nn.Module) -> int:
    """Inputs feeding one output unit: ``in·k²`` for a convolution, ``in·k²/stride²`` for a
    transposed convolution (each output pixel sees ``k²/stride²`` input taps on average)."""
    if isinstance(m, nn.Linear):
        return m.in_features
    k = m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.ConvTranspose2d):
        return max(1, m.in_channels * k // (m.stride[0] * m.stride[1]))
    return m.in_channels * k


@torch.no_grad()
def init_conv_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """He initialisation (He et al. 2015, arXiv:1502.01852) of every conv / transposed-conv /
    linear layer of ``module``, in place, from ``generator`` (on the module's device):
    ``W ~ U(±gain·sqrt(3/fan_in))``, ``gain = sqrt(2/(1 + a²))`` with ``a`` the negative slope
    of the network's activation (0 for the ReLU generator, 0.2 for the LeakyReLU critics:
    ``module.init_slope``), biases 0; norm layers keep weight 1, bias 0. Variance-preserving,
    as WGAN-GP's ``gan_mnist.py`` (PyTorch's default ``a = √5`` shrinks the signal ~6× in
    variance per layer, which leaves an unnormalised 4-layer generator nearly constant in ``z``).
    Returns ``module``."""
    slope = float(getattr(module, "init_slope", 0.2))
    gain = math.sqrt(2.0 / (1.0 + slope ** 2))
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            bound = gain * math.sqrt(3.0 / _fan_in(m))
            m.weight.uniform_(-bound, bound, generator=generator)
            if m.bias is not None:
                m.bias.zero_()
    return module


def check_penalty_norm(critic: nn.Module, penalty: float) -> None:
    """Refuse a batch-normalised critic under a gradient penalty (see the module docstring).

    Raises:
        ValueError: ``penalty > 0`` and ``critic`` contains a ``BatchNorm`` layer.
    """
    if penalty > 0 and any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                           for m in critic.modules()):
        raise ValueError("a critic trained with a gradient penalty must not use batch "
                         "normalisation (the penalty is on per-sample gradients, which batch "
                         "norm couples across the batch); build it with norm='none' or "
                         "norm='layer'")
