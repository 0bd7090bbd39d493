r"""Closed forms of Su Jianlin's thesis (kexue.fm archives 3749–3766): test cases V1–V16.

Every function computes in float64 NumPy/SciPy and broadcasts over array arguments. **Inputs and
outputs:** NumPy arrays / Python numbers in → NumPy arrays / NumPy scalars out; **tensors in →
tensors out** on the tensors' device, in their (promoted) floating dtype (PyTorch's default dtype
for integer tensors) — the maths still runs in float64 on the host and is not differentiable
(tensors are detached). Tuples of results come back as tuples of tensors; a scipy law
(:func:`cir_distribution`) is returned as it is. A potential passed to :func:`gibbs_density`
receives NumPy arrays.

Notation follows the thesis: diffusion constant ``alpha`` (the variance rate,
``dx = p dt + sqrt(alpha) dW``), drift ``p``. **Every function with an ``alpha`` argument also
accepts ``sigma=`` instead** (keyword only; ``alpha = sigma**2``, the volatility of
``dx = p dt + sigma dW``; passing both is a ``TypeError``). The finance, first-passage and CIR
cases take the customary ``mu`` and volatility ``sigma`` directly. ``Φ`` is the standard normal
CDF.

Cases and functions:

* V1 finite walk ``+a`` w.p. ``p``, ``-b`` w.p. ``q``: :func:`walk_pmf`, :func:`walk_mean`,
  :func:`walk_var`
* V2 asymmetric walk → drift-diffusion ``N(x0 + p t, alpha t)``: :func:`drift_diffusion_density`
* V3 gambler's ruin on ``{0..N}``: :func:`gamblers_ruin_probability`,
  :func:`gamblers_ruin_duration`
* V4 exit of drifted BM from ``(a, b)``: :func:`exit_probability`, :func:`mean_exit_time`
* V5 first passage of drifted BM to ``a > 0``: :func:`first_passage_density`,
  :func:`first_passage_cdf`
* V6 heat kernel / free propagator: :func:`heat_kernel`
* V7 Ornstein–Uhlenbeck ``dx = -θ x dt + sqrt(alpha) dW``: :func:`ou_mean`, :func:`ou_var`,
  :func:`ou_transition_density`, :func:`ou_gaussian_evolution`, :func:`ou_stationary_density`
* V8 Su's linear SDE ``dx = x dt + sqrt(alpha) dW`` (eq. 49): :func:`linear_sde_density`
* V9 Mehler kernel (Euclidean harmonic oscillator): :func:`mehler_kernel`,
  :func:`harmonic_classical_action`, :func:`harmonic_classical_path`, :func:`van_vleck_kernel`
* V10 the thesis identity, SDE density = rescaled Mehler kernel:
  :func:`linear_density_from_mehler`
* V11 Feynman–Kac, harmonic potential: :func:`feynman_kac_harmonic`,
  :func:`feynman_kac_harmonic_gaussian`
* V12 Feynman–Kac, linear potential: :func:`feynman_kac_linear`
* V13 geometric Brownian motion: :func:`gbm_density`, :func:`gbm_mean`, :func:`gbm_var`,
  :func:`gbm_exact`, :func:`euler_gbm_moments`
* V14 Black–Scholes: :func:`black_scholes_call`, :func:`black_scholes_put`
* V15 heat equation with Dirichlet walls: :func:`heat_dirichlet_mode`, :func:`heat_absorbing_wall`
* V16 equilibrium density ``∝ exp(-2U/alpha)``: :func:`gibbs_density`,
  :func:`double_well_stationary_density`

The functions live in private modules by concept (``_closed_walks`` V1–V5, ``_closed_heat`` V6 and
V15, ``_closed_linear`` V7–V8, ``_closed_paths`` V9–V12, ``_closed_finance`` V13–V14 and CIR,
``_closed_equilibrium`` V16); this module is their public home and adds the tensor and ``sigma=``
handling.

Sources: Su Jianlin, "Random walks, SDEs and path-integral methods for PDEs" (kexue.fm archives
3749, 3750, 3757, 3762, 3766); Feller, *An Introduction to Probability Theory*, vol. 1 ch. XIV
(gambler's ruin); Karatzas & Shreve, *Brownian Motion and Stochastic Calculus* §3.5 (first
passage); Mehler (1866); Black & Scholes (1973).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ._closed_equilibrium import (
    double_well_potential,
    double_well_stationary_density,
    gibbs_density,
)
from ._closed_finance import (
    black_scholes_call,
    black_scholes_put,
    cir_distribution,
    cir_mean,
    cir_var,
    euler_gbm_moments,
    gbm_density,
    gbm_exact,
    gbm_mean,
    gbm_var,
)
from ._closed_heat import heat_absorbing_wall, heat_dirichlet_mode, heat_kernel
from ._closed_linear import (
    gaussian_density_2d,
    linear_sde_density,
    linear_sde_nd_moments,
    lyapunov_covariance,
    ou_gaussian_evolution,
    ou_mean,
    ou_stationary_density,
    ou_transition_density,
    ou_var,
)
from ._closed_paths import (
    feynman_kac_harmonic,
    feynman_kac_harmonic_gaussian,
    feynman_kac_linear,
    harmonic_classical_action,
    harmonic_classical_path,
    linear_density_from_mehler,
    mehler_first_order,
    mehler_kernel,
    van_vleck_kernel,
)
from ._closed_walks import (
    drift_diffusion_density,
    exit_probability,
    first_passage_cdf,
    first_passage_density,
    gamblers_ruin_duration,
    gamblers_ruin_probability,
    mean_exit_time,
    walk_mean,
    walk_pmf,
    walk_var,
)

__all__ = [
    "walk_pmf", "walk_mean", "walk_var",
    "drift_diffusion_density",
    "gamblers_ruin_probability", "gamblers_ruin_duration",
    "exit_probability", "mean_exit_time",
    "first_passage_density", "first_passage_cdf",
    "heat_kernel",
    "ou_mean", "ou_var", "ou_transition_density", "ou_gaussian_evolution", "ou_stationary_density",
    "linear_sde_density",
    "mehler_kernel", "harmonic_classical_action", "harmonic_classical_path", "van_vleck_kernel",
    "linear_density_from_mehler",
    "feynman_kac_harmonic", "feynman_kac_harmonic_gaussian", "feynman_kac_linear",
    "gbm_density", "gbm_mean", "gbm_var", "gbm_exact", "euler_gbm_moments",
    "black_scholes_call", "black_scholes_put",
    "heat_dirichlet_mode", "heat_absorbing_wall",
    "gibbs_density", "double_well_potential", "double_well_stationary_density",
    "mehler_first_order", "cir_mean", "cir_var", "cir_distribution",
    "linear_sde_nd_moments", "lyapunov_covariance", "gaussian_density_2d",
]


# ------------------------------------------------------------------ tensors in, tensors out; σ
def _tensor_spec(values) -> tuple[torch.dtype, torch.device] | None:
    """``(dtype, device)`` of the results when any argument is a tensor, else ``None``.

    dtype: the promotion of the floating tensors' dtypes (PyTorch's default dtype if only integer
    tensors were given); device: the tensors' common device.
    """
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    if not tensors:
        return None
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise ValueError(f"closed forms: tensor arguments on several devices "
                         f"{sorted(map(str, devices))}; move them to one device (the result is "
                         "returned there).")
    floats = [t.dtype for t in tensors if t.is_floating_point()]
    dtype = torch.get_default_dtype()
    if floats:
        dtype = floats[0]
        for d in floats[1:]:
            dtype = torch.promote_types(dtype, d)
    return dtype, tensors[0].device


def _to_numpy(v):
    if isinstance(v, torch.Tensor):
        if v.is_complex():
            raise TypeError("closed forms take real tensors; got a complex tensor.")
        return v.detach().cpu().numpy()
    return v


def _to_torch(v, dtype, device):
    if isinstance(v, (np.ndarray, np.generic, float)) and not isinstance(v, (bool, np.bool_)):
        a = np.asarray(v)
        if a.dtype.kind == "f":
            return torch.as_tensor(a, dtype=dtype, device=device)
        if a.dtype.kind in "iub":
            return torch.as_tensor(a, device=device)
        return v
    if isinstance(v, tuple):
        return tuple(_to_torch(x, dtype, device) for x in v)
    if isinstance(v, list):
        return [_to_torch(x, dtype, device) for x in v]
    return v                                    # e.g. cir_distribution's frozen scipy law


def _tensors_and_sigma(fn: Callable) -> Callable:
    """Wrap a closed form: tensor arguments in → tensors out (same dtype/device; the maths runs
    in float64 NumPy on the host, without autograd); ``sigma=`` for ``alpha = sigma**2`` where the
    function takes ``alpha`` and no ``sigma`` of its own."""
    import functools
    import inspect

    params = inspect.signature(fn).parameters
    has_alpha = "alpha" in params and "sigma" not in params
    names = list(params)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if has_alpha and "sigma" in kwargs:
            sigma = kwargs.pop("sigma")
            if "alpha" in kwargs or len(args) > names.index("alpha"):
                raise TypeError(f"{fn.__name__}: pass either alpha= (the variance rate) or "
                                "sigma= (its square root, alpha = sigma**2), not both.")
            kwargs["alpha"] = sigma ** 2
        spec = _tensor_spec([*args, *kwargs.values()])
        if spec is None:
            return fn(*args, **kwargs)
        out = fn(*(_to_numpy(a) for a in args), **{k: _to_numpy(v) for k, v in kwargs.items()})
        return _to_torch(out, *spec)
    return wrapper


# The public wrappers live here (as before the split into _closed_* modules): their __module__
# is this module's, so that they pickle, and show in reprs, as kexue.stochastic.closed_forms.<name>.
for _name in __all__:
    globals()[_name] = _tensors_and_sigma(globals()[_name])
    globals()[_name].__module__ = __name__
del _name
