"""Kepler's second law from the area 1-form ``ω = ½(x dy − y dx)``, and the reversed orientation
convention ``dx∧dy ↔ −dx dy``.

Source: Su Jianlin, exterior differential series (外微分浅谈), part 5 "geometric meaning" (kexue.fm
archive 4062, 2016-11-06): ``dω = dx∧dy``, so by Stokes the area of a region is the line integral
of ω around its boundary; along a ray from the origin ``x dy − y dx = 0``, so the area swept by the
radius vector from the focus is ``∫ ω`` along the orbit arc alone. Read with Newton's central
force, ``ω(ṙ) = ½(x ẏ − y ẋ) = L/2`` is constant: equal areas in equal times (issue 14 reads the
article's equation (11) this way). The article also mentions the opposite convention for the
orientation of ``dx∧dy``; :func:`integrate_oriented` implements it and the theorems come out the
same with signs flipped.

Closed form (eccentric anomaly E, focus at the origin, periapsis on the +x axis):
``x = a(cos E − e)``, ``y = b sin E``, ``b = a√(1 − e²)``, Kepler's equation
``M = E − e sin E = n(t − t_p)``, ``n = √(μ/a³)``; the pullback of ω is ``½ab(1 − e cos E) dE``, so
the swept area is ``½ab(E − e sin E) = ½ab·n·(t − t_p)`` — exactly linear in t.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy
from scipy.integrate import solve_ivp

from ._chain import Cell, Chain
from ._coefficients import _coefficient
from ._form import Coordinates, Form, coords
from ._integrate import NUMERIC_NODES, integrate

__all__ = ["area_form", "eccentric_anomaly", "kepler_orbit", "orbit_chain", "sector_chain",
           "swept_area_closed", "integrate_orbit", "linear_fit", "ORIENTATIONS",
           "orientation_sign", "integrate_oriented", "stokes_sign"]

ORIENTATIONS = ("standard", "reversed")
"""Orientation conventions of :func:`integrate_oriented`."""


def area_form(coordinates: Coordinates | None = None) -> Form:
    """``ω = ½(x dy − y dx)`` on R², with ``dω = dx∧dy`` (kexue.fm 4062).

    Args:
        coordinates: 2-D :class:`Coordinates` (default ``coords("x y")``).

    Raises:
        ValueError: the coordinates are not 2-D.
    """
    C = coordinates if coordinates is not None else coords("x y")
    if not isinstance(C, Coordinates) or C.dim != 2:
        raise ValueError(f"area_form: coordinates must be 2-D Coordinates (e.g. coords('x y')); "
                         f"got {C!r}.")
    (x, y), (dx, dy) = C
    return sympy.Rational(1, 2) * (x * dy - y * dx)


def _check_orbit(a: float, e: float, mu: float) -> None:
    for name, v in (("a", a), ("e", e), ("mu", mu)):
        if not isinstance(v, (int, float, np.floating, np.integer)) or isinstance(v, bool):
            raise TypeError(f"kepler: {name} must be a real number; got {type(v).__name__}.")
    if not a > 0:
        raise ValueError(f"kepler: the semi-major axis a must be positive; got {a}.")
    if not 0 <= e < 1:
        raise ValueError(f"kepler: the eccentricity e must be in [0, 1) for an ellipse; got {e}. "
                         "Parabolic/hyperbolic orbits are not supported.")
    if not mu > 0:
        raise ValueError(f"kepler: mu = GM must be positive; got {mu}.")


def eccentric_anomaly(M: Any, e: float, *, tol: float = 1e-15, max_iter: int = 50) -> np.ndarray:
    """Solve Kepler's equation ``E − e sin E = M`` for E (Newton's method, float64).

    Source: the area law as a 1-form integral (kexue.fm archive 4062).

    Args:
        M: mean anomaly, any shape.
        e: eccentricity in [0, 1).
        tol: stop when every Newton step is below ``tol·(1 + |E|)``.

    Returns:
        ``E`` with the shape of ``M``.

    Raises:
        ValueError: ``e`` outside [0, 1), or no convergence within ``max_iter`` steps.
    """
    if not 0 <= e < 1:
        raise ValueError(f"eccentric_anomaly: e must be in [0, 1); got {e}.")
    M = np.asarray(M, dtype=np.float64)
    E = M + e * np.sin(M) if e < 0.8 else M + np.sign(np.sin(M)) * e + 0 * M
    for _ in range(max_iter):
        step = (E - e * np.sin(E) - M) / (1 - e * np.cos(E))
        E = E - step
        if np.all(np.abs(step) <= tol * (1 + np.abs(E))):
            return E
    raise ValueError(f"eccentric_anomaly: Newton did not converge in {max_iter} steps (e = {e}).")


def kepler_orbit(t: Any, *, a: float = 1.0, e: float = 0.5, mu: float = 1.0,
                 t_peri: float = 0.0) -> np.ndarray:
    """Positions on a Kepler ellipse at times ``t`` (closed form through the eccentric anomaly).

    Source: the area law as a 1-form integral (kexue.fm archive 4062).

    Args:
        t: times, shape ``(T,)``.
        a, e: semi-major axis and eccentricity; mu: ``GM``; t_peri: time of periapsis.

    Returns:
        ``(T, 2)`` array of ``(x, y)``, focus at the origin, counter-clockwise motion.
    """
    _check_orbit(a, e, mu)
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"kepler_orbit: t must be 1-D (T,); got shape {t.shape}.")
    n = np.sqrt(mu / a**3)
    E = eccentric_anomaly(n * (t - t_peri), e)
    b = a * np.sqrt(1 - e**2)
    return np.stack([a * (np.cos(E) - e), b * np.sin(E)], axis=-1)  # (T, 2)


def orbit_chain(a: Any, e: Any, E0: Any = 0, E1: Any = 2 * sympy.pi) -> Chain:
    """The orbit arc ``E ↦ (a(cos E − e), a√(1−e²) sin E)``, ``E ∈ [E0, E1]``, as a 1-chain.

    Source: the area law as a 1-form integral (kexue.fm archive 4062).
    """
    E = sympy.Symbol("E", real=True)
    a, e = _coefficient(a, "orbit"), _coefficient(e, "orbit")
    b = a * sympy.sqrt(1 - e**2)
    return Chain((a * (sympy.cos(E) - e), b * sympy.sin(E)), (E,), [(E0, E1)])


def sector_chain(a: Any, e: Any, E0: Any = 0, E1: Any = 2 * sympy.pi) -> Chain:
    """The focal sector swept between eccentric anomalies E0 and E1:
    ``(s, E) ↦ s·(a(cos E − e), b sin E)``, ``s ∈ [0, 1]`` — a 2-chain whose boundary is the arc
    plus two radial segments (on which ω vanishes) and a degenerate point.

    Source: the area law as a 1-form integral (kexue.fm archive 4062).
    """
    s, E = sympy.Symbol("s", real=True), sympy.Symbol("E", real=True)
    a, e = _coefficient(a, "orbit"), _coefficient(e, "orbit")
    b = a * sympy.sqrt(1 - e**2)
    return Chain((s * a * (sympy.cos(E) - e), s * b * sympy.sin(E)), (s, E),
                 [(0, 1), (E0, E1)])


def swept_area_closed(t: Any, *, a: float = 1.0, e: float = 0.5, mu: float = 1.0,
                      t_peri: float = 0.0) -> np.ndarray:
    """``A(t) = ½ab·n·(t − t_p)``: the area swept from periapsis, shape of ``t``.

    Source: the area law as a 1-form integral (kexue.fm archive 4062).
    """
    _check_orbit(a, e, mu)
    t = np.asarray(t, dtype=np.float64)
    return 0.5 * a * a * np.sqrt(1 - e**2) * np.sqrt(mu / a**3) * (t - t_peri)


def integrate_orbit(r0: Any, v0: Any, t: Any, *, mu: float = 1.0,
                    perturbation: Callable | None = None, rtol: float = 1e-12,
                    atol: float = 1e-13) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate ``r̈ = −μ r/|r|³ (+ perturbation)`` and, along the way, the area 1-form.

    Source: the area law as a 1-form integral (kexue.fm archive 4062).

    The swept area is the line integral of ``ω = ½(x dy − y dx)`` along the computed orbit,
    ``A(t) = ∫_0^t ω_{r(s)}(ṙ(s)) ds``, carried as a fifth state of the ODE and integrated with
    the same adaptive DOP853 steps (scipy ``solve_ivp``); ω is evaluated on the velocity with the
    coefficients of :func:`area_form`.

    Args:
        r0, v0: initial position and velocity, shape ``(2,)``.
        t: output times, shape ``(T,)``, increasing, starting at the initial time.
        mu: ``GM``.
        perturbation: optional extra acceleration ``(t, r, v) -> (2,)`` (a non-central force
            breaks the law — the control of the experiment).
        rtol, atol: tolerances of ``solve_ivp``.

    Returns:
        ``(positions (T, 2), velocities (T, 2), areas (T,))``.

    Raises:
        ValueError: bad shapes, non-increasing times, or a failed integration.
    """
    r0, v0 = np.asarray(r0, dtype=np.float64), np.asarray(v0, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if r0.shape != (2,) or v0.shape != (2,):
        raise ValueError(f"integrate_orbit: r0 and v0 must have shape (2,); got {r0.shape} and "
                         f"{v0.shape}.")
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("integrate_orbit: t must be a 1-D increasing array of at least 2 "
                         "times.")
    if not mu > 0:
        raise ValueError(f"integrate_orbit: mu must be positive; got {mu}.")
    omega = area_form()
    X, Y = omega.coordinates.symbols
    cx = sympy.lambdify((X, Y), omega.coefficient(0), "numpy")  # coefficient of dx
    cy = sympy.lambdify((X, Y), omega.coefficient(1), "numpy")  # coefficient of dy

    def rhs(s: float, z: np.ndarray) -> np.ndarray:
        x, y, vx, vy = z[:4]
        r3 = (x * x + y * y) ** 1.5
        acc = np.array([-mu * x / r3, -mu * y / r3])
        if perturbation is not None:
            acc = acc + np.asarray(perturbation(s, z[:2], z[2:4]), dtype=np.float64)
        dA = cx(x, y) * vx + cy(x, y) * vy  # ω_r(ṙ)
        return np.array([vx, vy, acc[0], acc[1], dA])

    sol = solve_ivp(rhs, (t[0], t[-1]), np.r_[r0, v0, 0.0], method="DOP853", t_eval=t,
                    rtol=rtol, atol=atol)
    if not sol.success:
        raise ValueError(f"integrate_orbit: the integration failed ({sol.message}).")
    z = sol.y.T  # (T, 5)
    return z[:, :2], z[:, 2:4], z[:, 4]


def linear_fit(t: Any, A: Any) -> tuple[float, float, float]:
    """Least-squares ``A ≈ α + β t``: ``(β, α, max |residual| / max |A − A[0]|)``.

    Source: the area law (kexue.fm archive 4062): the swept area is linear in time.
    """
    t, A = np.asarray(t, dtype=np.float64), np.asarray(A, dtype=np.float64)
    if t.shape != A.shape or t.ndim != 1 or t.size < 3:
        raise ValueError(f"linear_fit: t and A must be 1-D of the same length ≥ 3; got "
                         f"{t.shape} and {A.shape}.")
    V = np.stack([np.ones_like(t), t], axis=1)  # (T, 2)
    (alpha, beta), *_ = np.linalg.lstsq(V, A, rcond=None)
    scale = max(float(np.max(np.abs(A - A[0]))), 1e-300)
    return float(beta), float(alpha), float(np.max(np.abs(A - alpha - beta * t))) / scale


# ------------------------------------------------------------------------------------------
# orientation conventions
# ------------------------------------------------------------------------------------------


def orientation_sign(k: int, orientation: str = "standard") -> int:
    """The sign a k-form integral picks up under ``orientation``.

    Source: kexue.fm archive 4062 (orientation of chains).

    ``"standard"``: ``∫ f dx_1∧…∧dx_k = ∫ f dx_1…dx_k`` (sign +1). ``"reversed"``: the wedge is
    read in the reversed order, ``∫ f dx_1∧…∧dx_k = ∫ f dx_k…dx_1`` — in the plane
    ``dx∧dy ↔ dy dx = −dx dy`` — which is ``(−1)^{k(k−1)/2}``: +1 for points and curves, −1 for
    surfaces and 3-volumes.
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {', '.join(ORIENTATIONS)}; got "
                         f"{orientation!r}.")
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"orientation_sign: k must be a non-negative int; got {k!r}.")
    return 1 if orientation == "standard" else (-1) ** (k * (k - 1) // 2)


def integrate_oriented(form: Form, chain: Chain, *, orientation: str = "standard",
                       method: str = "auto", nodes: int = NUMERIC_NODES) -> Any:
    """``∫_chain ω`` under an orientation convention (kexue.fm 4062 mentions both).

    ``"reversed"`` is computed, not multiplied in: every cell is re-parametrised with its
    parameters in reversed order (the box and the map unchanged), so the pullback is taken
    against ``du_k∧…∧du_1``; for a k-cell this is the factor :func:`orientation_sign`. Under it
    Stokes reads ``∫_{∂M} ω = (−1)^{k−1} ∫_M dω`` for a k-chain: Green and Kelvin–Stokes change
    sign, Newton–Leibniz and Gauss do not (see :func:`stokes_sign`).

    Args:
        form, chain, method, nodes: as :func:`kexue.forms.integrate`.
        orientation: ``"standard"`` or ``"reversed"``.
    """
    orientation_sign(0, orientation)  # validates
    if orientation == "standard" or not isinstance(chain, Chain) or chain.dim < 2:
        return integrate(form, chain, method=method, nodes=nodes)
    cells = [(c, Cell(cell.map, cell.params[::-1], cell.bounds[::-1])) for c, cell in chain.cells]
    flipped = Chain._from_cells(cells, chain.dim, chain.ambient_dim)
    return integrate(form, flipped, method=method, nodes=nodes)


def stokes_sign(k: int, orientation: str = "standard") -> int:
    """``s`` in ``∫_{∂M} ω = s·∫_M dω`` for a k-chain M under ``orientation`` (with the
    boundary operator unchanged): ``orientation_sign(k−1)·orientation_sign(k) = (−1)^{k−1}`` for
    ``"reversed"``, 1 for ``"standard"``.

    Source: kexue.fm archive 4062 (orientation of chains).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"stokes_sign: k must be a positive int; got {k!r}.")
    return orientation_sign(k - 1, orientation) * orientation_sign(k, orientation)
