"""Cos-net (Eq. 3-4): ``f(x) = sum_i a_i cos(w_i . x + b_i)`` with one bias per hidden unit.

``a_i ~ N(0, sigma_a^2 / N)``, ``w_ij ~ N(0, sigma_w^2 / d)``, ``b_i ~ U[-pi, pi]``. This form reproduces Eq. 4,
``E[f(x) f(y)] = (sigma_a^2 / 2) exp(-sigma_w^2 |x - y|^2 / (2 d))`` (the transcription of Eq. 3 with a per-input
bias ``b_j`` gives a different kernel). Stored in the NTK parameterisation: ``a = (sigma_a / sqrt(N)) a_hat``,
``w = (sigma_w / sqrt(d)) w_hat`` with ``a_hat, w_hat ~ N(0, 1)``; ``b`` is stored as drawn. The trainable
parameters are ``a_hat`` (``trainable="last"``, Supplementary III Case 1) or ``(a_hat, w_hat, b)`` (``"all"``).
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

__all__ = ["CosNetParams", "init_cosnet", "apply_cosnet", "cosnet_features", "cosnet_jacobian"]

TRAINABLE = ("last", "all")


@dataclass(frozen=True)
class CosNetParams:
    """``a`` (N,), ``w`` (N, d) standard normal; ``b`` (N,) uniform on [-pi, pi]."""

    a: np.ndarray
    w: np.ndarray
    b: np.ndarray
    sigma_a: float
    sigma_w: float

    @property
    def width(self) -> int:
        return int(self.a.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.w.shape[1])


def init_cosnet(seed: int, input_dim: int, width: int, *, sigma_a: float = 1.0, sigma_w: float = 1.0,
                dtype=np.float64) -> CosNetParams:
    """Seeded Cos-net (draw order: a, w, b)."""
    d = check_positive_int(input_dim, "input_dim")
    n = check_positive_int(width, "width")
    sigma_a = check_scale(sigma_a, "sigma_a", nonnegative=True)
    sigma_w = check_scale(sigma_w, "sigma_w", nonnegative=True)
    dtype = check_float_dtype(dtype)
    check_nbytes((n, d + 2), dtype.itemsize, "the network parameters")
    g = rng(seed)
    a = g.standard_normal(n).astype(dtype)
    w = g.standard_normal((n, d)).astype(dtype)
    b = g.uniform(-np.pi, np.pi, n).astype(dtype)
    return CosNetParams(a, w, b, sigma_a, sigma_w)


def _pre(params: CosNetParams, x) -> tuple[np.ndarray, np.ndarray]:
    check_network_params(params)
    x = as_array(x, "x", ndim=2, allow_complex=False)
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
    x = np.ascontiguousarray(x, dtype=params.w.dtype)
    u = (params.sigma_w / np.sqrt(params.input_dim)) * (x @ params.w.T) + params.b
    return x, u


def apply_cosnet(params: CosNetParams, x) -> np.ndarray:
    """``f(x)`` for a batch ``x`` (n, d) -> (n,)."""
    _, u = _pre(params, x)
    return (params.sigma_a / np.sqrt(params.width)) * (np.cos(u) @ params.a)


def cosnet_features(params: CosNetParams, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(C, S, xs)``: ``C = (sigma_a/sqrt N) cos(u)`` (d f / d a_hat), ``S = (sigma_a/sqrt N) a_hat sin(u)``
    (minus d f / d b), ``xs = (sigma_w/sqrt d) x`` so that ``d f / d w_hat_ij = -S_i xs_j``."""
    x, u = _pre(params, x)
    s = params.sigma_a / np.sqrt(params.width)
    return s * np.cos(u), (s * params.a) * np.sin(u), (params.sigma_w / np.sqrt(params.input_dim)) * x


def cosnet_jacobian(params: CosNetParams, x, trainable: str = "last") -> np.ndarray:
    """Explicit Jacobian w.r.t. ``a_hat`` (``"last"``) or ``(a_hat, w_hat row-major, b)`` (``"all"``)."""
    trainable = check_choice(trainable, "trainable", TRAINABLE)
    C, S, xs = cosnet_features(params, x)
    if trainable == "last":
        return C
    n = C.shape[0]
    return np.concatenate([C, (-S[:, :, None] * xs[:, None, :]).reshape(n, -1), -S], axis=1)
