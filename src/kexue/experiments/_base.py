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
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Claim", "Table", "Reference", "Result", "Experiment", "ConfigError", "resolve_config",
           "validate_config",
           "config_device", "host_device_text", "finding_for", "claim_verdict"]


class ConfigError(ValueError):
    """A configuration that cannot be run: an override with an unknown key or a value of the
    wrong type, a number that is not finite, or a field out of range / breaking a relation
    (the Config's own ``validate()``). ``kexue reproduce`` prints it on one line, exit 2."""


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


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_int(raw: str) -> int:
    """``"12"``, ``"1_000"`` or an integral float literal such as ``"1e3"``."""
    try:
        return int(raw)
    except ValueError:
        v = float(raw)
        if math.isfinite(v) and v == int(v) and abs(v) < 2**63:
            return int(v)
        raise


def _coerce(name: str, raw: str, default: Any, kind: type | None = None) -> Any:
    """Parse the string ``raw`` to ``kind`` (the field's annotated type; default: the type of
    ``default``, the field's default value). Numbers must be finite."""
    kind = type(default) if kind is None else kind
    try:
        if kind is bool:
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if kind is int:
            return _parse_int(raw.strip())
        if kind is float:
            v = float(raw)
            if not math.isfinite(v):
                raise ConfigError(f"--set {name}: expected a finite number; got {raw!r}")
            return v
        if kind is tuple:
            parts = [p for p in raw.replace("(", "").replace(")", "").split(",") if p.strip()]
            if not parts:
                raise ValueError
            inner = type(default[0]) if default else float
            return tuple(_coerce(name, p.strip(), inner()) for p in parts)
        return raw
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(
            f"--set {name}: expected a value of type {kind.__name__} "
            f"(default {default!r}); got {raw!r}"
        ) from None


def _field_kinds(config_cls: type) -> dict[str, type]:
    """Each field's plain type (``int``, ``float``, ``bool``, ``str``, ``tuple``) from the
    dataclass annotations (strings under ``from __future__ import annotations``); a field whose
    annotation is anything else is left out (only its default's type is then known)."""
    import typing

    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # noqa: BLE001 - an unresolvable annotation: fall back to the defaults
        hints = {}
    kinds: dict[str, type] = {}
    for f in dataclasses.fields(config_cls):
        hint = hints.get(f.name, f.type)
        origin = typing.get_origin(hint) or hint
        if origin in (int, float, bool, str, tuple):
            kinds[f.name] = origin
    return kinds


def _check_value(spec_name: str, key: str, value: Any, kind: type | None) -> None:
    """A resolved field against its type and finiteness (bool is not an int here, an int is
    accepted for a float)."""
    def bad(what: str) -> ConfigError:
        return ConfigError(f"{spec_name}: {key} = {value!r} {what}; set it with "
                           f"--set {key}=VALUE")

    if kind is bool and not isinstance(value, bool):
        raise bad("is not a bool (true/false)")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad("is not an int")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("is not a number")
        if not math.isfinite(value):
            raise bad("is not finite")
    if kind is str and not isinstance(value, str):
        raise bad("is not a string")
    if kind is tuple:
        if not isinstance(value, tuple):
            raise bad("is not a tuple")
        for v in value:
            if isinstance(v, float) and not math.isfinite(v):
                raise bad("holds a value that is not finite")


def validate_config(spec: Experiment, config: Any) -> Any:
    """Check a resolved config before any work: every field's type against the dataclass
    annotations, numbers finite, ``seed >= 0``, then the Config's own ``validate()`` (ranges
    and relations; helpers in :mod:`kexue.experiments._config_checks`) if it defines one.
    Returns ``config``.

    Raises:
        ConfigError: one line naming the experiment, the field, the value and the fix. A
            ``ValueError``/``TypeError`` raised by ``validate()`` is turned into one.
    """
    kinds = _field_kinds(type(config))
    for f in dataclasses.fields(config):
        _check_value(spec.name, f.name, getattr(config, f.name), kinds.get(f.name))
    seed = getattr(config, "seed", 0)
    if isinstance(seed, int) and seed < 0:
        raise ConfigError(f"{spec.name}: seed = {seed} is out of range: must be >= 0; set it "
                          "with --seed N")
    hook = getattr(config, "validate", None)
    if callable(hook):
        try:
            hook()
        except ConfigError:
            raise
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{spec.name}: invalid config: {exc}") from None
    return config


def resolve_config(spec: Experiment, *, quick: bool, overrides: Mapping[str, str] | None = None,
                   seed: int | None = None) -> Any:
    """Build ``spec.config`` from its defaults, the quick preset, ``--set`` strings and ``seed``.

    Raises:
        ConfigError: an override names an unknown key (the message lists the valid keys), its
            value does not parse as the field's annotated type or is not finite, or the
            resolved config fails :func:`validate_config` (types, ``seed >= 0``, the Config's
            ``validate()`` ranges and relations).
    """
    fields = {f.name: f for f in dataclasses.fields(spec.config)}
    kinds = _field_kinds(spec.config)
    base = spec.config()
    values: dict[str, Any] = dict(spec.quick) if quick else {}
    for key, raw in (overrides or {}).items():
        if key not in fields:
            raise ConfigError(
                f"unknown config key {key!r} for experiment {spec.name!r}; "
                f"valid keys: {', '.join(sorted(fields))}"
            )
        values[key] = _coerce(key, raw, getattr(base, key), kinds.get(key))
    if seed is not None:
        values["seed"] = seed
    return validate_config(spec, dataclasses.replace(base, **values))


def config_device(config: Any) -> Any:
    """``config.device`` (``auto | cpu | cuda | cuda:N``) as a ``torch.device`` that exists here
    (:func:`kexue.devices.resolve_device`; ``auto``: a GPU when there is one).

    Raises:
        ValueError: a device that does not exist here, with the fix.
    """
    from ..devices import resolve_device

    return resolve_device(config.device, name="device")


def host_device_text(config: Any, work: str) -> str:
    """``Result.device`` for an experiment whose work runs on the host whatever the device
    (``work`` names it, e.g. ``"SymPy and NumPy"``): ``config.device`` is still checked
    (:func:`config_device`) and a requested accelerator is named as unused."""
    dev = config_device(config)
    unused = "" if dev.type == "cpu" else f"; device {dev} requested, not used"
    return f"cpu ({work}{unused})"


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (at least 1), then restore the caller's
    setting. Experiments with small tensors use 1: more threads only add synchronisation, and on
    a shared machine OpenMP threads waiting at barriers make tiny kernels far slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
