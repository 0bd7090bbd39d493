"""Experiment registry: one module per article claim, each a ``Config`` + ``run(config) -> Result``.

``registry()`` returns the specs in report order; ``run_experiment`` runs one spec with timing,
seeding and failure capture. See :mod:`kexue.experiments._base` for the protocol.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from ._base import (
    Claim,
    ConfigError,
    Experiment,
    Reference,
    Result,
    Table,
    claim_verdict,
    finding_for,
    resolve_config,
)
from ._listing import listing, load_experiment_module

__all__ = [
    "Claim", "ConfigError", "Experiment", "Reference", "Result", "Table",
    "registry", "get", "listing", "resolve_config", "run_experiment",
    "claim_verdict", "finding_for",
]

# Report order. Add a module here when it defines ``EXPERIMENT``.
_MODULES = [
    "thesis_walk_limit",
    "thesis_four_ways",
    "thesis_strong_order",
    "thesis_first_passage",
    "thesis_stock",
    "thesis_beyond",
    "sde_fit",
    "diffusion_samplers",
    "diffusion_likelihood",
    "diffusion_toy",
    "diffusion_memorise",
    "diffusion_digits",
    "diffusion_mnist",
    "smooth_max",
    "smooth_f1",
    "noise_vs_penalty",
    "noise_kinds",
    "vat_digits",
    "vat_mnist",
    "forms_stokes",
    "feynman_catalogue",
    "ganqp_toy",
    "ganqp_mnist",
    "bigan_qp_digits",
    "bigan_qp_mnist",
    "onlstm_grammar",
    "onlstm_ptb",
]

_REGISTRY: dict[str, Experiment] | None = None


def registry() -> dict[str, Experiment]:
    """All registered experiments, ``name -> Experiment``, in report order.

    Raises:
        kexue.data.MissingExtraError: an experiment module needs a package of an optional extra
            that is not installed (``pip install 'kexue[all]'`` installs every one).
    """
    global _REGISTRY
    if _REGISTRY is None:
        specs: dict[str, Experiment] = {}
        for mod in _MODULES:
            spec = load_experiment_module(mod).EXPERIMENT
            if spec.name in specs:
                raise RuntimeError(f"duplicate experiment name {spec.name!r} in {mod}")
            specs[spec.name] = spec
        _REGISTRY = specs
    return _REGISTRY


def get(name: str) -> Experiment:
    """The experiment called ``name``; ``KeyError`` listing the valid names otherwise."""
    specs = registry()
    if name not in specs:
        raise KeyError(f"unknown experiment {name!r}; valid names: {', '.join(specs)}")
    return specs[name]


def run_experiment(spec: Experiment, config: Any, *, quick: bool = False) -> Result:
    """Run ``spec.run(config)``; time it and fill the metadata. Never raises for a failing run:
    the exception is captured into ``status="failed"`` and ``error``.

    The device is ``config.device`` resolved by :func:`kexue.devices.resolve_device` (``auto``:
    a GPU when there is one), or the CPU for a ``Config`` without a ``device`` field; it is
    recorded in words (:func:`kexue.devices.device_text`, e.g. ``"cpu (2 threads)"``) unless the
    experiment filled ``Result.device`` itself. ``Result.processes`` is the size of the process
    group (1 outside ``torchrun``). A device that does not exist fails the run.
    """
    from .. import parallel  # torch: imported here so that `kexue list` does not need it
    from ..devices import device_text, resolve_device

    t0 = time.perf_counter()
    requested = getattr(config, "device", None)
    device = None
    try:
        device = resolve_device(requested if requested is not None else "cpu")
        result = spec.run(config)
        if not isinstance(result, Result):
            raise TypeError(f"{spec.name}.run returned {type(result).__name__}, expected Result")
    except Exception as exc:  # noqa: BLE001 - one failing experiment must not stop the others
        result = Result(status="failed", error=f"{type(exc).__name__}: {exc}",
                        notes=traceback.format_exc(limit=8))
    result.runtime_s = time.perf_counter() - t0
    result.name = spec.name
    result.title = spec.title
    result.article = spec.article
    result.article_url = spec.article_url
    result.references = list(spec.references)
    result.config = dict(vars(config))
    result.seed = getattr(config, "seed", None)
    result.quick = quick
    result.processes = parallel.world_size()
    spec.mark_findings(result)
    if result.device in ("", "cpu"):
        result.device = device_text(device) if device is not None else f"{requested} (unavailable)"
    return result
