"""Differential forms on Rⁿ: wedge, exterior derivative, pullback, integration over parametrised
chains, and Stokes' theorem as one formula for Newton–Leibniz, Green, Kelvin–Stokes and Gauss.

Source: Su Jianlin, exterior differential series (外微分浅谈), part 5 "geometric meaning"
(kexue.fm archive 4062, 2016-11-06).

    >>> from kexue.forms import coords, d, wedge, integrate, boundary
    >>> from kexue.forms import disk
    >>> (x, y), (dx, dy) = coords("x y")
    >>> omega = -y * dx + x * dy
    >>> d(omega)
    2*dx^dy
    >>> integrate(omega, boundary(disk()))
    2*pi
"""

from ..extras import symbolic as _require_symbolic

_require_symbolic()  # sympy, mpmath or MissingExtraError (kexue[symbolic]), at import
from ._calculus import curl, d, div, grad, pullback
from ._chain import Cell, Chain, boundary
from ._form import Coordinates, Form, coords, wedge
from ._integrate import (
    METHODS,
    NUMERIC_NODES,
    StokesCheck,
    check_stokes,
    integrate,
    singularities,
)
from ._kepler import (
    ORIENTATIONS,
    area_form,
    eccentric_anomaly,
    integrate_orbit,
    integrate_oriented,
    kepler_orbit,
    linear_fit,
    orbit_chain,
    orientation_sign,
    sector_chain,
    stokes_sign,
    swept_area_closed,
)
from ._stokes import (
    STOKES_CASES,
    StokesCase,
    annulus,
    ball,
    disk,
    ellipse,
    hemisphere,
    unit_cube,
    unit_square,
)
from ._volume import volume

__all__ = [
    # the contract
    "Form", "coords", "wedge", "d", "pullback", "integrate", "Chain", "boundary",
    # algebra and geometry
    "Coordinates", "Cell", "grad", "curl", "div", "volume",
    # integration and Stokes
    "METHODS", "NUMERIC_NODES", "singularities", "check_stokes", "StokesCheck",
    "StokesCase", "STOKES_CASES",
    # standard domains
    "disk", "ellipse", "annulus", "hemisphere", "ball", "unit_square", "unit_cube",
    # Kepler's second law and the orientation conventions
    "area_form", "eccentric_anomaly", "kepler_orbit", "orbit_chain", "sector_chain",
    "swept_area_closed", "integrate_orbit", "linear_fit", "ORIENTATIONS", "orientation_sign",
    "integrate_oriented", "stokes_sign",
]
