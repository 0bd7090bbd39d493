"""Noise in a hidden layer, the weights, the output label, and multiplicative (dropout) noise
(kexue.fm 7466; Wager et al. 2013, arXiv:1307.1493): each expansion's remainder, computed against
exact expectations (Gauss–Hermite / Gauss–Legendre quadrature, enumeration of Bernoulli masks,
enumeration of noisy labels), falls at the order it should; label smoothing is exact."""

import itertools
import math

import numpy as np
import pytest
import torch

from kexue.regularize import (
    dropout_loss,
    dropout_mask,
    dropout_penalty,
    hidden_noise_loss,
    hidden_noise_penalty,
    input_gradient_penalty,
    label_smoothing_loss,
    laplacian,
    noise_loss,
    output_noise_loss,
    smooth_labels,
    weight_noise_loss,
    weight_noise_penalty,
)

D = torch.float64
SIGMAS = [2.0**-k for k in range(3, 8)]


def _slope(xs, ys):
    return float(np.polyfit(np.log(xs), np.log(np.abs(ys)), 1)[0])


def _gauss_hermite(dim, n):
    """Nodes ``(n^dim, dim)`` and weights ``(n^dim,)`` for E f(z), z ~ N(0, I_dim)."""
    t, w = np.polynomial.hermite.hermgauss(n)
    nodes = np.array(list(itertools.product(t, repeat=dim))) * math.sqrt(2)
    weights = np.prod(np.array(list(itertools.product(w, repeat=dim))), axis=1) / math.pi ** (
        dim / 2)
    return torch.as_tensor(nodes, dtype=D), torch.as_tensor(weights, dtype=D)


# ------------------------------------------------------------------------- hidden-layer noise
class _Rest(torch.nn.Module):
    """The rest of a network after a 2-unit hidden layer: 2 → 4 (tanh) → 3 logits."""

    def __init__(self, gen):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(4, 2, generator=gen, dtype=D))
        self.b1 = torch.nn.Parameter(torch.randn(4, generator=gen, dtype=D))
        self.w2 = torch.nn.Parameter(torch.randn(3, 4, generator=gen, dtype=D))

    def forward(self, h):
        return torch.tanh(h @ self.w1.T + self.b1) @ self.w2.T  # (N, 3)


def _ce(labels):
    def loss(out):
        k = len(out) // len(labels)
        return torch.nn.functional.cross_entropy(out, labels.repeat(k), reduction="none")
    return loss


def test_hidden_noise_remainder_is_order_sigma4_exact_quadrature():
    """E[ℓ(h+ε)] − ℓ(h) − (σ²/2)Δ_hℓ = (σ⁴/8)·Δ²_hℓ + O(σ⁶) (the next term of the heat
    semigroup e^{σ²Δ/2}), the expectation by 2-D Gauss–Hermite (40²); the Gauss–Newton form
    leaves an O(σ²) remainder."""
    gen = torch.Generator().manual_seed(14)
    rest = _Rest(gen)
    h = torch.randn(5, 2, generator=gen, dtype=D)
    y = torch.tensor([0, 1, 2, 1, 0])
    loss = _ce(y)
    nodes, weights = _gauss_hermite(2, 40)
    with torch.no_grad():
        base = loss(rest(h))
    bilap = laplacian(lambda z: laplacian(lambda u: loss(rest(u)), z, create_graph=True), h)
    rem, rem_gn = [], []
    for s in SIGMAS:
        pts = (h[None] + s * nodes[:, None]).reshape(-1, 2)  # (Q·N, 2)
        with torch.no_grad():
            vals = loss(rest(pts)).reshape(len(nodes), 5)  # (Q, N)
        exact = (weights[:, None] * vals).sum(0)
        pen = hidden_noise_penalty(rest, loss, h, sigma=s, reduction="none", create_graph=False)
        gn = hidden_noise_penalty(rest, loss, h, sigma=s, form="gauss-newton",
                                  reduction="none", create_graph=False)
        rem.append((exact - base - pen).numpy())
        rem_gn.append((exact - base - gn).numpy())
    rem, rem_gn = np.array(rem), np.array(rem_gn)
    coef = bilap.detach().numpy() / 8
    assert np.abs(coef).max() > 0.3
    err = np.abs(rem / np.array(SIGMAS)[:, None] ** 4 - coef)  # (len(SIGMAS), N)
    for n in range(5):
        if abs(coef[n]) > 0.1:  # else the σ⁶ term still shows over this range of σ
            assert _slope(SIGMAS, rem[:, n]) == pytest.approx(4.0, abs=0.15)
        assert _slope(SIGMAS, err[:, n]) > 1.85  # O(σ⁶) after σ⁴
        assert err[-1, n] < 1e-3 * np.abs(coef).max()
        # the Jacobian (Gauss–Newton) form leaves σ²/2·∇_o ℓ·Δ_h o: remainder O(σ²)
        assert _slope(SIGMAS, rem_gn[:, n]) == pytest.approx(2.0, abs=0.2)


def test_hidden_penalty_forms_differ_by_the_output_laplacian_term():
    """Laplacian form − Gauss–Newton form = (σ²/2)·Σ_k ∂ℓ/∂o_k·Δ_h o_k exactly; equal for a
    linear rest; for a squared loss the Gauss–Newton form is σ²‖J‖²_F (the gradient penalty)."""
    gen = torch.Generator().manual_seed(15)
    rest = _Rest(gen)
    h = torch.randn(6, 2, generator=gen, dtype=D)
    y = torch.tensor([2, 1, 0, 0, 1, 2])
    loss, s = _ce(y), 0.3
    full = hidden_noise_penalty(rest, loss, h, sigma=s, reduction="none")
    gn = hidden_noise_penalty(rest, loss, h, sigma=s, form="gauss-newton", reduction="none")
    o = rest(h).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(o).sum(), o)  # (N, 3)
    lap_o = torch.stack([laplacian(lambda z, k=k: rest(z)[:, k], h) for k in range(3)], 1)
    torch.testing.assert_close(full - gn, s**2 / 2 * (g * lap_o).sum(1), rtol=0, atol=1e-12)
    assert (full - gn).abs().max() > 1e-3  # the term is not trivially zero here
    # a linear rest: the forms agree; Fisher trace tr(Wᵀ(diag π − ππᵀ)W) by hand
    w = torch.randn(3, 2, generator=gen, dtype=D)
    lin = lambda z: z @ w.T  # noqa: E731
    full = hidden_noise_penalty(lin, loss, h, sigma=s, reduction="none")
    gn = hidden_noise_penalty(lin, loss, h, sigma=s, form="gauss-newton", reduction="none")
    pi = torch.softmax(lin(h), 1)
    fisher = torch.stack([torch.trace(w.T @ (torch.diag(q) - torch.outer(q, q)) @ w) for q in pi])
    torch.testing.assert_close(full, s**2 / 2 * fisher, rtol=0, atol=1e-13)
    torch.testing.assert_close(gn, s**2 / 2 * fisher, rtol=0, atol=1e-13)
    # squared loss: (σ²/2)·tr(Jᵀ 2I J) = σ²‖J‖²
    target = torch.randn(6, 3, generator=gen, dtype=D)
    sq = lambda out: ((out - target) ** 2).sum(1)  # noqa: E731
    gn = hidden_noise_penalty(rest, sq, h, sigma=s, form="gauss-newton", reduction="none")
    jac2 = input_gradient_penalty(rest, h, reduction="none", create_graph=False)
    torch.testing.assert_close(gn, s**2 * jac2, rtol=0, atol=1e-12)
    # trainable: the penalty reaches the parameters; reductions
    hidden_noise_penalty(rest, loss, h, sigma=s, form="gauss-newton").backward()
    assert rest.w1.grad.abs().sum() > 0
    mean = hidden_noise_penalty(rest, loss, h, sigma=s, create_graph=False)
    assert mean.item() == pytest.approx(
        hidden_noise_penalty(rest, loss, h, sigma=s, reduction="none").mean().item(), abs=1e-14)


def test_hidden_noise_loss_is_noise_loss_at_the_hidden_layer():
    gen = torch.Generator().manual_seed(16)
    rest = _Rest(gen)
    h = torch.randn(4, 2, generator=gen, dtype=D)
    loss = _ce(torch.tensor([0, 1, 2, 0]))
    a = hidden_noise_loss(rest, loss, h, sigma=0.2, n_samples=3, antithetic=True, generator=4)
    b = noise_loss(lambda z: loss(rest(z)), h, sigma=0.2, n_samples=3, antithetic=True,
                   generator=4)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a.shape == (4,)


# ------------------------------------------------------------------------------ weight noise
class _Tiny(torch.nn.Module):
    """f(x) = a·tanh(b·x + c): three scalar parameters, so E over weight noise is a 3-D integral."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor([1.3], dtype=D))
        self.b = torch.nn.Parameter(torch.tensor([-0.7], dtype=D))
        self.c = torch.nn.Parameter(torch.tensor([0.4], dtype=D))

    def forward(self, x):
        return self.a * torch.tanh(self.b * x + self.c)  # (N, 1)


def _tiny_data():
    gen = torch.Generator().manual_seed(17)
    x = torch.randn(7, 1, generator=gen, dtype=D)
    y = torch.randn(7, 1, generator=gen, dtype=D)
    return x, y


def test_weight_noise_remainder_is_order_sigma4_exact_quadrature():
    """E[L(θ+ε)] − L(θ) − (σ²/2)·tr∇²_θL = O(σ⁴), the expectation by 3-D Gauss–Hermite (24³)."""
    model = _Tiny()
    x, y = _tiny_data()
    loss = lambda out: ((out - y) ** 2)[:, 0]  # noqa: E731
    nodes, weights = _gauss_hermite(3, 24)
    a, b, c = (p.detach() for p in (model.a, model.b, model.c))
    base = loss(model(x)).mean().detach()
    # the penalty's trace against the explicit 3×3 Hessian
    flat = torch.cat([a, b, c])
    hess = torch.autograd.functional.hessian(
        lambda t: ((t[0] * torch.tanh(t[1] * x + t[2]) - y) ** 2).mean(), flat)
    tr_pen = weight_noise_penalty(model, loss, x, sigma=1.0, create_graph=False)
    assert tr_pen.item() == pytest.approx(torch.trace(hess).item() / 2, abs=1e-12)
    rem = []
    for s in SIGMAS:
        pa, pb, pc = (v + s * nodes[:, i:i + 1] for i, v in enumerate((a, b, c)))  # (Q, 1)
        vals = ((pa * torch.tanh(pb * x.T + pc) - y.T) ** 2).mean(1)  # (Q,)
        exact = (weights * vals).sum()
        pen = weight_noise_penalty(model, loss, x, sigma=s, create_graph=False)
        rem.append((exact - base - pen).item())
    assert _slope(SIGMAS, rem) == pytest.approx(4.0, abs=0.1)


def test_weight_noise_loss_draws_and_hutchinson():
    model = _Tiny()
    x, y = _tiny_data()
    loss = lambda out: ((out - y) ** 2)[:, 0]  # noqa: E731
    # documented draw order: parameters in named_parameters() order, one randn each per draw
    g = torch.Generator().manual_seed(3)
    ref = 0
    for _ in range(2):
        z = [torch.randn(p.shape, generator=g, dtype=D) for p in model.parameters()]
        for sign in (1, -1):
            a, b, c = (p.detach() + sign * 0.1 * e for p, e in zip(model.parameters(), z))
            ref = ref + loss(a * torch.tanh(b * x + c))
    got = weight_noise_loss(model, loss, x, sigma=0.1, n_samples=2, antithetic=True, generator=3)
    torch.testing.assert_close(got, ref / 4, rtol=0, atol=1e-15)
    got.mean().backward()
    assert model.a.grad is not None and model.a.grad.abs() > 0
    assert weight_noise_loss(model, loss, x, sigma=0.0, generator=0).sum().item() == \
        pytest.approx(loss(model(x)).sum().item(), abs=0)
    # Hutchinson: unbiased, checked on a bigger net against the exact trace
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)).to(D)
    with torch.no_grad():
        for i, p in enumerate(net.parameters()):
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(i), dtype=D))
    xb = torch.randn(9, 2, generator=torch.Generator().manual_seed(9), dtype=D)
    sq = lambda out: out[:, 0] ** 2  # noqa: E731
    exact = weight_noise_penalty(net, sq, xb, sigma=1.0, create_graph=False).item()
    est = np.array([weight_noise_penalty(net, sq, xb, sigma=1.0, n_projections=1,
                                         create_graph=False, generator=i).item()
                    for i in range(1500)])
    assert abs(est.mean() - exact) < 4 * est.std() / math.sqrt(len(est))


# ----------------------------------------------------------------------- output (label) noise
def test_label_smoothing_is_the_exact_expected_cross_entropy_under_output_noise():
    gen = torch.Generator().manual_seed(18)
    n, c = 8, 5
    logits = 2 * torch.randn(n, c, generator=gen, dtype=D)
    y = torch.randint(0, c, (n,), generator=gen)
    logp = torch.log_softmax(logits, 1)
    for eps in (0.0, 0.05, 0.3, 1.0):
        # enumerate the noisy label: P(ỹ = k) = (1 − ε)·[k = y] + ε/C
        prob = (1 - eps) * torch.nn.functional.one_hot(y, c).to(D) + eps / c
        expected = -(prob * logp).sum(1)
        ls = label_smoothing_loss(logits, y, eps=eps, reduction="none")
        torch.testing.assert_close(ls, expected, rtol=0, atol=1e-12)
        torch.testing.assert_close(
            ls.mean(), torch.nn.functional.cross_entropy(logits, y, label_smoothing=eps),
            rtol=0, atol=1e-12)
        # (1 − ε)·CE + ε·mean_c(−log π_c)
        ce = -logp.gather(1, y[:, None])[:, 0]
        torch.testing.assert_close(ls, (1 - eps) * ce + eps * (-logp.mean(1)), rtol=0,
                                   atol=1e-12)
        torch.testing.assert_close(smooth_labels(y, c, eps=eps, dtype=D), prob, rtol=0, atol=0)
    # Monte Carlo with the documented noise is unbiased for it
    reps = 4000
    mc = output_noise_loss(logits.repeat(reps, 1), y.repeat(reps), eps=0.3, generator=1,
                           reduction="none").reshape(reps, n)
    exact = label_smoothing_loss(logits, y, eps=0.3, reduction="none")
    se = mc.std(0) / math.sqrt(reps)
    assert ((mc.mean(0) - exact).abs() < 4 * se).all()
    assert not torch.equal(mc[0], mc[1])


# ---------------------------------------------------------------------- multiplicative noise
def _logistic(d, gen):
    x = torch.randn(3, d, generator=gen, dtype=D)
    beta = torch.randn(d, generator=gen, dtype=D)
    return x, beta, 1.0  # bias 1: A'''(b) = s(1 - s)(1 - 2s) is not small


def _bernoulli_expectation(x, w, b, p, fn):
    """E fn(x ⊙ ξ) over all 2^d inverted-dropout masks (exact enumeration)."""
    d = x.shape[1]
    total = 0
    for keep in itertools.product((0, 1), repeat=d):
        k = torch.tensor(keep, dtype=D)
        prob = math.prod((1 - p) if kk else p for kk in keep)
        total = total + prob * fn(x * k / (1 - p), w, b)
    return total


def _a_logistic(xt, w, b):
    return torch.nn.functional.softplus(xt @ w + b)  # A(u) = log(1 + eᵘ), (N,)


def test_dropout_penalty_remainder_bernoulli_and_uniform():
    """Wager et al.: E[A(x̃·tβ + b)] − A − R(tβ) = O(t³) for Bernoulli p ≠ ½, O(t⁴) for the
    symmetric cases (p = ½, uniform noise), with exact expectations; R ∝ t²."""
    gen = torch.Generator().manual_seed(19)
    x, beta, b = _logistic(6, gen)
    ts = [2.0**-k for k in range(3, 8)]
    for p in (0.3, 0.5):
        kappa3 = p * (2 * p - 1) / (1 - p) ** 2  # E(ξ − 1)³ of inverted Bernoulli dropout
        rem, rem3 = [], []
        for t in ts:
            w = t * beta
            exact = _bernoulli_expectation(x, w, b, p, _a_logistic)
            pen = dropout_penalty(x, w, torch.tensor(b, dtype=D), p=p, reduction="none")
            s = torch.sigmoid(x @ w + b)
            third = s * (1 - s) * (1 - 2 * s) / 6 * kappa3 * ((x * w) ** 3).sum(1)
            rem.append((exact - _a_logistic(x, w, b) - pen).numpy())
            rem3.append((exact - _a_logistic(x, w, b) - pen - third).numpy())
        rem, rem3 = np.array(rem), np.array(rem3)
        for n in range(3):
            # the remainder is the third-order term (1/6)·A⁽³⁾·E[Δ³] (zero for p = ½) + O(t⁴)
            assert _slope(ts, rem3[:, n]) == pytest.approx(4.0, abs=0.15)
            if p == 0.5:
                assert _slope(ts, rem[:, n]) == pytest.approx(4.0, abs=0.15)
        if p == 0.3:
            assert max(_slope(ts, rem[:, n]) for n in range(3)) < 3.3  # O(t³), not O(t⁴)
    # uniform ξ ~ U(1 − a, 1 + a), 3 features of contributions ~t, Gauss–Legendre 16³ (larger t:
    # the sixth-order remainder must stay above float64 rounding of the quadrature sum)
    xs = torch.tensor([[1.0, -0.8, 0.6], [0.5, 0.9, -1.2], [-1.1, 0.4, 0.7]], dtype=D)
    bs = torch.tensor([0.9, 1.1, -0.7], dtype=D)
    ts = [2.0**-k for k in range(1, 6)]
    g, gw = np.polynomial.legendre.leggauss(16)
    nodes = torch.as_tensor(np.array(list(itertools.product(g, repeat=3))), dtype=D)
    wts = torch.as_tensor(np.prod(np.array(list(itertools.product(gw, repeat=3))), 1) / 8,
                          dtype=D)
    p = 0.2
    a = math.sqrt(3 * p / (1 - p))
    rem, rem4 = [], []
    for t in ts:
        w = t * bs
        u = ((xs[None] * (1 + a * nodes[:, None])) @ w) + b  # (Q, N)
        exact = (wts[:, None] * torch.nn.functional.softplus(u)).sum(0)
        pen = dropout_penalty(xs, w, torch.tensor(b, dtype=D), p=p, reduction="none")
        # fourth-order term (1/24)·A⁗(u)·E[Δ⁴], Δ = Σ_j c_j η_j, η_j ~ U(−a, a)
        c = xs * w  # (N, 3)
        var, m4 = a * a / 3, a**4 / 5
        e4 = (c**4).sum(1) * (m4 - 3 * var**2) + 3 * ((c**2).sum(1) * var) ** 2
        sg = torch.sigmoid(xs @ w + b)
        fourth = sg * (1 - sg) * (1 - 6 * sg + 6 * sg**2) / 24 * e4
        rem.append((exact - _a_logistic(xs, w, b) - pen).numpy())
        rem4.append((exact - _a_logistic(xs, w, b) - pen - fourth).numpy())
    rem, rem4 = np.array(rem), np.array(rem4)
    for n in range(3):
        assert _slope(ts, rem[:, n]) == pytest.approx(4.0, abs=0.4)  # symmetric: no odd terms
        assert _slope(ts, rem4[:, n]) == pytest.approx(6.0, abs=0.5)


def test_dropout_approximation_does_not_improve_as_p_goes_to_zero():
    """At fixed weights all moments of Bernoulli dropout are O(p): the remainder falls like the
    penalty itself (slope 1 in p), so remainder/penalty tends to a non-zero constant."""
    gen = torch.Generator().manual_seed(20)
    x, beta, b = _logistic(5, gen)
    ps = [2.0**-k for k in range(6, 11)]
    rem, pen = [], []
    for p in ps:
        exact = _bernoulli_expectation(x, beta, b, p, _a_logistic)
        r = dropout_penalty(x, beta, torch.tensor(b, dtype=D), p=p, reduction="none")
        rem.append((exact - _a_logistic(x, beta, b) - r)[0].item())
        pen.append(r[0].item())
    assert _slope(ps, rem) == pytest.approx(1.0, abs=0.05)
    assert _slope(ps, pen) == pytest.approx(1.0, abs=0.05)
    assert abs(rem[-1] / pen[-1]) > 0.05


def test_softmax_dropout_penalty():
    """Softmax version: remainder O(t³) by mask enumeration; C = 2 is the logistic case with
    β = W₁ − W₀."""
    gen = torch.Generator().manual_seed(21)
    x = torch.randn(4, 5, generator=gen, dtype=D)
    w0 = torch.randn(3, 5, generator=gen, dtype=D)
    bias = torch.randn(3, generator=gen, dtype=D)
    lse = lambda xt, w, b: torch.logsumexp(xt @ w.T + b, 1)  # noqa: E731
    ts = [2.0**-k for k in range(3, 8)]
    rem = []
    for t in ts:
        w = t * w0
        exact = _bernoulli_expectation(x, w, bias, 0.25, lse)
        rem.append((exact - lse(x, w, bias)
                    - dropout_penalty(x, w, bias, p=0.25, reduction="none")).numpy())
    rem = np.array(rem)
    for n in range(4):
        assert _slope(ts, rem[:, n]) == pytest.approx(3.0, abs=0.15)
    w2, b2 = w0[:2], bias[:2]
    torch.testing.assert_close(
        dropout_penalty(x, w2, b2, p=0.4, reduction="none"),
        dropout_penalty(x, w2[1] - w2[0], b2[1] - b2[0], p=0.4, reduction="none"),
        rtol=0, atol=1e-13)
    assert dropout_penalty(x, w0, bias, p=0.0).item() == 0.0


def test_dropout_masks_and_loss():
    x = torch.ones(400, 50, dtype=D)
    for kind in ("bernoulli", "uniform"):
        m = dropout_mask(tuple(x.shape), x, p=0.2, kind=kind,
                         generator=torch.Generator().manual_seed(0))
        n = m.numel()
        assert abs(m.mean().item() - 1) < 4 * math.sqrt(0.25 / n)
        # sample variance against δ = p/(1 − p) = 0.25 (4 SE of the variance)
        se_var = math.sqrt(((m - 1) ** 4).mean().item() / n)
        assert abs(m.var().item() - 0.25) < 4 * se_var
    # Bernoulli keeps u ≥ p and scales by 1/(1 − p), documented draw order
    g = torch.Generator().manual_seed(2)
    u = torch.rand((3, 4), generator=g, dtype=D)
    m = dropout_mask((3, 4), x, p=0.3, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(m, (u >= 0.3).to(D) / 0.7, rtol=0, atol=0)
    xs = torch.randn(3, 4, generator=torch.Generator().manual_seed(5), dtype=D)
    got = dropout_loss(lambda z: z.sum(1), xs, p=0.3, generator=2)
    torch.testing.assert_close(got, (xs * m).sum(1), rtol=0, atol=0)
    assert torch.equal(dropout_loss(lambda z: z.sum(1), xs, p=0.0, generator=2), xs.sum(1))


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: dropout_loss(lambda z: z, torch.ones(2, 2), p=1.0), ValueError,
     r"p must be a drop rate in \[0, 1\); got 1.0"),
    (lambda: dropout_loss(lambda z: z, torch.ones(2, 2), p=-0.1), ValueError, "drop rate"),
    (lambda: dropout_loss(lambda z: z, torch.ones(2, 2), p="half"), TypeError, "p must be a real"),
    (lambda: dropout_loss(lambda z: z, torch.ones(2, 2), p=0.1, kind="gauss"), ValueError,
     "kind must be one of bernoulli, uniform; got 'gauss'"),
    (lambda: dropout_penalty(torch.ones(2, 3), torch.ones(4), p=0.1), ValueError,
     r"weight must have shape \(D,\).*D=3; got \(4,\)"),
    (lambda: hidden_noise_penalty(lambda h: h, lambda o: o.sum(1), torch.ones(2, 2),
                                  sigma=-1.0), ValueError, "sigma must be a finite number >= 0"),
    (lambda: hidden_noise_penalty(lambda h: h, lambda o: o.sum(1), torch.ones(2, 2), sigma=1.0,
                                  form="fisher"), ValueError, "form must be one of"),
    (lambda: weight_noise_loss(lambda z: z, lambda o: o, torch.ones(2, 2), sigma=0.1), TypeError,
     "model must be a torch.nn.Module"),
    (lambda: weight_noise_penalty(torch.nn.Linear(2, 1), lambda o: o, torch.ones(2, 2),
                                  sigma=-0.1), ValueError, "sigma must be"),
    (lambda: label_smoothing_loss(torch.zeros(2, 3), torch.tensor([0, 3]), eps=0.1), ValueError,
     r"labels must lie in 0..2; got values in 0..3"),
    (lambda: label_smoothing_loss(torch.zeros(2, 3), torch.tensor([0, 1]), eps=1.5), ValueError,
     r"eps must be a probability in \[0, 1\]"),
    (lambda: output_noise_loss(torch.zeros(2, 3), torch.tensor([0.0, 1.0]), eps=0.1), TypeError,
     "labels must be an integer tensor"),
    (lambda: output_noise_loss(torch.zeros(3), torch.tensor([0, 1, 1]), eps=0.1), ValueError,
     r"logits must be a floating tensor of shape \(N, C\)"),
])
def test_bad_input(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
