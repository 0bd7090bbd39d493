"""The feynman-catalogue experiment: the SymPy probe under a time limit, and a quick run."""

import pytest

from kexue.experiments import run_experiment
from kexue.experiments._base import resolve_config
from kexue.experiments.feynman_catalogue import EXPERIMENT, _probe
from kexue.integrals import CATALOGUE


@pytest.mark.slow  # spawns SymPy subprocesses (the report's probe); out of the default run
def test_sympy_probe_solves_an_easy_one_and_times_out_cleanly():
    status, seconds, result = _probe(CATALOGUE["F1"], timeout=60)
    assert status == "solved" and "log" in result
    status, seconds, _ = _probe(CATALOGUE["F11"], timeout=0.5)  # SymPy needs ≫ 0.5 s here
    assert status == "timeout" and seconds == 0.5


@pytest.mark.slow
def test_feynman_catalogue_quick_run_passes():
    res = run_experiment(EXPERIMENT, resolve_config(EXPERIMENT, quick=True), quick=True)
    assert res.status == "ok", res.error
    assert res.passed, [c.statement for c in res.claims if not c.passed]
    assert EXPERIMENT.section == "kexue.integrals" and "digits" in res.figures
    assert len(res.tables[0].rows) == len(CATALOGUE) == 24
