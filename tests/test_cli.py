"""The kexue CLI: list, reproduce (end to end), --version, --device, one-line errors with exit
status 2."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

import kexue
from kexue import experiments
from kexue.cli import app
from kexue.devices import device_text
from kexue.experiments import Claim, Experiment, Result

runner = CliRunner()


def _one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for n in needles:
        assert n in lines[0]
    assert "Traceback" not in res.output


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and kexue.__version__ in res.stdout


def test_list_shows_every_experiment():
    res = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for name in experiments.registry():
        assert name in res.stdout


def test_unknown_experiment_name():
    _one_line_error(runner.invoke(app, ["reproduce", "nope"]), "'nope'", "smooth-max")


@pytest.mark.parametrize("args,needles", [
    (["--set", "bogus=1"], ["'bogus'", "n_trials"]),
    (["--set", "n_trials=abc"], ["n_trials", "int"]),
    (["--set", "n_trials"], ["key=value"]),
])
def test_bad_set(args, needles, tmp_path):
    _one_line_error(runner.invoke(app, ["reproduce", "smooth-max", "--out", str(tmp_path),
                                        *args]), *needles)
    assert not (tmp_path / "index.html").exists()  # nothing ran


def test_reproduce_writes_report(tmp_path):
    out = tmp_path / "rep"
    res = runner.invoke(app, ["reproduce", "smooth-max", "--quick", "--out", str(out),
                              "--seed", "3", "--set", "n_trials=50"])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text())
    (exp,) = data["experiments"]
    assert exp["name"] == "smooth-max" and exp["status"] == "ok" and exp["seed"] == 3
    assert exp["config"]["n_trials"] == 50 and exp["quick"] is True
    assert all(c["passed"] for c in exp["claims"])
    for fig in exp["figures"].values():
        assert (out / fig).stat().st_size > 1000
    html = (out / "index.html").read_text()
    assert "smooth-max" in html and "<title>" in html


def test_failed_experiment_does_not_stop_others(tmp_path, monkeypatch):
    @dataclasses.dataclass
    class Cfg:
        seed: int = 0

    def boom(cfg):
        raise RuntimeError("deliberate failure")

    def fine(cfg):
        return Result(claims=[Claim("one is one", 1, 1, "exact", True)])

    specs = {
        "boom": Experiment(name="boom", title="b", article="A", article_url="https://kexue.fm",
                           claim="c", config=Cfg, run=boom, section="s"),
        "fine": Experiment(name="fine", title="f", article="A", article_url="https://kexue.fm",
                           claim="c", config=Cfg, run=fine, section="s"),
    }
    monkeypatch.setattr(experiments, "_REGISTRY", specs)
    res = runner.invoke(app, ["reproduce", "--out", str(tmp_path)])
    assert res.exit_code == 1, res.output
    data = json.loads((tmp_path / "results.json").read_text())
    status = {e["name"]: e["status"] for e in data["experiments"]}
    assert status == {"boom": "failed", "fine": "ok"}
    assert "deliberate failure" in (tmp_path / "index.html").read_text()


def test_python_m_kexue_runs_the_cli():
    """``python -m kexue`` is the console script's ``main`` (what ``torchrun -m kexue`` runs)."""
    res = subprocess.run([sys.executable, "-m", "kexue", "reproduce", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("error: unknown experiment 'nope'")


def _toy_specs(with_device: bool) -> dict:
    fields = [("seed", int, 0)] + ([("device", str, "auto")] if with_device else [])
    cfg = dataclasses.make_dataclass("Cfg", fields)

    def run(c):
        return Result(claims=[Claim("one is one", 1, 1, "exact", True)])

    return {"toy": Experiment(name="toy", title="t", article="A", article_url="https://kexue.fm",
                              claim="c", config=cfg, run=run, section="s")}


@pytest.mark.parametrize("argv", [
    ["reproduce", "smooth-max"],
    ["reproduce", "smooth-max", "--set", "device=cuda"],
    ["sde", "simulate", "--drift", "-x", "--diffusion", "1"],
    ["sde", "density", "--drift", "-x", "--diffusion", "1"],
    ["diffusion", "train"],
    ["diffusion", "sample", "--ckpt", "missing.safetensors"],
    ["diffusion", "nll", "--ckpt", "missing.safetensors"],
    ["diffusion", "inpaint", "--ckpt", "missing.safetensors"],
    ["gan", "train", "--out", "unused"],
    ["gan", "sample", "--ckpt", "missing.safetensors"],
    ["onlstm", "train", "--grammar", "arithmetic", "--out", "unused"],
], ids=lambda a: " ".join(a[:2]) + (" --set" if "--set" in a else ""))
def test_device_cuda_without_cuda_is_one_line_error(argv, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    extra = [] if "--set" in argv else ["--device", "cuda"]
    _one_line_error(runner.invoke(app, [*argv, *extra]), "CUDA is not available", "cpu")
    assert not any(tmp_path.iterdir())  # nothing ran, nothing written


def test_unknown_device_lists_the_choices(tmp_path):
    _one_line_error(runner.invoke(app, ["reproduce", "smooth-max", "--device", "tpu",
                                        "--out", str(tmp_path)]),
                    "'tpu'", "auto, cpu, cuda, cuda:N")
    _one_line_error(runner.invoke(app, ["reproduce", "smooth-max", "--device", "cpu", "--set",
                                        "device=auto", "--out", str(tmp_path)]),
                    "--device cpu", "--set device=auto")


def test_reproduce_jobs_runs_side_by_side_with_the_same_results(tmp_path):
    """--jobs 2: two worker processes; the report lists the experiments in registry order with
    the same claims as one after the other (these two use NumPy/SymPy-free float64 maths that
    does not depend on the thread count) and records the number of jobs."""
    names = ["thesis-stock", "smooth-max"]
    sets = ["--set", "n_trials=50", "--set", "n_k=5"]
    serial, side = tmp_path / "serial", tmp_path / "side"
    res = runner.invoke(app, ["reproduce", *names, "--quick", *sets, "--out", str(serial)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["reproduce", *names, "--quick", *sets, "--jobs", "2",
                              "--out", str(side)])
    assert res.exit_code == 0, res.output
    a = json.loads((serial / "results.json").read_text())
    b = json.loads((side / "results.json").read_text())
    assert [e["name"] for e in b["experiments"]] == names
    assert b["meta"]["jobs"] == 2 and "jobs" not in a["meta"]
    for ea, eb in zip(a["experiments"], b["experiments"]):
        assert eb["status"] == "ok" and eb["passed"]
        assert [c["obtained"] for c in ea["claims"]] == [c["obtained"] for c in eb["claims"]]
        assert eb["device"] == f"cpu ({max(1, len(os.sched_getaffinity(0)) // 2)} threads)"
        for fig in eb["figures"].values():  # figures made in the worker, saved here
            assert (side / fig).stat().st_size > 1000


def test_reproduce_jobs_with_nproc_is_one_line_exit_2(tmp_path):
    res = runner.invoke(app, ["reproduce", "smooth-max", "--jobs", "2", "--nproc", "2",
                              "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "--jobs 2 and --nproc 2 cannot be combined" in res.output


def test_reproduce_device_sets_the_config_and_the_report_records_it(tmp_path):
    res = runner.invoke(app, ["reproduce", "smooth-max", "--quick", "--set", "n_trials=50",
                              "--set", "n_k=5", "--device", "cpu", "--nproc", "1",
                              "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "results.json").read_text())
    (exp,) = data["experiments"]
    assert exp["config"]["device"] == "cpu"           # as --set device=cpu would
    assert exp["device"] == device_text("cpu") and exp["device"].startswith("cpu (")
    assert exp["processes"] == 1 and "processes" not in data["meta"]
    html = (tmp_path / "index.html").read_text()
    assert f"<span>device</span> {exp['device']}" in html and "<span>processes</span>" not in html


@pytest.mark.parametrize("with_device", [True, False])
def test_reproduce_device_with_and_without_a_device_field(with_device, tmp_path, monkeypatch):
    """During the transition some Configs have no ``device``: --device skips them, and the report
    says they ran on the CPU."""
    monkeypatch.setattr(experiments, "_REGISTRY", _toy_specs(with_device))
    res = runner.invoke(app, ["reproduce", "--device", "cpu", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (exp,) = json.loads((tmp_path / "results.json").read_text())["experiments"]
    assert ("device" in exp["config"]) is with_device
    assert exp["device"] == device_text("cpu")
