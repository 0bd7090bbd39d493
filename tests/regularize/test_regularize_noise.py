"""Input noise ≈ Laplacian ≈ gradient penalty (kexue.fm 7466; Bishop 1995): closed-form Gaussian
expectations for f(x) = sin(aᵀx), fitted orders of the remainders, exact penalties."""

import math

import numpy as np
import pytest
import torch

from kexue.regularize import input_gradient_penalty, laplacian, noise_loss

D = torch.float64
SIGMAS = [2.0**-k for k in range(3, 8)]


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(7466)


def _sin_problem(gen, n=6, dim=5):
    a = torch.randn(dim, generator=gen, dtype=D) / math.sqrt(dim)
    x = torch.randn(n, dim, generator=gen, dtype=D)
    y = torch.randn(n, generator=gen, dtype=D)
    return a, x, y


def _gauss_moments(u, tau2):
    """E sin(u+s) and E sin²(u+s) for s ~ N(0, tau2)."""
    return torch.sin(u) * math.exp(-tau2 / 2), (1 - torch.cos(2 * u) * math.exp(-2 * tau2)) / 2


def _slope(xs, ys):
    return np.polyfit(np.log(xs), np.log(np.abs(ys)), 1)[0]


def test_input_noise_equals_laplacian_to_order_sigma4(gen):
    """E[ℓ(x+ε)] − ℓ(x) − (σ²/2)Δℓ = O(σ⁴) for ℓ = (sin(aᵀx) − y)², exact Gaussian expectation."""
    a, x, y = _sin_problem(gen)

    def loss(z):
        return (torch.sin(z @ a) - y) ** 2  # (N,)

    lap = laplacian(loss, x)  # (N,)
    u = x @ a
    # closed form of the Laplacian: Δ(sin u − y)² = 2‖a‖²(cos²u − sin u (sin u − y))
    a2 = (a @ a).item()
    lap_closed = 2 * a2 * (torch.cos(u) ** 2 - torch.sin(u) * (torch.sin(u) - y))
    torch.testing.assert_close(lap, lap_closed)
    res = []
    for s in SIGMAS:
        m1, m2 = _gauss_moments(u, s * s * a2)
        expected = m2 - 2 * y * m1 + y * y
        res.append((expected - loss(x) - s * s / 2 * lap).numpy())
    res = np.array(res)  # (len(SIGMAS), N)
    for n in range(res.shape[1]):
        assert _slope(SIGMAS, res[:, n]) == pytest.approx(4.0, abs=0.05)


def test_squared_loss_noise_gap_is_gradient_penalty_near_a_fit(gen):
    """Bishop 1995: E‖f(x+ε) − y‖² − ‖f − y‖² = σ²‖J‖² + σ²(f − y)Δf + O(σ⁴); at a fit (y = f)
    the gap over σ² tends to ‖J‖² with error O(σ²); away from it the extra term is (f − y)Δf."""
    a, x, y = _sin_problem(gen)
    u, a2 = x @ a, (a @ a).item()
    f = torch.sin(u)
    jac2 = input_gradient_penalty(lambda z: torch.sin(z @ a), x, reduction="none",
                                  create_graph=False)
    torch.testing.assert_close(jac2, torch.cos(u) ** 2 * a2)
    lap_f = laplacian(lambda z: torch.sin(z @ a), x)
    torch.testing.assert_close(lap_f, -torch.sin(u) * a2)
    err_fit, err_off = [], []
    for s in SIGMAS:
        m1, m2 = _gauss_moments(u, s * s * a2)
        gap_fit = m2 - 2 * f * m1 + f * f  # y = f(x): also the label-free consistency E‖f(x+ε)−f‖²
        gap_off = (m2 - 2 * y * m1 + y * y) - (f - y) ** 2
        err_fit.append((gap_fit / s**2 - jac2).numpy())
        err_off.append((gap_off / s**2 - jac2 - (f - y) * lap_f).numpy())
    err_fit, err_off = np.array(err_fit), np.array(err_off)
    for n in range(x.shape[0]):
        assert _slope(SIGMAS, err_fit[:, n]) == pytest.approx(2.0, abs=0.05)
        assert _slope(SIGMAS, err_off[:, n]) == pytest.approx(2.0, abs=0.05)
    # without the (f − y)Δf term the gap over σ² does not approach ‖J‖² away from a fit
    assert np.abs(err_off[-1] + ((f - y) * lap_f).numpy()).max() > 100 * np.abs(err_off[-1]).max()


def test_noise_loss_matches_closed_form_expectation(gen):
    a, x, y = _sin_problem(gen, n=1)
    s = 0.3
    reps = 20000
    xr = x.expand(reps, -1)  # (S, dim): one draw per row

    def loss(z):
        return (torch.sin(z @ a) - y) ** 2

    plain = noise_loss(loss, xr, sigma=s, generator=torch.Generator().manual_seed(1))
    anti = noise_loss(loss, xr, sigma=s, antithetic=True,
                      generator=torch.Generator().manual_seed(1))
    m1, m2 = _gauss_moments(x @ a, s * s * (a @ a).item())
    exact = (m2 - 2 * y * m1 + y * y).item()
    for est in (plain, anti):
        se = est.std().item() / math.sqrt(reps)
        assert abs(est.mean().item() - exact) < 4 * se
    assert anti.var() < 0.5 * plain.var()  # antithetic pairs cancel the odd Taylor terms
    # documented draw order: z = randn((n_samples, *x.shape)); draw s uses z[s]
    z = torch.randn((3, *x.shape), generator=torch.Generator().manual_seed(5), dtype=D)
    ref = sum(loss(x + s * z[i]) for i in range(3)) / 3
    got = noise_loss(loss, x, sigma=s, n_samples=3, generator=5)
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    assert noise_loss(loss, x, sigma=0.0, generator=0).item() == loss(x).item()


def test_noise_loss_is_differentiable_in_parameters(gen):
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).to(D)
    x = torch.randn(10, 3, generator=gen, dtype=D)
    val = noise_loss(lambda z: net(z).pow(2).mean(), x, sigma=0.1, n_samples=2, generator=0)
    val.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def _mlp(gen, din=4, dout=3):
    torch.manual_seed(0)  # parameters only; the test data come from `gen`
    return torch.nn.Sequential(torch.nn.Linear(din, 7), torch.nn.Tanh(),
                               torch.nn.Linear(7, dout)).to(D)


def test_laplacian_exact_and_hutchinson(gen):
    net = _mlp(gen, dout=1)
    x = torch.randn(5, 4, generator=gen, dtype=D)
    lap = laplacian(lambda z: net(z)[:, 0], x)
    for n in range(5):
        hess = torch.autograd.functional.hessian(lambda z: net(z[None])[0, 0], x[n])
        assert lap[n].item() == pytest.approx(torch.trace(hess).item(), abs=1e-12)
    est = laplacian(lambda z: net(z)[:, 0], x, n_projections=4000, generator=3)
    assert (est - lap).abs().max() < 0.1 * lap.abs().max()
    # Rademacher probes are exact for a diagonal Hessian: ℓ = Σ c_i x_i²/2 has Δℓ = Σ c_i
    c = torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=D)
    quad = laplacian(lambda z: (c * z * z).sum(1) / 2, x, n_projections=1, generator=0)
    torch.testing.assert_close(quad, torch.full((5,), c.sum().item(), dtype=D))
    # affine functions have zero Laplacian (and no graph to differentiate)
    assert laplacian(lambda z: z.sum(1), x).abs().max() == 0
    # create_graph makes it trainable
    lap = laplacian(lambda z: net(z)[:, 0], x, create_graph=True)
    lap.sum().backward()
    assert net[0].weight.grad.abs().sum() > 0


def test_gradient_penalty_exact_projection_and_reductions(gen):
    net = _mlp(gen)
    x = torch.randn(6, 4, generator=gen, dtype=D)
    pen = input_gradient_penalty(net, x, reduction="none")
    for n in range(6):
        jac = torch.autograd.functional.jacobian(lambda z: net(z[None])[0], x[n])  # (3, 4)
        assert pen[n].item() == pytest.approx((jac**2).sum().item(), abs=1e-12)
    assert input_gradient_penalty(net, x).item() == pytest.approx(pen.mean().item(), abs=1e-14)
    assert input_gradient_penalty(net, x, reduction="sum").item() == pytest.approx(pen.sum().item(),
                                                                            abs=1e-13)
    est = torch.stack([input_gradient_penalty(net, x, reduction="none", n_projections=1,
                                        generator=torch.Generator().manual_seed(i))
                       for i in range(3000)])
    assert (est.mean(0) - pen).abs().max() < 4 * est.std(0).max() / math.sqrt(3000)
    # double backprop reaches the parameters; create_graph=False gives a constant
    input_gradient_penalty(net, x).backward()
    assert net[0].weight.grad.abs().sum() > 0
    assert not input_gradient_penalty(net, x, create_graph=False).requires_grad
    # the Fisher-trace form: Σ_c p_c‖∇ log p_c‖² with sqrt(p) weights
    def weighted(z):
        lp = torch.log_softmax(net(z), 1)
        return lp * lp.detach().exp().sqrt()

    tr = input_gradient_penalty(weighted, x, reduction="none")
    for n in range(6):
        z = net(x[n : n + 1])
        jac = torch.autograd.functional.jacobian(lambda t: net(t[None])[0], x[n])  # (C, dim)
        p = torch.softmax(z, 1)[0]
        fisher = jac.T @ (torch.diag(p) - torch.outer(p, p)) @ jac
        assert tr[n].item() == pytest.approx(torch.trace(fisher).item(), abs=1e-12)


def test_old_gradient_penalty_name_warns_and_gives_the_same_value(gen):
    import kexue.regularize as R

    x = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    a = torch.randn(3, generator=gen, dtype=torch.float64)
    with pytest.warns(DeprecationWarning, match="input_gradient_penalty"):
        old = R.gradient_penalty(lambda z: torch.sin(z @ a), x, reduction="none")
    new = R.input_gradient_penalty(lambda z: torch.sin(z @ a), x, reduction="none")
    assert torch.equal(old, new)
    torch.testing.assert_close(new, torch.cos(x @ a) ** 2 * (a @ a))  # ‖∇ sin(a·x)‖²
