"""The onlstm-grammar experiment end to end on a tiny configuration (structure, not numbers)."""

import dataclasses

from matplotlib.figure import Figure

from kexue.experiments import resolve_config
from kexue.experiments.onlstm_grammar import EXPERIMENT, Config, run


def test_tiny_run_produces_claims_tables_and_figures():
    cfg = Config(grammars=("arithmetic",), n_seeds=2, steps=4, n_train=60, n_val=12, n_test=12,
                 embed_size=8, hidden_size=16, chunk_size=4, batch_size=8, curve_every=2,
                 ablations=True, n_random=2)
    res = run(cfg)
    assert len(res.claims) == 4
    assert all(c.statement.startswith("arithmetic: ") for c in res.claims)
    titles = [t.title for t in res.tables]
    assert any("perplexity" in t for t in titles) and any("ablations" in t for t in titles)
    reading_rows = [r for t in res.tables if t.title.startswith("Every reading") for r in t.rows]
    assert len(reading_rows) == 9  # (L1, L2, mean) × (forget, input, forget+input)
    assert set(res.figures) == {"distances", "training"}
    assert all(isinstance(f, Figure) for f in res.figures.values())
    ablation = next(t for t in res.tables if "ablations" in t.title)
    assert len(ablation.rows) == 5


def test_quick_preset_is_registered_shape():
    cfg = resolve_config(EXPERIMENT, quick=True)
    assert cfg.n_seeds == 1 and not cfg.ablations and cfg.steps < Config().steps
    assert EXPERIMENT.section == "kexue.onlstm"
    assert dataclasses.asdict(Config())["grammars"] == ("english", "mirror", "arithmetic")


def test_quick_preset_shows_the_perplexity_claims_as_not_checked_with_the_reason():
    """Issue 17: the quick preset keeps the 3 % tolerance; where a one-seed run cannot decide
    it, the claims are shown as not checked and the notes say why; the full preset checks them."""
    assert Config().check_perplexity
    assert not resolve_config(EXPERIMENT, quick=True).check_perplexity
    cfg = Config(grammars=("arithmetic",), n_seeds=1, steps=4, n_train=60, n_val=12, n_test=12,
                 embed_size=8, hidden_size=16, chunk_size=4, batch_size=8, curve_every=0,
                 ablations=False, n_random=2, check_perplexity=False)
    res = run(cfg)
    unchecked = [c.statement for c in res.claims if not c.checked]
    assert len(unchecked) == 3 and "test perplexity within 3%" in unchecked[-1]
    assert "Not checked in this run (quick preset): the perplexity claims" in res.notes
    # one seed: the paired F1 comparisons are shown, not checked (their SE leaves out the seed
    # spread); with two seeds they are checked
    assert any("the paper's reading" in u for u in unchecked)
    assert any("ON-LSTM F1 > plain LSTM" in u for u in unchecked)
    assert "Not checked with one seed: the two paired F1 comparisons" in res.notes
    two = run(dataclasses.replace(cfg, n_seeds=2))
    assert [c.statement[:30] for c in two.claims if not c.checked] == [unchecked[-1][:30]]
