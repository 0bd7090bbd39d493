"""``kexue onlstm``: train an ON-LSTM language model on a seeded grammar, parse with it.

``kexue onlstm train --grammar english --out DIR [--steps N --seed S]`` trains (resuming from
``DIR/last.safetensors`` when it exists; the loss log is ``DIR/loss.csv`` or ``--log PATH``), then
picks the reading (layer × master gate) with the
best F1 on held-out sentences and stores it in the checkpoint; ``--device auto|cpu|cuda|cuda:N``
picks where, ``--nproc N`` trains on N processes (DDP; rank 0 chooses the reading, writes the
checkpoint and prints). ``kexue onlstm parse --ckpt PATH "a sentence"`` prints the induced tree
(``PATH``: the checkpoint or its directory).
Bad input prints one line ``error: ...`` to stderr and exits with status 2; a diverged run (NaN
loss) exits with status 1 and keeps its last good checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ._checkpoints import CKPT_NAME, ckpt_file
from ._errors import choice_option, fail
from ._launch import (
    DeviceOption,
    LogOption,
    NprocOption,
    ProgressOption,
    cli_device,
    fail_all,
    is_main,
    job,
    launch_if_asked,
)
from ._outputs import log_file, output_dir

app = typer.Typer(
    name="onlstm",
    help="Ordered-neuron LSTM (kexue.fm 6621): train a language model on a seeded grammar, "
         "read trees out of it.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()


# the recurrent cells (kexue.onlstm's RNN kinds), spelled out for --help without torch (a test
# keeps them equal)
KINDS = ("onlstm", "lstm")


def _grammar_names() -> tuple[str, ...]:
    """The ``--grammar`` choices: :data:`kexue.onlstm.GRAMMAR_NAMES` (imported when checked)."""
    from ..onlstm import GRAMMAR_NAMES

    return tuple(GRAMMAR_NAMES)


MAX_LAYERS = 64
"""Most recurrent layers ``kexue onlstm train --layers`` accepts."""


def _check_sizes(hidden: int | None, chunk: int | None, layers: int | None, steps: int) -> None:
    """Positive sizes, at most :data:`MAX_LAYERS` layers, and the memory of the weights
    (about ``6·h·2h`` per layer: four LSTM gates and two master gates, inputs of width ``≤ h``;
    16 bytes a weight with gradients and two Adam moments) and of one batch's activations
    (64 sentences of up to 64 tokens, ~12 values per hidden unit and step) against the memory
    here, before any work.

    Raises:
        typer.Exit(2): one line naming the option, the estimate and the fix.
    """
    from ..limits import SizeLimitError, check_memory

    for key, v in (("--hidden", hidden), ("--chunk", chunk), ("--layers", layers)):
        if v is not None and v < 1:
            raise fail(f"{key} must be ≥ 1; got {v}")
    if layers is not None and layers > MAX_LAYERS:
        raise fail(f"--layers must be ≤ {MAX_LAYERS}; got {layers}")
    h = float(128 if hidden is None else hidden)
    n = 2 if layers is None else layers
    try:
        check_memory(f"--hidden {int(h)} --layers {n}: the weights and optimizer state",
                     16.0 * n * 6 * h * 2 * h, fix="use a smaller --hidden or fewer --layers")
        check_memory(f"--hidden {int(h)} --layers {n}: the activations of a batch",
                     4.0 * 64 * 64 * 12 * h * n, fix="use a smaller --hidden or fewer --layers")
    except SizeLimitError as exc:
        raise fail(str(exc)) from None


@app.command()
def train(
    out: Annotated[Path, typer.Option("--out", help="Directory for last.safetensors.",
                                      show_default=False)],
    grammar: Annotated[str | None, typer.Option(
        "--grammar", help="english | mirror | arithmetic | brackets", show_default=False,
        **choice_option("--grammar", _grammar_names, noun="grammar"))]
    = None,
    corpus: Annotated[Path | None, typer.Option(
        "--corpus", help="Your own text instead of a grammar: one sentence a line, tokens "
        "separated by spaces (every 20th sentence is held out for validation).",
        show_default=False)] = None,
    steps: Annotated[int, typer.Option(
        "--steps", help="Total training steps (0: no training, only the evaluation).")] = 3000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the corpus, model and batches.")]
    = 0,
    kind: Annotated[str, typer.Option("--kind", help=" | ".join(KINDS),
                                      **choice_option("--kind", KINDS))] = "onlstm",
    hidden: Annotated[int | None, typer.Option(
        "--hidden", help="Hidden size (new run: 128; on resume: the checkpoint's, and a "
                         "different value is refused).")] = None,
    chunk: Annotated[int | None, typer.Option(
        "--chunk", help="Chunk size, ON-LSTM (new run: 8; on resume: the checkpoint's).")] = None,
    layers: Annotated[int | None, typer.Option(
        "--layers", help="Recurrent layers (new run: 2; on resume: the checkpoint's).")] = None,
    progress: ProgressOption = True,
    threads: Annotated[int, typer.Option("--threads", help="Intra-op CPU threads (small "
                                         "models run fastest on one).")] = 1,
    device: DeviceOption = "auto",
    nproc: NprocOption = 1,
    log: LogOption = None,
) -> None:
    """Train a language model on GRAMMAR's sentences or your CORPUS, resumably; report
    perplexity (and, on a grammar, parsing F1)."""
    import torch

    if threads < 1:
        raise fail(f"--threads must be ≥ 1; got {threads}")
    cores = os.cpu_count() or 1
    if threads > cores:
        raise fail(f"--threads must be at most the {cores} CPU cores here; got {threads}")
    _check_sizes(hidden, chunk, layers, steps)
    torch.set_num_threads(threads)

    from ..onlstm import (
        CORPUS,
        GRAMMAR_NAMES,
        TrainConfig,
        Trainer,
        TrainingDiverged,
        choose_reading,
        get_grammar,
        lm_perplexity,
    )

    if (grammar is None) == (corpus is None):
        raise fail("give exactly one of --grammar NAME or --corpus FILE")
    held_out: list[list[str]] = []
    sentences: list[list[str]] | None = None  # the user's corpus (training part)
    if corpus is not None:
        from ..data import read_corpus

        try:
            sentences = read_corpus(corpus)
        except (OSError, ValueError, TypeError) as exc:
            raise fail(str(exc)) from None
        if len(sentences) >= 20:  # a fixed split: every 20th sentence is validation
            held_out = sentences[19::20]
            sentences = [s for k, s in enumerate(sentences) if k % 20 != 19]
        grammar = CORPUS
    elif grammar not in GRAMMAR_NAMES:
        raise fail(f"unknown grammar {grammar!r}; valid names: {', '.join(GRAMMAR_NAMES)}")
    if steps < 0:
        raise fail(f"--steps must be ≥ 0; got {steps}")
    dev = cli_device(device)
    output_dir(out)  # a bad --out is refused before any work (issue 16)
    log = log_file(log, out)
    launch_if_asked(nproc)
    path = out / CKPT_NAME
    with job(dev):
        if path.exists():
            try:
                # one resume rule for every trainer: architecture flags that differ from the
                # checkpoint's are refused by name (lr may change)
                trainer = Trainer.load(path, out_dir=out, device=dev, log=log,
                                       sentences=sentences,
                                       expect={k: v for k, v in (
                                           ("grammar", grammar), ("kind", kind), ("seed", seed),
                                           ("hidden_size", hidden), ("chunk_size", chunk),
                                           ("num_layers", layers)) if v is not None})
            except ValueError as exc:
                raise fail_all(f"{exc}; use another --out to start a different run") from None
            cfg = trainer.config
            console.print(f"resuming from step {trainer.step} ({path})")
        else:
            cfg = TrainConfig(grammar=grammar, kind=kind, steps=steps, seed=seed,
                              **{k: v for k, v in (("hidden_size", hidden), ("chunk_size", chunk),
                                                   ("num_layers", layers)) if v is not None})
            try:
                trainer = Trainer(cfg, out_dir=out, device=dev, log=log,
                                  sentences=sentences)
            except ValueError as exc:
                raise fail_all(str(exc)) from None
        try:
            trainer.train(steps, progress=progress and is_main(), console=console)
        except TrainingDiverged as exc:
            raise fail(str(exc), code=1) from None
        except KeyboardInterrupt:
            saved = (f"the last checkpoint (step {trainer.saved_step}) is {path} — rerun the "
                     "same command to resume" if trainer.saved_step is not None
                     else "no checkpoint yet")
            raise fail(f"interrupted at step {trainer.step}; {saved}", code=130) from None
        main = is_main()  # read inside the job: the group is gone after it
    if not main:
        return
    if corpus is not None:
        trainer.save(path)
        v = len(trainer.vocab)
        if held_out:
            known = set(trainer.vocab.itos)
            val = [s for s in held_out if all(w in known for w in s)]
            ppl = lm_perplexity(trainer.model, trainer.vocab, val) if val else float("nan")
            console.print(f"{cfg.kind} on {corpus}: {trainer.step} steps, validation perplexity "
                          f"{ppl:.3f} on {len(val)} held-out sentences without unseen words "
                          f"(uniform over the vocabulary: {v})")
        else:
            console.print(f"{cfg.kind} on {corpus}: {trainer.step} steps (fewer than 20 "
                          f"sentences: none held out; vocabulary {v})")
        console.print(f"saved {path}; loss log {log}")
        return
    g = get_grammar(grammar)
    val, val_gold = g.sample(200, torch.Generator().manual_seed(30_000 + seed))
    best, scores = choose_reading(trainer.model, trainer.vocab, val, val_gold)
    trainer.info.update({"reading": best, "validation_f1": scores})
    trainer.save(path)
    ppl = lm_perplexity(trainer.model, trainer.vocab, val)
    console.print(f"{cfg.kind} on {grammar}: {trainer.step} steps, validation perplexity "
                  f"{ppl:.3f} (grammar optimum {g.perplexity(val):.3f})")
    paper = scores.get("L2·forget", float("nan"))
    console.print(f"reading chosen on 200 validation sentences: {best} (sentence F1 "
                  f"{scores[best]:.3f}; the paper's L2·forget: {paper:.3f})")
    console.print(f"saved {path}; loss log {log}")


@app.command()
def parse(
    sentence: Annotated[str, typer.Argument(help="Tokens separated by spaces.",
                                            show_default=False)],
    ckpt: Annotated[Path, typer.Option("--ckpt", help="A checkpoint from `kexue onlstm train` "
                                       "(the file or its directory).", show_default=False)],
    reading: Annotated[str | None, typer.Option(
        "--reading", help="e.g. L2·forget, L1·input, mean·forget+input (default: the one "
        "stored by train).", show_default=False)] = None,
    show_distances: Annotated[bool, typer.Option("--distances",
                                                 help="Also print the distances.")] = False,
) -> None:
    """Print the tree the model induces for SENTENCE (bracketed)."""
    from ..onlstm import build_tree, load_model, reading_distances, sentence_distances, tree_to_str

    tokens = sentence.split()
    if not tokens:
        raise fail("empty sentence: give the tokens separated by spaces, e.g. \"+ 3 * 4 5\"")
    ckpt = ckpt_file(ckpt, "onlstm")
    try:
        model, vocab, meta = load_model(ckpt)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    try:
        vocab.encode(tokens)
    except ValueError as exc:
        raise fail(f"{exc} (grammar {meta['config']['grammar']!r})") from None
    name = reading or meta.get("info", {}).get("reading", "L2·forget")
    forget, inp = sentence_distances(model, vocab, [tokens])
    try:
        d = reading_distances(name.replace(".", "·"), forget[0], inp[0])
    except ValueError as exc:
        raise fail(str(exc)) from None
    console.print(tree_to_str(build_tree(d, tokens)), markup=False, highlight=False)
    if show_distances:
        console.print(f"{name}: " + " ".join(f"{w}={x:.3f}" for w, x in zip(tokens, d)),
                      markup=False, highlight=False)
