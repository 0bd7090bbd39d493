"""CLI polish (issue 15): one progress flag, one checkpoint name (``last.safetensors``, ``--ckpt``
a file or its directory, the old diffusion name still read), ``--save`` of the samples of
``diffusion sample``, ``gan sample`` and ``sde simulate`` (round trips against what the command
computed), a loss log from every ``train``, choices with "did you mean", shell completion."""

from __future__ import annotations

import csv
import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from kexue import checkpoint
from kexue.cli import _launch, app

runner = CliRunner()

DIFFUSION_TINY = ["--data", "ring", "--sde", "vp", "--steps", "6", "--width", "8",
                  "--n-train", "256", "--batch-size", "32", "--ckpt-every", "3"]
GAN_TINY = ["--model", "gan-qp", "--data", "ring", "--steps", "3", "--hidden", "8",
            "--depth", "1", "--batch-size", "16"]
ONLSTM_TINY = ["--grammar", "arithmetic", "--steps", "4", "--hidden", "8", "--chunk", "4"]


def kexue(*args, monkeypatch=None):
    """``kexue ARGS`` through the root app, with the raw arguments recorded (as ``main`` does)."""
    args = [str(a) for a in args]
    if monkeypatch is not None:
        monkeypatch.setattr(_launch, "_COMMAND_ARGS", args)
    return runner.invoke(app, args)


def one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in res.output


@pytest.fixture(scope="module")
def diffusion_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("diffusion")
    res = kexue("diffusion", "train", *DIFFUSION_TINY, "--out", out, "--no-progress")
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gan")
    res = kexue("gan", "train", *GAN_TINY, "--out", out, "--no-progress")
    assert res.exit_code == 0, res.output
    return out


# --------------------------------------------------------------------------- progress flag
@pytest.mark.parametrize("cmd", [["reproduce"], ["diffusion", "train"], ["gan", "train"],
                                 ["onlstm", "train"]], ids=" ".join)
def test_every_long_command_has_one_progress_flag(cmd):
    res = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "--progress" in res.output and "--no-progress" in res.output
    assert "--quiet" not in res.output  # diffusion's old flag is a hidden alias


def test_diffusion_quiet_is_a_hidden_alias_of_no_progress(tmp_path):
    res = kexue("diffusion", "train", *DIFFUSION_TINY, "--steps", "2", "--out", tmp_path,
                "--quiet")
    assert res.exit_code == 0, res.output
    assert "━" not in res.output  # no bar drawn


def test_reproduce_no_progress_still_reports_each_experiment(tmp_path, monkeypatch):
    res = kexue("reproduce", "smooth-max", "--quick", "--out", tmp_path, "--no-progress",
                monkeypatch=monkeypatch)
    assert res.exit_code == 0, res.output
    assert "smooth-max:" in res.output and "reproducing" not in res.output
    assert (tmp_path / "index.html").is_file()


# ------------------------------------------------------------------- one checkpoint name
def test_train_writes_last_safetensors_and_ckpt_takes_the_file_or_its_directory(
        diffusion_run, gan_run, tmp_path):
    for run in (diffusion_run, gan_run):
        assert (run / "last.safetensors").is_file()
        assert not (run / "model.safetensors").exists()
    for ckpt in (diffusion_run, diffusion_run / "last.safetensors"):
        res = kexue("diffusion", "sample", "--ckpt", ckpt, "--steps", "2", "--n", "4",
                    "--out", tmp_path / "s.png")
        assert res.exit_code == 0, res.output
    for ckpt in (gan_run, gan_run / "last.safetensors"):
        res = kexue("gan", "sample", "--ckpt", ckpt, "--n", "3")
        assert res.exit_code == 0, res.output
        assert len(res.stdout.splitlines()) == 3


def test_a_directory_without_a_checkpoint_is_one_line(tmp_path):
    one_line_error(kexue("diffusion", "sample", "--ckpt", tmp_path), "no last.safetensors",
                   "kexue diffusion train --out DIR")
    one_line_error(kexue("gan", "sample", "--ckpt", tmp_path), "no last.safetensors")
    one_line_error(kexue("onlstm", "parse", "--ckpt", tmp_path, "+ 3 4"),
                   "no last.safetensors")


def test_old_diffusion_checkpoint_name_still_loads_and_resumes(diffusion_run, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy2(diffusion_run / "last.safetensors", old / "model.safetensors")
    res = kexue("diffusion", "sample", "--ckpt", old, "--steps", "2", "--n", "4",
                "--out", tmp_path / "s.png")
    assert res.exit_code == 0, res.output
    notes = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(notes) == 1 and notes[0].startswith("note: ") and "model.safetensors" in notes[0]
    # train into the old directory: resumes from the old file, continues in last.safetensors
    res = kexue("diffusion", "train", *DIFFUSION_TINY, "--steps", "8", "--out", old,
                "--no-progress")
    assert res.exit_code == 0, res.output
    assert "step 8 (resumed from 6)" in res.output
    assert checkpoint.load(old / "last.safetensors")[1]["step"] == 8


# ------------------------------------------------------------------------ --save samples
def _diffusion_direct(run, seed: int, n: int, steps: int, method: str) -> torch.Tensor:
    """What ``kexue diffusion sample`` computes, through the public library."""
    from kexue.diffusion import load_score_model, sample

    model, _ = load_score_model(run / "last.safetensors", device=torch.device("cpu"))
    gen = torch.Generator().manual_seed(seed)
    x_T = model.sde.prior_sample((n, model.net.dim), gen, device=torch.device("cpu"))
    with torch.no_grad():
        x, _ = sample(model, model.sde, x_T, method=method, steps=steps, grid="uniform",
                      generator=gen)
    return x


def test_diffusion_sample_save_round_trip(diffusion_run, tmp_path, monkeypatch):
    args = ["diffusion", "sample", "--ckpt", diffusion_run, "--method", "em", "--steps", "3",
            "--n", "10", "--seed", "5", "--device", "cpu", "--out", tmp_path / "s.png"]
    res = kexue(*args, "--save", tmp_path / "x.safetensors", monkeypatch=monkeypatch)
    assert res.exit_code == 0, res.output
    assert f"samples: {tmp_path / 'x.safetensors'}" in res.output
    tensors, meta = checkpoint.load(tmp_path / "x.safetensors")
    expected = _diffusion_direct(diffusion_run, 5, 10, 3, "em")
    assert tensors["samples"].shape == (10, 2)
    torch.testing.assert_close(tensors["samples"], expected, rtol=0, atol=0)
    assert meta["seed"] == 5 and meta["steps"] == 3 and meta["method"] == "em"
    assert f"{meta['nfe']} score evaluations" in res.output
    assert meta["data"] == "ring" and meta["shape"] == [10, 2]
    assert meta["command"].startswith("kexue diffusion sample --ckpt")
    res = kexue(*args, "--save", tmp_path / "x.npy")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), expected.numpy())


def test_gan_sample_save_round_trip(gan_run, tmp_path):
    from kexue.gan import load_gan

    res = kexue("gan", "sample", "--ckpt", gan_run, "--n", "7", "--seed", "3",
                "--save", tmp_path / "g.safetensors")
    assert res.exit_code == 0, res.output
    tensors, meta = checkpoint.load(tmp_path / "g.safetensors")
    gan, _ = load_gan(gan_run / "last.safetensors")
    torch.testing.assert_close(tensors["samples"], gan.sample(7, 3).cpu(), rtol=0, atol=0)
    printed = np.array([[float(v) for v in row] for row in csv.reader(
        ln for ln in res.stdout.splitlines() if "," in ln)])
    np.testing.assert_allclose(printed, tensors["samples"].numpy(), rtol=1e-4, atol=1e-5)
    assert meta["seed"] == 3 and meta["n"] == 7 and meta["model"] == "gan-qp"
    res = kexue("gan", "sample", "--ckpt", gan_run, "--n", "7", "--seed", "3",
                "--save", tmp_path / "g.npy")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), tensors["samples"].numpy())


def test_sde_simulate_save_round_trip(tmp_path, monkeypatch):
    from kexue.cli._sde import _build_sde, _simulate_final

    args = ["sde", "simulate", "--drift", "-x", "--diffusion", "0.5", "--x0", "1",
            "--paths", "300", "--steps", "20", "--show", "4", "--seed", "2", "--device", "cpu",
            "--out", tmp_path / "p.png"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = kexue(*args, "--save", tmp_path / "p.safetensors", monkeypatch=monkeypatch)
    assert res.exit_code == 0, res.output
    assert not caught, [str(w.message) for w in caught]  # e.g. no CoarseStepWarning
    tensors, meta = checkpoint.load(tmp_path / "p.safetensors")
    sde, _ = _build_sde("-x", "0.5")
    xT, _ = _simulate_final(sde, 1.0, 1.0, 300, 20, "euler", 2, torch.device("cpu"))
    assert tensors["samples"].shape == (300, 1) and tensors["samples"].dtype == torch.float64
    np.testing.assert_array_equal(tensors["samples"][:, 0].numpy(), xT)
    assert tensors["ts"].shape == (21,) and tensors["paths"].shape == (21, 4, 1)
    torch.testing.assert_close(tensors["paths"][0], torch.ones(4, 1, dtype=torch.float64))
    assert float(tensors["ts"][-1]) == 1.0
    assert f"mean {xT.mean():.6g}" in res.output
    assert meta["drift"] == "-x" and meta["diffusion"] == "0.5" and meta["steps"] == 20
    assert meta["seed"] == 2 and meta["method"] == "euler" and meta["n_paths"] == 300
    res = kexue(*args, "--save", tmp_path / "p.npy")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy")[:, 0], xT)


@pytest.mark.parametrize("cmd", [
    ["sde", "simulate", "--drift", "-x", "--diffusion", "1"],
    ["diffusion", "sample", "--ckpt", "missing"],
    ["gan", "sample", "--ckpt", "missing"],
], ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize("bad,needle", [
    ("x.txt", "unknown file type '.txt'; use one of .safetensors, .npy"),
    ("/proc/x.npy", "not writable"),
    ("", "--save is empty"),
])
def test_bad_save_is_refused_before_any_work(cmd, bad, needle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(kexue(*cmd, "--save", bad, monkeypatch=monkeypatch), "--save", needle)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------------------- loss logs
def test_every_train_writes_a_loss_log_in_out_by_default(diffusion_run, gan_run, tmp_path):
    res = kexue("onlstm", "train", *ONLSTM_TINY, "--out", tmp_path, "--no-progress")
    assert res.exit_code == 0, res.output
    for run, steps in ((diffusion_run, 6), (gan_run, 3), (tmp_path, 4)):
        rows = list(csv.DictReader((run / "loss.csv").open()))
        assert [int(r["step"]) for r in rows] == list(range(1, steps + 1)), run
        assert all(np.isfinite(float(v)) for r in rows for k, v in r.items() if k != "step")


def test_log_option_writes_jsonl_where_asked(tmp_path):
    log = tmp_path / "logs" / "gan.jsonl"
    res = kexue("gan", "train", *GAN_TINY, "--out", tmp_path / "run", "--no-progress",
                "--log", log)
    assert res.exit_code == 0, res.output
    rows = [json.loads(ln) for ln in log.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert not (tmp_path / "run" / "loss.csv").exists()


def test_bad_log_suffix_is_refused_before_any_work(tmp_path):
    one_line_error(kexue("gan", "train", *GAN_TINY, "--out", tmp_path / "run", "--log",
                         tmp_path / "loss.txt"), "--log", "unknown file type '.txt'")
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------- choices and completion
@pytest.mark.parametrize("cmd,option,typo,close", [
    (["diffusion", "sample", "--ckpt", "x"], "--grid", "karas", "karras"),
    (["diffusion", "inpaint", "--ckpt", "x"], "--mask", "botom", "bottom"),
    (["gan", "train", "--out", "x"], "--distance", "L1", "l1"),
    (["onlstm", "train", "--out", "x"], "--kind", "onlstmm", "onlstm"),
    (["onlstm", "train", "--out", "x"], "--grammar", "englsh", "english"),
    (["sde", "simulate", "--drift", "-x", "--diffusion", "1"], "--brownian", "tre", "tree"),
], ids=lambda v: v if isinstance(v, str) and v.startswith("--") else None)
def test_choice_typos_get_did_you_mean(cmd, option, typo, close, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(kexue(*cmd, option, typo), repr(typo), f"did you mean {close!r}")
    assert not any(tmp_path.iterdir())


def test_spelled_out_choices_match_the_library():
    from kexue.cli import _diffusion, _onlstm
    from kexue.diffusion import GRIDS
    from kexue.onlstm._model import RNN_KINDS

    assert _diffusion.GRIDS == tuple(GRIDS)
    assert _onlstm.KINDS == tuple(RNN_KINDS)


def test_shell_completion_is_on():
    res = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "--install-completion" in res.output and "--show-completion" in res.output


def test_reproduce_typos_get_did_you_mean(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(kexue("reproduce", "smooth-mx"), "unknown experiment 'smooth-mx' (did you "
                   "mean 'smooth-max'", "valid names:")
    one_line_error(kexue("reproduce", "smooth-max", "thesis-walk-limit", "--set", "n_trails=3"),
                   "unknown config key 'n_trails' (did you mean 'n_trials'", "valid keys:")
    assert not any(tmp_path.iterdir())
