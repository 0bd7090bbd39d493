"""``kexue integrals`` (mounted by the lead as a sub-command): show, verify, list, errors."""

import pytest
from typer.testing import CliRunner

from kexue.cli._integrals import app

runner = CliRunner()


def _one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for n in needles:
        assert n in lines[0]
    assert "Traceback" not in res.output


def test_show_prints_steps_and_check():
    res = runner.invoke(app, ["show", "F1"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "[differentiate]" in out and "[fix the constant]" in out
    assert "replayed: ok" in out and "re-derived closed form: yes" in out
    assert "log(a + 1)" in out and "digits 40.0" in out


def test_verify_names_table_and_exit_status():
    res = runner.invoke(app, ["verify", "F1", "frullani"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "F9" in res.stdout and "2 of 2 entries verified" in res.stdout


def test_list():
    res = runner.invoke(app, ["list"], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and "F22" in res.stdout and "dirichlet" in res.stdout


@pytest.mark.parametrize("args,needles", [
    (["show", "F99"], ["'F99'", "valid names:", "F1 (log-ratio)"]),
    (["verify", "nope"], ["'nope'", "F22 (sine-power)"]),
    (["verify"], ["--all", "valid names"]),
    (["verify", "--all", "F1"], ["not both"]),
    (["verify", "F1", "--digits", "0"], ["--digits", "got 0"]),
])
def test_bad_input_one_line_error(args, needles):
    _one_line_error(runner.invoke(app, args), *needles)


@pytest.mark.slow
def test_verify_all():
    res = runner.invoke(app, ["verify", "--all"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    from kexue.integrals import CATALOGUE

    n = len(CATALOGUE)  # F1–F22 and part 7's F23–F24: every entry, not a fixed count
    assert n == 24 and f"{n} of {n} entries verified" in res.stdout
