"""kexue.checkpoint verifies what it loads: SHA-256 digests of the metadata and every tensor,
no NaN/inf in saved parameters or optimiser state, metadata of the documented form (schema),
network sizes checked on the meta device before any allocation (issue 16)."""

from __future__ import annotations

import json
import math
import struct
import time
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from kexue import checkpoint
from kexue.checkpoint import (
    CorruptCheckpoint,
    Field,
    NonFiniteCheckpoint,
    UnverifiedCheckpointWarning,
)


def _state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"model/weight": torch.randn(64, 32, generator=g),
            "model/bias": torch.randn(64, generator=g),
            "opt/adam/0/exp_avg_sq": torch.rand(64, 32, generator=g),
            "rng/batches": g.get_state(),
            "history/loss": torch.tensor([1.0, float("nan"), 0.5], dtype=torch.float64)}


def _data_offset(path) -> int:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return 8 + n


def _one_line(exc: BaseException, path) -> str:
    msg = str(exc)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_round_trip_with_digests_keeps_everything(tmp_path):
    p = checkpoint.save(tmp_path / "ck.safetensors", _state(), {"step": 3, "train": {"lr": 1e-3}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensors, meta = checkpoint.load(p)
    assert meta == {"step": 3, "train": {"lr": 1e-3}}
    for k, v in _state().items():
        assert torch.equal(tensors[k], v) or (k == "history/loss" and torch.equal(
            tensors[k].isnan(), v.isnan()))


@pytest.mark.parametrize("where", [0, 1000, 8000])
def test_sixteen_flipped_bytes_of_weight_data_are_refused(tmp_path, where):
    p = checkpoint.save(tmp_path / "ck.safetensors", _state(), {"step": 3})
    raw = bytearray(p.read_bytes())
    start = _data_offset(p) + where
    for i in range(start, start + 16):
        raw[i] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(CorruptCheckpoint, match=r"is corrupt: tensor '.*' does not match its "
                                                r"SHA-256") as info:
        checkpoint.load(p)
    _one_line(info.value, p)


def test_one_flipped_bit_anywhere_in_the_data_is_refused(tmp_path):
    p = checkpoint.save(tmp_path / "ck.safetensors", _state(), {"step": 3})
    good = p.read_bytes()
    start = _data_offset(p)
    g = torch.Generator().manual_seed(1)
    for pos in torch.randint(start, len(good), (20,), generator=g).tolist():
        raw = bytearray(good)
        raw[pos] ^= 1 << int(torch.randint(0, 8, (1,), generator=g))
        p.write_bytes(bytes(raw))
        with pytest.raises(CorruptCheckpoint):
            checkpoint.load(p)


def test_edited_metadata_is_refused(tmp_path):
    p = checkpoint.save(tmp_path / "ck.safetensors", _state(), {"step": 3, "hidden": 16})
    raw = p.read_bytes()
    edited = raw.replace(b'\\"hidden\\": 16', b'\\"hidden\\": 99')
    assert edited != raw and len(edited) == len(raw)
    p.write_bytes(edited)
    with pytest.raises(CorruptCheckpoint, match="the metadata does not match its SHA-256"):
        checkpoint.load(p)


def test_nan_weights_are_refused_on_save_and_on_load(tmp_path):
    p = tmp_path / "ck.safetensors"
    checkpoint.save(p, _state(0), {"step": 1})
    bad = _state(1)
    bad["model/weight"] = torch.full((64, 32), float("nan"))
    with pytest.raises(NonFiniteCheckpoint, match=r"model/weight \(2048 of 2048 values\).*"
                                                  "previous checkpoint is kept"):
        checkpoint.save(p, bad, {"step": 2})
    tensors, meta = checkpoint.load(p)  # the previous file is intact
    assert meta == {"step": 1} and torch.equal(tensors["model/weight"], _state(0)["model/weight"])
    # a file with NaN weights written by another program (valid safetensors, no digests)
    q = tmp_path / "nan.safetensors"
    save_file({"model/weight": torch.full((4, 4), float("nan"))}, str(q),
              metadata={checkpoint.META_KEY: "{}"})
    with pytest.warns(UnverifiedCheckpointWarning), \
            pytest.raises(NonFiniteCheckpoint, match="non-finite values in model/weight"):
        checkpoint.load(q)


def test_inf_in_optimizer_state_is_refused_and_the_last_good_checkpoint_is_good(tmp_path):
    p = tmp_path / "ck.safetensors"
    good = _state(0)
    checkpoint.save(p, good, {"step": 230})
    diverged = _state(1)
    diverged["opt/adam/0/exp_avg_sq"][::3] = float("inf")  # parameters finite, optimiser not
    assert all(torch.isfinite(diverged[k]).all() for k in ("model/weight", "model/bias"))
    with pytest.raises(NonFiniteCheckpoint, match=r"opt/adam/0/exp_avg_sq \(704 of 2048"):
        checkpoint.save(p, diverged, {"step": 231})
    tensors, meta = checkpoint.load(p)
    assert meta["step"] == 230
    for k, v in tensors.items():
        if v.is_floating_point() and not k.startswith("history/"):
            assert torch.isfinite(v).all(), k
    assert torch.equal(tensors["opt/adam/0/exp_avg_sq"], good["opt/adam/0/exp_avg_sq"])
    assert sorted(x.name for x in tmp_path.iterdir()) == ["ck.safetensors"]


def test_old_checkpoints_without_digests_load_with_a_warning(tmp_path):
    p = tmp_path / "old.safetensors"
    save_file({"w": torch.ones(3)}, str(p), metadata={checkpoint.META_KEY: '{"step": 5}'})
    with pytest.warns(UnverifiedCheckpointWarning, match="no checksums"):
        tensors, meta = checkpoint.load(p)
    assert meta == {"step": 5} and torch.equal(tensors["w"], torch.ones(3))


def test_stale_temporary_files_of_a_killed_save_are_removed(tmp_path):
    p = tmp_path / "ck.safetensors"
    stale = tmp_path / ".ck.safetensors.abc123.tmp"
    stale.write_bytes(b"\0" * 1000)  # what a SIGKILL mid-save leaves
    other = tmp_path / ".other.safetensors.x.tmp"
    other.write_bytes(b"\0")
    checkpoint.save(p, {"w": torch.ones(2)})
    assert not stale.exists() and other.exists()


def test_digest_sees_one_ulp_dtype_and_shape():
    x = torch.randn(100, generator=torch.Generator().manual_seed(0))
    d = checkpoint.tensor_digest("w", x)
    y = x.clone()
    y[17] = torch.nextafter(y[17], torch.tensor(math.inf))
    assert checkpoint.tensor_digest("w", y) != d
    assert checkpoint.tensor_digest("w", x.double()) != d
    assert checkpoint.tensor_digest("w", x.reshape(10, 10)) != d
    assert checkpoint.tensor_digest("v", x) != d
    assert checkpoint.tensor_digest("w", x.clone()) == d


# ---------------------------------------------------------------- metadata of the wrong form
SCHEMA = {
    "format": Field(str, choices=("lm/1",)),
    "step": Field(int, low=0, high=10**9),
    "dtype": Field(str, choices=("float32", "float64")),
    "config": Field(dict, schema={"hidden": Field(int, low=1, high=8192),
                                  "lr": Field(float, low=0, high=10)}),
    "vocab": Field(list, low=3, high=100_000, items=str),
}
GOOD = {"format": "lm/1", "step": 3, "dtype": "float32", "config": {"hidden": 16, "lr": 1e-3},
        "vocab": ["<pad>", "<eos>", "a", "b"]}


@pytest.mark.parametrize("meta, pattern", [
    ([1, 2, 3], "must be a JSON object; got list"),
    (dict(GOOD, dtype="load"), r"\['dtype'\] must be one of"),
    (dict(GOOD, extra=1), r"unexpected keys \['extra'\]"),
    ({k: v for k, v in GOOD.items() if k != "step"}, r"lacks the keys \['step'\]"),
    (dict(GOOD, config={"hidden": 200000, "lr": 1e-3}),
     r"\['hidden'\] has value 200000, outside \[1, 8192\]"),
    (dict(GOOD, config={"hidden": True, "lr": 1e-3}), r"\['hidden'\] must be int; got bool"),
    (dict(GOOD, vocab=["<pad>"]), r"\['vocab'\] has length 1"),
    (dict(GOOD, vocab=["a", "b", 3]), r"\['vocab'\]\[2\] must be str"),
    (dict(GOOD, step=-1), r"\['step'\] has value -1"),
    (dict(GOOD, config={"hidden": 16, "lr": float("nan")}), r"\['lr'\] has value nan"),
])
def test_validate_meta_refuses_wrong_forms_with_the_number(meta, pattern):
    with pytest.raises(CorruptCheckpoint, match=pattern) as info:
        checkpoint.validate_meta("ck.safetensors", meta, SCHEMA)
    _one_line(info.value, "ck.safetensors")


def test_validate_meta_accepts_the_documented_form():
    checkpoint.validate_meta("ck", GOOD, SCHEMA)
    checkpoint.validate_meta("ck", dict(GOOD, config={"hidden": 16, "lr": 1}), SCHEMA)  # int lr


def test_metadata_that_is_a_json_list_is_refused_on_load(tmp_path):
    p = tmp_path / "list.safetensors"
    save_file({"w": torch.ones(2)}, str(p), metadata={checkpoint.META_KEY: "[1, 2]"})
    with pytest.raises(CorruptCheckpoint, match="wrong form: a JSON list"):
        checkpoint.load(p)


def test_build_module_refuses_an_absurd_size_before_allocating(tmp_path):
    net = torch.nn.Linear(4, 16)
    p = checkpoint.save(tmp_path / "ck.safetensors",
                        {f"model/{k}": v for k, v in net.state_dict().items()}, {"hidden": 16})
    tensors, _ = checkpoint.load(p)
    start = time.perf_counter()
    with pytest.raises(CorruptCheckpoint, match=r"model/bias has shape \(200000000,\), but the "
                                                r"file stores \(16,\)"):
        checkpoint.build_module(p, lambda: torch.nn.Linear(4, 200_000_000), tensors, "model/")
    assert time.perf_counter() - start < 2.0  # 3.2 GB were never allocated
    built = checkpoint.build_module(p, lambda: torch.nn.Linear(4, 16), tensors, "model/")
    assert torch.equal(built.weight, net.weight) and built.weight.device.type == "cpu"


# ---------------------------------------------------------------- hypothesis: metadata fuzz
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=20)


@settings(max_examples=120, deadline=None)
@given(JSON)
def test_fuzzed_metadata_gives_only_documented_exceptions(tmp_path_factory, value):
    p = tmp_path_factory.mktemp("fuzz") / "ck.safetensors"
    # as kexue writes it (digests match) when it is an object; raw otherwise
    if isinstance(value, dict):
        checkpoint.save(p, {"w": torch.ones(2)}, value)
    else:
        save_file({"w": torch.ones(2)}, str(p), metadata={checkpoint.META_KEY: json.dumps(value)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedCheckpointWarning)
        try:
            _, meta = checkpoint.load(p)
        except CorruptCheckpoint as exc:
            _one_line(exc, p)
            assert not isinstance(value, dict)
            return
    assert meta == value
    try:
        checkpoint.validate_meta(p, meta, SCHEMA)
    except CorruptCheckpoint as exc:
        _one_line(exc, p)
    else:
        assert set(meta) == set(SCHEMA)


@settings(max_examples=120, deadline=None)
@given(st.text(max_size=40), st.binary(min_size=1, max_size=16), st.integers(0, 2**16))
def test_fuzzed_headers_and_bytes_give_only_documented_exceptions(tmp_path_factory, text, junk,
                                                                 where):
    d = tmp_path_factory.mktemp("fuzz")
    p = d / "ck.safetensors"
    save_file({"w": torch.ones(8)}, str(p), metadata={checkpoint.META_KEY: text})
    q = checkpoint.save(d / "good.safetensors", _state(), {"step": 1})
    raw = bytearray(q.read_bytes())
    pos = where % len(raw)
    raw[pos:pos + len(junk)] = junk
    q.write_bytes(bytes(raw[:len(q.read_bytes())]))
    for path in (p, q):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnverifiedCheckpointWarning)
            try:
                tensors, meta = checkpoint.load(path)
            except ValueError as exc:  # CorruptCheckpoint, NonFiniteCheckpoint or not safetensors
                _one_line(exc, path)
            else:
                assert isinstance(meta, dict)


# ---------------------------------------------------------------- through the training engine
class _InfOptimizerState:
    """A float64 least-squares task whose Adam state turns inf at ``bad_step`` while the
    parameters stay finite (what the GAN trainer of issue 16 saved at "the last good step")."""

    metrics = ("loss",)

    def __init__(self, bad_step: int):
        g = torch.Generator().manual_seed(5)
        self.x = torch.randn(64, 3, generator=g, dtype=torch.float64)
        self.y = self.x.sum(-1)
        self.net = torch.nn.Linear(3, 1, dtype=torch.float64)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=0.1)
        self.gen = torch.Generator().manual_seed(0)
        self.bad_step = bad_step

    def step(self, k):
        loss = (self.net(self.x).squeeze(-1) - self.y).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        if k + 1 >= self.bad_step:
            for st_ in self.opt.state.values():
                st_["exp_avg_sq"].fill_(float("inf"))
        return (loss.detach(),)

    def modules(self):
        return {"net": self.net}

    def optimizers(self):
        return {"adam": self.opt}

    def generators(self):
        return {"batches": self.gen}


def test_engine_never_writes_inf_optimizer_state_and_keeps_the_last_good_file(tmp_path):
    from kexue.training import Engine

    path = tmp_path / "run.safetensors"
    engine = Engine(_InfOptimizerState(bad_step=12), fmt="test/1", config={"lr": 0.1},
                    checkpoint=path, ckpt_every=5)
    with pytest.raises((ValueError, FloatingPointError), match="opt/adam/"):
        engine.run(20)
    tensors, meta = checkpoint.load(path)  # verified: digests and finiteness
    assert meta["step"] == 10
    assert all(torch.isfinite(v).all() for k, v in tensors.items()
               if v.is_floating_point() and not k.startswith("history/"))
    # and it resumes: a fresh task continues from step 10 with finite state
    resumed = Engine(_InfOptimizerState(bad_step=10**9), fmt="test/1", config={"lr": 0.1},
                     checkpoint=path, ckpt_every=5)
    assert resumed.resume() and resumed.step == 10
    resumed.run(20)
    assert resumed.step == 20 and checkpoint.load(path)[1]["step"] == 20
