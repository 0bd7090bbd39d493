"""Experiment protocol: registry contract, config resolution, failure capture, determinism."""

import dataclasses
import json

import pytest
import torch

from kexue.devices import device_text
from kexue.experiments import (
    Claim,
    ConfigError,
    Experiment,
    Result,
    get,
    registry,
    resolve_config,
    run_experiment,
)


@dataclasses.dataclass
class _Cfg:
    n: int = 10
    scale: float = 1.0
    flag: bool = False
    name: str = "a"
    sizes: tuple = (1, 2)
    seed: int = 0


def _ok(cfg):
    return Result(claims=[Claim("n is n", cfg.n, cfg.n, "exact", True)])


def _boom(cfg):
    raise RuntimeError("deliberate")


SPEC = Experiment(name="toy", title="t", article="a", article_url="u", claim="c", config=_Cfg,
                  run=_ok, quick={"n": 3})


def test_registry_contract():
    specs = registry()
    assert "smooth-max" in specs
    for name, spec in specs.items():
        assert spec.name == name and spec.article_url.startswith("https://")
        assert spec.section and spec.claim and spec.references
        cfg = resolve_config(spec, quick=True)
        assert isinstance(cfg.seed, int)
    with pytest.raises(KeyError, match="valid names: .*smooth-max"):
        get("nope")


def test_resolve_config_presets_overrides_and_types():
    assert resolve_config(SPEC, quick=False).n == 10
    assert resolve_config(SPEC, quick=True).n == 3
    cfg = resolve_config(SPEC, quick=True, overrides={
        "n": "5", "scale": "2.5", "flag": "yes", "name": "b", "sizes": "3,4,5"}, seed=9)
    assert (cfg.n, cfg.scale, cfg.flag, cfg.name, cfg.sizes, cfg.seed) == (
        5, 2.5, True, "b", (3, 4, 5), 9)
    with pytest.raises(ConfigError, match="unknown config key 'bogus'.*valid keys: flag, n"):
        resolve_config(SPEC, quick=False, overrides={"bogus": "1"})
    with pytest.raises(ConfigError, match="expected a value of type int"):
        resolve_config(SPEC, quick=False, overrides={"n": "ten"})
    with pytest.raises(ConfigError, match="type bool"):
        resolve_config(SPEC, quick=False, overrides={"flag": "maybe"})


def test_spec_validation():
    @dataclasses.dataclass
    class NoSeed:
        n: int = 1

    with pytest.raises(TypeError, match="seed"):
        Experiment(name="x", title="", article="", article_url="", claim="", config=NoSeed,
                   run=_ok)
    with pytest.raises(TypeError, match="unknown keys"):
        Experiment(name="x", title="", article="", article_url="", claim="", config=_Cfg,
                   run=_ok, quick={"m": 1})


def test_run_experiment_fills_metadata_and_captures_failure():
    r = run_experiment(SPEC, resolve_config(SPEC, quick=True), quick=True)
    assert r.status == "ok" and r.passed and r.name == "toy" and r.config["n"] == 3
    assert r.runtime_s >= 0 and r.seed == 0 and r.quick
    bad = dataclasses.replace(SPEC, run=_boom)
    r = run_experiment(bad, _Cfg())
    assert r.status == "failed" and not r.passed and "deliberate" in r.error
    assert "RuntimeError" in r.notes


def test_claim_coerces_numpy_scalars():
    import numpy as np

    c = Claim("s", np.float64(1.5), np.float32(2.0), "t", np.bool_(True))
    assert type(c.expected) is float and type(c.passed) is bool
    assert c.to_dict()["obtained"] == 2.0


@pytest.mark.parametrize("name", ["smooth-max"])
def test_quick_experiment_passes_and_is_deterministic(name):
    spec = get(name)
    cfg = resolve_config(spec, quick=True)
    a, b = run_experiment(spec, cfg), run_experiment(spec, cfg)
    assert a.status == "ok", a.error
    assert a.passed, [c for c in a.claims if not c.passed]
    assert [c.obtained for c in a.claims] == [c.obtained for c in b.claims]


@dataclasses.dataclass
class _DevCfg:
    seed: int = 0
    device: str = "auto"


def _report_device(cfg):
    # what an experiment sees: its config's device, resolved
    from kexue.experiments._base import config_device

    return Result(claims=[Claim("device", "", str(config_device(cfg)), "", True)])


DEV_SPEC = Experiment(name="dev", title="t", article="a", article_url="u", claim="c",
                      config=_DevCfg, run=_report_device)


def test_runner_resolves_and_records_the_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = run_experiment(DEV_SPEC, _DevCfg(device="auto"))
    assert r.status == "ok" and r.claims[0].obtained == "cpu"
    assert r.device == device_text("cpu") == f"cpu ({torch.get_num_threads()} threads)"
    assert r.processes == 1 and r.to_dict()["processes"] == 1
    # a Config without the field (transition) runs and is recorded on the CPU
    r = run_experiment(SPEC, _Cfg())
    assert r.status == "ok" and r.device == device_text("cpu")
    # a device that does not exist fails the run with the fix, it does not raise
    r = run_experiment(DEV_SPEC, _DevCfg(device="cuda"))
    assert r.status == "failed" and "CUDA is not available" in r.error and "cpu" in r.error
    assert r.device == "cuda (unavailable)"
    r = run_experiment(DEV_SPEC, _DevCfg(device="tpu"))
    assert r.status == "failed" and "auto, cpu, cuda" in r.error


def test_an_experiment_may_describe_its_own_device():
    def symbolic(cfg):
        from kexue.experiments._base import host_device_text

        return Result(device=host_device_text(cfg, "SymPy"), claims=[])

    r = run_experiment(dataclasses.replace(DEV_SPEC, run=symbolic), _DevCfg(device="cpu"))
    assert r.device == "cpu (SymPy)"


MINE = ["smooth-max", "smooth-f1", "noise-vs-penalty", "vat-digits", "forms-stokes",
        "feynman-catalogue"]


@pytest.mark.parametrize("name", MINE)
def test_experiments_take_a_device(name):
    fields = {f.name: f for f in dataclasses.fields(get(name).config)}
    assert fields["device"].default == "auto" and fields["device"].type in (str, "str")
    cfg = resolve_config(get(name), quick=True, overrides={"device": "cpu"})
    assert cfg.device == "cpu"


@pytest.mark.gpu  # skipped by conftest.py without CUDA; `make test-gpu` runs it
def test_quick_experiment_end_to_end_on_cuda(tmp_path):
    """`kexue reproduce smooth-max --quick --device cuda`: the claims hold on the GPU and the
    report says which GPU."""
    from typer.testing import CliRunner

    from kexue.cli import app

    res = CliRunner().invoke(app, ["reproduce", "smooth-max", "--quick", "--device", "cuda",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (exp,) = json.loads((tmp_path / "results.json").read_text())["experiments"]
    assert exp["config"]["device"].startswith("cuda:") and exp["passed"], exp["claims"]
    assert exp["device"] == device_text(exp["config"]["device"])
    assert torch.cuda.get_device_name(0) in exp["device"]
