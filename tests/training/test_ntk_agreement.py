"""The package's trainer and its closed-form predictor, both against an explicit linearised-network training.

Oracle: gradient descent on the linearised model ``f_lin(θ) = f0 + J (θ − θ0)`` with the explicit Jacobian ``J``
of the network (tests/training/_oracles.py, written out by hand), loss ``(1/n) Σ (f − y)²``.
"""

from __future__ import annotations

import numpy as np

from nnqs_fast.dynamics import qsntk_mse_predictor
from nnqs_fast.kernels.spectrum import qsntk_eta_max
from nnqs_fast.networks.relu import apply_relu, init_relu
from nnqs_fast.training import CPUReLUStep

from ._oracles import analytic_ntk, flatten, jacobian, unflatten


def _predict(theta_bb, theta_tb, f0, ft0, y, lr, t):
    """The package's closed form (discrete steps, Eqs. 13–15): f on the train and test points after t steps."""
    pred = qsntk_mse_predictor(theta_bb, y.astype(complex), lr, discrete=True, backend="cpu")
    f_tr, f_te = pred(t, fx_train_0=f0.astype(complex), fx_test_0=ft0.astype(complex), k_test_train=theta_tb)
    return f_tr.real, f_te.real


def _data(seed=0):
    g = np.random.default_rng(seed)
    x = g.choice([-1.0, 1.0], size=(96, 12))
    y = 0.05 * g.standard_normal(96)
    return x[:64], y[:64], x[64:], y[64:]


def _linearised_gd(J, f0, y, lr, T):
    th = np.zeros(J.shape[1])
    for _ in range(T):  # explicit gradient descent on f_lin = f0 + J θ
        th -= lr * (2 / len(y)) * J.T @ (f0 + J @ th - y)
    return th


def test_closed_form_predictor_matches_explicit_linearised_training():
    x, y, xt, _yt = _data()
    p = init_relu(1, 12, 300)
    J, Jt = jacobian(p, x), jacobian(p, xt)
    lr = 0.9 * qsntk_eta_max(J @ J.T)
    f0, ft0 = apply_relu(p, x), apply_relu(p, xt)
    T = 60
    th = _linearised_gd(J, f0, y, lr, T)
    f_pred, ft_pred = _predict(J @ J.T, Jt @ J.T, f0, ft0, y, lr, T)
    np.testing.assert_allclose(f0 + J @ th, f_pred, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ft0 + Jt @ th, ft_pred, rtol=1e-9, atol=1e-12)


def test_trainer_matches_explicit_linearised_training_at_first_steps():
    """One step of the trainer is exactly the explicit-Jacobian step; after a few steps the trained network and the
    linearised one differ only by the (small, wide-network) change of the Jacobian."""
    x, y, _xt, _yt = _data(2)
    p = init_relu(3, 12, 4096)
    J = jacobian(p, x)
    lr = 0.9 * qsntk_eta_max(J @ J.T)
    s = CPUReLUStep(p, x, y, lr)
    s.run(1)
    th1 = flatten(p) + _linearised_gd(J, apply_relu(p, x), y, lr, 1)
    np.testing.assert_allclose(flatten(s.params()), th1, rtol=1e-10, atol=1e-13)
    s.run(9)
    f_lin = apply_relu(p, x) + J @ _linearised_gd(J, apply_relu(p, x), y, lr, 10)
    f_net = apply_relu(s.params(), x)
    dev = np.linalg.norm(f_net - f_lin) / np.linalg.norm(f_net - apply_relu(p, x))
    assert dev < 0.02, dev
    assert unflatten(flatten(p), p).weights[0].shape == p.weights[0].shape


def test_wide_network_approaches_qsntk_prediction_as_width_grows():
    x, y, xt, yt = _data(1)
    k_inf = analytic_ntk(np.vstack([x, xt]))
    theta_bb, theta_tb = k_inf[:64, :64], k_inf[64:, :64]
    lr = 0.9 * qsntk_eta_max(theta_bb)
    T = 300
    errs = {}
    for N in (256, 4096):
        dev = []
        for seed in range(2):
            p = init_relu(100 + seed, 12, N)
            f0, ft0 = apply_relu(p, x), apply_relu(p, xt)
            f_pred, ft_pred = _predict(theta_bb, theta_tb, f0, ft0, y, lr, T)
            s = CPUReLUStep(p, x, y, lr, xt, yt)
            s.threads = 1
            s.run(T)
            e_net = s.predict(x) - y
            ft_net = s.predict(xt)
            scale = np.linalg.norm(f0 - y)
            dev.append(max(np.linalg.norm(e_net + y - f_pred), np.linalg.norm(ft_net - ft_pred)) / scale)
        errs[N] = np.mean(dev)
    # finite-width corrections to the NTK are O(1/sqrt(N)): 16x the width -> ~4x smaller deviation
    assert errs[4096] < 0.6 * errs[256], errs
    assert errs[4096] < 0.03, errs
