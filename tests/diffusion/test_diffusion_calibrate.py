"""kexue.diffusion.calibrate: grid search over sampler settings on a calibration draw (in the
spirit of "Align Your Steps", Sabour et al. 2024). On the ring of 8 Gaussians with its exact score
(VP SDE, float64): the chosen member is the argmin of the reported errors and never worse than the
untuned trig_pc; its kwargs generalise to a fresh draw; bad input raises with a clear message."""

from __future__ import annotations

import math

import pytest
import torch

from kexue.diffusion import (
    TRIG_PC_DEFAULT,
    VPSDE,
    Calibration,
    GaussianMixture,
    calibrate,
    default_family,
    pathwise_error,
    sample,
)

F64 = torch.float64
NFE = 8


@pytest.fixture(scope="module")
def ring():
    """The ring under the VP SDE, 64 calibration starts (seed 1) and their calibration at NFE 8
    with the default 64-member trig_pc family."""
    torch.set_num_threads(1)
    sde = VPSDE()
    gm = GaussianMixture.ring()
    sc = gm.score_fn(sde)
    x_cal = gm.at(sde, sde.T).sample(64, torch.Generator().manual_seed(1))
    return gm, sde, sc, x_cal, calibrate(sc, sde, x_cal, NFE)


def _reference(sc, sde, x):
    t_end = float(sde.t_of_sigma(torch.tensor(1e-6, dtype=F64)))
    return sample(sc, sde, x, method="rk45", rtol=1e-9, atol=1e-9, t_end=t_end,
                  denoise_last="ode")[0]


def test_best_member_is_argmin_and_beats_default(ring):
    gm, sde, sc, x_cal, cal = ring
    assert isinstance(cal, Calibration)
    assert len(cal.family) == len(cal.errors) == len(cal.nfes) == 64
    assert list(cal.family) == default_family()
    assert TRIG_PC_DEFAULT in cal.family
    assert cal.error == min(cal.errors) == cal.errors[cal.index]
    assert cal.kwargs == cal.family[cal.index]
    assert cal.error <= cal.error_of(**TRIG_PC_DEFAULT)
    assert cal.nfe == NFE and cal.steps == NFE - 1
    assert all(n == NFE for n in cal.nfes)            # trig_pc: steps = nfe − 1 → nfe evaluations
    assert cal.reference_nfe > 100 and cal.reference_tol == 1e-9
    # the reported error is reproduced by running the chosen kwargs as documented
    x, info = sample(sc, sde, x_cal, steps=cal.steps, **cal.kwargs)
    assert info["nfe"] == NFE
    ref = _reference(sc, sde, x_cal)
    assert pathwise_error(x, ref) == pytest.approx(cal.error, rel=1e-6, abs=1e-9)


def test_calibrated_kwargs_generalise_to_a_fresh_draw(ring):
    gm, sde, sc, x_cal, cal = ring
    x_new = gm.at(sde, sde.T).sample(128, torch.Generator().manual_seed(2))
    ref = _reference(sc, sde, x_new)
    err_best = pathwise_error(sample(sc, sde, x_new, steps=cal.steps, **cal.kwargs)[0], ref)
    err_default = pathwise_error(sample(sc, sde, x_new, steps=cal.steps,
                                        **TRIG_PC_DEFAULT)[0], ref)
    # measured: ≈ 0.0065 vs ≈ 0.05 (NFE 8, 7×); assert a clear margin of 3×
    assert err_best < err_default / 3, (err_best, err_default)


def test_given_reference_and_custom_family(ring):
    gm, sde, sc, x_cal, cal = ring
    ref = _reference(sc, sde, x_cal)
    fam = [dict(method="dpmpp_2m", grid="logsnr"), dict(method="heun", grid="karras"),
           cal.kwargs]
    lines: list[str] = []
    c2 = calibrate(sc, sde, x_cal, NFE, family=fam, reference=ref, progress=lines.append)
    assert c2.reference_nfe == 0 and c2.reference_tol is None
    assert len(lines) == 3
    assert math.isinf(c2.errors[1])                  # heun: 2 evaluations per step, over budget
    assert c2.nfes[0] == NFE                         # dpmpp_2m: steps + the final evaluation
    assert c2.kwargs == cal.kwargs and c2.error == pytest.approx(cal.error, rel=1e-6)


def test_bad_input(ring):
    gm, sde, sc, x_cal, _ = ring
    with pytest.raises(TypeError, match="score_fn must be a callable"):
        calibrate(None, sde, x_cal, NFE)
    with pytest.raises(TypeError, match="sde must be a GaussianPathSDE"):
        calibrate(sc, "vp", x_cal, NFE)
    with pytest.raises(TypeError, match="x_cal must be a floating-point tensor"):
        calibrate(sc, sde, x_cal.long(), NFE)
    with pytest.raises(ValueError, match=r"x_cal must have shape \(batch"):
        calibrate(sc, sde, x_cal[0], NFE)
    with pytest.raises(ValueError, match="x_cal contains non-finite"):
        calibrate(sc, sde, torch.full_like(x_cal, math.nan), NFE)
    for bad in (1, 0, 2.5, True, "8"):
        with pytest.raises(ValueError, match="nfe must be an int >= 2"):
            calibrate(sc, sde, x_cal, bad)
    with pytest.raises(ValueError, match="no default family"):
        calibrate(sc, sde, x_cal, NFE, method="heun")
    with pytest.raises(ValueError, match="family is empty"):
        calibrate(sc, sde, x_cal, NFE, family=[])
    with pytest.raises(TypeError, match="iterable of dicts"):
        calibrate(sc, sde, x_cal, NFE, family=dict(method="trig_pc"))
    with pytest.raises(TypeError, match=r"family\[0\] must be a dict"):
        calibrate(sc, sde, x_cal, NFE, family=["trig_pc"])
    with pytest.raises(ValueError, match=r"family\[0\] needs 'method' among .*trig_pc"):
        calibrate(sc, sde, x_cal, NFE, family=[dict(method="magic")])
    with pytest.raises(ValueError, match="not a fixed-step deterministic sampler"):
        calibrate(sc, sde, x_cal, NFE, family=[dict(method="em")])
    with pytest.raises(ValueError, match="with eta=0.5"):
        calibrate(sc, sde, x_cal, NFE, family=[dict(method="ddim", eta=0.5)])
    with pytest.raises(ValueError, match="'steps'.*remove them"):
        calibrate(sc, sde, x_cal, NFE, family=[dict(method="trig_pc", steps=4)])
    ref = torch.zeros_like(x_cal)
    with pytest.raises(ValueError, match="reference must have x_cal's shape"):
        calibrate(sc, sde, x_cal, NFE, reference=ref[:3])
    with pytest.raises(TypeError, match="reference must be a floating-point tensor"):
        calibrate(sc, sde, x_cal, NFE, reference=ref.numpy())
    with pytest.raises(ValueError, match="reference_tol must be a positive number"):
        calibrate(sc, sde, x_cal, NFE, reference_tol=0.0)
    with pytest.raises(ValueError, match="no family member fits the budget nfe=3"):
        calibrate(sc, sde, x_cal, 3, family=[dict(method="heun")], reference=ref)
