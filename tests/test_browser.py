"""End to end: serve a generated report on 127.0.0.1 and load it in headless Chromium.

Uses the system Chromium (Debian ``chromium``; ``.ci/run`` installs it) driven by playwright's
Python API — playwright's own browser download cannot work offline. The report is built from
synthetic results (fast); the CLI's own end-to-end run is tested elsewhere. A full-page screenshot
is saved as ``test-artifacts/report.png`` (and ``report-<width>.png`` by the layout test).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
import traceback
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from kexue.experiments import Claim, Reference, Result, Table
from kexue.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 30_000
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is absent; install it with "
               "`apt-get install -y chromium chromium-driver` (.ci/run does this in CI)",
    ),
]


def _figure(kind: str) -> Figure:
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    ks = [1, 2, 4, 8, 16, 32, 64]
    if kind == "loglog":
        ax.loglog(ks, [2.3 / k for k in ks], "--", label="bound log(n)/k")
        ax.loglog(ks, [1.6 / k for k in ks], "o-", label="worst gap")
        ax.set_xlabel("k")
        ax.legend()
    else:
        ax.bar(range(len(ks)), [k % 5 + 1 for k in ks])
        ax.set_title("histogram")
    return fig


def _results() -> list[Result]:
    """Three experiments over two articles: passing, a missed claim, and one that raised."""
    return [
        Result(
            claims=[Claim("0 <= max(x) - LSE_k(x) <= log(n)/k", "<= 0.2303", 0.16, "<= bound",
                          True),
                    Claim("gap ~ 1/k (log-log slope)", -1.0, -0.998, "±0.05", True)],
            tables=[Table("gap by k", ["k", "gap"], [[1, 1.6], [10, 0.16]])],
            figures={"gap": _figure("loglog")},
            notes="10000 vectors of size n = 10.",
            name="smooth-max", title="Smooth max gap", article="Function smoothing",
            article_url="https://kexue.fm/archives/6620",
            references=[Reference("Function smoothing", "https://kexue.fm/archives/6620")],
            config={"n": 10, "seed": 0}, seed=0, quick=True, runtime_s=0.4,
        ),
        Result(
            claims=[Claim("OU terminal variance", 0.4323, 0.4511, "4 SE", False)],
            figures={"paths": _figure("loglog"), "hist": _figure("bar")},
            name="ou-euler", title="OU marginals", article="Path integrals (1)",
            article_url="https://kexue.fm/archives/3749",
            config={"theta": 1.0, "dt": 0.01, "seed": 0}, seed=0, quick=True, runtime_s=2.5,
        ),
        Result(
            status="failed", error="RuntimeError: diverged <b>badly</b>",
            notes=traceback.format_stack()[-1], name="gbm-fk", title="Feynman-Kac for GBM",
            article="Path integrals (1)", article_url="https://kexue.fm/archives/3749",
            config={"seed": 1}, seed=1, runtime_s=0.1,
        ),
    ]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def test_report_in_chromium(tmp_path):
    from playwright import sync_api  # the dev extra; `make test` installs it
    results = _results()
    index = write_report(results, tmp_path, title="kexue — reproduced results",
                         meta={"command": "kexue reproduce --quick", "quick": True})

    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    errors: list[str] = []
    foreign: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                        timeout=TIMEOUT_MS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(TIMEOUT_MS)
                page.on("console", lambda m: errors.append(f"console: {m.text}")
                        if m.type == "error" else None)
                page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
                page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
                page.on("request", lambda r: None if r.url.startswith((base, "data:"))
                        else foreign.append(r.url))

                response = page.goto(base + index.name, wait_until="load", timeout=TIMEOUT_MS)
                # wait until every image is decoded (a broken one resolves too, and fails below)
                page.evaluate("() => Promise.all(Array.from(document.images).map("
                              "i => i.decode().catch(() => null)))")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True,
                                timeout=TIMEOUT_MS)

                assert response is not None and response.ok
                assert page.title() == "kexue — reproduced results"
                rows = page.eval_on_selector_all(
                    ".summary-row", "rows => rows.map(r => r.dataset.experiment)")
                assert rows == [r.name for r in results]
                images = page.evaluate(
                    "() => Array.from(document.images).map("
                    "i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))")
                assert len(images) == sum(len(r.figures) for r in results) == 3
                bad = [i for i in images if not (i["complete"] and i["width"] > 0)]
                assert not bad, f"images that did not load: {bad}"
                # every summary link points at an experiment section on the page
                missing = page.evaluate(
                    "() => Array.from(document.querySelectorAll('.summary-row a.exp-link'))"
                    ".map(a => a.getAttribute('href'))"
                    ".filter(h => !document.getElementById(h.slice(1)))")
                assert missing == []
                assert page.locator("#exp-gbm-fk .badge-failed").inner_text() == "failed"
                assert "<b>badly</b>" in page.locator("#exp-gbm-fk .error-message").inner_text()
                assert not errors, f"browser errors: {errors}"
                assert not foreign, f"the page requested other origins: {foreign}"
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def _served(directory: Path):
    """Serve ``directory`` on 127.0.0.1; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# Long values as real experiments print them (diffusion-samplers, forms-stokes, ganqp-toy,
# onlstm-ptb), a long experiment name, a known finding and a stored full run: what made the
# summary table wider than its card before.
_LONG = [
    ("ODE beats EM at equal NFE on both data sets (mean error, 2 SE)", "ODE < EM",
     "ring2d: 0.0574 vs 0.447; gmm16d: 0.3 vs 2.15"),
    ("the hypothesis of Stokes' theorem is checked: a singular form is flagged",
     "flagged: hypothesis fails", "hypothesis fails: ω singular at (0.0, 0.0) (sides differ)"),
    ("ON-LSTM's test perplexity is below the LSTM's at equal parameters and time",
     "Δ log-ppl (LSTM − ON-LSTM) > 4.3 SE",
     "+0.0979 ± 0.0665 nats (ppl 222.9 vs 246.2): tie (within 4.3 SE)"),
    ("a tiny number", 1e-12, 1.2345678901234e-13),
    ("a large number", 123456789012.0, 98765432109.87),
    ("an unbroken token", "≤ 0.5", "x" * 60),
]


def _layout_results() -> list[Result]:
    claims = [Claim(st, exp, obt, "a tolerance written out in words, ≥ 2 SE", i % 2 == 0)
              for i, (st, exp, obt) in enumerate(_LONG)]
    claims.append(Claim("soft F1 beats BCE on F1 (Wilcoxon p = 0.31)", "> 0, p < 0.05",
                        -0.0042, "gain > 0 and p < 0.05", False, finding="no gain: see notes"))
    claims.append(Claim("not decided by the quick preset", "> 0", 0.1, "> 0", False,
                        checked=False))
    wide = Table("a wide table", [f"column number {j}" for j in range(16)],
                 [[1234567.891 * (j + 1) for j in range(16)] for _ in range(3)])
    long_name = "diffusion-likelihood-with-a-very-long-experiment-name"
    return [
        Result(claims=claims, tables=[wide], notes="long values", name=long_name,
               title="Long values", article="Layout (1)", article_url="https://kexue.fm/archives/1",
               config={"seed": 0, "grid": tuple(range(40))}, seed=0, quick=True,
               runtime_s=3723.0, known_findings={"soft F1 beats BCE": "no gain: see notes"}),
        _results()[0],
    ]


def _store_full_run(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    result = {"claims": [
        {"statement": st, "expected_text": str(exp), "obtained_text": str(obt),
         "tolerance": "2 SE", "passed": False, "checked": True} for st, exp, obt in _LONG]}
    record = {"experiment": name, "preset": "full", "command": f"kexue reproduce {name}",
              "commit": "0123abc", "date": "2026-12-01", "machine": "a 2-core test machine",
              "training_runtime": "4,340 s wall", "result": result}
    (directory / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    return directory


# every element outside a horizontal scroll container stays inside the viewport; every claim
# row's obtained cell and verdict, with the page scrolled down to it (no container scrolled
# sideways), lie inside the viewport and inside any scroll container around them (a cell hidden
# by a table that scrolls inside its card fails)
_LAYOUT_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const clippers = el => {
    const out = [];
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement)
      if (getComputedStyle(a).overflowX !== 'visible') out.push(a);
    return out;
  };
  const overflowing = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if ((r.right > vw + 0.5 || r.left < -0.5) && clippers(el).length === 0)
      overflowing.push(`${el.tagName}.${el.className} `
                       + `[${Math.round(r.left)}, ${Math.round(r.right)}]`);
  }
  const hidden = [];
  let cells = 0;
  for (const row of document.querySelectorAll('table.summary-table tr, table.claims tr')) {
    const own = row.querySelectorAll(':scope > td.obtained, :scope > td.verdict');
    for (const cell of own) {
      cells += 1;
      // scroll the page vertically only: a reader does not scroll each table sideways
      const top = cell.getBoundingClientRect().top;
      window.scrollTo(0, window.scrollY + top - window.innerHeight / 2);
      const r = cell.getBoundingClientRect();
      let ok = r.width > 0 && r.left >= -0.5 && r.right <= vw + 0.5;
      for (const c of clippers(cell)) {
        const cr = c.getBoundingClientRect();
        if (r.left < cr.left - 0.5 || r.right > cr.right + 0.5) ok = false;
      }
      if (!ok) hidden.push(`${cell.className} [${Math.round(r.left)}, ${Math.round(r.right)}]: `
                           + cell.textContent.trim().slice(0, 50));
    }
  }
  window.scrollTo(0, 0);
  return {scroll_excess: document.documentElement.scrollWidth - vw, overflowing, hidden, cells};
}"""


def test_report_layout_fits_common_widths(tmp_path):
    """At 1024, 1400 and 1920 px nothing overflows the page horizontally and every claim row's
    obtained value and verdict are visible (issue 17: they were cut off at 1400 and 1920 px)."""
    from playwright import sync_api

    results = _layout_results()
    full = _store_full_run(tmp_path / "full", results[0].name)
    meta = {"command": "kexue reproduce --quick " + "--set a_long_key=1 " * 30, "quick": True}
    write_report(results, tmp_path / "site", meta=meta, full_runs=full)
    n_rows = 2 * (len(results[0].claims) + len(results[1].claims)) + len(_LONG)
    with _served(tmp_path / "site") as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                    timeout=TIMEOUT_MS)
        try:
            for width in (1024, 1400, 1920):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(base + "index.html", wait_until="load", timeout=TIMEOUT_MS)
                out = page.evaluate(_LAYOUT_JS)
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / f"report-{width}.png"), timeout=TIMEOUT_MS)
                assert out["cells"] == 2 * n_rows, (width, out["cells"])
                assert out["scroll_excess"] <= 0, (width, out)
                assert not out["overflowing"], (width, out["overflowing"][:10])
                assert not out["hidden"], (width, out["hidden"][:10])
                assert page.locator(".badge-notrepro").count() == 2
                page.close()
        finally:
            browser.close()
