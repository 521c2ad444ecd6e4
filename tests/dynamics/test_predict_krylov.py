"""The Krylov evaluation of qsntk_mse_predictor at many times (dynamics/_krylov.py) against independent oracles:
scipy.linalg.expm and explicit gradient-descent steps (small n), the float64 eigenbasis path (random SPD kernels,
ill-conditioned ones, diag_reg, every kernel form), the Cholesky kernel-regression limit, and the named errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg

from nnqs_fast.dynamics import _krylov, qsntk_mse_predictor
from nnqs_fast.dynamics._krylov import KRYLOV_MIN_N, KrylovSpace
from nnqs_fast.errors import (
    ConvergenceWarning,
    InvalidInputError,
    KernelNotPositiveDefiniteError,
    LearningRateTooLargeError,
)

from .conftest import omega_from_decoupled

TIMES = np.concatenate([[0.0], np.logspace(0, 4, 13)])


def _spd(n: int, cond: float, seed: int, m: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train kernel ``V diag(λ) Vᵀ`` (λ log-spaced over ``cond``, λ_max = 1) and an ``(m, n)`` test block
    ``A Vᵀ``-style rows that lie in a consistent PSD joint kernel."""
    g = np.random.default_rng(seed)
    V, _ = np.linalg.qr(g.standard_normal((n + m, n + m)))
    lam = np.logspace(-np.log10(cond), 0, n + m)[g.permutation(n + m)]
    K = (V * lam) @ V.T
    K = (K + K.T) / 2
    return K[:n, :n].copy(), K[n:, :n].copy()


def _cplx(g: np.random.Generator, k: int) -> np.ndarray:
    return g.standard_normal(k) + 1j * g.standard_normal(k)


def _losses(tr: np.ndarray, te: np.ndarray, y: np.ndarray, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.mean(np.abs(tr - y) ** 2, axis=-1), np.mean(np.abs(te - yt) ** 2, axis=-1)


# ---- oracle 1: scipy.linalg.expm / explicit GD steps (small n, the Krylov space becomes invariant or converges)
@pytest.mark.parametrize("discrete", [False, True])
def test_small_n_against_expm_and_explicit_steps(discrete):
    g = np.random.default_rng(1)
    n, m = 40, 7
    K, Kx = _spd(n, 1e3, 1, m)
    y, f0, h0 = _cplx(g, n), 0.2 * _cplx(g, n), 0.2 * _cplx(g, m)
    lr = 0.8 * n / np.linalg.eigvalsh(K)[-1]
    c = 2 * lr / n
    times = np.array([0.0, 1.0, 3.0, 17.0, 250.0])
    tr, te = qsntk_mse_predictor(K, y, lr, discrete=discrete, method="krylov")(times, f0, h0, Kx)
    for i, t in enumerate(times):
        if discrete:  # brute force: t explicit steps of e <- e - cKe, f_x <- f_x - c K_xB e
            e, fx = f0 - y, h0.copy()
            for _ in range(int(t)):
                fx = fx - c * (Kx @ e)
                e = e - c * (K @ e)
            ref_tr, ref_te = y + e, fx
        else:         # Eq. 15 with the dense matrix exponential
            P = scipy.linalg.expm(-c * K * t)
            ref_tr = y + P @ (f0 - y)
            ref_te = h0 - Kx @ np.linalg.solve(K, (np.eye(n) - P) @ (f0 - y))
        np.testing.assert_allclose(tr[i], ref_tr, rtol=0, atol=1e-11 * np.linalg.norm(f0 - y))
        np.testing.assert_allclose(te[i], ref_te, rtol=0, atol=1e-9 * np.linalg.norm(f0 - y))


def test_discrete_matches_matrix_power():
    g = np.random.default_rng(2)
    n = 30
    K, _ = _spd(n, 1e2, 2)
    y = _cplx(g, n)
    lr = 0.95 * n / np.linalg.eigvalsh(K)[-1]       # (1 − cλ_max) = −0.9: oscillating top mode
    k = 41
    tr = qsntk_mse_predictor(K, y, lr, discrete=True, method="krylov")(float(k))
    ref = y - np.linalg.matrix_power(np.eye(n) - 2 * lr / n * K, k) @ y
    np.testing.assert_allclose(tr, ref, rtol=0, atol=1e-12 * np.linalg.norm(y))


# ---- oracle 2: the float64 eigenbasis path on larger random kernels -----------------------------------------
@pytest.mark.parametrize("cond,diag_reg", [(1e3, 0.0), (1e8, 0.0), (1e12, 1e-6)])
@pytest.mark.parametrize("discrete", [False, True])
def test_against_eigh_path_losses(cond, diag_reg, discrete):
    g = np.random.default_rng(3)
    n, m = 300, 40
    K, Kx = _spd(n, cond, 3, m)
    y, yt = _cplx(g, n), _cplx(g, m)
    lr = 0.9 * n / (np.linalg.eigvalsh(K)[-1] + diag_reg)
    times = np.round(TIMES) if discrete else TIMES
    ref = qsntk_mse_predictor(K, y, lr, diag_reg=diag_reg, discrete=discrete, method="eigh")(times, 0.0, None, Kx)
    pf = qsntk_mse_predictor(K, y, lr, diag_reg=diag_reg, discrete=discrete, method="krylov")
    got = pf(times, 0.0, None, Kx)
    assert pf._channels[0].flow._eig is None                   # no eigendecomposition was computed
    for a, b in zip(_losses(*got, y, yt), _losses(*ref, y, yt)):
        np.testing.assert_allclose(a, b, rtol=1e-8)
    scale = np.linalg.norm(y)
    np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-8 * np.abs(ref[1]).max())


@pytest.mark.parametrize("form", ["single", "pair", "ri", "omega"])
def test_every_kernel_form_against_eigh(form):
    g = np.random.default_rng(4)
    n, m = 150, 20
    K1, X1 = _spd(n, 1e4, 4, m)
    K2, X2 = _spd(n, 1e4, 5, m)
    ktt, kxt = {"single": (K1, X1), "pair": ((K1, K2), (X1, X2)),
                "ri": (scipy.linalg.block_diag(K1, K2), scipy.linalg.block_diag(X1, X2)),
                "omega": (omega_from_decoupled(K1, K2),
                          np.block([[X1 - X2, X1 + X2], [X1 + X2, X1 - X2]]).astype(complex))}[form]
    y, f0, h0 = _cplx(g, n), 0.1 * _cplx(g, n), 0.1 * _cplx(g, m)
    lr = 0.5 * n / max(np.linalg.eigvalsh(K1)[-1], np.linalg.eigvalsh(K2)[-1])
    ref = qsntk_mse_predictor(ktt, y, lr, method="eigh")(TIMES, f0, h0, kxt)
    pf = qsntk_mse_predictor(ktt, y, lr, method="krylov")
    got = pf(TIMES, f0, h0, kxt)
    assert pf.kind == form
    np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-10 * np.linalg.norm(y))
    np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-9 * np.abs(ref[1]).max())


# ---- limits: t = 0, t = ∞ (Cholesky), times far beyond every relaxation time ---------------------------------
def test_zero_and_infinite_time():
    g = np.random.default_rng(5)
    n, m = 280, 15
    K, Kx = _spd(n, 1e4, 6, m)
    y, f0, h0 = _cplx(g, n), _cplx(g, n), _cplx(g, m)
    pf = qsntk_mse_predictor(K, y, 1.0, method="krylov")
    tr, te = pf(np.array([0.0, np.inf, 5.0]), f0, h0, Kx)
    np.testing.assert_allclose(tr[0], f0, rtol=1e-15, atol=1e-15)  # the initial function (y + (f0 − y) exactly)
    np.testing.assert_array_equal(te[0], h0)
    c = scipy.linalg.cho_factor(K)
    alpha = scipy.linalg.cho_solve(c, (y - f0).real) + 1j * scipy.linalg.cho_solve(c, (y - f0).imag)
    np.testing.assert_allclose(tr[1], y, rtol=0, atol=1e-12 * np.linalg.norm(y))
    np.testing.assert_allclose(te[1], h0 + Kx @ alpha, rtol=1e-10, atol=1e-10 * np.abs(Kx @ alpha).max())


@pytest.mark.parametrize("discrete", [False, True])
def test_far_beyond_relaxation_reaches_kernel_regression(discrete):
    g = np.random.default_rng(6)
    n, m = 270, 10
    K, Kx = _spd(n, 1e3, 7, m)
    y = _cplx(g, n)
    lr = 0.9 * n / np.linalg.eigvalsh(K)[-1]
    t_huge = 1e9                                               # c λ_min t ≈ 2e6: every mode relaxed
    pf = qsntk_mse_predictor(K, y, lr, discrete=discrete, method="krylov")
    tr, te = pf(np.array([t_huge]), 0.0, None, Kx)
    tr_inf, te_inf = pf(None, 0.0, None, Kx)
    np.testing.assert_allclose(tr[0], tr_inf, rtol=0, atol=1e-11 * np.linalg.norm(y))
    np.testing.assert_allclose(te[0], te_inf, rtol=1e-9, atol=1e-9 * np.abs(te_inf).max())


# ---- structure: invariant subspaces, zero residual, real targets, reuse -------------------------------------
def test_invariant_subspace_is_exact_and_stops_early():
    n = 300
    K, _ = _spd(n, 1e2, 8)
    lam, V = np.linalg.eigh(K)
    y = V[:, [3, 100, 250]] @ np.array([1.0, -2.0, 0.5])      # three eigenvectors: dimension-3 Krylov space
    pf = qsntk_mse_predictor(K, y, 1.0, method="krylov")
    tr = pf(TIMES)
    space = pf._krylov_cache[0][1]
    assert space.exhausted and space.k == 3
    c = 2.0 / n
    modes = np.exp(-c * lam[[3, 100, 250]][:, None] * TIMES) * np.array([[1.0], [-2.0], [0.5]])
    ref = y[None, :] - (V[:, [3, 100, 250]] @ modes).T
    np.testing.assert_allclose(tr, ref, rtol=0, atol=1e-13)


def test_zero_residual_and_real_targets():
    g = np.random.default_rng(8)
    n = 260
    K, Kx = _spd(n, 1e3, 9, 5)
    y = g.standard_normal(n) + 0j
    tr, te = qsntk_mse_predictor(K, y, 1.0, method="krylov")(TIMES, y, None, Kx)   # ψ(0) = ψ_T: nothing moves
    np.testing.assert_array_equal(tr, np.broadcast_to(y, tr.shape))
    np.testing.assert_array_equal(te, 0.0)
    pf = qsntk_mse_predictor(K, y, 1.0, method="krylov")                          # real targets: one column
    pf(TIMES)
    assert pf._krylov_cache[0][1].b == 1


def test_space_reused_across_calls():
    g = np.random.default_rng(9)
    n = 280
    K, _ = _spd(n, 1e4, 10)
    y = _cplx(g, n)
    pf = qsntk_mse_predictor(K, y, 1.0, method="krylov")
    a = pf(TIMES)
    space = pf._krylov_cache[0][1]
    mv = space.matvecs
    b = pf(TIMES[::-1])
    assert pf._krylov_cache[0][1] is space and space.matvecs == mv   # no new matrix-vector product
    np.testing.assert_allclose(b[::-1], a, rtol=0, atol=1e-14 * np.linalg.norm(y))


@pytest.mark.parametrize("cplx", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_matvec_reads_the_lower_triangle(cplx, order):
    """``symv``/``hemv`` read one triangle: the lower one (as LAPACK's eigh), for either memory order."""
    g = np.random.default_rng(10)
    n = 50
    A = g.standard_normal((n, n)) + (1j * g.standard_normal((n, n)) if cplx else 0)
    H = np.tril(A) + np.tril(A, -1).conj().T
    H[np.diag_indices(n)] = H.diagonal().real
    junk = H + np.triu(g.standard_normal((n, n)), 1)          # garbage in the strict upper triangle
    junk = np.asarray(junk, order=order)
    space = KrylovSpace(junk, g.standard_normal((n, 1)) + (0j if cplx else 0))
    q = g.standard_normal(n) + (1j * g.standard_normal(n) if cplx else 0)
    np.testing.assert_allclose(space._mv(q), H @ q, rtol=1e-13, atol=1e-13)


# ---- method selection (the documented rule of method="auto") -------------------------------------------------
def _count_eigh(monkeypatch):
    import nnqs_fast.dynamics._spectral as sp

    count = {"n": 0}
    orig = sp.host_eigh

    def counting(H):
        count["n"] += 1
        return orig(H)

    monkeypatch.setattr(sp, "host_eigh", counting)
    return count


def test_auto_rule(monkeypatch):
    import nnqs_fast.dynamics.predict as pr

    assert KRYLOV_MIN_N == pr.KRYLOV_MIN_N
    monkeypatch.setattr(pr, "KRYLOV_MIN_N", 200)               # the rule, at test sizes
    g = np.random.default_rng(11)
    big, _ = _spd(200, 1e3, 11)
    small = big[:199, :199]
    pf = qsntk_mse_predictor(big, _cplx(g, 200), 1.0)
    pf(TIMES)
    assert pf._channels[0].flow._eig is None and pf._krylov_cache[0] is not None    # Krylov, no eigh
    pf_small = qsntk_mse_predictor(small, _cplx(g, 199), 1.0)
    pf_small(TIMES)
    assert pf_small._channels[0].flow._eig is not None                               # small: eigh
    # a device eigensolver (the CUDA backend's "dynamics.eigh") keeps the eigenbasis path
    pf_dev = pr.GradientDescentPredictor(pf._spec, pf.y, 1.0, 0.0, False, eigh=lambda H: np.linalg.eigh(H))
    pf_dev(TIMES)
    assert pf_dev._channels[0].flow._eig is not None and pf_dev._krylov_cache[0] is None
    # work budget: after KRYLOV_WORK_BUDGET * n products over all calls, auto computes and caches eigh
    monkeypatch.setattr(pr, "KRYLOV_WORK_BUDGET", 1e-9)
    y = _cplx(g, 200)
    pf2 = qsntk_mse_predictor(big, y, 1.0)
    a = pf2(TIMES)
    assert pf2._channels[0].flow._eig is None
    b = pf2(TIMES, 0.5 * y)                                   # budget spent: eigenbasis from now on
    assert pf2._channels[0].flow._eig is not None
    ref = qsntk_mse_predictor(big, y, 1.0, method="eigh")
    np.testing.assert_allclose(a, ref(TIMES), rtol=0, atol=1e-10)
    np.testing.assert_allclose(b, ref(TIMES, 0.5 * y), rtol=0, atol=1e-10)


def test_eigh_method_never_builds_a_krylov_space():
    g = np.random.default_rng(12)
    K, _ = _spd(120, 1e3, 12)
    pf = qsntk_mse_predictor(K, _cplx(g, K.shape[0]), 1.0, method="EIGH")
    pf(TIMES)
    assert pf._krylov_cache[0] is None and pf._channels[0].flow._eig is not None


def test_no_convergence_falls_back_to_eigh_with_a_warning(monkeypatch):
    g = np.random.default_rng(13)
    n = 300
    K, _ = _spd(n, 1e8, 13)
    y = _cplx(g, n)
    monkeypatch.setattr(_krylov, "max_dimension", lambda n: 20)
    pf = qsntk_mse_predictor(K, y, 1.0, method="krylov")
    with pytest.warns(ConvergenceWarning, match="did not converge within 20 vectors"):
        got = pf(TIMES)
    np.testing.assert_array_equal(got, qsntk_mse_predictor(K, y, 1.0, method="eigh")(TIMES))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pf(TIMES)                                              # eigenbasis cached: no second attempt


# ---- named errors ---------------------------------------------------------------------------------------------
def test_bad_method_is_a_named_error():
    K, _ = _spd(10, 10, 14)
    with pytest.raises(InvalidInputError, match="method must be one of 'auto', 'eigh', 'krylov'"):
        qsntk_mse_predictor(K, np.ones(10), 1.0, method="lanczos")
    with pytest.raises(InvalidInputError, match="method"):
        qsntk_mse_predictor(K, np.ones(10), 1.0, method=None)


def test_indefinite_kernel_detected_by_ritz_values():
    g = np.random.default_rng(15)
    n = 300
    V, _ = np.linalg.qr(g.standard_normal((n, n)))
    lam = np.linspace(-0.5, 1.0, n)
    K = (V * lam) @ V.T
    K = (K + K.T) / 2
    with pytest.raises(KernelNotPositiveDefiniteError, match="indefinite"):
        qsntk_mse_predictor(K, _cplx(g, n), 1.0, method="krylov")(TIMES)


def test_discrete_learning_rate_checked_without_eigh():
    g = np.random.default_rng(16)
    n = 300
    K, _ = _spd(n, 1e3, 16)
    lam_max = np.linalg.eigvalsh(K)[-1]
    pf = qsntk_mse_predictor(K, _cplx(g, n), 1.01 * n / lam_max, discrete=True, method="krylov")
    with pytest.raises(LearningRateTooLargeError):
        pf(np.array([1.0, 2.0]))
    ok = qsntk_mse_predictor(K, _cplx(g, n), 0.99 * n / lam_max, discrete=True, method="krylov")
    assert ok.max_learning_rate == pytest.approx(n / lam_max, rel=1e-10)
    ok(np.array([1.0, 2.0]))
    assert ok._channels[0].flow._eig is None
