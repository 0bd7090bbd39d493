"""The lazy CLI (issue 15): ``kexue --help``, ``kexue <group> --help`` and ``kexue list`` import
neither torch nor sympy nor matplotlib; ``kexue list --json``; choice options with "did you
mean"; shell completion without importing the groups."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kexue import experiments
from kexue.cli import GROUPS, app
from kexue.cli._errors import check_choice, did_you_mean
from kexue.experiments import Experiment, Result
from kexue.experiments._listing import LISTING_FIELDS, _row, _row_from_source

runner = CliRunner()
HEAVY = ("torch", "sympy", "matplotlib", "mpmath", "scipy")

# Runs `kexue ARGS` in a fresh interpreter and reports which heavy modules it imported.
_PROBE = """
import sys
from kexue.cli import main
sys.argv = ["kexue", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("HEAVY=" + ",".join(m for m in HEAVY_NAMES if m in sys.modules), file=sys.stderr)
""".replace("HEAVY_NAMES", repr(HEAVY))


def _probe(*args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200", **(env or {})})
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")]
    assert len(line) == 1, proc.stderr
    return proc, [m for m in line[0][len("HEAVY="):].split(",") if m]


@pytest.mark.parametrize("args", [
    ["--help"], [], ["list"], ["list", "--json"], ["--version"],
    ["sde", "--help"], ["sde", "simulate", "--help"], ["sde", "density", "--help"],
    ["diffusion", "--help"], ["diffusion", "train", "--help"], ["diffusion", "sample", "--help"],
    ["gan", "--help"], ["gan", "train", "--help"],
    ["onlstm", "--help"], ["onlstm", "train", "--help"],
    ["integrals", "--help"], ["integrals", "verify", "--help"],
], ids=lambda a: " ".join(a) or "(no args)")
def test_help_and_list_import_no_heavy_module(args):
    proc, heavy = _probe(*args)
    assert heavy == [], (args, heavy)
    if args and args[-1] == "--help":
        assert proc.stdout.startswith("Usage: kexue"), proc.stdout


def test_the_probe_sees_a_heavy_import():
    """The check above can fail: a command that needs torch shows it."""
    _, heavy = _probe("diffusion", "train", "--device", "nope")
    assert "torch" in heavy


def test_first_word_completion_imports_no_group():
    proc, heavy = _probe(env={"_KEXUE_COMPLETE": "complete_bash", "COMP_WORDS": "kexue di",
                              "COMP_CWORD": "1"})
    assert proc.stdout.split() == ["diffusion"]
    assert heavy == []


def test_option_completion_lists_the_choices():
    proc, _ = _probe(env={"_KEXUE_COMPLETE": "complete_bash",
                          "COMP_WORDS": "kexue diffusion train --sde ", "COMP_CWORD": "4"})
    assert proc.stdout.split() == ["vp", "subvp", "ve"]


def test_root_help_lists_every_group_with_its_own_help():
    res = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for name in ("list", "reproduce", *GROUPS):
        assert f"  {name} " in res.stdout
    assert "--install-completion" in res.stdout  # shell completion is on


@pytest.mark.parametrize("name", list(GROUPS))
def test_groups_table_matches_the_modules(name):
    import importlib

    module, help_text = GROUPS[name]
    assert importlib.import_module(module).app.info.help == help_text


@pytest.mark.parametrize("name", list(GROUPS))
def test_a_lazy_group_runs_its_commands(name):
    res = runner.invoke(app, [name, "--help"])
    assert res.exit_code == 0 and res.stdout.startswith(f"Usage: kexue {name}"), res.output
    assert "Commands:" in res.stdout


def test_mistyped_group_suggests_the_close_one():
    res = runner.invoke(app, ["difusion"])
    assert res.exit_code == 2
    assert "No such command 'difusion'. Did you mean 'diffusion'?" in res.output
    res = runner.invoke(app, ["zzz"])
    assert res.exit_code == 2 and "Did you mean" not in res.output and "gan" in res.output


def test_names_spelled_out_for_help_match_the_library():
    from kexue import devices
    from kexue.cli import _launch
    from kexue.cli import _sde as cli_sde
    from kexue.gan import DATASETS, MODELS
    from kexue.stochastic._solvers import METHODS

    assert _launch._DEVICE_CHOICES == devices.DEVICE_CHOICES
    assert cli_sde._METHOD_NAMES == tuple(METHODS)
    res = runner.invoke(app, ["gan", "train", "--help"], env={"COLUMNS": "200"})
    assert " | ".join(MODELS) in res.stdout
    assert "grid | ring | digits" in res.stdout
    assert sorted(DATASETS) == sorted(["grid", "ring", "digits"])


# ---------------------------------------------------------------------------------------------
# kexue list --json, and the listing read from the sources


def test_listing_from_sources_equals_the_registry(monkeypatch):
    monkeypatch.setattr(experiments, "_REGISTRY", None)
    from_source = experiments.listing()
    from_specs = [_row(spec) for spec in experiments.registry().values()]
    assert from_source == from_specs
    assert experiments.listing() == from_specs  # once loaded, the registry answers


def test_list_json_has_every_experiment_and_field():
    res = runner.invoke(app, ["list", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == list(experiments.registry())
    spec = experiments.get("smooth-max")
    row = next(r for r in rows if r["name"] == "smooth-max")
    assert list(row) == list(LISTING_FIELDS)
    assert row == {"name": spec.name, "title": spec.title, "article": spec.article,
                   "url": spec.article_url, "claim": spec.claim,
                   "quick_runtime_s": float(spec.quick_runtime_s), "section": spec.section}


def test_list_json_shows_a_monkeypatched_registry(monkeypatch):
    @dataclasses.dataclass
    class Config:
        seed: int = 0

    spec = Experiment(name="toy", title="T", article="A", article_url="https://kexue.fm/x",
                      claim="c", config=Config, run=lambda c: Result(), quick_runtime_s=3)
    monkeypatch.setattr(experiments, "_REGISTRY", {"toy": spec})
    rows = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    assert rows == [{"name": "toy", "title": "T", "article": "A", "url": "https://kexue.fm/x",
                     "claim": "c", "quick_runtime_s": 3.0, "section": ""}]


def test_row_from_source_literals_defaults_and_fallback(tmp_path: Path):
    src = tmp_path / "m.py"
    src.write_text('EXPERIMENT = Experiment(name="a", title="t", article="r", '
                   'article_url="u", claim="c " "d", config=Config, run=run)\n')
    assert _row_from_source(src) == {"name": "a", "title": "t", "article": "r", "url": "u",
                                     "claim": "c d", "quick_runtime_s": 10.0, "section": ""}
    src.write_text('EXPERIMENT = Experiment(name="a", title=TITLE, article="r", '
                   'article_url="u", claim="c", config=Config, run=run)\n')
    assert _row_from_source(src) is None  # an expression: the module is imported instead
    src.write_text("EXPERIMENT = make()\n")
    assert _row_from_source(src) is None


# ---------------------------------------------------------------------------------------------
# choices with "did you mean"


def test_did_you_mean():
    assert did_you_mean("eulr", ["euler", "milstein", "heun"]) == " (did you mean 'euler'?)"
    assert did_you_mean("HEUN", ["euler", "heun"]) == " (did you mean 'heun'?)"
    assert did_you_mean("zzz", ["euler", "heun"]) == ""


def test_check_choice_passes_a_valid_value_through():
    assert check_choice("--sde", "ve", ("vp", "ve")) == "ve"


def _one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("args,needles", [
    (["diffusion", "train", "--sde", "vpe"],
     ["--sde must be one of vp, subvp, ve; got 'vpe'", "did you mean 'vp' or 've'?"]),
    (["diffusion", "train", "--data", "rings"], ["got 'rings'", "did you mean 'ring'?"]),
    (["diffusion", "sample", "--ckpt", "x", "--method", "hune"],
     ["--method must be one of", "'hune'", "did you mean 'heun'?"]),
    (["sde", "simulate", "--drift", "-x", "--diffusion", "1", "--method", "eulr"],
     ["unknown method 'eulr'; accepted: euler, milstein", "(did you mean 'euler'?)"]),
    (["gan", "train", "--out", "unused", "--data", "rings"],
     ["unknown data 'rings'; accepted: ", "grid", "(did you mean 'ring'?)"]),
    (["gan", "train", "--out", "unused", "--model", "ganqp"],
     ["unknown model 'ganqp'; accepted: ", "sgan", "(did you mean 'gan-qp'"]),
    (["gan", "train", "--out", "unused", "--data", "zzz"],
     ["unknown data 'zzz'; accepted: ring, grid, digits"]),
])
def test_choice_typos_are_one_line_with_close_matches(args, needles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line_error(runner.invoke(app, args), *needles)
    assert not any(tmp_path.iterdir())  # nothing ran


def test_help_says_what_zero_means():
    res = runner.invoke(app, ["diffusion", "train", "--help"], env={"COLUMNS": "200"})
    text = " ".join(res.stdout.split())
    assert text.count("0: automatic") == 3, text  # --batch-size, --lr, --width


# A lean install (no `kexue[cli]` extra): typer or rich blocked in a fresh interpreter.
_LEAN = """
import sys
sys.modules[BLOCKED] = None  # `import BLOCKED` now raises ImportError
from kexue.cli import main
sys.argv = ["kexue", "--help"]
main()
"""


@pytest.mark.parametrize("blocked", ["typer", "rich"])
def test_main_without_the_cli_extra_prints_one_line_and_exits_2(blocked):
    code = _LEAN.replace("BLOCKED", repr(blocked))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == ("error: the kexue command line needs its extra: "
                           "pip install 'kexue[cli]'\n")


def test_importing_kexue_cli_needs_no_typer():
    """``import kexue.cli`` (the console script's module) loads typer only for ``main``/``app``."""
    code = ("import sys; sys.modules['typer'] = None; sys.modules['rich'] = None\n"
            "import kexue.cli\nprint(sorted(kexue.cli.__all__))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "main" in proc.stdout


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_old_group_module_paths_warn_and_still_work(group):
    """``kexue.cli_<group>`` (before the ``kexue.cli`` package) is a deprecated alias of
    ``kexue.cli._<group>``: the same module, with a DeprecationWarning."""
    import importlib

    sys.modules.pop(f"kexue.cli_{group}", None)
    with pytest.warns(DeprecationWarning, match=f"kexue.cli_{group} is deprecated"):
        old = importlib.import_module(f"kexue.cli_{group}")
    assert old is importlib.import_module(f"kexue.cli._{group}")
    assert old.app is importlib.import_module(GROUPS[group][0]).app


def test_an_unknown_experiment_is_refused_before_any_heavy_import():
    proc, heavy = _probe("reproduce", "smooth-mx")
    assert heavy == [], heavy
    assert "unknown experiment 'smooth-mx' (did you mean 'smooth-max'" in proc.stderr
