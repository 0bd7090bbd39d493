"""Stored full-preset runs: ``benchmarks/results/full/<experiment>.json``, read at report time.

A full preset can take hours, so ``make run`` (the quick presets) never runs it; instead a full
run is stored once, by hand, as JSON with the keys ``experiment``, ``preset``, ``command``,
``commit``, ``date``, ``machine``, ``training_runtime``, optional ``note``, and ``result`` (the
experiment's ``Result.to_dict()``). The report shows it beside the quick run as "last full run".

Where the files are: ``$KEXUE_FULL_RUNS`` when set, else ``benchmarks/results/full`` of the
source checkout this package is imported from (an installed wheel has none: nothing is shown).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..experiments import claim_verdict, finding_for

__all__ = ["full_runs_dir", "load_full_run", "full_run_view", "store_full_run"]

ENV_VAR = "KEXUE_FULL_RUNS"


def full_runs_dir() -> Path | None:
    """The directory of stored full runs: ``$KEXUE_FULL_RUNS``, else the source checkout's
    ``benchmarks/results/full``; ``None`` when neither exists."""
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env)
        return p if p.is_dir() else None
    # src/kexue/report/_stored.py -> parents[3] is the checkout's root
    root = Path(__file__).resolve().parents[3]
    p = root / "benchmarks" / "results" / "full"
    return p if p.is_dir() else None


def _git_commit(cwd: Path) -> str:
    """The short commit of the checkout at ``cwd`` (``+dirty`` when it has changes), or ``"—"``."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=cwd, text=True,
                              capture_output=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, text=True, capture_output=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "—"
    return head + ("+dirty" if dirty else "")


def store_full_run(result: Any, directory: str | Path | None = None, *, command: str,
                   training_runtime: str | None = None, machine: str | None = None,
                   commit: str | None = None, note: str = "") -> Path:
    """Write ``result`` (a full-preset :class:`~kexue.experiments.Result`) as the stored full run
    ``<directory>/<result.name>.json`` and return its path.

    Args:
        result: the result of a full-preset run (``result.quick`` must be false).
        directory: where to write; default :func:`full_runs_dir` (the checkout's
            ``benchmarks/results/full``, created if the checkout has ``benchmarks/``).
        command: the command that produced it (shown in the report).
        training_runtime: the runtime in words; default ``result.runtime_s`` in seconds.
        machine: the machine in words; default ``platform.node()``, processor and the device.
        commit: default the source checkout's ``git rev-parse --short HEAD`` (``+dirty`` when
            tracked files differ).
        note: anything the reader needs (e.g. "numbers regenerated from checkpoints").

    Raises:
        TypeError: ``result`` is not a Result.
        ValueError: ``result`` is a quick-preset or failed run, or has no name; or no
            directory was given and none can be found.
    """
    if not (hasattr(result, "to_dict") and hasattr(result, "quick")):
        raise TypeError(f"result must be a kexue Result; got {type(result).__name__}")
    if result.quick or result.status != "ok" or not result.name:
        raise ValueError(
            f"result must be a successful full-preset run with a name; got name "
            f"{result.name!r}, quick={result.quick}, status={result.status!r}: store the result "
            "of `kexue reproduce NAME` without --quick")
    root = Path(__file__).resolve().parents[3]
    if directory is None:
        directory = full_runs_dir()
        if directory is None and (root / "benchmarks").is_dir():
            directory = root / "benchmarks" / "results" / "full"
    if directory is None:
        raise ValueError("directory: no stored-runs directory found (not a source checkout and "
                         f"${ENV_VAR} unset); pass directory=")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "experiment": result.name,
        "preset": "full",
        "command": command,
        "commit": commit if commit is not None else _git_commit(root),
        "date": datetime.date.today().isoformat(),
        "machine": machine if machine is not None else (
            f"{platform.node()} ({platform.machine()}, {os.cpu_count()} cores); "
            f"device {result.device}"),
        "training_runtime": training_runtime or f"{result.runtime_s:.0f} s",
        "note": note,
        "result": result.to_dict(),
    }
    path = out / f"{result.name}.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str,
                               allow_nan=False) + "\n", encoding="utf-8")
    return path


def load_full_run(name: str, directory: str | Path | None) -> dict[str, Any] | None:
    """The stored full run of experiment ``name`` as a dict, ``None`` when there is none.

    A file that exists but cannot be read as such a record gives ``{"error": "..."}`` (the report
    shows the problem instead of hiding it).
    """
    if directory is None or not name:
        return None
    path = Path(directory) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"error": f"stored full run {path.name} cannot be read: {exc}", "file": str(path)}
    if not isinstance(data, Mapping) or not isinstance(data.get("result"), Mapping):
        return {"error": f"stored full run {path.name} has no 'result' object "
                         "(expected keys: experiment, date, commit, machine, training_runtime, "
                         "result)", "file": str(path)}
    out = dict(data)
    out["file"] = path.as_posix()
    return out


def full_run_view(stored: Mapping[str, Any] | None,
                  known_findings: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The template's view of a stored full run: its facts and its claims with verdicts.

    A missed claim of the stored run is shown as "not reproduced" when it was stored as a finding
    or when it is on ``known_findings`` (the current run's list), else as "fail".
    """
    if stored is None:
        return None
    if "error" in stored:
        return {"error": str(stored["error"]), "claims": []}
    result = stored["result"]
    known = dict(known_findings or {})
    claims = []
    for c in result.get("claims", []):
        checked = bool(c.get("checked", True))
        passed = bool(c.get("passed", False))
        finding = str(c.get("finding") or "") or finding_for(str(c.get("statement", "")), known)
        claims.append({
            "statement": str(c.get("statement", "")),
            "expected_text": str(c.get("expected_text", c.get("expected", ""))),
            "obtained_text": str(c.get("obtained_text", c.get("obtained", ""))),
            "tolerance": str(c.get("tolerance", "")),
            "checked": checked,
            "passed": passed,
            "finding": finding,
            "verdict": claim_verdict(passed=passed, checked=checked, finding=finding),
        })
    runtime = stored.get("training_runtime")
    if not runtime and isinstance(result.get("runtime_s"), (int, float)):
        runtime = f"{result['runtime_s']:.0f} s"
    return {
        "error": "",
        "date": str(stored.get("date", "—")),
        "commit": str(stored.get("commit", "—")),
        "machine": str(stored.get("machine", "—")),
        "runtime": str(runtime or "—"),
        "command": str(stored.get("command", "")),
        "note": str(stored.get("note", "")),
        "file": "/".join(str(stored.get("file", "")).split("/")[-4:]),
        "claims": claims,
        "claims_ok": sum(c["verdict"] == "pass" for c in claims),
        "claims_checked": sum(c["checked"] for c in claims),
        "claims_not_reproduced": sum(c["verdict"] == "not reproduced" for c in claims),
    }
