"""Scale pieces of the kernels/dynamics layers: diagonal-only kernels (oracle: closed form and the full matrix),
Krylov λ_max (oracle: dense LAPACK eigh), streamed test losses (oracle: brute-force Eq. 15/18 with expm)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from nnqs_fast.dynamics import qsntk_mse_ensemble
from nnqs_fast.errors import MemoryLimitError
from nnqs_fast.kernels import cosnet_kernel_fn, kernel_diagonal, lambda_max, relu_kernel_fn


def _spins(rng, n, d):
    return np.sign(rng.standard_normal((n, d)))


def test_relu_diagonal_closed_form(rng):
    """One hidden ReLU layer at x = x': cos t = 1, so K = W² k0 / 2 + b², Θ = W² k0 / 2 + K with
    k0 = W² |x|²/d + b² (Cho & Saul at t = 0)."""
    W, b = 0.7, 0.3
    x = rng.standard_normal((75, 9))
    k0 = W**2 * np.sum(x * x, 1) / 9 + b**2
    k = W**2 * k0 / 2 + b**2
    d = kernel_diagonal(relu_kernel_fn(1, W, b), x, ("nngp", "ntk"), block=8)
    np.testing.assert_allclose(d.nngp, k, rtol=1e-13)
    np.testing.assert_allclose(d.ntk, W**2 * k0 / 2 + k, rtol=1e-13)


@pytest.mark.parametrize("kfn", [relu_kernel_fn(2), cosnet_kernel_fn(1.3, 0.8, "all")])
def test_diagonal_equals_full_matrix_diagonal(rng, kfn):
    x = _spins(rng, 101, 12)
    for block in (1, 7, 32, 500):
        np.testing.assert_array_equal(kernel_diagonal(kfn, x, "ntk", block=block),
                                      np.diag(kfn(x, None, get="ntk")))


@pytest.mark.parametrize("n", [80, 700])
def test_lambda_max_krylov_equals_dense(rng, n):
    k = relu_kernel_fn()(_spins(rng, n, 12), None, get="ntk")
    dense = scipy.linalg.eigh(k, eigvals_only=True)[-1]
    assert abs(lambda_max(k) - dense) <= 1e-10 * dense


def test_lambda_max_krylov_on_a_clustered_top(rng):
    """Nearly degenerate top eigenvalues (gap 1e-6 relative) still give the largest one to 1e-10."""
    q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    w = np.linspace(0.1, 1.0, 200)
    w[-2] = 1.0 - 1e-6
    k = (q * w) @ q.T
    assert abs(lambda_max(k) - 1.0) <= 1e-10


def _brute_force_losses(K, Th, Kx, Tx, kxx, y, yx, lr, t):
    """Eq. 15 / 18 written out with expm: T_x(t) = Θ_xB Θ⁻¹ (1 − e^{−cΘt}), shared kernels for ψ1, ψ2."""
    n = y.size
    c = 2 * lr / n
    E = scipy.linalg.expm(-c * Th * t)
    Tx_t = Tx @ np.linalg.solve(Th, np.eye(n) - E)
    mu = Tx_t @ y
    var = kxx - 2 * np.einsum("xb,xb->x", Tx_t, Kx) + np.einsum("xb,bc,xc->x", Tx_t, K, Tx_t)
    return np.mean(np.abs(mu - yx) ** 2), 2 * np.mean(var)


def test_streamed_test_losses_match_brute_force(rng):
    x = _spins(rng, 48, 6)
    x = np.unique(x, axis=0)
    tr, te = x[:20], x[20:]
    kfn = relu_kernel_fn()
    k_tt, k_xt = kfn(tr, None), kfn(te, tr)
    y = rng.standard_normal(20) + 1j * rng.standard_normal(20)
    yx = rng.standard_normal(te.shape[0]) + 1j * rng.standard_normal(te.shape[0])
    lr = 0.5 * 20 / lambda_max(k_tt.ntk)
    ens = qsntk_mse_ensemble(k_tt.nngp, k_tt.ntk, y, lr)
    diag = kernel_diagonal(kfn, te, "nngp")
    rows = {"nngp": lambda a, b: k_xt.nngp[a:b], "ntk": lambda a, b: k_xt.ntk[a:b]}
    t = np.array([3.0, 40.0])
    got = ens.losses(t, yx, rows["nngp"], rows["ntk"], diag, chunk_size=5)  # several row blocks
    for i, ti in enumerate(t):
        lmu, lgam = _brute_force_losses(k_tt.nngp, k_tt.ntk, k_xt.nngp, k_xt.ntk, diag, y, yx, lr, ti)
        np.testing.assert_allclose(got["L_mu_test"][i], lmu, rtol=1e-8)
        np.testing.assert_allclose(got["L_gamma_test"][i], lgam, rtol=1e-8)
    mean = ens.test_mean(t, rows["ntk"], te.shape[0], chunk_size=4)
    np.testing.assert_allclose(mean, ens(t, None, k_xt.ntk, get_cov=None)[1].mean, rtol=1e-12, atol=1e-14)


def test_predict_refuses_oversize_before_work(monkeypatch):
    from nnqs_fast.experiments.predict_curves import PredictConfig, predict_memory_bytes, run_predict_curves

    monkeypatch.setenv("NNQS_FAST_MAX_TOTAL_BYTES", str(2 * 1024**3))
    est = predict_memory_bytes(65536, 16384, 16)
    assert 8 * 5 * 16384**2 < est < 12 * 1024**3
    with pytest.raises(MemoryLimitError, match=r"needs about 10\.\d+ GiB.*--train-size <= \d+"):
        run_predict_curves(PredictConfig(system="tfim", lx=4, ly=4, train_size=16384))


def test_basis_dimension_4x4():
    from nnqs_fast.physics.targets import basis_dimension

    assert basis_dimension("tfim", 4, 4) == 65536
    assert basis_dimension("hubbard", 4, 4) == 120 * 120
    assert basis_dimension("hubbard", 3, 4) == 66 * 66
