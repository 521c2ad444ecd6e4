"""The XOR (full spin basis) path of the ensemble losses: test set = complement of the train set, kernels
K(i, j) = k_0(i ⊕ j). Oracles: explicit dense matrices (spectra, congruences), brute-force Eq. 15/18 sums over
explicit test rows (losses), the streamed general path (losses, means), and the general predict_curves path."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from nnqs_fast import _linalg
from nnqs_fast.dynamics import qsntk_mse_ensemble
from nnqs_fast.dynamics._structure import is_xor_basis, xor_apply, xor_gather, xor_matrix, xor_spectrum
from nnqs_fast.errors import InvalidInputError
from nnqs_fast.kernels import relu_kernel_fn


def _basis(L: int) -> np.ndarray:
    i = np.arange(1 << L)
    return 1.0 - 2.0 * ((i[:, None] >> np.arange(L)[None, :]) & 1)


def _full_kernels(L: int, W: float = 0.8, b: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    k = relu_kernel_fn(1, W, b)(_basis(L), None, get=("nngp", "ntk"))
    return np.asarray(k.nngp), np.asarray(k.ntk)


def test_is_xor_basis(rng):
    x = _basis(5)
    assert is_xor_basis(x)
    assert is_xor_basis(x[:, rng.permutation(5)] * rng.choice([-1.0, 1.0], 5))  # any site order, any sign flips
    assert not is_xor_basis(x[rng.permutation(32)])       # rows shuffled: no longer a homomorphism of the index
    assert not is_xor_basis(x[:31])                       # not 2^L rows
    assert not is_xor_basis(0.5 * x)                      # not ±1
    y = x.copy()
    y[7, 2] *= -1
    assert not is_xor_basis(y)


def test_xor_kernel_is_its_table_and_spectrum(rng):
    """The analytic kernels on the full basis are k_0(i ⊕ j); κ = H k_0 are their eigenvalues, xor_apply = K v."""
    K, T = _full_kernels(6)
    D = K.shape[0]
    idx = np.arange(D)
    for M in (K, T):
        np.testing.assert_allclose(M, M[0][np.bitwise_xor.outer(idx, idx)], rtol=1e-14, atol=0)
        np.testing.assert_allclose(np.sort(xor_spectrum(M[0])), scipy.linalg.eigvalsh(M), rtol=1e-10,
                                   atol=1e-12 * np.abs(M).max())
        v = rng.standard_normal((3, D)) + 1j * rng.standard_normal((3, D))
        np.testing.assert_allclose(xor_apply(xor_spectrum(M[0]), v), v @ M, rtol=1e-12, atol=1e-12)
        sub = np.sort(rng.choice(D, 21, replace=False))
        np.testing.assert_array_equal(xor_matrix(M[0], sub, block=4), M[np.ix_(sub, sub)])
        np.testing.assert_array_equal(xor_gather(M[0], sub[:5], sub), M[np.ix_(sub[:5], sub)])


@pytest.mark.parametrize("n,block", [(1, 1), (37, 8), (64, 64), (50, 512)])
def test_congruence_matches_dense(rng, n, block):
    a = rng.standard_normal((n, n))
    a = a + a.T
    V = rng.standard_normal((n, n))
    want = V.T @ a @ V
    np.testing.assert_allclose(_linalg.congruence(V, a, block=block), want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    got = _linalg.congruence(V, lambda i, j: a[i:j], block=block)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())
    assert np.array_equal(got, got.T)


def _brute_force(K, T, y, tr, te, lr, reg, t):
    """Eq. 15 / 18 over explicit test rows with expm (shared kernels for ψ1, ψ2)."""
    n = tr.size
    c = 2 * lr / n
    Th = T[np.ix_(tr, tr)] + reg * np.eye(n)
    E = scipy.linalg.expm(-c * Th * t) if np.isfinite(t) else np.zeros((n, n))
    Tx_t = T[np.ix_(te, tr)] @ np.linalg.solve(Th, np.eye(n) - E)
    mu = Tx_t @ y[tr]
    Kx = K[np.ix_(te, tr)]
    var = np.diag(K)[te] - 2 * np.einsum("xb,xb->x", Tx_t, Kx) + np.einsum("xb,bc,xc->x", Tx_t, K[np.ix_(tr, tr)],
                                                                          Tx_t)
    return np.mean(np.abs(mu - y[te]) ** 2), 2 * np.mean(var), mu


@pytest.mark.parametrize("L,n,reg", [(5, 9, 0.0), (6, 40, 1e-3), (7, 100, 0.0)])
def test_losses_xor_match_brute_force_and_streamed(rng, L, n, reg):
    K, T = _full_kernels(L)
    D = K.shape[0]
    tr = np.sort(rng.choice(D, n, replace=False))
    te = np.setdiff1d(np.arange(D), tr)
    y = rng.standard_normal(D) + 1j * rng.standard_normal(D)
    lr = 0.4 * n / scipy.linalg.eigvalsh(T[np.ix_(tr, tr)])[-1]
    times = np.array([1.0, 7.0, 60.0, np.inf])

    def make():
        return qsntk_mse_ensemble(K[np.ix_(tr, tr)], T[np.ix_(tr, tr)], y[tr], lr, diag_reg=reg)

    got = make().losses_xor(times, y, tr, K[0], T[0])
    streamed = make().losses(times, y[te], K[np.ix_(te, tr)], T[np.ix_(te, tr)], np.diag(K)[te], chunk_size=7)
    for key in streamed:
        np.testing.assert_allclose(got[key], streamed[key], rtol=1e-10, atol=1e-14)
    mean = make().test_mean_xor(times, tr, T[0])
    for i, ti in enumerate(times):
        lmu, lgam, mu = _brute_force(K, T, y, tr, te, lr, reg, ti)
        np.testing.assert_allclose(got["L_mu_test"][i], lmu, rtol=1e-8)
        np.testing.assert_allclose(got["L_gamma_test"][i], lgam, rtol=1e-8)
        np.testing.assert_allclose(mean[i], mu, rtol=1e-8, atol=1e-12)


def test_losses_xor_pair_kernels(rng):
    """Different kernels for ψ1 and ψ2 (a pair of tables): equal to the streamed path."""
    L, n = 5, 12
    K1, T1 = _full_kernels(L, 0.8, 0.3)
    K2, T2 = _full_kernels(L, 1.1, 0.5)
    D = K1.shape[0]
    tr = np.sort(rng.choice(D, n, replace=False))
    te = np.setdiff1d(np.arange(D), tr)
    y = rng.standard_normal(D) + 1j * rng.standard_normal(D)
    ix, tx = np.ix_(tr, tr), np.ix_(te, tr)

    def make():
        return qsntk_mse_ensemble((K1[ix], K2[ix]), (T1[ix], T2[ix]), y[tr], 0.3)

    t = np.array([2.0, np.inf])
    got = make().losses_xor(t, y, tr, (K1[0], K2[0]), (T1[0], T2[0]))
    want = make().losses(t, y[te], (K1[tx], K2[tx]), (T1[tx], T2[tx]), (np.diag(K1)[te], np.diag(K2)[te]))
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(make().test_mean_xor(t, tr, (T1[0], T2[0])), make().test_mean(t, (T1[tx], T2[tx])),
                               rtol=1e-10, atol=1e-13)


def test_losses_xor_refuses_inconsistent_inputs(rng):
    K, T = _full_kernels(5)
    tr = np.sort(rng.choice(32, 10, replace=False))
    y = rng.standard_normal(32) + 0j
    ens = qsntk_mse_ensemble(K[np.ix_(tr, tr)], T[np.ix_(tr, tr)], y[tr], 0.3)
    with pytest.raises(InvalidInputError, match="XOR table"):
        ens.losses_xor(1.0, y, tr, K[0], 1.01 * T[0])        # not the predictor's NTK
    with pytest.raises(InvalidInputError, match="XOR table"):
        ens.losses_xor(1.0, y, np.sort((tr + 1) % 32), K[0], T[0])   # another train set
    with pytest.raises(InvalidInputError, match="train targets"):
        ens.losses_xor(1.0, y + 1.0, tr, K[0], T[0])
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        ens.losses_xor(1.0, y, tr[::-1], K[0], T[0])


@pytest.mark.parametrize("lx,ly,n,reg", [(2, 3, 20, 0.0), (3, 3, 150, 1e-4), (3, 3, 480, 0.0)])
def test_predict_curves_xor_path_equals_streamed_path(monkeypatch, lx, ly, n, reg):
    import nnqs_fast.experiments.predict_curves as pc

    cfg = pc.PredictConfig(system="tfim", lx=lx, ly=ly, train_size=n, diag_reg=reg, seed=n, n_times=9)
    a = pc.run_predict_curves(cfg)
    assert "test_sums" in a.timings   # the XOR path ran
    monkeypatch.setattr(pc, "is_xor_basis", lambda x: False)
    b = pc.run_predict_curves(cfg)
    assert "test_sums" not in b.timings
    for k in b.curves:
        np.testing.assert_allclose(a.curves[k], b.curves[k], rtol=1e-10, atol=1e-15)
    for k in b.limits:
        np.testing.assert_allclose(a.limits[k], b.limits[k], rtol=1e-10, atol=1e-15)
    assert a.eta_max == pytest.approx(b.eta_max, rel=1e-12)
