"""Hostile input to the CLI (issue 16): sizes that cannot be allocated or would run for hours,
degenerate SDEs, figure outputs that are empty or existing directories, and experiment configs
that are out of range end in one line ``error: ...`` with exit status 2, within a time bound,
having written nothing; a figure ``--out`` naming a directory writes the default name inside it
and prints the real path."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kexue import _limits
from kexue.cli import _launch, app

runner = CliRunner()
TIME_BOUND = 20.0  # seconds, imports included; the refused work would take hours or not fit


def invoke(args: list, monkeypatch=None):
    """Run ``kexue ARGS`` as the console script would (its raw arguments recorded)."""
    args = [str(a) for a in args]
    if monkeypatch is not None:
        monkeypatch.setattr(_launch, "_COMMAND_ARGS", args)
    start = time.perf_counter()
    res = runner.invoke(app, args)
    return res, time.perf_counter() - start


def assert_refused(res, elapsed, *needles):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in res.output
    assert elapsed < TIME_BOUND


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv(_limits.ENV_ALLOW_LARGE, raising=False)


SDE_ARGS = ["--drift", "-x", "--diffusion", "0.5"]


# ------------------------------------------------------------------ degenerate SDEs (the hang)
@pytest.mark.parametrize("g", ["0", "0*x", "x - x", "0*sin(t)"])
def test_density_with_zero_diffusion_is_refused_at_once(g, tmp_path, monkeypatch):
    out = tmp_path / "d.png"
    res, elapsed = invoke(["sde", "density", "--drift", "-x", "--diffusion", g, "--out", out],
                          monkeypatch)
    assert_refused(res, elapsed, "identically zero", "kexue sde simulate")
    assert not out.exists()


def test_density_with_a_vanishing_diffusion_is_refused_not_hung(tmp_path, monkeypatch):
    res, elapsed = invoke(["sde", "density", "--drift", "-x", "--diffusion", "1e-300",
                           "--paths", 200, "--steps", 10, "--out", tmp_path / "d.png"],
                          monkeypatch)
    assert_refused(res, elapsed, "the diffusion is too small")


# ------------------------------------------------------------------------------- sizes
@pytest.mark.parametrize("extra, needles", [
    (["--paths", 10**12], ["--paths 1000000000000", "needed", "use fewer --paths"]),
    (["--paths", 10**8, "--steps", 10**4], ["path-steps, above the limit of 3e+09"]),
    (["--steps", 10**10], ["--steps 10000000000", "path-steps"]),
    (["--show", 10**6], ["--show must be <= 1000"]),
])
def test_simulate_sizes_are_refused_with_the_estimate(extra, needles, tmp_path, monkeypatch):
    out = tmp_path / "p.png"
    res, elapsed = invoke(["sde", "simulate", *SDE_ARGS, "--out", out, *extra], monkeypatch)
    assert_refused(res, elapsed, *needles)
    assert not out.exists()


@pytest.mark.parametrize("extra, needles", [
    (["--points", 10**8], ["--points must be <= 100001"]),
    (["--paths", 10**12], ["use fewer --paths"]),
])
def test_density_sizes_are_refused(extra, needles, tmp_path, monkeypatch):
    res, elapsed = invoke(["sde", "density", *SDE_ARGS, "--out", tmp_path / "d.png", *extra],
                          monkeypatch)
    assert_refused(res, elapsed, *needles)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=st.integers(1, 10**15), steps=st.integers(1, 10**12))
def test_any_too_large_simulation_is_refused_before_work(paths, steps, monkeypatch, tmp_path):
    from kexue.cli._sde import MAX_PATH_STEPS

    if max(paths, 1024) * steps <= MAX_PATH_STEPS and paths * 32 < 2**30:
        return  # allowed (and it would run): the refused region is what is tested here
    res, elapsed = invoke(["sde", "simulate", *SDE_ARGS, "--paths", paths, "--steps", steps,
                           "--out", tmp_path / "p.png"], monkeypatch)
    if paths * 32 < 0.5 * _limits.available_memory() or max(paths, 1024) * steps > MAX_PATH_STEPS:
        assert_refused(res, elapsed)
        assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("extra, needles", [
    (["--batch-size", 10**11], ["--batch-size 100000000000", "activations", "needed"]),
    (["--hidden", 10**8], ["--hidden 100000000", "weights and optimizer state"]),
    (["--batch-size", 0], ["--batch-size must be >= 1"]),
    (["--depth", 0], ["--depth must be >= 1"]),
])
def test_gan_train_sizes_are_refused_before_anything_is_written(extra, needles, tmp_path,
                                                                 monkeypatch):
    out = tmp_path / "run"
    res, elapsed = invoke(["gan", "train", "--out", out, "--no-progress", *extra], monkeypatch)
    assert_refused(res, elapsed, *needles)
    assert not out.exists()


@pytest.mark.parametrize("extra, needles", [
    (["--hidden", 10**8], ["--hidden 100000000", "needed"]),
    (["--layers", 10**5], ["--layers must be ≤ 64"]),
    (["--threads", 10**5], ["--threads must be at most the"]),
    (["--chunk", 0], ["--chunk must be ≥ 1"]),
])
def test_onlstm_train_sizes_are_refused_before_anything_is_written(extra, needles, tmp_path,
                                                                    monkeypatch):
    out = tmp_path / "run"
    res, elapsed = invoke(["onlstm", "train", "--grammar", "english", "--out", out,
                           "--no-progress", *extra], monkeypatch)
    assert_refused(res, elapsed, *needles)
    assert not out.exists()


@pytest.mark.parametrize("extra, needles", [
    (["--width", 10**8], ["--width 100000000 (MLP width)", "weights", "needed"]),
    (["--data", "digits", "--width", 10**6], ["--width 1000000 (U-Net channels)", "needed"]),
    (["--batch-size", 10**11], ["--batch-size 100000000000", "activations", "needed"]),
    (["--n-train", 10**12], ["--n-train 1000000000000", "training set", "needed"]),
    (["--threads", 10**5], ["--threads 100000 is more than the"]),
])
def test_diffusion_train_sizes_are_refused_before_anything_is_written(extra, needles, tmp_path,
                                                                       monkeypatch):
    # found by benchmarks/hostile_sweep.py: --width 1e8 hung, the others raised MemoryError
    out = tmp_path / "run"
    res, elapsed = invoke(["diffusion", "train", "--out", out, "--no-progress", *extra],
                          monkeypatch)
    assert_refused(res, elapsed, *needles)
    assert not out.exists()


def test_diffusion_sample_n_and_empty_out_are_refused(tmp_path, monkeypatch):
    ckpt = tmp_path / "none.safetensors"
    res, elapsed = invoke(["diffusion", "sample", "--ckpt", ckpt, "--n", 10**12], monkeypatch)
    assert_refused(res, elapsed, "--n 1000000000000 is more than the 1,000,000")
    res, elapsed = invoke(["diffusion", "sample", "--ckpt", ckpt, "--out", ""], monkeypatch)
    assert_refused(res, elapsed, "--out is empty")


def test_gan_sample_n_is_bounded(tmp_path, monkeypatch):
    res, elapsed = invoke(["gan", "sample", "--ckpt", tmp_path / "none.safetensors",
                           "--n", 10**12], monkeypatch)
    assert_refused(res, elapsed, "--n must be <= 1000000")


@pytest.mark.parametrize("cmd", [["integrals", "verify", "F3"], ["integrals", "show", "F3"]])
def test_integrals_digits_are_bounded(cmd, monkeypatch):
    res, elapsed = invoke([*cmd, "--digits", 10**6], monkeypatch)
    assert_refused(res, elapsed, "--digits must be between 1 and 200")


# ---------------------------------------------------------------------------- figure outputs
def test_simulate_out_empty_is_refused(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    res, elapsed = invoke(["sde", "simulate", *SDE_ARGS, "--out", ""], monkeypatch)
    assert_refused(res, elapsed, "--out is empty", "paths.png")
    assert list(tmp_path.iterdir()) == []


def test_density_out_unknown_type_is_refused_before_work(tmp_path, monkeypatch):
    res, elapsed = invoke(["sde", "density", *SDE_ARGS, "--out", tmp_path / "d.xyz"],
                          monkeypatch)
    assert_refused(res, elapsed, "unknown file type '.xyz'")


def test_simulate_out_an_existing_directory_writes_inside_it(tmp_path, monkeypatch):
    res, _ = invoke(["sde", "simulate", *SDE_ARGS, "--paths", 200, "--steps", 5, "--show", 3,
                     "--out", tmp_path], monkeypatch)
    assert res.exit_code == 0, res.output
    written = tmp_path / "paths.png"
    assert written.is_file() and written.read_bytes()[:4] == b"\x89PNG"
    assert f"figure: {written}" in res.output
    assert not Path(str(tmp_path) + ".png").exists()


def test_simulate_out_without_suffix_gets_png_and_prints_it(tmp_path, monkeypatch):
    res, _ = invoke(["sde", "simulate", *SDE_ARGS, "--paths", 200, "--steps", 5, "--show", 3,
                     "--out", tmp_path / "new" / "fig"], monkeypatch)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "new" / "fig.png").is_file()
    assert f"figure: {tmp_path / 'new' / 'fig.png'}" in res.output


def test_gan_png_unknown_type_is_refused_before_loading(tmp_path, monkeypatch):
    res, elapsed = invoke(["gan", "sample", "--ckpt", tmp_path / "none.safetensors",
                           "--png", tmp_path / "s.bmpx"], monkeypatch)
    assert_refused(res, elapsed, "--png", "unknown file type")


# -------------------------------------------------------------------- experiment configs
@pytest.mark.parametrize("setting, needle", [
    ("k_max=0.1", "k_max = 0.1 is out of range: must be > k_min"),
    ("spread=-1", "spread = -1.0 is out of range"),
    ("n_values=1", "n_values = (1,) is out of range"),
    ("spread=nan", "--set spread: expected a finite number"),
    ("n_trials=1.5", "--set n_trials: expected a value of type int"),
    ("seed=-3", "seed = -3 is out of range"),
])
def test_reproduce_invalid_config_exits_2_before_running(setting, needle, tmp_path,
                                                         monkeypatch):
    out = tmp_path / "report"
    res, elapsed = invoke(["reproduce", "smooth-max", "--quick", "--set", setting, "--out", out],
                          monkeypatch)
    assert_refused(res, elapsed, needle)
    assert not out.exists()
