"""The five training experiments on any device: ``Config.device`` reaches the trainers and every
evaluation that follows (sampling, likelihoods, classifiers, metrics).

On CUDA (tests marked ``gpu``) each runs a tiny configuration end to end and must give finite
claims and the same claims/tables/figures structure as the same configuration on the CPU. On the
CPU, ``device="cpu"`` and ``device="auto"`` must give bit-identical claims and tables (the runs
before the ``device`` field existed are reproduced exactly: checked when it was added).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from kexue.experiments import get, run_experiment

# Tiny configurations: every code path of each experiment (both SDEs and the paired claim,
# both toy sets, snapshots, ablations, the F1 curve callback), seconds on a CPU.
TINY = {
    "diffusion-toy": dict(datasets=("ring", "moons"), steps=20, hidden=16, depth=1, n_train=500,
                          n_eval=100, n_samples=100, sample_steps=4, nll_points=4,
                          nll_tol=1e-2, kde_points=100, arc_nodes=10),
    "diffusion-digits": dict(sdes=("vp", "subvp"), steps=5, ch=4, batch_size=16, warmup=2,
                             sample_steps=2, n_samples=32, bpd_images=2, bpd_tol=1e-1,
                             inpaint_steps=2, resample_steps=2, resample=1, inpaint_images=16,
                             clf_steps=5),
    "ganqp-toy": dict(datasets=("ring8",), models=("gan-qp", "wgan-gp"), steps=10,
                      batch_size=32, hidden=16, depth=1, snapshots=2, n_eval=200),
    "bigan-qp-digits": dict(steps=5, hidden=16, ablations=("no-sg",)),
    "vat-mnist": dict(labels_per_class=4, val_per_class=2, hidden=16, iterations=12,
                      unlabelled_batch=16, eps_grid=(2.0, 4.0), fgm_eps_grid=(4.0,),
                      sigma_grid=(0.2,), n_seeds=2, curve_every=4),
    "onlstm-grammar": dict(grammars=("english", "arithmetic"), n_seeds=1, steps=4, n_train=100,
                           n_val=10, n_test=10, embed_size=8, hidden_size=16, chunk_size=8,
                           batch_size=8, curve_every=2, ablations=True, n_random=1),
}
# how many rows this table has depends on which readings validation chose (device-dependent)
_VARIABLE_ROWS = ("What the distances track",)


def _run(name: str, device: str, **extra):
    spec = get(name)
    cfg = dataclasses.replace(spec.config(), **{**TINY[name], **extra}, device=device)
    result = run_experiment(spec, cfg)
    assert result.status == "ok", result.error + "\n" + result.notes
    return result


def _structure(result) -> tuple:
    tables = [(t.title, tuple(t.columns),
               None if t.title.startswith(_VARIABLE_ROWS) else len(t.rows))
              for t in result.tables]
    return len(result.claims), tables, sorted(result.figures)


def _numbers(result) -> list[float]:
    return [float(c.obtained) for c in result.claims
            if isinstance(c.obtained, (int, float)) and not isinstance(c.obtained, bool)]


def test_every_training_experiment_has_a_device_field():
    for name in TINY:
        fields = {f.name: f for f in dataclasses.fields(get(name).config)}
        assert fields["device"].default == "auto", name


def test_a_device_that_does_not_exist_fails_the_run_with_the_fix():
    if torch.cuda.is_available():
        bad = f"cuda:{torch.cuda.device_count()}"
        match = "does not exist"
    else:
        bad, match = "cuda", "CUDA is not available"
    spec = get("onlstm-grammar")
    cfg = dataclasses.replace(spec.config(), **TINY["onlstm-grammar"], device=bad)
    result = run_experiment(spec, cfg)
    assert result.status == "failed" and match in result.error


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks CUDA here; CPU-only check")
@pytest.mark.parametrize("name", ["onlstm-grammar", "diffusion-toy"])
def test_cpu_and_auto_give_identical_results_on_a_cpu_machine(name):
    # the two cheapest experiments (about 0.3 s and 0.5 s a run)
    a, b = _run(name, "cpu"), _run(name, "auto")
    assert [c.obtained for c in a.claims] == [c.obtained for c in b.claims]
    assert [c.passed for c in a.claims] == [c.passed for c in b.claims]
    timing = ("wall", "time", "train s", "ms / G")
    for ta, tb in zip(a.tables, b.tables, strict=True):
        keep = [i for i, col in enumerate(ta.columns) if not any(k in col for k in timing)]
        assert [[r[i] for i in keep] for r in ta.rows] == [[r[i] for i in keep] for r in tb.rows]
    assert a.device == b.device and a.device.startswith("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", list(TINY))
def test_tiny_run_on_cuda_is_finite_and_shaped_like_the_cpu_run(name):
    gpu = _run(name, "cuda")
    cpu = _run(name, "cpu")
    assert gpu.device.startswith("cuda"), gpu.device
    assert _structure(gpu) == _structure(cpu)
    numbers = _numbers(gpu)
    assert numbers and all(math.isfinite(v) for v in numbers), numbers
    assert len(numbers) == len(_numbers(cpu))
