"""Experiment protocol: registry contract, config resolution, failure capture, determinism."""

import dataclasses

import pytest

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
