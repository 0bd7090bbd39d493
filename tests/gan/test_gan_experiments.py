"""The two kexue.gan experiments run end to end on tiny configs and report honestly."""

import dataclasses

from matplotlib.figure import Figure

from kexue.experiments import bigan_qp_digits, ganqp_toy


def test_ganqp_toy_tiny():
    cfg = dataclasses.replace(ganqp_toy.Config(), steps=4, batch_size=16, hidden=8, depth=1,
                              snapshots=2, n_eval=200, n_seeds=2, calib_steps=2, eval_every=2)
    res = ganqp_toy.run(cfg)
    assert {"scatter-ring8", "scatter-grid25"} <= set(res.figures)
    assert all(isinstance(f, Figure) for f in res.figures.values())
    assert len(res.tables[0].rows) == 6
    # 4 steps learn nothing: the coverage claims must not pass vacuously
    cov = [c for c in res.claims if "covers every mode" in c.statement]
    assert len(cov) == 2 and not any(c.passed for c in cov)
    assert ganqp_toy.EXPERIMENT.section == "kexue.gan"


def test_bigan_qp_digits_tiny():
    cfg = dataclasses.replace(bigan_qp_digits.Config(), steps=3, hidden=8, depth=1,
                              batch_size=16, ablations=("no-sg", "beta1=0", "beta2=0"))
    res = bigan_qp_digits.run(cfg)
    assert set(res.figures) == {"main", "ablations"}
    names = [r[0] for r in res.tables[0].rows]
    assert names == ["BiGAN-QP", "no-sg", "beta1=0", "beta2=0"]
    assert len(res.claims) == 4
    assert bigan_qp_digits.EXPERIMENT.section == "kexue.gan"
