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


def analytic_ntk(x1: np.ndarray, x2: np.ndarray | None = None, W_std: float = 0.5, b_std: float = 0.1) -> np.ndarray:
    """The infinite-width NTK of the depth-1 ReLU net, written out from the arc-cosine formulas (independent of
    nnqs_fast.kernels): with ``K0 = W² x·x'/d + b²``, ``θ = arccos(K0(x,x')/√(K0(x,x) K0(x',x')))``,
    ``K1 = W² √(K0 K0') (sin θ + (π − θ) cos θ)/(2π) + b²`` and ``K̇ = W² (π − θ)/(2π)``: ``Θ = K1 + K0 K̇``."""
    x2 = x1 if x2 is None else x2
    d = x1.shape[1]
    k12 = W_std ** 2 * (x1 @ x2.T) / d + b_std ** 2
    k11 = W_std ** 2 * np.sum(x1 * x1, axis=1) / d + b_std ** 2
    k22 = W_std ** 2 * np.sum(x2 * x2, axis=1) / d + b_std ** 2
    norm = np.sqrt(np.outer(k11, k22))
    theta = np.arccos(np.clip(k12 / norm, -1.0, 1.0))
    k1 = W_std ** 2 * norm * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi) + b_std ** 2
    kdot = W_std ** 2 * (np.pi - theta) / (2 * np.pi)
    return k1 + k12 * kdot


def analytic_nngp(x1: np.ndarray, x2: np.ndarray | None = None, W_std: float = 0.5, b_std: float = 0.1) -> np.ndarray:
    """The NNGP ``K1`` of :func:`analytic_ntk` (written out)."""
    x2 = x1 if x2 is None else x2
    d = x1.shape[1]
    k12 = W_std ** 2 * (x1 @ x2.T) / d + b_std ** 2
    k11 = W_std ** 2 * np.sum(x1 * x1, axis=1) / d + b_std ** 2
    k22 = W_std ** 2 * np.sum(x2 * x2, axis=1) / d + b_std ** 2
    norm = np.sqrt(np.outer(k11, k22))
    theta = np.arccos(np.clip(k12 / norm, -1.0, 1.0))
    return W_std ** 2 * norm * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi) + b_std ** 2
