"""The smooth-f1, noise-vs-penalty and vat-digits experiments on tiny configs: they run, follow
the protocol, are deterministic, restore torch's thread count, and vat-digits resumes from its
checkpoints."""

import dataclasses

import pytest
import torch

from kexue.experiments import Result, noise_vs_penalty, smooth_f1, vat_digits

TINY = {
    smooth_f1: {"n_seeds": 3, "bce_steps": 20, "f1_steps": 20},
    noise_vs_penalty: {"n_train": 60, "n_test": 30, "hidden": 8, "fit_steps": 100,
                       "n_draws": 8, "sigmas": (0.4, 0.2, 0.1), "train_sigmas": (0.1,),
                       "train_steps": 20, "var_reps": 20},
    vat_digits: {"labels_per_class": 4, "val_per_class": 2, "hidden": 32, "iterations": 20,
                 "unlabelled_batch": 16, "eps_grid": (1.0,), "sigma_grid": (0.4,),
                 "gp_sigma_grid": (0.4,), "n_seeds": 2, "curve_every": 10, "n_diagnostic": 8},
}


@pytest.mark.parametrize("module", list(TINY), ids=lambda m: m.EXPERIMENT.name)
def test_tiny_run_is_deterministic_and_follows_the_protocol(module):
    spec = module.EXPERIMENT
    assert spec.section == ("kexue.smooth" if module is smooth_f1 else "kexue.regularize")
    assert set(spec.quick) <= {f.name for f in dataclasses.fields(spec.config)}
    cfg = dataclasses.replace(spec.config(), **TINY[module])
    threads = torch.get_num_threads()
    a, b = spec.run(cfg), spec.run(cfg)
    assert torch.get_num_threads() == threads
    assert isinstance(a, Result) and a.claims and a.tables and a.figures and a.notes
    assert [c.obtained for c in a.claims] == [c.obtained for c in b.claims]
    for fig in a.figures.values():
        assert type(fig).__name__ == "Figure" and fig.axes


def test_vat_digits_resumes_from_checkpoints(tmp_path, monkeypatch):
    cfg = dataclasses.replace(vat_digits.Config(), **TINY[vat_digits],
                              checkpoint_dir=str(tmp_path))
    first = vat_digits.run(cfg)
    saved = sorted(p.name for p in tmp_path.iterdir())
    # 2 seeds × (6 final runs + 4 validation runs, one grid value per tuned method)
    assert len(saved) == 2 * 6 + 2 * 4
    calls = []
    original = vat_digits._train

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(vat_digits, "_train", counting)
    second = vat_digits.run(cfg)
    assert calls == ["vat"]  # only the seed-0 VAT model, retrained for the float32 diagnostic
    assert [c.obtained for c in first.claims] == [c.obtained for c in second.claims]
    # a different config does not reuse the stored runs
    calls.clear()
    vat_digits.run(dataclasses.replace(cfg, lr=2e-3, n_seeds=1))
    assert len(calls) == 4 + 6
