"""qsntk_mse_predictor against independent oracles: limits, ODE integration, explicit GD, path equivalence."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg

from nnqs_fast.dynamics import qsntk_mse_predictor
from nnqs_fast.dynamics.predict import _max_learning_rate

from .conftest import omega_from_decoupled


def _lr(K: np.ndarray, frac: float = 0.5) -> float:
    return frac * K.shape[0] / np.linalg.eigvalsh(K)[-1]


@pytest.mark.parametrize("form", ["single", "pair", "omega", "ri"])
def test_zero_time_returns_initial_function(prob, form):
    K1, K2 = prob.tt(prob.K1), prob.tt(prob.K2)
    kx1, kx2 = prob.xt(prob.K1), prob.xt(prob.K2)
    ktt, kxt = {"single": (K1, kx1), "pair": ((K1, K2), (kx1, kx2)),
                "omega": (omega_from_decoupled(K1, K2), np.block([[kx1 - kx2, kx1 + kx2], [kx1 + kx2, kx1 - kx2]])
                          .astype(complex)),
                "ri": (scipy.linalg.block_diag(K1, K2), scipy.linalg.block_diag(kx1, kx2))}[form]
    pf = qsntk_mse_predictor(ktt, prob.y, learning_rate=_lr(K1))
    tr, te = pf(0.0, prob.f0, prob.g0, kxt)
    np.testing.assert_allclose(tr, prob.f0, atol=1e-12)
    np.testing.assert_allclose(te, prob.g0, atol=1e-12)
    assert pf.kind == form


def test_infinite_time_is_kernel_regression(prob):
    K, kx = prob.tt(prob.K1), prob.xt(prob.K1)
    pf = qsntk_mse_predictor(K, prob.y, learning_rate=0.3)
    tr, te = pf(None, prob.f0, prob.g0, kx)
    np.testing.assert_allclose(tr, prob.y, atol=1e-12)
    np.testing.assert_allclose(te, prob.g0 + kx @ np.linalg.solve(K, prob.y - prob.f0), rtol=1e-9, atol=1e-10)
    # mean function (f0 = 0): Ω_xB Ω_BB^{-1} ψ_T; and a very long finite time converges to the same
    _tr0, te0 = pf(None, k_test_train=kx)
    np.testing.assert_allclose(te0, kx @ np.linalg.solve(K, prob.y), rtol=1e-9, atol=1e-10)
    _, te_long = pf(1e9, k_test_train=kx)
    np.testing.assert_allclose(te_long, te0, rtol=1e-7, atol=1e-8)


def test_infinite_time_complex_omega_eq15(prob):
    """Eq. 15 literally: ψ_x(∞) = ψ_x(0) + [Ω_xB Ω_BB^{-1} (Ψ_T − Ψ(0))]_ψ with a general (mixing) Ω."""
    g = np.random.default_rng(5)
    n, m = prob.n, prob.m
    Jc = prob.J1 + 1j * prob.J2 + 0.4 * (prob.J2 - prob.J1)  # complex-output net: Θ12 ≠ 0
    Jc = Jc / np.sqrt(Jc.shape[1])
    theta, phi = Jc @ Jc.T, Jc @ Jc.conj().T
    Om = np.block([[theta, phi], [phi.conj(), theta.conj()]])
    idx_b = np.r_[0:n, n + m:2 * n + m]
    idx_x = np.r_[n:n + m, 2 * n + m:2 * (n + m)]
    Obb, Oxb = Om[np.ix_(idx_b, idx_b)], Om[np.ix_(idx_x, idx_b)]
    pf = qsntk_mse_predictor(Obb, prob.y, learning_rate=1.0)
    tr, te = pf(None, prob.f0, prob.g0, Oxb)
    Psi_T = np.r_[prob.y, prob.y.conj()]
    Psi_0 = np.r_[prob.f0, prob.f0.conj()]
    expect = np.r_[prob.g0, prob.g0.conj()] + Oxb @ np.linalg.solve(Obb, Psi_T - Psi_0)
    np.testing.assert_allclose(te, expect[:m], rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(tr, prob.y, atol=1e-10)
    del g


@pytest.mark.parametrize("discrete", [False, True])
def test_array_of_times_equals_single_calls(prob, discrete):
    K, kx = prob.tt(prob.K1), prob.xt(prob.K1)
    lr = 0.9 * min(_lr(K, 1.0), _lr(prob.tt(prob.K2), 1.0))
    pf = qsntk_mse_predictor((K, prob.tt(prob.K2)), prob.y, learning_rate=lr, discrete=discrete)
    kx2 = (kx, prob.xt(prob.K2))
    ts = np.array([0, 1, 3, 10, 100, 1000])
    tr, te = pf(ts, prob.f0, prob.g0, kx2)
    assert tr.shape == (ts.size, prob.n) and te.shape == (ts.size, prob.m)
    for i, t in enumerate(ts):
        a, b = pf(int(t), prob.f0, prob.g0, kx2)
        np.testing.assert_allclose(tr[i], a, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(te[i], b, rtol=1e-13, atol=1e-13)


def test_continuous_matches_solve_ivp_complex_omega(prob):
    """Integrate dΨ/dt = −(η/n) Ω_{·B} M (Ψ_B − Ψ_T) (Eq. 13) on train + test points numerically."""
    n, m = prob.n, prob.m
    Jc = (prob.J1 + 1j * (0.6 * prob.J2 + 0.5 * prob.J1)) / np.sqrt(prob.J1.shape[1])
    theta, phi = Jc @ Jc.T, Jc @ Jc.conj().T
    Om = np.block([[theta, phi], [phi.conj(), theta.conj()]])          # all points, (2N, 2N)
    N = n + m
    idx_b = np.r_[0:n, N:N + n]
    idx_x = np.r_[n:N, N + n:2 * N]
    lr = 0.7
    M = np.block([[np.zeros((n, n)), np.eye(n)], [np.eye(n), np.zeros((n, n))]])
    A = Om[:, idx_b] @ M
    Psi_T = np.r_[prob.y, prob.y.conj()]

    def rhs(_t, v):
        Psi = v[: 2 * N] + 1j * v[2 * N:]
        d = -(lr / n) * A @ (Psi[idx_b] - Psi_T)
        return np.r_[d.real, d.imag]

    Psi0 = np.r_[prob.f0, prob.g0, prob.f0.conj(), prob.g0.conj()]
    ts = np.array([0.5, 3.0, 20.0])
    sol = scipy.integrate.solve_ivp(rhs, (0, ts[-1]), np.r_[Psi0.real, Psi0.imag], t_eval=ts, rtol=1e-11,
                                    atol=1e-12, method="DOP853")
    Psi_t = (sol.y[: 2 * N] + 1j * sol.y[2 * N:]).T
    pf = qsntk_mse_predictor(Om[np.ix_(idx_b, idx_b)], prob.y, learning_rate=lr)
    tr, te = pf(ts, prob.f0, prob.g0, Om[np.ix_(idx_x, idx_b)])
    np.testing.assert_allclose(tr, Psi_t[:, :n], rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(te, Psi_t[:, n:N], rtol=1e-8, atol=1e-9)


def test_discrete_matches_explicit_recursion_decoupled(prob):
    K1, K2 = prob.tt(prob.K1), prob.tt(prob.K2)
    kx1, kx2 = prob.xt(prob.K1), prob.xt(prob.K2)
    n = prob.n
    lr = 0.95 * min(_lr(K1, 1.0), _lr(K2, 1.0))  # 1 − cλ < 0 for the top mode: oscillating but stable
    c = 2 * lr / n
    pf = qsntk_mse_predictor((K1, K2), prob.y, learning_rate=lr, discrete=True)
    f1, f2 = prob.f0.real.copy(), prob.f0.imag.copy()
    g1, g2 = prob.g0.real.copy(), prob.g0.imag.copy()
    checks = {1, 2, 7, 50, 400}
    for k in range(1, 401):
        e1, e2 = f1 - prob.y.real, f2 - prob.y.imag
        f1, f2 = f1 - c * K1 @ e1, f2 - c * K2 @ e2
        g1, g2 = g1 - c * kx1 @ e1, g2 - c * kx2 @ e2
        if k in checks:
            tr, te = pf(k, prob.f0, prob.g0, (kx1, kx2))
            np.testing.assert_allclose(tr, f1 + 1j * f2, rtol=1e-10, atol=1e-11)
            np.testing.assert_allclose(te, g1 + 1j * g2, rtol=1e-10, atol=1e-11)


def _relu_net_jacobian(params, x):
    """Explicit Jacobian of the one-hidden-layer ReLU net of nnqs_fast.networks.relu (NTK parameterisation)."""
    (W0, W1), (b0, _b1) = params.weights, params.biases
    d, N = x.shape[1], W0.shape[0]
    s0, s1 = params.W_std / np.sqrt(d), params.W_std / np.sqrt(N)
    z = s0 * x @ W0.T + params.b_std * b0
    h, dh = np.maximum(z, 0), (z > 0).astype(float)
    dW1 = s1 * h                                       # (n, N)
    db1 = params.b_std * np.ones((x.shape[0], 1))
    common = s1 * W1[0][None, :] * dh                  # (n, N)
    dW0 = (common[:, :, None] * (s0 * x)[:, None, :]).reshape(x.shape[0], -1)
    db0 = params.b_std * common
    return np.concatenate([dW0, dW1, db0, db1], axis=1)  # order: W0, W1, b0, b1 (any fixed order)


def test_linearised_relu_networks_trained_by_gd_follow_prediction():
    from nnqs_fast.networks.relu import apply_relu, init_relu

    g = np.random.default_rng(3)
    n, m, d, width = 10, 6, 4, 40
    x = g.choice([-1.0, 1.0], size=(n + m, d)) + 0.1 * g.standard_normal((n + m, d))
    p1, p2 = init_relu(11, d, width), init_relu(12, d, width)
    J1, J2 = _relu_net_jacobian(p1, x), _relu_net_jacobian(p2, x)
    # check the explicit Jacobian against finite differences of the real network (one parameter)
    eps = 1e-6
    W0 = p1.weights[0].copy()
    W0[2, 1] += eps
    p1e = type(p1)((W0, p1.weights[1]), p1.biases, p1.W_std, p1.b_std)
    np.testing.assert_allclose((apply_relu(p1e, x) - apply_relu(p1, x)) / eps, J1[:, 2 * d + 1], atol=1e-5)
    y = g.standard_normal(n) + 1j * g.standard_normal(n)
    f_all = apply_relu(p1, x) + 1j * apply_relu(p2, x)
    T1, T2 = J1 @ J1.T, J2 @ J2.T
    lr = 0.9 * min(n / np.linalg.eigvalsh(T1[:n, :n])[-1], n / np.linalg.eigvalsh(T2[:n, :n])[-1])
    th1, th2 = np.zeros(J1.shape[1]), np.zeros(J2.shape[1])   # θ − θ0
    pf = qsntk_mse_predictor((T1[:n, :n], T2[:n, :n]), y, learning_rate=lr, discrete=True)
    for k in range(1, 301):
        psi = f_all + J1 @ th1 + 1j * (J2 @ th2)
        e = psi[:n] - y
        th1 -= lr * (2.0 / n) * J1[:n].T @ e.real      # ∇_θ1 (1/n) Σ |ψ − ψ_T|²
        th2 -= lr * (2.0 / n) * J2[:n].T @ e.imag
        if k in (1, 10, 300):
            psi = f_all + J1 @ th1 + 1j * (J2 @ th2)
            tr, te = pf(k, f_all[:n], f_all[n:], (T1[n:, :n], T2[n:, :n]))
            np.testing.assert_allclose(tr, psi[:n], rtol=1e-10, atol=1e-11)
            np.testing.assert_allclose(te, psi[n:], rtol=1e-10, atol=1e-11)


def test_complex_output_linear_model_gd_matches_omega_and_ri_paths(prob):
    """One complex-output linear model (shared parameters → nonzero mixing kernel) trained by explicit GD."""
    n, m = prob.n, prob.m
    P = prob.J1.shape[1]
    Jc = (prob.J1 + 1j * (prob.J2 - 0.7 * prob.J1)) / np.sqrt(P)
    theta, phi = Jc @ Jc.T, Jc @ Jc.conj().T
    N = n + m
    Om = np.block([[theta, phi], [phi.conj(), theta.conj()]])
    idx_b, idx_x = np.r_[0:n, N:N + n], np.r_[n:N, N + n:2 * N]
    Jr, Ji = Jc.real, Jc.imag
    Ori = np.block([[Jr @ Jr.T, Jr @ Ji.T], [Ji @ Jr.T, Ji @ Ji.T]])
    rb, rx = np.r_[0:n, N:N + n], np.r_[n:N, N + n:2 * N]
    eta_max = _max_learning_rate(Om[np.ix_(idx_b, idx_b)])
    np.testing.assert_allclose(eta_max, _max_learning_rate(Ori[np.ix_(rb, rb)], n_train=n), rtol=1e-10)
    lr = 0.9 * eta_max
    pf_o = qsntk_mse_predictor(Om[np.ix_(idx_b, idx_b)], prob.y, learning_rate=lr, discrete=True)
    pf_r = qsntk_mse_predictor(Ori[np.ix_(rb, rb)], prob.y, learning_rate=lr, discrete=True)
    assert (pf_o.kind, pf_r.kind) == ("omega", "ri")
    f_all = np.r_[prob.f0, prob.g0]
    th = np.zeros(P)
    for k in range(1, 201):
        e = (f_all + Jc @ th)[:n] - prob.y
        th -= lr * (2.0 / n) * np.real(Jc[:n].conj().T @ e)   # ∇_θ of (1/n) Σ |ψ − ψ_T|², real θ
        if k in (1, 5, 200):
            psi = f_all + Jc @ th
            for pf, kx in ((pf_o, Om[np.ix_(idx_x, idx_b)]), (pf_r, Ori[np.ix_(rx, rb)])):
                tr, te = pf(k, prob.f0, prob.g0, kx)
                np.testing.assert_allclose(tr, psi[:n], rtol=1e-9, atol=1e-10)
                np.testing.assert_allclose(te, psi[n:], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("diag_reg", [0.0, 0.05])
def test_complex_omega_path_equals_decoupled_path(prob, discrete, diag_reg):
    K1, K2 = prob.tt(prob.K1), prob.tt(prob.K2)
    kx1, kx2 = prob.xt(prob.K1), prob.xt(prob.K2)
    lr = 0.9 * min(_lr(K1, 1.0), _lr(K2, 1.0))
    Om = omega_from_decoupled(K1, K2)
    th_x, ph_x = (kx1 - kx2).astype(complex), (kx1 + kx2).astype(complex)
    Ox = np.block([[th_x, ph_x], [ph_x.conj(), th_x.conj()]])
    pf_d = qsntk_mse_predictor((K1, K2), prob.y, learning_rate=lr, diag_reg=diag_reg, discrete=discrete)
    pf_o = qsntk_mse_predictor(Om, prob.y, learning_rate=lr, diag_reg=diag_reg, discrete=discrete)
    obj = SimpleNamespace(theta1=K1, theta2=K2, mixing=None, theta=None, phi=None)
    pf_q = qsntk_mse_predictor(obj, prob.y, learning_rate=lr, diag_reg=diag_reg, discrete=discrete)
    obj_o = SimpleNamespace(theta=K1 - K2, phi=K1 + K2, theta1=None, theta2=None, mixing=None)
    pf_qo = qsntk_mse_predictor(obj_o, prob.y, learning_rate=lr, diag_reg=diag_reg, discrete=discrete)
    assert (pf_d.kind, pf_o.kind, pf_q.kind, pf_qo.kind) == ("pair", "omega", "pair", "omega")
    np.testing.assert_allclose(pf_o.max_learning_rate, pf_d.max_learning_rate, rtol=1e-10)
    for t in (np.array([0, 1, 5, 60, 2000]), None):
        ref = pf_d(t, prob.f0, prob.g0, (kx1, kx2))
        for pf, kx in ((pf_o, Ox), (pf_q, SimpleNamespace(theta1=kx1, theta2=kx2, mixing=np.zeros_like(kx1))),
                       (pf_qo, SimpleNamespace(theta=th_x.real, phi=ph_x.real))):
            got = pf(t, prob.f0, prob.g0, kx)
            np.testing.assert_allclose(got[0], ref[0], rtol=1e-9, atol=1e-10)
            np.testing.assert_allclose(got[1], ref[1], rtol=1e-9, atol=1e-10)


def test_single_kernel_equals_pair_of_same_kernel(prob):
    K, kx = prob.tt(prob.K1), prob.xt(prob.K1)
    a = qsntk_mse_predictor(K, prob.y, learning_rate=0.4)([0, 3, 30], prob.f0, prob.g0, kx)
    b = qsntk_mse_predictor((K, K.copy() + 0.0), prob.y, learning_rate=0.4)
    assert b.kind == "single"  # identical kernels share one eigendecomposition
    c = qsntk_mse_predictor((K, K + 1e-300), prob.y, learning_rate=0.4)
    got = c([0, 3, 30], prob.f0, prob.g0, (kx, kx))
    np.testing.assert_allclose(got[0], a[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], a[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("discrete", [False, True])
def test_permutation_invariance(prob, discrete):
    K1, K2 = prob.tt(prob.K1), prob.tt(prob.K2)
    kx1, kx2 = prob.xt(prob.K1), prob.xt(prob.K2)
    perm = np.random.default_rng(9).permutation(prob.n)
    lr = 0.5 * min(_lr(K1, 1.0), _lr(K2, 1.0))
    ts = [0, 4, 100]
    a_tr, a_te = qsntk_mse_predictor((K1, K2), prob.y, lr, discrete=discrete)(ts, prob.f0, prob.g0, (kx1, kx2))
    P = np.ix_(perm, perm)
    b_tr, b_te = qsntk_mse_predictor((K1[P], K2[P]), prob.y[perm], lr, discrete=discrete)(
        ts, prob.f0[perm], prob.g0, (kx1[:, perm], kx2[:, perm]))
    np.testing.assert_allclose(b_tr, a_tr[:, perm], rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(b_te, a_te, rtol=1e-10, atol=1e-11)


def test_callable_test_kernel_in_chunks(prob):
    K1, K2 = prob.tt(prob.K1), prob.tt(prob.K2)
    kx1, kx2 = prob.xt(prob.K1), prob.xt(prob.K2)
    pf = qsntk_mse_predictor((K1, K2), prob.y, learning_rate=0.3)
    calls = []

    def rows(a, b):
        calls.append((a, b))
        return kx1[a:b], kx2[a:b]

    ref = pf([1, 10, None][:2], prob.f0, prob.g0, (kx1, kx2))
    got = pf([1, 10], prob.f0, prob.g0, rows, chunk_size=2)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-13, atol=1e-13)
    assert calls == [(0, 2), (2, 4), (4, 5)]
    got_inf = pf(None, 0.0, None, rows, n_test=prob.m, chunk_size=3)
    np.testing.assert_allclose(got_inf[1], pf(None, 0.0, None, (kx1, kx2))[1], rtol=1e-12, atol=1e-13)


def test_eigendecomposition_cached_and_reused(prob, monkeypatch):
    import nnqs_fast.dynamics._spectral as sp

    K = prob.tt(prob.K1)
    count = {"eigh": 0}
    orig = sp.scipy.linalg.eigh

    def counting(*a, **k):
        count["eigh"] += 1
        return orig(*a, **k)

    monkeypatch.setattr(sp.scipy.linalg, "eigh", counting)
    pf = qsntk_mse_predictor(K, prob.y, learning_rate=0.3)
    pf(1.0)
    pf([2.0, 3.0], k_test_train=prob.xt(prob.K1))
    pf(None)
    assert count["eigh"] == 1


def test_qsntk_object_with_mixing_uses_complex_path(prob):
    """A QS-NTK object with nonzero mixing (S9–S11) is read as Ω and agrees with the Ω_RI form."""
    n, m = prob.n, prob.m
    P = prob.J1.shape[1]
    J1, J2 = prob.J1 / np.sqrt(P), (prob.J2 + 0.8 * prob.J1) / np.sqrt(P)   # shared parameters → Θ12 ≠ 0

    def q(a, b):
        t1, t2, mix, mix_t = J1[a] @ J1[b].T, J2[a] @ J2[b].T, J1[a] @ J2[b].T, J2[a] @ J1[b].T
        return SimpleNamespace(theta1=t1, theta2=t2, mixing=mix, mixing_t=mix_t,
                               theta=(t1 - t2) + 1j * (mix + mix_t), phi=(t1 + t2) - 1j * (mix - mix_t))

    B, X = slice(0, n), slice(n, n + m)
    qbb, qxb = q(B, B), q(X, B)
    ori = np.block([[qbb.theta1, qbb.mixing], [qbb.mixing_t, qbb.theta2]])
    ori_x = np.block([[qxb.theta1, qxb.mixing], [qxb.mixing_t, qxb.theta2]])
    lr = 0.8 * _max_learning_rate(ori, n_train=n)
    pf_q = qsntk_mse_predictor(qbb, prob.y, learning_rate=lr, discrete=True)
    pf_r = qsntk_mse_predictor(ori, prob.y, learning_rate=lr, discrete=True)
    assert (pf_q.kind, pf_r.kind) == ("omega", "ri")
    for t in ([0, 3, 50], None):
        a = pf_q(t, prob.f0, prob.g0, qxb)
        b = pf_r(t, prob.f0, prob.g0, ori_x)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-9, atol=1e-10)
