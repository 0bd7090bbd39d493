"""Hostile input to the public API (issue 16): every case ends in the documented exception or
warning, with a message naming the argument and the fix, within a time bound — no hang, no
allocator or autograd traceback, no silent wrong answer. The size checks of ``kexue._limits``
are tested with hypothesis; the config validation of ``resolve_config`` with a dummy Config."""

from __future__ import annotations

import dataclasses
import math
import time
import warnings

import numpy as np
import pytest
import sympy
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kexue import _limits
from kexue._limits import (
    ENV_ALLOW_LARGE,
    SizeLimitError,
    check_has_data,
    check_int,
    check_memory,
    check_work,
    format_bytes,
)
from kexue.experiments._base import ConfigError, Experiment, Result, resolve_config

TIME_BOUND = 10.0  # seconds, imports included; the refused work would take hours or never end


@pytest.fixture
def quick():
    """Assert the block ends within ``TIME_BOUND``."""
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < TIME_BOUND


# ----------------------------------------------------------------------------- kexue._limits
GIB = 2**30


@pytest.fixture
def eight_gib(monkeypatch):
    """Pretend 8 GiB are available, so the tests do not depend on this machine's memory."""
    monkeypatch.delenv(ENV_ALLOW_LARGE, raising=False)
    monkeypatch.setattr(_limits, "available_memory", lambda device=None: 8 * GIB)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nbytes=st.one_of(st.integers(0, 2**80), st.floats(0, 1e30)))
def test_check_memory_refuses_exactly_above_half_the_available_memory(eight_gib, nbytes):
    if nbytes > 4 * GIB:
        with pytest.raises(SizeLimitError) as info:
            check_memory("the thing", nbytes, fix="use less")
        msg = str(info.value)
        assert "\n" not in msg and "the thing" in msg and "use less" in msg
        assert format_bytes(nbytes) in msg and "8 GiB" in msg and ENV_ALLOW_LARGE in msg
    else:
        check_memory("the thing", nbytes, fix="use less")


def test_check_memory_overflow_and_the_overrides(eight_gib, monkeypatch):
    with pytest.raises(SizeLimitError, match="overflows"):
        check_memory("x", float("inf"), fix="f")
    check_memory("x", 1e18, fix="f", force=True)
    monkeypatch.setenv(ENV_ALLOW_LARGE, "1")
    check_memory("x", 1e18, fix="f")
    check_work("x", 1e30, limit=1.0, unit="u", fix="f")


@settings(max_examples=100, deadline=None)
@given(units=st.floats(0, 1e20), limit=st.floats(1, 1e12))
def test_check_work_refuses_above_its_limit(units, limit):
    if units > limit:
        with pytest.raises(SizeLimitError, match=r"path-steps, above the limit of"):
            check_work("w", units, limit=limit, unit="path-steps", fix="f")
    else:
        check_work("w", units, limit=limit, unit="path-steps", fix="f")


@settings(max_examples=100, deadline=None)
@given(value=st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True), st.booleans(),
                       st.text(max_size=3), st.none()))
def test_check_int_gives_only_documented_exceptions(value):
    try:
        out = check_int("n", value, low=1, high=1000)
    except TypeError:
        assert isinstance(value, bool) or not isinstance(value, int)
    except SizeLimitError:
        assert value > 1000
    except ValueError:
        assert value < 1
    else:
        assert out == value and 1 <= out <= 1000


def test_available_memory_is_positive():
    assert _limits.available_memory() > 0
    assert format_bytes(1536) == "1.5 KiB"


def test_meta_tensors_are_refused_by_name():
    with pytest.raises(ValueError, match="probe is on the 'meta' device"):
        check_has_data(torch.empty(3, device="meta"), "probe")
    t = torch.zeros(2)
    assert check_has_data(t) is t


# --------------------------------------------------------------------- Fokker–Planck (1-D, 2-D)
def _ou(theta: float = 1.0, sigma: float = 0.8):
    from kexue.stochastic import SDE

    return SDE(lambda t, x: -theta * x, lambda t, x: torch.full_like(x, sigma))


def _delta(x: np.ndarray, x0: float) -> np.ndarray:
    p = np.zeros_like(x)
    p[int(np.argmin(np.abs(x - x0)))] = 1.0 / (x[1] - x[0])
    return p


def test_fokker_planck_refuses_zero_diffusion_at_once(quick):
    from kexue.stochastic import SDE, fokker_planck

    sde = SDE(lambda t, x: -x, lambda t, x: torch.zeros_like(x))
    x = np.linspace(-1, 1, 101)
    with pytest.raises(ValueError, match="diffusion is zero on the whole grid.*solve"):
        fokker_planck(sde, x, _delta(x, 0.0), [0.0, 1.0])


def test_fokker_planck_refuses_a_collapsed_grid_before_marching(quick):
    """The hang of ``kexue sde density --diffusion 0``: Δx ≈ 7e-8 made dt = Δx, 1.4e7 steps."""
    from kexue.stochastic import fokker_planck
    from kexue.stochastic._pde_grid import MAX_PDE_WORK

    x = np.linspace(-7e-6, 7e-6, 201)  # dx = 7e-8
    with pytest.raises(SizeLimitError, match=r"time steps on 201 grid points.*dt") as info:
        fokker_planck(_ou(), x, _delta(x, 0.0), [0.0, 1.0])
    assert f"{MAX_PDE_WORK:.3g}" in str(info.value)
    with pytest.raises(ValueError, match="time step .* too small"):
        fokker_planck(_ou(), np.linspace(-1, 1, 11), np.zeros(11), [0.0, 1e300], dt=1e-300)


def test_fokker_planck_warns_of_a_negative_density_with_its_minimum():
    """Drift 40, diffusion 0.05 on Δx = 0.1: cell Péclet number 40·0.1/0.00125 = 3200 ≫ 2, so
    central differences oscillate; the values are reported, not clipped."""
    from kexue.stochastic import SDE, NegativeDensityWarning, fokker_planck

    sde = SDE(lambda t, x: torch.full_like(x, 40.0), lambda t, x: torch.full_like(x, 0.05))
    x = np.linspace(-2.0, 10.0, 121)
    with pytest.warns(NegativeDensityWarning) as rec:
        P = fokker_planck(sde, x, _delta(x, 0.0), [0.0, 0.1], rannacher=0)
    msg = str(rec[0].message)
    assert f"minimum {P.min():.3g}" in msg and "Péclet" in msg and "finer grid" in msg
    assert P.min() < 0  # not clipped


def test_fokker_planck_of_a_resolved_ou_has_no_warning_and_the_exact_variance():
    """OU from a delta: variance σ²(1 − e^{−2θT})/(2θ) (closed form); no negative density."""
    from kexue.stochastic import fokker_planck

    x = np.linspace(-4, 4, 801)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = fokker_planck(_ou(), x, _delta(x, 0.0), [0.0, 1.0], rannacher=4, dt=0.005)[-1]
    h = x[1] - x[0]
    var = float(np.sum(x**2 * P) * h)
    assert var == pytest.approx(0.64 * (1 - math.exp(-2.0)) / 2.0, rel=2e-3)


def test_pde2d_sizes_are_checked_before_allocating(monkeypatch, quick):
    from kexue.stochastic import fokker_planck_2d, path_integral_2d

    monkeypatch.delenv(ENV_ALLOW_LARGE, raising=False)
    monkeypatch.setattr(_limits, "available_memory", lambda device=None: 64 * 2**20)
    x = np.linspace(-3, 3, 61)
    p0 = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2))
    drift = lambda t, X: -X  # noqa: E731
    with pytest.raises(SizeLimitError, match=r"dense \(3721, 3721\) slice matrix"):
        path_integral_2d(drift, x, x, p0, 1.0, alpha=1.0, n_slices=10)
    with pytest.raises(SizeLimitError, match=r"fokker_planck_2d \(10000000000 steps"):
        fokker_planck_2d(drift, x, x, p0, 1.0, alpha=1.0, n_steps=10**10)


# ---------------------------------------------------------------------------------- integrals
def test_verify_caps_digits_like_the_cli(quick):
    from kexue.integrals import verify
    from kexue.integrals._parametric import MAX_DIGITS

    assert MAX_DIGITS == 200
    with pytest.raises(ValueError, match="digits must be at most 200"):
        verify("F3", digits=10**6)
    with pytest.raises(TypeError, match="positive int"):
        verify("F3", digits=2.5)


def test_evaluate_caps_digits(quick):
    from kexue.integrals import CATALOGUE

    with pytest.raises(ValueError, match=r"1\.\.200"):
        CATALOGUE["F3"].integral.evaluate(sympy.Rational(3, 2), digits=201)


@pytest.mark.parametrize("points, pattern", [
    ([{"zz": 1}], r"F3 has no symbol 'zz'; its closed form's symbols are: a"),
    ([{}], r"gives no value for a"),
    ([{"a": float("nan")}], r"value of a must be a finite real number"),
    ([{"a": sympy.I}], r"value of a must be a finite real number"),
    ([{"a": "__import__('os')"}], r"value of a must be a finite real number"),
    ({"a": 1}, r"points must be a sequence of mappings"),
    ([3], r"each point must be a mapping"),
])
def test_verify_refuses_points_whose_symbols_do_not_match(points, pattern, quick):
    from kexue.integrals import verify

    with pytest.raises((ValueError, TypeError), match=pattern):
        verify("F3", points=points, digits=10)


def test_verify_with_matching_symbols_still_agrees():
    """F3 at a = 2 by name and by symbol: the closed form and the quadrature agree to 15."""
    from kexue.integrals import CATALOGUE, verify

    (a,) = CATALOGUE["F3"].closed_form.free_symbols
    assert verify("F3", points=[{"a": 2}], digits=15).ok
    assert verify("F3", points=[{a: sympy.Rational(5, 2)}], digits=15).ok


# ------------------------------------------------------------------------------------- smooth
@pytest.mark.parametrize("call", [
    lambda s: s.smooth_max(torch.empty(3, 0)),
    lambda s: s.smooth_min(torch.empty(0)),
    lambda s: s.soft_argmax(torch.empty(2, 0)),
    lambda s: s.soft_onehot(torch.empty(0, 4), dim=0),
])
def test_smooth_max_family_refuses_an_empty_dimension(call):
    from kexue import smooth

    with pytest.raises(ValueError, match="no entries along dim.*empty set is undefined"):
        call(smooth)


def test_smooth_max_bad_dim_and_meta_and_empty_batches():
    from kexue import smooth

    with pytest.raises(ValueError, match=r"dim=5 is out of range.*-1\.\.0"):
        smooth.smooth_max(torch.ones(3), dim=5)
    with pytest.raises(ValueError, match="meta"):
        smooth.smooth_max(torch.ones(3, device="meta"))
    with pytest.raises(ValueError, match="meta"):
        smooth.smooth_relu(torch.ones(3, device="meta"))
    with pytest.raises(ValueError, match="at least one example"):
        smooth.soft_accuracy(torch.empty(0, 3), torch.empty(0, dtype=torch.long))
    with pytest.raises(ValueError, match="targets is on the 'meta' device"):
        smooth.soft_f1(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long, device="meta"))
    # the maths still holds: max ≤ LSE_k ≤ max + log(n)/k, float64
    x = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    v = float(smooth.smooth_max(x, k=4.0))
    assert 2.0 <= v <= 2.0 + math.log(3) / 4.0
    assert float(smooth.smooth_max(torch.tensor(2.5, dtype=torch.float64))) == 2.5


# ------------------------------------------------------------------------------ regularize
@pytest.mark.parametrize("fn", [
    lambda x: torch.ones(x.shape[0], requires_grad=True),  # ignores its input
    lambda x: torch.ones(x.shape[0]),  # no graph at all
    lambda x: x.detach().sum(1),  # detaches
    lambda x: torch.as_tensor(x.detach().numpy().sum(1)),  # through NumPy
])
def test_gradient_penalty_on_a_function_that_ignores_its_input(fn, quick):
    from kexue.regularize import input_gradient_penalty

    with pytest.raises(ValueError, match="does not depend on its input x"):
        input_gradient_penalty(fn, torch.randn(4, 3))
    with pytest.raises(ValueError, match="does not depend on its input x"):
        input_gradient_penalty(fn, torch.randn(4, 3), n_projections=2, generator=0)


def test_gradient_penalty_meta_input_and_the_exact_value():
    from kexue.regularize import input_gradient_penalty

    with pytest.raises(ValueError, match="meta"):
        input_gradient_penalty(lambda x: x.sum(1), torch.zeros(4, 3, device="meta"))
    # f(x) = a·x has ‖∇f‖² = ‖a‖² for every example (float64, exact)
    a = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    pen = input_gradient_penalty(lambda z: z @ a, x, reduction="none")
    assert torch.allclose(pen, torch.full((5,), 5.25, dtype=torch.float64), atol=1e-12)
    # a function whose gradient is zero but which uses x is not refused
    zero = input_gradient_penalty(lambda z: (z * 0.0).sum(1), x)
    assert float(zero) == 0.0


# ----------------------------------------------------------------------------------- forms
def test_forms_refuse_non_finite_and_string_coefficients(quick):
    from kexue.forms import Chain, Form, coords, pullback

    C = coords("x y")
    x, y = C.symbols
    for bad in (sympy.zoo, sympy.nan, sympy.oo, float("nan"), float("inf"), x / 0):
        with pytest.raises(ValueError, match="not finite.*zoo, nan or oo"):
            Form({(0,): bad}, C)
    with pytest.raises(ValueError, match="not finite"):
        Form({(0,): x}, C) / 0
    with pytest.raises(ValueError, match="not finite"):
        C.form(sympy.zoo)
    with pytest.raises(TypeError, match="not strings"):
        Form({(0, 1): "__import__('os').getcwd()"}, C)
    with pytest.raises(TypeError, match="not strings"):
        C.work(["x", "y"])
    u = sympy.Symbol("u")
    with pytest.raises(TypeError, match="not strings"):
        Chain(("u", u), (u,), [(0, 1)])
    with pytest.raises(TypeError, match="not strings"):
        pullback(Form({(0,): x}, C), ["x", "y"], source=coords("x y"))
    with pytest.raises(TypeError, match="scalar SymPy expression"):
        Form({(0,): sympy.Matrix([1, 2])}, C)
    # good coefficients still work, exactly: d(x dy) = dx∧dy
    from kexue.forms import d

    assert d(Form({(1,): x}, C)) == Form({(0, 1): 1}, C)


# --------------------------------------------------------------------- experiment configs
@dataclasses.dataclass
class _Dummy:
    n: int = 10
    lo: float = 0.5
    hi: float = 2.0
    flag: bool = True
    sizes: tuple = (2, 3)
    label: str = "a"
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        if self.hi <= self.lo:
            raise ConfigError(f"dummy: hi = {self.hi} must be > lo ({self.lo})")
        if self.n < 1:
            raise ValueError(f"n must be >= 1; got {self.n}")


@dataclasses.dataclass
class _NoHook:
    x: float = 1.0
    seed: int = 0


def _spec(config=_Dummy, quick=None) -> Experiment:
    return Experiment(name="dummy", title="t", article="a", article_url="u", claim="c",
                      config=config, run=lambda c: Result(), quick=quick or {})


@pytest.mark.parametrize("sets, pattern", [
    ({"n": "1.5"}, r"--set n: expected a value of type int.*got .1\.5."),
    ({"n": "nan"}, r"expected a value of type int"),
    ({"lo": "nan"}, r"--set lo: expected a finite number; got .nan."),
    ({"lo": "-inf"}, r"expected a finite number"),
    ({"flag": "maybe"}, r"expected a value of type bool"),
    ({"sizes": ""}, r"expected a value of type tuple"),
    ({"sizes": "1,x"}, r"expected a value of type int"),
    ({"hi": "0.1"}, r"dummy: hi = 0.1 must be > lo"),  # the hook, a relation
    ({"n": "0"}, r"dummy: invalid config: n must be >= 1"),  # the hook's ValueError wrapped
    ({"seed": "-1"}, r"seed = -1 is out of range"),
    ({"nope": "1"}, r"unknown config key 'nope'"),
])
def test_resolve_config_refuses_bad_values_with_one_line(sets, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        resolve_config(_spec(), quick=False, overrides=sets)
    assert "\n" not in str(info.value)


def test_resolve_config_accepts_good_values_and_integral_floats():
    cfg = resolve_config(_spec(), quick=False,
                         overrides={"n": "1e3", "lo": "0.25", "sizes": "(4, 5)", "flag": "off"})
    assert (cfg.n, cfg.lo, cfg.sizes, cfg.flag) == (1000, 0.25, (4, 5), False)
    assert resolve_config(_spec(_NoHook), quick=False, overrides={"x": "3"}).x == 3.0


def test_resolve_config_checks_the_quick_preset_too():
    with pytest.raises(ConfigError, match=r"dummy: lo = nan is not finite"):
        resolve_config(_spec(quick={"lo": float("nan")}), quick=True)
    with pytest.raises(ConfigError, match=r"dummy: n = 2.0 is not an int"):
        resolve_config(_spec(quick={"n": 2.0}), quick=True)


@settings(max_examples=150, deadline=None)
@given(raw=st.text(max_size=12))
def test_any_text_for_a_float_field_parses_finite_or_is_refused(raw):
    try:
        cfg = resolve_config(_spec(_NoHook), quick=False, overrides={"x": raw})
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        assert math.isfinite(cfg.x)


def test_every_registered_experiment_validates_its_presets():
    from kexue.experiments import registry

    for spec in registry().values():
        for q in (False, True):
            resolve_config(spec, quick=q)


def test_solve_refuses_a_meta_x0_by_name():
    from kexue.stochastic import SDE, solve

    ou = SDE(lambda t, x: -x, lambda t, x: torch.ones_like(x))
    with pytest.raises(ValueError, match="x0 is on the meta device"):
        solve(ou, torch.zeros(8, 1, device="meta"), [0.0, 1.0], dt=0.1, generator=0)
