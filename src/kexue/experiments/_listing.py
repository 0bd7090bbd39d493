"""What ``kexue list`` shows, read without running the experiment modules.

Importing an experiment module imports torch and whatever the experiment needs (seconds); the
listing needs only the literal fields of its ``EXPERIMENT = Experiment(...)`` call. This module
reads them from the module's source with :mod:`ast` (``ast.literal_eval`` of each keyword, so a
field written as an expression falls back to importing that one module), or from the loaded
registry when :func:`kexue.experiments.registry` has already run (the registry is the truth; a
test checks that both give the same rows).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

from ..extras import extra_of, missing

__all__ = ["LISTING_FIELDS", "listing", "load_experiment_module"]

#: The fields of one row, in order (``url`` is ``Experiment.article_url``).
LISTING_FIELDS = ("name", "title", "article", "url", "claim", "quick_runtime_s", "section")
_SOURCE = {"url": "article_url"}
_DEFAULTS: dict[str, Any] = {"quick_runtime_s": 10.0, "section": ""}  # Experiment's defaults


def load_experiment_module(mod: str) -> Any:
    """Import the experiment module ``kexue.experiments.<mod>``.

    Raises:
        kexue.data.MissingExtraError: it imports a package of an optional extra (matplotlib of
            ``cli``, sympy of ``symbolic``, scikit-learn of ``data``, ...) that is not installed;
            the message names the extra and its ``pip install`` command.
    """
    name = f"{__package__}.{mod}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        extra = extra_of(err.name or "")
        if extra is None:
            raise
        raise missing(err.name or "", f"the experiment {name}", extra, err) from err


def _row(spec: Any) -> dict[str, Any]:
    """The listing row of a loaded :class:`~kexue.experiments.Experiment`."""
    row = {f: getattr(spec, _SOURCE.get(f, f)) for f in LISTING_FIELDS}
    row["quick_runtime_s"] = float(row["quick_runtime_s"])
    return row


def _row_from_source(path: Path) -> dict[str, Any] | None:
    """The row read from the ``EXPERIMENT = Experiment(...)`` call in ``path``; ``None`` when
    there is no such call or one of the listed fields is not a literal."""
    text = path.read_text(encoding="utf-8")
    # parse from the assignment on (a top-level statement, so the rest is a module too): the
    # whole file would cost several times more
    start = text.find("\nEXPERIMENT = ")
    tree = ast.parse(text[start + 1:] if start >= 0 else text, filename=str(path))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "EXPERIMENT"
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "Experiment"):
            if node.value.args:
                return None
            keywords = {k.arg: k.value for k in node.value.keywords if k.arg is not None}
            row: dict[str, Any] = {}
            for f in LISTING_FIELDS:
                key = _SOURCE.get(f, f)
                if key not in keywords:
                    if f not in _DEFAULTS:
                        return None
                    row[f] = _DEFAULTS[f]
                    continue
                try:
                    row[f] = ast.literal_eval(keywords[key])
                except ValueError:  # an expression: let the module compute it
                    return None
            row["quick_runtime_s"] = float(row["quick_runtime_s"])
            return row
    return None


def listing() -> list[dict[str, Any]]:
    """One row per registered experiment, in report order: ``name``, ``title``, ``article``,
    ``url``, ``claim``, ``quick_runtime_s`` (expected quick runtime on 2 CPU cores) and
    ``section``. Imports no experiment module whose fields are literals (and so not torch)."""
    from . import _MODULES, _REGISTRY  # the package's registry state, read at call time

    if _REGISTRY is not None:
        return [_row(spec) for spec in _REGISTRY.values()]
    here = Path(__file__).parent
    rows = []
    for mod in _MODULES:
        row = _row_from_source(here / f"{mod}.py")
        if row is None:
            row = _row(load_experiment_module(mod).EXPERIMENT)
        rows.append(row)
    return rows
