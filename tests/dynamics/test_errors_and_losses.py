"""Error cases (named errors, never silent NaN) and the loss / fidelity helpers."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast import errors
from nnqs_fast.dynamics import (
    assemble_state,
    fidelity,
    mse_loss,
    nngp_posterior,
    qsntk_mse_ensemble,
    qsntk_mse_predictor,
)

from .conftest import make_problem


def test_indefinite_kernel_reports_smallest_eigenvalue_and_diag_reg(prob):
    K = prob.tt(prob.K1) - 0.5 * np.eye(prob.n) * np.linalg.eigvalsh(prob.tt(prob.K1))[-1]
    lam_min = np.linalg.eigvalsh(K)[0]
    pf = qsntk_mse_predictor(K, prob.y, learning_rate=0.1)
    with pytest.raises(errors.KernelNotPositiveDefiniteError, match="smallest eigenvalue") as exc:
        pf(1.0)
    assert "diag_reg" in str(exc.value) and f"{lam_min:.4g}"[:5] in str(exc.value)
    with pytest.raises(errors.KernelNotPositiveDefiniteError, match="diag_reg"):
        pf(None)
    with pytest.raises(errors.KernelNotPositiveDefiniteError):
        nngp_posterior(K, prob.y)()


def test_singular_kernel_finite_time_ok_infinite_time_raises(prob):
    J = np.random.default_rng(0).standard_normal((prob.n, 4))  # rank 4 < n
    K = J @ J.T
    pf = qsntk_mse_predictor(K, prob.y, learning_rate=0.1)
    tr = pf([0.0, 5.0, 1e4], prob.f0)
    assert np.all(np.isfinite(tr))
    # the null-space component of the error is untouched by training
    _lam, V = np.linalg.eigh(K)
    null = V[:, :prob.n - 4]
    np.testing.assert_allclose(null.T @ (tr[-1] - prob.y), null.T @ (prob.f0 - prob.y), atol=1e-9)
    with pytest.raises(errors.KernelNotPositiveDefiniteError, match="singular"):
        pf(None)
    pf2 = qsntk_mse_predictor(K, prob.y, learning_rate=0.1)
    with pytest.raises(errors.KernelNotPositiveDefiniteError, match="diag_reg"):
        pf2(None)  # Cholesky path
    # the suggested regularisation fixes it
    out = qsntk_mse_predictor(K, prob.y, learning_rate=0.1, diag_reg=1e-3)(None)
    np.testing.assert_allclose(out, prob.y, atol=1e-8)
    ens = qsntk_mse_ensemble(K, K, prob.y, 0.1)
    with pytest.raises(errors.KernelNotPositiveDefiniteError):
        ens.losses(None)
    assert np.all(np.isfinite(ens.losses([1.0, 10.0])["L_psi_train"]))


def test_learning_rate_too_large_only_for_discrete(prob):
    K = prob.tt(prob.K1)
    eta_max = prob.n / np.linalg.eigvalsh(K)[-1]
    pf = qsntk_mse_predictor(K, prob.y, learning_rate=1.01 * eta_max, discrete=True)
    with pytest.raises(errors.LearningRateTooLargeError, match="maximal stable rate"):
        pf(3)
    ok = qsntk_mse_predictor(K, prob.y, learning_rate=0.99 * eta_max, discrete=True)
    np.testing.assert_allclose(ok.max_learning_rate, eta_max, rtol=1e-10)
    assert np.all(np.isfinite(ok(1000)))
    cont = qsntk_mse_predictor(K, prob.y, learning_rate=5 * eta_max)
    np.testing.assert_allclose(cont(1e6), prob.y, atol=1e-8)
    with pytest.raises(errors.LearningRateTooLargeError):
        qsntk_mse_ensemble(K, K, prob.y, 1.01 * eta_max, discrete=True).losses(3)


def test_input_validation(prob):
    K = prob.tt(prob.K1)
    with pytest.raises(errors.ShapeMismatchError):
        qsntk_mse_predictor(K, prob.y[:-1], learning_rate=0.1)
    with pytest.raises(errors.InvalidInputError, match="symmetric"):
        qsntk_mse_predictor(K + np.triu(np.ones_like(K), 1), prob.y, learning_rate=0.1)
    bad = K.copy()
    bad[0, 0] = np.nan
    with pytest.raises(errors.NonFiniteError):
        qsntk_mse_predictor(bad, prob.y, learning_rate=0.1)
    with pytest.raises(errors.InvalidInputError):
        qsntk_mse_predictor(K, prob.y, learning_rate=-1.0)
    with pytest.raises(errors.InvalidInputError):
        qsntk_mse_predictor(K, prob.y, learning_rate=0.1, diag_reg=-1.0)
    pf = qsntk_mse_predictor(K, prob.y, learning_rate=0.1)
    with pytest.raises(errors.InvalidInputError, match=">= 0"):
        pf(-1.0)
    with pytest.raises(errors.ShapeMismatchError):
        pf(1.0, np.zeros(prob.n + 1))
    with pytest.raises(errors.ShapeMismatchError):
        pf(1.0, k_test_train=np.zeros((3, prob.n + 1)))
    with pytest.raises(errors.InvalidInputError, match="n_test"):
        pf(1.0, k_test_train=lambda a, b: prob.xt(prob.K1)[a:b])
    with pytest.raises(errors.InvalidInputError, match="same form"):
        pf(1.0, k_test_train=np.zeros((2 * prob.m, 2 * prob.n), complex))
    d = qsntk_mse_predictor(K, prob.y, learning_rate=0.1, discrete=True)
    with pytest.raises(errors.InvalidInputError, match="integers"):
        d(1.5)
    with pytest.raises(errors.InvalidInputError, match="ensemble"):
        qsntk_mse_ensemble(K, np.zeros((2 * prob.n, 2 * prob.n), complex), prob.y, 0.1)
    with pytest.raises(errors.InvalidInputError, match="backend"):
        qsntk_mse_predictor(K, prob.y, learning_rate=0.1, backend="tpu")


def test_mse_loss_and_fidelity():
    g = np.random.default_rng(0)
    psi = g.standard_normal(16) + 1j * g.standard_normal(16)
    tgt = g.standard_normal(16) + 1j * g.standard_normal(16)
    assert mse_loss(psi, tgt) == pytest.approx(np.sum(np.abs(psi - tgt) ** 2) / 16)
    assert fidelity(psi, psi) == pytest.approx(1.0)
    assert fidelity(3.7 * np.exp(0.4j) * psi, psi) == pytest.approx(1.0)       # scale and global phase
    f = fidelity(psi, tgt)
    assert 0 <= f <= 1
    assert f == pytest.approx(abs(np.vdot(tgt, psi)) ** 2 / (np.vdot(psi, psi).real * np.vdot(tgt, tgt).real))
    e = np.eye(16)
    assert fidelity(e[0], e[1]) == 0.0
    stacked = fidelity(np.stack([psi, tgt]), tgt)
    np.testing.assert_allclose(stacked, [f, 1.0])
    with pytest.raises(errors.InvalidInputError, match="norm 0"):
        fidelity(np.zeros(16), tgt)
    tr_idx = np.array([3, 0, 5])
    te_idx = np.array([1, 2, 4])
    full = assemble_state(tr_idx, te_idx, np.array([[30, 0, 50]]), np.array([[10, 20, 40]]))
    np.testing.assert_array_equal(full, [[0, 10, 20, 30, 40, 50]])
    with pytest.raises(errors.InvalidInputError):
        assemble_state([0, 1], [1, 2], [1, 2], [3, 4])


def test_trained_state_fidelity_converges_to_one_on_full_basis():
    """Training on every basis state recovers the target (the paper's state-recovery statement)."""
    p = make_problem(4, n=12, m=1, P=60)
    K = p.tt(p.K1)
    pf = qsntk_mse_predictor(K, p.y, learning_rate=0.5 * p.n / np.linalg.eigvalsh(K)[-1])
    fid = fidelity(pf(np.array([0.0, 10.0, 1e3, 1e7]), p.f0), p.y)
    assert np.all(np.diff(fid) > -1e-12) and fid[-1] == pytest.approx(1.0, abs=1e-10)


def test_backend_cpu_and_unavailable_cuda(prob):
    from nnqs_fast._backend import cuda_status

    K = prob.tt(prob.K1)
    a = qsntk_mse_predictor(K, prob.y, learning_rate=0.1, backend="cpu")(3.0)
    b = qsntk_mse_predictor(K, prob.y, learning_rate=0.1, backend="auto")(3.0)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    if not cuda_status().usable:
        with pytest.raises(errors.BackendUnavailableError):
            qsntk_mse_predictor(K, prob.y, learning_rate=0.1, backend="cuda")
