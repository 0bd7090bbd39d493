"""The range-check helpers behind every Config's ``validate()`` (closed cases), and the quick-mode
claim checking of vat-digits and bigan-qp-digits (the issue's thresholds kept, "not checked"
where a short run cannot decide, margins with strict inequalities) asserted on tiny runs.
"""

from __future__ import annotations

import dataclasses

import pytest

from kexue.experiments import ConfigError, resolve_config
from kexue.experiments import _config_checks as cc


def test_config_checks_helpers():
    @dataclasses.dataclass
    class C:
        a: float = 1.0
        n: int = 3
        t: tuple = (1, 2)
        flag: bool = True

    c = C()
    cc.positive(c, "x", ("a",))
    cc.at_least(c, "x", ("n",), 3)
    assert cc.tuple_values(c, "x", "t", min_len=2, integer=True, distinct=True) == (1, 2)
    for bad, call in [
        (C(a=float("nan")), lambda c: cc.positive(c, "x", ("a",))),
        (C(a=0.0), lambda c: cc.positive(c, "x", ("a",))),
        (C(a=-1e-9), lambda c: cc.non_negative(c, "x", ("a",))),
        (C(n=2), lambda c: cc.at_least(c, "x", ("n",), 3)),
        (C(n=True), lambda c: cc.at_least(c, "x", ("n",), 1)),  # a bool is not a count
        (C(a=1.0), lambda c: cc.probability(c, "x", ("a",))),
        (C(t=(1, 1)), lambda c: cc.tuple_values(c, "x", "t", distinct=True)),
        (C(t=(1.5, 2)), lambda c: cc.tuple_values(c, "x", "t", integer=True)),
        (C(t=()), lambda c: cc.tuple_values(c, "x", "t")),
        (C(t=(0, 1)), lambda c: cc.tuple_values(c, "x", "t")),
    ]:
        with pytest.raises(ConfigError, match="out of range"):
            call(bad)
    cc.tuple_values(C(t=(0, 1)), "x", "t", kind="non-negative")
    cc.tuple_values(C(t=(-1.0, 1.0)), "x", "t", kind="finite")


@pytest.mark.slow  # ~5 s CPU: two tiny training seeds of six methods
def test_vat_digits_quick_checks_the_issue_goal_or_marks_it_not_checked():
    from kexue.experiments import vat_digits as m

    spec = m.EXPERIMENT
    assert "goal_ratio" not in spec.quick  # the quick preset keeps the issue's 0.5
    assert resolve_config(spec, quick=True).goal_ratio == 0.5
    tiny = dict(labels_per_class=4, val_per_class=2, hidden=16, iterations=10,
                unlabelled_batch=16, eps_grid=(1.0,), sigma_grid=(0.4,), gp_sigma_grid=(0.4,),
                n_seeds=2, curve_every=10, n_diagnostic=4)
    res = m.run(dataclasses.replace(m.Config(), **tiny, check_all_claims=False))
    goal = res.claims[0]
    assert goal.statement.startswith("VAT test error ≤ 0.5 ×") and not goal.checked
    assert goal.verdict == "not checked" and "Not checked in this short run" in res.notes
    # the paired claims carry their SE and hold only above 2 SE (strict)
    noise, fgm = res.claims[1], res.claims[2]
    assert "2 SE" in noise.tolerance and "SE" in fgm.expected
    assert all(c.checked for c in res.claims[1:])
    one = m.run(dataclasses.replace(m.Config(), **{**tiny, "n_seeds": 1}))
    assert not one.claims[1].passed and not one.claims[2].passed  # no SE from one seed


@pytest.mark.slow  # ~8 s CPU: two tiny GANs and the scikit-learn fits
def test_bigan_qp_digits_beta2_claim_not_checked_without_its_ablation():
    from kexue.experiments import bigan_qp_digits as m

    cfg = dataclasses.replace(m.Config(), steps=2, hidden=8, depth=1, batch_size=16,
                              ablations=("no-sg",))
    res = m.run(cfg)
    assert len(res.claims) == 4
    b2 = res.claims[3]
    assert b2.statement.startswith("the image-reconstruction term") and not b2.checked
    assert "β2 claim" in res.notes
    probe, tv = res.claims[1], res.claims[2]
    for c in (probe, tv):  # margins: SE stated, difference must exceed 2 SE
        se = float(c.expected.split("(SE ")[1].rstrip(")"))
        assert c.passed == (c.obtained > 2 * se)
