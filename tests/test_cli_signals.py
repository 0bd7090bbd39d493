"""A real `kexue gan train` process stopped by SIGTERM (as a scheduler stops a job): it finishes
the step, writes its checkpoint, prints one line and exits 130; rerunning resumes, and the loss
log has exactly one row per step across the stop."""

import csv
import os
import signal
import subprocess
import sys
import time

from kexue import checkpoint


def _rows(path):
    if not path.exists():
        return []
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_sigterm_saves_then_stops_and_the_run_resumes(tmp_path):
    out, log = tmp_path / "run", tmp_path / "loss.csv"
    args = [sys.executable, "-m", "kexue", "gan", "train", "--out", str(out), "--data", "ring",
            "--hidden", "8", "--depth", "1", "--batch-size", "16", "--no-progress",
            "--device", "cpu", "--log", str(log), "--ckpt-every", "1000000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*args, "--steps", "1000000"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(_rows(log)) < 5:  # training is under way (the log is written every step)
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "training did not start within 120 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (stdout, stderr)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: training interrupted at step")
    assert "SIGTERM" in lines[0] and "rerun to resume" in lines[0]
    step = checkpoint.load(out / "last.safetensors")[1]["step"]
    rows = _rows(log)
    assert step >= 5 and [int(r["step"]) for r in rows] == list(range(1, step + 1))

    res = subprocess.run([*args, "--steps", str(step + 3)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"resuming from {out / 'last.safetensors'}" in res.stdout.replace("\n", "")
    assert checkpoint.load(out / "last.safetensors")[1]["step"] == step + 3
    assert [int(r["step"]) for r in _rows(log)] == list(range(1, step + 4))
