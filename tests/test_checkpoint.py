"""kexue.checkpoint: safetensors round trip, atomic replace, never unpickle."""

import os

import pytest
import torch

from kexue import checkpoint


def test_round_trip(tmp_path):
    g = torch.Generator().manual_seed(0)
    tensors = {"w": torch.randn(3, 4, generator=g, dtype=torch.float64),
               "step": torch.tensor(17), "rng": g.get_state()}
    meta = {"step": 17, "config": {"lr": 1e-3, "name": "x"}}
    path = checkpoint.save(tmp_path / "sub" / "ck.safetensors", tensors, meta)
    out, m = checkpoint.load(path)
    assert m == meta
    for k, v in tensors.items():
        assert torch.equal(out[k], v) and out[k].dtype == v.dtype


def test_shared_storage_and_views_are_saved(tmp_path):
    base = torch.arange(10.0)
    out, _ = checkpoint.load(checkpoint.save(tmp_path / "a.safetensors",
                                             {"a": base, "b": base[2:5]}))
    assert torch.equal(out["b"], torch.tensor([2.0, 3.0, 4.0]))


def test_atomic_no_temp_files_and_old_file_kept_on_failure(tmp_path):
    p = tmp_path / "ck.safetensors"
    checkpoint.save(p, {"x": torch.ones(2)}, {"v": 1})
    with pytest.raises(TypeError, match="JSON"):
        checkpoint.save(p, {"x": torch.zeros(2)}, {"v": object()})
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        checkpoint.save(p, {"x": 3.0})
    out, meta = checkpoint.load(p)
    assert meta == {"v": 1} and torch.equal(out["x"], torch.ones(2))
    assert os.listdir(tmp_path) == ["ck.safetensors"]


def test_refuses_pickles(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"a": torch.ones(1)}, p)
    with pytest.raises(ValueError, match="never unpickles"):
        checkpoint.load(p)
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "missing.safetensors")


def test_fingerprint_is_exact_and_independent_of_threads():
    fingerprint = checkpoint.fingerprint
    x = torch.randn(50_000, 2, generator=torch.Generator().manual_seed(0))
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = fingerprint(x)
        torch.set_num_threads(1)
        one = fingerprint(x)
    finally:
        torch.set_num_threads(n)
    assert one == two
    y = x.clone()
    y[123, 1] = torch.nextafter(y[123, 1], torch.tensor(float("inf")))  # one ulp
    assert fingerprint(y) != one
    assert fingerprint(x.double()) != one and fingerprint(x.reshape(2, -1)) != one


def test_check_resume_refuses_other_kinds_and_configurations():
    cfg = {"lr": 1e-3, "steps": 10, "data_fingerprint": "abc"}
    checkpoint.check_resume("p", {"format": "f/1", "train": dict(cfg)}, "f/1", cfg, what="x")
    with pytest.raises(ValueError, match="'p' is not a x checkpoint"):
        checkpoint.check_resume("p", {"format": "g/1", "train": cfg}, "f/1", cfg, what="x")
    with pytest.raises(ValueError, match=r"configuration \(lr: 0\.01 → 0\.001\)"):
        checkpoint.check_resume("p", {"format": "f/1", "train": dict(cfg, lr=1e-2)}, "f/1", cfg,
                                what="x")
    with pytest.raises(ValueError, match=r"\(different data\)"):
        checkpoint.check_resume("p", {"format": "f/1", "train": dict(cfg, data_fingerprint="z")},
                                "f/1", cfg, what="x")
