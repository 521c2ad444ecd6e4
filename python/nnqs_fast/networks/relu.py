"""Fully connected ReLU networks in the NTK parameterisation (neural-tangents' ``Dense(N, W_std, b_std)``, ``Relu``).

The ReLU activation (registered here: function, derivative, Gaussian dual) and :class:`ReLUNet`, the architecture
object of the paper's network: ``depth`` hidden layers (the experiments use depth 1, width ``N`` in
{300, 1000, 5000}, ``W_std = 0.5``, ``b_std = 0.1``: "W ~ N(0, 0.25), b ~ N(0, 0.01)"), i.e.

    f(x) = (W_std/sqrt(N)) relu((W_std/sqrt(d)) W_0 x + b_std b_0) . w_1 + b_std b_1.

The layer algebra is :mod:`nnqs_fast.networks.dense`; the functions below (``init_relu``, ``apply_relu``, ...)
are the historical entry points, thin wrappers of :class:`ReLUNet`.

ReLU dual (Cho & Saul arc-cosine kernels, ``cos t = k12 / sqrt(k11 k22)``)::

    E[relu(u) relu(v)] = sqrt(k11 k22) (sin t + (pi - t) cos t) / (2 pi)
    E[step(u) step(v)] = (pi - t) / (2 pi)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .._validation import as_array
from ..errors import InvalidInputError, ShapeMismatchError
from .activations import Activation, register_activation
from .dense import B_STD, W_STD, DenseNet, DenseParams

__all__ = ["ReLUParams", "ReLUNet", "init_relu", "apply_relu", "relu_jacobian", "relu_param_vector",
           "relu_from_vector", "relu_forward_pieces", "relu_dual", "W_STD", "B_STD"]


def relu_dual(k12: Any, k11: Any, k22: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(E[relu(u) relu(v)], E[step(u) step(v)])`` for centred Gaussians with variances ``k11``, ``k22`` and
    covariance ``k12`` (the arc-cosine kernels of degree 1 and 0; paper Eq. S18 with ``σ = relu``).

    The one home of the ReLU arc-cosine formula in Python (the C++/CUDA one is ``kernel_math.hpp``). Zero variance
    gives 0 for both (``relu(0) = step(0) = 0``).
    """
    k12, k11, k22 = (np.asarray(a, np.float64) for a in (k12, k11, k22))
    nrm = np.sqrt(k11 * k22)
    pos = nrm > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(pos, k12 / np.where(pos, nrm, 1.0), 1.0)
    c = np.clip(c, -1.0, 1.0)
    t = np.arccos(c)
    ess = nrm * (np.sqrt((1.0 - c) * (1.0 + c)) + (np.pi - t) * c) / (2.0 * np.pi)
    edd = np.where(pos, (np.pi - t) / (2.0 * np.pi), 0.0)
    return ess, edd


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def _step(z: np.ndarray) -> np.ndarray:
    return z > 0


@dataclass(frozen=True)
class ReLUParams(DenseParams):
    """Parameters of a ReLU MLP in the NTK parameterisation (a :class:`DenseParams` with ``activation="relu"``).

    ``weights[l]`` has shape ``(n_{l+1}, n_l)`` (the readout ``(1, N)``), ``biases[l]`` shape ``(n_{l+1},)``;
    all entries standard normal at initialisation.
    """

    def __post_init__(self) -> None:
        if self.activation != "relu":
            raise InvalidInputError(f"ReLUParams is for ReLU networks, got activation {self.activation!r}")


RELU = register_activation(Activation("relu", _relu, _step, relu_dual, params_type=ReLUParams))


@dataclass(frozen=True)
class ReLUNet(DenseNet):
    """The ReLU network's architecture object: ``ReLUNet(depth=1, W_std=W_STD, b_std=B_STD)``.

    ``init(seed, input_dim, width)`` → :class:`ReLUParams`; ``apply(params, x)``; ``kernel_fn()`` (analytic
    NNGP/NTK, C++ core); ``gp_kernel(input_dim)`` (the NNGP for Wick); ``pieces``/``jacobian`` (per-layer pieces
    of the structured empirical NTK and the trainer).
    """

    activation: str = field(default="relu", kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.activation != "relu":
            raise InvalidInputError(f"ReLUNet is the ReLU network, got activation {self.activation!r}")

    def init(self, seed: int, input_dim: int, width: int, *, dtype: Any = np.float64) -> ReLUParams:
        # the registered parameter type of "relu" is ReLUParams
        return cast(ReLUParams, super().init(seed, input_dim, width, dtype=dtype))


def init_relu(seed: int, input_dim: int, width: int, depth: int = 1, *, W_std: float = W_STD, b_std: float = B_STD,
              dtype: np.dtype | type = np.float64) -> ReLUParams:
    """Draw a depth-``depth`` ReLU network of hidden width ``width`` with standard-normal parameters
    (:meth:`ReLUNet.init`; the draw order is fixed, so a seed reproduces the network exactly)."""
    return ReLUNet(depth=depth, W_std=W_std, b_std=b_std).init(seed, input_dim, width, dtype=dtype)


def _net(params: DenseParams) -> DenseNet:
    if not isinstance(params, DenseParams):
        raise InvalidInputError(f"params must be network parameters from init_relu (ReLUParams), got "
                                f"{type(params).__name__}")
    return DenseNet(params.activation, max(params.depth, 1), params.W_std, params.b_std)


def apply_relu(params: ReLUParams, x: np.ndarray) -> np.ndarray:
    """Forward pass ``f(x)`` for a batch ``x`` of shape ``(n, d)``; returns shape ``(n,)`` (:meth:`ReLUNet.apply`)."""
    return _net(params).apply(params, x)


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
    return type(params)(tuple(weights), tuple(biases), params.W_std, params.b_std, params.activation)


def relu_forward_pieces(params: ReLUParams, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-layer pieces of the NTK: scaled activations and back-propagated derivatives (:meth:`DenseNet.pieces`).

    Returns ``(acts, deltas)`` with ``acts[l] = (W_std / sqrt(n_l)) h_l`` (``l = 0 .. depth``, ``h_0 = x``) and
    ``deltas[l] = d f / d z_{l+1}`` (``l = 0 .. depth - 1``, shape ``(n, n_{l+1})``), so that

        d f / d W_l = deltas[l]^T-outer acts[l],   d f / d b_l = b_std * deltas[l]   (deltas[depth] = 1),

    and the NTK is ``sum_l (deltas[l] deltas[l]'^T) * (acts[l] acts[l]'^T + b_std^2)`` (readout: delta = 1).
    """
    return _net(params).pieces(params, x)


def relu_jacobian(params: ReLUParams, x: np.ndarray) -> np.ndarray:
    """Explicit Jacobian ``d f(x) / d theta`` (``n x P``) in the order of :func:`relu_param_vector`.

    For tests and small problems only: the kernels never form it for built-in networks.
    """
    return _net(params).jacobian(params, x)
