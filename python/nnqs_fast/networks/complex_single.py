"""The complex single-layer network of Eq. S16: ``psi(x) = (1/sqrt(N)) sum_i (a_i + i b_i) sigma(c_i . x)``.

``a_i, b_i ~ N(0, 1)``, ``c_i ~ N(0, I_d)`` (``d = 1`` is the paper's scalar-input case); activation
``"relu"`` or ``"erf"`` (both have closed-form infinite-width kernels, S18). All of ``a, b, c`` are trainable
and shared by ``psi1 = Re psi`` and ``psi2 = Im psi`` through ``c`` (a non-zero mixing kernel at finite N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from .._random import rng
from .._validation import (
    as_array,
    check_choice,
    check_float_dtype,
    check_nbytes,
    check_network_params,
    check_positive_int,
)
from ..errors import ShapeMismatchError

__all__ = ["ComplexSingleParams", "init_complex_single", "apply_complex_single", "complex_single_jacobian",
           "ACTIVATIONS"]

ACTIVATIONS = ("relu", "erf")


@dataclass(frozen=True)
class ComplexSingleParams:
    """``a``, ``b`` (N,), ``c`` (N, d) standard normal; ``activation`` in ``("relu", "erf")``."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    activation: str = "relu"

    @property
    def width(self) -> int:
        return int(self.a.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.c.shape[1])

    @property
    def n_params(self) -> int:
        return int(self.a.size + self.b.size + self.c.size)


def init_complex_single(seed: int, input_dim: int, width: int, *, activation: str = "relu",
                        dtype=np.float64) -> ComplexSingleParams:
    """Seeded S16 network (draw order: a, b, c)."""
    d = check_positive_int(input_dim, "input_dim")
    n = check_positive_int(width, "width")
    act = check_choice(activation, "activation", ACTIVATIONS)
    dtype = check_float_dtype(dtype)
    check_nbytes((n, d + 2), dtype.itemsize, "the network parameters")
    g = rng(seed)
    a = g.standard_normal(n).astype(dtype)
    b = g.standard_normal(n).astype(dtype)
    c = g.standard_normal((n, d)).astype(dtype)
    return ComplexSingleParams(a, b, c, act)


def activation_pieces(params: ComplexSingleParams, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, sigma(c.x), sigma'(c.x))`` with ``x`` validated, shapes (n, d), (n, N), (n, N)."""
    check_network_params(params)
    x = as_array(x, "x", ndim=2, allow_complex=False)
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
    x = np.ascontiguousarray(x, dtype=params.c.dtype)
    u = x @ params.c.T
    if params.activation == "relu":
        return x, np.maximum(u, 0), (u > 0).astype(u.dtype)
    return x, erf(u), (2 / np.sqrt(np.pi)) * np.exp(-u * u)


def apply_complex_single(params: ComplexSingleParams, x) -> np.ndarray:
    """``psi(x)`` (complex, (n,))."""
    _, s, _ = activation_pieces(params, x)
    return (s @ (params.a + 1j * params.b)) / np.sqrt(params.width)


def complex_single_jacobian(params: ComplexSingleParams, x) -> np.ndarray:
    """Explicit complex Jacobian ``d psi / d (a, b, c row-major)`` (``n x (2N + N d)``)."""
    x, s, ds = activation_pieces(params, x)
    n = x.shape[0]
    r = 1 / np.sqrt(params.width)
    dc = ((params.a + 1j * params.b) * ds)[:, :, None] * x[:, None, :]
    return np.concatenate([r * s, 1j * r * s, r * dc.reshape(n, -1)], axis=1)
