"""Score networks: MLP with Fourier time features, small U-Net for 8×8 digits, ε→score adapter.

The networks predict the noise ``ε`` of the Gaussian kernel ``x_t = a_t x0 + s_t ε``
(ε-parametrisation, Ho et al. 2020, arXiv:2006.11239); :class:`ScoreModel` turns that into the
score the samplers need, ``s_θ(x, t) = −ε_θ(c_in(t)·x, t) / s_t`` (Song et al., ICLR 2021,
arXiv:2011.13456; Su Jianlin, kexue.fm 9209: ``∇log p(x_t|x0) = −ε/β̄_t``). ``c_in(t) =
1/√(a_t² σ_data² + s_t²)`` scales the input to unit variance (as in EDM, Karras et al. 2022), so
one network works for VE (``s_t`` up to ``σ_max``) and VP/sub-VP (``a_t² + s_t² ≈ 1``).

Shapes: data are flat, ``x`` is ``(batch, dim)`` (an 8×8 image is ``dim = 64``); ``t`` is
``(batch,)`` or a scalar. Every network maps ``(x, t) -> (batch, dim)``.

Devices: the networks are ordinary ``nn.Module``s (``.to(device)`` moves them); the constructors'
``device=`` builds the weights exactly as on the CPU with the same ``seed`` (initialisation draws
from a forked CPU generator) and then moves them, so a seed gives the same network everywhere.
Time features and the ε→score adapter follow the device of their inputs.

Networks carry a JSON-able ``spec`` (``{"kind": ..., **kwargs}``) so that a checkpoint can rebuild
them with :func:`net_from_spec`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from ..devices import resolve_device

__all__ = [
    "FourierTimeFeatures", "MLPScoreNet", "UNet8", "ScoreModel", "net_from_spec", "NETS",
    "marginal_coefs",
]


def _check_pos_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return value


@contextlib.contextmanager
def _init_rng(seed: int | None) -> Iterator[None]:
    """Seed PyTorch's default initialisers without changing the global RNG state afterwards."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def _place(module: nn.Module, device: torch.device | str | None) -> None:
    """Move ``module`` to ``device`` (checked by :func:`kexue.devices.resolve_device`)."""
    if device is not None:
        module.to(resolve_device(device))


def _time_vector(t: Any, batch: int, like: torch.Tensor) -> torch.Tensor:
    """``t`` (float, 0-d, ``(1,)`` or ``(batch,)``) as a ``(batch,)`` tensor of ``like``'s dtype."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0 or t.numel() == 1:
        return t.reshape(1).expand(batch)
    if t.shape != (batch,):
        raise ValueError(
            f"t must be a scalar or have shape (batch,) = ({batch},); got {tuple(t.shape)}"
        )
    return t


class FourierTimeFeatures(nn.Module):
    """Sinusoidal features of time, ``[sin(ω_k t), cos(ω_k t)]`` with geometric ``ω_k``.

    The frequencies run from ``2π·min_freq`` to ``2π·max_freq`` (fixed, not learned), the
    continuous-time version of the Transformer/DDPM timestep embedding (Ho et al. 2020) and of the
    Fourier features of Song et al. (2021). With ``t`` in [0, 1] the defaults resolve time
    differences down to about 1e-3.

    Args:
        n_freq: number of frequencies; the output has ``2·n_freq`` features.
        min_freq, max_freq: lowest and highest frequency in cycles per unit time.

    Shapes: ``t`` ``(batch,)`` → ``(batch, 2·n_freq)``.
    """

    def __init__(self, n_freq: int = 16, *, min_freq: float = 0.1, max_freq: float = 500.0):
        super().__init__()
        _check_pos_int("n_freq", n_freq)
        if not (0 < min_freq <= max_freq):
            raise ValueError(f"need 0 < min_freq <= max_freq; got {min_freq}, {max_freq}")
        freqs = 2 * math.pi * torch.logspace(math.log10(min_freq), math.log10(max_freq), n_freq)
        self.register_buffer("freqs", freqs, persistent=False)
        self.out_features = 2 * n_freq

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        arg = t[:, None] * self.freqs.to(t.dtype)  # (batch, n_freq)
        return torch.cat([arg.sin(), arg.cos()], dim=1)  # (batch, 2·n_freq)


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

    Shapes: ``x`` ``(batch, D)``, ``t`` ``(batch,)`` → ``(batch, D)``.
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
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (batch, {self.dim}); got {tuple(x.shape)}")
        t = _time_vector(t, x.shape[0], x)
        e = self.act(self.t_embed(self.time(t)))  # (batch, hidden)
        h = self.inp(x) + e  # (batch, hidden)
        for lin, proj in zip(self.layers, self.t_proj):
            h = h + lin(self.act(h)) + proj(e)
        return self.out(self.act(h))  # (batch, D)


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

    Shapes: ``x`` ``(batch, H·W)`` (flat images), ``t`` ``(batch,)`` → ``(batch, H·W)``.
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
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(
                f"x must be flat images of shape (batch, {self.dim}); got {tuple(x.shape)}")
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


NETS = {"mlp": MLPScoreNet, "unet8": UNet8}


def net_from_spec(spec: Mapping[str, Any], *, device: torch.device | str | None = None
                  ) -> nn.Module:
    """Rebuild a network from its ``spec`` (as stored in a checkpoint's metadata), on
    ``device`` (default PyTorch's default device)."""
    spec = dict(spec)
    if device is not None:
        spec["device"] = device
    kind = spec.pop("kind", None)
    if kind not in NETS:
        raise ValueError(f"unknown network kind {kind!r}; valid kinds: {', '.join(NETS)}")
    if kind == "mlp":
        dim = spec.pop("dim")
        return MLPScoreNet(dim, **spec)
    if "image_shape" in spec:
        spec["image_shape"] = tuple(spec["image_shape"])
    return UNet8(**spec)


def marginal_coefs(sde: Any, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(a_t, s_t)`` of the kernel ``x_t = a_t x0 + s_t ε`` as ``(batch,)`` tensors like ``t``.

    Calls ``sde.marginal(t)`` (which may return floats, 0-d or ``(batch,)`` tensors).
    """
    a, s = sde.marginal(t)
    a = torch.as_tensor(a, dtype=t.dtype, device=t.device).expand_as(t)
    s = torch.as_tensor(s, dtype=t.dtype, device=t.device).expand_as(t)
    return a, s


class ScoreModel(nn.Module):
    """Adapter from an ε-predicting network to the score ``s(x, t)`` that samplers call.

    ``eps(x, t) = net(c_in(t)·x, t)`` with ``c_in = 1/√(a_t² σ_data² + s_t²)``, and
    ``forward(x, t) = score(x, t) = −eps(x, t)/s_t`` — the ε-parametrisation of Ho et al. (2020)
    written for a continuous-time SDE (Song et al. 2021; kexue.fm 9209, ``s_θ = −ε_θ/β̄_t``).

    Args:
        net: ``(x, t) -> ε̂`` with ``x`` ``(batch, D)``.
        sde: anything with ``marginal(t) -> (mean_coef, std)`` (``VPSDE``, ``VESDE``, ...).
        sigma_data: per-coordinate scale of the data used by ``c_in`` (1 is fine for data in
            [-1, 1]; about 1.4 for the radius-2 ring).

    Shapes: ``x`` ``(batch, D)``; ``t`` scalar or ``(batch,)``; returns ``(batch, D)``.
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

    def _eps_std(self, x: torch.Tensor, t: Any) -> tuple[torch.Tensor, torch.Tensor]:
        t = _time_vector(t, x.shape[0], x)
        a, s = marginal_coefs(self.sde, t)  # (batch,)
        c_in = torch.rsqrt(a**2 * self.sigma_data**2 + s**2)
        return self.net(x * c_in[:, None], t), s

    def eps(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        """Predicted noise ``ε̂(x, t)``, ``(batch, D)``."""
        return self._eps_std(x, t)[0]

    def forward(self, x: torch.Tensor, t: Any) -> torch.Tensor:
        """Score ``s_θ(x, t) = −ε̂(x, t)/s_t``, ``(batch, D)``."""
        eps, s = self._eps_std(x, t)
        return -eps / s[:, None]
