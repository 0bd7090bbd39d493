"""Verify a Feynman-trick integral: a catalogue entry, and one of your own.

Shows: ``kexue.integrals.verify`` (a catalogue entry's closed form against mpmath quadrature) and
a user-defined ``kexue.integrals.ParametricIntegral``: differentiate under the integral sign
(``.derivative()``, the Leibniz rule), then check each stage numerically (``.evaluate``).
Articles: Su Jianlin's Feynman integration trick series (费曼积分法), part 2 (kexue.fm archive
1619, the Leibniz rule with variable limits).

Your integral: ``G(a) = ∫₀¹ arctan(a x) / (x √(1 − x²)) dx``. The trick: ``G'(a) =
∫₀¹ dx / ((1 + a² x²) √(1 − x²)) = π / (2 √(1 + a²))`` (substitute ``x = sin θ``), and
``G(0) = 0``, so ``G(a) = (π/2) asinh(a)``. The check: both ``G'`` and ``G`` agree with these
closed forms to ``digits`` significant digits at a few points, and catalogue entry F1 verifies.
Run ``python examples/feynman_integral.py [--fast]``.
"""

import argparse

import mpmath
import sympy

from kexue.integrals import ParametricIntegral, verify

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fast", action="store_true", help="fewer digits")
args = parser.parse_args()
digits = 15 if args.fast else 30

# 1. A catalogue entry: F1 is ∫₀¹ (x^a − 1)/ln x dx = ln(1 + a).
v = verify("F1", digits=digits)
for check in v.checks:
    print(f"F1 at {check.point}: closed form {sympy.N(check.exact, 12)}  quadrature "
          f"{mpmath.nstr(check.numeric, 12)}  ok={check.ok}")
assert v.ok, "catalogue entry F1 failed its numeric check"

# 2. Your own parametric integral, written with SymPy symbols.
x, a = sympy.symbols("x a", positive=True)
G = ParametricIntegral(sympy.atan(a * x) / (x * sympy.sqrt(1 - x**2)), x, a, 0, 1)
dG = G.derivative()  # the Leibniz rule; the limits do not depend on a, so no boundary terms
print(f"G  = {G}\nG' = {dG}")

mpmath.mp.dps = digits + 5
for value in (sympy.Rational(1, 2), sympy.Integer(3)):
    av = mpmath.mpf(value.p) / value.q
    pairs = {
        "G'(a)": (dG.evaluate(value, digits=digits), mpmath.pi / (2 * mpmath.sqrt(1 + av**2))),
        "G(a)": (G.evaluate(value, digits=digits), mpmath.pi / 2 * mpmath.asinh(av)),
    }
    for name, (numeric, closed) in pairs.items():
        rel = abs(numeric - closed) / abs(closed)
        agree = int(-mpmath.log10(rel)) if rel > 0 else digits + 5
        print(f"a = {value}: {name} quadrature {mpmath.nstr(numeric, digits)}  "
              f"closed form {mpmath.nstr(closed, digits)}  ({agree} digits agree)")
        assert agree >= digits, f"{name} at a = {value}: only {agree} digits agree"
print(f"CHECK OK: F1 and G = (π/2) asinh(a) verified to {digits} digits")
