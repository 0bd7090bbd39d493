"""End to end: serve a generated report on 127.0.0.1 and load it in headless Chromium.

Uses the system Chromium (Debian ``chromium``; ``.ci/run`` installs it) driven by playwright's
Python API — playwright's own browser download cannot work offline. The report is built from
synthetic results (fast); the CLI's own end-to-end run is tested elsewhere. A full-page screenshot
is saved as ``test-artifacts/report.png``.
"""

from __future__ import annotations

import functools
import http.server
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
