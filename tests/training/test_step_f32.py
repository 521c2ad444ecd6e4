"""The float32 fused step (``CPUReLUStep(dtype=np.float32)``) against the float64 step, an explicit NumPy
forward/backward with finite differences of the loss, and float64 accumulation of its losses."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast.errors import DTypeError
from nnqs_fast.networks.relu import ReLUParams, apply_relu, init_relu
from nnqs_fast.training import CPUReLUStep, NumpyReLUStep, make_step, train_ensemble, train_loss_ensemble

from ._oracles import analytic_ntk, flatten, unflatten

KERNELS = ["auto", "portable"]


def _data(n, d, seed=0):
    g = np.random.default_rng(seed)
    return g.choice([-1.0, 1.0], size=(n, d)), 0.1 * g.standard_normal(n)


def _step32(p, x, y, lr, kernel="auto", **kw) -> CPUReLUStep:
    s = CPUReLUStep(p, x, y, lr, dtype=np.float32, **kw)
    if kernel == "portable":
        s._impl.set_portable(True)
        assert s.kernel == "portable"
    return s


def _as_f32(p: ReLUParams) -> ReLUParams:
    """The parameters rounded to float32 (what the float32 step starts from), held in float64."""
    r = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731
    return ReLUParams((r(p.weights[0]), r(p.weights[1])), (r(p.biases[0]), p.biases[1].copy()), p.W_std, p.b_std)


def _loss(p: ReLUParams, x, y) -> float:
    """Eq. 13 for one real part, written out in float64 (the finite-difference oracle)."""
    return float(np.mean((apply_relu(p, x) - y) ** 2))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("n,d,N", [(23, 3, 7), (40, 12, 37), (31, 17, 20)])
def test_one_f32_update_is_minus_lr_times_the_finite_difference_gradient(kernel, n, d, N):
    x, y = _data(n, d, seed=n + d)
    p = _as_f32(init_relu(5, d, N))
    lr = 0.3
    s = _step32(p, x, y, lr, kernel)
    th0 = flatten(s.params())
    np.testing.assert_array_equal(th0, flatten(p))          # the float32 copy of the parameters is exact
    s.run(1)
    step = flatten(s.params()) - th0
    eps = 1e-6
    g = np.empty_like(th0)
    for i in range(th0.size):                                # central differences of the float64 loss
        tp, tm = th0.copy(), th0.copy()
        tp[i] += eps
        tm[i] -= eps
        g[i] = (_loss(unflatten(tp, p), x, y) - _loss(unflatten(tm, p), x, y)) / (2 * eps)
    # float32 tolerance: the update is ~1e-2 of the parameters, each stored to ~6e-8 relative
    tol = 1e-4 * np.max(np.abs(lr * g)) + 2e-6 * np.max(np.abs(th0))
    np.testing.assert_allclose(step, -lr * g, rtol=0, atol=tol)


@pytest.mark.parametrize("kernel", KERNELS)
def test_f32_forward_and_update_agree_with_the_f64_step_and_the_numpy_f32_reference(kernel):
    x, y = _data(45, 12, seed=2)
    p = _as_f32(init_relu(3, 12, 50))
    s64 = CPUReLUStep(p, x, y, 0.5)
    s32 = _step32(p, x, y, 0.5, kernel)
    ref = NumpyReLUStep(p, x, y, 0.5, dtype=np.float32)
    f64 = s64.forward()
    scale = np.max(np.abs(f64))
    for f in (s32.forward(), ref.forward()):
        assert f.dtype == np.float64
        np.testing.assert_allclose(f, f64, rtol=0, atol=2e-6 * scale)
    for st in (s64, s32, ref):
        st.run(1)
    t64 = flatten(s64.params())
    for st in (s32, ref):
        np.testing.assert_allclose(flatten(st.params()), t64, rtol=0, atol=2e-6 * np.max(np.abs(t64)))
        assert st.train_loss() == pytest.approx(s64.train_loss(), rel=1e-5)


@pytest.mark.parametrize("kernel", KERNELS)
def test_apply_gradient_equals_the_supervised_step(kernel):
    x, y = _data(33, 6, seed=4)
    p = init_relu(9, 6, 40)
    a, b = _step32(p, x, y, 0.2, kernel), _step32(p, x, y, 0.2, kernel)
    a.run(1)
    f = b.forward()
    b.apply_gradient(2.0 / x.shape[0] * (f - y))
    ta = flatten(a.params())  # the factor 2/n enters E = e x before or after rounding to float32: ~1 ulp apart
    np.testing.assert_allclose(flatten(b.params()), ta, rtol=0, atol=1e-6 * np.max(np.abs(ta)))
    # apply_gradient without a preceding forward() uses the current parameters' activation pattern
    c = _step32(p, x, y, 0.2, kernel)
    c.apply_gradient(2.0 / x.shape[0] * (f - y))
    np.testing.assert_array_equal(flatten(c.params()), flatten(b.params()))


def test_the_avx512_and_portable_kernels_agree():
    x, y = _data(70, 12, seed=6)
    p = init_relu(1, 12, 90)
    a, b = _step32(p, x, y, 0.4), _step32(p, x, y, 0.4, "portable")
    ra, rb = a.run(20, [0, 10, 20]), b.run(20, [0, 10, 20])
    np.testing.assert_allclose(ra.train_loss, rb.train_loss, rtol=1e-5)
    np.testing.assert_allclose(flatten(a.params()), flatten(b.params()), rtol=0, atol=1e-5)


def test_f32_trajectory_stays_within_float32_tolerance_of_f64():
    x, y = _data(60, 8, seed=7)
    x_te, y_te = _data(20, 8, seed=8)
    p = _as_f32(init_relu(2, 8, 64))
    lr = 0.5 * x.shape[0] / np.linalg.eigvalsh(analytic_ntk(x))[-1]
    rec = [0, 1, 10, 50, 200]
    r64 = CPUReLUStep(p, x, y, lr, x_te, y_te).run(200, rec, record_predictions=True)
    r32 = CPUReLUStep(p, x, y, lr, x_te, y_te, dtype=np.float32).run(200, rec, record_predictions=True)
    assert r64.train_loss[-1] < 0.5 * r64.train_loss[0]       # it trains
    np.testing.assert_allclose(r32.train_loss, r64.train_loss, rtol=1e-4)
    np.testing.assert_allclose(r32.test_loss, r64.test_loss, rtol=1e-4)
    np.testing.assert_allclose(r32.train_pred, r64.train_pred, rtol=0, atol=1e-5)


def test_f32_losses_and_outputs_are_accumulated_in_float64():
    # many samples of very different sizes: a float32 running sum would be off by ~1e-5 relative
    g = np.random.default_rng(3)
    n = 6000
    x = g.choice([-1.0, 1.0], size=(n, 4))
    y = np.exp(g.uniform(-6, 6, n)) * g.choice([-1.0, 1.0], n)
    s = CPUReLUStep(init_relu(4, 4, 16), x, y, 1e-9, x, y, dtype=np.float32)
    f = s.forward()
    assert f.dtype == np.float64
    assert np.any(f != f.astype(np.float32).astype(np.float64))  # outputs are not rounded to float32
    expect = float(np.mean((f - y) ** 2))                         # the float64 loss of these outputs
    assert s.train_loss() == pytest.approx(expect, rel=1e-13)
    assert s.test_loss() == pytest.approx(expect, rel=1e-13)
    f32_sum = np.float32(0)
    for r in ((f - y) ** 2).astype(np.float32):                   # what a float32 accumulator gives
        f32_sum += r
    assert abs(float(f32_sum) / n - expect) > 1e-8 * expect       # so the check above can fail


@pytest.mark.parametrize("bad", [np.float16, "int64", "complex128", "banana", np.int32])
def test_bad_dtype_raises_a_named_error(bad):
    x, y = _data(8, 3)
    p = init_relu(0, 3, 4)
    with pytest.raises(DTypeError, match="float32 or float64"):
        CPUReLUStep(p, x, y, 0.1, dtype=bad)
    with pytest.raises(DTypeError):
        NumpyReLUStep(p, x, y, 0.1, dtype=bad)
    with pytest.raises(DTypeError):
        make_step(p, x, y, 0.1, dtype=bad)
    with pytest.raises(DTypeError):
        train_ensemble(x, y, width=4, n_members=1, n_steps=1, dtype=bad, quiet=True)


def test_train_ensemble_f32_records_dtype_and_follows_f64():
    x, _ = _data(30, 6, seed=9)
    psi = np.random.default_rng(1).standard_normal(30) * (1 + 0.5j) / 8
    kw = dict(width=48, n_members=2, n_steps=30, quiet=True, n_workers=1)
    r64 = train_ensemble(x, psi, **kw)
    r32 = train_ensemble(x, psi, dtype="float32", **kw)
    assert r64.config["dtype"] == "float64" and r32.config["dtype"] == "float32"
    np.testing.assert_allclose(r32.train_loss, r64.train_loss, rtol=1e-4)


def test_train_loss_ensemble_f32_records_dtype():
    from nnqs_fast.dynamics.losses import MSELoss

    x, _ = _data(16, 4, seed=10)
    target = np.random.default_rng(2).standard_normal(16) + 0j
    loss = MSELoss(target)
    kw = dict(width=32, n_members=1, n_steps=5, learning_rate=0.05, quiet=True, n_workers=1)
    r64 = train_loss_ensemble(x, loss, **kw)
    r32 = train_loss_ensemble(x, loss, dtype=np.float32, **kw)
    assert r32.config["dtype"] == "float32" and r64.config["dtype"] == "float64"
    np.testing.assert_allclose(r32.loss, r64.loss, rtol=1e-4)
