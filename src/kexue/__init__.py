"""kexue — Su Jianlin's Scientific Spaces (kexue.fm) articles as runnable, tested code.

Subpackages (one per article): :mod:`kexue.stochastic`, :mod:`kexue.diffusion`, :mod:`kexue.gan`,
:mod:`kexue.onlstm`, :mod:`kexue.smooth`, :mod:`kexue.regularize`, :mod:`kexue.forms`,
:mod:`kexue.integrals`; plus :mod:`kexue.data`, :mod:`kexue.checkpoint`, and the experiment
registry :mod:`kexue.experiments` that ``kexue reproduce`` runs into an HTML report.
Image metrics (Fréchet distance, the MNIST-FD digit classifier): :mod:`kexue.metrics`.

Shared machinery: :mod:`kexue.training` (the one training engine: checkpoints, exact resume,
NaN guard, SIGINT/SIGTERM save-then-stop, loss log, DDP), :mod:`kexue.parallel` (torchrun's
process group; Monte Carlo in seeded blocks, identical for any number of processes),
:mod:`kexue.rng` (the randomness rule: ``generator=`` is a ``torch.Generator``, an int seed or
``None`` for PyTorch's default generator) and :mod:`kexue.devices` (``auto|cpu|cuda|cuda:N``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kexue")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
