"""Benchmarks of the fast Walsh–Hadamard transform (``nnqs/walsh.hpp``).

Group ``walsh-fwht-rows``: 64 rows of length D by ``fwht_rows`` (radix-4 butterflies on 8-lane SIMD panels)
against the NumPy baseline ``(H_a ⊗ H_b)`` as two batched GEMMs with the Sylvester matrices (the previous
implementation). Group ``walsh-xor-diag``: ``diag(Vᵀ A_BB V)`` of a full-basis XOR kernel for n train columns, the
core's fused scatter–transform–reduce against the dense NumPy product ``Σ_ij V_ik A_ij V_jk`` over the gathered
``A_BB``. Correctness: each pair agrees to 1e-10. Default D = 2^12; ``NNQS_BENCH_FULL=1``: D = 2^16.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.linalg

from nnqs_fast.dynamics._structure import xor_gather, xor_spectrum
from nnqs_fast.dynamics._walsh import fwht_rows
from nnqs_fast.dynamics.ensemble import _xor_diag_congruence

FULL = os.environ.get("NNQS_BENCH_FULL", "") not in ("", "0")
L = 16 if FULL else 12
D = 1 << L
N = 2048 if FULL else 256


def _gemm_fwht(x: np.ndarray) -> np.ndarray:
    a = L // 2
    ha, hb = scipy.linalg.hadamard(1 << a).astype(float), scipy.linalg.hadamard(1 << (L - a)).astype(float)
    z = np.matmul(np.matmul(ha, x.reshape(-1, 1 << a, 1 << (L - a))), hb)
    return z.reshape(x.shape) / np.sqrt(D)


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).standard_normal((64, D))


@pytest.mark.benchmark(group="walsh-fwht-rows")
def test_bench_fwht_rows(benchmark, rows):
    got = benchmark(fwht_rows, rows)
    np.testing.assert_allclose(got, _gemm_fwht(rows), atol=1e-10)


@pytest.mark.benchmark(group="walsh-fwht-rows")
def test_bench_fwht_rows_numpy_gemm(benchmark, rows):
    benchmark(_gemm_fwht, rows)


@pytest.fixture(scope="module")
def xor():
    g = np.random.default_rng(1)
    tr = np.sort(g.choice(D, N, replace=False))
    V = np.linalg.qr(g.standard_normal((N, N)))[0]
    row = np.exp(-np.arange(D) / D)                   # some first row; its spectrum may have any sign
    return tr, V, row, xor_spectrum(row)


def _dense_diag(tr, V, row):
    A = xor_gather(row, tr, tr)
    return np.einsum("ik,ik->k", V, A @ V)


@pytest.mark.benchmark(group="walsh-xor-diag")
def test_bench_xor_diag_congruence(benchmark, xor):
    tr, V, row, spec = xor
    got = benchmark(_xor_diag_congruence, V, tr, D, spec)
    np.testing.assert_allclose(got, _dense_diag(tr, V, row), rtol=1e-10, atol=1e-10)


@pytest.mark.benchmark(group="walsh-xor-diag")
def test_bench_xor_diag_numpy_dense(benchmark, xor):
    tr, V, row, _ = xor
    benchmark(_dense_diag, tr, V, row)
