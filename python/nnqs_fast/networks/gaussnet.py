"""Gauss-net (S21, S26-S27): ``f(x) = (sigma_a / sqrt(N)) sum_j a_j g_j(x)``,
``g_j(x) = exp(W0_j . x) / sqrt(exp(2 sigma^2 x.x / d))``, ``W0_jk ~ N(0, sigma^2 / d)``, ``a_j ~ N(0, 1)``.

Its NNGP kernel is ``sigma_a^2 exp(-sigma^2 |x - x'|^2 / (2 d))`` (S27). Stored in the NTK parameterisation
``W0 = (sigma / sqrt(d)) w_hat``; trainable parameters ``a`` (``trainable="last"``, S23-S25: the NTK equals the
NNGP exactly, because ``sigma_a`` sits in the forward pass) or ``(a, w_hat)`` (``"all"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._random import rng
from .._validation import (
    as_array,
    check_choice,
    check_float_dtype,
    check_nbytes,
    check_network_params,
    check_positive_int,
    check_scale,
)
from ..errors import ShapeMismatchError

__all__ = ["GaussNetParams", "init_gaussnet", "apply_gaussnet", "gaussnet_features", "gaussnet_jacobian"]

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


def init_gaussnet(seed: int, input_dim: int, width: int, *, sigma: float = 1.0, sigma_a: float = 1.0,
                  dtype=np.float64) -> GaussNetParams:
    """Seeded Gauss-net (draw order: a, w)."""
    d = check_positive_int(input_dim, "input_dim")
    n = check_positive_int(width, "width")
    sigma = check_scale(sigma, "sigma", nonnegative=True)
    sigma_a = check_scale(sigma_a, "sigma_a", nonnegative=True)
    dtype = check_float_dtype(dtype)
    check_nbytes((n, d + 2), dtype.itemsize, "the network parameters")
    g = rng(seed)
    a = g.standard_normal(n).astype(dtype)
    w = g.standard_normal((n, d)).astype(dtype)
    return GaussNetParams(a, w, sigma, sigma_a)


def _g(params: GaussNetParams, x) -> tuple[np.ndarray, np.ndarray]:
    check_network_params(params)
    x = as_array(x, "x", ndim=2, allow_complex=False)
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
    x = np.ascontiguousarray(x, dtype=params.w.dtype)
    d = params.input_dim
    # exp(W0 x - sigma^2 |x|^2 / d), in log space (no overflow of the two factors separately)
    u = (params.sigma / np.sqrt(d)) * (x @ params.w.T) - (params.sigma ** 2 / d) * np.einsum("ij,ij->i", x, x)[:, None]
    return x, np.exp(u)


def apply_gaussnet(params: GaussNetParams, x) -> np.ndarray:
    _, g = _g(params, x)
    return (params.sigma_a / np.sqrt(params.width)) * (g @ params.a)


def gaussnet_features(params: GaussNetParams, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(G, A, xs)``: ``G = (sigma_a/sqrt N) g`` (d f / d a), ``A = a G``, ``xs = (sigma/sqrt d) x`` so that
    ``d f / d w_hat_jk = A_j xs_k``."""
    x, g = _g(params, x)
    G = (params.sigma_a / np.sqrt(params.width)) * g
    return G, params.a * G, (params.sigma / np.sqrt(params.input_dim)) * x


def gaussnet_jacobian(params: GaussNetParams, x, trainable: str = "last") -> np.ndarray:
    """Explicit Jacobian w.r.t. ``a`` (``"last"``) or ``(a, w_hat row-major)`` (``"all"``)."""
    trainable = check_choice(trainable, "trainable", TRAINABLE)
    G, A, xs = gaussnet_features(params, x)
    if trainable == "last":
        return G
    n = G.shape[0]
    return np.concatenate([G, (A[:, :, None] * xs[:, None, :]).reshape(n, -1)], axis=1)
