"""Bad input to BrownianInterval, solve_adaptive and the SDE boundary check: every case raises
ValueError or TypeError whose message names the argument, says what came, and says how to fix it
(issue 18). Each pattern below matches all three parts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kexue.stochastic import SDE, BrownianInterval, solve
from kexue.stochastic._adaptive import solve_adaptive

F64 = torch.float64
X0 = torch.ones(4, 2, dtype=F64)


def ou() -> SDE:
    return SDE(lambda t, x: -x, lambda t, x: x.new_tensor(0.5), noise="additive")


# --------------------------------------------------------------------- BrownianInterval queries
@pytest.mark.parametrize("s, t, exc, pattern", [
    (0.5, 0.5, ValueError, r"need s < t .*got s=0\.5, t=0\.5\. Swap them"),
    (0.7, 0.2, ValueError, r"need s < t .*got s=0\.7, t=0\.2\. Swap them"),
    (-0.1, 0.5, ValueError, r"s=-0\.1 is outside the Brownian interval \[t0, t1\] = \[0\.0, "
                            r"1\.0\]; build the BrownianInterval over the whole solve interval"),
    (0.2, 1.5, ValueError, r"t=1\.5 is outside the Brownian interval .*build the"),
    (math.nan, 0.5, ValueError, r"s must be finite; got nan\. Pass a time inside"),
    (0.1, math.inf, ValueError, r"t must be finite; got inf\. Pass a time inside"),
    ("0.1", 0.5, TypeError, r"s must be a real number .*got str\. Query one interval"),
    (torch.tensor([0.1, 0.2]), 0.5, TypeError,
     r"s must be a real number .*got a tensor of shape \(2,\)\. .*increments\(ts\)"),
])
def test_brownian_interval_bad_query(s, t, exc, pattern):
    bm = BrownianInterval(0.0, 1.0, (3, 2), seed=0)
    with pytest.raises(exc, match=pattern):
        bm(s, t)


def test_brownian_interval_bad_query_leaves_the_path_unchanged():
    """A rejected query does not disturb the tree: the same increment before and after."""
    bm = BrownianInterval(0.0, 1.0, (3, 2), seed=0)
    before = bm(0.25, 0.75)
    for s, t in ((0.75, 0.25), (0.5, 2.0), (-1.0, 0.5)):
        with pytest.raises(ValueError):
            bm(s, t)
    assert torch.equal(bm(0.25, 0.75), before)


def test_brownian_interval_other_bad_input():
    bm = BrownianInterval(0.0, 1.0, (3, 2), seed=0)
    with pytest.raises(ValueError, match=r"return_U needs the Lévy area: build the "
                                         r"BrownianInterval with levy_area='space-time'"):
        bm(0.1, 0.2, return_U=True)
    with pytest.raises(ValueError, match=r"ts: time 1\.5 is outside the Brownian interval .*"
                                         r"build the BrownianInterval over"):
        bm.increments([0.0, 0.5, 1.5])
    with pytest.raises(ValueError, match=r"ts must be strictly increasing"):
        bm.increments([0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"t0 must be < t1; got t0=1\.0, t1=1\.0\. Swap them"):
        BrownianInterval(1.0, 1.0, (3, 2))
    with pytest.raises(ValueError, match=r"tol must be in \(0, t1 - t0\] = \(0, 1\.0\]; got "
                                         r"2\.0\. Take tol <= dt/2"):
        BrownianInterval(0.0, 1.0, (3, 2), tol=2.0)
    with pytest.raises(ValueError, match=r"cache_size must be a positive int; got 0\. The "
                                         r"default 128"):
        BrownianInterval(0.0, 1.0, (3, 2), cache_size=0)
    with pytest.raises(ValueError, match=r"levy_area must be one of .*got 'full'\. Use "
                                         r"'space-time'"):
        BrownianInterval(0.0, 1.0, (3, 2), levy_area="full")
    with pytest.raises(ValueError, match=r"shape must have positive sizes, e\.g\. \(batch, m\); "
                                         r"got \(3, 0\)"):
        BrownianInterval(0.0, 1.0, (3, 0))


# --------------------------------------------------------------------- solve_adaptive arguments
@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(rtol=0.0), ValueError, r"rtol must be a positive finite number; got 0\.0\. Typical"),
    (dict(rtol=-1e-3), ValueError, r"rtol must be a positive finite number; got -0\.001\. "),
    (dict(rtol=math.nan), ValueError, r"rtol must be a positive finite number; got nan\. "),
    (dict(rtol=math.inf), ValueError, r"rtol must be a positive finite number; got inf\. "),
    (dict(rtol="1e-3"), TypeError, r"rtol must be a positive float; got str\. Typical"),
    (dict(atol=-1e-6), ValueError, r"atol must be a non-negative finite number; got -1e-06\. "
                                   r"Typical values: rtol=1e-3, atol=1e-4"),
    (dict(dt0=0.0), ValueError, r"dt0 must be a positive finite number; got 0\.0\. "),
    (dict(dt0=-0.1), ValueError, r"dt0 must be a positive finite number; got -0\.1\. "),
    (dict(dt_min=0.0), ValueError, r"dt_min must be a positive finite number; got 0\.0"),
    (dict(dt_max=-1.0), ValueError, r"dt_max must be a positive finite number; got -1\.0"),
    (dict(dt_max=1e-9), ValueError, r"dt_max=1e-09 is below dt_min=.*raise dt_max or lower "
                                    r"dt_min"),
    (dict(max_steps=0), ValueError, r"max_steps must be a positive int; got 0\. It bounds the "
                                    r"step attempts, e\.g\. max_steps=100_000"),
    (dict(max_steps=-5), ValueError, r"max_steps must be a positive int; got -5\."),
    (dict(max_steps=2.5), TypeError, r"max_steps must be a positive int; got float 2\.5\."),
    (dict(error_estimate="richardson"), ValueError,
     r"error_estimate must be one of auto, embedded, doubling; got 'richardson'"),
    (dict(brownian=torch.zeros(10, 4, 2)), TypeError,
     r"brownian must be a BrownianInterval \(rejected steps are re-queried at new times\); got "
     r"Tensor\. Build one with BrownianInterval\(t0, t1, \(batch, m\)"),
    (dict(brownian=BrownianInterval(0.0, 0.5, (4, 2), seed=0)), ValueError,
     r"brownian covers \[0\.0, 0\.5\] but ts spans \[0\.0, 1\.0\]; build it over ts"),
    (dict(brownian=BrownianInterval(0.0, 1.0, (4, 1), seed=0)), ValueError,
     r"brownian has shape \(4, 1\); the solve needs \(batch, m\) = \(4, 2\)"),
    (dict(method="sra1", brownian=BrownianInterval(0.0, 1.0, (4, 2), seed=0)), ValueError,
     r"method 'sra1' needs levy_area='space-time' in brownian"),
    (dict(method="milstein", error_estimate="embedded"), ValueError,
     r"method 'milstein' has no embedded pair .*use error_estimate='doubling'"),
])
def test_solve_adaptive_bad_arguments(kwargs, exc, pattern):
    kwargs = {"generator": 0, **kwargs} if "brownian" not in kwargs else kwargs
    with pytest.raises(exc, match=pattern):
        solve_adaptive(ou(), X0, [0.0, 1.0], **kwargs)


def test_solve_adaptive_accepts_numpy_scalars():
    r = solve_adaptive(ou(), X0, [0.0, 1.0], rtol=np.float32(1e-2), atol=np.float64(1e-3),
                       max_steps=np.int64(1000), generator=0)
    assert r.xs.shape == (2, 4, 2)


def test_solve_adaptive_max_steps_reached_names_the_fix():
    with pytest.raises(RuntimeError, match=r"2 step attempts reached at t=.*raise max_steps or "
                                           r"loosen rtol/atol"):
        solve_adaptive(ou(), X0, [0.0, 1.0], rtol=1e-8, atol=1e-10, max_steps=2, generator=0)


# ------------------------------------------------ diffusion shape for the declared noise type
def _g(shape_fn):
    return lambda t, x: torch.ones(shape_fn(*x.shape), dtype=x.dtype)


@pytest.mark.parametrize("noise, g, exc, pattern", [
    ("diagonal", _g(lambda b, d: (b, d, 3)), ValueError,
     r"returned a matrix of shape \(4, 2, 3\) but noise='diagonal' expects shape \(batch, d\) = "
     r"\(4, 2\)\. Declare noise='general'"),
    ("diagonal", _g(lambda b, d: (b, d + 1)), ValueError,
     r"diffusion\(t, x\) must return shape \(batch, d\) = \(4, 2\) .*got \(4, 3\) at t=0\. "
     r"Keep the trailing state dimension"),
    ("diagonal", _g(lambda b, d: (d, b)), ValueError,
     r"diffusion\(t, x\) must return shape \(batch, d\) = \(4, 2\) .*got \(2, 4\)"),
    ("scalar", _g(lambda b, d: (b, d, 1)), ValueError,
     r"shape \(4, 2, 1\) but noise='scalar' expects shape \(batch, d\).*noise='general'"),
    ("additive", _g(lambda b, d: (b, 2 * d)), ValueError,
     r"diffusion\(t, x\) must return shape \(batch, d\) = \(4, 2\) .*got \(4, 4\)"),
    ("general", _g(lambda b, d: (b, d)), ValueError,
     r"must return shape \(batch, d, m\) = \(4, 2, m\) \(or \(1, 2, m\)\) for noise='general'; "
     r"got \(4, 2\) at t=0\. Reshape it"),
    ("general", _g(lambda b, d: (b, d + 1, 3)), ValueError,
     r"\(batch, d, m\) = \(4, 2, m\) .*got \(4, 3, 3\)"),
    ("general", _g(lambda b, d: (b + 1, d, 3)), ValueError,
     r"\(batch, d, m\) = \(4, 2, m\) .*got \(5, 2, 3\)"),
    ("general", lambda t, x: 0.5, TypeError,
     r"must return a tensor of shape \(batch, d, m\) for noise='general'; got float"),
    ("diagonal", lambda t, x: 0.5, TypeError,
     r"diffusion\(t, x\) must return a tensor broadcastable to x\.shape \(4, 2\).*got float\. "
     r"Return e\.g\. torch\.full_like"),
])
@pytest.mark.parametrize("adaptive", [False, True])
def test_diffusion_of_the_wrong_shape_for_its_noise_type(noise, g, exc, pattern, adaptive):
    sde = SDE(lambda t, x: -x, g, noise=noise)
    with pytest.raises(exc, match=pattern):
        if adaptive:
            solve_adaptive(sde, X0, [0.0, 1.0], generator=0)
        else:
            solve(sde, X0, [0.0, 1.0], dt=0.1, generator=0)


def test_broadcastable_diffusions_are_accepted():
    """Shapes that broadcast to (batch, d) are valid for diagonal/additive/scalar noise, and
    (1, d, m) for general noise: no false alarm from the shape checks."""
    for noise, g in (("diagonal", _g(lambda b, d: (b, 1))), ("additive", _g(lambda b, d: (d,))),
                     ("scalar", _g(lambda b, d: ())), ("general", _g(lambda b, d: (1, d, 3)))):
        out = solve(SDE(lambda t, x: -x, g, noise=noise), X0, [0.0, 1.0], dt=0.25, generator=0)
        assert out.shape == (2, 4, 2) and bool(torch.isfinite(out).all())


@pytest.mark.parametrize("gdx, exc, pattern", [
    (lambda t, x: torch.ones(x.shape[0], dtype=x.dtype), ValueError,
     r"diffusion_dx\(t, x\) must return shape \(batch, d\) = \(4, 2\) \(the elementwise "
     r"∂g_i/∂x_i.*got \(4,\) at t=0\. Keep the trailing state dimension"),
    (lambda t, x: torch.ones(x.shape[0], 2 * x.shape[1], dtype=x.dtype), ValueError,
     r"diffusion_dx\(t, x\) must return shape \(batch, d\) = \(4, 2\).*got \(4, 4\)"),
    (lambda t, x: 0.3, TypeError,
     r"diffusion_dx\(t, x\) must return a tensor broadcastable to x\.shape \(4, 2\).*got "
     r"float\. Return e\.g\. torch\.full_like\(x, c\)"),
])
def test_diffusion_dx_of_the_wrong_shape(gdx, exc, pattern):
    """Milstein multiplies g by diffusion_dx elementwise: a (batch,) derivative would broadcast
    to (batch, batch) silently; the boundary check rejects it."""
    sde = SDE(lambda t, x: -x, lambda t, x: 0.3 * x, diffusion_dx=gdx)
    with pytest.raises(exc, match=pattern):
        solve(sde, X0, [0.0, 1.0], dt=0.1, method="milstein", generator=0)


def test_solve_without_dt_on_a_coarse_grid_warns_and_dt_silences_it():
    """Issue 15: solve(sde, x0, [0, 1]) took one step and gave a wrong OU mean silently."""
    import warnings

    from kexue.stochastic import MIN_DEFAULT_STEPS, CoarseStepWarning

    ou = SDE.linear(-1.0, 0.5, 0.0, 0.3)
    x0 = torch.zeros(4, 1, dtype=torch.float64)
    with pytest.warns(CoarseStepWarning, match="dt=1e-3"):
        solve(ou, x0, [0.0, 1.0], generator=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CoarseStepWarning)
        solve(ou, x0, [0.0, 1.0], dt=1.0, generator=0)  # coarse on purpose: no warning
        solve(ou, x0, torch.linspace(0, 1, MIN_DEFAULT_STEPS + 1), generator=0)
    with pytest.warns(CoarseStepWarning):
        solve(ou, x0, torch.linspace(0, 1, MIN_DEFAULT_STEPS), generator=0)
