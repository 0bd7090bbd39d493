"""Suite-wide fixtures."""

from __future__ import annotations

import pytest
import torch


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
