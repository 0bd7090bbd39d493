"""The claims themselves: experiments' quick presets run, and every checked claim holds.

A claim may miss only when it is on its experiment's ``known_findings`` list
(:attr:`kexue.experiments.Experiment.known_findings`): an article's claim that honestly does not
reproduce here. That list is the one source of truth: the report shows those claims as
"not reproduced — see notes" and ``Result.passed`` excuses them; this module expects them. Any
other missed claim fails the test, and a list entry that matches no claim of the run fails too
(a renamed claim must not silently drop off the list).

Two tiers:

* default (``make test``): each experiment that no other test runs, at its default seed; those
  over ~20 s of CPU are marked ``slow``;
* ``slow`` (``make test-all``): every registered experiment's quick preset at seeds 0, 1, 2.
"""

from __future__ import annotations

import pytest

from kexue.experiments import get, registry, resolve_config, run_experiment
from kexue.experiments._base import finding_for

# Experiments no other test runs (issue 17). Each entry: (name, slow?) — slow when its quick
# preset takes well over ~20 s of CPU. Measured (CPU s, one thread, 2026-12-07): the five
# thesis-* 3–6 each, 16 together; diffusion-samplers 14.5, diffusion-likelihood 12.3.
UNTESTED_ELSEWHERE = [
    ("thesis-walk-limit", False),
    ("thesis-four-ways", False),
    ("thesis-strong-order", False),
    ("thesis-first-passage", False),
    ("thesis-stock", False),
    ("diffusion-samplers", False),
    ("diffusion-likelihood", False),
]

SEEDS = (0, 1, 2)


def expected_not_reproduced(name: str) -> dict[str, str]:
    """The claims of experiment ``name`` allowed to miss (statement prefix -> why)."""
    return dict(get(name).known_findings)


def check_claims(name: str, seed: int | None) -> None:
    """Run ``name``'s quick preset (at ``seed``, or its default) and assert its claims."""
    spec = get(name)
    result = run_experiment(spec, resolve_config(spec, quick=True, seed=seed), quick=True)
    assert result.status == "ok", f"{name} raised: {result.error}\n{result.notes}"
    assert result.claims, f"{name} made no claims"
    known = expected_not_reproduced(name)
    missed = [c for c in result.claims
              if c.checked and not c.passed and not finding_for(c.statement, known)]
    assert not missed, f"{name} (seed {result.seed}) missed claims not on its known_findings: " \
        + "; ".join(f"{c.statement!r}: expected {c.expected!r}, obtained {c.obtained!r}"
                    for c in missed)
    stale = [p for p in known if not any(c.statement.startswith(p) for c in result.claims)]
    assert not stale, f"{name}: known_findings entries that match no claim: {stale}"
    # the verdicts the report shows agree with the list
    spec.mark_findings(result)
    assert result.passed
    for c in result.claims:
        if c.checked and not c.passed:
            assert c.verdict == "not reproduced", c.statement


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=[pytest.mark.slow] if slow else [])
    for name, slow in UNTESTED_ELSEWHERE
])
def test_quick_preset_claims_hold_at_the_default_seed(name):
    check_claims(name, None)


def _all_names() -> list[str]:
    return list(registry())


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", _all_names())
def test_every_quick_preset_claims_hold_at_three_seeds(name, seed):
    check_claims(name, seed)


def test_the_untested_list_names_registered_experiments():
    assert {n for n, _ in UNTESTED_ELSEWHERE} <= set(registry())
