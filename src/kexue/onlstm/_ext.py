"""The C++ kernel of one ON-LSTM layer (``csrc/onlstm_layer.cpp``), compiled on first use.

The whole time loop of a layer — per step one GEMM through ATen and one fused pass over each
batch row (master-gate softmax and cumulative sums, gate activations, chunked cell update,
``tanh c``, ``h``), and the same for the hand-written backward — runs in C++ on the CPU (Shen et
al. 2019, arXiv:1810.09536; kexue.fm 6621). A forward that needs no gradient (``torch.no_grad``,
``torch.inference_mode``) keeps nothing for the backward and gives each thread one block of batch
rows for the whole sequence (rows are independent through the recurrence), so its threads never
synchronise between steps. It is compiled just in time with
:func:`torch.utils.cpp_extension.load` (g++ and ninja; the ``ninja`` pip package is used when no
``ninja`` is on ``PATH``) the first time an ON-LSTM runs on the CPU, once per machine: the shared
library is cached under ``$KEXUE_EXT_DIR`` (default ``$TORCH_EXTENSIONS_DIR``, else
``~/.cache/torch_extensions``) in a folder named by a hash of the source, the compiler flags and
the PyTorch/Python versions, so a later process only loads it (milliseconds).

If the build fails (no compiler, no ninja, read-only cache...) a :class:`RuntimeWarning` is
issued once and the Python loop of :mod:`kexue.onlstm._layer` is used instead; the results are
the same to rounding. ``KEXUE_ONLSTM_EXT=0`` in the environment forces the Python loop (read on
every call, so it can be switched inside one process).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import sys
import threading
import warnings
from pathlib import Path

import torch

__all__ = ["ENV_VAR", "extension_enabled", "extension_status", "load_extension"]

ENV_VAR = "KEXUE_ONLSTM_EXT"
_SOURCE = Path(__file__).with_name("csrc") / "onlstm_layer.cpp"
_lock = threading.Lock()
_state: dict = {"tried": False, "ops": None, "status": "not loaded yet"}


def extension_enabled() -> bool:
    """False when ``KEXUE_ONLSTM_EXT=0`` (or ``false``/``no``/``off``) forces the Python loop."""
    return os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def extension_status() -> str:
    """How the kernel was obtained: ``"loaded from …"``, ``"built in N s: …"``, ``"failed: …"``,
    ``"not loaded yet"``, or ``"disabled by KEXUE_ONLSTM_EXT=0"``."""
    if not extension_enabled():
        return f"disabled by {ENV_VAR}={os.environ.get(ENV_VAR)}"
    return _state["status"]


def _cflags() -> list[str]:
    # -fno-trapping-math/-fno-math-errno (as PyTorch itself is built) let GCC vectorise the
    # clamps of the inline exp; the values do not change. Never -ffast-math: the exp's rounding
    # trick needs IEEE addition.
    flags = ["-O3", "-fno-trapping-math", "-fno-math-errno"]
    capability = torch.backends.cpu.get_cpu_capability()  # "AVX2" implies AVX2 + FMA
    if platform.machine() in ("x86_64", "AMD64") and capability in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma"]
    return flags


def _cache_root() -> Path:
    for var in ("KEXUE_EXT_DIR", "TORCH_EXTENSIONS_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "torch_extensions"


def _build_name(flags: list[str]) -> str:
    h = hashlib.sha256(_SOURCE.read_bytes())
    for part in (*flags, torch.__version__, sys.version, platform.machine(),
                 os.environ.get("CXX", "c++")):
        h.update(part.encode())
    return f"kexue_onlstm_{h.hexdigest()[:16]}"


def _ninja_dirs() -> list[str]:
    """Folders that may hold the ``ninja`` pip package's binary: the running Python's scripts
    folder (a virtual environment's ``bin``, on ``PATH`` only when it is activated) and the
    package's own ``BIN_DIR``."""
    dirs = [os.path.dirname(sys.executable)]
    try:
        import ninja

        dirs.append(getattr(ninja, "BIN_DIR", ""))
    except ImportError:
        pass
    return [d for d in dirs if d and os.access(os.path.join(d, "ninja"), os.X_OK)]


@contextlib.contextmanager
def _ninja_on_path():
    """Put a ``ninja`` binary on ``PATH`` for the build if none is there."""
    from torch.utils.cpp_extension import is_ninja_available

    old = os.environ.get("PATH", "")
    if not is_ninja_available():
        dirs = _ninja_dirs()
        if not dirs:
            raise RuntimeError("ninja is not installed (pip install ninja)")
        os.environ["PATH"] = dirs[0] + os.pathsep + old
    try:
        yield
    finally:
        os.environ["PATH"] = old


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive ``flock`` (released by the OS if the holder dies, unlike a lock file)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: rely on torch's own lock file
        yield
        return
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _try_load(lib: Path) -> bool:
    try:
        torch.ops.load_library(str(lib))
    except (OSError, RuntimeError):  # absent, truncated by a killed build, or not loadable
        return False
    return True


def _build_and_load() -> str:
    """Load the cached library, or build it (under a file lock) and load it; returns the status."""
    import time

    flags = _cflags()
    name = _build_name(flags)
    build_dir = _cache_root() / name
    lib = build_dir / f"{name}.so"
    if lib.exists() and _try_load(lib):
        return f"loaded from {lib}"
    build_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with _file_lock(build_dir.parent / f"{name}.lock"):
        if lib.exists() and _try_load(lib):  # another process built it meanwhile
            return f"loaded from {lib}"
        # We hold the lock, so nobody else is building: remove a broken library (ninja would
        # call it up to date) and a lock file of torch's own left by a killed build (torch would
        # wait for it for ever).
        lib.unlink(missing_ok=True)
        (build_dir / "lock").unlink(missing_ok=True)
        from torch.utils.cpp_extension import load

        with _ninja_on_path(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on compiler versions
            load(name, [str(_SOURCE)], extra_cflags=flags, build_directory=str(build_dir),
                 is_python_module=False, verbose=False)  # builds, then loads the library
    return f"built in {time.perf_counter() - t0:.0f} s: {lib}"


def load_extension():
    """The compiled ops (``torch.ops.kexue_onlstm``), or None for the Python fallback.

    Builds on the first call in a process (tens of seconds, once per machine; later processes
    load the cached library). A failed build warns once and returns None from then on.
    """
    if not extension_enabled():
        return None
    if _state["tried"]:
        return _state["ops"]
    with _lock:
        if not _state["tried"]:
            try:
                if not _SOURCE.exists():
                    raise RuntimeError(f"source {_SOURCE} is missing from the installation")
                _state["status"] = _build_and_load()
                _state["ops"] = torch.ops.kexue_onlstm
            except Exception as err:  # any build failure means: fall back
                lines = [s for s in str(err).strip().splitlines() if s.strip()]
                detail = " | ".join(lines[-3:]) if lines else type(err).__name__
                _state["status"] = f"failed: {detail}"
                warnings.warn(
                    "kexue.onlstm: the C++ ON-LSTM layer could not be built, so the slower "
                    f"Python loop is used ({type(err).__name__}: {detail}). Install g++ and "
                    f"ninja to get it, or set {ENV_VAR}=0 to choose the Python loop silently.",
                    RuntimeWarning, stacklevel=3)
            _state["tried"] = True
    return _state["ops"]
