"""Shared fixtures of the kexue.gan tests."""

import pytest


@pytest.fixture(scope="session")
def clf_cache(tmp_path_factory):
    """One cache file for the canonical MNIST classifier per test session (trained once, ~10 s),
    shared by the MNIST experiment tests."""
    return str(tmp_path_factory.mktemp("clf") / "mnist-classifier.safetensors")
