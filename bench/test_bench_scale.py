"""Benchmarks of the 4×4-scale pieces, each against a NumPy/SciPy baseline in the same group.

* ``scale-lambda-max``: λ_max of an n × n ReLU NTK by Lanczos (:func:`nnqs_fast.kernels.lambda_max`) vs a
  subset ``scipy.linalg.eigh`` (the previous implementation); same value to 1e-10.
* ``scale-cholesky``: the blocked Cholesky of :mod:`nnqs_fast._linalg` vs ``np.linalg.cholesky``.
* ``scale-kernel-diagonal``: the NNGP diagonal on m points by :func:`nnqs_fast.kernels.kernel_diagonal` vs
  ``np.diag`` of the full m × m matrix.

Default sizes are small (the test run executes each once with ``--benchmark-disable``); ``NNQS_BENCH_FULL=1``
uses n = 4096 (λ_max, Cholesky) and m = 16 384 (diagonal).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.linalg

from nnqs_fast import _linalg
from nnqs_fast.kernels import kernel_diagonal, lambda_max, relu_kernel_fn

FULL = os.environ.get("NNQS_BENCH_FULL", "0") == "1"
N = 4096 if FULL else 400
M = 16384 if FULL else 1000


@pytest.fixture(scope="module")
def ntk() -> np.ndarray:
    x = np.sign(np.random.default_rng(0).standard_normal((N, 16)))
    return relu_kernel_fn()(x, None, get="ntk")


@pytest.mark.benchmark(group="scale-lambda-max")
def test_lambda_max_krylov(benchmark, ntk):
    got = benchmark(lambda_max, ntk)
    ref = scipy.linalg.eigh(ntk, eigvals_only=True, subset_by_index=[N - 1, N - 1])[0]
    assert abs(got - ref) <= 1e-10 * ref


@pytest.mark.benchmark(group="scale-lambda-max")
def test_lambda_max_subset_eigh_baseline(benchmark, ntk):
    w = benchmark(scipy.linalg.eigh, ntk, eigvals_only=True, subset_by_index=[N - 1, N - 1])
    assert w[0] > 0


@pytest.mark.benchmark(group="scale-cholesky")
def test_blocked_cholesky(benchmark, ntk):
    a = ntk + np.eye(N)
    L = benchmark(_linalg.blocked_cholesky, a, block=max(N // 4, 1))
    np.testing.assert_allclose(L, np.linalg.cholesky(a), rtol=1e-10, atol=1e-10)


@pytest.mark.benchmark(group="scale-cholesky")
def test_numpy_cholesky_baseline(benchmark, ntk):
    a = ntk + np.eye(N)
    L = benchmark(np.linalg.cholesky, a)
    assert np.all(np.diag(L) > 0)


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return np.sign(np.random.default_rng(1).standard_normal((M, 16)))


@pytest.mark.benchmark(group="scale-kernel-diagonal")
def test_kernel_diagonal(benchmark, points):
    kfn = relu_kernel_fn()
    d = benchmark(kernel_diagonal, kfn, points, "nngp")
    np.testing.assert_array_equal(d[:200], np.diag(kfn(points[:200], None, get="nngp")))


@pytest.mark.benchmark(group="scale-kernel-diagonal")
def test_full_matrix_diagonal_baseline(benchmark, points):
    kfn = relu_kernel_fn()
    d = benchmark(lambda: np.diag(kfn(points, None, get="nngp")).copy())
    assert d.shape == (M,)
