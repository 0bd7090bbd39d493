"""Render experiment results into ``index.html`` + ``results.json`` + PNG figures.

The page is one self-contained file: the stylesheet is inlined, every figure is embedded as a
base64 ``data:image/png`` URI (the PNG files are also written beside it, for reuse), and nothing
is fetched from the network — the only external URLs are the article and reference links.
Everything that comes from a ``Result`` is HTML-escaped by jinja2's autoescape.
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from .. import __version__
from ..experiments import claim_verdict
from ._stored import full_run_view, full_runs_dir, load_full_run

if TYPE_CHECKING:  # the report reads Results but needs nothing else from experiments
    from ..experiments import Result

__all__ = ["write_report"]

DEFAULT_TITLE = "kexue — reproduced results"
FIGURE_DPI = 110

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def write_report(
    results: Sequence[Result],
    out_dir: str | Path,
    *,
    title: str = DEFAULT_TITLE,
    meta: Mapping[str, Any] | None = None,
    full_runs: str | Path | None = "auto",
) -> Path:
    """Write the HTML report of ``results`` into ``out_dir`` and return the path of the page.

    Files written (``out_dir`` is created if needed; existing files are overwritten):

    * ``<name>-<figure>.png`` — each ``result.figures[figure]`` (a matplotlib ``Figure``) saved at
      110 dpi with ``bbox_inches="tight"``. A figure that cannot be saved is reported on the page
      (and left out of ``results.json``) rather than losing the whole report.
    * ``results.json`` — ``{"kexue_version", "generated", "meta", "summary", "experiments"}``,
      where ``summary`` is ``{"n", "passed", "failed", "errors", "claims", "claims_passed",
      "claims_unchecked", "claims_not_reproduced"}`` (``claims`` counts the checked claims;
      ``claims_not_reproduced`` the checked claims that are known findings, "not reproduced —
      see notes": they count neither as passed nor against their run)
      (``failed = n - passed`` counts runs that raised *and* runs with a missed claim that is not
      a known finding; ``errors`` only the former) and ``experiments`` is
      ``[result.to_dict(figure_files), ...]``, each with ``last_full_run`` (the stored full run's
      date, commit, machine, runtime and claim verdicts, or ``None``).
    * ``index.html`` — header, one summary row per experiment (``tr.summary-row`` with
      ``data-experiment="<name>"``) plus one row per further claim, then one section per article
      with each experiment's facts (seed, runtime, preset, device in words, and the number of
      processes when more than one), claims, figures, tables, notes, known findings, the last
      stored full run (if any), resolved config and references. Each claim row has its
      measured value in ``td.obtained`` and its verdict in ``td.verdict``: pass, fail, not
      checked, or "not reproduced — see notes" (a known finding, ``Claim.finding``).

    Args:
        results: the experiment results, in report order. Articles appear in the order of their
            first experiment.
        out_dir: the output directory.
        title: the page title (``<title>`` and the main heading).
        meta: run metadata shown in the header and stored in ``results.json``. Keys shown
            specially: ``command`` (as code), ``quick`` and ``seed``; a numeric key ending in
            ``_s`` is shown as a duration (e.g. ``total_runtime_s``). Any other key is shown as
            ``key: value``. When no ``*runtime*`` key is given the sum of the runtimes is shown.
        full_runs: the directory of stored full runs (``<name>.json``, see
            :mod:`kexue.report._stored`); ``"auto"``: ``$KEXUE_FULL_RUNS`` or the source
            checkout's ``benchmarks/results/full``; ``None``: show none. An experiment without a
            stored run shows nothing about it.

    Returns:
        The path of ``out_dir/index.html``.

    Raises:
        TypeError: ``results`` is not a sequence of results, or ``meta`` is not a mapping.
    """
    results = list(results)
    for i, r in enumerate(results):
        if not (hasattr(r, "to_dict") and hasattr(r, "figures") and hasattr(r, "passed")):
            raise TypeError(
                f"results[{i}] is a {type(r).__name__}, not a kexue Result; pass the objects "
                "returned by kexue.experiments.run_experiment."
            )
    if meta is not None and not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a mapping (dict) or None; got {type(meta).__name__}")
    meta = dict(meta or {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    full_dir = full_runs_dir() if isinstance(full_runs, str) and full_runs == "auto" else full_runs
    slugs = _unique_slugs(r.name or r.title or "experiment" for r in results)
    experiments = []
    views = []
    for r, slug in zip(results, slugs):
        images, figure_errors = _save_figures(r.figures, slug, out)
        d = r.to_dict({img["name"]: img["file"] for img in images})
        full = full_run_view(load_full_run(r.name, full_dir), d.get("known_findings"))
        d["last_full_run"] = _full_run_json(full)
        experiments.append(d)
        views.append(_experiment_view(d, r, slug, images, figure_errors, full))

    summary = _summary(views)
    generated = datetime.now(timezone.utc).astimezone()
    payload = {
        "kexue_version": __version__,
        "generated": generated.isoformat(timespec="seconds"),
        "meta": _json_safe(meta),
        "summary": summary,
        "experiments": experiments,
    }
    text = json.dumps(payload, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    (out / "results.json").write_text(text + "\n", encoding="utf-8")

    html = _environment().get_template("index.html").render(
        title=title,
        version=__version__,
        generated=generated.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
        generated_iso=payload["generated"],
        meta_items=_meta_items(meta, views),
        command=str(meta["command"]) if meta.get("command") else "",
        summary=summary,
        articles=_group_by_article(views),
        css=Markup(_read_resource("style.css")),  # our own file, not user input
    )
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


# ---------------------------------------------------------------------------------------------
# figures


def _save_figures(figures: Mapping[str, Any], slug: str, out: Path) -> tuple[list, list]:
    """Save each figure as ``<slug>-<name>.png``; return (embedded images, error messages)."""
    images, errors = [], []
    used: set[str] = set()
    for name, fig in (figures or {}).items():
        stem = f"{slug}-{_UNSAFE.sub('_', str(name)).strip('._') or 'figure'}"
        fname, k = f"{stem}.png", 2
        while fname in used:  # two figure names that sanitise to the same file
            fname, k = f"{stem}-{k}.png", k + 1
        used.add(fname)
        path = out / fname
        try:
            fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight", format="png")
            data = path.read_bytes()
        except Exception as exc:  # noqa: BLE001 - one bad figure must not lose the report
            errors.append(f"figure {name!r} could not be saved: {type(exc).__name__}: {exc}")
            continue
        width, height = _png_size(data)
        images.append({
            "name": str(name),
            "file": fname,
            "uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            "width": width,
            "height": height,
        })
    return images, errors


def _png_size(data: bytes) -> tuple[int | None, int | None]:
    """Pixel (width, height) from a PNG's IHDR chunk, or (None, None) if it is not a PNG."""
    if len(data) >= 24 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    return None, None


# ---------------------------------------------------------------------------------------------
# view model: plain dicts the template reads


def _full_run_json(full: dict | None) -> dict | None:
    """The stored full run as recorded in ``results.json`` (no display-only fields)."""
    if full is None:
        return None
    if full["error"]:
        return {"error": full["error"]}
    keep = ("date", "commit", "machine", "runtime", "command", "note", "file")
    return {**{k: full[k] for k in keep},
            "claims": [{k: c[k] for k in ("statement", "expected_text", "obtained_text",
                                          "verdict")} for c in full["claims"]]}


def _experiment_view(d: dict, r: Any, slug: str, images: list, figure_errors: list,
                     full: dict | None = None) -> dict:
    """The template's view of one result: its ``to_dict`` plus display-ready fields."""
    claims = d["claims"]
    for c in claims:
        c.setdefault("checked", True)
        c.setdefault("finding", "")
        c.setdefault("verdict", claim_verdict(passed=c["passed"], checked=c["checked"],
                                              finding=c["finding"]))
    n_ok = sum(c["verdict"] == "pass" for c in claims)
    n_nrep = sum(c["verdict"] == "not reproduced" for c in claims)
    if d["status"] == "failed":
        status, label = "failed", "failed"
    elif r.passed:
        status = "passed"
        label = f"passed, {n_nrep} not reproduced" if n_nrep else "passed"
    else:
        status, label = "missed", "claim missed"
    return {
        **d,
        "anchor": f"exp-{slug}",
        "display_name": d["name"] or slug,
        "state": status,
        "state_label": label,
        "claims_ok": n_ok,
        "claims_not_reproduced": n_nrep,
        "claims_checked": sum(c["checked"] for c in claims),
        "findings": [(c["statement"], c["finding"]) for c in claims
                     if c["verdict"] == "not reproduced"],
        "full_run": full,
        "runtime_text": _duration(d["runtime_s"]),
        "images": images,
        "figure_errors": figure_errors,
        "config_items": [(k, _text(v)) for k, v in d["config"].items()],
        "table_views": [_table_view(t) for t in d["tables"]],
        "seed_text": "—" if d["seed"] is None else _text(d["seed"]),
        "article_url": _safe_url(d["article_url"]),
        "references": [
            {"title": ref["title"], "url": _safe_url(ref["url"])} for ref in d["references"]
        ],
    }


def _table_view(t: dict) -> dict:
    """A table with its cells as (text, is_number) pairs, numbers right-aligned in the page."""
    rows = [
        [(txt, isinstance(raw, (int, float)) and not isinstance(raw, bool))
         for raw, txt in zip(row, row_text)]
        for row, row_text in zip(t["rows"], t["rows_text"])
    ]
    numeric_cols = [
        bool(rows) and all(row[j][1] for row in rows) for j in range(len(t["columns"]))
    ]
    return {"title": t["title"], "columns": list(zip(t["columns"], numeric_cols)), "rows": rows}


def _group_by_article(views: list[dict]) -> list[dict]:
    """Group experiment views by article, in order of first appearance."""
    groups: dict[tuple[str, str], dict] = {}
    for v in views:
        key = (v["article"] or "Other experiments", v["article_url"])
        if key not in groups:
            groups[key] = {"title": key[0], "url": key[1], "experiments": []}
        groups[key]["experiments"].append(v)
    slugs = _unique_slugs(g["title"] for g in groups.values())
    out = []
    for g, slug in zip(groups.values(), slugs):
        g["anchor"] = f"article-{slug}"
        g["n_passed"] = sum(v["state"] == "passed" for v in g["experiments"])
        out.append(g)
    return out


def _summary(views: list[dict]) -> dict[str, int]:
    n = len(views)
    passed = sum(v["state"] == "passed" for v in views)
    return {
        "n": n,
        "passed": passed,
        "failed": n - passed,
        "errors": sum(v["state"] == "failed" for v in views),
        "claims": sum(v["claims_checked"] for v in views),
        "claims_passed": sum(v["claims_ok"] for v in views),
        "claims_unchecked": sum(len(v["claims"]) - v["claims_checked"] for v in views),
        "claims_not_reproduced": sum(v["claims_not_reproduced"] for v in views),
    }


def _meta_items(meta: Mapping[str, Any], views: list[dict]) -> list[tuple[str, str]]:
    """(label, text) pairs for the header, ``command`` excluded (it gets its own line)."""
    items = []
    for key, value in meta.items():
        if key == "command":
            continue
        label = str(key)
        if key == "quick" and isinstance(value, bool):
            text = "quick preset" if value else "full preset"
            label = "preset"
        elif key == "seed" and value is None:
            text = "each experiment's default"
        elif (label.endswith("_s") and isinstance(value, (int, float))
              and not isinstance(value, bool)):
            label, text = label[:-2], _duration(value)
        else:
            text = _text(value)
        items.append((label.replace("_", " "), text))
    if not any("runtime" in str(k) for k in meta):
        items.append(("runtime (sum)", _duration(sum(v["runtime_s"] for v in views))))
    return items


# ---------------------------------------------------------------------------------------------
# formatting helpers


def _json_safe(x: Any) -> Any:
    """``x`` with non-finite floats as strings, so that ``results.json`` is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, Mapping):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def _text(x: Any) -> str:
    """Compact display text of a config / meta value."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return f"{x:.6g}" if math.isfinite(x) else str(x)
    if isinstance(x, (list, tuple)):
        return "(" + ", ".join(_text(v) for v in x) + ")"
    return str(x)


def _duration(seconds: float) -> str:
    """Human duration: ``'850 ms'``, ``'12.3 s'``, ``'2 min 05 s'``, ``'1 h 03 min'``."""
    s = float(seconds)
    if not math.isfinite(s) or s < 0:
        return str(seconds)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        m, sec = divmod(round(s), 60)
        return f"{m} min {sec:02d} s"
    h, rest = divmod(round(s), 3600)
    return f"{h} h {rest // 60:02d} min"


def _safe_url(url: str) -> str:
    """``url`` if it is an http(s)/mailto or relative link, else ``""`` (no ``javascript:``)."""
    url = str(url or "").strip()
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", url)
    if scheme and scheme.group(1).lower() not in {"http", "https", "mailto"}:
        return ""
    return url


def _unique_slugs(names: Iterable[str]) -> list[str]:
    """File- and anchor-safe names, made unique by a numeric suffix."""
    seen: set[str] = set()
    out = []
    for name in names:
        base = _UNSAFE.sub("-", str(name)).strip("-.") or "experiment"
        slug, k = base, 2
        while slug in seen:
            slug, k = f"{base}-{k}", k + 1
        seen.add(slug)
        out.append(slug)
    return out


def _read_resource(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


_ENV: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        _ENV = jinja2.Environment(
            loader=jinja2.PackageLoader(__package__, "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENV
