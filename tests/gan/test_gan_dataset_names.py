"""One set of dataset names: kexue.gan takes kexue.data's "ring"/"grid"; the old "ring8"/"grid25"
are deprecated aliases that warn and give the same data, runs and checkpoints."""

import warnings

import pytest
import torch
from typer.testing import CliRunner

from kexue.data import TOY_DATASETS, grid_of_gaussians, ring_of_gaussians, toy
from kexue.gan import (
    DATASET_ALIASES,
    DATASETS,
    TOY_STD,
    dataset_name,
    load_gan,
    load_gan_data,
    train_gan,
)

TINY = dict(batch_size=8, z_dim=2, hidden=8, depth=1, progress=False)


def test_the_names_are_kexue_data_names():
    assert set(DATASETS) - {"digits"} <= set(TOY_DATASETS)
    assert set(DATASET_ALIASES.values()) <= set(DATASETS)
    assert TOY_STD == {"ring": 0.02, "grid": 0.05}  # GAN-QP's paper settings


@pytest.mark.parametrize("old,new", sorted(DATASET_ALIASES.items()))
def test_alias_warns_and_gives_the_same_tensors(old, new):
    with pytest.warns(DeprecationWarning, match=f"'{old}' is deprecated; use '{new}'"):
        a = load_gan_data(old, n=500, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name does not warn
        b = load_gan_data(new, n=500, seed=4)
    assert a.shape == (500, 2) and torch.equal(a, b)
    # the same draw as kexue.data's own function with the documented std and seed
    fn = {"ring": ring_of_gaussians, "grid": grid_of_gaussians}[new]
    assert torch.equal(b, fn(500, 10_004, std=TOY_STD[new]))
    assert torch.equal(b, toy(new, 500, 10_004))  # kexue.data's defaults are these stds
    with pytest.warns(DeprecationWarning):
        assert dataset_name(old) == new
    with pytest.raises(ValueError, match="unknown dataset 'ring9'.*ring, grid, digits"):
        dataset_name("ring9")


def test_alias_trains_identically_and_resumes_an_old_checkpoint(tmp_path):
    with pytest.warns(DeprecationWarning, match="'ring8' is deprecated"):
        old = train_gan("gan-qp", "ring8", steps=2, seed=1, **TINY)
    new = train_gan("gan-qp", "ring", steps=2, seed=1, **TINY)
    for a, b in zip(old.generator.parameters(), new.generator.parameters()):
        assert torch.equal(a, b)
    assert new.config["data"] == "ring"
    # a checkpoint written under the old name (as before the rename) resumes under the new one
    ck = tmp_path / "old.safetensors"
    with pytest.warns(DeprecationWarning):
        train_gan("gan-qp", "ring8", steps=2, seed=1, checkpoint=ck, **TINY)
    from kexue import checkpoint

    _, meta = checkpoint.load(ck)
    meta["train"]["data"] = "ring8"  # an old run stored the old name
    tensors, _ = checkpoint.load(ck)
    checkpoint.save(ck, tensors, meta)
    resumed = train_gan("gan-qp", "ring", steps=4, seed=1, checkpoint=ck, **TINY)
    assert resumed.start_step == 2 and resumed.step == 4
    full = train_gan("gan-qp", "ring", steps=4, seed=1, **TINY)
    for a, b in zip(full.generator.parameters(), resumed.generator.parameters()):
        assert torch.equal(a, b)
    assert load_gan(ck)[1]["step"] == 4


def test_cli_shows_new_names_and_accepts_old_ones(tmp_path):
    from kexue.cli._gan import app

    runner = CliRunner()
    res = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert "grid | ring | digits" in res.stdout
    res = runner.invoke(app, ["train", "--data", "ring8", "--out", str(tmp_path), "--steps", "2",
                              "--hidden", "8", "--depth", "1", "--batch-size", "8",
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "note: --data ring8 is deprecated; use ring" in res.stderr
    assert "gan-qp on ring: 2 generator steps" in res.stdout
    assert "modes covered" in res.stdout
    res = runner.invoke(app, ["train", "--data", "grid2", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "did you mean 'grid'" in res.stderr
