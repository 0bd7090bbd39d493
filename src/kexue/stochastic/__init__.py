"""Random walks ⇄ SDEs ⇄ parabolic PDEs ⇄ path integrals: Su Jianlin's thesis as one API.

The path-integral series on kexue.fm (archives 3749, 3750, 3757, 3762, 3766): an asymmetric
random walk with step probabilities ``½(1 ± pΔs/α)`` has the continuum limit
``P_t = (α/2) P_xx − ∂x(pP)`` (Fokker–Planck), which ``P = e^{U/α}φ`` turns into the
imaginary-time Schrödinger equation ``α φ_t = (α²/2) φ_xx + V φ``,
``V = −½(α p_x + p²) − ∫ p_t dx``, whose solution is a path integral (Feynman–Kac); the SDE
``dx = p dt + √α dW`` gives the same path weight (Onsager–Machlup).

* Walks: :class:`RandomWalk` (exact law, gambler's ruin, continuum limit), :class:`LatticeWalk`
  (exact master-equation propagation).
* SDEs: :class:`SDE` (``SDE.linear(a, b, c, d)`` for ``dx = (ax + b)dt + (cx + d)dW``: GBM,
  OU, run as one fused kernel per step), :func:`solve` with ``euler``/``milstein``/``heun``/
  ``sra1``/``midpoint`` (each method declares ``strong_order``/``weak_order``), diagonal,
  additive, scalar and general (``(batch, d, m)`` matrix) noise, Itô or Stratonovich
  (``sde_type``; :func:`ito_stratonovich_correction`), :class:`BrownianIncrements` for nested
  grids, :class:`BrownianInterval` (a Brownian path queryable at any time, order-independent),
  :func:`solve_adaptive` (embedded error estimates or step doubling + PI controller on one
  Brownian path), :func:`solve_adjoint` (gradients with memory independent of the number of
  steps: reversible Heun, exact to rounding, or the stochastic adjoint of Li et al. 2020),
  :func:`first_passage` with the Brownian-bridge correction, :func:`expectation` (Monte Carlo
  ``E[fn(paths)]`` with standard error and confidence interval).
* PDEs: :func:`fokker_planck`, :func:`kolmogorov_backward` (Crank–Nicolson + Rannacher).
* Path integrals: :func:`path_integral_propagator`, :func:`onsager_machlup_action`,
  :func:`schrodinger_potential`, :func:`feynman_kac`.
* Devices and processes: every function creates its tensors on its inputs' device or on
  ``device=``; randomness follows :mod:`kexue.rng` (``generator=None`` is PyTorch's default
  generator). The Monte Carlo estimators (:func:`expectation`, :func:`feynman_kac`,
  :func:`first_passage`, :meth:`RandomWalk.expectation`) cut their paths into seeded blocks
  of ``block_size`` and combine per-block moments in block order, so under ``torchrun`` they share
  the work and return bit-identical results for any number of processes (:mod:`kexue.parallel`).
  The PDE solvers and :func:`path_integral_propagator` are NumPy/SciPy computations on the host.
* :mod:`closed_forms`: the sixteen verification cases (heat, OU, GBM, Mehler, first passage,
  gambler's ruin, Black–Scholes, Feynman–Kac harmonic/linear, …).
"""

from ._adaptive import AdaptiveSolution, solve_adaptive
from ._adjoint import ADJOINT_BACKWARD_METHODS, ADJOINT_METHODS, solve_adjoint
from ._brownian import BrownianIncrements
from ._brownian_interval import LEVY_AREAS, BrownianInterval
from ._compiled import CompileFallbackWarning
from ._dyson import DYSON_MAX_ORDER, dyson_terms
from ._feynman_kac import FeynmanKacResult, feynman_kac
from ._finite import SolveDiverged
from ._first_passage import FirstPassageResult, first_passage
from ._ito_stratonovich import (
    ito_stratonovich_correction,
    ito_to_stratonovich,
    stratonovich_to_ito,
)
from ._lamperti import LampertiTransform, lamperti_transform
from ._lattice_walk import LATTICE_BOUNDARIES, LatticeWalk
from ._montecarlo import DEFAULT_BLOCK_SIZE, MonteCarloResult, expectation
from ._most_probable import BridgeSample, MostProbablePath, most_probable_path, sde_bridges
from ._path_integral import (
    OM_CONVENTIONS,
    SchrodingerPotential,
    onsager_machlup_action,
    path_integral_propagator,
    schrodinger_potential,
)
from ._pde import NegativeDensityWarning, fokker_planck, kolmogorov_backward
from ._pde2d import PDE2D_ORDERS, fokker_planck_2d, path_integral_2d
from ._pde_grid import BOUNDARY_CONDITIONS
from ._sde import NOISE_TYPES, SDE, SDE_TYPES
from ._solvers import (
    METHODS,
    MIN_DEFAULT_STEPS,
    SRA1,
    CoarseStepWarning,
    Euler,
    Method,
    Milstein,
    StratonovichHeun,
    StratonovichMidpoint,
    solve,
)
from ._walk import RandomWalk

__all__ = [
    "SDE", "NOISE_TYPES", "SDE_TYPES", "ito_to_stratonovich", "stratonovich_to_ito",
    "ito_stratonovich_correction", "solve_adaptive", "AdaptiveSolution",
    "solve", "METHODS", "Method", "Euler", "Milstein", "StratonovichHeun", "StratonovichMidpoint",
    "SRA1", "BrownianIncrements", "BrownianInterval", "LEVY_AREAS",
    "first_passage", "FirstPassageResult",
    "expectation", "MonteCarloResult", "DEFAULT_BLOCK_SIZE",
    "RandomWalk", "LatticeWalk", "LATTICE_BOUNDARIES",
    "fokker_planck", "kolmogorov_backward", "BOUNDARY_CONDITIONS", "NegativeDensityWarning",
    "feynman_kac", "FeynmanKacResult",
    "path_integral_propagator", "onsager_machlup_action", "OM_CONVENTIONS",
    "schrodinger_potential", "SchrodingerPotential",
    "dyson_terms", "DYSON_MAX_ORDER", "most_probable_path", "MostProbablePath", "sde_bridges",
    "BridgeSample", "lamperti_transform", "LampertiTransform", "fokker_planck_2d",
    "path_integral_2d", "PDE2D_ORDERS",
    "closed_forms",
    "CoarseStepWarning", "MIN_DEFAULT_STEPS", "CompileFallbackWarning",
    "solve_adjoint", "ADJOINT_METHODS", "ADJOINT_BACKWARD_METHODS", "SolveDiverged",
]


def __getattr__(name: str):
    """``closed_forms`` is imported on first use (it pulls in scipy.stats: ~1 s at start-up)."""
    if name == "closed_forms":
        import importlib

        return importlib.import_module(f"{__name__}.closed_forms")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
