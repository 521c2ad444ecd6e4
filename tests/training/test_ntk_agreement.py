"""Gradient descent against the QS-NTK (linearised) prediction, for the decoupled ψ1 part (CONTRIBUTING.md):
e(t) = (I − (2η/n) Θ)^t e(0) on the train set; test: f_T(t) = f_T(0) − Θ_TB Θ⁻¹ (I − (I − (2η/n)Θ)^t) e(0)."""

from __future__ import annotations

import numpy as np

from nnqs_fast.kernels.spectrum import max_learning_rate
from nnqs_fast.networks.relu import apply_relu, init_relu
from nnqs_fast.training import CPUReLUStep

from ._oracles import analytic_ntk, flatten, jacobian


def _predict(theta_bb, theta_tb, e0, lr, t):
    """Own eigendecomposition oracle of the discrete-time linear dynamics."""
    n = theta_bb.shape[0]
    lam, V = np.linalg.eigh(theta_bb)
    decay = (1 - 2 * lr / n * lam) ** t
    e_t = V @ (decay * (V.T @ e0))
    shift = theta_tb @ (V @ (((1 - decay) / lam) * (V.T @ e0)))
    return e_t, shift


def _data(seed=0):
    g = np.random.default_rng(seed)
    x = g.choice([-1.0, 1.0], size=(96, 12))
    y = 0.05 * g.standard_normal(96)
    return x[:64], y[:64], x[64:], y[64:]


def test_linearised_network_matches_prediction_to_rounding():
    x, y, xt, _yt = _data()
    p = init_relu(1, 12, 300)
    J, Jt = jacobian(p, x), jacobian(p, xt)
    theta_bb, theta_tb = J @ J.T, Jt @ J.T
    lr = 0.9 * max_learning_rate(theta_bb)
    f0, ft0 = apply_relu(p, x), apply_relu(p, xt)
    th0 = flatten(p)
    th = th0.copy()
    T = 60
    for _ in range(T):  # gradient descent on the linearised model f_lin = f0 + J (θ − θ0)
        th -= lr * (2 / len(y)) * J.T @ (f0 + J @ (th - th0) - y)
    e_pred, shift = _predict(theta_bb, theta_tb, f0 - y, lr, T)
    np.testing.assert_allclose(f0 + J @ (th - th0) - y, e_pred, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(ft0 + Jt @ (th - th0), ft0 - shift, rtol=1e-9, atol=1e-13)


def test_wide_network_approaches_qsntk_prediction_as_width_grows():
    x, y, xt, yt = _data(1)
    k_inf = analytic_ntk(np.vstack([x, xt]))
    theta_bb, theta_tb = k_inf[:64, :64], k_inf[64:, :64]
    lr = 0.9 * max_learning_rate(theta_bb)
    T = 300
    errs = {}
    for N in (256, 4096):
        dev = []
        for seed in range(2):
            p = init_relu(100 + seed, 12, N)
            f0, ft0 = apply_relu(p, x), apply_relu(p, xt)
            e_pred, shift = _predict(theta_bb, theta_tb, f0 - y, lr, T)
            s = CPUReLUStep(p, x, y, lr, xt, yt)
            s.threads = 1
            s.run(T)
            e_net = s.predict(x) - y
            ft_net = s.predict(xt)
            scale = np.linalg.norm(f0 - y)
            dev.append(max(np.linalg.norm(e_net - e_pred), np.linalg.norm(ft_net - (ft0 - shift))) / scale)
        errs[N] = np.mean(dev)
    # finite-width corrections to the NTK are O(1/sqrt(N)): 16x the width -> ~4x smaller deviation
    assert errs[4096] < 0.6 * errs[256], errs
    assert errs[4096] < 0.03, errs
