"""Gauss-net (S21, S26-S27): ``f(x) = (sigma_a / sqrt(N)) sum_j a_j g_j(x)``,
``g_j(x) = exp(W0_j . x) / sqrt(exp(2 sigma^2 x.x / d))``, ``W0_jk ~ N(0, sigma^2 / d)``, ``a_j ~ N(0, 1)``.

Its NNGP kernel is ``sigma_a^2 exp(-sigma^2 |x - x'|^2 / (2 d))`` (S27). Stored in the NTK parameterisation
``W0 = (sigma / sqrt(d)) w_hat``; trainable parameters ``a`` (``trainable="last"``, S23-S25: the NTK equals the
NNGP exactly, because ``sigma_a`` sits in the forward pass) or ``(a, w_hat)`` (``"all"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import (
    as_array,
    check_choice,
    check_network_params,
    check_positive_int,
    check_scale,
)
from ..errors import ShapeMismatchError
from ._init import seeded_draws

__all__ = ["GaussNet", "GaussNetParams", "init_gaussnet", "apply_gaussnet", "gaussnet_features", "gaussnet_jacobian"]

TRAINABLE = ("last", "all")


@dataclass(frozen=True)
class GaussNetParams:
    """``a`` (N,), ``w`` (N, d), both standard normal."""

    a: np.ndarray
    w: np.ndarray
    sigma: float
    sigma_a: float

    @property
    def width(self) -> int:
        return int(self.a.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.w.shape[1])


@dataclass(frozen=True)
class GaussNet:
    """The Gauss-net's architecture object: ``GaussNet(sigma=1, sigma_a=1, trainable="last")``.

    ``init`` → :class:`GaussNetParams`, ``apply``, ``features``/``jacobian``, ``kernel_fn()`` (analytic NNGP/NTK,
    S27), ``gp_kernel(d)`` (the NNGP for Wick). ``trainable``: ``"last"`` (``a`` only, S23-S25) or ``"all"``.
    """

    sigma: float = 1.0
    sigma_a: float = 1.0
    trainable: str = "last"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", check_scale(self.sigma, "sigma", nonnegative=True))
        object.__setattr__(self, "sigma_a", check_scale(self.sigma_a, "sigma_a", nonnegative=True))
        object.__setattr__(self, "trainable", check_choice(self.trainable, "trainable", TRAINABLE))

    def init(self, seed: int, input_dim: int, width: int, *, dtype: Any = np.float64) -> GaussNetParams:
        """Seeded Gauss-net (draw order: a, w)."""
        a, w = seeded_draws(seed, input_dim, width, dtype, "nW")
        return GaussNetParams(a, w, self.sigma, self.sigma_a)

    @staticmethod
    def apply(params: GaussNetParams, x: Any) -> np.ndarray:
        """``f(x)`` for a batch ``x`` (n, d) -> (n,)."""
        _, g = _g(params, x)
        return (params.sigma_a / np.sqrt(params.width)) * (g @ params.a)

    @staticmethod
    def features(params: GaussNetParams, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(G, A, xs)``: ``G = (sigma_a/sqrt N) g`` (d f / d a), ``A = a G``, ``xs = (sigma/sqrt d) x`` so that
        ``d f / d w_hat_jk = A_j xs_k``."""
        x, g = _g(params, x)
        G = (params.sigma_a / np.sqrt(params.width)) * g
        return G, params.a * G, (params.sigma / np.sqrt(params.input_dim)) * x

    def jacobian(self, params: GaussNetParams, x: Any) -> np.ndarray:
        """Explicit Jacobian w.r.t. ``a`` (``"last"``) or ``(a, w_hat row-major)`` (``"all"``)."""
        G, A, xs = self.features(params, x)
        if self.trainable == "last":
            return G
        n = G.shape[0]
        return np.concatenate([G, (A[:, :, None] * xs[:, None, :]).reshape(n, -1)], axis=1)

    def stationary_params(self, input_dim: int) -> tuple[float, float, float, float]:
        """``(amp, scale, c0, c1)``: ``nngp = sigma_a^2 exp(-sigma^2 |x - x'|^2 / (2 d))`` (S27) and
        ``ntk = nngp (c0 + c1 x.x')``: ``"last"`` ``ntk = nngp``; ``"all"`` ``ntk = nngp (1 + sigma^2 x.x' / d)``."""
        d = check_positive_int(input_dim, "input_dim")
        return (self.sigma_a ** 2, self.sigma ** 2 / (2 * d), 1.0,
                0.0 if self.trainable == "last" else self.sigma ** 2 / d)

    def kernel_fn(self) -> Any:
        """Analytic NNGP/NTK ``kernel_fn`` (same signature as :func:`nnqs_fast.kernels.relu_kernel_fn`)."""
        from ..kernels.analytic import stationary_kernel_fn

        return stationary_kernel_fn(self.stationary_params, "gaussnet_kernel_fn")

    def gp_kernel(self, input_dim: int) -> Any:
        """The NNGP (S27) as a Wick :class:`~nnqs_fast.networks.gp.GPKernel` (an RBF kernel)."""
        from .gp import rbf_gp_kernel

        amp, scale, _, _ = self.stationary_params(input_dim)
        return rbf_gp_kernel(amp, scale)


def init_gaussnet(seed: int, input_dim: int, width: int, *, sigma: float = 1.0, sigma_a: float = 1.0,
                  dtype: Any = np.float64) -> GaussNetParams:
    """Seeded Gauss-net (draw order: a, w); :meth:`GaussNet.init`."""
    return GaussNet(sigma, sigma_a).init(seed, input_dim, width, dtype=dtype)


def _g(params: GaussNetParams, x: Any) -> tuple[np.ndarray, np.ndarray]:
    check_network_params(params)
    x = as_array(x, "x", ndim=2, allow_complex=False)
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
    x = np.ascontiguousarray(x, dtype=params.w.dtype)
    d = params.input_dim
    # exp(W0 x - sigma^2 |x|^2 / d), in log space (no overflow of the two factors separately)
    u = (params.sigma / np.sqrt(d)) * (x @ params.w.T) - (params.sigma ** 2 / d) * np.einsum("ij,ij->i", x, x)[:, None]
    return x, np.exp(u)


def apply_gaussnet(params: GaussNetParams, x: Any) -> np.ndarray:
    """:meth:`GaussNet.apply`."""
    return GaussNet.apply(params, x)


def gaussnet_features(params: GaussNetParams, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`GaussNet.features`."""
    return GaussNet.features(params, x)


def gaussnet_jacobian(params: GaussNetParams, x: Any, trainable: str = "last") -> np.ndarray:
    """Explicit Jacobian w.r.t. ``a`` (``"last"``) or ``(a, w_hat row-major)`` (``"all"``)."""
    return GaussNet(params.sigma, params.sigma_a, trainable).jacobian(params, x)
