"""Independent oracles for the training tests: explicit Jacobians of the depth-1 ReLU net (NumPy)."""

from __future__ import annotations

import numpy as np

from nnqs_fast.networks.relu import ReLUParams


def flatten(p: ReLUParams) -> np.ndarray:
    return np.concatenate([p.weights[0].ravel(), p.biases[0], p.weights[1].ravel(), p.biases[1]])


def unflatten(theta: np.ndarray, like: ReLUParams) -> ReLUParams:
    N, d = like.weights[0].shape
    i = 0
    W1 = theta[i:i + N * d].reshape(N, d)
    i += N * d
    b1 = theta[i:i + N]
    i += N
    a = theta[i:i + N].reshape(1, N)
    i += N
    b2 = theta[i:i + 1]
    return ReLUParams((W1.copy(), a.copy()), (b1.copy(), b2.copy()), like.W_std, like.b_std)


def jacobian(p: ReLUParams, x: np.ndarray) -> np.ndarray:
    """df(x_i)/dtheta, shape (n, P), in the order of :func:`flatten` (written out by hand)."""
    W1, a = p.weights[0], p.weights[1][0]
    b1 = p.biases[0]
    N, d = W1.shape
    cw, ca = p.W_std / np.sqrt(d), p.W_std / np.sqrt(N)
    z = cw * x @ W1.T + p.b_std * b1
    h = np.maximum(z, 0)
    on = (z > 0).astype(float)
    n = x.shape[0]
    dW1 = (ca * a * on)[:, :, None] * (cw * x)[:, None, :]          # (n, N, d)
    db1 = ca * a * on * p.b_std
    da = ca * h
    db2 = np.full((n, 1), p.b_std)
    return np.concatenate([dW1.reshape(n, -1), db1, da, db2], axis=1)


def empirical_ntk(p: ReLUParams, x1: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
    j1 = jacobian(p, x1)
    j2 = j1 if x2 is None else jacobian(p, x2)
    return j1 @ j2.T


def analytic_ntk(x1: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
    """The infinite-width NTK of the paper's network (nnqs_fast.kernels), as a NumPy array."""
    from nnqs_fast.kernels import relu_kernel_fn

    return np.asarray(relu_kernel_fn(depth=1, W_std=0.5, b_std=0.1)(x1, x2, get="ntk", backend="cpu"))
