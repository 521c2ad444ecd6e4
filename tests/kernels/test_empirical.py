"""Empirical QS-NTK: structured kernels vs explicit Jacobians, the identities S10-S12, Hermiticity and PSD-ness,
chunking, dtypes, array-protocol inputs and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nnqs_fast as nf
from nnqs_fast.errors import DTypeError, InvalidInputError, NonFiniteError, ShapeMismatchError


def _R(n):
    return np.kron(np.array([[1, 1j], [1, -1j]]), np.eye(n))


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("chunk", [None, 4, 9])
def test_structured_relu_ntk_equals_explicit_jacobian_product(depth, chunk, rng):
    p = nf.init_relu(depth, 5, 24, depth=depth, W_std=1.1, b_std=0.3)
    x, y = rng.standard_normal((13, 5)), rng.standard_normal((6, 5))
    J, Jy = nf.relu_jacobian(p, x), nf.relu_jacobian(p, y)
    np.testing.assert_allclose(nf.empirical_ntk(p, x, chunk_size=chunk), J @ J.T, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(nf.empirical_ntk(p, x, y, chunk_size=chunk), J @ Jy.T, rtol=1e-12, atol=1e-13)


def test_structured_one_layer_closed_formula(rng):
    """Theta = (W^2/N) s(h)s(h')^T + b^2 + (W^2/N) [(v s'(h))(v s'(h'))^T] * (W^2 x.x'/d + b^2)."""
    p = nf.init_relu(0, 6, 50, W_std=0.5, b_std=0.1)
    x = rng.choice([-1.0, 1.0], (9, 6))
    W, b, v = p.weights[0], p.biases[0], p.weights[1][0]
    h = 0.5 / np.sqrt(6) * x @ W.T + 0.1 * b
    s, ds = np.maximum(h, 0), (h > 0) * v
    ref = 0.25 / 50 * s @ s.T + 0.01 + 0.25 / 50 * (ds @ ds.T) * (0.25 * x @ x.T / 6 + 0.01)
    np.testing.assert_allclose(nf.empirical_ntk(p, x), ref, rtol=1e-12)


@pytest.mark.parametrize("net", ["cos", "gauss"])
@pytest.mark.parametrize("trainable", ["last", "all"])
def test_structured_cos_gauss_equal_explicit_jacobians(net, trainable, rng):
    x, y = 0.5 * rng.standard_normal((11, 3)), 0.5 * rng.standard_normal((4, 3))
    if net == "cos":
        p = nf.init_cosnet(2, 3, 30, sigma_a=1.4, sigma_w=2.0)
        jac = nf.cosnet_jacobian
    else:
        p = nf.init_gaussnet(2, 3, 30, sigma=1.2, sigma_a=0.8)
        jac = nf.gaussnet_jacobian
    J, Jy = jac(p, x, trainable), jac(p, y, trainable)
    np.testing.assert_allclose(nf.empirical_ntk(p, x, trainable=trainable, chunk_size=4), J @ J.T, rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(nf.empirical_ntk(p, x, y, trainable=trainable), J @ Jy.T, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("chunk", [None, 5])
def test_s16_structured_equals_explicit_complex_jacobian(chunk, rng):
    p = nf.init_complex_single(1, 3, 20, activation="relu")
    x, y = rng.standard_normal((9, 3)), rng.standard_normal((5, 3))
    J, Jy = nf.complex_single_jacobian(p, x), nf.complex_single_jacobian(p, y)
    for q, A, B in [(nf.empirical_qsntk(p, None, x, chunk_size=chunk), J, J),
                    (nf.empirical_qsntk(p, None, x, y, chunk_size=chunk), J, Jy)]:
        np.testing.assert_allclose(q.theta, A @ B.T, atol=1e-13)                # Eq. 7
        np.testing.assert_allclose(q.phi, A @ B.conj().T, atol=1e-13)           # Eq. 7
        np.testing.assert_allclose(q.mixing, A.real @ B.imag.T, atol=1e-13)     # S9
        np.testing.assert_allclose(q.mixing_t, A.imag @ B.real.T, atol=1e-13)
        assert np.abs(q.mixing).max() > 1e-3  # shared c: non-zero mixing at finite width (S14)


def test_decoupled_empirical_qsntk(rng):
    p1, p2 = nf.init_relu(0, 4, 40), nf.init_relu(1, 4, 40, depth=2, W_std=0.9)
    x = rng.standard_normal((12, 4))
    J1, J2 = nf.relu_jacobian(p1, x), nf.relu_jacobian(p2, x)
    q = nf.empirical_qsntk(p1, p2, x, chunk_size=5)
    np.testing.assert_allclose(q.theta1, J1 @ J1.T, atol=1e-13)
    np.testing.assert_allclose(q.theta2, J2 @ J2.T, atol=1e-13)
    # the wavefunction's Jacobian over the union of both networks' parameters: [J1, i J2]
    Jpsi = np.concatenate([J1, 1j * J2], axis=1)
    np.testing.assert_allclose(q.theta, Jpsi @ Jpsi.T, atol=1e-13)
    np.testing.assert_allclose(q.phi, Jpsi @ Jpsi.conj().T, atol=1e-13)
    assert q.decoupled and not np.any(q.mixing)
    assert q.symmetric
    r = nf.empirical_qsntk(p1, None, x)  # real wavefunction
    np.testing.assert_allclose(r.theta, J1 @ J1.T, atol=1e-13)
    np.testing.assert_allclose(r.phi, r.theta, atol=0)


def _random_complex_jacobians(rng, n=7, m=5, P=30):
    shared = rng.standard_normal((n + m, P)) + 1j * rng.standard_normal((n + m, P))
    return shared[:n], shared[n:]


def test_qsntk_from_jacobians_identities_s10_s12(rng):
    J, Jy = _random_complex_jacobians(rng)
    for q, A, B in [(nf.qsntk_from_jacobians(J), J, J), (nf.qsntk_from_jacobians(J, Jy), J, Jy)]:
        T1, T2 = A.real @ B.real.T, A.imag @ B.imag.T
        M, MT = A.real @ B.imag.T, A.imag @ B.real.T
        np.testing.assert_allclose(q.theta1, T1, atol=1e-12)
        np.testing.assert_allclose(q.theta2, T2, atol=1e-12)
        np.testing.assert_allclose(q.theta, A @ B.T, atol=1e-12)                       # Eq. 7
        np.testing.assert_allclose(q.phi, A @ B.conj().T, atol=1e-12)                  # Eq. 7
        np.testing.assert_allclose(q.theta, T1 - T2 + 1j * (M + MT), atol=1e-12)       # S10
        np.testing.assert_allclose(q.phi, T1 + T2 - 1j * (M - MT), atol=1e-12)         # S11
        n1, n2 = A.shape[0], B.shape[0]
        np.testing.assert_allclose(q.omega, _R(n1) @ q.omega_ri @ _R(n2).T, atol=1e-12)  # S12
        np.testing.assert_allclose(q.omega, np.vstack([A, A.conj()]) @ np.vstack([B, B.conj()]).T, atol=1e-12)


def test_symmetry_and_positivity(rng):
    J, _ = _random_complex_jacobians(rng, n=9, P=6)  # n > P: rank-deficient, PSD but singular
    q = nf.qsntk_from_jacobians(J)
    n = J.shape[0]
    np.testing.assert_allclose(q.phi, q.phi.conj().T, atol=1e-13)          # Phi Hermitian
    assert np.linalg.eigvalsh(q.phi).min() > -1e-10                         # and PSD
    np.testing.assert_allclose(q.theta, q.theta.T, atol=1e-13)             # Theta complex symmetric
    np.testing.assert_allclose(q.omega, q.omega.T, atol=1e-13)             # Omega = Omega^T
    om = q.omega_m
    np.testing.assert_allclose(om, om.conj().T, atol=1e-13)                # Omega M Hermitian
    assert np.linalg.eigvalsh(om).min() > -1e-10
    swap = np.kron(np.array([[0, 1], [1, 0]]), np.eye(n))
    np.testing.assert_allclose(om, q.omega @ swap, atol=1e-13)
    np.testing.assert_allclose(q.omega_ri, q.omega_ri.T, atol=1e-13)
    assert np.linalg.eigvalsh(q.omega_ri).min() > -1e-10
    p = nf.init_complex_single(0, 2, 40)
    qs = nf.empirical_qsntk(p, None, np.random.default_rng(1).standard_normal((8, 2)))
    np.testing.assert_allclose(qs.phi, qs.phi.conj().T, atol=1e-13)
    assert np.linalg.eigvalsh(qs.phi).min() > -1e-10


def test_jacobians_real_parts_api_and_shared_parameters(rng):
    J1, J2 = rng.standard_normal((6, 10)), rng.standard_normal((6, 10))
    q = nf.qsntk_from_jacobians(J1=J1, J2=J2)
    q2 = nf.qsntk_from_jacobians(J1 + 1j * J2)
    np.testing.assert_allclose(q.theta, q2.theta, atol=1e-13)
    # disjoint parameter sets -> zero mixing (S13-S14)
    A = np.concatenate([J1, np.zeros((6, 10))], 1)
    B = np.concatenate([np.zeros((6, 10)), J2], 1)
    qd = nf.qsntk_from_jacobians(J1=A, J2=B)
    assert np.abs(qd.mixing).max() == 0 and qd.decoupled
    y1, y2 = rng.standard_normal((3, 10)), rng.standard_normal((3, 10))
    qxy = nf.qsntk_from_jacobians(J1=J1, J2=J2, J1_x2=y1, J2_x2=y2)
    np.testing.assert_allclose(qxy.theta, (J1 + 1j * J2) @ (y1 + 1j * y2).T, atol=1e-13)


class _ArrayLike:
    def __init__(self, a):
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a


class _DLPackOnly:
    def __init__(self, a):
        self._a = a

    def __dlpack__(self, *args, **kwargs):
        return self._a.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_array_protocols_accepted(rng):
    J = rng.standard_normal((5, 8))
    ref = nf.qsntk_from_jacobians(J).theta1
    np.testing.assert_allclose(nf.qsntk_from_jacobians(_ArrayLike(J)).theta1, ref)
    np.testing.assert_allclose(nf.qsntk_from_jacobians(_DLPackOnly(J)).theta1, ref)
    x = rng.standard_normal((4, 3))
    p = nf.init_relu(0, 3, 10)
    np.testing.assert_allclose(nf.empirical_ntk(p, _DLPackOnly(x)), nf.empirical_ntk(p, x))


def test_float32_agrees_with_float64(rng):
    p1, p2 = nf.init_relu(0, 6, 300), nf.init_relu(1, 6, 300)
    x = rng.choice([-1.0, 1.0], (40, 6))
    q64 = nf.empirical_qsntk(p1, p2, x)
    q32 = nf.empirical_qsntk(p1, p2, x.astype(np.float32))
    assert q32.theta1.dtype == np.float32 and q64.theta1.dtype == np.float64
    for f in ("theta1", "theta2", "phi"):
        np.testing.assert_allclose(getattr(q32, f), getattr(q64, f), rtol=1e-4, atol=1e-5)
    pc = nf.init_cosnet(0, 6, 200)
    np.testing.assert_allclose(nf.empirical_ntk(pc, x, dtype=np.float32, trainable="all"),
                               nf.empirical_ntk(pc, x, trainable="all"), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 6, 17, 40])
def test_chunks_that_do_not_divide_n_give_identical_results(chunk, rng):
    p1, p2 = nf.init_relu(0, 4, 32), nf.init_relu(1, 4, 32)
    x, y = rng.standard_normal((17, 4)), rng.standard_normal((11, 4))
    for b in (None, y):
        ref = nf.empirical_qsntk(p1, p2, x, b)
        got = nf.empirical_qsntk(p1, p2, x, b, chunk_size=chunk)
        np.testing.assert_allclose(got.theta1, ref.theta1, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(got.phi, ref.phi, rtol=1e-13, atol=1e-15)


def test_bad_input_raises_named_errors(rng):
    p = nf.init_relu(0, 4, 8)
    x = rng.standard_normal((5, 4))
    with pytest.raises(ShapeMismatchError):
        nf.empirical_ntk(p, rng.standard_normal((5, 3)))
    with pytest.raises(ShapeMismatchError):
        nf.empirical_ntk(p, x, rng.standard_normal((2, 5)))
    with pytest.raises(ShapeMismatchError):
        nf.empirical_qsntk(p, nf.init_relu(0, 3, 8), x)
    with pytest.raises(NonFiniteError):
        nf.empirical_ntk(p, np.where(np.eye(5, 4) > 0, np.inf, x))
    with pytest.raises(DTypeError):
        nf.empirical_ntk(p, x.astype(complex))
    with pytest.raises(DTypeError):
        nf.empirical_ntk(p, x, dtype=np.float16)
    with pytest.raises(InvalidInputError):
        nf.empirical_ntk(p, x, chunk_size=-1)
    with pytest.raises(InvalidInputError):
        nf.empirical_ntk(object(), x)
    with pytest.raises(InvalidInputError):
        nf.empirical_ntk(nf.init_complex_single(0, 4, 3), x)
    with pytest.raises(InvalidInputError):
        nf.empirical_qsntk(p, None, None)
    with pytest.raises(ShapeMismatchError):
        nf.qsntk_from_jacobians(J1=rng.standard_normal((5, 8)), J2=rng.standard_normal((5, 7)))
    with pytest.raises(ShapeMismatchError):
        nf.qsntk_from_jacobians(rng.standard_normal((5, 8)), rng.standard_normal((3, 9)))
    with pytest.raises(NonFiniteError):
        nf.qsntk_from_jacobians(np.full((2, 2), np.nan))
    with pytest.raises(DTypeError):
        nf.qsntk_from_jacobians(J1=rng.standard_normal((2, 2)) + 1j)
    with pytest.raises(InvalidInputError):
        nf.qsntk_from_jacobians()


def test_backend_argument(rng):
    from nnqs_fast._backend import cuda_status
    from nnqs_fast.errors import BackendUnavailableError

    x = rng.standard_normal((6, 3))
    p = nf.init_relu(0, 3, 10)
    np.testing.assert_allclose(nf.empirical_ntk(p, x, backend="cpu"), nf.empirical_ntk(p, x, backend="auto"))
    with pytest.raises(InvalidInputError):
        nf.empirical_ntk(p, x, backend="gpu")
    with pytest.raises(InvalidInputError):
        nf.relu_kernel_fn()(x, backend="tpu")
    if not cuda_status().usable:
        with pytest.raises(BackendUnavailableError):
            nf.relu_kernel_fn()(x, backend="cuda")
        with pytest.raises(BackendUnavailableError):
            nf.cosnet_kernel_fn()(x, backend="cuda")
