"""Feynman's integration trick: differentiate under the integral sign with respect to a
parameter (as often as needed), solve the resulting linear ODE of any order in the parameter, fix
its constants from initial or boundary conditions — with Euler's regularised integrals as an
explicit step, the caveat where differentiation under the integral sign fails, and a catalogue of
twenty-four classical integrals checked against mpmath to 30 digits.

Source: Su Jianlin, Feynman's integration trick series (费曼积分法), part 2 (kexue.fm archive
1619, the Leibniz rule with variable limits) and part 7 "a synthesis of Euler's mathematics"
(2013-03-27; archive number not confirmed).

    >>> import sympy
    >>> from kexue.integrals import ParametricIntegral, CATALOGUE, verify
    >>> x, a = sympy.symbols("x a", positive=True)
    >>> G = ParametricIntegral((x**a - 1) / sympy.log(x), x, a, 0, 1)
    >>> G.derivative()
    ∫[0, 1] x**a dx
    >>> verify("F1").ok
    True
"""

from ..extras import symbolic as _require_symbolic

_require_symbolic()  # sympy, mpmath or MissingExtraError (kexue[symbolic]), at import
from ._catalogue import UNKNOWN_PART, Catalogue, CatalogueEntry
from ._derivation import Derivation, Replay, Step, StepCheck
from ._entries import CATALOGUE
from ._parametric import GUARD_DIGITS, MAX_DIGITS, ParametricIntegral
from ._same import same
from ._steps_constants import BoundedAt, FixConstants, ValueAt
from ._steps_euler import DerivativeJump, Regularise
from ._steps_ode import LinearODE, ReduceToLinearODE, SolveODE, constants
from ._verify import Check, Verification, random_points, verify

__all__ = [
    "ParametricIntegral", "CATALOGUE", "verify", "random_points", "UNKNOWN_PART", "MAX_DIGITS",
    "GUARD_DIGITS",
    "Catalogue", "CatalogueEntry", "Check", "Verification",
    "Derivation", "Step", "StepCheck", "Replay", "same",
    "LinearODE", "ReduceToLinearODE", "SolveODE", "FixConstants", "ValueAt", "BoundedAt",
    "Regularise", "DerivativeJump", "constants",
]
