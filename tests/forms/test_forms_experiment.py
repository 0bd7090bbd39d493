"""The forms-stokes experiment (kexue.fm 4062): runs, passes, flags the counter-example."""

from kexue.experiments import run_experiment
from kexue.experiments._base import resolve_config
from kexue.experiments.forms_stokes import EXPERIMENT


def test_forms_stokes_small_run_passes():
    cfg = resolve_config(EXPERIMENT, quick=True, overrides={
        "n_det_trials": "20", "n_random_forms": "3", "convergence_nodes": "4,32"})
    res = run_experiment(EXPERIMENT, cfg, quick=True)
    assert res.status == "ok", res.error
    assert res.passed, [c.statement for c in res.claims if not c.passed]
    counter = [c for c in res.claims if c.statement.startswith("counter-example")]
    assert len(counter) == 1 and "hypothesis fails" in counter[0].obtained
    assert EXPERIMENT.section == "kexue.forms" and "stokes" in res.figures
    stokes_rows = res.tables[0].rows
    assert len(stokes_rows) == 10 and stokes_rows[-2][-1].startswith("hypothesis fails")
