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
                               "claims": 0, "claims_passed": 0, "claims_unchecked": 0,
                               "claims_not_reproduced": 0}
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


# ---------------------------------------------------------------------------------------------
# known findings: "not reproduced — see notes"


def _finding_spec(**known):
    from dataclasses import dataclass

    from kexue.experiments import Experiment

    @dataclass
    class Cfg:
        seed: int = 0

    def run(cfg):
        return Result(claims=[Claim("holds", 1, 1, "exact", True),
                              Claim("soft F1 beats BCE (p = 0.3)", "> 0", -0.01, "p < 0.05",
                                    False),
                              Claim("new bug", 1, 2, "exact", False)],
                      notes="soft F1 does not beat BCE here")

    return Experiment(name="finding-exp", title="t", article="Article F", article_url="",
                      claim="c", config=Cfg, run=run, known_findings=known)


def test_a_known_finding_is_not_reproduced_and_a_new_failure_still_fails():
    from kexue.experiments import Experiment

    spec = _finding_spec(**{"soft F1 beats BCE": "the paired test finds no gain: see notes",
                            "new bug": "excused"})
    r = spec.mark_findings(spec.run(spec.config()))
    assert [c.verdict for c in r.claims] == ["pass", "not reproduced", "not reproduced"]
    assert r.claims[1].finding == "the paired test finds no gain: see notes"
    assert r.passed
    # only the list excuses: the same run against a spec that lists one finding fails
    spec1 = _finding_spec(**{"soft F1 beats BCE": "no gain"})
    r1 = spec1.mark_findings(spec1.run(spec1.config()))
    assert [c.verdict for c in r1.claims] == ["pass", "not reproduced", "fail"]
    assert not r1.passed
    # a finding written on a claim but absent from the run's list does not excuse it
    forged = Result(claims=[Claim("x", 1, 2, "exact", False, finding="trust me")])
    assert forged.claims[0].verdict == "not reproduced" and not forged.passed
    # a claim that holds is never marked, and marking twice changes nothing
    assert spec.mark_findings(r).claims[0].finding == ""
    with pytest.raises(TypeError, match="known_findings"):
        Experiment(name="bad", title="t", article="a", article_url="", claim="c",
                   config=spec.config, run=spec.run, known_findings={"": "why"})


def test_runner_marks_known_findings():
    """run_experiment applies the spec's known_findings (one source of truth)."""
    from kexue.experiments import resolve_config, run_experiment

    spec = _finding_spec(**{"soft F1 beats BCE": "no gain"})
    r = run_experiment(spec, resolve_config(spec, quick=True), quick=True)
    assert [c.verdict for c in r.claims] == ["pass", "not reproduced", "fail"]
    assert r.known_findings == {"soft F1 beats BCE": "no gain"}


def test_report_shows_not_reproduced_apart_from_failures(tmp_path):
    spec = _finding_spec(**{"soft F1 beats BCE": "no gain over BCE: see notes",
                            "new bug": "excused"})
    r = spec.mark_findings(spec.run(spec.config()))
    r.name = "finding-exp"
    ok = Result(name="plain", claims=[Claim("y", 1, 1, "exact", True)])
    index = write_report([r, ok], tmp_path, full_runs=None)
    html = index.read_text(encoding="utf-8")
    assert html.count('badge-notrepro"') == 4  # summary + card, 2 claims each
    assert 'title="no gain over BCE: see notes"' in html
    assert "Known findings" in html and "claims of the articles not reproduced" in html
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    s = data["summary"]
    assert (s["n"], s["passed"], s["failed"], s["claims"], s["claims_passed"],
            s["claims_not_reproduced"]) == (2, 2, 0, 4, 2, 2)
    claims = data["experiments"][0]["claims"]
    assert [c["verdict"] for c in claims] == ["pass", "not reproduced", "not reproduced"]
    assert data["experiments"][0]["known_findings"]["new bug"] == "excused"
    card = html[html.index('id="exp-finding-exp"'):]
    assert "passed, 2 not reproduced" in card[: card.index("</header>")]


# ---------------------------------------------------------------------------------------------
# stored full runs: "last full run"


def _stored(tmp_path, name="alpha-exp", **extra):
    d = tmp_path / "full"
    d.mkdir(exist_ok=True)
    result = {"name": name, "runtime_s": 1234.5, "claims": [
        {"statement": "gap <= log(n)/k", "expected": "<= 0.0461", "obtained": 0.0301,
         "expected_text": "<= 0.0461", "obtained_text": "0.0301", "tolerance": "<= bound",
         "passed": True},
        {"statement": "soft F1 beats BCE", "expected": "> 0", "obtained": -0.002,
         "expected_text": "> 0", "obtained_text": "-0.002", "tolerance": "p < 0.05",
         "passed": False, "checked": True},
        {"statement": "a real miss", "expected": 1, "obtained": 3, "expected_text": "1",
         "obtained_text": "3", "tolerance": "exact", "passed": False}]}
    record = {"experiment": name, "preset": "full", "command": f"kexue reproduce {name}",
              "commit": "abc1234", "date": "2026-12-01", "machine": "test machine 77",
              "training_runtime": "20 min 34 s", "result": result, **extra}
    (d / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    return d


def test_last_full_run_is_shown_from_the_stored_json(tmp_path):
    results = make_results()
    results[0].known_findings = {"soft F1 beats BCE": "no gain"}
    index = write_report(results, tmp_path / "out", full_runs=_stored(tmp_path))
    html = index.read_text(encoding="utf-8")
    alpha = html[html.index('id="exp-alpha-exp"'):]
    alpha = alpha[: alpha.index("</article>")]
    assert "Last full run" in alpha and 'id="exp-alpha-exp-full"' in alpha
    for text in ("2026-12-01", "abc1234", "test machine 77", "20 min 34 s", "1/3 hold",
                 "1 not reproduced", "a real miss", "kexue reproduce alpha-exp"):
        assert text in alpha, text
    assert 'href="#exp-alpha-exp-full"' in html  # the summary links to it
    beta = html[html.index('id="exp-beta-exp"'):]
    assert "Last full run" not in beta[: beta.index("</article>")]  # none stored: nothing said
    data = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    full = data["experiments"][0]["last_full_run"]
    assert (full["date"], full["commit"], full["machine"]) == ("2026-12-01", "abc1234",
                                                               "test machine 77")
    assert [c["verdict"] for c in full["claims"]] == ["pass", "not reproduced", "fail"]
    assert data["experiments"][1]["last_full_run"] is None


def test_no_stored_runs_and_a_broken_one(tmp_path):
    html = write_report(make_results(), tmp_path / "a", full_runs=None).read_text()
    assert "Last full run" not in html
    d = tmp_path / "full"
    d.mkdir()
    (d / "alpha-exp.json").write_text("{not json", encoding="utf-8")
    html = write_report(make_results(), tmp_path / "b", full_runs=d).read_text()
    assert "stored full run alpha-exp.json cannot be read" in html


def test_full_runs_dir_is_found_in_the_checkout_and_by_env(tmp_path, monkeypatch):
    from pathlib import Path

    from kexue.report._stored import full_runs_dir

    monkeypatch.delenv("KEXUE_FULL_RUNS", raising=False)
    checkout = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "full"
    assert full_runs_dir() == (checkout if checkout.is_dir() else None)
    monkeypatch.setenv("KEXUE_FULL_RUNS", str(tmp_path))
    assert full_runs_dir() == tmp_path
    monkeypatch.setenv("KEXUE_FULL_RUNS", str(tmp_path / "absent"))
    assert full_runs_dir() is None


def test_store_full_run_round_trips_into_the_report(tmp_path):
    from kexue.report._stored import load_full_run, store_full_run

    full = Result(name="alpha-exp", quick=False, runtime_s=3600.0, device="cpu (1 thread)",
                  claims=[Claim("gap <= log(n)/k", "<= 0.0461", 0.0299, "<= bound", True),
                          Claim("a real miss", 1, 3, "exact", False)])
    path = store_full_run(full, tmp_path / "full", command="kexue reproduce alpha-exp",
                          commit="feed123", machine="box 9")
    assert path == tmp_path / "full" / "alpha-exp.json"
    record = load_full_run("alpha-exp", tmp_path / "full")
    assert (record["experiment"], record["preset"], record["commit"], record["machine"],
            record["training_runtime"]) == ("alpha-exp", "full", "feed123", "box 9", "3600 s")
    assert record["result"]["claims"][1]["obtained"] == 3
    html = write_report(make_results(), tmp_path / "out",
                        full_runs=tmp_path / "full").read_text(encoding="utf-8")
    assert "feed123" in html and "box 9" in html and "1/2 hold" in html
    with pytest.raises(ValueError, match="without --quick"):
        store_full_run(make_results()[0], tmp_path / "full", command="x")  # a quick run
    with pytest.raises(TypeError, match="kexue Result"):
        store_full_run({"name": "x"}, tmp_path / "full", command="x")
