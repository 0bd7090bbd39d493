"""Config validation, margins and quick-mode claim rules of helper G1's experiments (issues 16, 17).

Every Config here defines ``validate()``: its defaults (the full preset) and its quick preset pass,
and values out of range or breaking a relation raise ``ConfigError`` naming the field and the
allowed range. The margin helpers of :mod:`kexue.experiments._stats` are checked against closed
forms; the quick presets are checked to use the full preset's thresholds.
"""

from __future__ import annotations

import dataclasses
import importlib
import math

import numpy as np
import pytest

from kexue.experiments import ConfigError, resolve_config
from kexue.experiments import _stats as st

MODULES = ["diffusion_digits", "diffusion_likelihood", "diffusion_memorise", "diffusion_samplers",
           "diffusion_toy", "feynman_catalogue", "forms_stokes", "noise_kinds",
           "noise_vs_penalty", "onlstm_grammar", "onlstm_ptb",
           "smooth_max", "smooth_f1", "bigan_qp_digits", "vat_digits", "vat_mnist", "sde_fit",
           "thesis_walk_limit", "thesis_four_ways", "thesis_stock", "thesis_strong_order",
           "thesis_first_passage", "thesis_beyond"]


def _mod(name):
    return importlib.import_module(f"kexue.experiments.{name}")


def _cfg(name, **overrides):
    """The quick preset of ``name`` with ``overrides`` (as --set text), validated by whichever
    path runs first: ``resolve_config``'s hook when it exists, else ``validate`` directly."""
    cfg = resolve_config(_mod(name).EXPERIMENT, quick=True, overrides=overrides)
    cfg.validate()
    return cfg


@pytest.mark.parametrize("name", MODULES)
def test_full_and_quick_presets_validate(name):
    spec = _mod(name).EXPERIMENT
    assert callable(getattr(spec.config, "validate", None))
    for quick in (False, True):
        resolve_config(spec, quick=quick).validate()


# (module, field, bad value (as --set text), words the message must contain)
BAD = [
    ("diffusion_digits", "sdes", "vp,edm", "among vp, subvp, ve"),
    ("diffusion_digits", "warmup", "5000", "< steps"),
    ("diffusion_digits", "ema_decay", "1.0", "[0, 1)"),
    ("diffusion_digits", "n_samples", "1", "≥ 2"),
    ("diffusion_likelihood", "probes", "4", "at least 2"),
    ("diffusion_likelihood", "probes", "4,4", "pairwise different"),
    ("diffusion_likelihood", "t_end", "0", "(0, 1)"),
    ("diffusion_memorise", "conv_steps", "16,32", "at least 3"),
    ("diffusion_memorise", "conv_steps", "16,24,2000", "below conv_ref_steps"),
    ("diffusion_memorise", "interp_points", "2", "≥ 3"),
    ("diffusion_memorise", "ring_std", "-0.1", "> 0"),
    ("diffusion_samplers", "fixtures", "ring3d", "among ring2d, gmm16d"),
    ("diffusion_samplers", "nfes", "64,32", "increasing"),
    ("diffusion_samplers", "rk45_tols", "0", "> 0"),
    ("diffusion_toy", "datasets", "swiss", "among ring, moons"),
    ("diffusion_toy", "sde", "edm", "vp, subvp or ve"),
    ("diffusion_toy", "kde_points", "2", "[3, n_train"),
    ("diffusion_toy", "lr_schedule", "linear", "constant or cosine"),
    ("feynman_catalogue", "random_points", "0", "≥ 1"),
    ("feynman_catalogue", "sympy_timeout_s", "0", "> 0"),
    ("forms_stokes", "convergence_nodes", "8,4", "increasing"),
    ("forms_stokes", "kepler_samples_per_period", "6", "≥ 12"),
    ("forms_stokes", "tolerance", "0", "> 0"),
    ("noise_kinds", "n_seeds", "1", "≥ 2"),
    ("noise_kinds", "dropout_grid", "0.1,0.2,1.5", "(0, 1)"),
    ("noise_kinds", "dropout_grid", "0.1,0.2", "as long as every other"),
    ("noise_vs_penalty", "n_features", "3", "≥ 5"),
    ("noise_vs_penalty", "sigmas", "0.1", "at least 2"),
    ("noise_vs_penalty", "var_reps", "1", "≥ 2"),
    ("onlstm_grammar", "grammars", "klingon", "among english"),
    ("onlstm_grammar", "num_layers", "1", "≥ 2"),
    ("onlstm_grammar", "chunk_size", "7", "divisor of hidden_size"),
    ("onlstm_grammar", "ppl_tolerance", "0", "> 0"),
    ("onlstm_ptb", "dropout", "1.0", "[0, 1)"),
    ("onlstm_ptb", "clock", "sundial", "auto, wall or cpu"),
    ("onlstm_ptb", "pinned_steps", "5", "(onlstm_steps, lstm_steps)"),
    ("onlstm_ptb", "n_blocks", "1", "≥ 2"),
    ("smooth_max", "k_max", "0.1", "> k_min"),
    ("smooth_max", "n_values", "1,10", "≥ 2"),
    ("smooth_max", "spread", "0", "> 0"),
    ("smooth_max", "spread", "1.0", "k·spread < 1e-2"),
    ("smooth_max", "n_k", "1", "≥ 2"),
    ("smooth_f1", "n_seeds", "1", "≥ 2"),
    ("smooth_f1", "pos_fraction", "1.5", "(0, 1)"),
    ("smooth_f1", "test_fraction", "0.85", "1 − val_fraction"),
    ("smooth_f1", "alpha", "0", "(0, 1)"),
    ("bigan_qp_digits", "steps", "0", "≥ 1"),
    ("bigan_qp_digits", "ablations", "no-sg,beta3=0", "beta2=0"),
    ("bigan_qp_digits", "beta2", "-1", "≥ 0"),
    ("vat_digits", "labels_per_class", "3", "> val_per_class"),
    ("vat_digits", "eps_grid", "1.0,-2.0", "> 0"),
    ("vat_digits", "goal_ratio", "1.5", "(0, 1]"),
    ("vat_mnist", "val_per_class", "0", "≥ 1"),
    ("vat_mnist", "sigma_grid", "0", "> 0"),
    ("sde_fit", "obs_times", "0.5,0.25", "increasing"),
    ("sde_fit", "obs_times", "0.5,2.0", "T = 1"),
    ("sde_fit", "sigma", "0", "> 0"),
    ("sde_fit", "n_obs", "1", "≥ 2"),
    ("thesis_walk_limit", "ds_values", "0.04", "at least 2"),
    ("thesis_walk_limit", "ds_values", "0.04,0.04", "different"),
    ("thesis_walk_limit", "drift", "100", "[0, 1]"),
    ("thesis_walk_limit", "n_walkers", "10", "≥ 100"),
    ("thesis_four_ways", "walk_ds", "0.5", "[0, 1]"),
    ("thesis_four_ways", "tol_pi", "0", "> 0"),
    ("thesis_stock", "sigma", "-0.2", "> 0"),
    ("thesis_stock", "pde_points", "2", "≥ 3"),
    ("thesis_strong_order", "gbm_levels", "3,4,10", "below gbm_fine"),
    ("thesis_strong_order", "weak_levels", "2", "at least 2"),
    ("thesis_strong_order", "add_levels", "2,3,3", "different"),
    ("thesis_first_passage", "tc_levels", "4,5", "at least 3"),
    ("thesis_first_passage", "level", "0", "> 0"),
    ("thesis_first_passage", "v5_levels", "5,4", "increasing"),
    ("thesis_beyond", "dw_mc_alpha", "0.3", "one of dw_alphas"),
    ("thesis_beyond", "lams", "0.2", "at least 2"),
    ("thesis_beyond", "fp_sizes", "3,61", "≥ 5"),
]


@pytest.mark.parametrize("name,field,value,words", BAD,
                         ids=[f"{b[0]}-{b[1]}-{b[2]}" for b in BAD])
def test_out_of_range_values_are_refused_naming_the_field(name, field, value, words):
    with pytest.raises(ConfigError) as e:
        _cfg(name, **{field: value})
    msg = str(e.value)
    assert field in msg and words in msg, msg
    assert "--set" in msg  # says how to fix it


# ------------------------------------------------------------------ quick presets: same claims
def test_quick_presets_keep_the_full_thresholds():
    # onlstm-grammar's perplexity tolerance and goal margin, diffusion-likelihood's SDEs
    g = _mod("onlstm_grammar").EXPERIMENT
    assert "ppl_tolerance" not in g.quick and "goal_margin" not in g.quick
    lk = _mod("diffusion_likelihood").EXPERIMENT
    assert set(resolve_config(lk, quick=True).sdes) == set(lk.config().sdes)
    # noise-vs-penalty trains at the full preset's first and middle σ (the claims' σ)
    nv = _mod("noise_vs_penalty").EXPERIMENT
    full, quick = nv.config().train_sigmas, resolve_config(nv, quick=True).train_sigmas
    assert quick[0] == full[0] and quick[len(quick) // 2] == full[len(full) // 2]
    # diffusion-digits' sub-VP ordering is marked not checked in quick mode, not loosened
    dd = _mod("diffusion_digits").EXPERIMENT
    assert dd.config().check_likelihood_order
    assert not resolve_config(dd, quick=True).check_likelihood_order


# ------------------------------------------------------------------ margin helpers (closed forms)
def test_paired_diff_is_the_mean_and_se_of_the_differences():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = a + np.array([0.5, 1.5, 0.5, 1.5])  # differences 1 ± ½: mean 1, sd √(1/3)
    mean, se = st.paired_diff(a, b)
    d = b - a
    assert mean == pytest.approx(1.0, abs=1e-15)
    assert se == pytest.approx(d.std(ddof=1) / 2.0, abs=1e-15)
    assert se == pytest.approx(math.sqrt(1 / 3) / 2, abs=1e-15)  # sd of (±½) = √(1/3)
    # pairing removes the shared part: a large common offset leaves the SE unchanged
    assert st.paired_diff(a + 1e6 * np.arange(4), b + 1e6 * np.arange(4))[1] == pytest.approx(se)


def test_paired_diff_takes_tensors_and_refuses_bad_input():
    torch = pytest.importorskip("torch")
    m, _ = st.paired_diff(torch.zeros(3), torch.ones(3))
    assert m == 1.0
    with pytest.raises(ValueError, match="same items"):
        st.paired_diff([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2"):
        st.mean_se([1.0])


def test_clears_is_strict_so_ties_fail():
    assert st.clears(0.3, 0.1)
    assert not st.clears(0.2, 0.1)          # exactly 2 SE: a tie with the margin fails
    assert not st.clears(0.0, 0.0)          # an exact tie at 0 fails
    assert not st.clears(float("nan"), 0.1)
    assert not st.clears(-1.0, 0.0)
    assert st.clears(1e-12, 0.0)            # any strictly positive difference with no noise


def test_bootstrap_se_of_a_mean_matches_sd_over_root_n():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    se = st.bootstrap_se(lambda v: float(v.mean()), x, n_boot=2000, seed=1)
    exact = x.std(ddof=1) / math.sqrt(len(x))
    assert se == pytest.approx(exact, rel=0.08)   # bootstrap SE of 2000 draws: ~1.6 % s.d.
    with pytest.raises(ValueError, match="same number"):
        st.bootstrap_se(lambda a, b: 0.0, x, x[:10])


def test_every_config_documents_validate():
    for name in MODULES:
        doc = _mod(name).Config.validate.__doc__ or ""
        assert "ConfigError" in doc, name
        assert dataclasses.is_dataclass(_mod(name).Config)


def test_valid_overrides_pass():
    # whole step counts given on the command line arrive as numbers of the tuple's type
    assert _cfg("onlstm_ptb", pinned_steps="100,200").pinned_steps == (100, 200)
    assert _cfg("diffusion_memorise", conv_steps="16,32,64").conv_steps == (16, 32, 64)
    assert _cfg("onlstm_grammar", grammars="mirror").grammars == ("mirror",)
