"""Fully connected networks in the NTK parameterisation, for any registered activation (neural-tangents' ``stax``).

Layer ``l`` (``l = 0 .. depth``) maps activations ``h_l`` of width ``n_l`` to pre-activations

    z_{l+1} = (W_std / sqrt(n_l)) * h_l @ W_l.T + b_std * b_l,      W_l ~ N(0, 1),  b_l ~ N(0, 1),

with ``h_0 = x`` (input dimension ``d``), ``h_l = σ(z_l)`` for hidden layers and a scalar readout
``f(x) = z_{depth+1}``. Parameters are stored standard-normal; the scale factors live in the forward pass, so the
NTK is O(1) as the width grows and gradient descent uses one learning rate for every layer.

:class:`DenseNet` is the architecture object: one spec (activation, depth, ``W_std``, ``b_std``) gives ``init``,
``apply``, the analytic ``kernel_fn`` (Eq. 5-12), the NNGP as a Wick :class:`~nnqs_fast.networks.gp.GPKernel`,
the per-layer pieces of the structured empirical NTK and the explicit Jacobian. :func:`dense_kernels` is the one
home of the infinite-width layer recursion (Eq. 5-7)::

    K_0 = W_std² x.x'/d + b_std²,   Θ_0 = K_0
    K_{l+1} = W_std² E[σ σ](K_l) + b_std²,   Θ_{l+1} = W_std² E[σ' σ'](K_l) Θ_l + K_{l+1}

with the activation's Gaussian dual ``E[σ σ], E[σ' σ']`` (:mod:`nnqs_fast.networks.activations`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backend import array_namespace
from .._random import rng
from .._validation import (
    MAX_INT32,
    as_array,
    check_cost,
    check_float_dtype,
    check_nbytes,
    check_network_params,
    check_positive_int,
    check_scale,
)
from ..errors import ShapeMismatchError
from .activations import Activation, get_activation

__all__ = ["W_STD", "B_STD", "DenseParams", "DenseNet", "dense_kernels"]

#: The paper's network (Numerical Experiments: "W ~ N(0, 0.25), b ~ N(0, 0.01)"): the package-wide defaults.
W_STD = 0.5
B_STD = 0.1


@dataclass(frozen=True)
class DenseParams:
    """Parameters of a dense network in the NTK parameterisation.

    ``weights[l]`` has shape ``(n_{l+1}, n_l)`` (the readout ``(1, N)``), ``biases[l]`` shape ``(n_{l+1},)``;
    all entries standard normal at initialisation. ``activation`` names a registered activation.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    W_std: float
    b_std: float
    activation: str = "relu"

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


def dense_kernels(dot: Any, sq1: Any, sq2: Any, *, input_dim: int, depth: int, W_std: float, b_std: float,
                  activation: str | Activation = "relu", symmetric: bool = False,
                  want_ntk: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """NNGP ``K_depth`` and NTK ``Θ_depth`` (Eq. 5-7, NTK parameterisation) from the products of the inputs.

    ``dot = x1 . x2`` (any broadcastable shape), ``sq1 = |x1|²``, ``sq2 = |x2|²`` (broadcast against ``dot``),
    ``input_dim = d``. ``symmetric=True`` means ``dot`` is the square Gram matrix of one input set: its diagonal
    is then evaluated at exactly equal arguments (``cos t = 1``, no ``acos`` ill-conditioning). NumPy, float64;
    the C++ core evaluates the same recursion element-wise for the built-in ReLU (``kernel_math.hpp``).
    """
    act = get_activation(activation)
    d = float(check_positive_int(input_dim, "input_dim"))
    depth = check_positive_int(depth, "depth", maximum=MAX_INT32)
    W_std, b_std = check_scale(W_std, "W_std"), check_scale(b_std, "b_std")
    w2, b2 = W_std * W_std, b_std * b_std
    dot = as_array(dot, "dot", ndim=None, dtype=np.float64, allow_complex=False)
    sq1 = as_array(sq1, "sq1", ndim=None, dtype=np.float64, allow_complex=False)
    sq2 = as_array(sq2, "sq2", ndim=None, dtype=np.float64, allow_complex=False)
    try:
        np.broadcast_shapes(dot.shape, sq1.shape, sq2.shape)
    except ValueError:
        raise ShapeMismatchError(f"dot {dot.shape}, sq1 {sq1.shape} and sq2 {sq2.shape} do not broadcast together; "
                                 "give dot = x1 @ x2.T, sq1 = |x1|^2[:, None], sq2 = |x2|^2[None, :]") from None
    # the layer loop runs in Python over whole arrays (~2e4 flop-equivalents of overhead per layer)
    check_cost(float(depth) * (100.0 * max(dot.size, 1) + 2e4), f"the depth-{depth} {act.name} kernel recursion")
    k = w2 * dot / d + b2
    k1 = w2 * np.asarray(sq1, np.float64) / d + b2
    k2 = w2 * np.asarray(sq2, np.float64) / d + b2
    th = k.copy() if want_ntk else None
    for _ in range(int(depth)):
        ess, edd = act.dual(k, k1, k2)
        if symmetric:
            kd = np.broadcast_to(k1, k.shape).diagonal().copy()
            ess_d, edd_d = act.dual(kd, kd, kd)
            np.fill_diagonal(ess, ess_d)
            np.fill_diagonal(edd, edd_d)
        k_next = w2 * ess + b2
        if th is not None:
            th = w2 * edd * th + k_next
        k = k_next
        k1 = w2 * act.dual(k1, k1, k1)[0] + b2
        k2 = w2 * act.dual(k2, k2, k2)[0] + b2
    return k, th


@dataclass(frozen=True)
class DenseNet:
    """Architecture object of a dense network (neural-tangents ``stax.serial(Dense, σ, ..., Dense)``).

    ``activation``: a registered activation name (``"relu"``, ``"erf"``, ...); ``depth`` hidden layers;
    ``W_std``, ``b_std``: the NTK-parameterisation scales (defaults :data:`W_STD`, :data:`B_STD`, the paper's).
    """

    activation: str = "relu"
    depth: int = 1
    W_std: float = W_STD
    b_std: float = B_STD

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", get_activation(self.activation).name)
        object.__setattr__(self, "depth", check_positive_int(self.depth, "depth", maximum=MAX_INT32))
        object.__setattr__(self, "W_std", check_scale(self.W_std, "W_std", nonnegative=True))
        object.__setattr__(self, "b_std", check_scale(self.b_std, "b_std", nonnegative=True))

    @property
    def act(self) -> Activation:
        return get_activation(self.activation)

    # ---- finite network -------------------------------------------------------------------------------------
    def init(self, seed: int, input_dim: int, width: int, *, dtype: Any = np.float64) -> DenseParams:
        """Draw standard-normal parameters; the draw order (layer by layer, weights then bias) is fixed, so a
        seed reproduces the network exactly."""
        d = check_positive_int(input_dim, "input_dim")
        n = check_positive_int(width, "width")
        dtype = check_float_dtype(dtype)
        # counted before the layer list exists (depth = 2**31 would build a 16 GiB list first)
        n_params = d * n + n + (self.depth - 1) * (n * n + n) + n + 1
        check_nbytes((n_params,), dtype.itemsize, f"the parameters of a width-{n} depth-{self.depth} network")
        sizes = [d] + [n] * self.depth + [1]
        g = rng(seed)
        weights, biases = [], []
        for fan_in, fan_out in itertools.pairwise(sizes):
            weights.append(g.standard_normal((fan_out, fan_in)).astype(dtype))
            biases.append(g.standard_normal(fan_out).astype(dtype))
        cls = self.act.params_type or DenseParams
        return cls(tuple(weights), tuple(biases), self.W_std, self.b_std, self.activation)

    def apply(self, params: DenseParams, x: Any) -> np.ndarray:
        """Forward pass ``f(x)`` for a batch ``x`` of shape ``(n, d)``; returns shape ``(n,)``."""
        check_network_params(params)
        x = as_array(x, "x", ndim=2, allow_complex=False)
        _check_dim(params, x)
        fn = get_activation(params.activation).fn
        h = x.astype(params.weights[0].dtype, copy=False)
        last = len(params.weights) - 1
        for l, (W, b) in enumerate(zip(params.weights, params.biases)):
            z = (params.W_std / np.sqrt(h.shape[1])) * (h @ W.T) + params.b_std * b
            h = fn(z) if l < last else z
        return h[:, 0]

    def pieces(self, params: DenseParams, x: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per-layer pieces of the NTK (scaled activations, back-propagated derivatives); see
        :func:`nnqs_fast.networks.relu.relu_forward_pieces`."""
        xp = array_namespace(x, params.weights[0])  # NumPy, or CuPy for device weights and inputs (the CUDA path)
        if xp is np:
            x = as_array(x, "x", ndim=2, allow_complex=False)
            check_network_params(params)
        _check_dim(params, x)
        act = get_activation(params.activation)  # fn/deriv are NumPy ufuncs: CuPy arrays dispatch to CuPy
        dt = params.weights[0].dtype
        h = xp.ascontiguousarray(x, dtype=dt)
        acts, masks = [], []
        for l in range(params.depth):
            a = (params.W_std / np.sqrt(h.shape[1])) * h
            acts.append(a)
            z = a @ params.weights[l].T + params.b_std * params.biases[l]
            masks.append(act.deriv(z))
            h = act.fn(z)
        acts.append((params.W_std / np.sqrt(h.shape[1])) * h)
        deltas: list[np.ndarray] = []
        g = xp.broadcast_to(params.weights[-1][0] * (params.W_std / np.sqrt(params.weights[-1].shape[1])),
                            (x.shape[0], params.weights[-1].shape[1]))
        for l in range(params.depth - 1, -1, -1):
            dl = masks[l] * g
            deltas.insert(0, xp.ascontiguousarray(dl, dtype=dt))
            if l > 0:
                g = (dl @ params.weights[l]) * (params.W_std / np.sqrt(params.weights[l].shape[1]))
        return acts, deltas

    def jacobian(self, params: DenseParams, x: Any) -> np.ndarray:
        """Explicit Jacobian ``d f(x) / d theta`` (``n x P``; per layer: weights row-major, then biases).
        For tests and small problems only: the kernels never form it for built-in networks."""
        acts, deltas = self.pieces(params, x)
        n = acts[0].shape[0]
        cols = []
        for l in range(params.depth + 1):
            dl = deltas[l] if l < params.depth else np.ones((n, 1), acts[0].dtype)
            cols.append((dl[:, :, None] * acts[l][:, None, :]).reshape(n, -1))
            cols.append(params.b_std * dl)
        return np.concatenate(cols, axis=1)

    # ---- infinite width -------------------------------------------------------------------------------------
    def kernel_fn(self) -> Any:
        """The analytic NNGP/NTK ``kernel_fn(x1, x2=None, get=("nngp", "ntk"), chunk_size=None, backend="auto",
        dtype=None)`` (:func:`nnqs_fast.kernels.relu_kernel_fn` for ReLU; the C++ core evaluates it)."""
        from ..kernels.analytic import dense_kernel_fn

        return dense_kernel_fn(self)

    def gp_kernel(self, input_dim: int) -> Any:
        """The NNGP as a Wick :class:`~nnqs_fast.networks.gp.GPKernel` on inputs of dimension ``input_dim``."""
        from .gp import dense_gp_kernel

        return dense_gp_kernel(self, input_dim)


def _check_dim(params: DenseParams, x: np.ndarray) -> None:
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
