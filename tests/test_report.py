"""The HTML report: files written, results.json contents, escaping, self-containment."""

from __future__ import annotations

import base64
import json
import re

import pytest
from matplotlib.figure import Figure

from kexue.experiments import Claim, Reference, Result, Table
from kexue.report import write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_results() -> list[Result]:
    """Two synthetic results: one passing with a figure and a table, one that raised."""
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [1, 4, 9])
    ok = Result(
        claims=[
            Claim("gap <= log(n)/k", "<= 0.0461", 0.03125, "<= bound", True),
            Claim("slope of log gap vs log k is -1 <script>alert(1)</script>",
                  -1.0, -0.9987, "±0.05", True),
        ],
        tables=[Table("gap by k", ["k", "gap"], [[1, 0.5], [10, 0.05]])],
        figures={"gap": fig},
        notes="measured over 1000 vectors",
        name="alpha-exp",
        title="Alpha experiment",
        article="Article A",
        article_url="https://kexue.fm/archives/1",
        references=[Reference("Article A on kexue.fm", "https://kexue.fm/archives/1"),
                    Reference("bad link", "javascript:alert(1)")],
        config={"n": 100, "ks": (1.0, 10.0), "method": "euler", "seed": 3},
        seed=3,
        quick=True,
        runtime_s=1.25,
    )
    failed = Result(
        status="failed",
        error="RuntimeError: solver diverged",
        notes='Traceback (most recent call last):\n  File "x.py", line 1\nRuntimeError: solver',
        name="beta-exp",
        title="Beta experiment",
        article="Article B",
        article_url="https://kexue.fm/archives/2",
        config={"seed": 0},
        seed=0,
        runtime_s=0.5,
    )
    return [ok, failed]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    meta = {"command": "kexue reproduce --quick", "quick": True, "seed": None,
            "total_runtime_s": 1.75, "machine": "test-box"}
    index = write_report(make_results(), out, meta=meta)
    return out, index, index.read_text(encoding="utf-8")


def test_files_written(report):
    out, index, _ = report
    assert index == out / "index.html"
    assert (out / "results.json").is_file()
    png = out / "alpha-exp-gap.png"
    assert png.read_bytes().startswith(PNG_MAGIC)
    assert sorted(p.name for p in out.glob("*.png")) == ["alpha-exp-gap.png"]


def test_results_json_round_trips(report):
    out, _, _ = report
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(data) == {"kexue_version", "generated", "meta", "summary", "experiments"}
    assert data["summary"]["n"] == 2
    assert data["summary"]["passed"] == 1
    assert data["summary"]["failed"] == 1
    assert data["summary"]["errors"] == 1
    assert data["summary"]["claims"] == 2 and data["summary"]["claims_passed"] == 2
    assert data["meta"]["machine"] == "test-box" and data["meta"]["seed"] is None
    alpha, beta = data["experiments"]
    assert alpha["name"] == "alpha-exp" and alpha["passed"] is True
    assert alpha["claims"][0]["obtained"] == 0.03125
    assert alpha["claims"][0]["expected"] == "<= 0.0461"
    assert alpha["claims"][1]["expected"] == -1.0
    assert alpha["figures"] == {"gap": "alpha-exp-gap.png"}
    assert alpha["tables"][0]["rows"] == [[1, 0.5], [10, 0.05]]
    assert alpha["config"]["ks"] == [1.0, 10.0]
    assert beta["status"] == "failed" and beta["passed"] is False
    assert beta["error"] == "RuntimeError: solver diverged"


def test_html_has_sections_claims_and_summary_rows(report):
    _, _, html = report
    assert "<title>kexue — reproduced results</title>" in html
    for name in ("alpha-exp", "beta-exp"):
        assert len(re.findall(rf'<tr class="summary-row[^"]*" data-experiment="{name}"', html)) == 1
        assert f'id="exp-{name}"' in html and f'href="#exp-{name}"' in html
    assert html.count('class="summary-row') == 2
    assert "gap &lt;= log(n)/k" in html
    assert "0.03125" in html and "-0.9987" in html
    assert "Article A" in html and "Article B" in html
    assert "gap by k" in html
    assert "kexue reproduce --quick" in html and "test-box" in html


def test_failed_experiment_is_marked(report):
    _, _, html = report
    section = html[html.index('id="exp-beta-exp"'):]
    section = section[: section.index("</article>")]
    assert 'class="badge badge-failed">failed<' in section
    assert "RuntimeError: solver diverged" in section
    assert "<details>" in section and "Traceback (most recent call last)" in section
    # the passing one is marked passed
    alpha = html[html.index('id="exp-alpha-exp"'):]
    assert 'class="badge badge-passed">passed<' in alpha[: alpha.index("</article>")]


def test_html_is_escaped(report):
    _, _, html = report
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html


def test_html_is_self_contained(report):
    out, _, html = report
    assert "<script src=" not in html and "<script" not in html
    assert not re.search(r"<link[^>]+href=[\"']?https?:", html)
    assert "@import" not in html and "url(http" not in html
    srcs = re.findall(r'\bsrc="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    # the embedded image is the PNG written beside the page
    embedded = base64.b64decode(srcs[0].split(",", 1)[1])
    assert embedded == (out / "alpha-exp-gap.png").read_bytes()
    # the only absolute links are the article / reference links
    hrefs = re.findall(r'\bhref="(https?:[^"]*)"', html)
    assert set(hrefs) == {"https://kexue.fm/archives/1", "https://kexue.fm/archives/2"}


def test_custom_title_and_empty_results(tmp_path):
    index = write_report([], tmp_path / "nested" / "out", title="My <run>")
    html = index.read_text(encoding="utf-8")
    assert "<title>My &lt;run&gt;</title>" in html
    data = json.loads((index.parent / "results.json").read_text(encoding="utf-8"))
    assert data["summary"] == {"n": 0, "passed": 0, "failed": 0, "errors": 0,
                               "claims": 0, "claims_passed": 0, "claims_unchecked": 0}
    assert data["meta"] == {} and data["experiments"] == []


def test_bad_figure_is_reported_not_fatal(tmp_path):
    class Broken:
        def savefig(self, *args, **kwargs):
            raise ValueError("cannot draw")

    r = Result(name="gamma", figures={"bad": Broken()}, claims=[Claim("x", 1, 1, "exact", True)])
    index = write_report([r], tmp_path)
    assert "figure &#39;bad&#39; could not be saved: ValueError: cannot draw" in index.read_text()
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["experiments"][0]["figures"] == {}


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(TypeError, match=r"results\[0\] is a dict"):
        write_report([{"name": "x"}], tmp_path)
    with pytest.raises(TypeError, match="meta must be a mapping"):
        write_report([], tmp_path, meta=["command"])


def test_results_json_is_strict_json(tmp_path):
    r = Result(name="delta", claims=[Claim("diverges", 1.0, float("nan"), "exact", False)])
    write_report([r], tmp_path, meta={"total_runtime_s": float("inf"), "path": tmp_path})
    text = (tmp_path / "results.json").read_text(encoding="utf-8")
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert data["experiments"][0]["claims"][0]["obtained"] == "nan"
    assert data["meta"] == {"total_runtime_s": "inf", "path": str(tmp_path)}


def test_device_and_processes_are_recorded(tmp_path):
    """Each experiment's device in words, and the number of processes when more than one."""
    one = Result(name="solo", device="cpu (2 threads)", claims=[Claim("x", 1, 1, "exact", True)])
    many = Result(name="pair", device="cuda:0 (NVIDIA H100 80GB HBM3)", processes=4,
                  claims=[Claim("x", 1, 1, "exact", True)])
    index = write_report([one, many], tmp_path, meta={"processes": 4})
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    solo, pair = data["experiments"]
    assert (solo["device"], solo["processes"]) == ("cpu (2 threads)", 1)
    assert (pair["device"], pair["processes"]) == ("cuda:0 (NVIDIA H100 80GB HBM3)", 4)
    assert data["meta"]["processes"] == 4
    html = index.read_text(encoding="utf-8")

    def facts(name):
        section = html[html.index(f'id="exp-{name}"'):]
        return section[: section.index("</ul>")]

    assert "<span>device</span> cpu (2 threads)" in facts("solo")
    assert "<span>processes</span>" not in facts("solo")
    assert "<span>device</span> cuda:0 (NVIDIA H100 80GB HBM3)" in facts("pair")
    assert "<span>processes</span> 4" in facts("pair")


def test_a_claim_not_checked_is_shown_so_and_does_not_count(tmp_path):
    """Claim(checked=False): the run passes on its checked claims, the page shows "not checked"
    and the scoreboard counts only checked claims."""
    import json

    from kexue.experiments import Claim, Result
    from kexue.report import write_report

    r = Result(claims=[Claim("a", 1, 1, "exact", True),
                       Claim("b", 1, 2, "exact", False, checked=False)], name="x", title="x")
    assert r.passed
    assert not Result(claims=[Claim("b", 1, 2, "exact", False)]).passed
    index = write_report([r], tmp_path)
    html = index.read_text()
    assert "not checked" in html and "badge-unchecked" in html
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["summary"]["claims"] == 1 and data["summary"]["claims_passed"] == 1
    assert data["summary"]["claims_unchecked"] == 1 and data["summary"]["passed"] == 1
    assert [c["checked"] for c in data["experiments"][0]["claims"]] == [True, False]
