"""Test configuration. This is the one place that decides whether GPU tests run.

Tests marked ``gpu`` are skipped (with the reason from ``nnqs-fast info``) unless the CUDA backend is usable:
the ``_cuda`` module was built, CuPy imports, and a device is visible.
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
    if not any("gpu" in item.keywords for item in items):
        return
    reason = _cuda_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"CUDA backend not usable: {reason}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so every test is reproducible."""
    return np.random.default_rng(1234)
