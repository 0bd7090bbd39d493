"""Virtual adversarial training (Miyato et al. 1704.03976; kexue.fm 7466): the power iteration
finds the top eigenvector of the output Fisher matrix, in float64 and float32; the perturbation
has norm ε; eval mode for every pass; batch-norm statistics untouched; modes restored."""

import math

import pytest
import torch

from kexue.regularize import consistency_loss, vat_direction, vat_loss, xi_step
from kexue.regularize._vat import kl_from_log_probs, kl_from_logits

D = torch.float64
N, DIM, C = 48, 16, 4


def _linear_softmax():
    """Linear-softmax model with a well separated Fisher spectrum (λ₂/λ₁ ≤ 0.25)."""
    g = torch.Generator().manual_seed(11)  # a seed whose spectra are well separated
    q1, _ = torch.linalg.qr(torch.randn(C, C, generator=g, dtype=D))
    q2, _ = torch.linalg.qr(torch.randn(DIM, C, generator=g, dtype=D))
    w = q1 @ torch.diag(torch.tensor([4.0, 1.0, 0.5, 0.25], dtype=D)) @ q2.T  # (C, DIM)
    b = 0.3 * torch.randn(C, generator=g, dtype=D)
    x = 2 * torch.rand(N, DIM, generator=g, dtype=D) - 1
    p = torch.softmax(x @ w.T + b, 1)  # (N, C)
    fishers = torch.stack([w.T @ (torch.diag(pn) - torch.outer(pn, pn)) @ w for pn in p])
    evals, evecs = torch.linalg.eigh(fishers)  # ascending
    assert (evals[:, -2] / evals[:, -1]).max() < 0.25
    return w, b, x, evecs[:, :, -1], evals[:, -1]


def _model(w, b, dtype):
    lin = torch.nn.Linear(DIM, C).to(dtype)
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(b)
    return lin


class Recorder(torch.nn.Module):
    """Wraps a model and records every input batch it sees."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.inner(x)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_vat_direction_is_top_fisher_eigenvector(dtype):
    w, b, x, top, _ = _linear_softmax()
    model = _model(w, b, dtype)
    d = vat_direction(model, x.to(dtype), n_power=10, generator=0)
    assert d.dtype == dtype
    torch.testing.assert_close(d.norm(dim=1), torch.ones(N, dtype=dtype))
    cos = (d.double() * top).sum(1).abs()
    assert cos.min() > 0.999
    if dtype == torch.float64:
        assert cos.min() > 1 - 1e-10
    # one power iteration from a Gaussian start already moves towards it
    d1 = vat_direction(model, x.to(dtype), n_power=1, generator=0)
    d0 = vat_direction(model, x.to(dtype), n_power=0, generator=0)
    assert (d1.double() * top).sum(1).abs().mean() > 2 * (d0.double() * top).sum(1).abs().mean()


def test_naive_xi_in_float32_misses_the_eigenvector():
    """The pitfall the ξ floor fixes: ξ = 1e-6 as an absolute step in float32 is at the rounding
    level of x + ξd: the power iteration converges to a far less accurate direction, and with
    some float32 kernels some examples get an exactly zero gradient (VAT silently does nothing
    for them)."""
    w, b, x, top, _ = _linear_softmax()
    model = _model(w, b, torch.float32)
    x32 = x.float()
    assert (xi_step(x32, 1e-6) > 1e-4).all() and (xi_step(x, 1e-6) == 1e-6).all()
    d = torch.randn(N, DIM, generator=torch.Generator().manual_seed(0))
    d = d / d.norm(dim=1, keepdim=True)
    with torch.no_grad():
        logp = torch.log_softmax(model(x32), 1)
    zero_rows = torch.zeros(N, dtype=torch.bool)
    for _ in range(10):
        r = (1e-6 * d).requires_grad_(True)
        kl = kl_from_log_probs(logp, torch.log_softmax(model(x32 + r), 1)).sum()
        (g,) = torch.autograd.grad(kl, r)
        norm = g.norm(dim=1, keepdim=True)
        zero_rows |= norm[:, 0] == 0
        d = torch.where(norm > 0, g / norm.clamp_min(1e-38), d)
    naive_err = 1 - (d.double() * top).sum(1).abs()
    ours_err = 1 - (vat_direction(model, x32, n_power=10, generator=0).double() * top).sum(1).abs()
    # how badly the naive step fails depends on the CPU's float32 kernels (AVX-512 builds gave
    # rows with an exactly zero gradient and errors > 0.5; AVX2 gives errors ~1e-4, no zero
    # rows): assert what holds on both, the naive direction 10× above the float32 noise floor
    # that ours reaches
    assert naive_err.median() > 1e-5 and ours_err.abs().max() < 1e-6
    assert zero_rows.any() or naive_err.max() > 1e-3


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_vat_loss_perturbation_has_norm_eps_along_the_eigenvector(dtype):
    w, b, x, top, lam = _linear_softmax()
    rec = Recorder(_model(w, b, dtype))
    xd = x.to(dtype)
    eps = 0.5
    lds = vat_loss(rec, xd, eps=eps, n_power=10, generator=0, reduction="none")
    # passes: clean, 10 power steps, the final perturbed pass
    assert len(rec.seen) == 12
    torch.testing.assert_close(rec.seen[0], xd)
    r = (rec.seen[-1] - xd).double()  # the perturbation actually applied
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert (r.norm(dim=1) - eps).abs().max() < tol
    assert ((r / eps) * top).sum(1).abs().min() > 0.999
    steps = (rec.seen[1] - xd).double().norm(dim=1)
    torch.testing.assert_close(steps, xi_step(xd, 1e-6).double().flatten(), rtol=1e-3, atol=0)
    assert lds.shape == (N,) and (lds > 0).all()


def test_lds_is_half_eps_squared_lambda_max():
    """LDS = ½ε²λ_max(F) + O(ε³) for the VAT perturbation."""
    w, b, x, _, lam = _linear_softmax()
    model = _model(w, b, D)
    errs = []
    epss = [0.1, 0.05, 0.025, 0.0125]
    for eps in epss:
        lds = vat_loss(model, x, eps=eps, n_power=20, generator=0, reduction="none")
        errs.append(((lds / (0.5 * eps**2 * lam)) - 1).abs().max().item())
    assert errs[-1] < 0.02
    slope = (math.log(errs[0]) - math.log(errs[-1])) / (math.log(epss[0]) - math.log(epss[-1]))
    assert slope == pytest.approx(1.0, abs=0.15)


def test_consistency_loss_is_half_sigma_squared_fisher_trace():
    w, b, x, _, _ = _linear_softmax()
    model = _model(w, b, D)
    p = torch.softmax(model(x), 1).detach()
    trace = torch.stack([torch.trace(w.T @ (torch.diag(pn) - torch.outer(pn, pn)) @ w) for pn in p])
    sigma, reps = 1e-2, 2000
    # one noise draw per row of the repeated batch: (reps·N,) → (reps, N)
    kl = consistency_loss(model, x.repeat(reps, 1), sigma=sigma, generator=0, reduction="none")
    kl = kl.reshape(reps, N).mean(0)
    ratio = kl / (0.5 * sigma**2 * trace)
    assert (ratio - 1).abs().mean() < 0.03
    # VAT's direction is the worst case: its KL beats isotropic noise of the same mean norm
    eps = sigma * math.sqrt(DIM)
    assert (vat_loss(model, x, eps=eps, n_power=10, generator=0) > kl.mean() * 2).item()


def _bn_dropout_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16),
                               torch.nn.Dropout(0.5), torch.nn.ReLU(),
                               torch.nn.Linear(16, 3)).to(D)


def test_eval_mode_batchnorm_untouched_and_modes_restored():
    model = _bn_dropout_model()
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(1), dtype=D)
    model.train()
    model(x)  # give the running statistics non-trivial values
    model[2].eval()  # mixed modes must come back exactly as they were
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    a = vat_loss(model, x, eps=1.0, generator=3)
    b = vat_loss(model, x, eps=1.0, generator=3)
    vat_direction(model, x, generator=3)
    consistency_loss(model, x, sigma=0.1, generator=3)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert [m.training for m in model.modules()] == modes
    # dropout did not leak: same generator, same value, equal to the eval-mode computation
    assert a.item() == b.item()
    d = vat_direction(model, x, generator=3)
    model.eval()
    with torch.no_grad():
        manual = kl_from_log_probs(torch.log_softmax(model(x), 1),
                                   torch.log_softmax(model(x + d), 1)).mean()
    assert a.item() == pytest.approx(manual.item(), rel=1e-12)


def test_gradients_flow_through_the_perturbed_pass_only():
    model = _bn_dropout_model().train()
    x = torch.randn(16, 8, generator=torch.Generator().manual_seed(2), dtype=D)
    loss = vat_loss(model, x, eps=0.5, generator=4)
    loss.backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    d = vat_direction(model, x, generator=4)
    model.eval()
    with torch.no_grad():
        logp = torch.log_softmax(model(x), 1)
    kl_from_log_probs(logp, torch.log_softmax(model(x + 0.5 * d), 1)).mean().backward()
    for g, p in zip(got, model.parameters()):
        torch.testing.assert_close(g, p.grad)


def test_generator_start_and_reproducibility():
    w, b, x, _, _ = _linear_softmax()
    model = _model(w, b, D)
    z = torch.randn(x.shape, generator=torch.Generator().manual_seed(11), dtype=D)
    d0 = vat_direction(model, x, n_power=0, generator=torch.Generator().manual_seed(11))
    torch.testing.assert_close(d0, z / z.norm(dim=1, keepdim=True))
    assert torch.equal(vat_loss(model, x, generator=5), vat_loss(model, x, generator=5))
    assert vat_loss(model, x, generator=5, n_power=0) != vat_loss(model, x, generator=6,
                                                                    n_power=0)
    assert vat_loss(model, x, generator=0, reduction="sum").item() == pytest.approx(
        vat_loss(model, x, generator=0, reduction="none").sum().item(), rel=1e-12)
    # under no_grad (e.g. evaluation) the power iteration still works
    with torch.no_grad():
        d = vat_direction(model, x, n_power=10, generator=0)
    torch.testing.assert_close(d, vat_direction(model, x, n_power=10, generator=0))


def test_binary_logit_and_image_shaped_inputs():
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
                               torch.nn.Linear(2 * 6 * 6, 3)).to(D)
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=D)
    d = vat_direction(conv, x, generator=0)
    assert d.shape == x.shape
    torch.testing.assert_close(d.reshape(5, -1).norm(dim=1), torch.ones(5, dtype=D))
    binary = torch.nn.Sequential(torch.nn.Linear(4, 1), torch.nn.Flatten(0)).to(D)
    xb = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), dtype=D)
    lds = vat_loss(binary, xb, eps=0.1, generator=0, reduction="none")
    assert lds.shape == (6,) and (lds > 0).all()
    # a binary linear logit z = wᵀx has Fisher ∝ wwᵀ: the direction is ±w/‖w‖
    wv = binary[0].weight[0].detach()
    cos = (vat_direction(binary, xb, generator=0) @ wv).abs() / wv.norm()
    torch.testing.assert_close(cos, torch.ones(6, dtype=D))


def test_stable_kl_matches_and_stays_accurate_in_float32():
    g = torch.Generator().manual_seed(3)
    z = 3 * torch.randn(200, 5, generator=g, dtype=D)
    z[:50, 0] += 15.0  # nearly one-hot rows: 1 − p_max ≈ 1e-7
    for scale in (1e-4, 1e-1, 3.0, 40.0):  # 40: rows beyond the expm1 range use the fallback
        z_new = z + scale * torch.randn(200, 5, generator=g, dtype=D)
        ref = kl_from_log_probs(torch.log_softmax(z, 1), torch.log_softmax(z_new, 1))
        torch.testing.assert_close(kl_from_logits(z, z_new), ref, rtol=1e-9, atol=2e-15)
    # float32, confident rows, tiny shift: the gradient q − p keeps its relative accuracy
    z_new = z + 1e-3 * torch.randn(200, 5, generator=g, dtype=D)
    exact = torch.softmax(z_new, 1) - torch.softmax(z, 1)  # (N, C), float64
    z32, zn32 = z.float(), z_new.float().requires_grad_(True)
    (stable,) = torch.autograd.grad(kl_from_logits(z32, zn32).sum(), zn32)
    zn32b = z_new.float().requires_grad_(True)
    naive = kl_from_log_probs(torch.log_softmax(z32, 1), torch.log_softmax(zn32b, 1)).sum()
    (naive,) = torch.autograd.grad(naive, zn32b)

    def rel_err(got):
        return ((got.double() - exact).norm(dim=1) / exact.norm(dim=1))[:50]

    assert rel_err(stable).median() < 1e-2 and rel_err(stable).quantile(0.9) < 0.05
    assert rel_err(naive).median() > 0.5  # the usual form is mostly rounding noise there


def test_float32_direction_for_confident_predictions():
    """Nearly one-hot predictions: the Fisher matrix is tiny, and only a KL that avoids
    subtracting probabilities near 1 gives the eigenvector in float32."""
    w, b, x, _, _ = _linear_softmax()
    w, b = 4 * w, b.clone()
    b[0] += 16.0
    p = torch.softmax(x @ w.T + b, 1)
    assert (1 - p.max(1).values).median() < 1e-5
    fishers = torch.stack([w.T @ (torch.diag(pn) - torch.outer(pn, pn)) @ w for pn in p])
    evals, evecs = torch.linalg.eigh(fishers)
    top = evecs[:, :, -1]
    model, x32 = _model(w, b, torch.float32), x.float()
    d = vat_direction(model, x32, n_power=30, generator=0)
    assert (d.double() * top).sum(1).abs().min() > 0.999
    # the same power iteration and step, with the KL as Σ p (log p − log q): far off
    d = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    d = d / d.norm(dim=1, keepdim=True)
    with torch.no_grad():
        logp = torch.log_softmax(model(x32), 1)
    for _ in range(30):
        r = (xi_step(x32, 1e-6) * d).requires_grad_(True)
        kl = kl_from_log_probs(logp, torch.log_softmax(model(x32 + r), 1)).sum()
        (g,) = torch.autograd.grad(kl, r)
        d = g / g.norm(dim=1, keepdim=True)
    assert (d.double() * top).sum(1).abs().min() < 0.9
