"""Parity of the CUDA dynamics path (cuSOLVER eigendecompositions) against the CPU predictors (marked gpu)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def _kernels(rng, n=61, m=23, d=6):
    from nnqs_fast.gpu.kernels import relu_kernel

    x = rng.choice([-1.0, 1.0], size=(n + m, d)) + 0.01 * rng.standard_normal((n + m, d))
    k = relu_kernel(x, None, get=("nngp", "ntk"))
    K, T = k.nngp.get(), k.ntk.get()
    return K[:n, :n], T[:n, :n], K[n:, :n], T[n:, :n], K[n:, n:]


def _module():
    from nnqs_fast import dynamics

    return dynamics


@pytest.mark.parametrize("discrete", [False, True])
def test_qsntk_mse_predictor_cuda_equals_cpu(cp, rng, discrete):
    dyn = _module()
    _, T, _, Tx, _ = _kernels(rng)
    n = T.shape[0]
    y = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    lr = 0.9 * n / np.linalg.eigvalsh(T)[-1]
    ts = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    cpu = dyn.qsntk_mse_predictor(T, y, lr, discrete=discrete, backend="cpu")
    gpu = dyn.qsntk_mse_predictor(cp.asarray(T), cp.asarray(y), lr, discrete=discrete, backend="cuda")
    a = cpu(ts, k_test_train=Tx)
    b = gpu(ts, k_test_train=cp.asarray(Tx))
    for u, v in zip(a, b):
        assert isinstance(v, cp.ndarray)  # CuPy kernels in -> CuPy predictions out
        np.testing.assert_allclose(cp.asnumpy(v), np.asarray(u), rtol=1e-9, atol=1e-11)
    a_inf, b_inf = cpu(None, k_test_train=Tx), gpu(None, k_test_train=Tx)
    for u, v in zip(a_inf, b_inf):
        np.testing.assert_allclose(cp.asnumpy(v), np.asarray(u), rtol=1e-8, atol=1e-10)
    host = dyn.qsntk_mse_predictor(T, y, lr, discrete=discrete, backend="cuda")(ts)  # NumPy in -> NumPy out
    assert type(host) is np.ndarray
    np.testing.assert_allclose(host, cpu(ts), rtol=1e-9, atol=1e-11)


def test_qsntk_mse_predictor_pair_and_omega_ri(cp, rng):
    dyn = _module()
    _, T, _, _Tx, _ = _kernels(rng)
    n = T.shape[0]
    T2 = T * 1.3 + 0.01 * np.eye(n)
    y = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    lr = 0.5 * n / np.linalg.eigvalsh(T2)[-1]
    for k in ((T, T2),):
        cpu = dyn.qsntk_mse_predictor(k, y, lr, backend="cpu")(np.array([5.0, 50.0]))
        gpu = dyn.qsntk_mse_predictor(k, y, lr, backend="cuda")(np.array([5.0, 50.0]))
        for u, v in zip(np.atleast_1d(cpu), np.atleast_1d(gpu)):
            np.testing.assert_allclose(np.asarray(v), np.asarray(u), rtol=1e-9, atol=1e-11)


def test_ensemble_and_nngp_posterior_cuda_equal_cpu(cp, rng):
    dyn = _module()
    K, T, Kx, Tx, Kxx = _kernels(rng)
    n = T.shape[0]
    y = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    lr = 0.9 * n / np.linalg.eigvalsh(T)[-1]
    cpu = dyn.qsntk_mse_ensemble(K, T, y, lr, backend="cpu")
    gpu = dyn.qsntk_mse_ensemble(K, T, y, lr, backend="cuda")
    ts = np.array([1.0, 100.0])
    a = cpu(ts, nngp_test_train=Kx, ntk_test_train=Tx, nngp_test_test=Kxx)
    b = gpu(ts, nngp_test_train=cp.asarray(Kx), ntk_test_train=cp.asarray(Tx), nngp_test_test=cp.asarray(Kxx))
    _assert_tree_close(a, b)
    g_cpu = dyn.nngp_posterior(K, y, diag_reg=1e-6, backend="cpu")
    g_gpu = dyn.nngp_posterior(K, y, diag_reg=1e-6, backend="cuda")
    _assert_tree_close(g_cpu(k_test_train=Kx, k_test_test=Kxx), g_gpu(k_test_train=Kx, k_test_test=Kxx))


def _assert_tree_close(a, b):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _assert_tree_close(u, v)
    elif a is None:
        assert b is None
    else:
        np.testing.assert_allclose(b.get() if hasattr(b, "get") else np.asarray(b), np.asarray(a), rtol=1e-8,
                                   atol=1e-10)


def test_indefinite_kernel_raises_named_error_on_gpu(cp, rng):
    dyn = _module()
    from nnqs_fast.errors import KernelNotPositiveDefiniteError

    A = rng.standard_normal((30, 30))
    H = A + A.T  # indefinite
    with pytest.raises(KernelNotPositiveDefiniteError, match="smallest eigenvalue"):
        dyn.qsntk_mse_predictor(H, np.ones(30, complex), 0.1, backend="cuda")(np.array([1.0]))


def test_device_eigh_float64(cp, rng):
    from nnqs_fast.gpu.dynamics import device_eigh

    A = rng.standard_normal((77, 77))
    H = A @ A.T
    lam, V = device_eigh(cp.asarray(H.astype(np.float32)))
    assert lam.dtype == np.float64 and V.dtype == np.float64
    lam2, V2 = device_eigh(H + 1j * (A - A.T))
    ref = np.linalg.eigvalsh(H + 1j * (A - A.T))
    np.testing.assert_allclose(lam2, ref, rtol=1e-12, atol=1e-10)
    assert V2.dtype == np.complex128
