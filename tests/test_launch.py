"""``--nproc`` / torchrun: the relaunch command line, one-line errors, rank 0 alone reporting,
a failing rank stopping the job, and Monte Carlo sums equal bit for bit across two "machines".

The multi-process tests start real torchrun jobs (a few Python processes importing torch and
kexue, 10-20 s on two cores): they are marked ``slow``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from typer.testing import CliRunner

from dist_helpers import free_port
from kexue import parallel
from kexue.cli import _launch, app
from kexue.devices import resolve_device

runner = CliRunner()
PY = sys.executable


def _one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "TORCHELASTIC_RUN_ID")}
    env.update(GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", COLUMNS="200", **extra)
    return env


# ---------------------------------------------------------------------------------------------
# fast: the pieces


@pytest.mark.parametrize("args,expected", [
    (["reproduce", "x", "--nproc", "2", "--quick"], ["reproduce", "x", "--quick"]),
    (["--nproc=3", "sde", "simulate"], ["sde", "simulate"]),
    (["a", "--nproc"], ["a"]),
    (["a", "--", "--nproc", "2"], ["a", "--", "--nproc", "2"]),
    (["a", "--nprocs", "2"], ["a", "--nprocs", "2"]),
])
def test_strip_option(args, expected):
    assert _launch.strip_option(args, "--nproc") == expected


def test_torchrun_command_line_is_standalone_and_drops_nproc():
    argv = _launch.torchrun_args(3, ["reproduce", "smooth-max", "--nproc", "3", "--quick"])
    assert argv == ["--standalone", "--nproc-per-node", "3", "--max-restarts", "0",
                    "--local-addr", "127.0.0.1", "-m", "kexue", "reproduce", "smooth-max",
                    "--quick"]
    # it parses as torchrun's own command line
    from torch.distributed.run import parse_args

    ns = parse_args(argv)
    assert ns.standalone and ns.nproc_per_node == "3" and ns.module
    assert ns.training_script == "kexue" and ns.training_script_args == [
        "reproduce", "smooth-max", "--quick"]


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2"])
def test_check_nproc_rejects(bad):
    with pytest.raises(ValueError, match="--nproc must be a positive number of processes"):
        _launch.check_nproc(bad)
    assert _launch.check_nproc(4) == 4


@pytest.mark.parametrize("argv", [
    ["reproduce", "smooth-max"],
    ["sde", "simulate", "--drift", "-x", "--diffusion", "1", "--paths", "10", "--steps", "2"],
    ["diffusion", "train", "--steps", "1"],
    ["gan", "train", "--steps", "1"],
    ["onlstm", "train", "--grammar", "arithmetic", "--steps", "1"],
], ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("n", ["0", "-2"])
def test_nproc_zero_or_negative_is_one_line_error(argv, n, tmp_path):
    out = ["--out", str(tmp_path / "out")] if argv[0] != "sde" else [
        "--out", str(tmp_path / "p.png")]
    _one_line_error(runner.invoke(app, [*argv, *out, "--nproc", n]),
                    "--nproc must be a positive number of processes", n)
    assert not any(tmp_path.iterdir())  # nothing ran


def test_job_outside_torchrun_is_one_plain_process(monkeypatch, capsys):
    for k in ("WORLD_SIZE", "RANK", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(k, raising=False)
    assert not _launch.in_job()
    with _launch.job(torch.device("cpu")) as distributed:
        print("visible")
        assert distributed is False and parallel.world() == (0, 1) and parallel.is_main()
    assert "visible" in capsys.readouterr().out
    assert not torch.distributed.is_initialized()
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    assert _launch.in_job()


def test_job_with_an_incomplete_environment_is_one_line_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    res = runner.invoke(app, ["sde", "simulate", "--drift", "-x", "--diffusion", "1",
                              "--paths", "10", "--steps", "2", "--device", "cpu"])
    _one_line_error(res, "WORLD_SIZE=2", "RANK")


def test_device_resolution_and_cuda_errors(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_nproc_without_a_command_line_is_one_line_error(monkeypatch, tmp_path):
    """Through CliRunner (no kexue.cli.main) there is no command line to relaunch."""
    monkeypatch.setattr(_launch, "_COMMAND_ARGS", None)
    for k in ("WORLD_SIZE", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(k, raising=False)
    _one_line_error(runner.invoke(app, ["reproduce", "smooth-max", "--nproc", "2", "--out",
                                        str(tmp_path)]), "--nproc 2", "python -m kexue")
    assert not any(tmp_path.iterdir())


def test_command_args_come_from_main(monkeypatch):
    monkeypatch.setattr(_launch, "_COMMAND_ARGS", None)
    monkeypatch.setattr(sys, "argv", ["kexue", "list", "--nproc", "2"])
    assert _launch.command_args() == ["list", "--nproc", "2"]
    _launch.set_command_args(["reproduce", "x"])
    assert _launch.command_args() == ["reproduce", "x"]


# ---------------------------------------------------------------------------------------------
# slow: real torchrun jobs


@pytest.mark.slow
def test_sde_simulate_nproc_2_matches_one_process(tmp_path):
    """`kexue sde simulate --nproc 2` relaunches through torchrun, shares the path blocks, and
    rank 0 alone prints the same numbers as one process (X_T is gathered in block order)."""
    base = [PY, "-m", "kexue", "sde", "simulate", "--drift", "-1.3*x", "--diffusion", "0.84",
            "--x0", "1", "--paths", "4096", "--steps", "20", "--device", "cpu"]
    one = subprocess.run([*base, "--out", str(tmp_path / "one.png")], capture_output=True,
                         text=True, timeout=300, env=_env())
    two = subprocess.run([*base, "--out", str(tmp_path / "two.png"), "--nproc", "2"],
                         capture_output=True, text=True, timeout=300, env=_env())
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    lines = [ln for ln in two.stdout.splitlines() if "mean" in ln]
    assert len(lines) == 1  # only rank 0 prints
    assert lines[0].replace("two.png", "") == one.stdout.strip().replace("one.png", "")
    assert (tmp_path / "two.png").stat().st_size > 1000


@pytest.mark.slow
def test_reproduce_nproc_2_writes_one_report_recording_the_processes(tmp_path):
    out = tmp_path / "rep"
    res = subprocess.run([PY, "-m", "kexue", "reproduce", "smooth-max", "--quick", "--set",
                          "n_trials=50", "--device", "cpu", "--out", str(out), "--nproc", "2"],
                         capture_output=True, text=True, timeout=300, env=_env())
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("wrote ") == 1  # rank 0 alone reports
    data = json.loads((out / "results.json").read_text())
    assert data["meta"]["processes"] == 2 and "--nproc" not in data["meta"]["command"]
    (exp,) = data["experiments"]
    assert exp["processes"] == 2 and exp["device"].startswith("cpu (")
    assert exp["config"]["device"] == "cpu" and exp["passed"]
    assert "<span>processes</span> 2" in (out / "index.html").read_text()


def test_sde_simulate_nproc_more_than_blocks_is_one_line_error(tmp_path):
    _one_line_error(runner.invoke(app, ["sde", "simulate", "--drift", "-x", "--diffusion", "1",
                                        "--paths", "1500", "--nproc", "3", "--out",
                                        str(tmp_path / "p.png")]),
                    "--nproc 3 is more than the 2 block(s)", "--nproc 2 at most")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("argv,printed", [
    (["diffusion", "train", "--data", "ring", "--steps", "20", "--ckpt-every", "10",
      "--n-train", "2000", "--quiet"], "trained ring / vp: step 20"),
    (["gan", "train", "--data", "ring", "--steps", "10", "--batch-size", "64",
      "--no-progress"], "gan-qp on ring: 10 generator steps"),
    (["onlstm", "train", "--grammar", "arithmetic", "--steps", "5", "--hidden", "16",
      "--layers", "1", "--no-progress"], "onlstm on arithmetic: 5 steps"),
], ids=["diffusion", "gan", "onlstm"])
def test_train_commands_run_on_two_processes_and_report_once(argv, printed, tmp_path):
    out = tmp_path / "run"
    res = subprocess.run([PY, "-m", "kexue", *argv, "--out", str(out), "--device", "cpu",
                          "--nproc", "2"], capture_output=True, text=True, timeout=300,
                         env=_env())
    assert res.returncode == 0, res.stderr
    assert res.stdout.count(printed) == 1, res.stdout  # rank 0 alone prints
    assert sorted(p.suffix for p in out.iterdir() if p.is_file()) == [".safetensors"]


_FAILING = textwrap.dedent('''
    """A test-only experiment that raises on rank 1 only, run through kexue's CLI."""
    import dataclasses
    import os

    from kexue import experiments
    from kexue.experiments import Claim, Experiment, Result


    @dataclasses.dataclass
    class Cfg:
        seed: int = 0
        device: str = "cpu"


    def run(cfg):
        if os.environ.get("RANK") == "1":
            raise RuntimeError("deliberate failure on rank 1")
        return Result(claims=[Claim("one is one", 1, 1, "exact", True)])


    experiments._REGISTRY = {"rank-boom": Experiment(
        name="rank-boom", title="t", article="A", article_url="https://kexue.fm", claim="c",
        config=Cfg, run=run, section="s")}

    from kexue.cli import main

    main()
''')


@pytest.mark.slow
def test_a_rank_that_fails_stops_the_job_with_its_error(tmp_path):
    script = tmp_path / "failing.py"
    script.write_text(_FAILING)
    code = (f"from kexue.cli._launch import relaunch; raise SystemExit(relaunch(2, ['reproduce', "
            f"'--out', {str(tmp_path / 'rep')!r}, '--nproc', '2'], entry=[{str(script)!r}]))")
    res = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=300,
                         env=_env())
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert ("error: rank 1 of 2: experiment rank-boom failed: RuntimeError: deliberate failure "
            "on rank 1") in res.stderr
    assert "Traceback" in res.stderr  # the rank's traceback, for the user to act on


_MONTE_CARLO = textwrap.dedent('''
    """A Monte Carlo sum over seeded blocks (kexue.parallel), as every estimator computes it."""
    import sys

    import torch

    from kexue import parallel
    from kexue.rng import block_generator

    N, BLOCK, SEED = 70_000, 10_000, 123


    def estimate():
        ranges = parallel.block_ranges(N, BLOCK)

        def block(b):
            lo, hi = ranges[b]
            x = torch.randn(hi - lo, generator=block_generator(SEED, b), dtype=torch.float64)
            return torch.stack([x.sum(), (x * x).sum(), torch.exp(-x).sum()])

        return parallel.sum_blocks(parallel.map_blocks(block, len(ranges)))


    if __name__ == "__main__":
        torch.set_num_threads(1)
        parallel.init_from_env()
        est = estimate()
        if parallel.is_main():
            with open(sys.argv[1], "w") as f:
                f.write(" ".join([str(parallel.world_size())]
                                 + [float(v).hex() for v in est.tolist()]))
        torch.distributed.destroy_process_group()
''')


@pytest.mark.slow
def test_two_nodes_on_localhost_give_the_single_process_sum_bit_for_bit(tmp_path):
    """Two torchrun agents (--nnodes 2, one process each, c10d rendezvous on 127.0.0.1), as on
    two machines; the Monte Carlo sum equals the one computed here in one process."""
    script = tmp_path / "mc.py"
    script.write_text(_MONTE_CARLO)
    result = tmp_path / "sum.txt"
    port = free_port()
    cmd = [PY, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
           "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}",
           "--rdzv-id", f"kexue-test-{port}", "--local-addr", "127.0.0.1", "--max-restarts",
           "0", str(script), str(result)]
    agents = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_env()) for _ in range(2)]
    try:
        outputs = [a.communicate(timeout=240) for a in agents]
    finally:
        for a in agents:
            if a.poll() is None:
                a.kill()
    for a, (_, err) in zip(agents, outputs):
        assert a.returncode == 0, err
    size, *bits = result.read_text().split()
    assert size == "2"
    two_nodes = torch.tensor([float.fromhex(b) for b in bits], dtype=torch.float64)

    sys.path.insert(0, str(tmp_path))
    try:
        import mc  # the same code, one process, no process group
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mc", None)
    torch.set_num_threads(1)
    one = mc.estimate()
    assert torch.equal(two_nodes, one), (two_nodes - one)
    # and it is the Monte Carlo estimate it should be: E[X] = 0, E[X²] = 1, E[e^{-X}] = e^{1/2}
    n = 70_000
    assert abs(float(one[0]) / n) < 5 / n**0.5
    assert abs(float(one[1]) / n - 1) < 5 * 2**0.5 / n**0.5
    assert abs(float(one[2]) / n - 2.718281828459045**0.5) < 5 * 2.16 / n**0.5
