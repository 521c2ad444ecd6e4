"""The τ → ∞ ensemble path (Cholesky, no eigendecomposition) against the explicit dense formula of Eq. 15 and
the eigenbasis path at a time long enough for every mode to have relaxed."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast.dynamics import qsntk_mse_ensemble

from .conftest import make_problem


def _kernels(seed: int, n: int, m: int, shared: bool):
    p = make_problem(seed, n, m, P=3 * (n + m))
    g = np.random.default_rng(seed + 1)
    L1, L2 = g.standard_normal((n + m, 2 * (n + m))), g.standard_normal((n + m, 2 * (n + m)))
    N1, N2 = L1 @ L1.T / L1.shape[1], L2 @ L2.T / L2.shape[1]
    if shared:
        return p, (N1,), (p.K1,)
    return p, (N1, N2), (p.K1, p.K2)


def _dense(N: np.ndarray, T: np.ndarray, y: np.ndarray, n: int):
    """Eq. 15 at τ → ∞ written out: 𝒯 = Θ_xB Θ^{-1}, Cov = K_xx − 𝒯 K_Bx − K_xB 𝒯ᵀ + 𝒯 K_BB 𝒯ᵀ."""
    Tx = np.linalg.solve(T[:n, :n], T[n:, :n].T).T
    cov = N[n:, n:] - Tx @ N[:n, n:] - N[n:, :n] @ Tx.T + Tx @ N[:n, :n] @ Tx.T
    return Tx @ y, cov


def _args(N, T, n, sl):
    one = len(N) == 1
    return [a[0] if one else a for a in ([k[sl] for k in N], [k[sl] for k in T])]


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("get_cov", ["full", "variance", None])
def test_infinite_time_matches_dense_formula(shared, get_cov):
    n, m = 30, 17
    p, N, T = _kernels(3, n, m, shared)
    tt, xt, xx = (slice(None, n), slice(None, n)), (slice(n, None), slice(None, n)), (slice(n, None), slice(n, None))
    ens = qsntk_mse_ensemble(*_args(N, T, n, tt), p.y, 0.3)
    nx, tx = _args(N, T, n, xt)
    kxx = _args(N, T, n, xx)[0]
    if get_cov == "variance":
        kxx = np.diag(kxx).copy() if shared else tuple(np.diag(k).copy() for k in kxx)
    tr, te = ens(None, nx, tx, kxx, get_cov=get_cov)
    np.testing.assert_array_equal(tr.mean, p.y)                       # T_B(∞) = 1: the train points are fitted
    parts = [(N[0], T[0], p.y.real), (N[-1], T[-1], p.y.imag)]
    mean = 0j
    for j, (Nj, Tj, yj) in enumerate(parts):
        mu, cov = _dense(Nj, Tj, yj, n)
        mean = mean + (1 if j == 0 else 1j) * mu
        got_tr, got_te = (tr.cov_re, te.cov_re) if j == 0 else (tr.cov_im, te.cov_im)
        if get_cov is None:
            assert got_tr is None and got_te is None
            continue
        want = cov if get_cov == "full" else np.diag(cov)
        assert np.all(got_tr == 0.0) and got_tr.shape == ((n, n) if get_cov == "full" else (n,))
        np.testing.assert_allclose(got_te, want, rtol=1e-10, atol=1e-12 * np.abs(cov).max())
    np.testing.assert_allclose(te.mean, mean, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("get_cov", ["full", "variance"])
def test_infinite_time_equals_eigenbasis_path_at_long_times(get_cov):
    n, m = 25, 11
    p, N, T = _kernels(5, n, m, shared=False)
    tt, xt, xx = (slice(None, n), slice(None, n)), (slice(n, None), slice(None, n)), (slice(n, None), slice(n, None))
    ens = qsntk_mse_ensemble(*_args(N, T, n, tt), p.y, 1.0)
    args = (*_args(N, T, n, xt), _args(N, T, n, xx)[0])
    lam_min = min(np.linalg.eigvalsh(t[:n, :n])[0] for t in T)
    t_long = 80.0 * n / (2.0 * lam_min)                      # e^{−(2η/n) λ_min t} = e^{−80}
    tr_inf, te_inf = ens(None, *args, get_cov=get_cov)
    tr_long, te_long = ens(np.array([t_long, np.inf]), *args, get_cov=get_cov)   # eigenbasis path
    for k in range(2):
        np.testing.assert_allclose(te_long.mean[k], te_inf.mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(te_long.cov_re[k], te_inf.cov_re, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(tr_long.cov_im[k], tr_inf.cov_im, atol=1e-10)
        np.testing.assert_allclose(tr_long.mean[k], tr_inf.mean, rtol=1e-9, atol=1e-12)


def test_infinite_time_singular_ntk_raises():
    from nnqs_fast.errors import KernelNotPositiveDefiniteError
    g = np.random.default_rng(0)
    J = g.standard_normal((10, 4))
    K = J @ J.T
    ens = qsntk_mse_ensemble(K, K, g.standard_normal(10), 0.1)
    with pytest.raises(KernelNotPositiveDefiniteError):
        ens(None)


@pytest.mark.parametrize("n", [1, 5, 96, 97, 250])
@pytest.mark.parametrize("cplx", [False, True])
def test_max_asymmetry_matches_dense_check(n, cplx):
    from nnqs_fast.dynamics._structure import max_asymmetry
    g = np.random.default_rng(n)
    a = g.standard_normal((n, n)) + (1j * g.standard_normal((n, n)) if cplx else 0)
    a = a + a.conj().T
    for i, j in ((n - 1, 0), (0, n - 1), (n // 2, n // 3)):       # perturb either triangle
        b = a.copy()
        b[i, j] += 0.25
        asym, scale = max_asymmetry(b)
        assert asym == pytest.approx(np.abs(b - b.conj().T).max(), rel=1e-15, abs=0 if i != j else 1e-15)
        assert abs(scale - np.abs(b).max()) <= asym
    assert max_asymmetry(a)[0] == 0.0


# ---- the factored covariance: Bᵀ K B from the PSD certificate's Cholesky factor (s = 0 and s > 0) ----------------
def _gram(g, rows: int, rank: int) -> np.ndarray:
    J = g.standard_normal((rows, rank)) + 0.3 * g.standard_normal((1, rank))
    return J @ J.T / rank


@pytest.mark.parametrize("n, nngp_rank", [(300, 900), (300, 20), (40, 120), (40, 6)])
@pytest.mark.parametrize("shared", [True, False])
def test_factored_covariance_matches_dense_formula(n, nngp_rank, shared):
    """Positive-definite NNGP (unshifted factor, s = 0) and rank-deficient NNGP (the shifted certificate: Lanczos
    λ_max at n ≥ 256, eigvalsh below; s > 0 and the − s Bᵀ B correction), one kernel or a pair; oracle: Eq. 15 at
    τ → ∞ written out with np.linalg.solve."""
    g = np.random.default_rng(n + nngp_rank)
    m = 37
    Ns = [_gram(g, n + m, nngp_rank) for _ in range(1 if shared else 2)]
    Ts = [_gram(g, n + m, 3 * (n + m)) for _ in range(1 if shared else 2)]
    y = g.standard_normal(n) + 1j * g.standard_normal(n)
    one = (lambda a: a[0]) if shared else tuple
    ens = qsntk_mse_ensemble(one([N[:n, :n] for N in Ns]), one([T[:n, :n] for T in Ts]), y, 0.7, diag_reg=1e-3)
    for p in ens._parts:
        assert (p.chol[1] == 0.0) == (nngp_rank > n + m)      # which path ran
    args = (one([N[n:, :n] for N in Ns]), one([T[n:, :n] for T in Ts]))
    _, full = ens(None, *args, one([N[n:, n:] for N in Ns]), get_cov="full")
    _, var = ens(None, *args, one([np.diag(N[n:, n:]).copy() for N in Ns]), get_cov="variance")
    mean = 0j
    for j, (got_f, got_v) in enumerate(((full.cov_re, var.cov_re), (full.cov_im, var.cov_im))):
        N, T = Ns[min(j, len(Ns) - 1)], Ts[min(j, len(Ts) - 1)] + np.diag(np.r_[np.full(n, 1e-3), np.zeros(m)])
        mu, cov = _dense(N, T, y.real if j == 0 else y.imag, n)
        mean = mean + (1 if j == 0 else 1j) * mu
        scale = np.abs(cov).max()
        np.testing.assert_allclose(got_f, cov, rtol=1e-9, atol=1e-11 * scale)
        np.testing.assert_allclose(got_v, np.diag(cov), rtol=1e-9, atol=1e-11 * scale)
        assert np.array_equal(got_f, got_f.T)
        assert np.linalg.eigvalsh(got_f)[0] > -1e-9 * scale              # a covariance
    np.testing.assert_allclose(full.mean, mean, rtol=1e-9, atol=1e-12 * np.abs(mean).max())


def test_infinite_time_covariance_matches_monte_carlo():
    """Independent oracle: sample ψ(0) ~ GP(0, N) on train + test points and take the exact τ → ∞ map
    f_x(∞) = f_x(0) − Θ_xB Θ^{-1} (f_B(0) − y); the sample mean/covariance of the test points match the ensemble."""
    g = np.random.default_rng(11)
    n, m, S = 30, 8, 40000
    N, T = _gram(g, n + m, 3 * (n + m)), _gram(g, n + m, 3 * (n + m))
    y = g.standard_normal(n)
    ens = qsntk_mse_ensemble(N[:n, :n], T[:n, :n], y, 1.0)
    _, te = ens(None, N[n:, :n], T[n:, :n], N[n:, n:], get_cov="full")
    f0 = np.linalg.cholesky(N) @ g.standard_normal((n + m, S))
    fx = f0[n:] - T[n:, :n] @ np.linalg.solve(T[:n, :n], f0[:n] - y[:, None])
    mc = np.cov(fx)
    sd = np.sqrt(np.outer(np.diag(mc), np.diag(mc)))
    np.testing.assert_array_less(np.abs(mc - te.cov_re), 0.05 * sd)
    np.testing.assert_array_less(np.abs(fx.mean(axis=1) - te.mean.real), 5 * np.sqrt(np.diag(mc) / S))


def test_variance_never_forms_the_test_matrix():
    """get_cov="variance" reads diagonals only: the peak allocation stays far below one m x m float64 array."""
    import tracemalloc

    g = np.random.default_rng(4)
    n, m = 60, 1500
    N, T = _gram(g, n + m, 300), _gram(g, n + m, 300)
    ens = qsntk_mse_ensemble(N[:n, :n], T[:n, :n], g.standard_normal(n), 1.0, diag_reg=1e-3)
    kxt, txt, kd = N[n:, :n].copy(), T[n:, :n].copy(), np.diag(N[n:, n:]).copy()
    ens(None, kxt, txt, kd, get_cov="variance")
    tracemalloc.start()
    _, te = ens(None, kxt, txt, kd, get_cov="variance")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < m * m * 8 / 4
    _, full = ens(None, kxt, txt, N[n:, n:], get_cov="full")
    np.testing.assert_allclose(te.cov_re, np.diag(full.cov_re), rtol=1e-10, atol=1e-13)


def test_asymmetric_test_test_kernel_refused():
    from nnqs_fast.errors import InvalidInputError

    g = np.random.default_rng(5)
    n, m = 20, 6
    N, T = _gram(g, n + m, 60), _gram(g, n + m, 60)
    ens = qsntk_mse_ensemble(N[:n, :n], T[:n, :n], g.standard_normal(n), 1.0)
    kxx = N[n:, n:].copy()
    kxx[0, 3] += 1e-3
    with pytest.raises(InvalidInputError, match="nngp_test_test"):
        ens(None, N[n:, :n], T[n:, :n], kxx, get_cov="full")
