"""qsntk_mse_ensemble and nngp_posterior against Monte Carlo over GP initial functions and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from nnqs_fast.dynamics import nngp_posterior, qsntk_mse_ensemble, qsntk_mse_predictor

from .conftest import make_problem


def _setup(seed=0, n=8, m=5):
    p = make_problem(seed, n, m, P=30)
    g = np.random.default_rng(seed + 100)
    # NNGP kernels differ from the NTKs (independent Gram matrices), one pair per real part
    L1, L2 = g.standard_normal((n + m, 25)), g.standard_normal((n + m, 25))
    return p, L1 @ L1.T / 25, L2 @ L2.T / 25


def _propagator(T, c, t, n, discrete):
    """Explicit train/test propagation of f(0) -> f(t) for one real part (matrix functions via scipy)."""
    Tbb, Txb = T[:n, :n], T[n:, :n]
    E = np.linalg.matrix_power(np.eye(n) - c * Tbb, int(t)) if discrete else scipy.linalg.expm(-c * Tbb * t)
    S = Txb @ np.linalg.solve(Tbb, np.eye(n) - E)   # test: f_x(t) = f_x(0) − S (f_B(0) − y)
    return E, S


@pytest.mark.parametrize("discrete", [False, True])
def test_mean_and_covariance_match_monte_carlo(discrete):
    p, N1, N2 = _setup()
    n, m = p.n, p.m
    T1, T2 = p.K1, p.K2
    lr = 0.8 * min(n / np.linalg.eigvalsh(T1[:n, :n])[-1], n / np.linalg.eigvalsh(T2[:n, :n])[-1])
    c = 2 * lr / n
    t = 7
    ens = qsntk_mse_ensemble((N1[:n, :n], N2[:n, :n]), (T1[:n, :n], T2[:n, :n]), p.y, lr,
                                        discrete=discrete)
    tr, te = ens(t, (N1[n:, :n], N2[n:, :n]), (T1[n:, :n], T2[n:, :n]), (N1[n:, n:], N2[n:, n:]), get_cov="full")
    # Monte Carlo: sample ψ_j(0) ~ GP(0, N_j) on all points, propagate exactly
    g = np.random.default_rng(7)
    S_draw = 40000
    parts = []
    for N, T, y in ((N1, T1, p.y.real), (N2, T2, p.y.imag)):
        f0 = np.linalg.cholesky(N + 1e-12 * np.eye(n + m)) @ g.standard_normal((n + m, S_draw))
        E, S = _propagator(T, c, t, n, discrete)
        fb = y[:, None] + E @ (f0[:n] - y[:, None])
        fx = f0[n:] - S @ (f0[:n] - y[:, None])
        parts.append(np.vstack([fb, fx]))
    psi = parts[0] + 1j * parts[1]
    mc_mean = psi.mean(axis=1)
    se = np.sqrt((np.var(parts[0], axis=1) + np.var(parts[1], axis=1)) / S_draw)
    assert np.all(np.abs(mc_mean[:n] - tr.mean) < 5 * se[:n] + 1e-12)
    assert np.all(np.abs(mc_mean[n:] - te.mean) < 5 * se[n:] + 1e-12)
    for j, (cov_tr, cov_te) in enumerate(((tr.cov_re, te.cov_re), (tr.cov_im, te.cov_im))):
        mc_cov = np.cov(parts[j])
        scale = np.sqrt(np.outer(np.diag(mc_cov), np.diag(mc_cov)))
        np.testing.assert_array_less(np.abs(mc_cov[:n, :n] - cov_tr), 0.05 * scale[:n, :n] + 1e-12)
        np.testing.assert_array_less(np.abs(mc_cov[n:, n:] - cov_te), 0.05 * scale[n:, n:] + 1e-12)
    # the mean equals the single-network predictor started from f0 = 0 (Eq. 15: E[ψ_l] = μ)
    pf = qsntk_mse_predictor((T1[:n, :n], T2[:n, :n]), p.y, lr, discrete=discrete)
    a, b = pf(t, 0.0, None, (T1[n:, :n], T2[n:, :n]))
    np.testing.assert_allclose(tr.mean, a, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(te.mean, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shared", [False, True])
def test_losses_fast_formulas_match_per_point_statistics(shared):
    p, N1, N2 = _setup(1, n=10, m=6)
    n = p.n
    if shared:
        N2, T1, T2 = N1, p.K1, p.K1
    else:
        T1, T2 = p.K1, p.K2
    lr = 0.5 * n / np.linalg.eigvalsh(T1[:n, :n])[-1]
    nn = N1[:n, :n] if shared else (N1[:n, :n], N2[:n, :n])
    nt = T1[:n, :n] if shared else (T1[:n, :n], T2[:n, :n])
    ens = qsntk_mse_ensemble(nn, nt, p.y, lr)
    nx = N1[n:, :n] if shared else (N1[n:, :n], N2[n:, :n])
    tx = T1[n:, :n] if shared else (T1[n:, :n], T2[n:, :n])
    nxx = N1[n:, n:] if shared else (N1[n:, n:], N2[n:, n:])
    ts = np.array([0.0, 1.0, 10.0, 1e3])
    L = ens.losses(ts, p.yt, nx, tx, np.diag(N1[n:, n:]) if shared else (np.diag(N1[n:, n:]), np.diag(N2[n:, n:])),
                   chunk_size=4)
    tr, te = ens(ts, nx, tx, nxx)
    np.testing.assert_allclose(L["L_mu_train"], np.mean(np.abs(tr.mean - p.y) ** 2, -1), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(L["L_gamma_train"], np.mean(tr.cov_re + tr.cov_im, -1), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(L["L_mu_test"], np.mean(np.abs(te.mean - p.yt) ** 2, -1), rtol=1e-9)
    np.testing.assert_allclose(L["L_gamma_test"], np.mean(te.cov_re + te.cov_im, -1), rtol=1e-9)
    np.testing.assert_allclose(L["L_psi_test"], L["L_mu_test"] + L["L_gamma_test"], rtol=1e-14)
    # τ = 0: μ = 0 and γ = the prior, so L_μ = mean |ψ_T|², L_γ = mean (K1_xx + K2_xx)
    np.testing.assert_allclose(L["L_mu_test"][0], np.mean(np.abs(p.yt) ** 2), rtol=1e-12)
    np.testing.assert_allclose(L["L_gamma_test"][0], np.mean(np.diag(N1[n:, n:]) + np.diag(N2[n:, n:])),
                               rtol=1e-10)
    # τ → ∞: both train losses vanish (Eq. 15), test losses finite; the scalar call agrees with an array call
    Linf = ens.losses(None, p.yt, nx, tx, np.diag(N1[n:, n:]) if shared else (np.diag(N1[n:, n:]),
                                                                              np.diag(N2[n:, n:])))
    assert abs(Linf["L_mu_train"]) < 1e-20 and abs(Linf["L_gamma_train"]) < 1e-20
    assert isinstance(Linf["L_psi_test"], float) and Linf["L_gamma_test"] > 0
    L_late = ens.losses(np.array([1e12]), p.yt, nx, tx, np.diag(N1[n:, n:]) if shared else
                        (np.diag(N1[n:, n:]), np.diag(N2[n:, n:])))
    np.testing.assert_allclose(L_late["L_psi_test"][0], Linf["L_psi_test"], rtol=1e-8)


def test_losses_monte_carlo_l_gamma():
    """L_Ψl = L_μ + L_γ is the ensemble-average loss of Eq. 17 (Monte Carlo over sampled initial functions)."""
    p, N1, _N2 = _setup(2, n=6, m=4)
    n, m = p.n, p.m
    lr = 0.5 * n / np.linalg.eigvalsh(p.K1[:n, :n])[-1]
    ens = qsntk_mse_ensemble(N1[:n, :n], p.K1[:n, :n], p.y, lr)
    L = ens.losses(25.0, p.yt, N1[n:, :n], p.K1[n:, :n], np.diag(N1[n:, n:]))
    pf = qsntk_mse_predictor(p.K1[:n, :n], p.y, lr)
    g = np.random.default_rng(4)
    C = np.linalg.cholesky(N1 + 1e-12 * np.eye(n + m))
    losses_tr, losses_te = [], []
    for _ in range(3000):
        f0 = C @ g.standard_normal(n + m) + 1j * (C @ g.standard_normal(n + m))
        a, b = pf(25.0, f0[:n], f0[n:], p.K1[n:, :n])
        losses_tr.append(np.mean(np.abs(a - p.y) ** 2))
        losses_te.append(np.mean(np.abs(b - p.yt) ** 2))
    for key, arr in (("L_psi_train", losses_tr), ("L_psi_test", losses_te)):
        arr = np.asarray(arr)
        assert abs(arr.mean() - L[key]) < 5 * arr.std() / np.sqrt(arr.size), key


def test_nngp_posterior_equals_infinite_time_ensemble_when_ntk_is_nngp():
    p, N1, N2 = _setup(3)
    n = p.n
    post = nngp_posterior((N1[:n, :n], N2[:n, :n]), p.y)
    g = post((N1[n:, :n], N2[n:, :n]), (N1[n:, n:], N2[n:, n:]), get_cov="full")
    ens = qsntk_mse_ensemble((N1[:n, :n], N2[:n, :n]), (N1[:n, :n], N2[:n, :n]), p.y, 0.1)
    _, te = ens(None, (N1[n:, :n], N2[n:, :n]), (N1[n:, :n], N2[n:, :n]), (N1[n:, n:], N2[n:, n:]), get_cov="full")
    np.testing.assert_allclose(g.mean, te.mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(g.cov_re, te.cov_re, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g.cov_im, te.cov_im, rtol=1e-6, atol=1e-9)
    # closed form with noise
    r = 0.1
    K = N1[:n, :n] + r * np.eye(n)
    post_r = nngp_posterior(N1[:n, :n], p.y, diag_reg=r)
    gr = post_r(N1[n:, :n], np.diag(N1[n:, n:]))
    np.testing.assert_allclose(gr.mean, N1[n:, :n] @ np.linalg.solve(K, p.y), rtol=1e-10)
    np.testing.assert_allclose(gr.cov_re, np.diag(N1[n:, n:] - N1[n:, :n] @ np.linalg.solve(K, N1[:n, n:])),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gr.cov_im, gr.cov_re)
    # train-point posterior without noise interpolates the targets with zero variance
    gt = nngp_posterior(N1[:n, :n], p.y)()
    np.testing.assert_allclose(gt.mean, p.y, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(gt.cov_re, 0.0, atol=1e-8)
