"""The fast Walsh–Hadamard transform (``nnqs/walsh.hpp`` via ``dynamics._walsh.fwht_rows``) and the XOR-kernel
diagonal congruence (``dynamics.ensemble._xor_diag_congruence``) against the Hadamard matrix built independently
as a Kronecker power of ``[[1, 1], [1, −1]] / √2`` (and scipy's Sylvester ``hadamard``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from nnqs_fast import _core
from nnqs_fast.dynamics._walsh import fwht_rows
from nnqs_fast.dynamics.ensemble import _xor_diag_congruence
from nnqs_fast.errors import ShapeMismatchError


def _kron_hadamard(L: int) -> np.ndarray:
    h = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(2.0)
    out = np.ones((1, 1))
    for _ in range(L):
        out = np.kron(out, h)
    return out


@pytest.mark.parametrize("L", [0, 1, 2, 3, 4, 6, 9, 11, 12])
def test_fwht_rows_matches_kronecker_power(L):
    D = 1 << L
    x = np.random.default_rng(L).standard_normal((13, D))
    np.testing.assert_allclose(fwht_rows(x), x @ _kron_hadamard(L), rtol=0, atol=1e-12)
    if L:
        np.testing.assert_allclose(fwht_rows(x), x @ scipy.linalg.hadamard(D) / np.sqrt(D), rtol=0, atol=1e-12)


def test_fwht_rows_shapes_copy_and_involution():
    x = np.random.default_rng(0).standard_normal((3, 2, 64))
    x0 = x.copy()
    z = fwht_rows(x)
    assert z.shape == x.shape and np.array_equal(x, x0)            # input untouched
    np.testing.assert_allclose(fwht_rows(z), x, atol=1e-13)         # Ĥ² = 1
    np.testing.assert_allclose(fwht_rows(x[0, 0]), x[0, 0] @ _kron_hadamard(6), atol=1e-13)
    with pytest.raises(ShapeMismatchError, match="2\\^L"):
        fwht_rows(np.ones((2, 12)))


def test_fwht_rows_thread_count_bit_identical():
    x = np.random.default_rng(3).standard_normal((21, 4096))
    outs = []
    for th in (1, 2, 3):
        y = x.copy()
        _core.fwht_rows(y, th)
        outs.append(y)
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[0], outs[2])


@pytest.mark.parametrize("L,n", [(6, 20), (10, 37), (12, 64)])
def test_xor_diag_congruence_matches_dense(L, n):
    D = 1 << L
    g = np.random.default_rng(L)
    tr = np.sort(g.choice(D, n, replace=False))
    V = g.standard_normal((n, n))
    spec = g.standard_normal(D)
    H = _kron_hadamard(L)
    A = (H * spec) @ H                                              # the full-basis XOR kernel Ĥ diag(spec) Ĥ
    want = np.einsum("ik,ij,jk->k", V, A[np.ix_(tr, tr)], V)
    got = _xor_diag_congruence(V, tr, D, spec)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11 * np.abs(want).max())
    # LAPACK's column-major eigenvectors and strided views are read in place, with the same bits
    assert np.array_equal(_xor_diag_congruence(np.asfortranarray(V), tr, D, spec), got)
    W = np.zeros((n, 2 * n))
    W[:, ::2] = V
    assert np.array_equal(_xor_diag_congruence(W[:, ::2], tr, D, spec), got)


def test_xor_diag_congruence_refuses_bad_input():
    V = np.ones((2, 2))
    with pytest.raises(ShapeMismatchError):
        _xor_diag_congruence(V, np.array([0, 1]), 8, np.ones(4))
    with pytest.raises(Exception, match="power of two"):
        _core.xor_diag_congruence(V, np.array([0, 1], np.int64), np.ones(6))
    with pytest.raises(Exception, match="out of range"):
        _core.xor_diag_congruence(V, np.array([0, 9], np.int64), np.ones(8))
