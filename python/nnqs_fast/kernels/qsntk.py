"""The quantum-state neural tangent kernel (QS-NTK) container and the identities that tie its blocks together.

For ``psi = psi1 + i psi2`` with parameters ``theta_k`` (Eq. 7, S8-S9)::

    Theta1(x, x')   = sum_k d psi1(x) d psi1(x')          (real part's NTK)
    Theta2(x, x')   = sum_k d psi2(x) d psi2(x')          (imaginary part's NTK)
    Theta12(x, x')  = sum_k d psi1(x) d psi2(x')          (mixing kernel, S9)
    Theta(x, x')    = sum_k d psi(x)  d psi(x')   = Theta1 - Theta2 + i (Theta12 + Theta12^T)      (Eq. 7, S10)
    Phi(x, x')      = sum_k d psi(x)  d psi*(x')  = Theta1 + Theta2 - i (Theta12 - Theta12^T)      (Eq. 7, S11)
    Omega           = [[Theta, Phi], [Phi*, Theta*]]                                             (Eq. 8)
    Omega_RI        = [[Theta1, Theta12], [Theta12^T, Theta2]],   Omega = R Omega_RI R^T          (S6, S12)

with ``R = [[1, i], [1, -i]]`` acting on the 2x2 block structure and ``Theta12^T(x, x') := Theta12(x', x)``.
For two input sets ``x1`` (``n1`` rows) and ``x2`` (``n2`` rows) every block is ``n1 x n2`` and
``Theta12^T`` is stored as :attr:`QSNTK.mixing_t` ``= sum_k d psi2(x1) d psi1(x2)``.

Symmetry: ``Phi`` is Hermitian (``Phi*(x, x') = Phi(x', x)``); ``Theta`` and ``Omega`` are complex
*symmetric* (``Omega^T = Omega``); ``Omega M`` with ``M = [[0, I], [I, 0]]`` (:attr:`QSNTK.omega_m`, the operator
of ``dPsi/dt = -(eta/n) Omega M (Psi - Psi_T)``) is Hermitian positive semi-definite, and so is ``Omega_RI``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import array_namespace, to_device
from .._validation import as_array, check_hermitian
from ..errors import DTypeError, InvalidInputError, ShapeMismatchError

__all__ = ["QSNTK", "qsntk_from_parts"]


@dataclass(frozen=True)
class QSNTK:
    """Empirical or analytic QS-NTK blocks over ``x1`` (rows, ``n1``) and ``x2`` (columns, ``n2``).

    Fields
    ------
    theta, phi : (n1, n2)  NTK ``Theta`` and Hermitian NTK ``Phi`` (Eq. 7). Real arrays when the mixing kernel
        is identically zero (decoupled ``psi1 + i psi2``, S10-S11), complex otherwise.
    theta1, theta2 : (n1, n2) real  NTKs of the real and imaginary parts (S8).
    mixing : (n1, n2) real  ``Theta12(x1, x2)`` (S9).
    mixing_t : (n1, n2) real  ``Theta12(x2, x1)^T = sum_k d psi2(x1) d psi1(x2)``; equals ``mixing.T`` when
        ``x2 = x1``.
    symmetric : bool  ``x2`` was ``x1``.
    """

    theta: np.ndarray
    phi: np.ndarray
    theta1: np.ndarray
    theta2: np.ndarray
    mixing: np.ndarray
    mixing_t: np.ndarray
    symmetric: bool = False
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        n1, n2 = self.theta1.shape
        return int(n1), int(n2)

    @property
    def decoupled(self) -> bool:
        """True when the mixing kernel vanishes identically (S15: decoupled dynamics)."""
        return not (np.any(self.mixing) or np.any(self.mixing_t))

    @property
    def omega(self) -> np.ndarray:
        """The QS-NTK ``Omega = [[Theta, Phi], [Phi*, Theta*]]`` (Eq. 8), complex ``(2 n1, 2 n2)``."""
        th = self.theta.astype(np.result_type(self.theta, np.complex64), copy=False)
        ph = self.phi.astype(np.result_type(self.phi, np.complex64), copy=False)
        return np.block([[th, ph], [ph.conj(), th.conj()]])

    @property
    def omega_ri(self) -> np.ndarray:
        """``Omega_RI = [[Theta1, Theta12], [Theta12^T, Theta2]]`` (S6), real ``(2 n1, 2 n2)``."""
        return np.block([[self.theta1, self.mixing], [self.mixing_t, self.theta2]])

    @property
    def omega_m(self) -> np.ndarray:
        """``Omega M = [[Phi, Theta], [Theta*, Phi*]]`` (``M`` swaps ``psi``, ``psi*``): Hermitian PSD when
        ``x2 = x1``; the operator of ``dPsi/dt = -(eta/n) Omega M (Psi - Psi_T)`` for the loss of Eq. 13."""
        th = self.theta.astype(np.result_type(self.theta, np.complex64), copy=False)
        ph = self.phi.astype(np.result_type(self.phi, np.complex64), copy=False)
        return np.block([[ph, th], [th.conj(), ph.conj()]])


def qsntk_from_parts(theta1: Any, theta2: Any, mixing: Any = None, mixing_t: Any = None, *,
                     symmetric: bool = False, meta: dict | None = None) -> QSNTK:
    """Assemble a :class:`QSNTK` from ``Theta1``, ``Theta2`` and the mixing kernel via S10-S11.

    ``mixing=None`` means zero mixing (decoupled networks): then ``theta = Theta1 - Theta2`` and
    ``phi = Theta1 + Theta2`` are real. ``mixing_t=None`` with a mixing kernel requires square blocks and uses
    ``mixing.T`` (``x2 = x1``). NumPy or CuPy blocks (CuPy in any block: every block on the device).
    """
    xp = array_namespace(theta1, theta2, mixing, mixing_t)

    def real2d(a: Any, name: str) -> Any:
        return as_array(a, name, ndim=2, allow_complex=False) if xp is np else \
            to_device(a, None, name=name, allow_complex=False)

    t1 = real2d(theta1, "theta1")
    t2 = real2d(theta2, "theta2")
    if t1.shape != t2.shape:
        raise ShapeMismatchError(f"theta1 {t1.shape} and theta2 {t2.shape} must have the same shape")
    dt = np.result_type(t1.dtype, t2.dtype)
    t1, t2 = t1.astype(dt, copy=False), t2.astype(dt, copy=False)
    if symmetric and xp is np:  # a train-train block claimed symmetric must be (O(n^2) check)
        check_hermitian(t1, "theta1", rtol=1e-6)
        check_hermitian(t2, "theta2", rtol=1e-6)
    if mixing is None:
        if mixing_t is not None:
            raise InvalidInputError("mixing_t given without mixing")
        zero = xp.zeros(t1.shape, dt)  # calloc: no memory touched until written
        return QSNTK(t1 - t2, t1 + t2, t1, t2, zero, zero, symmetric, dict(meta or {}))
    m = real2d(mixing, "mixing").astype(dt, copy=False)
    if m.shape != t1.shape:
        raise ShapeMismatchError(f"mixing {m.shape} must have the shape of theta1 {t1.shape}")
    if mixing_t is None:
        if m.shape[0] != m.shape[1]:
            raise ShapeMismatchError("mixing_t is required when x2 differs from x1 (non-square blocks)")
        mt = m.T
    else:
        mt = real2d(mixing_t, "mixing_t").astype(dt, copy=False)
        if mt.shape != t1.shape:
            raise ShapeMismatchError(f"mixing_t {mt.shape} must have the shape of theta1 {t1.shape}")
    if m.dtype.kind == "c" or mt.dtype.kind == "c":  # pragma: no cover - the conversion forbids it
        raise DTypeError("mixing kernels are real")
    theta = (t1 - t2) + 1j * (m + mt)            # S10
    phi = (t1 + t2) - 1j * (m - mt)              # S11
    return QSNTK(theta, phi, t1, t2, m, xp.ascontiguousarray(mt), symmetric, dict(meta or {}))
