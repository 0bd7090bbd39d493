"""``kexue onlstm train/parse``: a tiny end-to-end run, resume, and one-line errors (status 2)."""

import pytest
from typer.testing import CliRunner

from kexue.cli._onlstm import app
from kexue.onlstm import load_model

runner = CliRunner()
TINY = ["--steps", "4", "--hidden", "8", "--chunk", "4", "--no-progress"]


def _one_line_error(res, *needles, code=2):
    assert res.exit_code == code, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in res.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("onlstm")
    res = runner.invoke(app, ["train", "--grammar", "arithmetic", "--out", str(out), *TINY])
    assert res.exit_code == 0, res.output
    assert "reading chosen" in res.stdout and "saved" in res.stdout
    return out


def test_train_then_parse(trained):
    ckpt = trained / "last.safetensors"
    model, vocab, meta = load_model(ckpt)
    assert meta["step"] == 4 and meta["info"]["reading"].count("·") == 1
    res = runner.invoke(app, ["parse", "--ckpt", str(ckpt), "+ 3 * 4 5", "--distances"])
    assert res.exit_code == 0, res.output
    tree_line = res.stdout.splitlines()[0]
    assert tree_line.startswith("(") and tree_line.count("(") == 4  # binary tree, 5 tokens
    assert tree_line.replace("(", "").replace(")", "").split() == "+ 3 * 4 5".split()
    assert "=" in res.stdout.splitlines()[1]
    res = runner.invoke(app, ["parse", "--ckpt", str(ckpt), "+ 3 4", "--reading", "L1.input"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] in {"(+ (3 4))", "((+ 3) 4)"}


def test_train_resumes_from_the_checkpoint(trained):
    res = runner.invoke(app, ["train", "--grammar", "arithmetic", "--out", str(trained),
                              "--steps", "6", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "resuming from step 4" in res.stdout
    assert load_model(trained / "last.safetensors")[2]["step"] == 6


def test_errors_are_one_line(trained, tmp_path):
    ckpt = str(trained / "last.safetensors")
    _one_line_error(runner.invoke(app, ["train", "--grammar", "latin", "--out", str(tmp_path)]),
                    "unknown grammar 'latin'", "english")
    _one_line_error(runner.invoke(app, ["train", "--grammar", "english", "--out", str(trained)]),
                    "grammar: 'arithmetic' → 'english'", "use another --out")
    # one resume rule for every trainer: a changed architecture flag is refused by name
    _one_line_error(runner.invoke(app, ["train", "--grammar", "arithmetic", "--out",
                                        str(trained), "--hidden", "16"]), "hidden_size: 8 → 16")
    _one_line_error(runner.invoke(app, ["train", "--grammar", "english", "--out",
                                        str(tmp_path / "x"), "--hidden", "10"]),
                    "multiple of chunk_size")
    _one_line_error(runner.invoke(app, ["parse", "--ckpt", ckpt, "+ 3 x"]),
                    "unknown token 'x'", "arithmetic")
    _one_line_error(runner.invoke(app, ["parse", "--ckpt", ckpt, "   "]), "empty sentence")
    _one_line_error(runner.invoke(app, ["parse", "--ckpt", str(tmp_path / "no.safetensors"),
                                        "+ 3 4"]), "does not exist")
    _one_line_error(runner.invoke(app, ["parse", "--ckpt", ckpt, "+ 3 4", "--reading", "L7·x"]),
                    "unknown reading", "L2·forget")
