"""Form algebra (kexue.fm 4062): wedge, d, pullback, evaluation as a determinant, R³ dictionary."""

import itertools
import math

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kexue.forms import Form, coords, curl, d, div, grad, pullback, volume, wedge

C3 = coords("x y z")
(X, Y, Z), (DX, DY, DZ) = C3
C4 = coords("x1 x2 x3 x4")


def _poly(draw, syms, max_terms=3):
    """A small random polynomial with integer coefficients, degree ≤ 2 per variable."""
    n_terms = draw(st.integers(0, max_terms))
    expr = sympy.Integer(0)
    for _ in range(n_terms):
        c = draw(st.integers(-3, 3))
        powers = [draw(st.integers(0, 2)) for _ in syms]
        expr += c * math.prod((s**p for s, p in zip(syms, powers)), start=sympy.Integer(1))
    return expr


@st.composite
def forms(draw, C=C3, degree=None):
    k = draw(st.integers(0, C.dim)) if degree is None else degree
    terms = {}
    for I in itertools.combinations(range(C.dim), k):
        if draw(st.booleans()):
            terms[I] = _poly(draw, C.symbols)
    return Form(terms, C, degree=k)


FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=12, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


def test_coords_unpack_and_basis():
    (x, y), (dx, dy) = coords("x y")
    assert dx.degree == 1 and dx.coefficient(0) == 1 and dx.coefficient(1) == 0
    assert x.is_real
    C = coords(["u", sympy.Symbol("v")])
    assert C.dim == 2 and str(C.symbols[1]) == "v"


def test_wedge_antisymmetry_and_orientation():
    assert (DX ^ DY) == -(DY ^ DX)
    assert (DX ^ DX).is_zero()
    assert wedge(DX, DY, DZ).coefficient(0, 1, 2) == 1
    assert wedge(DZ, DY, DX).coefficient(0, 1, 2) == -1
    assert Form({(Y, X): 1}, C3) == -(DX ^ DY)  # keys are sorted with the permutation sign
    # ^ binds looser than +: parentheses matter
    assert ((DX ^ DY) + (DY ^ DZ)).degree == 2


@FAST
@given(forms())
def test_d_squared_is_zero(omega):
    assert d(d(omega)).is_zero()


@FAST
@given(forms(C4))
def test_d_squared_is_zero_r4(omega):
    assert d(d(omega)).is_zero()


@FAST
@given(forms(), forms())
def test_graded_antisymmetry(alpha, beta):
    sign = (-1) ** (alpha.degree * beta.degree)
    assert (wedge(alpha, beta) - sign * wedge(beta, alpha)).is_zero()


@FAST
@given(forms(degree=1), forms(degree=1), forms(degree=1))
def test_wedge_associative_and_bilinear(a, b, c):
    assert (wedge(wedge(a, b), c) - wedge(a, wedge(b, c))).is_zero()
    assert (wedge(a + b, c) - wedge(a, c) - wedge(b, c)).is_zero()
    assert wedge(a, a).is_zero()  # odd degree: α∧α = 0


@FAST
@given(forms(C4), forms(C4))
def test_graded_leibniz_rule(alpha, beta):
    k = alpha.degree
    lhs = d(wedge(alpha, beta))
    rhs = wedge(d(alpha), beta) + (-1) ** k * wedge(alpha, d(beta))
    assert (lhs - rhs).is_zero()


def test_evaluation_is_the_determinant():
    rng = np.random.default_rng(0)
    (x, y), (dx, dy) = coords("x y")
    for _ in range(20):
        u, v = rng.normal(size=(2, 2))
        assert (dx ^ dy)(u, v) == pytest.approx(np.linalg.det(np.column_stack([u, v])),
                                                rel=1e-12, abs=1e-14)
    for _ in range(20):
        a, b, c = rng.normal(size=(3, 3))
        vol = wedge(DX, DY, DZ)(a, b, c)
        assert vol == pytest.approx(np.linalg.det(np.column_stack([a, b, c])), rel=1e-12)
        assert vol == pytest.approx(np.dot(a, np.cross(b, c)), rel=1e-12)
    # a 4-form in R^4 against numpy's LU determinant
    top = wedge(*C4.basis)
    for _ in range(10):
        M = rng.normal(size=(4, 4))
        assert top(*M) == pytest.approx(np.linalg.det(M.T), rel=1e-12)


def test_evaluation_symbolic_and_at_a_point():
    a1, a2, b1, b2 = sympy.symbols("a1 a2 b1 b2")
    (x, y), (dx, dy) = coords("x y")
    assert sympy.expand((dx ^ dy)((a1, a2), (b1, b2)) - (a1 * b2 - a2 * b1)) == 0
    omega = x * (dx ^ dy)
    assert omega((1, 0), (0, 1), at=(3, 5)) == 3.0
    assert omega((1, 0), (0, 1), at={x: 2}) == 2.0


def test_k_volume_cauchy_binet():
    rng = np.random.default_rng(1)
    for k, n in [(1, 3), (2, 3), (2, 5), (3, 5), (4, 4)]:
        V = rng.normal(size=(k, n))
        expected = math.sqrt(np.linalg.det(V @ V.T))
        assert volume(*V) == pytest.approx(expected, rel=1e-12)
        assert volume(*V) == pytest.approx(np.prod(np.linalg.svd(V, compute_uv=False)),
                                           rel=1e-12)
    a, b = rng.normal(size=(2, 3))
    assert volume(a, b) == pytest.approx(np.linalg.norm(np.cross(a, b)), rel=1e-12)


def test_pullback_jacobians():
    r, t, z, p = sympy.symbols("r theta z phi", positive=True)
    (x, y), (dx, dy) = coords("x y")
    polar = pullback(dx ^ dy, (r * sympy.cos(t), r * sympy.sin(t)), source=(r, t))
    assert sympy.simplify(polar.coefficient(0, 1) - r) == 0
    cyl = pullback(wedge(DX, DY, DZ), (r * sympy.cos(t), r * sympy.sin(t), z),
                   source=(r, t, z))
    assert sympy.simplify(cyl.coefficient(0, 1, 2) - r) == 0
    sph = pullback(wedge(DX, DY, DZ), (r * sympy.sin(t) * sympy.cos(p),
                                       r * sympy.sin(t) * sympy.sin(p), r * sympy.cos(t)),
                   source=(r, t, p))
    assert sympy.simplify(sph.coefficient(0, 1, 2) - r**2 * sympy.sin(t)) == 0


def _poly_map(rng, src, n_out, quadratic=True):
    """A random polynomial map (affine, or with quadratic terms) with small integer coefficients."""
    monomials = [1, *src]
    if quadratic:
        monomials += [a * b for a, b in itertools.combinations_with_replacement(src, 2)]
    return tuple(sum(int(rng.integers(-2, 3)) * m for m in monomials) for _ in range(n_out))


@FEWER
@given(forms(), st.integers(0, 10_000))
def test_pullback_commutes_with_d(omega, seed):
    rng = np.random.default_rng(seed)
    u, v = sympy.symbols("u v", real=True)
    phi = _poly_map(rng, (u, v), 3)
    lhs = pullback(d(omega), phi, source=(u, v), simplify=False)
    rhs = d(pullback(omega, phi, source=(u, v), simplify=False))
    assert (lhs - rhs).is_zero()


@FEWER
@given(forms(), forms(), st.integers(0, 10_000))
def test_pullback_commutes_with_wedge(alpha, beta, seed):
    rng = np.random.default_rng(seed)
    S = coords("u v w")
    phi = _poly_map(rng, S.symbols, 3, quadratic=False)
    lhs = pullback(wedge(alpha, beta), phi, source=S, simplify=False)
    rhs = wedge(pullback(alpha, phi, source=S, simplify=False),
                pullback(beta, phi, source=S, simplify=False))
    assert (lhs - rhs).is_zero()


def test_pullback_commutes_with_d_polar():
    r, t = sympy.symbols("r theta", positive=True)
    (x, y), (dx, dy) = coords("x y")
    omega = sympy.exp(x * y) * dx + sympy.sin(x) * y**2 * dy
    phi = (r * sympy.cos(t), r * sympy.sin(t))
    assert (pullback(d(omega), phi, source=(r, t), simplify=False) -
            d(pullback(omega, phi, source=(r, t), simplify=False))).is_zero()


def test_vector_calculus_dictionary():
    f = X**2 * sympy.sin(Y) * Z
    F = (X * Y * Z, sympy.exp(X) * Y, Z**3 - X)
    assert grad(f, C3) == tuple(sympy.diff(f, s) for s in (X, Y, Z))
    P, Q, R = F
    expected_curl = (sympy.diff(R, Y) - sympy.diff(Q, Z), sympy.diff(P, Z) - sympy.diff(R, X),
                     sympy.diff(Q, X) - sympy.diff(P, Y))
    assert all(sympy.simplify(a - b) == 0 for a, b in zip(curl(F, C3), expected_curl))
    assert sympy.simplify(div(F, C3) - sum(sympy.diff(c, s) for c, s in zip(F, (X, Y, Z)))) == 0
    # d² = 0 read in R³: curl grad = 0, div curl = 0
    assert all(sympy.simplify(c) == 0 for c in curl(grad(f, C3), C3))
    assert sympy.simplify(div(curl(F, C3), C3)) == 0
    assert C3.flux(F).vector() == F and C3.work(F).vector() == F


def test_cross_check_with_sympy_diffgeom():
    """d and ∧ agree with sympy.diffgeom on R² (its evaluation API, not ours)."""
    from sympy.diffgeom import Differential, WedgeProduct
    from sympy.diffgeom.rn import R2_r

    gx, gy = R2_r.coord_functions()
    ex, ey = R2_r.base_vectors()
    dgx, dgy = R2_r.base_oneforms()
    (x, y), (dx, dy) = coords("x y")
    ours = d(coords("x y").form(x**2 * y**3))
    theirs = Differential(gx**2 * gy**3)
    point = R2_r.point([x, y])
    for i, e in enumerate((ex, ey)):
        assert sympy.expand(theirs(e).rcall(point) - ours.coefficient(i)) == 0
    assert WedgeProduct(dgx, dgy)(ex, ey) == 1 and (dx ^ dy)((1, 0), (0, 1)) == 1
    assert WedgeProduct(dgx, dgy)(ey, ex) == -1 and (dx ^ dy)((0, 1), (1, 0)) == -1


def test_bad_input_messages():
    (x, y), (dx, dy) = coords("x y")
    with pytest.raises(ValueError, match=r"2-form takes exactly 2 vectors; got 3"):
        (dx ^ dy)((1, 0), (0, 1), (1, 1))
    with pytest.raises(ValueError, match=r"needs 2 components; got 3.*one expression per"):
        pullback(dx, (x, y, x), source=(x, y))
    with pytest.raises(ValueError, match="source coordinates are required"):
        pullback(dx, (x, y))
    with pytest.raises(TypeError, match=r"form must be a Form; got Symbol.*C.form\(f\)"):
        d(x)
    with pytest.raises(ValueError, match="cannot add a 1-form and a 2-form"):
        _ = dx + (dx ^ dy)
    with pytest.raises(TypeError, match="use the wedge product"):
        _ = dx * dy
    with pytest.raises(ValueError, match="different coordinates"):
        _ = dx + coords("u v").basis[0]
    with pytest.raises(ValueError, match="same degree"):
        Form({(0,): 1, (0, 1): 1}, (x, y))
    with pytest.raises(ValueError, match="distinct"):
        coords("x x")
    with pytest.raises(ValueError, match=r"index 5 out of range for R\^2"):
        Form({(5,): 1}, (x, y))
