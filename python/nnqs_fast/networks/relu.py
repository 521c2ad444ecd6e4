"""Fully connected ReLU networks in the NTK parameterisation (neural-tangents' ``Dense(N, W_std, b_std)``).

Layer ``l`` (``l = 0 .. depth``) maps activations ``h_l`` of width ``n_l`` to pre-activations

    z_{l+1} = (W_std / sqrt(n_l)) * h_l @ W_l.T + b_std * b_l,      W_l ~ N(0, 1),  b_l ~ N(0, 1),

with ``h_0 = x`` (input dimension ``d``), ``h_l = relu(z_l)`` for hidden layers and a scalar readout
``f(x) = z_{depth+1}``. ``depth`` is the number of hidden layers (the paper's experiments use depth 1, width
``N`` in {300, 1000, 5000}, ``W_std = 0.5``, ``b_std = 0.1``: "W ~ N(0, 0.25), b ~ N(0, 0.01)"), i.e.

    f(x) = (W_std/sqrt(N)) relu((W_std/sqrt(d)) W_0 x + b_std b_0) . w_1 + b_std b_1.

Parameters are stored standard-normal; the scale factors live in the forward pass (NTK parameterisation), so
the NTK is O(1) as the width grows and gradient descent uses one learning rate for every layer.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .._backend import array_namespace
from .._random import rng
from .._validation import (
    as_array,
    check_float_dtype,
    check_nbytes,
    check_network_params,
    check_positive_int,
    check_scale,
)
from ..errors import ShapeMismatchError

__all__ = ["ReLUParams", "init_relu", "apply_relu", "relu_jacobian", "relu_param_vector", "relu_from_vector",
           "relu_forward_pieces"]


@dataclass(frozen=True)
class ReLUParams:
    """Parameters of a ReLU MLP in the NTK parameterisation.

    ``weights[l]`` has shape ``(n_{l+1}, n_l)`` (the readout ``(1, N)``), ``biases[l]`` shape ``(n_{l+1},)``;
    all entries standard normal at initialisation.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    W_std: float
    b_std: float

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.weights) - 1

    @property
    def width(self) -> int:
        """Width of the (first) hidden layer."""
        return int(self.weights[0].shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def n_params(self) -> int:
        return int(sum(w.size for w in self.weights) + sum(b.size for b in self.biases))


def init_relu(seed: int, input_dim: int, width: int, depth: int = 1, *, W_std: float = 0.5, b_std: float = 0.1,
              dtype: np.dtype | type = np.float64) -> ReLUParams:
    """Draw a depth-``depth`` ReLU network of hidden width ``width`` with standard-normal parameters.

    The draw order (layer by layer, weights then bias) is fixed, so a seed reproduces the network exactly.
    """
    d = check_positive_int(input_dim, "input_dim")
    n = check_positive_int(width, "width")
    depth = check_positive_int(depth, "depth")
    W_std = check_scale(W_std, "W_std", nonnegative=True)
    b_std = check_scale(b_std, "b_std", nonnegative=True)
    sizes = [d] + [n] * depth + [1]
    dtype = check_float_dtype(dtype)
    check_nbytes((sum(a * b + b for a, b in itertools.pairwise(sizes)),), dtype.itemsize, "init_relu parameters")
    g = rng(seed)
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(sizes):
        weights.append(g.standard_normal((fan_out, fan_in)).astype(dtype))
        biases.append(g.standard_normal(fan_out).astype(dtype))
    return ReLUParams(tuple(weights), tuple(biases), W_std, b_std)


def apply_relu(params: ReLUParams, x: np.ndarray) -> np.ndarray:
    """Forward pass ``f(x)`` for a batch ``x`` of shape ``(n, d)``; returns shape ``(n,)``."""
    check_network_params(params)
    x = as_array(x, "x", ndim=2, allow_complex=False)
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
    h = x.astype(params.weights[0].dtype, copy=False)
    last = len(params.weights) - 1
    for l, (W, b) in enumerate(zip(params.weights, params.biases)):
        z = (params.W_std / np.sqrt(h.shape[1])) * (h @ W.T) + params.b_std * b
        h = np.maximum(z, 0) if l < last else z
    return h[:, 0]


def relu_param_vector(params: ReLUParams) -> np.ndarray:
    """All parameters as one flat vector, in the order of :func:`relu_jacobian`'s columns (per layer: weights
    row-major, then biases)."""
    parts = []
    for W, b in zip(params.weights, params.biases):
        parts += [W.ravel(), b.ravel()]
    return np.concatenate(parts)


def relu_from_vector(params: ReLUParams, theta: np.ndarray) -> ReLUParams:
    """A network with the architecture of ``params`` and the flat parameters ``theta``."""
    theta = as_array(theta, "theta", ndim=1, allow_complex=False)
    if theta.size != params.n_params:
        raise ShapeMismatchError(f"theta has {theta.size} entries, the network has {params.n_params} parameters")
    weights, biases, k = [], [], 0
    for W, b in zip(params.weights, params.biases):
        weights.append(theta[k:k + W.size].reshape(W.shape).astype(W.dtype))
        k += W.size
        biases.append(theta[k:k + b.size].astype(b.dtype))
        k += b.size
    return ReLUParams(tuple(weights), tuple(biases), params.W_std, params.b_std)


def relu_forward_pieces(params: ReLUParams, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-layer pieces of the NTK: scaled activations and back-propagated derivatives.

    Returns ``(acts, deltas)`` with ``acts[l] = (W_std / sqrt(n_l)) h_l`` (``l = 0 .. depth``, ``h_0 = x``) and
    ``deltas[l] = d f / d z_{l+1}`` (``l = 0 .. depth - 1``, shape ``(n, n_{l+1})``), so that

        d f / d W_l = deltas[l]^T-outer acts[l],   d f / d b_l = b_std * deltas[l]   (deltas[depth] = 1),

    and the NTK is ``sum_l (deltas[l] deltas[l]'^T) * (acts[l] acts[l]'^T + b_std^2)`` (readout: delta = 1).
    """
    xp = array_namespace(x, params.weights[0])  # NumPy, or CuPy for device weights and inputs (the CUDA path)
    if xp is np:
        x = as_array(x, "x", ndim=2, allow_complex=False)
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
    check_network_params(params)
    dt = params.weights[0].dtype
    h = xp.ascontiguousarray(x, dtype=dt)
    acts, masks = [], []
    for l in range(params.depth):
        a = (params.W_std / np.sqrt(h.shape[1])) * h
        acts.append(a)
        z = a @ params.weights[l].T + params.b_std * params.biases[l]
        masks.append(z > 0)
        h = xp.maximum(z, 0)
    acts.append((params.W_std / np.sqrt(h.shape[1])) * h)
    deltas: list[np.ndarray] = [None] * params.depth  # type: ignore[list-item]
    g = xp.broadcast_to(params.weights[-1][0] * (params.W_std / np.sqrt(params.weights[-1].shape[1])),
                        (x.shape[0], params.weights[-1].shape[1]))
    for l in range(params.depth - 1, -1, -1):
        dl = masks[l] * g
        deltas[l] = xp.ascontiguousarray(dl, dtype=dt)
        if l > 0:
            g = (dl @ params.weights[l]) * (params.W_std / np.sqrt(params.weights[l].shape[1]))
    return acts, deltas


def relu_jacobian(params: ReLUParams, x: np.ndarray) -> np.ndarray:
    """Explicit Jacobian ``d f(x) / d theta`` (``n x P``) in the order of :func:`relu_param_vector`.

    For tests and small problems only: the kernels never form it for built-in networks.
    """
    acts, deltas = relu_forward_pieces(params, x)
    n = acts[0].shape[0]
    cols = []
    for l in range(params.depth + 1):
        d = deltas[l] if l < params.depth else np.ones((n, 1), acts[0].dtype)
        cols.append((d[:, :, None] * acts[l][:, None, :]).reshape(n, -1))
        cols.append(params.b_std * d)
    return np.concatenate(cols, axis=1)
