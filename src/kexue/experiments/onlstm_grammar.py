"""onlstm-grammar: do an ON-LSTM language model's master gates parse seeded grammars?

Article: "ON-LSTM: expressing hierarchy with ordered neurons" (kexue.fm archive 6621), i.e.
Shen, Tan, Sordoni & Courville, ICLR 2019 (arXiv:1810.09536). No treebank exists offline, so the
corpora come from seeded PCFGs whose gold trees are known (:mod:`kexue.onlstm`): an English-like
mixed-branching grammar, its mirror image (left-branching, which catches a parser that lives off
the decoder's right-branching bias, Dyer et al. arXiv:1909.09428) and prefix arithmetic.

For every grammar and seed an ON-LSTM language model and a plain ``nn.LSTM`` widened to the same
parameter count are trained on the same sentences for the same steps. Reported:

* test perplexity against the grammar's optimal perplexity (inside algorithm, exact);
* unlabeled sentence-level F1 of the trees the greedy top-down decoder builds from distances,
  against right-branching, left-branching, balanced and random trees (the random one is the same
  decoder on random distances), the decoder's ceiling on the gold trees, and the decoder fed two
  oracles computed from the gold trees — "closing" distances (what the master forget gate is
  designed to signal) and "pending" distances (a top-down parser's stack size);
* every reading of both models: layer 1, 2, and the mean over layers, of the forget distance
  (``1 − mean f̃``, the paper's), the input distance (``mean ĩ``) and their sum; for the LSTM the
  same functions of its ordinary gates (``1 − mean f``, ``mean i``);
* the paper's fixed reading (forget distance of layer 2) and, for each model, the reading chosen
  on a held-out validation split (with gold trees, as a layer is chosen in the paper), scored on
  the test split; final values after training, never the best epoch;
* Spearman correlations of the readings with the two oracles; F1 during training (training
  length); in the full preset ablations on the arithmetic grammar (chunk size, Su's symmetric
  master input gate, three layers, twice the steps).

Findings of the full preset (3 seeds × 2000 steps, 2026-11-30): on the English-like
grammar ON-LSTM meets the goal (0.80 vs right-branching 0.48, LSTM 0.79); on the mirror and on
arithmetic it does not, and the parameter-matched LSTM read the same way is better. The oracles
explain arithmetic: perfect closing distances give only 0.28 there (below the goal), while the
pending-argument counter reaches the decoder's ceiling (0.58); the readings that work best are the
ones correlated with that counter (the LSTM's layer-1 gates, ρ = 0.86).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from ..devices import resolve_device
from ..onlstm import (
    build_tree,
    get_grammar,
    reading_distances,
    readings,
    tree_f1,
)
from . import _config_checks as cc
from ._base import Claim, Experiment, Reference, Result, Table, torch_threads
from ._grammar_figures import _curve_figure, _distance_figure
from ._grammar_runs import PAPER_READING, _baselines, _train_and_read
from ._stats import clears, paired_diff

# The claims the full preset (3 seeds × 2000 steps, 2026-11-30) missed: findings of this
# reproduction, not failures of the code (see the module docstring). The report shows them as
# "not reproduced — see notes" when they miss; the tests of the quick presets expect that.
KNOWN_FINDINGS = {
    **{f"{g}: ON-LSTM F1 (reading chosen on validation": (
        f"finding: on the {g} grammar ON-LSTM's tree F1 stays below the goal (best trivial "
        "baseline + margin) in the full preset too; see the notes and the oracle baselines")
       for g in ("mirror", "arithmetic")},
    **{f"{g}: ON-LSTM F1 > plain LSTM": (
        f"finding: on the {g} grammar the parameter-matched LSTM read the same way parses as "
        "well or better in the full preset too; see the notes") for g in ("mirror", "arithmetic")},
    "mirror: the paper's reading (forget distance of layer 2) beats the best trivial baseline": (
        "finding: on the left-branching mirror grammar the paper's fixed reading stays below "
        "left-branching in the full preset too (F1 0.430 ± 0.108 vs 0.486 over 3 seeds × 2000 "
        "steps, paired difference −0.056, SE 0.010; 2026-12-07): the layer-2 forget distance "
        "with the top-down decoder favours right-branching splits (Dyer et al. 2019)"),
    "arithmetic: the paper's reading (forget distance of layer 2) beats the best trivial "
    "baseline": (
        "finding: on prefix arithmetic the paper's fixed reading stays below right-branching in "
        "the full preset too (F1 0.158 vs 0.186 over 3 seeds × 2000 steps, paired difference "
        "−0.028, SE 0.003; 2026-12-07, benchmarks/results/onlstm-grammar-arithmetic-full-"
        "preset.json)"),
}

FULL_PRESET_NOTE = (
    "Full preset: no stored full run (benchmarks/results/full/onlstm-grammar.json); once one is "
    "stored the report shows it as 'last full run'. Findings of the full preset (3 seeds × 2000 "
    "steps): ON-LSTM meets the goal on the English-like grammar; on the mirror and on arithmetic "
    "it does not, and the parameter-matched LSTM read the same way is better there (the claims "
    "on the known-findings list). The mirror read right to left is exactly the English-like "
    "grammar (same sentence probabilities, trees reversed; tested), so the mirror failure "
    "belongs to the left-to-right reading, not to the language. A one-seed quick run varies by "
    "several points."
)


@dataclass
class Config:
    """Full preset: about 25 minutes of CPU on one thread (37 minutes wall on the shared 2-core
    development machine); the quick preset about 80 s of CPU. ``grammars``: names from
    :data:`kexue.onlstm.grammars`; ``n_seeds``: training seeds per grammar and model;
    ``steps``: Adam steps per model (cosine decay ``lr`` → ``lr / 10``); ``n_val``/``n_test``:
    held-out sentences (validation chooses each model's reading); ``curve_every``: steps
    between F1 evaluations on the validation split (0: none); ``ablations``: extra ON-LSTM runs
    on the arithmetic grammar; ``goal_margin``: F1 points over the best trivial baseline that
    the goal asks for; ``ppl_tolerance``: relative gap to the optimal perplexity accepted;
    ``check_perplexity``: check the perplexity claims (a one-seed quick run is too short to
    decide them, see the notes); ``device``: where the language models are trained and read
    (``auto | cpu | cuda | cuda:N``);
    the corpora, batches and trees are built on the CPU, the same on every device."""

    grammars: tuple = ("english", "mirror", "arithmetic")
    n_seeds: int = 3
    steps: int = 2000
    n_train: int = 20000
    n_val: int = 200
    n_test: int = 1000
    embed_size: int = 64
    hidden_size: int = 128
    num_layers: int = 2
    chunk_size: int = 8
    batch_size: int = 64
    lr: float = 3e-3
    curve_every: int = 200
    ablations: bool = True
    n_random: int = 10
    goal_margin: float = 0.20
    ppl_tolerance: float = 0.03
    check_perplexity: bool = True
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        """Ranges and relations (``ConfigError`` naming the field): ``grammars`` a non-empty
        tuple of known grammar names; counts ≥ 1 (held-out sentence counts ≥ 2); ``num_layers``
        ≥ 2 (the paper's reading is layer 2's); ``chunk_size`` divides ``hidden_size``; ``lr``,
        ``ppl_tolerance`` > 0; ``goal_margin`` ≥ 0; ``curve_every`` ≥ 0."""
        from ..onlstm import grammars as known

        name = "onlstm-grammar"
        cc.require(isinstance(self.grammars, tuple) and len(self.grammars) >= 1
                   and all(g in known for g in self.grammars), name, "grammars",
                   self.grammars, f"a non-empty tuple among {', '.join(known)}")
        cc.at_least(self, name, ("n_seeds", "steps", "n_train", "embed_size", "hidden_size",
                                 "chunk_size", "batch_size", "n_random"))
        cc.at_least(self, name, ("n_val", "n_test"), 2)
        cc.at_least(self, name, ("num_layers",), 2)
        cc.at_least(self, name, ("curve_every",), 0)
        cc.require(self.hidden_size % self.chunk_size == 0, name, "chunk_size",
                   self.chunk_size, f"a divisor of hidden_size ({self.hidden_size})")
        cc.positive(self, name, ("lr", "ppl_tolerance"))
        cc.non_negative(self, name, ("goal_margin",))


def _rho_text(runs: list[dict], reading: str, kind: str) -> str:
    vals = [r["rho"][(reading, kind)] for r in runs if (reading, kind) in r["rho"]]
    return f"{np.nanmean(vals):.2f}" if vals else "—"


def _mean_sd(xs) -> tuple[float, float]:
    xs = np.asarray(xs, dtype=float)
    return float(xs.mean()), float(xs.std(ddof=1)) if len(xs) > 1 else 0.0


def _fmt(m: float, s: float, seeds: int) -> str:
    return f"{m:.3f} ± {s:.3f}" if seeds > 1 else f"{m:.3f}"


def run(config: Config) -> Result:
    with torch_threads(1):
        return _run(config)


def _run(config: Config) -> Result:
    if config.n_seeds < 1:
        raise ValueError(f"n_seeds must be ≥ 1; got {config.n_seeds}")
    dev = resolve_device(config.device)
    seeds = [config.seed + k for k in range(config.n_seeds)]
    trivial = ("right-branching", "left-branching", "balanced", "random")
    claims: list[Claim] = []
    ppl_rows, f1_rows, read_rows, rho_rows, examples = [], [], [], [], []
    curves: dict[str, dict] = {}
    baselines: dict[str, dict] = {}
    for g in config.grammars:
        grammar = get_grammar(g)
        val = grammar.sample(config.n_val, torch.Generator().manual_seed(30_000 + config.seed))
        test = grammar.sample(config.n_test, torch.Generator().manual_seed(40_000 + config.seed))
        opt = grammar.perplexity(test[0])
        base, base_per = _baselines(test[0], test[1], config.n_random, config.seed)
        baselines[g] = base
        best_name = max(trivial, key=lambda k: base[k])
        runs = {kind: [_train_and_read(config, g, kind, s, val, test, dev) for s in seeds]
                for kind in ("onlstm", "lstm")}
        curves[g] = {kind: [r["curve"] for r in rs] for kind, rs in runs.items()}
        on, ls = runs["onlstm"], runs["lstm"]
        n = config.n_seeds
        on_ppl, ls_ppl = _mean_sd([r["ppl"] for r in on]), _mean_sd([r["ppl"] for r in ls])
        ppl_rows.append([g, f"{opt:.3f}", _fmt(*on_ppl, n), _fmt(*ls_ppl, n),
                         f"{on_ppl[0] / opt - 1:+.2%}", f"{ls_ppl[0] / opt - 1:+.2%}",
                         f"{on[0]['params']:,} / {ls[0]['params']:,}",
                         f"{on[0]['hidden']} / {ls[0]['hidden']}",
                         f"{np.mean([r['saturation_std'] for r in on]):.3f}"])
        on_sel = _mean_sd([r["test"][r["chosen"]] for r in on])
        ls_sel = _mean_sd([r["test"][r["chosen"]] for r in ls])
        on_paper = _mean_sd([r["test"][PAPER_READING] for r in on])
        ls_paper = _mean_sd([r["test"][PAPER_READING] for r in ls])
        chosen_on = ", ".join(sorted({r["chosen"] for r in on}))
        chosen_ls = ", ".join(sorted({r["chosen"] for r in ls}))
        f1_rows.append([g, *(f"{base[k]:.3f}" for k in trivial), f"{base['ceiling']:.3f}",
                        f"{base['gold closing distances']:.3f}",
                        f"{base['gold pending distances']:.3f}", _fmt(*on_paper, n),
                        f"{_fmt(*on_sel, n)} ({chosen_on})", _fmt(*ls_paper, n),
                        f"{_fmt(*ls_sel, n)} ({chosen_ls})",
                        f"{np.mean([r['corpus_chosen'] for r in on]):.3f}"])
        for kind_name, rs in (("ON-LSTM", on), ("LSTM", ls)):
            for reading in sorted({PAPER_READING, *(r["chosen"] for r in rs)}):
                rho_rows.append([g, kind_name, reading, *(_rho_text(rs, reading, k)
                                                          for k in ("closing", "pending"))])
        for reading in readings(config.num_layers):
            read_rows.append([g, reading, _fmt(*_mean_sd([r["test"][reading] for r in on]), n),
                              _fmt(*_mean_sd([r["test"][reading] for r in ls]), n)])
        # claims: the goal, final values, reading chosen on validation only
        target = base[best_name] + config.goal_margin
        # margins: per-sentence F1 averaged over seeds, paired over the test sentences
        paper_per = np.mean([r["test_per"][PAPER_READING] for r in on], axis=0)
        on_per = np.mean([r["test_per"][r["chosen"]] for r in on], axis=0)
        ls_per = np.mean([r["test_per"][r["chosen"]] for r in ls], axis=0)
        g_paper, se_paper = paired_diff(base_per[best_name], paper_per)
        g_ls, se_ls = paired_diff(ls_per, on_per)
        claims.append(Claim(
            f"{g}: ON-LSTM F1 (reading chosen on validation: {chosen_on}) ≥ best trivial "
            f"baseline ({best_name} {base[best_name]:.3f}) + {config.goal_margin:.2f}",
            f"≥ {target:.3f}", round(on_sel[0], 4), f"mean over {n} seed(s), test split",
            on_sel[0] >= target))
        claims.append(Claim(
            f"{g}: the paper's reading (forget distance of layer 2) beats the best trivial "
            f"baseline ({best_name}; F1 {on_paper[0]:.3f} vs {base[best_name]:.3f}): F1 "
            "difference paired over the test sentences (mean over seeds)", "> 2 SE",
            round(g_paper, 4), f"> 2 SE (SE {se_paper:.4f}; {n} seed(s))",
            clears(g_paper, se_paper), checked=n >= 2))
        claims.append(Claim(
            f"{g}: ON-LSTM F1 > plain LSTM read the same way ({chosen_ls}; F1 {on_sel[0]:.3f} "
            f"vs {ls_sel[0]:.3f}): difference paired over the test sentences (mean over seeds)",
            "> 2 SE", round(g_ls, 4), f"> 2 SE (SE {se_ls:.4f}; {n} seed(s))",
            clears(g_ls, se_ls), checked=n >= 2))
        bound = (1 + config.ppl_tolerance) * opt
        claims.append(Claim(
            f"{g}: ON-LSTM test perplexity within {config.ppl_tolerance:.0%} of the grammar's "
            f"optimum {opt:.3f} (the paper: a language model at least as good as an LSTM)",
            f"≤ {bound:.3f}", round(on_ppl[0], 4), f"parameter-matched LSTM: {ls_ppl[0]:.3f}",
            on_ppl[0] <= bound, checked=config.check_perplexity))
        # figure example: a mid-length test sentence, first seed, chosen reading
        r0 = on[0]
        k = next((i for i, s in enumerate(test[0]) if 8 <= len(s) <= 13), 0)
        d = reading_distances(r0["chosen"], r0["dists"][0][k], r0["dists"][1][k])
        pred = build_tree(d, test[0][k])
        examples.append({"grammar": g, "tokens": test[0][k], "distances": d,
                         "gold": test[1][k], "pred": pred, "reading": r0["chosen"],
                         "f1": tree_f1(pred, test[1][k]).sentence})
    tables = [
        Table("Test perplexity (per token, end of sentence included) against the optimum",
              ["grammar", "optimal (inside)", "ON-LSTM", "LSTM", "ON-LSTM gap", "LSTM gap",
               "parameters ON-LSTM / LSTM", "hidden ON-LSTM / LSTM",
               "std of last-layer distance (saturation if < 0.02)"], ppl_rows),
        Table("Unlabeled sentence-level F1 on the test split (decoder: greedy top-down split)",
              ["grammar", *trivial, "decoder ceiling", "gold closing distances",
               "gold pending distances",
               f"ON-LSTM {PAPER_READING} (paper)", "ON-LSTM chosen on validation",
               f"LSTM {PAPER_READING}", "LSTM chosen on validation",
               "ON-LSTM chosen, corpus-level F1"], f1_rows),
        Table("Every reading on the test split (L1/L2/mean over layers × forget/input/sum)",
              ["grammar", "reading", "ON-LSTM F1", "LSTM F1"], read_rows),
        Table("What the distances track: Spearman ρ with the gold oracles (test, per sentence, "
              "first token excluded; mean over sentences and seeds)",
              ["grammar", "model", "reading", "ρ with closing", "ρ with pending"], rho_rows),
    ]
    notes = [
        FULL_PRESET_NOTE,
        f"{config.n_seeds} seed(s) × {config.steps} steps per model; embedding "
        f"{config.embed_size}, ON-LSTM hidden {config.hidden_size} (chunk "
        f"{config.chunk_size}, {config.num_layers} layers), the LSTM widened to the same number "
        "of parameters. F1 is sentence-level (mean of per-sentence F1) without the "
        "whole-sentence span; 'random' is the decoder on uniform random distances (mean of "
        f"{config.n_random} draws); the 'decoder ceiling' is the best F1 any distances can give "
        "with this decoder. Two oracles feed the decoder distances computed from the gold tree: "
        "'closing' −depth(LCA(w_{t−1}, w_t)), what the master forget gate is designed to "
        "signal (the levels of the constituents that just ended are erased), and 'pending' "
        "−(stack size of a top-down parser when the constituent starting at w_t opens), which "
        "in prefix arithmetic is the count of pending operator arguments.",
        "Reading choice: for each model and seed, the reading with the best F1 on "
        f"{config.n_val} validation sentences (with gold trees) is scored on the "
        f"{config.n_test} test sentences; the paper's fixed reading is reported beside it.",
        "Margins: the comparative claims (the paper's reading against the best trivial "
        "baseline, ON-LSTM against the LSTM) take the per-sentence F1 difference, averaged over "
        "seeds, paired over the test sentences; it must clear 2 SE (a tie fails). The "
        "perplexity tolerance is the same in the quick and full presets.",
    ]
    if config.n_seeds < 2:
        notes.append(
            "Not checked with one seed: the two paired F1 comparisons (the paper's reading "
            "against the best trivial baseline, ON-LSTM against the LSTM). Their SE is paired "
            "over the test sentences and leaves out the seed-to-seed spread of a trained model, "
            "which one seed cannot estimate and which is larger: over quick seeds 0–4 "
            "arithmetic's paper reading cleared 2 SE at 2 of 5 seeds and English ON-LSTM > LSTM "
            "at 4 of 5 (benchmarks/results/quick-seeds-onlstm-grammar.json). The full preset "
            "(3 seeds) checks them.")
    if not config.check_perplexity:
        notes.append(
            "Not checked in this run (quick preset): the perplexity claims. After 300 steps one "
            "seed's ON-LSTM lands on either side of the 3 % tolerance (arithmetic: 3.02 % and "
            "3.03 % above the optimum at seeds 0 and 1, 2.0–3.5 % over seeds 0–4 with 20,000 "
            "training sentences; at seed 1 English and the mirror miss too), so a one-seed quick "
            "run cannot decide it. Batch 32 × 600 steps would (arithmetic 1.1–2.6 %, seeds 0–2) "
            "but costs about 15 % more CPU and moves the F1 comparisons (English ON-LSTM vs "
            "LSTM missed at seeds 0 and 1). The full preset (3 seeds × 2000 steps) checks them.")
    for g in config.grammars:
        base = baselines[g]
        best = max(base[k] for k in trivial)
        notes.append(
            f"{g}: with perfect closing distances the decoder would reach "
            f"{base['gold closing distances']:.3f}, with pending distances "
            f"{base['gold pending distances']:.3f} (ceiling {base['ceiling']:.3f}; the goal asks "
            f"for {best + config.goal_margin:.3f}).")
        if config.curve_every and curves[g]["onlstm"] and curves[g]["onlstm"][0]:
            runs = curves[g]["onlstm"]
            first = np.mean([max(run[0][1].values()) for run in runs])
            last = np.mean([max(run[-1][1].values()) for run in runs])
            peak = np.mean([max(max(f.values()) for _, f in run) for run in runs])
            notes.append(
                f"{g}, training length: ON-LSTM's best validation F1 was {first:.3f} after "
                f"{runs[0][0][0]} steps, peaked at {peak:.3f} on average and ended at "
                f"{last:.3f} (reported values are final, not the peak).")
    figures = {"distances": _distance_figure(examples)}
    if config.curve_every:
        figures["training"] = _curve_figure(curves, baselines)
    if config.ablations and "arithmetic" in config.grammars:
        tables.append(_ablations(config, dev))
    return Result(claims=claims, tables=tables, figures=figures, notes=" ".join(notes))


def _ablations(config: Config, device: torch.device) -> Table:
    """ON-LSTM variants on the arithmetic grammar (first seed)."""
    grammar = get_grammar("arithmetic")
    val = grammar.sample(config.n_val, torch.Generator().manual_seed(30_000 + config.seed))
    test = grammar.sample(config.n_test, torch.Generator().manual_seed(40_000 + config.seed))
    c, h = config.chunk_size, config.hidden_size
    variants = [(f"chunk {k} ({h // k} levels)", {"chunk_size": k})
                for k in (c // 2, 2 * c) if k >= 1 and h % k == 0]
    variants += [
        ("symmetric master input (Su)", {"master_input": "symmetric"}),
        ("3 layers", {"num_layers": 3}),
        (f"{2 * config.steps} steps", {"steps": 2 * config.steps}),
    ]
    rows = []
    cfg = dataclasses.replace(config, curve_every=0)
    for name, over in variants:
        r = _train_and_read(cfg, "arithmetic", "onlstm", config.seed, val, test, device, **over)
        best_forget = max((v, k) for k, v in r["test"].items() if k.endswith("·forget"))
        best_input = max((v, k) for k, v in r["test"].items() if k.endswith("·input"))
        rows.append([name, f"{r['ppl']:.3f}", f"{r['test'][PAPER_READING]:.3f}",
                     f"{best_forget[0]:.3f} ({best_forget[1]})",
                     f"{best_input[0]:.3f} ({best_input[1]})",
                     f"{r['test'][r['chosen']]:.3f} ({r['chosen']})"])
    return Table("Arithmetic ablations (ON-LSTM, first seed; test F1)",
                 ["variant", "perplexity", PAPER_READING, "best forget reading",
                  "best input reading", "chosen on validation"], rows)


EXPERIMENT = Experiment(
    name="onlstm-grammar",
    title="ON-LSTM: unsupervised trees from a language model's master gates",
    article="ON-LSTM: expressing hierarchy with ordered neurons (kexue.fm 6621)",
    article_url="https://kexue.fm/archives/6621",
    claim="an ON-LSTM language model's master-gate distances parse seeded grammars (English-like, "
          "its mirror, prefix arithmetic) far better than trivial trees and a plain LSTM",
    config=Config,
    run=run,
    quick={"n_seeds": 1, "steps": 300, "n_train": 4000, "n_val": 100, "n_test": 300,
           "curve_every": 0, "ablations": False, "n_random": 3, "check_perplexity": False},
    quick_runtime_s=110,
    known_findings=KNOWN_FINDINGS,
    references=(
        Reference("Su Jianlin, ON-LSTM: expressing hierarchy with ordered neurons (kexue.fm 6621)",
                  "https://kexue.fm/archives/6621"),
        Reference("Shen, Tan, Sordoni, Courville, Ordered Neurons: Integrating Tree Structures "
                  "into Recurrent Neural Networks, ICLR 2019", "https://arxiv.org/abs/1810.09536"),
        Reference("Dyer, Melis, Blunsom, A Critical Analysis of Biased Parsers in Unsupervised "
                  "Parsing (2019)", "https://arxiv.org/abs/1909.09428"),
    ),
    section="kexue.onlstm",
)
