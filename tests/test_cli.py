"""The kexue CLI: list, reproduce (end to end), --version, one-line errors with exit status 2."""

import dataclasses
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import kexue
from kexue import experiments
from kexue.cli import app
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


def test_console_script_runs():
    res = subprocess.run([sys.executable, "-m", "kexue.cli", "reproduce", "nope"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("error: unknown experiment 'nope'")
