"""Cos-net (Eq. 3-4): ``f(x) = sum_i a_i cos(w_i . x + b_i)`` with one bias per hidden unit.

``a_i ~ N(0, sigma_a^2 / N)``, ``w_ij ~ N(0, sigma_w^2 / d)``, ``b_i ~ U[-pi, pi]``. This form reproduces Eq. 4,
``E[f(x) f(y)] = (sigma_a^2 / 2) exp(-sigma_w^2 |x - y|^2 / (2 d))`` (the transcription of Eq. 3 with a per-input
bias ``b_j`` gives a different kernel). Stored in the NTK parameterisation: ``a = (sigma_a / sqrt(N)) a_hat``,
``w = (sigma_w / sqrt(d)) w_hat`` with ``a_hat, w_hat ~ N(0, 1)``; ``b`` is stored as drawn. The trainable
parameters are ``a_hat`` (``trainable="last"``, Supplementary III Case 1) or ``(a_hat, w_hat, b)`` (``"all"``).
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

__all__ = ["CosNet", "CosNetParams", "init_cosnet", "apply_cosnet", "cosnet_features", "cosnet_jacobian"]

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


@dataclass(frozen=True)
class CosNet:
    """The Cos-net's architecture object: ``CosNet(sigma_a=1, sigma_w=1, trainable="last")``.

    ``init`` → :class:`CosNetParams`, ``apply``, ``features``/``jacobian`` (the pieces of the structured empirical
    kernel), ``kernel_fn()`` (analytic NNGP/NTK), ``gp_kernel(d)`` (the NNGP for Wick), all from one set of
    parameters. ``trainable``: ``"last"`` (read-out ``a_hat`` only, Supplementary III Case 1) or ``"all"``.
    """

    sigma_a: float = 1.0
    sigma_w: float = 1.0
    trainable: str = "last"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma_a", check_scale(self.sigma_a, "sigma_a", nonnegative=True))
        object.__setattr__(self, "sigma_w", check_scale(self.sigma_w, "sigma_w", nonnegative=True))
        object.__setattr__(self, "trainable", check_choice(self.trainable, "trainable", TRAINABLE))

    def init(self, seed: int, input_dim: int, width: int, *, dtype: Any = np.float64) -> CosNetParams:
        """Seeded Cos-net (draw order: a, w, b)."""
        a, w, b = seeded_draws(seed, input_dim, width, dtype, "nWu")
        return CosNetParams(a, w, b, self.sigma_a, self.sigma_w)

    @staticmethod
    def apply(params: CosNetParams, x: Any) -> np.ndarray:
        """``f(x)`` for a batch ``x`` (n, d) -> (n,)."""
        _, u = _pre(params, x)
        return (params.sigma_a / np.sqrt(params.width)) * (np.cos(u) @ params.a)

    @staticmethod
    def features(params: CosNetParams, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(C, S, xs)``: ``C = (sigma_a/sqrt N) cos(u)`` (d f / d a_hat), ``S = (sigma_a/sqrt N) a_hat sin(u)``
        (minus d f / d b), ``xs = (sigma_w/sqrt d) x`` so that ``d f / d w_hat_ij = -S_i xs_j``."""
        x, u = _pre(params, x)
        s = params.sigma_a / np.sqrt(params.width)
        return s * np.cos(u), (s * params.a) * np.sin(u), (params.sigma_w / np.sqrt(params.input_dim)) * x

    def jacobian(self, params: CosNetParams, x: Any) -> np.ndarray:
        """Explicit Jacobian w.r.t. ``a_hat`` (``"last"``) or ``(a_hat, w_hat row-major, b)`` (``"all"``)."""
        C, S, xs = self.features(params, x)
        if self.trainable == "last":
            return C
        n = C.shape[0]
        return np.concatenate([C, (-S[:, :, None] * xs[:, None, :]).reshape(n, -1), -S], axis=1)

    def stationary_params(self, input_dim: int) -> tuple[float, float, float, float]:
        """``(amp, scale, c0, c1)`` with ``nngp = amp exp(-scale |x - x'|^2)`` (Eq. 4:
        ``(sigma_a^2/2) exp(-sigma_w^2 |x - x'|^2 / (2 d))``) and ``ntk = nngp (c0 + c1 x.x')``: ``"last"``
        (S23-S25) ``ntk = nngp``; ``"all"`` ``ntk = nngp (2 + sigma_w^2 x.x' / d)``."""
        d = check_positive_int(input_dim, "input_dim")
        last = self.trainable == "last"
        return (self.sigma_a ** 2 / 2, self.sigma_w ** 2 / (2 * d), 1.0 if last else 2.0,
                0.0 if last else self.sigma_w ** 2 / d)

    def kernel_fn(self) -> Any:
        """Analytic NNGP/NTK ``kernel_fn`` (same signature as :func:`nnqs_fast.kernels.relu_kernel_fn`)."""
        from ..kernels.analytic import stationary_kernel_fn

        return stationary_kernel_fn(self.stationary_params, "cosnet_kernel_fn")

    def gp_kernel(self, input_dim: int) -> Any:
        """The NNGP (Eq. 4) as a Wick :class:`~nnqs_fast.networks.gp.GPKernel` (an RBF kernel)."""
        from .gp import rbf_gp_kernel

        amp, scale, _, _ = self.stationary_params(input_dim)
        return rbf_gp_kernel(amp, scale)


def init_cosnet(seed: int, input_dim: int, width: int, *, sigma_a: float = 1.0, sigma_w: float = 1.0,
                dtype: Any = np.float64) -> CosNetParams:
    """Seeded Cos-net (draw order: a, w, b); :meth:`CosNet.init`."""
    return CosNet(sigma_a, sigma_w).init(seed, input_dim, width, dtype=dtype)


def _pre(params: CosNetParams, x: Any) -> tuple[np.ndarray, np.ndarray]:
    check_network_params(params)
    x = as_array(x, "x", ndim=2, allow_complex=False)
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
    x = np.ascontiguousarray(x, dtype=params.w.dtype)
    u = (params.sigma_w / np.sqrt(params.input_dim)) * (x @ params.w.T) + params.b
    return x, u


def apply_cosnet(params: CosNetParams, x: Any) -> np.ndarray:
    """``f(x)`` for a batch ``x`` (n, d) -> (n,); :meth:`CosNet.apply`."""
    return CosNet.apply(params, x)


def cosnet_features(params: CosNetParams, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`CosNet.features`."""
    return CosNet.features(params, x)


def cosnet_jacobian(params: CosNetParams, x: Any, trainable: str = "last") -> np.ndarray:
    """Explicit Jacobian w.r.t. ``a_hat`` (``"last"``) or ``(a_hat, w_hat row-major, b)`` (``"all"``)."""
    return CosNet(params.sigma_a, params.sigma_w, trainable).jacobian(params, x)
