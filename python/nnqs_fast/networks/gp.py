"""GP kernels of the architectures, for the Wick-contraction entanglement estimates (:mod:`..entanglement.wick`).

A :class:`GPKernel` is a built-in kernel family evaluated from ``(x·y, |x|², |y|²)``; the architecture objects
give theirs (``ReLUNet(...).gp_kernel(d)``, ``CosNet(...).gp_kernel(d)``, ``GaussNet(...).gp_kernel(d)``). The
C++ core numbers the families as :data:`FAMILIES` (``KernelFamily`` in ``nnqs/kernel_math.hpp``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_finite_scalar, check_positive_int
from ..errors import InvalidInputError

__all__ = ["GPKernel", "FAMILIES"]

#: family name -> C++ code
FAMILIES = {"zero": 0, "rbf": 1, "relu": 2, "delta": 3}
#: families that are functions of |x − y|² only (translation and rotation invariant)
_ISOTROPIC = frozenset({"zero", "rbf", "delta"})
#: families that are products of per-site factors on a product basis
_FACTORIZING = frozenset({"zero", "rbf", "delta"})


@dataclass(frozen=True)
class GPKernel:
    """A built-in GP kernel, evaluated from ``(x·y, |x|², |y|²)``.

    ``family``: ``"rbf"`` (``params = (amplitude, gamma)``: ``amplitude·exp(−gamma |x−y|²)``),
    ``"relu"`` (``(W_std, b_std, depth, input_dim)``: NNGP of :class:`nnqs_fast.networks.ReLUNet`),
    ``"delta"`` (``(amplitude,)``: ``amplitude·[x = y]``), ``"zero"``.
    """

    family: str
    params: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise InvalidInputError(f"kernel family must be one of {tuple(FAMILIES)}, got {self.family!r}")

    @property
    def code(self) -> int:
        return FAMILIES[self.family]

    def param_array(self) -> np.ndarray:
        p = np.zeros(4)
        p[: len(self.params)] = self.params
        return p

    @property
    def factorizes(self) -> bool:
        """True for kernels that are products of per-site factors (rbf, delta, zero)."""
        return self.family in _FACTORIZING

    @property
    def isotropic(self) -> bool:
        """True when the kernel is a function of ``|x − y|²`` only (rbf, delta, zero; not the ReLU NNGP, which
        depends on ``|x|`` and ``|y|`` as well). On any two-valued spin basis an isotropic kernel depends on the
        Hamming distance only (``|x − y|² = (v1 − v0)² h``)."""
        return self.family in _ISOTROPIC

    def hamming_reducible(self, spin_values: Any) -> bool:
        """True when, on the full spin basis with local values ``spin_values``, the kernel is a function of the
        Hamming distance only: isotropic kernels on any two distinct values; every built-in family (a function
        of ``x·y, |x|², |y|²``) on symmetric values ``(−s, s)``, where ``x·y = s²(L − 2h)``, ``|x|² = s² L``."""
        v = _two_values(spin_values)
        if v is None:
            return False
        return self.isotropic or (v[0] == -v[1])

    def from_products(self, dot: Any, n1: Any, n2: Any) -> np.ndarray:
        """NumPy evaluation (independent of the C++ one; used by the brute and Hamming paths and the tests)."""
        dot, n1, n2 = np.broadcast_arrays(np.asarray(dot, float), np.asarray(n1, float), np.asarray(n2, float))
        if self.family == "zero":
            return np.zeros(dot.shape)
        if self.family == "rbf":
            amp, gamma = self.params[:2]
            return amp * np.exp(-gamma * np.maximum(n1 + n2 - 2 * dot, 0.0))
        if self.family == "delta":
            return np.where(n1 + n2 - 2 * dot == 0.0, self.params[0], 0.0)
        from .dense import dense_kernels

        W, b, depth, d = self.params
        return dense_kernels(dot, n1, n2, input_dim=int(d), depth=int(depth), W_std=W, b_std=b,
                             activation="relu", want_ntk=False)[0]

    def __call__(self, x1: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
        """Kernel matrix between the rows of ``x1`` (n1, d) and ``x2`` (n2, d)."""
        x1 = np.asarray(x1, float)
        x2 = x1 if x2 is None else np.asarray(x2, float)
        return self.from_products(x1 @ x2.T, np.sum(x1 * x1, 1)[:, None], np.sum(x2 * x2, 1)[None, :])

    def site_factor(self, spin_values: Any) -> tuple[float, np.ndarray]:
        """``(amplitude, F)`` with ``k(x, y) = amplitude · Π_i F[s_i, t_i]`` on the local values ``spin_values``."""
        v = np.asarray(spin_values, float)
        if self.family == "rbf":
            amp, gamma = self.params[:2]
            return float(amp), np.exp(-gamma * (v[:, None] - v[None, :]) ** 2)
        if self.family == "delta":
            return float(self.params[0]), np.eye(v.size)
        if self.family == "zero":
            return 0.0, np.ones((v.size, v.size))
        raise InvalidInputError(f"the {self.family!r} kernel does not factorise over sites; use "
                                "method='partial_trace'")


def _two_values(spin_values: Any) -> tuple[float, float] | None:
    """``spin_values`` as two finite, distinct floats, else None."""
    try:
        v = np.asarray(spin_values, float)
    except (TypeError, ValueError):
        return None
    if v.shape != (2,) or not np.all(np.isfinite(v)) or v[0] == v[1]:
        return None
    return float(v[0]), float(v[1])


def rbf_gp_kernel(amplitude: float, gamma: float) -> GPKernel:
    """``amplitude · exp(−gamma |x − y|²)``."""
    return GPKernel("rbf", (check_finite_scalar(amplitude, "amplitude", nonnegative=True),
                            check_finite_scalar(gamma, "gamma", nonnegative=True)))


def dense_gp_kernel(net: Any, input_dim: int) -> GPKernel:
    """The NNGP of a dense architecture object as a :class:`GPKernel` (the ReLU family; arc-cosine recursion)."""
    d = check_positive_int(input_dim, "input_dim")
    if net.activation != "relu":
        raise InvalidInputError(f"no Wick GP-kernel family for activation {net.activation!r}; use "
                                "wick_purity_from_matrices with the network's kernel_fn")
    return GPKernel("relu", (float(net.W_std), float(net.b_std), float(net.depth), float(d)))
