"""``kexue reproduce --store``: a full-preset run written as the stored full run the report
reads (``kexue.report.store_full_run``); refused with ``--quick``; the directory configurable."""

import json

from typer.testing import CliRunner

from kexue.cli import _launch, app
from kexue.report import FULL_RUNS_ENV
from kexue.report._stored import full_run_view, load_full_run

runner = CliRunner()
FAST = ["smooth-max", "--set", "n_trials=100", "--set", "n_k=9", "--no-progress"]


def test_store_writes_the_record_the_report_reads(tmp_path, monkeypatch):
    monkeypatch.delenv(FULL_RUNS_ENV, raising=False)
    full, out = tmp_path / "full", tmp_path / "report"
    args = ["reproduce", *FAST, "--store-dir", str(full), "--out", str(out)]
    monkeypatch.setattr(_launch, "_COMMAND_ARGS", args)  # as main() records it
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"stored {full / 'smooth-max.json'}" in res.stdout.replace("\n", "")
    record = json.loads((full / "smooth-max.json").read_text(encoding="utf-8"))
    assert record["experiment"] == "smooth-max" and record["preset"] == "full"
    assert record["command"].startswith("kexue reproduce smooth-max --set n_trials=100")
    for key in ("commit", "date", "machine", "training_runtime"):
        assert isinstance(record[key], str) and record[key], key
    assert "PyTorch" in record["machine"] and record["result"]["quick"] is False
    # the report reads it back: its claims with verdicts, shown as the last full run
    view = full_run_view(load_full_run("smooth-max", full))
    assert view is not None and view["claims"] and not view["error"]
    page = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert page["experiments"][0]["last_full_run"]["commit"] == record["commit"]


def test_store_uses_the_environment_variable(tmp_path, monkeypatch):
    full = tmp_path / "from-env"
    monkeypatch.setenv(FULL_RUNS_ENV, str(full))
    res = runner.invoke(app, ["reproduce", *FAST, "--store", "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert (full / "smooth-max.json").is_file()


def test_store_is_refused_with_quick_before_any_work(tmp_path):
    res = runner.invoke(app, ["reproduce", "smooth-max", "--quick", "--store-dir",
                              str(tmp_path / "full"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --store keeps full-preset runs only")
    assert not (tmp_path / "full").exists() and not (tmp_path / "r").exists()


def test_help_says_where_store_writes():
    res = runner.invoke(app, ["reproduce", "--help"], env={"COLUMNS": "200"})
    text = " ".join(res.stdout.split())
    assert "--store" in text and FULL_RUNS_ENV in text and "benchmarks/results/full" in text


def test_store_defaults_to_the_checkouts_stored_runs(monkeypatch, tmp_path):
    from pathlib import Path

    from kexue.cli._reproduce import _store_dir

    monkeypatch.delenv(FULL_RUNS_ENV, raising=False)
    checkout = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "full"
    assert _store_dir(True, None, False) == checkout  # run from this checkout
    assert _store_dir(False, None, False) is None
    assert _store_dir(True, tmp_path / "x", False) == tmp_path / "x"  # --store-dir first
    monkeypatch.setenv(FULL_RUNS_ENV, str(tmp_path / "env"))
    assert _store_dir(True, None, False) == tmp_path / "env"
