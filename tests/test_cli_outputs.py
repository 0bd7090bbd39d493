"""Output paths are checked before any work (issue 16): ``kexue reproduce --out`` an existing
file, an unwritable directory or ``""``, and ``kexue gan|diffusion|onlstm train`` into an
unwritable directory end in one line ``error: ...`` with exit status 2, within a time bound,
having run nothing and written nothing."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kexue.cli import _launch, app
from kexue.cli._outputs import output_dir, output_file

runner = CliRunner()
TIME_BOUND = 20.0  # seconds: imports included; the refused work would take minutes
UNWRITABLE = Path("/proc")  # exists, is a directory, refuses new files even for root


def invoke(args: list[str], monkeypatch):
    """Run ``kexue ARGS`` as the console script would (its raw arguments recorded)."""
    monkeypatch.setattr(_launch, "_COMMAND_ARGS", [str(a) for a in args])
    start = time.perf_counter()
    res = runner.invoke(app, [str(a) for a in args])
    return res, time.perf_counter() - start


def assert_refused(res, elapsed, *needles):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in res.output and "reproducing" not in res.output
    assert elapsed < TIME_BOUND


def _unwritable_dirs(tmp_path: Path) -> list[tuple[Path, str]]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cases = [(blocker / "sub", "cannot create the directory"),
             (blocker / "sub" / "deeper", "is a file")]
    if UNWRITABLE.is_dir() and sys.platform.startswith("linux"):
        cases += [(UNWRITABLE, "is not writable"), (UNWRITABLE / "kexue-out", "cannot create")]
    return cases


def test_reproduce_out_an_existing_file_is_refused_before_running(tmp_path, monkeypatch):
    f = tmp_path / "report.txt"
    f.write_text("keep me")
    res, elapsed = invoke(["reproduce", "thesis-walk-limit", "--quick", "--out", f], monkeypatch)
    assert_refused(res, elapsed, "is an existing file, not a directory")
    assert f.read_text() == "keep me"


def test_reproduce_out_unwritable_is_refused_before_running(tmp_path, monkeypatch):
    for path, needle in _unwritable_dirs(tmp_path):
        res, elapsed = invoke(["reproduce", "thesis-walk-limit", "--quick", "--out", path],
                              monkeypatch)
        assert_refused(res, elapsed, needle, "--out")


@pytest.mark.parametrize("args", [["--out", ""], ["--out="]])
def test_reproduce_out_empty_is_refused(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    res, elapsed = invoke(["reproduce", "thesis-walk-limit", "--quick", *args], monkeypatch)
    assert_refused(res, elapsed, "--out is empty")
    assert list(tmp_path.iterdir()) == []  # nothing written into the working directory


@pytest.mark.parametrize("command", [
    ["gan", "train", "--steps", "2"],
    ["diffusion", "train", "--steps", "2"],
    ["onlstm", "train", "--grammar", "brackets", "--steps", "2"],
])
def test_train_into_a_bad_directory_is_refused_before_training(tmp_path, monkeypatch, command):
    f = tmp_path / "file.safetensors"
    f.write_bytes(b"x")
    cases = [*_unwritable_dirs(tmp_path), (f, "is an existing file")]
    for path, needle in cases:
        res, elapsed = invoke([*command, "--out", path], monkeypatch)
        assert_refused(res, elapsed, needle)
    assert f.read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "file.safetensors"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="permission bits do not bind root")
def test_train_into_a_read_only_directory_is_refused(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        res, elapsed = invoke(["gan", "train", "--steps", "2", "--out", ro / "run"], monkeypatch)
        assert_refused(res, elapsed, "cannot create")
    finally:
        ro.chmod(0o700)


def test_output_dir_accepts_new_and_existing_directories_and_leaves_no_trace(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(_launch, "_COMMAND_ARGS", [])
    target = tmp_path / "a" / "b"
    assert output_dir(target) == target
    assert list(tmp_path.iterdir()) == []  # nothing created, no probe file left
    target.mkdir(parents=True)
    assert output_dir(target) == target and list(target.iterdir()) == []


def test_output_file_refuses_a_directory_and_an_empty_name(tmp_path, monkeypatch, capsys):
    import typer

    monkeypatch.setattr(_launch, "_COMMAND_ARGS", ["--out", ""])
    with pytest.raises(typer.Exit) as info:
        output_file("", "--out")
    assert info.value.exit_code == 2
    monkeypatch.setattr(_launch, "_COMMAND_ARGS", [])
    with pytest.raises(typer.Exit):
        output_file(tmp_path, "--out")
    assert "is a directory; give a file name" in capsys.readouterr().err
    path = output_file(tmp_path / "new" / "fig.png")
    assert list(tmp_path.iterdir()) == [] and path.name == "fig.png"
