"""Language models on the user's own text: Trainer(sentences=) with TrainConfig(grammar="corpus"),
exact resume that checks the corpus, `kexue onlstm train --corpus FILE`, and the perplexity of a
model that predicts uniformly (= the vocabulary size)."""

import dataclasses

import pytest
import torch
from typer.testing import CliRunner

from kexue import checkpoint
from kexue.onlstm import CORPUS, LanguageModel, TrainConfig, Trainer, Vocab, lm_perplexity

TEXT = ["the cat sat on the mat", "a dog ran", "the dog sat", "a cat ran on the mat",
        "the mat sat", "a dog sat on a cat"] * 5
SENTS = [line.split() for line in TEXT]
CFG = TrainConfig(grammar=CORPUS, embed_size=8, hidden_size=8, chunk_size=4, num_layers=2,
                  batch_size=4, steps=6, checkpoint_every=3, lr=1e-2, lr_final=1e-3)


def _params(tr):
    return [p.detach().clone() for p in tr.model.parameters()]


def test_corpus_training_resumes_exactly_and_checks_the_corpus(tmp_path):
    full = Trainer(CFG, dtype=torch.float64, sentences=SENTS)
    assert full.vocab.itos[2:] == sorted({w for s in SENTS for w in s})
    full.train()
    part = Trainer(CFG, out_dir=tmp_path, dtype=torch.float64, sentences=SENTS)
    part.train(steps=3)
    resumed = Trainer.load(tmp_path / "last.safetensors", out_dir=tmp_path, sentences=SENTS)
    assert resumed.step == 3
    resumed.train()
    assert resumed.history == full.history
    assert all(torch.equal(a, b) for a, b in zip(_params(full), _params(resumed)))
    meta = checkpoint.load(tmp_path / "last.safetensors")[1]
    assert meta["config"]["grammar"] == CORPUS and len(meta["corpus_fingerprint"]) == 64
    with pytest.raises(ValueError, match="trained on your own corpus: pass the same sentences"):
        Trainer.load(tmp_path / "last.safetensors")
    with pytest.raises(ValueError, match="trained on a different corpus"):
        Trainer.load(tmp_path / "last.safetensors", sentences=SENTS[:-1])


def test_corpus_input_is_checked():
    with pytest.raises(ValueError, match="the corpus is empty"):
        Trainer(CFG, sentences=[])
    with pytest.raises(ValueError, match="reserved token"):
        Trainer(CFG, sentences=[["a", "<s>"]])
    with pytest.raises(ValueError, match="sentence 1 must be a non-empty list"):
        Trainer(CFG, sentences=[["a"], []])
    with pytest.raises(ValueError, match="sentences must be a list of token lists"):
        Trainer(CFG)
    with pytest.raises(ValueError, match="use TrainConfig\\(grammar='corpus'\\)"):
        Trainer(dataclasses.replace(CFG, grammar="english"), sentences=SENTS)


def test_uniform_model_has_the_vocabulary_size_as_perplexity():
    """A language model whose output layer is zero predicts every token of the vocabulary with
    probability 1/V, so its perplexity is exactly V (including <pad> and <s> in V)."""
    vocab = Vocab(sorted({w for s in SENTS for w in s}))
    model = LanguageModel(len(vocab), 8, 8, 2, kind="onlstm", chunk_size=4).double()
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
    assert lm_perplexity(model, vocab, SENTS) == pytest.approx(len(vocab), rel=1e-12)


def test_cli_trains_on_a_corpus_file_and_resumes(tmp_path):
    from kexue.cli._onlstm import app

    corpus = tmp_path / "text.txt"
    corpus.write_text("\n".join(TEXT) + "\n\n")
    out = tmp_path / "run"
    args = ["train", "--corpus", str(corpus), "--out", str(out), "--hidden", "8", "--chunk", "4",
            "--no-progress", "--device", "cpu"]
    res = CliRunner().invoke(app, [*args, "--steps", "4"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # rich wraps long lines
    assert "validation perplexity" in text and "on 1 held-out sentences" in text
    assert "(uniform over the vocabulary: 10)" in text  # 8 words + <pad> + <s>
    res = CliRunner().invoke(app, [*args, "--steps", "6"])
    assert res.exit_code == 0 and "resuming from step 4" in " ".join(res.output.split())
    assert checkpoint.load(out / "last.safetensors")[1]["step"] == 6


@pytest.mark.parametrize("extra,message", [
    ([], "give exactly one of --grammar NAME or --corpus FILE"),
    (["--grammar", "english", "--corpus", "x.txt"], "give exactly one of"),
    (["--corpus", "EMPTY"], "empty corpus"),
])
def test_cli_corpus_errors_are_one_line(tmp_path, extra, message):
    from kexue.cli._onlstm import app

    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    extra = [str(empty) if a == "EMPTY" else a for a in extra]
    res = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "o"), *extra])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and message in lines[0], res.output
