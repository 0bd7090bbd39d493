"""One training loop for GAN-QP, BiGAN-QP, WGAN-GP and the standard GAN.

``train_gan(model=..., data=...)`` alternates ``critic_steps`` (2) critic updates with one
generator (and, for BiGAN-QP, encoder) update, both with Adam(lr 2e-4, β = (0.5, 0.999)) — the
reference settings of bojone/gan-qp (kexue.fm 6163, 6214). Every random draw (initial weights,
mini-batches, ``z``, the WGAN-GP interpolation weights) comes from one ``torch.Generator`` seeded
with ``seed``; global RNG state is never touched.

Checkpoints go through :mod:`kexue.checkpoint` (safetensors + JSON, atomic) and hold the three
networks, both optimisers' states, the generator state and the loss history, so resuming from a
checkpoint written at step ``k`` and training to ``n`` reproduces the uninterrupted run bit for
bit. A non-finite loss or parameter stops training with :class:`TrainingDiverged`, whose message
names the step and the last good checkpoint (which is never overwritten by a bad state).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .. import checkpoint as ckpt_io
from .._progress import TrainingBar
from ._losses import (
    DISTANCES,
    bigan_qp_losses,
    qp_critic_loss,
    qp_generator_loss,
    sgan_losses,
    wgan_gp_losses,
)
from ._nets import MLP, PairCritic, net_from_spec

__all__ = ["MODELS", "DATASETS", "train_gan", "GANTrainResult", "TrainingDiverged", "load_gan",
           "load_gan_data", "sample_latent", "TRAIN_FORMAT"]

MODELS = ("gan-qp", "bigan-qp", "wgan-gp", "sgan")
#: Named datasets ``train_gan`` accepts besides a tensor.
DATASETS = ("ring8", "grid25", "digits")
TRAIN_FORMAT = "kexue.gan.train/1"
_HIST = ("critic", "generator", "latent_rec", "image_rec")


class TrainingDiverged(FloatingPointError):
    """A loss or parameter became NaN/inf; the last good checkpoint is kept."""


def load_gan_data(name: str, *, n: int = 50_000, seed: int = 0,
                  dtype: torch.dtype = torch.float32) -> Tensor:
    """The training set behind a dataset name: ``"ring8"``/``"grid25"`` draw ``n`` points of the
    8-Gaussian ring / 25-Gaussian grid (seed ``10_000 + seed``); ``"digits"`` is the 8×8 digits
    training split in [−1, 1]. Returns ``(N, D)``."""
    from ..data import digits, toy

    if name == "ring8":
        return toy("ring", n, 10_000 + seed, dtype=dtype)
    if name == "grid25":
        return toy("grid", n, 10_000 + seed, dtype=dtype)
    if name == "digits":
        return digits(dtype=dtype).x_train
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)} or an (N, D) tensor")


def sample_latent(n: int, z_dim: int, generator: torch.Generator,
                  dtype: torch.dtype = torch.float32) -> Tensor:
    """The prior ``z ~ N(0, I)``: ``(n, z_dim)``."""
    return torch.randn(n, z_dim, generator=generator, dtype=dtype)


def _init_(module: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default ``nn.Linear`` initialisation, U(±1/sqrt(fan_in)), from ``gen``."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)


@dataclass
class GANTrainResult:
    """What :func:`train_gan` returns.

    Attributes:
        generator: ``(batch, z_dim) -> (batch, D)``; critic: ``T``; encoder: BiGAN-QP only.
        history: per generator step, ``"critic"`` (last critic loss), ``"generator"``, and for
            BiGAN-QP ``"latent_rec"``/``"image_rec"``; float64 tensors over all steps since 0.
        step, start_step: generator steps done, and the step this call resumed from.
        stopped: ``callback`` asked to stop early.
        seconds: wall time of this call.
        checkpoint: the checkpoint path, if any.
        config: the training configuration (as stored in the checkpoint).
    """

    generator: nn.Module
    critic: nn.Module
    encoder: nn.Module | None
    history: dict[str, Tensor]
    step: int
    start_step: int
    stopped: bool
    seconds: float
    checkpoint: Path | None
    config: dict[str, Any] = field(default_factory=dict)

    def sample(self, n: int, generator: torch.Generator | int = 0) -> Tensor:
        """``n`` generated samples ``G(z)``, ``(n, D)``, without gradient."""
        gen = generator if isinstance(generator, torch.Generator) else \
            torch.Generator().manual_seed(generator)
        dtype = next(self.generator.parameters()).dtype
        with torch.no_grad():
            return self.generator(sample_latent(n, self.config["z_dim"], gen, dtype))


def _build(model: str, dim: int, z_dim: int, hidden: int, depth: int, image: bool
           ) -> tuple[nn.Module, nn.Module, nn.Module | None]:
    g = MLP(z_dim, dim, hidden, depth, "relu", "tanh" if image else None)
    if model == "bigan-qp":
        c: nn.Module = PairCritic(dim, z_dim, hidden, max(1, depth - 1))
        e: nn.Module | None = MLP(dim, z_dim, hidden, depth, "lrelu")
    else:
        c = MLP(dim, 1, hidden, depth, "lrelu")
        e = None
    return g, c, e


def _opt_tensors(prefix: str, opt: torch.optim.Optimizer) -> dict[str, Tensor]:
    out = {}
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"{prefix}/{i}/{k}"] = torch.as_tensor(v)
    return out


def _load_opt(prefix: str, opt: torch.optim.Optimizer, tensors: Mapping[str, Tensor]) -> None:
    sd = opt.state_dict()
    n = len(sd["param_groups"][0]["params"])
    state = {i: {k.split("/")[2]: v for k, v in tensors.items() if k.startswith(f"{prefix}/{i}/")}
             for i in range(n)}
    opt.load_state_dict({"state": {i: s for i, s in state.items() if s},
                         "param_groups": sd["param_groups"]})


def _load_module(module: nn.Module, tensors: Mapping[str, Tensor], prefix: str,
                 path: Path) -> None:
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    own = module.state_dict()
    if set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
        raise ValueError(f"checkpoint {str(path)!r} holds a different {prefix.rstrip('/')} "
                         "network; train into a new --out directory or pass resume=False")
    module.load_state_dict(state)


def _finite(*modules: nn.Module | None) -> bool:
    return all(bool(torch.isfinite(p).all()) for m in modules if m is not None
               for p in m.parameters())


def train_gan(model: str = "gan-qp", data: str | Tensor = "grid25", *, steps: int = 1000,
              batch_size: int = 256, z_dim: int | None = None, hidden: int | None = None,
              depth: int = 3, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
              critic_steps: int = 2, lam: float = 10.0, distance: str = "l1",
              penalty: float = 10.0, beta1: float = 2.0, beta2: float = 3.0,
              stop_gradient: bool = True, seed: int = 0, dtype: torch.dtype = torch.float32,
              checkpoint: str | Path | None = None, ckpt_every: int = 500, resume: bool = True,
              progress: bool = True, meta: Mapping[str, Any] | None = None,
              callback: Callable[[int, GANTrainResult], bool | None] | None = None,
              callback_every: int = 100, description: str | None = None) -> GANTrainResult:
    """Train GAN-QP / BiGAN-QP (kexue.fm 6163, 6214; arXiv:1811.07296) or a baseline.

    Each generator step is preceded by ``critic_steps`` critic steps, each on a fresh real batch
    and fresh ``z``. Losses: :func:`qp_critic_loss`/:func:`qp_generator_loss` (``"gan-qp"``),
    :func:`bigan_qp_losses` (``"bigan-qp"``), :func:`wgan_gp_losses` (``"wgan-gp"``, Gulrajani et
    al. arXiv:1704.00028), :func:`sgan_losses` (``"sgan"``, non-saturating).

    Args:
        model: one of ``MODELS``.
        data: ``"ring8"``, ``"grid25"``, ``"digits"`` (see :func:`load_gan_data`) or an
            ``(N, D)`` tensor of training samples.
        steps: total generator steps (including any already in the checkpoint).
        batch_size: samples per batch (real and fake, paired by row).
        z_dim: latent size (default 8 for 2-D data, 16 otherwise). hidden: width (default 128
            for 2-D data, 256 otherwise). depth: hidden layers per network.
        lr, betas: Adam's settings for every network (2e-4, (0.5, 0.999)).
        critic_steps: critic updates per generator update (2).
        lam, distance: GAN-QP's λ and ``d`` (``"l1"``/``"l2"``). penalty: WGAN-GP's weight.
        beta1, beta2, stop_gradient: BiGAN-QP's reconstruction weights and stop-gradients.
        seed: seeds the single generator behind all randomness.
        dtype: parameter and data dtype.
        checkpoint: ``.safetensors`` path, written every ``ckpt_every`` steps and at the end;
            an existing file is resumed from when ``resume``.
        progress: show a rich progress bar (experiments pass ``False``).
        meta: extra JSON metadata for the checkpoint.
        callback: ``callback(step, partial_result)`` every ``callback_every`` steps (and at the
            end); returning ``True`` stops after writing a checkpoint. Used for snapshots.
        description: progress-bar label.

    Returns:
        :class:`GANTrainResult`.

    Raises:
        TrainingDiverged: a loss or parameter is not finite (message: step, last good checkpoint).
        ValueError: bad arguments or a checkpoint from a different configuration.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")
    name = data if isinstance(data, str) else None
    if isinstance(data, str):
        x_all = load_gan_data(data, seed=seed, dtype=dtype)
    elif isinstance(data, Tensor) and data.ndim == 2 and data.shape[0] >= 1:
        x_all = data.detach().to(dtype)
    else:
        got = tuple(data.shape) if isinstance(data, Tensor) else type(data).__name__
        raise ValueError(f"data must be 'ring8', 'grid25', 'digits' or an (N, D) tensor; got {got}")
    if not bool(torch.isfinite(x_all).all()):
        raise ValueError("data contains NaN or inf; clean it before training")
    for k, v, lo in (("steps", steps, 0), ("batch_size", batch_size, 1),
                     ("critic_steps", critic_steps, 1), ("ckpt_every", ckpt_every, 1),
                     ("depth", depth, 1), ("callback_every", callback_every, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"{k} must be an int >= {lo}; got {v!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1); got {betas!r}")
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be a positive finite number (10 in the article); got {lam!r}")
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; valid: {', '.join(DISTANCES)}")
    dim = int(x_all.shape[1])
    image = name == "digits"
    z_dim = z_dim if z_dim is not None else (8 if dim == 2 else 16)
    hidden = hidden if hidden is not None else (128 if dim == 2 else 256)

    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    g_net, c_net, e_net = _build(model, dim, z_dim, hidden, depth, image)
    for m in (g_net, c_net, e_net):
        if m is not None:
            _init_(m, gen)
            m.to(dtype)
    c_params = list(c_net.parameters())
    ge_params = list(g_net.parameters()) + (list(e_net.parameters()) if e_net else [])
    opt_c = torch.optim.Adam(c_params, lr=lr, betas=tuple(betas))
    opt_g = torch.optim.Adam(ge_params, lr=lr, betas=tuple(betas))
    config = {"model": model, "data": name, "dim": dim, "z_dim": z_dim, "hidden": hidden,
              "depth": depth, "batch_size": batch_size, "lr": lr, "betas": list(betas),
              "critic_steps": critic_steps, "lam": lam, "distance": distance,
              "penalty": penalty, "beta1": beta1, "beta2": beta2,
              "stop_gradient": stop_gradient, "seed": seed, "dtype": str(dtype),
              "n_data": int(x_all.shape[0]), "data_fingerprint": ckpt_io.fingerprint(x_all)}
    hist: dict[str, list[float]] = {k: [] for k in _HIST}
    start = 0
    last_saved: int | None = None
    path = Path(checkpoint) if checkpoint is not None else None

    if path is not None and resume and path.exists():
        tensors, old = ckpt_io.load(path)
        ckpt_io.check_resume(path, old, TRAIN_FORMAT, config, what="kexue.gan training")
        _load_module(g_net, tensors, "generator/", path)
        _load_module(c_net, tensors, "critic/", path)
        if e_net is not None:
            _load_module(e_net, tensors, "encoder/", path)
        _load_opt("opt_c", opt_c, tensors)
        _load_opt("opt_g", opt_g, tensors)
        gen.set_state(tensors["rng"])
        hist = {k: tensors[f"hist/{k}"].tolist() for k in _HIST}
        start = last_saved = int(old["step"])

    def result(step: int, stopped: bool = False) -> GANTrainResult:
        return GANTrainResult(
            generator=g_net, critic=c_net, encoder=e_net,
            history={k: torch.tensor(v, dtype=torch.float64) for k, v in hist.items()},
            step=step, start_step=start, stopped=stopped,
            seconds=time.perf_counter() - t0, checkpoint=path, config=config)

    def save(step: int) -> None:
        nonlocal last_saved
        if path is None:
            return
        if not _finite(g_net, c_net, e_net):
            raise diverged(step - 1, "a parameter", float("nan"))
        tensors = {f"generator/{k}": v for k, v in g_net.state_dict().items()}
        tensors.update({f"critic/{k}": v for k, v in c_net.state_dict().items()})
        if e_net is not None:
            tensors.update({f"encoder/{k}": v for k, v in e_net.state_dict().items()})
        tensors.update(_opt_tensors("opt_c", opt_c))
        tensors.update(_opt_tensors("opt_g", opt_g))
        tensors["rng"] = gen.get_state()
        tensors.update({f"hist/{k}": torch.tensor(v, dtype=torch.float64)
                        for k, v in hist.items()})
        info = {**dict(meta or {}), "format": TRAIN_FORMAT, "step": step, "train": config,
                "nets": {"generator": g_net.spec, "critic": c_net.spec,
                         "encoder": e_net.spec if e_net is not None else None}}
        ckpt_io.save(path, tensors, info)
        last_saved = step

    def diverged(step: int, what: str, value: float) -> TrainingDiverged:
        kept = (f"the last good checkpoint {str(path)!r} (step {last_saved}) is kept"
                if path is not None and last_saved is not None else "no checkpoint was written")
        return TrainingDiverged(
            f"{model} training stopped at generator step {step + 1}: {what} is {value} "
            f"(not finite); {kept}. Lower lr (now {lr}) or check the data for NaN/inf.")

    def batch() -> tuple[Tensor, Tensor]:
        idx = torch.randint(x_all.shape[0], (batch_size,), generator=gen)
        return x_all[idx], sample_latent(batch_size, z_dim, gen, dtype)  # (B, D), (B, z_dim)

    def critic_loss(x: Tensor, z: Tensor) -> Tensor:
        if model == "bigan-qp":
            return bigan_qp_losses(c_net, e_net, g_net, x, z, lam=lam, beta1=beta1, beta2=beta2,
                                   distance=distance, part="critic").critic
        with torch.no_grad():
            fake = g_net(z)  # (B, D)
        if model == "gan-qp":
            return qp_critic_loss(c_net(x), c_net(fake), x, fake, lam=lam, distance=distance)
        if model == "wgan-gp":
            return wgan_gp_losses(c_net, x, fake, penalty=penalty, generator=gen,
                                  part="critic").critic
        return sgan_losses(c_net(x), c_net(fake)).critic

    def generator_loss(x: Tensor, z: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        if model == "bigan-qp":
            out = bigan_qp_losses(c_net, e_net, g_net, x, z, lam=lam, beta1=beta1, beta2=beta2,
                                  distance=distance, stop_gradient=stop_gradient,
                                  part="generator")
            return out.generator, out.latent_rec, out.image_rec
        fake = g_net(z)
        if model == "gan-qp":
            with torch.no_grad():
                t_real = c_net(x)
            return qp_generator_loss(t_real, c_net(fake)), None, None
        if model == "wgan-gp":
            return wgan_gp_losses(c_net, x, fake, part="generator").generator, None, None
        t_fake = c_net(fake)
        return sgan_losses(t_fake.detach(), t_fake).generator, None, None

    bar = (TrainingBar(description or f"{model} on {name or 'data'}", steps, start,
                       "D {dl} G {gl}") if progress and start < steps else None)
    stopped = False
    try:
        for step in range(start, steps):
            c_net.requires_grad_(True)
            for _ in range(critic_steps):
                x, z = batch()
                loss_c = critic_loss(x, z)
                vc = float(loss_c.detach())
                if not math.isfinite(vc):
                    raise diverged(step, "the critic loss", vc)
                opt_c.zero_grad(set_to_none=True)
                loss_c.backward()
                opt_c.step()
            c_net.requires_grad_(False)
            x, z = batch()
            loss_g, lat, img = generator_loss(x, z)
            vg = float(loss_g.detach())
            if not math.isfinite(vg):
                raise diverged(step, "the generator loss", vg)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            hist["critic"].append(vc)
            hist["generator"].append(vg)
            hist["latent_rec"].append(float(lat.detach()) if lat is not None else float("nan"))
            hist["image_rec"].append(float(img.detach()) if img is not None else float("nan"))
            done = step + 1
            if not _finite(g_net, c_net, e_net):
                raise diverged(step, "a parameter", float("nan"))
            if bar is not None:
                bar.update(done, dl=f"{vc:.3g}", gl=f"{vg:.3g}")
            want_stop = False
            if callback is not None and (done % callback_every == 0 or done == steps):
                want_stop = bool(callback(done, result(done)))
            if want_stop or done % ckpt_every == 0 or done == steps:
                save(done)
            if want_stop:
                stopped = True
                break
    finally:
        c_net.requires_grad_(True)
        if bar is not None:
            bar.stop()
    return result(len(hist["generator"]), stopped)


def load_gan(path: str | Path) -> tuple[GANTrainResult, dict[str, Any]]:
    """Rebuild the networks stored by :func:`train_gan` at ``path``.

    Returns:
        ``(result, meta)``: a :class:`GANTrainResult` with the networks in eval mode, and the
        checkpoint's metadata (``meta["train"]`` is the training configuration).

    Raises:
        FileNotFoundError: no such file. ValueError: not a kexue.gan training checkpoint.
    """
    path = Path(path)
    tensors, meta = ckpt_io.load(path)
    if meta.get("format") != TRAIN_FORMAT:
        raise ValueError(f"{str(path)!r} is not a kexue.gan training checkpoint (written by "
                         "kexue.gan.train_gan / kexue gan train)")
    nets = meta["nets"]
    dtype = getattr(torch, meta["train"]["dtype"].replace("torch.", ""))
    g = net_from_spec(nets["generator"]).to(dtype)
    c = net_from_spec(nets["critic"]).to(dtype)
    e = net_from_spec(nets["encoder"]).to(dtype) if nets.get("encoder") else None
    _load_module(g, tensors, "generator/", path)
    _load_module(c, tensors, "critic/", path)
    if e is not None:
        _load_module(e, tensors, "encoder/", path)
    for m in (g, c, e):
        if m is not None:
            m.eval()
    res = GANTrainResult(generator=g, critic=c, encoder=e,
                         history={k: tensors[f"hist/{k}"] for k in _HIST}, step=int(meta["step"]),
                         start_step=int(meta["step"]), stopped=False, seconds=0.0,
                         checkpoint=path, config=meta["train"])
    return res, meta
