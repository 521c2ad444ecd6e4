"""Test configuration for ``tests/`` and ``bench/`` (pytest's rootdir is the repository root, so this file applies
to both). This is the one place that decides whether GPU tests run.

Tests and benchmarks marked ``gpu`` are skipped (with the reason from ``nnqs-fast info``) unless the CUDA backend
is usable: the ``_cuda`` module was built, CuPy imports, and a device is visible.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("NNQS_FAST_QUIET", "1")  # no progress bars in test output


def _cuda_reason() -> str | None:
    from nnqs_fast._backend import cuda_status

    st = cuda_status()
    return None if st.usable else st.reason


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    reason = _cuda_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"CUDA backend not usable: {reason}")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so every test is reproducible."""
    return np.random.default_rng(1234)
