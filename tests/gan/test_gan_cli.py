"""``kexue gan train/sample/reconstruct``: tiny runs, resume, one-line errors (status 2)."""

import pytest
from typer.testing import CliRunner

from kexue.cli._gan import app
from kexue.gan import load_gan

runner = CliRunner()
TINY = ["--steps", "3", "--hidden", "8", "--depth", "1", "--batch-size", "16", "--no-progress"]


def _one_line_error(res, *needles, code=2):
    assert res.exit_code == code, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in res.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for model, data in (("gan-qp", "ring"), ("bigan-qp", "digits")):
        d = tmp_path_factory.mktemp(model)
        res = runner.invoke(app, ["train", "--model", model, "--data", data, "--out", str(d),
                                  *TINY])
        assert res.exit_code == 0, res.output
        assert "saved" in res.stdout
        out[model] = d
    return out


def test_train_prints_metrics_and_resumes(runs):
    d = runs["gan-qp"]
    res = runner.invoke(app, ["train", "--model", "gan-qp", "--data", "ring", "--out", str(d),
                              *TINY[:0], "--steps", "5", "--hidden", "8", "--depth", "1",
                              "--batch-size", "16", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "resuming" in res.stdout and "modes covered" in res.stdout
    assert load_gan(d / "last.safetensors")[1]["step"] == 5


def test_sample_and_reconstruct(runs, tmp_path):
    res = runner.invoke(app, ["sample", "--ckpt", str(runs["gan-qp"] / "last.safetensors"),
                              "--n", "4", "--png", str(tmp_path / "s.png")])
    assert res.exit_code == 0, res.output
    rows = [ln for ln in res.stdout.splitlines() if "," in ln]
    assert len(rows) == 4 and all(len(r.split(",")) == 2 for r in rows)
    assert (tmp_path / "s.png").exists()
    ck = str(runs["bigan-qp"] / "last.safetensors")
    res = runner.invoke(app, ["reconstruct", "--ckpt", ck, "--n", "3",
                              "--png", str(tmp_path / "r.png")])
    assert res.exit_code == 0, res.output
    assert "reconstruction MSE" in res.stdout and (tmp_path / "r.png").exists()
    res = runner.invoke(app, ["sample", "--ckpt", ck, "--n", "5", "--png",
                              str(tmp_path / "d.png")])
    assert res.exit_code == 0 and len([ln for ln in res.stdout.splitlines() if "," in ln]) == 5


def test_errors_are_one_line(runs, tmp_path):
    _one_line_error(runner.invoke(app, ["train", "--model", "vae", "--out", str(tmp_path)]),
                    "unknown model 'vae'", "gan-qp")
    _one_line_error(runner.invoke(app, ["train", "--data", "mnist", "--out", str(tmp_path)]),
                    "unknown data 'mnist'", "grid")
    _one_line_error(runner.invoke(app, ["train", "--model", "sgan", "--data", "ring", "--out",
                                        str(runs["gan-qp"]), *TINY]),
                    "different training configuration")
    _one_line_error(runner.invoke(app, ["sample", "--ckpt", str(tmp_path / "none.safetensors")]),
                    "does not exist")
    _one_line_error(runner.invoke(app, ["reconstruct", "--ckpt",
                                        str(runs["gan-qp"] / "last.safetensors")]),
                    "without an encoder")
