"""Language-model training: exact resume (bit for bit), the NaN guard, parameter matching, the
plain-LSTM gate reading, perplexity and distances read from a model."""

import dataclasses
import io
import math

import pytest
import torch
import torch.nn.functional as F

from kexue import checkpoint
from kexue.onlstm import (
    LanguageModel,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    Vocab,
    count_parameters,
    lm_perplexity,
    lstm_gate_distances,
    matched_lstm_hidden,
    sentence_distances,
)

TINY = TrainConfig(grammar="arithmetic", embed_size=8, hidden_size=8, chunk_size=4,
                   num_layers=2, n_train=200, batch_size=8, steps=6, checkpoint_every=3,
                   lr=1e-2, lr_final=1e-3)


def _state(tr: Trainer):
    tensors, meta = tr.state_tensors()
    return tensors, meta["step"]


@pytest.mark.parametrize("kind,dropout", [("onlstm", 0.0), ("lstm", 0.0), ("onlstm", 0.3)])
def test_interrupted_and_resumed_run_equals_uninterrupted(kind, dropout, tmp_path):
    cfg = dataclasses.replace(TINY, kind=kind, dropout=dropout)
    rng_before = torch.random.get_rng_state()
    full = Trainer(cfg, dtype=torch.float64)
    full.train()
    part = Trainer(cfg, out_dir=tmp_path, dtype=torch.float64)
    part.train(steps=3)  # "interrupted" after the checkpoint at step 3
    del part
    resumed = Trainer.load(tmp_path / "last.safetensors", out_dir=tmp_path)
    assert resumed.step == 3
    resumed.train()
    a, step_a = _state(full)
    b, step_b = _state(resumed)
    assert step_a == step_b == 6 and a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert full.history == resumed.history
    # the final checkpoint on disk is the finished state
    tensors, meta = checkpoint.load(tmp_path / "last.safetensors")
    assert meta["step"] == 6 and torch.equal(tensors["rng/batches"], a["rng/batches"])
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # global RNG untouched


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = dataclasses.replace(TINY, checkpoint_every=2)
    tr = Trainer(cfg, out_dir=tmp_path, dtype=torch.float64)
    tr.train(steps=2)
    good = checkpoint.load(tmp_path / "last.safetensors")[0]
    with torch.no_grad():
        tr.model.out.bias[3] = float("nan")
    with pytest.raises(TrainingDiverged, match=r"step 3: the language-model loss is nan.*last "
                       r"good checkpoint .*last\.safetensors.*\(step 2\).*Lower lr"):
        tr.train()
    kept = checkpoint.load(tmp_path / "last.safetensors")[0]
    assert all(torch.equal(good[k], kept[k]) for k in good)
    assert tr.step == 2
    fresh = Trainer(cfg, dtype=torch.float64)
    with torch.no_grad():
        fresh.model.out.bias[3] = float("inf")
    with pytest.raises(TrainingDiverged, match="no checkpoint was written"):
        fresh.train()


def test_progress_bar_and_callback(tmp_path):
    from rich.console import Console

    buf = io.StringIO()
    seen = []
    tr = Trainer(dataclasses.replace(TINY, steps=4), dtype=torch.float64)
    tr.train(progress=True, console=Console(file=buf, width=100),
             callback=lambda t: seen.append(t.step), callback_every=2)
    assert seen == [2, 4]
    assert "onlstm on arithmetic" in buf.getvalue()


def test_load_rejects_other_checkpoints(tmp_path):
    checkpoint.save(tmp_path / "x.safetensors", {"w": torch.zeros(2)}, {"step": 1})
    with pytest.raises(ValueError, match="not a kexue.onlstm language-model checkpoint"):
        Trainer.load(tmp_path / "x.safetensors")


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="unknown grammar"):
        Trainer(dataclasses.replace(TINY, grammar="latin"))
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        Trainer(dataclasses.replace(TINY, hidden_size=10))
    with pytest.raises(ValueError, match="kind must be one of"):
        Trainer(dataclasses.replace(TINY, kind="gru"))
    with pytest.raises(ValueError, match="steps must be"):
        Trainer(dataclasses.replace(TINY, steps=-1))


@pytest.mark.parametrize("vocab,embed,hidden,layers,chunk", [(50, 64, 128, 2, 8),
                                                              (16, 8, 32, 3, 4)])
def test_matched_lstm_has_about_the_same_parameters(vocab, embed, hidden, layers, chunk):
    on = LanguageModel(vocab, embed, hidden, layers, kind="onlstm", chunk_size=chunk)
    h = matched_lstm_hidden(vocab, embed, hidden, layers, chunk)
    lstm = LanguageModel(vocab, embed, h, layers, kind="lstm")
    assert h > hidden
    assert abs(count_parameters(lstm) / count_parameters(on) - 1) < 0.02


def test_lstm_gate_reading_matches_a_cell_loop():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, 2, dtype=torch.float64)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    d = lstm_gate_distances(lstm, x)
    assert d.forget.shape == (2, 6, 2)
    inp = x
    for k in range(2):
        cell = torch.nn.LSTMCell(inp.shape[-1], 5, dtype=torch.float64)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).data.copy_(getattr(lstm, f"{name}_l{k}"))
        h = c = torch.zeros(2, 5, dtype=torch.float64)
        outs = []
        for t in range(6):
            g = F.linear(inp[t], cell.weight_ih, cell.bias_ih) + F.linear(h, cell.weight_hh,
                                                                           cell.bias_hh)
            i, f = torch.sigmoid(g[:, :5]), torch.sigmoid(g[:, 5:10])
            torch.testing.assert_close(d.forget[k, t], 1 - f.mean(-1), rtol=0, atol=1e-12)
            torch.testing.assert_close(d.input[k, t], i.mean(-1), rtol=0, atol=1e-12)
            h, c = cell(inp[t], (h, c))
            outs.append(h)
        inp = torch.stack(outs)
    out, _ = lstm(x)
    torch.testing.assert_close(inp, out, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="unidirectional"):
        lstm_gate_distances(torch.nn.LSTM(3, 5, bidirectional=True), x)


def test_perplexity_and_distances_read_from_a_model():
    torch.manual_seed(0)
    vocab = Vocab(["a", "b", "c"])
    sents = [["a", "b"], ["c", "a", "b", "c"], ["b"]]
    for kind in ("onlstm", "lstm"):
        model = LanguageModel(len(vocab), 4, 8, 2, kind=kind, chunk_size=2).double()
        nll, count = 0.0, 0
        for s in sents:  # one sentence at a time: padding must not change anything
            inp, tgt = vocab.batch([s], eos=False)
            logits = model(inp)
            nll += F.cross_entropy(logits[:, 0], tgt[:, 0], reduction="sum").item()
            count += len(s) + 1
        assert lm_perplexity(model, vocab, sents, batch_size=2) == pytest.approx(
            math.exp(nll / count), rel=1e-12)
        df, di = sentence_distances(model, vocab, sents)
        assert [d.shape for d in df] == [(2, 2), (2, 4), (2, 1)]
        for s, d in zip(sents, df):
            inp, _ = vocab.batch([s], eos=True)  # <s> w… <s>
            _, dist = model(inp, return_distances=True)
            torch.testing.assert_close(torch.from_numpy(d), dist.forget[:, 1:-1, 0].double(),
                                       rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="unknown token 'z'"):
        vocab.encode(["a", "z"])
