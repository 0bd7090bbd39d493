"""The experiment protocol: a ``Config`` dataclass, ``run(config) -> Result``, and a spec.

Every experiment module defines

* ``Config`` — a dataclass whose defaults are the *full* preset; it must have an ``int`` field
  ``seed`` and should have ``device: str = "auto"`` (``auto | cpu | cuda | cuda:N``; ``kexue
  reproduce --device X`` sets it, the runner resolves and records it). Fields are plain
  ``int``/``float``/``bool``/``str`` (or tuples of them), so that the CLI can override them with
  ``--set key=value``.
* ``run(config) -> Result`` — does the work. It fills ``claims``, ``tables``, ``figures`` and
  ``notes``; the runner (:func:`kexue.experiments.run_experiment`) fills the metadata (name,
  runtime, config, seed, device, references).
* ``EXPERIMENT = Experiment(...)`` — the spec the registry reads, with the ``quick`` preset as a
  dict of overrides of the defaults.

Randomness inside ``run`` comes from ``torch.Generator(device=...).manual_seed(config.seed)`` (or
a NumPy ``default_rng(config.seed)``); never from global RNG state, so the same seed gives the same
numbers (on the same kind of device: CPU and CUDA generators give different streams).

This module holds the records (:class:`Claim`, :class:`Table`, :class:`Reference`,
:class:`Result`, :class:`Experiment`) and re-exports the rest of the protocol, so that an
experiment imports it from one place: configuration parsing and validation
(:mod:`kexue.experiments._config`) and the device and thread helpers
(:mod:`kexue.experiments._runtime`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._config import ConfigError, resolve_config, validate_config
from ._runtime import config_device, host_device_text, torch_threads

__all__ = ["Claim", "Table", "Reference", "Result", "Experiment", "ConfigError", "resolve_config",
           "validate_config",
           "config_device", "host_device_text", "finding_for", "claim_verdict", "torch_threads"]


def _fmt(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return f"{x:d}"
    if isinstance(x, float):
        if x == 0.0 or not math.isfinite(x):
            return str(x)
        return f"{x:.6g}"
    return str(x)


@dataclass
class Claim:
    """One checkable statement of an article: what it predicts beside what we measured.

    Args:
        statement: the claim in words, e.g. ``"max <= LSE_k <= max + log(n)/k"``.
        expected: the predicted value (number) or a description of it (``"<= 0.0693"``).
        obtained: the measured value.
        tolerance: how close counts as agreement, in words (``"<= bound"``, ``"4 SE"``, ``"±0.1"``).
        passed: whether ``obtained`` satisfies the claim within ``tolerance``.
        checked: ``False`` for a claim this run does not check (e.g. a quick preset too short to
            decide it): the report shows it as "not checked" with its obtained value, and it
            does not count for or against the run. Say why in the result's notes.
        finding: why a claim of the article that missed here is a *finding* (it honestly does
            not reproduce) rather than a failure of the code. Experiments do not set it: the
            runner sets it, through :meth:`Experiment.mark_findings`, on a checked claim that
            missed and whose statement is on the experiment's ``known_findings`` list, so a new
            failure still fails. The report shows such a claim as "not reproduced — see notes";
            it counts neither as holding nor against the run.
    """

    statement: str
    expected: Any
    obtained: Any
    tolerance: str
    passed: bool
    checked: bool = True
    finding: str = ""

    def __post_init__(self) -> None:
        self.passed = bool(self.passed)
        self.checked = bool(self.checked)
        self.finding = str(self.finding or "")
        self.expected = _plain(self.expected)
        self.obtained = _plain(self.obtained)

    @property
    def verdict(self) -> str:
        """``"pass"``, ``"fail"``, ``"not reproduced"`` (a known finding) or ``"not checked"``."""
        return claim_verdict(passed=self.passed, checked=self.checked, finding=self.finding)

    def to_dict(self) -> dict[str, Any]:
        return {
            "statement": self.statement,
            "expected": _jsonable(self.expected),
            "obtained": _jsonable(self.obtained),
            "expected_text": _fmt(self.expected),
            "obtained_text": _fmt(self.obtained),
            "tolerance": self.tolerance,
            "passed": bool(self.passed),
            "checked": bool(self.checked),
            "finding": self.finding,
            "verdict": self.verdict,
        }


def claim_verdict(*, passed: bool, checked: bool = True, finding: str = "") -> str:
    """A claim's verdict from its flags: ``"not checked"`` when it was not checked, else
    ``"pass"`` when it holds, else ``"not reproduced"`` when it is a known finding (``finding``
    non-empty), else ``"fail"``."""
    if not checked:
        return "not checked"
    if passed:
        return "pass"
    return "not reproduced" if finding else "fail"


def finding_for(statement: str, known_findings: Mapping[str, str]) -> str:
    """The reason recorded in ``known_findings`` (claim-statement prefix -> why) for the claim
    ``statement``, or ``""`` when none of the prefixes starts it. Prefixes, not whole statements,
    because statements often end with numbers measured by the run (a p-value)."""
    for prefix, why in known_findings.items():
        if statement.startswith(prefix):
            return why
    return ""


@dataclass
class Table:
    """A small table for the report. ``rows`` is a list of rows, each as long as ``columns``."""

    title: str
    columns: list[str]
    rows: list[list[Any]]

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"Table {self.title!r}: row {i} has {len(row)} cells but there are "
                    f"{len(self.columns)} columns; give one cell per column."
                )

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_jsonable(c) for c in row] for row in self.rows],
            "rows_text": [[_fmt(c) for c in row] for row in self.rows],
        }


@dataclass(frozen=True)
class Reference:
    """A source: the kexue.fm article or a paper (``url`` may be an arXiv link)."""

    title: str
    url: str


@dataclass
class Result:
    """What an experiment returns; the report knows only this class.

    ``figures`` maps a short file-safe name to a matplotlib ``Figure``; the report saves each
    as ``<experiment>-<name>.png``. The metadata fields are filled by the runner: ``device`` the
    resolved device in words (an experiment that does its work elsewhere, e.g. symbolically on
    the CPU, may fill it itself), ``processes`` the number of processes of the job.
    """

    claims: list[Claim] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    # filled by the runner
    name: str = ""
    title: str = ""
    article: str = ""
    article_url: str = ""
    references: list[Reference] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    quick: bool = False
    runtime_s: float = 0.0
    device: str = "cpu"  # the runner writes the resolved device in words
    processes: int = 1
    status: str = "ok"  # "ok" | "failed"
    error: str = ""
    # the experiment's known findings (statement prefix -> why), set by Experiment.mark_findings
    known_findings: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when the run succeeded and every checked claim holds or is a known finding: an
        article's claim that honestly does not reproduce, marked (``Claim.finding``) *and* on the
        experiment's list (``known_findings``, set by :meth:`Experiment.mark_findings`)."""
        return self.status == "ok" and all(
            c.passed or bool(c.finding and finding_for(c.statement, self.known_findings))
            for c in self.claims if c.checked)

    def to_dict(self, figure_files: Mapping[str, str] | None = None) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "article": self.article,
            "article_url": self.article_url,
            "status": self.status,
            "error": self.error,
            "passed": self.passed,
            "runtime_s": round(self.runtime_s, 3),
            "device": self.device,
            "processes": self.processes,
            "seed": self.seed,
            "quick": self.quick,
            "config": {k: _jsonable(v) for k, v in self.config.items()},
            "claims": [c.to_dict() for c in self.claims],
            "tables": [t.to_dict() for t in self.tables],
            "figures": dict(figure_files or {}),
            "notes": self.notes,
            "references": [{"title": r.title, "url": r.url} for r in self.references],
            "known_findings": dict(self.known_findings),
        }


def _plain(x: Any) -> Any:
    """NumPy/torch scalars to Python numbers; everything else unchanged."""
    if type(x) in (bool, int, float, str) or x is None:
        return x
    item = getattr(x, "item", None)
    if item is not None and getattr(x, "ndim", 0) == 0:
        return item()
    return x


def _jsonable(x: Any) -> Any:
    if isinstance(x, (bool, int, str)) or x is None:
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    try:  # numpy / torch scalars
        return _jsonable(x.item())
    except (AttributeError, ValueError, RuntimeError):
        return str(x)


@dataclass(frozen=True)
class Experiment:
    """Registry entry for one experiment.

    Args:
        name: CLI name, kebab-case (``"smooth-max"``).
        title: one-line title for the report.
        article: short article name (``"Function smoothing (2019-05-20)"``).
        article_url: the kexue.fm URL.
        claim: the one-line claim ``kexue list`` shows.
        config: the ``Config`` dataclass (defaults = full preset).
        run: ``run(config) -> Result``.
        quick: overrides of ``config``'s defaults for ``--quick``.
        quick_runtime_s: expected quick runtime on 2 CPU cores, in seconds.
        references: papers and articles cited in the report.
        section: the report section (one per article / subpackage), e.g. ``"kexue.smooth"``.
        known_findings: the article's claims that honestly do not reproduce here, as claim
            statement prefix -> why (one line pointing at the notes). The one list the report's
            "not reproduced — see notes" verdict, ``Result.passed`` and the tests of the quick
            presets read: a missed claim on it is a finding, any other missed claim a failure.
    """

    name: str
    title: str
    article: str
    article_url: str
    claim: str
    config: type
    run: Callable[[Any], Result]
    quick: Mapping[str, Any] = field(default_factory=dict)
    quick_runtime_s: float = 10.0
    references: Sequence[Reference] = ()
    section: str = ""
    known_findings: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"Experiment {self.name!r}: config must be a dataclass type")
        names = {f.name for f in dataclasses.fields(self.config)}
        if "seed" not in names:
            raise TypeError(f"Experiment {self.name!r}: Config needs an int field 'seed'")
        unknown = set(self.quick) - names
        if unknown:
            raise TypeError(f"Experiment {self.name!r}: quick preset has unknown keys {unknown}")
        if not isinstance(self.known_findings, Mapping) or not all(
                isinstance(k, str) and k and isinstance(v, str) and v
                for k, v in self.known_findings.items()):
            raise TypeError(
                f"Experiment {self.name!r}: known_findings must map non-empty claim-statement "
                f"prefixes to non-empty reasons (str -> str); got {self.known_findings!r}")

    def mark_findings(self, result: Result) -> Result:
        """Mark ``result``'s missed, checked claims that are on ``known_findings`` as findings
        (``Claim.finding`` = the reason) and record the list on the result; return ``result``.
        Idempotent; a claim that holds, or one not on the list, is left as it is."""
        result.known_findings = dict(self.known_findings)
        for c in result.claims:
            if c.checked and not c.passed and not c.finding:
                c.finding = finding_for(c.statement, self.known_findings)
        return result
