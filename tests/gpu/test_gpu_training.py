"""Parity of the fused CUDA gradient-descent step against a NumPy reference step (marked gpu)."""

from __future__ import annotations

import numpy as np
import pytest

from nnqs_fast.networks.relu import init_relu

pytestmark = pytest.mark.gpu


def _setup(rng, M=3, n=37, d=5, N=50, dtype=np.float64):
    params = [init_relu(s, input_dim=d, width=N, dtype=dtype) for s in range(M)]
    x = rng.choice([-1.0, 1.0], size=(n, d)).astype(dtype)
    y = (0.1 * rng.standard_normal((M, n))).astype(dtype)
    return params, x, y


def _reference(params, x, y, lr, steps, gd_step):
    out, losses = [], []
    for m, p in enumerate(params):
        W, b0 = p.weights[0].astype(np.float64), p.biases[0].astype(np.float64)
        v, b1 = p.weights[1][0].astype(np.float64), float(p.biases[1][0])
        ls = []
        for _ in range(steps):
            W, b0, v, b1, loss = gd_step(W, b0, v, b1, x.astype(np.float64), y[m].astype(np.float64), lr,
                                         p.W_std, p.b_std)
            ls.append(loss)
        out.append((W, b0, v, b1))
        losses.append(ls)
    return out, np.array(losses)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@pytest.mark.parametrize("shape", [dict(M=3, n=37, d=5, N=50), dict(M=2, n=300, d=16, N=333),
                                   dict(M=1, n=129, d=32, N=257)])
def test_gd_step_matches_numpy_reference(cp, rng, oracles, dtype, tol, shape):
    from nnqs_fast.gpu.training import GDStepCUDA

    params, x, y = _setup(rng, dtype=dtype, **shape)
    lr, steps = 0.5, 6
    ref, ref_losses = _reference(params, x, y, lr, steps, oracles.gd_step)
    # loss before the first step equals the reference's first recorded loss
    tr = GDStepCUDA(params, cp.asarray(x), y, lr)
    np.testing.assert_allclose(tr.train_loss().get(), ref_losses[:, 0], rtol=tol)
    tr.advance(steps)
    got = tr.params()
    for m, (W, b0, v, b1) in enumerate(ref):
        scale = max(1.0, float(np.abs(W).max()))
        np.testing.assert_allclose(got[m].weights[0], W, rtol=0, atol=tol * scale)
        np.testing.assert_allclose(got[m].biases[0], b0, rtol=0, atol=tol * scale)
        np.testing.assert_allclose(got[m].weights[1][0], v, rtol=0, atol=tol * max(1.0, float(np.abs(v).max())))
        np.testing.assert_allclose(got[m].biases[1][0], b1, rtol=0, atol=tol * max(1.0, abs(b1)))
    f = tr.predict(x).get()
    from nnqs_fast.networks.relu import apply_relu

    for m in range(len(params)):
        np.testing.assert_allclose(f[m], apply_relu(got[m], x.astype(np.float64)), rtol=0,
                                   atol=tol * max(1.0, float(np.abs(f[m]).max())))


def test_gd_loss_decreases_and_is_bit_reproducible(cp, rng):
    from nnqs_fast.gpu.training import GDStepCUDA, train_relu_ensemble

    params, x, y = _setup(rng, M=4, n=200, d=16, N=300)
    r1 = train_relu_ensemble(params, x, y, 0.5, 50, record_steps=[0, 10, 20, 30, 40, 50], x_test=x[:50],
                             y_test=y[:, :50])
    r2 = train_relu_ensemble(params, x, y, 0.5, 50, record_steps=[0, 10, 20, 30, 40, 50], x_test=x[:50],
                             y_test=y[:, :50])
    assert np.array_equal(r1["train_loss"], r2["train_loss"])  # fixed-order reductions
    assert np.all(np.diff(r1["train_loss"], axis=0) < 0)        # below the maximal rate: monotone
    assert r1["test_loss"].shape == (6, 4)
    tr = GDStepCUDA(params, x, y, 0.5)
    tr.advance(50)
    assert tr.step == 50
    np.testing.assert_allclose(tr.train_loss().get(), r1["train_loss"][-1], rtol=1e-13)


def test_gd_step_rejects_unsupported(cp, rng):
    from nnqs_fast.errors import InvalidInputError, ShapeMismatchError
    from nnqs_fast.gpu.training import GDStepCUDA

    params, x, y = _setup(rng)
    with pytest.raises(InvalidInputError):
        GDStepCUDA([init_relu(0, input_dim=40, width=8)], np.zeros((3, 40)), np.zeros(3), 0.1)
    with pytest.raises(InvalidInputError):
        GDStepCUDA([init_relu(0, input_dim=5, width=8, depth=2)], np.zeros((3, 5)), np.zeros(3), 0.1)
    with pytest.raises(ShapeMismatchError):
        GDStepCUDA(params, x, y[:, :5], 0.1)


def _training():
    from nnqs_fast import training

    return training


def _data(rng, n=300, nt=77, d=16):
    x = rng.choice([-1.0, 1.0], size=(n + nt, d))
    psi = rng.standard_normal(n + nt) + 1j * rng.standard_normal(n + nt)
    psi /= np.linalg.norm(psi)
    return x[:n], psi[:n], x[n:], psi[n:]


def test_make_step_cuda_equals_cpu(cp, rng):
    training = _training()
    x, y, xt, yt = _data(rng)
    params = init_relu(7, input_dim=16, width=129)
    lr = 20.0
    rs = np.array([0, 1, 5, 17, 30])
    a = training.make_step(params, x, y.real, lr, xt, yt.real, backend="cpu")
    b = training.make_step(params, x, y.real, lr, xt, yt.real, backend="cuda")
    ra, rb = a.run(30, rs, True), b.run(30, rs, True)
    assert (rb.steps_done, rb.status) == (ra.steps_done, ra.status) and b.step == a.step == 30
    np.testing.assert_allclose(rb.train_loss, ra.train_loss, rtol=1e-10)
    np.testing.assert_allclose(rb.test_loss, ra.test_loss, rtol=1e-10)
    np.testing.assert_allclose(rb.train_pred, ra.train_pred, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rb.test_pred, ra.test_pred, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.train_loss(), a.train_loss(), rtol=1e-10)
    np.testing.assert_allclose(b.test_loss(), a.test_loss(), rtol=1e-10)
    pa, pb = a.params(), b.params()
    for u, v in zip(pa.weights + pa.biases, pb.weights + pb.biases):
        np.testing.assert_allclose(v, u, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("early_stop_rtol", [0.0, 1e-4])
def test_train_ensemble_cuda_equals_cpu(cp, rng, early_stop_rtol):
    training = _training()
    x, y, xt, yt = _data(rng)
    kw = dict(width=96, n_members=3, n_steps=300, seed=5, n_record=12, early_stop_rtol=early_stop_rtol, quiet=True)
    a = training.train_ensemble(x, y, xt, yt, backend="cpu", **kw)
    b = training.train_ensemble(x, y, xt, yt, backend="cuda", **kw)
    assert b.backend == "cuda" and not b.interrupted and b.members_done == a.members_done
    np.testing.assert_array_equal(b.steps, a.steps)
    np.testing.assert_array_equal(b.seeds, a.seeds)
    np.testing.assert_array_equal(b.stopped_at, a.stopped_at)
    np.testing.assert_allclose(b.max_learning_rate, a.max_learning_rate, rtol=1e-10)
    np.testing.assert_allclose(b.learning_rate, a.learning_rate, rtol=1e-10)
    for f in ("train_loss", "test_loss", "part_train_loss", "part_test_loss", "train_loss_ensemble",
              "test_loss_ensemble", "train_loss_of_mean", "test_loss_of_mean"):
        np.testing.assert_allclose(getattr(b, f), getattr(a, f), rtol=1e-8, err_msg=f)


def test_train_ensemble_cuda_float32_follows_the_cpu_float32_step(cp, rng):
    """dtype=float32 reaches the CUDA engine (a float32 batched step) and agrees with the CPU float32 step to
    float32 tolerance; both record config["dtype"]."""
    training = _training()
    x, y, xt, yt = _data(rng)
    kw = dict(width=64, n_members=2, n_steps=50, seed=3, n_record=6, quiet=True, dtype=np.float32)
    a = training.train_ensemble(x, y, xt, yt, backend="cpu", **kw)
    b = training.train_ensemble(x, y, xt, yt, backend="cuda", **kw)
    assert a.config["dtype"] == b.config["dtype"] == "float32" and b.backend == "cuda"
    for f in ("train_loss", "test_loss", "train_loss_of_mean"):
        np.testing.assert_allclose(getattr(b, f), getattr(a, f), rtol=2e-4, err_msg=f)


def test_train_ensemble_divergence_matches_cpu(cp, rng):
    training = _training()
    x, y, xt, yt = _data(rng, n=120, nt=10)
    kw = dict(width=32, n_members=2, n_steps=200, seed=1, n_record=8, quiet=True, force=True)
    with pytest.warns(Warning):
        lr = 50 * training.max_learning_rate_for(x)
        a = training.train_ensemble(x, y, xt, yt, learning_rate=lr, backend="cpu", **kw)
    with pytest.warns(Warning):
        b = training.train_ensemble(x, y, xt, yt, learning_rate=lr, backend="cuda", **kw)
    np.testing.assert_array_equal(b.stopped_at, a.stopped_at)
    np.testing.assert_array_equal(np.isnan(b.test_loss), np.isnan(a.test_loss))
