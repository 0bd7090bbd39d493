"""The C++ ON-LSTM layer loop (csrc/onlstm_layer.cpp, kexue.onlstm._ext): forward and backward
equal the autograd reference to 1e-12 in float64, gradcheck, float32, the inference-only forward,
and the fallbacks (KEXUE_ONLSTM_EXT=0, a failed build, CUDA, a broken cache)."""

import os
import shutil
import subprocess
import sys
import warnings

import pytest
import torch

from kexue.onlstm import ONLSTM, _ext
from kexue.onlstm import _layer as layer_mod
from kexue.onlstm._layer import layer_reference, onlstm_layer

D = torch.float64


def _toolchain() -> bool:
    if shutil.which("c++") is None and shutil.which("g++") is None:
        return False
    if shutil.which("ninja"):
        return True
    try:
        import ninja  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def ops():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        o = _ext.load_extension()
    if o is None:
        pytest.skip(f"C++ ON-LSTM loop unavailable: {_ext.extension_status()}")
    return o


def test_extension_builds_where_a_toolchain_exists():
    """A machine with a C++ compiler and ninja must get the C++ loop, not a silent fallback."""
    if not _toolchain():
        pytest.skip("no C++ compiler or ninja here: the Python loop is the documented fallback")
    if not _ext.extension_enabled():
        pytest.skip(f"{_ext.ENV_VAR}=0 in the environment")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert _ext.load_extension() is not None, _ext.extension_status()
    assert _ext.extension_status().startswith(("loaded from", "built in"))


def _problem(T, B, H, n, gen, dtype=D, scale=0.5):
    G = 2 * n + 4 * H
    xp = torch.randn(T, B, G, generator=gen, dtype=dtype).requires_grad_()
    w = (scale * torch.randn(G, H, generator=gen, dtype=dtype)).requires_grad_()
    h0 = torch.randn(B, H, generator=gen, dtype=dtype).requires_grad_()
    c0 = torch.randn(B, H, generator=gen, dtype=dtype).requires_grad_()
    return xp, w, h0, c0


def _outputs_and_grads(fn, args, weights):
    out = fn(*args)
    grads = torch.autograd.grad(sum((o * v).sum() for o, v in zip(out, weights)), args)
    return out, grads


# (T, B, H, n): several shapes and chunk sizes, one step, batch 1, one level, one neuron per level
SHAPES = [(6, 3, 12, 4), (1, 2, 8, 2), (5, 1, 6, 3), (1, 1, 4, 4), (4, 2, 10, 1),
          (9, 4, 16, 16), (3, 5, 24, 3)]


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_cpp_layer_equals_autograd_reference_float64(ops, shape, symmetric):
    T, B, H, n = shape
    gen = torch.Generator().manual_seed(hash(shape) % 2**31 + symmetric)
    args = _problem(T, B, H, n, gen)
    ref = layer_reference(*args, n, symmetric)
    weights = [torch.randn(o.shape, generator=gen, dtype=D) for o in ref]
    out_ref, g_ref = _outputs_and_grads(lambda *a: layer_reference(*a, n, symmetric), args,
                                        weights)
    for backend in ("cpp", "python"):
        out, g = _outputs_and_grads(lambda *a, b=backend: onlstm_layer(*a, n, symmetric,
                                                                         backend=b),
                                    args, weights)
        for a, b in zip(out, out_ref):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
        for name, a, b in zip(("xproj", "weight_hh", "h0", "c0"), g, g_ref):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=f"{backend} d{name}")


@pytest.mark.parametrize("symmetric", [False, True])
def test_cpp_layer_gradcheck(ops, symmetric):
    gen = torch.Generator().manual_seed(11 + symmetric)
    args = _problem(4, 2, 6, 3, gen)
    assert torch.autograd.gradcheck(
        lambda *a: onlstm_layer(*a, 3, symmetric, backend="cpp"), args)


@pytest.mark.parametrize("used", ["hs", "c_T", "forget", "input", "forget+input"])
def test_cpp_layer_with_some_outputs_unused(ops, used):
    # absent output gradients reach the C++ backward as None; it must treat them as zeros
    gen = torch.Generator().manual_seed(5)
    T, B, H, n = 5, 3, 8, 4
    args = _problem(T, B, H, n, gen)
    picks = {"hs": [0], "c_T": [1], "forget": [2], "input": [3], "forget+input": [2, 3]}[used]

    def loss(outs):
        return sum((outs[k] * torch.linspace(-1, 2, outs[k].numel(), dtype=D)
                    .view(outs[k].shape)).sum() for k in picks)

    g1 = torch.autograd.grad(loss(onlstm_layer(*args, n, True, backend="cpp")), args)
    g2 = torch.autograd.grad(loss(layer_reference(*args, n, True)), args)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_cpp_layer_float32_matches_float64_reference(ops):
    gen = torch.Generator().manual_seed(7)
    T, B, H, n = 20, 4, 32, 4
    args64 = _problem(T, B, H, n, gen, scale=0.3)
    args32 = tuple(a.detach().float().requires_grad_() for a in args64)
    weights = [torch.randn(o.shape, generator=gen, dtype=D)
               for o in layer_reference(*args64, n, False)]
    out64, g64 = _outputs_and_grads(lambda *a: layer_reference(*a, n, False), args64, weights)
    out32, g32 = _outputs_and_grads(lambda *a: onlstm_layer(*a, n, False, backend="cpp"),
                                    args32, [w.float() for w in weights])
    assert all(o.dtype == torch.float32 for o in (*out32, *g32))
    # float32 forward error ~1e-7 relative, growing slowly through 20 steps of the recurrence
    for a, b in zip(out32, out64):
        torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-5)
    for a, b in zip(g32, g64):
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4)


def test_inference_forward_equals_training_forward_bitwise(ops):
    gen = torch.Generator().manual_seed(3)
    args = _problem(7, 3, 12, 3, gen)
    train = onlstm_layer(*args, 3, False, backend="cpp")
    assert all(o.requires_grad for o in train)
    with torch.no_grad():
        infer = onlstm_layer(*args, 3, False, backend="cpp")
    plain = onlstm_layer(*(a.detach() for a in args), 3, False, backend="cpp")
    for a, b, c in zip(train, infer, plain):
        assert not b.requires_grad and not c.requires_grad
        assert torch.equal(a.detach(), b) and torch.equal(b, c)


@pytest.mark.parametrize("B, symmetric", [(5, False), (2, True)])
def test_inference_row_blocks_on_two_threads_equal_the_reference(ops, B, symmetric):
    """Large enough for the inference-only C++ forward to give each of two threads a block of
    rows for the whole sequence (uneven blocks at B = 5: 3 + 2 rows); equal to the autograd
    reference in float64."""
    T, H, n = 8, 128, 16
    grain = max(1, (1 << 20) // (T * (2 * n + 4 * H) * H))  # kSequenceGrain rows per block
    assert B >= 2 * grain  # two blocks of rows
    gen = torch.Generator().manual_seed(B + symmetric)
    args = [a.detach() for a in _problem(T, B, H, n, gen, scale=0.2)]
    ref = layer_reference(*args, n, symmetric)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch.inference_mode():
            fast = onlstm_layer(*args, n, symmetric, backend="cpp")
    finally:
        torch.set_num_threads(old)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_inference_mode_and_no_grad_take_the_fast_path_with_equal_numbers(ops, monkeypatch):
    torch.manual_seed(0)
    m = ONLSTM(5, 16, 2, chunk_size=4, dtype=D)
    x = torch.randn(7, 3, 5, generator=torch.Generator().manual_seed(1), dtype=D)
    ref, (h_ref, c_ref) = m(x)
    calls = []
    real = layer_mod._ONLSTMLayerCppFn.apply
    monkeypatch.setattr(layer_mod._ONLSTMLayerCppFn, "apply",
                        lambda *a: calls.append(1) or real(*a))
    for ctx in (torch.no_grad, torch.inference_mode):
        with ctx():
            out, (h, c) = m(x)
        assert not out.requires_grad
        assert torch.equal(out, ref.detach()) and torch.equal(h, h_ref.detach())
        assert torch.equal(c, c_ref.detach())
    assert not calls  # no autograd Function (nothing saved for a backward)


def test_extreme_logits_stay_finite_and_nan_propagates(ops):
    # saturated gates (σ → 0/1, tanh → ±1, one-hot softmax) as in the article's hard cases
    gen = torch.Generator().manual_seed(9)
    xp, w, h0, c0 = (a.detach() for a in _problem(3, 2, 8, 2, gen))
    for big in (1e3, 1e6, -1e6):
        for dtype in (torch.float32, D):
            a = (big * xp.to(dtype), w.to(dtype), h0.to(dtype), c0.to(dtype))
            out = onlstm_layer(*a, 2, False, backend="cpp")
            ref = layer_reference(*a, 2, False)
            assert all(torch.isfinite(o).all() for o in out)
            tol = 1e-12 if dtype == D else 1e-6
            for x, y in zip(out, ref):
                torch.testing.assert_close(x, y, rtol=0, atol=tol)
    bad = xp.clone()
    bad[1, 0, 5] = float("nan")
    hs, c_last, mf, mi = onlstm_layer(bad, w, h0, c0, 2, False, backend="cpp")
    assert torch.isnan(hs[1:, 0]).any() and torch.isfinite(hs[0]).all()
    assert torch.isfinite(hs[:, 1]).all()  # the other sequence of the batch is untouched


@pytest.mark.parametrize("mode", ["paper", "symmetric"])
def test_onlstm_module_cpp_equals_python_loop(ops, mode, monkeypatch):
    torch.manual_seed(2)
    m = ONLSTM(5, 12, 2, chunk_size=3, master_input=mode, dtype=D)
    x = torch.randn(8, 3, 5, generator=torch.Generator().manual_seed(4), dtype=D)

    def run():
        m.zero_grad()
        out, (h, c), dist = m(x, return_distances=True)
        (out.square().sum() + c.sum() + dist.forget.sum() - dist.input.sum()).backward()
        return [out, h, c, dist.forget, dist.input] + [p.grad.clone() for p in m.parameters()]

    cpp = run()
    monkeypatch.setenv(_ext.ENV_VAR, "0")
    py = run()
    for a, b in zip(cpp, py):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


# ---------------------------------------------------------------- fallbacks
def test_env_var_forces_the_python_loop(ops, monkeypatch):
    calls = []
    real = layer_mod._ONLSTMLayerFn.apply
    monkeypatch.setattr(layer_mod._ONLSTMLayerFn, "apply",
                        lambda *a: calls.append(1) or real(*a))
    args = _problem(3, 2, 4, 2, torch.Generator().manual_seed(0))
    onlstm_layer(*args, 2, False)
    assert calls == []  # the C++ loop ran
    monkeypatch.setenv(_ext.ENV_VAR, "0")
    assert not _ext.extension_enabled() and _ext.load_extension() is None
    assert _ext.extension_status() == f"disabled by {_ext.ENV_VAR}=0"
    onlstm_layer(*args, 2, False)
    assert calls == [1]
    with pytest.raises(RuntimeError, match="backend='cpp' needs"):
        onlstm_layer(*args, 2, False, backend="cpp")


def test_failed_build_warns_once_and_falls_back(monkeypatch, tmp_path):
    # a real failing build: a compiler that does not exist, into an empty cache
    monkeypatch.setattr(_ext, "_state", {"tried": False, "ops": None, "status": "not loaded yet"})
    monkeypatch.setenv("KEXUE_EXT_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.delenv(_ext.ENV_VAR, raising=False)
    with pytest.warns(RuntimeWarning, match="could not be built.*Python loop"):
        assert _ext.load_extension() is None
    assert _ext.extension_status().startswith("failed")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once: not again
        assert _ext.load_extension() is None
        gen = torch.Generator().manual_seed(1)
        args = _problem(4, 2, 6, 3, gen)
        out = onlstm_layer(*args, 3, True)  # the Python loop
    for a, b in zip(out, layer_reference(*args, 3, True)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    with pytest.raises(RuntimeError, match="status: failed"):
        onlstm_layer(*args, 3, True, backend="cpp")


def test_broken_cache_and_stale_lock_are_rebuilt(monkeypatch, tmp_path):
    # a library truncated by a killed build and torch's lock file left behind: both removed
    # before the build (here a stand-in that checks that, instead of compiling)
    monkeypatch.setenv("KEXUE_EXT_DIR", str(tmp_path))
    name = _ext._build_name(_ext._cflags())
    build_dir = tmp_path / name
    build_dir.mkdir()
    (build_dir / f"{name}.so").write_bytes(b"\x7fELF truncated")
    (build_dir / "lock").touch()
    seen = {}

    def fake_load(name_, sources, *, extra_cflags, build_directory, is_python_module, verbose):
        seen["state"] = sorted(p.name for p in build_dir.iterdir())
        seen["args"] = (name_, sources, build_directory, is_python_module)

    import torch.utils.cpp_extension as ce

    monkeypatch.setattr(ce, "load", fake_load)
    status = _ext._build_and_load()
    assert status.startswith("built in")
    assert seen["state"] == []  # neither the broken library nor the stale lock was left
    assert seen["args"] == (name, [str(_ext._SOURCE)], str(build_dir), False)
    assert (tmp_path / f"{name}.lock").exists()  # the flock file beside the build folder


def test_ninja_from_the_environments_bin_is_put_on_path(monkeypatch, tmp_path):
    # `.venv/bin/python -m pytest` without an activated venv: the pip ninja is not on PATH
    import torch.utils.cpp_extension as ce

    monkeypatch.setattr(ce, "is_ninja_available", lambda: False)
    monkeypatch.setitem(sys.modules, "ninja", None)  # no importable ninja package either
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", "/nowhere")
    with pytest.raises(RuntimeError, match="ninja is not installed"), _ext._ninja_on_path():
        pass
    exe = tmp_path / "ninja"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    with _ext._ninja_on_path():
        assert os.environ["PATH"] == f"{tmp_path}{os.pathsep}/nowhere"
    assert os.environ["PATH"] == "/nowhere"


def test_build_name_tracks_source_and_flags():
    a = _ext._build_name(["-O3"])
    assert a == _ext._build_name(["-O3"]) and a != _ext._build_name(["-O2"])
    assert a.startswith("kexue_onlstm_") and len(a) == len("kexue_onlstm_") + 16


def test_a_second_process_loads_the_cached_library(ops):
    code = ("from kexue.onlstm import _ext; import sys; _ext.load_extension(); "
            "sys.stdout.write(_ext.extension_status())")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)
    assert res.stdout.startswith("loaded from"), res.stdout + res.stderr


def test_bad_backend_is_rejected():
    args = _problem(2, 1, 4, 2, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="backend must be one of"):
        onlstm_layer(*args, 2, False, backend="c++")


def test_other_dtypes_use_the_python_loop(monkeypatch):
    monkeypatch.setattr(layer_mod._ONLSTMLayerCppFn, "apply",
                        lambda *a: pytest.fail("C++ loop used for bfloat16"))
    args = [a.detach().bfloat16() for a in _problem(2, 1, 4, 2, torch.Generator().manual_seed(0))]
    hs, *_ = onlstm_layer(*args, 2, False)
    assert hs.dtype == torch.bfloat16


@pytest.mark.gpu
def test_cuda_uses_the_python_loop_and_agrees_with_the_cpu():
    gen = torch.Generator().manual_seed(8)
    args = _problem(6, 3, 12, 4, gen)
    cpu = _outputs_and_grads(lambda *a: onlstm_layer(*a, 4, True), args,
                             [torch.ones(1, dtype=D)] * 4)
    cuda_args = tuple(a.detach().cuda().requires_grad_() for a in args)
    gpu = _outputs_and_grads(lambda *a: onlstm_layer(*a, 4, True), cuda_args,
                             [torch.ones(1, dtype=D, device="cuda")] * 4)
    for a, b in zip((*cpu[0], *cpu[1]), (*gpu[0], *gpu[1])):
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.cpu(), a, rtol=0, atol=1e-12)
