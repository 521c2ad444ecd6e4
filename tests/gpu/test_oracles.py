"""CPU-runnable checks of the NumPy oracles the GPU parity tests rely on."""

from __future__ import annotations

import numpy as np

from nnqs_fast.networks.relu import apply_relu, init_relu


def test_jacobian_oracle_matches_finite_differences(oracles, rng):
    params = init_relu(5, input_dim=3, width=8, depth=2)
    x = rng.standard_normal((4, 3))
    J = oracles.relu_jacobian(params, x)
    flat = [a.copy() for pair in zip(params.weights, params.biases) for a in pair]
    eps = 1e-6
    col = 0
    for arr in flat:
        for idx in np.ndindex(arr.shape):
            saved = arr[idx]
            vals = []
            for s in (+1, -1):
                arr[idx] = saved + s * eps
                ws = tuple(flat[0::2])
                bs = tuple(flat[1::2])
                p = type(params)(ws, bs, params.W_std, params.b_std)
                vals.append(oracles.relu_apply(p, x))
            arr[idx] = saved
            np.testing.assert_allclose((vals[0] - vals[1]) / (2 * eps), J[:, col], atol=1e-6)
            col += 1
    assert col == J.shape[1]


def test_relu_apply_oracle_matches_package_forward(oracles, rng):
    params = init_relu(2, input_dim=4, width=9, depth=3)
    x = rng.standard_normal((6, 4))
    np.testing.assert_allclose(oracles.relu_apply(params, x), apply_relu(params, x), rtol=1e-12)


def test_gd_step_oracle_is_a_gradient_step(oracles, rng):
    """The reference step's gradient equals central finite differences of the loss."""
    n, d, N = 7, 3, 5
    W, b0, v, b1 = rng.standard_normal((N, d)), rng.standard_normal(N), rng.standard_normal(N), 0.3
    x, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    lr = 1.0
    W2, _b02, v2, b12, _loss = oracles.gd_step(W, b0, v, b1, x, y, lr, 0.5, 0.1)

    def L(W_, b0_, v_, b1_):
        return oracles.gd_step(W_, b0_, v_, b1_, x, y, 0.0, 0.5, 0.1)[4]

    eps = 1e-6
    gW = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += eps
        Wm[idx] -= eps
        gW[idx] = (L(Wp, b0, v, b1) - L(Wm, b0, v, b1)) / (2 * eps)
    np.testing.assert_allclose(W - W2, lr * gW, atol=1e-7)
    gb1 = (L(W, b0, v, b1 + eps) - L(W, b0, v, b1 - eps)) / (2 * eps)
    np.testing.assert_allclose(b1 - b12, lr * gb1, atol=1e-7)
    gv = np.array([(L(W, b0, v + eps * e, b1) - L(W, b0, v - eps * e, b1)) / (2 * eps) for e in np.eye(N)])
    np.testing.assert_allclose(v - v2, lr * gv, atol=1e-7)
