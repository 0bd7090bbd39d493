"""Trainer loaders validate checkpoint metadata before building anything (issue 16).

For each trainer a real tiny checkpoint is written, its metadata rewritten into a hostile form
with *valid* SHA-256 digests (so only the metadata checks stand between it and the loader), and
the loader must answer one line of ``ValueError`` naming the file and the field — quickly and
without a large allocation. Also: the one resume rule (architecture changes refused, the
learning rate a safe override) for the GAN, diffusion and ON-LSTM trainers.
"""

from __future__ import annotations

import copy
import hashlib
import json
import resource
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from kexue import checkpoint
from kexue.diffusion import VPSDE
from kexue.diffusion._nets import MLPScoreNet, ScoreModel
from kexue.diffusion._score_checkpoint import load_score_model
from kexue.diffusion._train import train as train_diffusion
from kexue.gan import load_gan, train_gan, train_image_gan
from kexue.metrics import DigitClassifier, load_classifier, save_classifier
from kexue.onlstm._lm_config import TrainConfig, load_model
from kexue.onlstm._train import Trainer

TINY_LM = TrainConfig(grammar="arithmetic", embed_size=8, hidden_size=8, chunk_size=4,
                      num_layers=1, n_train=100, batch_size=8, steps=2, checkpoint_every=2,
                      lr=1e-2, lr_final=1e-3)


def _write(path, tensors, meta) -> None:
    """Write ``tensors`` with *any* JSON value as metadata and matching digests."""
    text = json.dumps(meta, sort_keys=True)
    clean = {k: v.contiguous() for k, v in tensors.items()}
    digests = {"meta": hashlib.sha256(text.encode()).hexdigest(),
               "tensors": {k: checkpoint.tensor_digest(k, v) for k, v in sorted(clean.items())}}
    save_file(clean, str(path), metadata={checkpoint.META_KEY: text,
                                          checkpoint.DIGEST_KEY: json.dumps(digests)})


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _refused(loader, path, *fields):
    """``loader(path)`` raises a one-line ValueError naming the file and ``fields``, within 5 s
    and without raising the peak RSS by 300 MB."""
    rss, t0 = _rss_mb(), time.perf_counter()
    with pytest.raises(ValueError) as info:
        loader(path)
    assert time.perf_counter() - t0 < 5.0
    assert _rss_mb() - rss < 300
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    for f in fields:
        assert f in msg, (f, msg)
    return msg


# ---------------------------------------------------------------------- tiny checkpoints
@pytest.fixture(scope="module")
def gan_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("gan") / "g.safetensors"
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    train_gan("bigan-qp", data, steps=2, batch_size=16, hidden=8, z_dim=2, depth=1,
              checkpoint=path, progress=False)
    return checkpoint.load(path)


@pytest.fixture(scope="module")
def image_gan_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("igan") / "g.safetensors"
    data = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    train_image_gan("gan-qp", data, steps=1, batch_size=8, z_dim=4, dim=4, checkpoint=path)
    return checkpoint.load(path)


@pytest.fixture(scope="module")
def diffusion_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("diff") / "d.safetensors"
    sde = VPSDE()
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    train_diffusion(ScoreModel(MLPScoreNet(2, hidden=8, depth=1), sde), sde, data, steps=2,
                    batch_size=16, warmup=1, checkpoint=path, progress=False)
    return checkpoint.load(path)


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("lm")
    Trainer(TINY_LM, out_dir=out).train()
    return out


@pytest.fixture(scope="module")
def lm_ckpt(lm_dir):
    return checkpoint.load(lm_dir / "last.safetensors")


@pytest.fixture(scope="module")
def clf_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("clf") / "c.safetensors"
    save_classifier(path, DigitClassifier(image_size=8, channels=(2, 3), features=4))
    return checkpoint.load(path)


def _hostile(ckpt, tmp_path, edit, name="h.safetensors"):
    tensors, meta = ckpt
    meta = copy.deepcopy(meta)
    meta = edit(meta)
    path = tmp_path / name
    _write(path, tensors, meta)
    return path


def _set(*keys_value):
    *keys, value = keys_value

    def edit(meta):
        obj = meta
        for k in keys[:-1]:
            obj = obj[k]
        obj[keys[-1]] = value
        return meta
    return edit


# ---------------------------------------------------------------------- GAN
GAN_CASES = [
    (lambda m: [m], ("metadata", "list")),
    (_set("train", "dtype", "load"), ("['dtype']", "'load'")),
    (_set("train", "dtype", "torch.load"), ("['dtype']",)),
    (_set("nets", "critic", "evil", 1), ("['critic']", "unexpected keys", "evil")),
    (_set("nets", "generator", "hidden", 200000), ("['generator']['hidden']", "200000")),
    (_set("nets", "generator", "hidden", 16), ("generator/", "shape")),  # in bounds, wrong
    (_set("nets", "generator", "hidden", "8"), ("['hidden'] must be int",)),
    (_set("nets", "generator", "kind", "load"), ("['kind'] must be one of",)),
    (_set("nets", "encoder", [1, 2]), ("['encoder'] must be dict",)),
    (_set("nets", ["a"]), ("['nets'] must be dict",)),
    (_set("step", -1), ("['step']",)),
    (_set("step", True), ("['step'] must be int; got bool",)),
    (lambda m: {k: v for k, v in m.items() if k != "nets"}, ("lacks the keys ['nets']",)),
    (_set("train", "z_dim", 10**9), ("['z_dim']",)),
    (_set("nets", "critic", "act", "__import__"), ("['act'] must be one of",)),
]


@pytest.mark.parametrize("edit,fields", GAN_CASES)
def test_gan_loader_refuses_hostile_metadata(gan_ckpt, tmp_path, edit, fields):
    path = _hostile(gan_ckpt, tmp_path, edit)
    _refused(load_gan, path, *fields)


def test_gan_loader_ignores_unknown_top_level_keys_but_not_in_specs(gan_ckpt, tmp_path):
    """The documented rule: top-level extras are user metadata; network specs refuse them."""
    path = _hostile(gan_ckpt, tmp_path, _set("my_note", {"anything": [1, 2]}))
    res, meta = load_gan(path)
    assert meta["my_note"] == {"anything": [1, 2]} and res.encoder is not None
    tensors = gan_ckpt[0]
    for name in ("generator", "critic", "encoder"):
        own = getattr(res, name).state_dict()
        for k, v in own.items():
            assert torch.equal(v, tensors[f"{name}/{k}"])


@pytest.mark.parametrize("edit,fields", [
    (_set("nets", "generator", "dim", 100000), ("['generator']['dim']", "100000")),
    (_set("nets", "generator", "norm", "load"), ("['norm'] must be one of",)),
    (_set("nets", "critic", "image_size", [8, 8, 8]), ("['image_size'] has length 3",)),
    (_set("nets", "critic", "dim", 8), ("critic/", "shape")),
    (_set("nets", "generator", "kind", "mlp"), ("['kind'] must be one of",)),
    (_set("train", "dtype", "float16"), ("['dtype']",)),
])
def test_image_gan_loader_refuses_hostile_metadata(image_gan_ckpt, tmp_path, edit, fields):
    path = _hostile(image_gan_ckpt, tmp_path, edit)
    _refused(load_gan, path, *fields)


def test_image_gan_checkpoint_loads(image_gan_ckpt, tmp_path):
    path = _hostile(image_gan_ckpt, tmp_path, lambda m: m)
    res, _ = load_gan(path)
    assert res.sample(3).shape == (3, 1, 8, 8)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False)
    | st.text(max_size=8) | st.sampled_from(["mlp", "pair", "float32", "torch.float64", "load"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from([(), ("train",), ("nets",), ("nets", "generator"),
                              ("nets", "critic"), ("nets", "encoder")]),
       key=st.sampled_from(["step", "dtype", "z_dim", "kind", "hidden", "depth", "in_dim",
                            "out_dim", "act", "out_act", "x_dim", "generator", "nets", "extra"]),
       value=_JSON)
def test_gan_loader_fuzzed_metadata(gan_ckpt, tmp_path, where, key, value):
    """Any JSON value at any place: the loader either loads the stored networks or answers a
    one-line ValueError naming the file — never another exception type."""

    def edit(meta):
        obj = meta
        for k in where:
            if not isinstance(obj.get(k), dict):
                return meta
            obj = obj[k]
        obj[key] = value
        return meta
    path = _hostile(gan_ckpt, tmp_path, edit)
    t0 = time.perf_counter()
    try:
        res, _ = load_gan(path)
    except ValueError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc), str(exc)
    else:  # accepted: then it is exactly the stored network
        for k, v in res.generator.state_dict().items():
            assert torch.equal(v, gan_ckpt[0][f"generator/{k}"])
    assert time.perf_counter() - t0 < 5.0


# ---------------------------------------------------------------------- diffusion
@pytest.mark.parametrize("edit,fields", [
    (lambda m: [m], ("metadata", "list")),
    (_set("net", "hidden", 200000), ("['net']['hidden']", "200000")),
    (_set("net", "hidden", 16), ("shape",)),
    (_set("net", "evil", "x"), ("['net']", "unexpected keys", "evil")),
    (_set("net", "kind", "load"), ("['net']['kind'] must be one of",)),
    (_set("sde", "kind", "ve"), ("['sde']", "unexpected keys")),
    (_set("sde", "beta_max", -1.0), ("['beta_max']",)),
    (_set("sde", "evil", 1.0), ("['sde']", "unexpected keys")),
    (_set("sigma_data", "1"), ("['sigma_data'] must be float",)),
    (_set("sigma_data", 0), ("['sigma_data']",)),
    (_set("net", [1]), ("['net'] must be dict",)),
])
def test_diffusion_loader_refuses_hostile_metadata(diffusion_ckpt, tmp_path, edit, fields):
    path = _hostile(diffusion_ckpt, tmp_path, edit)
    _refused(load_score_model, path, *fields)


def test_diffusion_loader_still_loads(diffusion_ckpt, tmp_path):
    path = _hostile(diffusion_ckpt, tmp_path, _set("note", "kept"))
    model, meta = load_score_model(path)
    assert meta["note"] == "kept"
    for k, v in model.state_dict().items():
        assert torch.equal(v, diffusion_ckpt[0][f"ema/{k}"])


# ---------------------------------------------------------------------- ON-LSTM
LM_CASES = [
    (lambda m: [m], ("metadata", "list")),
    (_set("dtype", "load"), ("['dtype']", "'load'")),
    (_set("config", "hidden_size", 200000), ("['hidden_size']", "200000")),
    (_set("config", "embed_size", 16), ("shape",)),
    (_set("config", "evil", 1), ("['config']", "unexpected keys", "evil")),
    (_set("config", "kind", "gru"), ("['kind'] must be one of",)),
    (lambda m: {**m, "vocab": m["vocab"][:-1]}, ("model/",)),  # a shortened vocabulary
    (_set("vocab", [1, 2, 3]), ("['vocab'][0] must be str",)),
    (_set("vocab", "abc"), ("['vocab'] must be list",)),
    (_set("config", "chunk_size", 3), ("hidden_size",)),  # fails TrainConfig.validate
]


@pytest.mark.parametrize("edit,fields", LM_CASES)
@pytest.mark.parametrize("loader", ["load_model", "Trainer.load"])
def test_onlstm_loaders_refuse_hostile_metadata(lm_ckpt, tmp_path, edit, fields, loader):
    path = _hostile(lm_ckpt, tmp_path, edit, name="last.safetensors")
    fn = load_model if loader == "load_model" else Trainer.load
    _refused(fn, path, *fields)


@pytest.mark.parametrize("edit,fields", [
    (_set("optimizers", "adam", "x"), ("['optimizers']['adam']",)),
    (_set("optimizers", "adam", [{"params": ["a"]}]), ("['optimizers']['adam']",)),
    (_set("step", 2.5), ("['step'] must be int",)),
])
def test_onlstm_trainer_load_refuses_hostile_engine_state(lm_ckpt, tmp_path, edit, fields):
    """What only resuming reads (optimiser groups, step); parsing-only load_model ignores it."""
    path = _hostile(lm_ckpt, tmp_path, edit, name="last.safetensors")
    _refused(Trainer.load, path, *fields)


def test_onlstm_trainer_refuses_a_vocabulary_other_than_its_data(lm_ckpt, tmp_path):
    """Same length, other tokens: the shapes match, the grammar's vocabulary does not."""
    def edit(meta):
        meta["vocab"] = meta["vocab"][:2] + [f"w{i}" for i in range(len(meta["vocab"]) - 2)]
        return meta
    path = _hostile(lm_ckpt, tmp_path, edit, name="last.safetensors")
    _refused(Trainer.load, path, "['vocab']")
    model, vocab, _ = load_model(path)  # parsing-only loading takes the stored vocabulary
    assert vocab.itos[2] == "w0"


# ---------------------------------------------------------------------- classifier
@pytest.mark.parametrize("edit,fields", [
    (lambda m: [m], ("metadata", "list")),
    (_set("dtype", "load"), ("['dtype']", "'load'")),
    (_set("spec", "features", 200000), ("['features']", "200000")),
    (_set("spec", "image_size", [4096, 4096]), ("fc.weight", "shape")),
    (_set("spec", "channels", [2, 4000]), ("shape",)),
    (_set("spec", "channels", [2, 10**6]), ("['spec'] has channels",)),
    (_set("spec", "evil", 1), ("['spec']", "unexpected keys")),
    (_set("spec", "classes", True), ("['classes'] must be int; got bool",)),
])
def test_classifier_loader_refuses_hostile_metadata(clf_ckpt, tmp_path, edit, fields):
    path = _hostile(clf_ckpt, tmp_path, edit)
    _refused(load_classifier, path, *fields)


def test_classifier_loader_still_loads(clf_ckpt, tmp_path):
    path = _hostile(clf_ckpt, tmp_path, _set("test_accuracy", 0.5))
    clf = load_classifier(path)
    assert clf.meta["test_accuracy"] == 0.5 and clf.n_features == 4


# ---------------------------------------------------------------------- one resume rule
def test_onlstm_resume_refuses_changed_architecture(lm_dir):
    path = lm_dir / "last.safetensors"
    for field, value in (("hidden_size", 16), ("chunk_size", 2), ("num_layers", 2)):
        with pytest.raises(ValueError, match=rf"\({field}: \d+ → {value}\)") as info:
            Trainer.load(path, expect={field: value})
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    with pytest.raises(ValueError, match="hidden_size: 8 → 16, num_layers: 1 → 3"):
        Trainer.load(path, expect=TrainConfig(**{**TINY_LM.__dict__, "hidden_size": 16,
                                                 "num_layers": 3}))
    same = Trainer.load(path, expect={"hidden_size": 8, "chunk_size": 4, "num_layers": 1})
    assert same.step == 2


def test_onlstm_lr_override_on_resume_is_used(lm_dir, tmp_path):
    import shutil
    shutil.copy(lm_dir / "last.safetensors", tmp_path / "last.safetensors")
    tr = Trainer.load(tmp_path / "last.safetensors", out_dir=tmp_path,
                      expect={"lr": 0.5, "lr_final": 0.25})
    assert tr.config.lr == 0.5 and tr.config.lr_final == 0.25
    tr.train(3)
    lr = tr.optimizer.param_groups[0]["lr"]
    assert 0.25 <= lr <= 0.5  # the cosine between the new values, not the old 1e-2 → 1e-3
    _, meta = checkpoint.load(tmp_path / "last.safetensors")
    assert meta["config"]["lr"] == 0.5


def _gan(path, lr, steps):
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    return train_gan("gan-qp", data, steps=steps, batch_size=16, hidden=8, z_dim=2, depth=1,
                     lr=lr, checkpoint=path, progress=False, ckpt_every=1)


def test_gan_lr_override_on_resume_is_accepted_and_used(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    _gan(a, 2e-4, 2)
    b.write_bytes(a.read_bytes())
    same = _gan(a, 2e-4, 3)
    lowered = _gan(b, 1e-5, 3)
    assert lowered.start_step == 2 and lowered.step == 3
    _, meta = checkpoint.load(b)
    assert meta["train"]["lr"] == 1e-5
    assert all(g["lr"] == 1e-5 for groups in meta["optimizers"].values() for g in groups)
    # used: the step taken after the resume is smaller than with the old lr
    w0 = _gan(tmp_path / "c.safetensors", 2e-4, 2).generator.state_dict()
    d_same = sum((same.generator.state_dict()[k] - w0[k]).abs().sum() for k in w0)
    d_low = sum((lowered.generator.state_dict()[k] - w0[k]).abs().sum() for k in w0)
    assert d_low < 0.2 * d_same
    with pytest.raises(ValueError, match=r"hidden: 8 → 16.*only lr, lr_final may change"):
        data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
        train_gan("gan-qp", data, steps=4, batch_size=16, hidden=16, z_dim=2, depth=1,
                  checkpoint=b, progress=False)


@pytest.mark.parametrize("edit,fields", [
    (_set("optimizers", "g", "x"), ("['optimizers']['g']",)),
    (_set("optimizers", [1]), ("['optimizers'] must be dict",)),
    (_set("train", [1]), ("['train'] must be dict",)),
    (_set("step", "3"), ("['step'] must be int",)),
    (_set("metrics", [1]), ("['metrics'][0] must be str",)),
])
def test_gan_resume_refuses_hostile_metadata(gan_ckpt, tmp_path, edit, fields):
    path = _hostile(gan_ckpt, tmp_path, edit)
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))

    def resume(p):
        train_gan("bigan-qp", data, steps=3, batch_size=16, hidden=8, z_dim=2, depth=1,
                  checkpoint=p, progress=False)
    _refused(resume, path, *fields)


def test_diffusion_lr_override_on_resume_is_accepted_and_used(tmp_path):
    sde = VPSDE()
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))

    def run(path, lr, steps, hidden=8):
        torch.manual_seed(0)
        net = MLPScoreNet(2, hidden=hidden, depth=1, seed=0)
        return train_diffusion(ScoreModel(net, sde), sde, data, steps=steps, batch_size=16,
                               warmup=1, lr=lr, checkpoint=path, progress=False)
    path = tmp_path / "d.safetensors"
    run(path, 1e-3, 2)
    res = run(path, 1e-5, 3)
    assert res.start_step == 2
    _, meta = checkpoint.load(path)
    assert meta["train"]["lr"] == 1e-5
    assert all(g["lr"] == 1e-5 for groups in meta["optimizers"].values() for g in groups)
    with pytest.raises(ValueError, match="different network"):
        run(path, 1e-5, 4, hidden=16)


def test_check_resume_safe_keys_and_return_value():
    cfg = {"lr": 1e-3, "hidden": 8}
    meta = {"format": "f/1", "train": {"lr": 1e-2, "hidden": 8}}
    assert checkpoint.check_resume("p", meta, "f/1", cfg, what="f",
                                   safe=checkpoint.SAFE_OVERRIDES) == {"lr": (1e-2, 1e-3)}
    with pytest.raises(ValueError, match=r"lr: 0\.01 → 0\.001"):
        checkpoint.check_resume("p", meta, "f/1", cfg, what="f")  # default: nothing is safe
    with pytest.raises(ValueError, match="hidden: 8 → 9"):
        checkpoint.check_resume("p", meta, "f/1", dict(cfg, hidden=9), what="f",
                                safe=checkpoint.SAFE_OVERRIDES)
