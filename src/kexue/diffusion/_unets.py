"""U-Net ε-predictors for images: :class:`UNet8` (fixed 8×8 toy) and :class:`UNet` (DDPM-style).

Residual blocks (GroupNorm → SiLU → conv3×3) with time entering every block as a per-channel bias,
down/up-sampling with skip connections by concatenation (the DDPM U-Net of Ho et al. 2020,
arXiv:2006.11239, scaled down and without attention); :class:`UNet` optionally class-conditional
with a "null" class for classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598).
Shapes: ``(batch, C, H, W)`` or its flat ``(batch, C·H·W)`` in, the same out.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._net_parts import FourierTimeFeatures, _check_pos_int, _init_rng, _place, _time_vector

__all__ = ["UNet8", "UNet"]


def _groups(ch: int) -> int:
    for g in (8, 4, 2):
        if ch % g == 0:
            return g
    return 1


class _ResBlock(nn.Module):
    """GroupNorm → SiLU → conv3×3 (+ time bias) → GroupNorm → SiLU → conv3×3, plus a skip."""

    def __init__(self, c_in: int, c_out: int, t_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.t_proj = nn.Linear(t_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)
        self.act = nn.SiLU()

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.act(self.norm1(h)))  # (B, c_out, H, W)
        out = out + self.t_proj(e)[:, :, None, None]
        out = self.conv2(self.act(self.norm2(out)))
        return self.skip(h) + out


class UNet8(nn.Module):
    """A small U-Net ε-predictor for 8×8 single-channel images (Ho et al. 2020, scaled down).

    Resolutions 8×8 → 4×4 → 2×2 with channels ``(ch, 2ch, 2ch)``, one residual block per level on
    the way down and up, skip connections by concatenation, time entering every block as a
    per-channel bias from the Fourier embedding. About 0.2M parameters at ``ch = 32``.

    Args:
        ch: base channel count.
        image_shape: ``(H, W)``; both must be divisible by 4.
        n_freq: Fourier frequencies of the time features.
        seed: seeds the weight initialisation (the global RNG is left as it was).
        device: where the parameters live (built as on the CPU, then moved); default PyTorch's
            default device.

    Shapes: ``x`` ``(batch, H·W)`` (flat images) or ``(batch, 1, H, W)``, ``t`` ``(batch,)`` →
    ``x``'s shape.
    """

    def __init__(self, *, ch: int = 32, image_shape: tuple[int, int] = (8, 8), n_freq: int = 16,
                 seed: int | None = None, device: torch.device | str | None = None):
        super().__init__()
        with _init_rng(seed):
            self._build(ch, image_shape, n_freq)
        _place(self, device)

    def _build(self, ch: int, image_shape: tuple[int, int], n_freq: int) -> None:
        _check_pos_int("ch", ch)
        h, w = (int(v) for v in image_shape)
        if h % 4 or w % 4 or h <= 0 or w <= 0:
            raise ValueError(f"image_shape must have sides divisible by 4; got {image_shape}")
        self.spec = {"kind": "unet8", "ch": ch, "image_shape": [h, w], "n_freq": n_freq}
        self.image_shape = (h, w)
        self.dim = h * w
        t_dim = 4 * ch
        self.time = FourierTimeFeatures(n_freq)
        self.t_embed = nn.Sequential(nn.Linear(self.time.out_features, t_dim), nn.SiLU(),
                                     nn.Linear(t_dim, t_dim), nn.SiLU())
        c1, c2 = ch, 2 * ch
        self.inp = nn.Conv2d(1, c1, 3, padding=1)
        self.down1 = _ResBlock(c1, c1, t_dim)            # 8×8
        self.pool1 = nn.Conv2d(c1, c1, 3, stride=2, padding=1)
        self.down2 = _ResBlock(c1, c2, t_dim)            # 4×4
        self.pool2 = nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.mid = _ResBlock(c2, c2, t_dim)              # 2×2
        self.up2 = _ResBlock(c2 + c2, c2, t_dim)         # 4×4, skip from down2
        self.up1 = _ResBlock(c2 + c1, c1, t_dim)         # 8×8, skip from down1
        self.norm = nn.GroupNorm(_groups(c1), c1)
        self.out = nn.Conv2d(c1, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4 and tuple(x.shape[1:]) == (1, *self.image_shape):
            return self.forward(x.reshape(x.shape[0], self.dim), t).reshape(x.shape)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(
                f"x must be flat images of shape (batch, {self.dim}) or (batch, 1, "
                f"{self.image_shape[0]}, {self.image_shape[1]}); got {tuple(x.shape)}")
        b = x.shape[0]
        t = _time_vector(t, b, x)
        e = self.t_embed(self.time(t))  # (B, 4ch)
        h0 = self.inp(x.reshape(b, 1, *self.image_shape))  # (B, ch, 8, 8)
        h1 = self.down1(h0, e)  # (B, ch, 8, 8)
        h2 = self.down2(self.pool1(h1), e)  # (B, 2ch, 4, 4)
        m = self.mid(self.pool2(h2), e)  # (B, 2ch, 2, 2)
        u = nn.functional.interpolate(m, scale_factor=2.0, mode="nearest")  # (B, 2ch, 4, 4)
        u = self.up2(torch.cat([u, h2], dim=1), e)  # (B, 2ch, 4, 4)
        u = nn.functional.interpolate(u, scale_factor=2.0, mode="nearest")  # (B, 2ch, 8, 8)
        u = self.up1(torch.cat([u, h1], dim=1), e)  # (B, ch, 8, 8)
        return self.out(self.act(self.norm(u))).reshape(b, self.dim)  # (B, 64)


def _image_size(image_size: Any) -> tuple[int, int]:
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        return image_size, image_size
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be an int or (H, W); got {image_size!r}") from None
    return h, w


class UNet(nn.Module):
    """An image U-Net ε-predictor, optionally class-conditional (Ho et al. 2020,
    arXiv:2006.11239, without attention; class conditioning for classifier-free guidance, Ho &
    Salimans 2022, arXiv:2207.12598).

    Levels ``l = 0 … L−1`` with ``channels[l]`` channels at resolution ``(H, W)/2^l`` (28×28 →
    14×14 → 7×7 for the defaults): ``num_res_blocks`` residual blocks (GroupNorm → SiLU → conv3×3,
    time/class bias, GroupNorm → SiLU → conv3×3, plus a skip) per level on the way down, a
    stride-2 conv3×3 between levels, one residual block in the middle, and on the way up the
    level's skip concatenated, ``num_res_blocks`` residual blocks and a nearest-neighbour ×2
    upsampling followed by a conv3×3. The output (GroupNorm → SiLU → conv3×3) is zero-initialised,
    so ``ε_θ ≡ 0`` at initialisation. Time enters every block through the embedding ``e =
    SiLU(MLP(Fourier(t)) + E[label])``: with ``num_classes = K`` a learned class embedding ``E``
    of ``K + 1`` rows is added to the time embedding, row ``K`` being the "null" label of the
    unconditional model (classifier-free guidance training replaces labels by ``K`` with
    probability ``p_uncond``, see :func:`kexue.diffusion.drop_labels`).

    Args:
        in_channels: image channels ``C`` (1 for MNIST).
        channels: channels per level; ``H`` and ``W`` must be divisible by ``2^(L−1)``.
        image_size: ``H = W`` as an int, or ``(H, W)``.
        num_classes: ``K`` for a class-conditional network, ``None`` for an unconditional one.
        num_res_blocks: residual blocks per level on each side.
        n_freq: Fourier frequencies of the time features.
        seed: seeds the weight initialisation (the global RNG is left as it was).
        dtype: parameter dtype (built in the default dtype, then converted).
        device: where the parameters live (built as on the CPU, then moved); default PyTorch's
            default device.

    Shapes: ``x`` ``(batch, C, H, W)`` or flat ``(batch, C·H·W)``, ``t`` ``(batch,)`` or a scalar,
    ``labels`` ``(batch,)`` int64 in ``0 … K`` (``K`` = null; ``None`` = all null) → ``x``'s
    shape. Labels are range-checked on the CPU only (no host sync on accelerators).
    """

    def __init__(self, in_channels: int, *, channels: tuple[int, ...] = (32, 64, 128),
                 image_size: int | tuple[int, int] = 28, num_classes: int | None = None,
                 num_res_blocks: int = 1, n_freq: int = 16, seed: int | None = None,
                 dtype: torch.dtype | None = None,
                 device: torch.device | str | None = None):
        super().__init__()
        with _init_rng(seed):
            self._build(in_channels, channels, image_size, num_classes, num_res_blocks, n_freq)
        if dtype is not None:
            if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
                raise TypeError(f"dtype must be a floating torch.dtype; got {dtype!r}")
            self.to(dtype)
        _place(self, device)

    def _build(self, in_channels: int, channels: Any, image_size: Any,
               num_classes: int | None, num_res_blocks: int, n_freq: int) -> None:
        _check_pos_int("in_channels", in_channels)
        _check_pos_int("num_res_blocks", num_res_blocks)
        _check_pos_int("n_freq", n_freq)
        if isinstance(channels, int) or not channels:
            raise ValueError(f"channels must be a non-empty sequence of ints, one per level; "
                             f"got {channels!r}")
        chs = [_check_pos_int(f"channels[{i}]", c) for i, c in enumerate(channels)]
        if num_classes is not None:
            _check_pos_int("num_classes", num_classes)
        h, w = _image_size(image_size)
        f = 2 ** (len(chs) - 1)
        if h < 1 or w < 1 or h % f or w % f:
            raise ValueError(
                f"image_size {(h, w)} must have sides divisible by 2^(levels − 1) = {f} for "
                f"channels={tuple(chs)}; use fewer levels or pad the images")
        self.spec = {"kind": "unet", "in_channels": in_channels, "channels": chs,
                     "image_size": [h, w], "num_classes": num_classes,
                     "num_res_blocks": num_res_blocks, "n_freq": n_freq}
        self.in_channels, self.image_size, self.num_classes = in_channels, (h, w), num_classes
        self.image_shape = (in_channels, h, w)
        self.dim = in_channels * h * w
        t_dim = 4 * chs[0]
        self.time = FourierTimeFeatures(n_freq)
        self.t_embed = nn.Sequential(nn.Linear(self.time.out_features, t_dim), nn.SiLU(),
                                     nn.Linear(t_dim, t_dim))
        self.class_embed = (nn.Embedding(num_classes + 1, t_dim)
                            if num_classes is not None else None)
        self.inp = nn.Conv2d(in_channels, chs[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c = chs[0]
        for level, cl in enumerate(chs):
            blocks = nn.ModuleList()
            for _ in range(num_res_blocks):
                blocks.append(_ResBlock(c, cl, t_dim))
                c = cl
            self.down.append(blocks)
            if level < len(chs) - 1:
                self.downsample.append(nn.Conv2d(cl, cl, 3, stride=2, padding=1))
        self.mid = _ResBlock(c, c, t_dim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(chs))):
            cl = chs[level]
            blocks = nn.ModuleList()
            for j in range(num_res_blocks):
                blocks.append(_ResBlock(c + cl if j == 0 else cl, cl, t_dim))
                c = cl
            self.up.append(blocks)
            if level > 0:
                self.upsample.append(nn.Conv2d(cl, cl, 3, padding=1))
        self.norm = nn.GroupNorm(_groups(c), c)
        self.out = nn.Conv2d(c, in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.act = nn.SiLU()

    def _labels(self, labels: Any, b: int, device: torch.device) -> torch.Tensor | None:
        if labels is None:
            if self.num_classes is None:
                return None
            return torch.full((b,), self.num_classes, dtype=torch.long, device=device)
        if self.num_classes is None:
            raise ValueError("labels were given to an unconditional UNet; build it with "
                             "num_classes=K to condition on classes")
        if not isinstance(labels, torch.Tensor) or labels.dtype != torch.long \
                or labels.shape != (b,):
            got = (f"{tuple(labels.shape)} {labels.dtype}" if isinstance(labels, torch.Tensor)
                   else type(labels).__name__)
            raise ValueError(f"labels must be an int64 tensor of shape (batch,) = ({b},); got "
                             f"{got}")
        if labels.device != device:
            raise ValueError(f"labels live on {labels.device} but x on {device}; move them "
                             "with labels.to(x.device)")
        if device.type == "cpu" and labels.numel() and (
                int(labels.min()) < 0 or int(labels.max()) > self.num_classes):
            bad = labels[(labels < 0) | (labels > self.num_classes)][0]
            raise ValueError(f"labels must lie in 0..{self.num_classes} ({self.num_classes} = "
                             f"the null class); got {int(bad)}")
        return labels

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        flat = x.ndim == 2 and x.shape[1] == self.dim
        if not flat and tuple(x.shape[1:]) != self.image_shape:
            c, h, w = self.image_shape
            raise ValueError(f"x must have shape (batch, {c}, {h}, {w}) or flat (batch, "
                             f"{self.dim}); got {tuple(x.shape)}")
        b = x.shape[0]
        t = _time_vector(t, b, x)
        e = self.t_embed(self.time(t))  # (B, 4·ch0)
        lab = self._labels(labels, b, x.device)
        if lab is not None:
            e = e + self.class_embed(lab)  # (B, 4·ch0)
        e = self.act(e)
        h = self.inp(x.reshape(b, *self.image_shape))  # (B, ch0, H, W)
        skips = []
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, e)  # (B, ch_l, H/2^l, W/2^l)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)  # (B, ch_l, H/2^(l+1), W/2^(l+1))
        h = self.mid(h, e)  # (B, ch_{L−1}, H/2^(L−1), W/2^(L−1))
        for k, blocks in enumerate(self.up):
            h = torch.cat([h, skips.pop()], dim=1)  # (B, ch + ch_l, …)
            for block in blocks:
                h = block(h, e)  # (B, ch_l, H/2^l, W/2^l)
            if k < len(self.upsample):
                h = nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")
                h = self.upsample[k](h)  # (B, ch_l, H/2^(l−1), W/2^(l−1))
        out = self.out(self.act(self.norm(h)))  # (B, C, H, W)
        return out.reshape(x.shape)
