"""The loss log of :class:`kexue.training.Engine`: one row per step, CSV or JSON lines.

Rank 0 writes ``step,<metrics>,time_s`` (``.csv``) or one JSON object per step (``.jsonl``);
on resume the rows past the resumed step are dropped, atomically.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path


class _Log:
    """Rank 0's loss log: one row per step, ``step,<metrics>,time_s`` (CSV) or JSON lines."""

    def __init__(self, path: Path, metrics: Sequence[str], start: int) -> None:
        self.path = path
        self.metrics = list(metrics)
        self.jsonl = path.suffix == ".jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = self._read_rows(start) if path.exists() else []
        # rewrite what survives the resume (rows past the resumed step are dropped), atomically
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w", newline="") as fh:
            if not self.jsonl:
                fh.write(",".join(["step", *self.metrics, "time_s"]) + "\n")
            fh.writelines(rows)
        os.replace(tmp, path)
        self._fh = open(path, "a", newline="")  # noqa: SIM115 - closed in close()
        self._t0 = time.perf_counter()

    def _read_rows(self, start: int) -> list[str]:
        keep = []
        with open(self.path) as fh:
            lines = fh.readlines()
        for line in lines[0 if self.jsonl else 1:]:
            try:
                step = (json.loads(line)["step"] if self.jsonl
                        else int(next(csv.reader([line]))[0]))
            except (ValueError, KeyError, StopIteration, json.JSONDecodeError):
                continue
            if step <= start:
                keep.append(line if line.endswith("\n") else line + "\n")
        return keep

    def write(self, first_step: int, rows: Sequence[Sequence[float]]) -> None:
        elapsed = round(time.perf_counter() - self._t0, 4)
        for k, row in enumerate(rows):
            step = first_step + k
            if self.jsonl:
                self._fh.write(json.dumps({"step": step, **dict(zip(self.metrics, row)),
                                           "time_s": elapsed}) + "\n")
            else:
                self._fh.write(",".join([str(step), *(repr(float(v)) for v in row),
                                         str(elapsed)]) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
