"""Suite-wide fixtures, and the ``gpu`` marker: skipped when CUDA is not available."""

from __future__ import annotations

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    """Skip ``@pytest.mark.gpu`` tests on a machine without CUDA (``make test-gpu`` runs them)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One intra-op thread for every test: the tensors here are small, so more threads only add
    synchronisation, and on a shared or busy machine oversubscribed OpenMP threads slow tests by
    orders of magnitude. Session-scoped, so module fixtures run under it too; the caller's
    setting is restored at the end."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
