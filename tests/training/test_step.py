"""The fused C++ gradient-descent step against explicit-Jacobian NumPy steps, finite differences, and itself."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast.errors import PrecisionLossWarning
from nnqs_fast.kernels.spectrum import qsntk_eta_max
from nnqs_fast.networks.relu import apply_relu, init_relu
from nnqs_fast.training import CPUReLUStep, GDStep, NumpyReLUStep, make_step

from ._oracles import analytic_ntk, empirical_ntk, flatten, jacobian, unflatten


def _data(n, d, seed=0, spins=True):
    g = np.random.default_rng(seed)
    x = g.choice([-1.0, 1.0], size=(n, d)) if spins else g.standard_normal((n, d))
    y = 0.1 * g.standard_normal(n)
    return x, y


def test_jacobian_oracle_matches_finite_differences():
    p = init_relu(3, 5, 7)
    x, _ = _data(4, 5, spins=False)
    J = jacobian(p, x)
    th = flatten(p)
    eps = 1e-6
    for idx in [0, 13, 7 * 5 + 2, 7 * 5 + 7 + 3, th.size - 1]:
        tp, tm = th.copy(), th.copy()
        tp[idx] += eps
        tm[idx] -= eps
        fd = (apply_relu(unflatten(tp, p), x) - apply_relu(unflatten(tm, p), x)) / (2 * eps)
        np.testing.assert_allclose(J[:, idx], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("d,N", [(12, 64), (12, 37), (5, 29)])
def test_one_step_equals_explicit_jacobian_step(d, N):
    x, y = _data(50, d, seed=d + N)
    p = init_relu(11, d, N)
    lr = 0.7
    f0 = apply_relu(p, x)
    theta1 = flatten(p) - lr * (2 / x.shape[0]) * jacobian(p, x).T @ (f0 - y)
    s = CPUReLUStep(p, x, y, lr)
    rec = s.run(1, [0, 1])
    assert rec.steps_done == 1 and s.step == 1
    np.testing.assert_allclose(flatten(s.params()), theta1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rec.train_loss[0], np.mean((f0 - y) ** 2), rtol=1e-13)
    f1 = apply_relu(unflatten(theta1, p), x)
    np.testing.assert_allclose(rec.train_loss[1], np.mean((f1 - y) ** 2), rtol=1e-12)


def test_cpu_matches_numpy_reference_over_many_steps():
    x, y = _data(120, 12, seed=5)
    xt, yt = _data(30, 12, seed=6)
    p = init_relu(2, 12, 100)
    steps = [0, 1, 5, 20, 40]
    c = CPUReLUStep(p, x, y, 1.0, xt, yt).run(40, steps, record_predictions=True)
    r = NumpyReLUStep(p, x, y, 1.0, xt, yt).run(40, steps, record_predictions=True)
    np.testing.assert_allclose(c.train_loss, r.train_loss, rtol=1e-11)
    np.testing.assert_allclose(c.test_loss, r.test_loss, rtol=1e-11)
    np.testing.assert_allclose(c.train_pred, r.train_pred, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(c.test_pred, r.test_pred, rtol=1e-10, atol=1e-13)


def test_step_interface_and_predictions():
    x, y = _data(40, 12)
    p = init_relu(4, 12, 24)
    s = make_step(p, x, y, 0.5, backend="cpu")
    assert isinstance(s, GDStep) and isinstance(make_step(p, x, y, 0.5, backend="numpy"), GDStep)
    s.run(7)
    np.testing.assert_allclose(s.predict(x), apply_relu(s.params(), x), rtol=1e-12, atol=1e-14)
    assert s.train_loss() == pytest.approx(np.mean((apply_relu(s.params(), x) - y) ** 2), rel=1e-12)
    assert np.isnan(s.test_loss())


def test_chunking_and_threads_are_bit_identical():
    x, y = _data(256, 12, seed=9)
    xt, yt = _data(64, 12, seed=10)
    p = init_relu(5, 12, 700)  # large enough that the sweeps run in parallel
    steps = np.array([0, 3, 10, 25])
    one = CPUReLUStep(p, x, y, 0.8, xt, yt)
    r1 = one.run(25, steps)
    many = CPUReLUStep(p, x, y, 0.8, xt, yt)
    many.threads = 1
    tr, te = np.full(steps.size, np.nan), np.full(steps.size, np.nan)
    for t0 in range(25):
        sel = (steps >= t0) & (steps <= t0 + 1) & np.isnan(tr)
        rec = many.run(1, steps[sel])
        tr[sel], te[sel] = rec.train_loss, rec.test_loss
    assert np.array_equal(r1.train_loss, tr) and np.array_equal(r1.test_loss, te)
    assert np.array_equal(flatten(one.params()), flatten(many.params()))


def test_loss_decreases_monotonically_below_max_rate():
    x, y = _data(64, 12, seed=2)
    eta = 0.9 * qsntk_eta_max(analytic_ntk(x))
    s = CPUReLUStep(init_relu(8, 12, 1024), x, y, eta)
    rec = s.run(300, np.arange(301))
    assert np.all(np.diff(rec.train_loss) < 0)
    assert rec.train_loss[-1] < 0.05 * rec.train_loss[0]


def test_early_stop_and_divergence_status():
    x, y = _data(64, 12, seed=2)
    eta = qsntk_eta_max(analytic_ntk(x))
    s = CPUReLUStep(init_relu(8, 12, 256), x, y, 0.9 * eta)
    rec = s.run(5000, [0, 10, 5000], early_stop_rtol=1e-3)
    assert rec.status == 1 and 10 < rec.steps_done < 5000
    assert rec.train_loss[2] == pytest.approx(s.train_loss())
    with pytest.warns(PrecisionLossWarning, match="diverged"):  # never silent (issue 11)
        bad = CPUReLUStep(init_relu(8, 12, 256), x, y, 5 * eta).run(2000, [0, 2000])
    assert bad.status == 2 and not np.isfinite(bad.train_loss[1])


def test_analytic_ntk_of_the_learning_rate_matches_the_trained_network():
    x, _ = _data(6, 12, seed=4, spins=False)
    k_inf = analytic_ntk(x)
    errs = []
    for N in (200, 20000):
        errs.append(np.mean([np.abs(empirical_ntk(init_relu(s, 12, N), x) - k_inf).max() for s in range(3)]))
    assert errs[1] < 0.2 * errs[0]
    assert errs[1] < 0.02 * np.abs(k_inf).max()
