"""The complex single-layer network of Eq. S16: ``psi(x) = (1/sqrt(N)) sum_i (a_i + i b_i) sigma(c_i . x)``.

``a_i, b_i ~ N(0, 1)``, ``c_i ~ N(0, I_d)`` (``d = 1`` is the paper's scalar-input case); activation: any
registered activation with a closed-form Gaussian dual (``"relu"``, ``"erf"``: S18). All of ``a, b, c`` are
trainable and shared by ``psi1 = Re psi`` and ``psi2 = Im psi`` through ``c`` (a non-zero mixing kernel at
finite N).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_array, check_network_params
from ..errors import ShapeMismatchError
from ._init import seeded_draws
from .activations import get_activation

__all__ = ["ComplexSingle", "ComplexSingleParams", "init_complex_single", "apply_complex_single",
           "complex_single_jacobian", "ACTIVATIONS"]

#: the activations with a closed-form infinite-width kernel here (S18); see nnqs_fast.networks.activations
ACTIVATIONS = ("relu", "erf")


@dataclass(frozen=True)
class ComplexSingleParams:
    """``a``, ``b`` (N,), ``c`` (N, d) standard normal; ``activation`` a registered activation name."""

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


@dataclass(frozen=True)
class ComplexSingle:
    """Architecture object of the S16 network: ``ComplexSingle(activation="relu")``.

    ``init`` → :class:`ComplexSingleParams`, ``apply`` (complex ψ), ``pieces``/``jacobian``, ``dual(x1, x2)``
    (the Gaussian expectations of S18) and ``qsntk(x1, x2)`` (the infinite-width QS-NTK,
    :func:`nnqs_fast.kernels.complex_single_qsntk`).
    """

    activation: str = "relu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", get_activation(self.activation).name)

    def init(self, seed: int, input_dim: int, width: int, *, dtype: Any = np.float64) -> ComplexSingleParams:
        """Seeded S16 network (draw order: a, b, c)."""
        a, b, c = seeded_draws(seed, input_dim, width, dtype, "nnW")
        return ComplexSingleParams(a, b, c, self.activation)

    @staticmethod
    def pieces(params: ComplexSingleParams, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, sigma(c.x), sigma'(c.x))`` with ``x`` validated, shapes (n, d), (n, N), (n, N)."""
        check_network_params(params)
        x = as_array(x, "x", ndim=2, allow_complex=False)
        if x.shape[1] != params.input_dim:
            raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
        x = np.ascontiguousarray(x, dtype=params.c.dtype)
        u = x @ params.c.T
        act = get_activation(params.activation)
        return x, act.fn(u), np.asarray(act.deriv(u), dtype=u.dtype)

    @classmethod
    def apply(cls, params: ComplexSingleParams, x: Any) -> np.ndarray:
        """``psi(x)`` (complex, (n,))."""
        _, s, _ = cls.pieces(params, x)
        return (s @ (params.a + 1j * params.b)) / np.sqrt(params.width)

    @classmethod
    def jacobian(cls, params: ComplexSingleParams, x: Any) -> np.ndarray:
        """Explicit complex Jacobian ``d psi / d (a, b, c row-major)`` (``n x (2N + N d)``)."""
        x, s, ds = cls.pieces(params, x)
        n = x.shape[0]
        r = 1 / np.sqrt(params.width)
        dc = ((params.a + 1j * params.b) * ds)[:, :, None] * x[:, None, :]
        return np.concatenate([r * s, 1j * r * s, r * dc.reshape(n, -1)], axis=1)

    def dual(self, a: np.ndarray, c: np.ndarray, symmetric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x.x', E[s(c.x) s(c.x')], E[s'(c.x) s'(c.x')])`` for ``c ~ N(0, I_d)`` between the rows of ``a`` and
        ``c`` (S18: ``u = c.x``, ``v = c.x'`` jointly Gaussian with variances ``|x|²``, ``|x'|²``, covariance
        ``x.x'``); ``symmetric``: ``c is a``, the diagonal is evaluated at exactly equal arguments."""
        dual = get_activation(self.activation).dual
        g = a @ c.T
        s1 = np.einsum("ij,ij->i", a, a)
        s2 = s1 if symmetric else np.einsum("ij,ij->i", c, c)
        ess, edd = dual(g, s1[:, None], s2[None, :])
        if symmetric:
            ess_d, edd_d = dual(s1, s1, s1)
            np.fill_diagonal(ess, ess_d)
            np.fill_diagonal(edd, edd_d)
        return g, ess, edd

    def qsntk(self, x1: Any, x2: Any = None, *, backend: str = "auto") -> Any:
        """Infinite-width QS-NTK (S18): :func:`nnqs_fast.kernels.complex_single_qsntk`."""
        from ..kernels.analytic import complex_single_qsntk

        return complex_single_qsntk(x1, x2, activation=self.activation, backend=backend)


def init_complex_single(seed: int, input_dim: int, width: int, *, activation: str = "relu",
                        dtype: Any = np.float64) -> ComplexSingleParams:
    """Seeded S16 network (draw order: a, b, c); :meth:`ComplexSingle.init`."""
    return ComplexSingle(activation).init(seed, input_dim, width, dtype=dtype)


def activation_pieces(params: ComplexSingleParams, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`ComplexSingle.pieces`."""
    return ComplexSingle.pieces(params, x)


def apply_complex_single(params: ComplexSingleParams, x: Any) -> np.ndarray:
    """``psi(x)`` (complex, (n,)); :meth:`ComplexSingle.apply`."""
    return ComplexSingle.apply(params, x)


def complex_single_jacobian(params: ComplexSingleParams, x: Any) -> np.ndarray:
    """Explicit complex Jacobian ``d psi / d (a, b, c row-major)`` (``n x (2N + N d)``)."""
    return ComplexSingle.jacobian(params, x)
