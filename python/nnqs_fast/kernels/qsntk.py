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
from .._validation import as_array
from ..errors import AmbiguousJacobianLayoutError, DTypeError, InvalidInputError, ShapeMismatchError, ZeroAmplitudeError

__all__ = ["QSNTK", "qsntk_from_parts", "real_parameter_jacobian", "JACOBIAN_LAYOUTS"]


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


# ------------------------------------------------------------------------------------ Jacobian layouts
#: Accepted ``layout`` values of :func:`real_parameter_jacobian` / ``qsntk_from_jacobians`` (docs/interop.md).
JACOBIAN_LAYOUTS = ("real", "n2p", "holomorphic", "pytree", "pytree_n2p", "pytree_holomorphic")


def _pytree_leaves(tree: Any, name: str) -> list[Any]:
    """Leaves of nested dict/list/tuple containers (dict keys sorted), without importing JAX."""
    if isinstance(tree, dict) or (hasattr(tree, "keys") and hasattr(tree, "__getitem__")):
        return [leaf for k in sorted(tree.keys(), key=str) for leaf in _pytree_leaves(tree[k], name)]
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in _pytree_leaves(t, name)]
    if tree is None:
        return []
    return [tree]


def _is_container(j: Any) -> bool:
    return isinstance(j, (dict, list, tuple)) or (hasattr(j, "keys") and hasattr(j, "__getitem__"))


def real_parameter_jacobian(J: Any, *, layout: str | None = None, name: str = "J", psi: Any = None) -> np.ndarray:
    """``J = d psi / d theta`` over REAL parameters as one 2-d array ``(n, P_real)`` (complex when psi is).

    The QS-NTK (Eq. 7, S8-S11) sums over real parameters ``theta_k``; a complex parameter ``w = a + i b`` counts
    as the two real parameters ``a`` and ``b``. ``layout`` says how ``J`` is stored (docs/interop.md):

    * ``None`` / ``"real"``: a 2-d ``(n, P)`` array of ``d psi / d theta_k`` over real parameters (complex-valued
      for a complex ``psi``);
    * ``"n2p"``: NetKet's ``nk.jax.jacobian(..., mode="complex", dense=True)`` layout ``(n, 2, P)``: real
      ``[:, 0] = d Re psi / d theta``, ``[:, 1] = d Im psi / d theta``;
    * ``"holomorphic"``: ``(n, P_c)`` complex ``F = d psi / d w`` of a holomorphic model of complex parameters
      ``w`` (NetKet ``mode="holomorphic"``); then ``d psi / d Re w = F`` and ``d psi / d Im w = i F``;
    * ``"pytree"`` / ``"pytree_n2p"`` / ``"pytree_holomorphic"``: nested dicts/lists/tuples of per-leaf
      Jacobians ``(n, *leaf_shape)`` (``(n, 2, *leaf_shape)``), flattened and concatenated.

    ``psi``: when given, ``J`` is the Jacobian of ``log psi`` (NetKet's ``O_k``) and is turned into that of
    ``psi = exp(log psi)`` by ``d psi = psi d log psi`` row by row (``psi`` the amplitudes at the same inputs).

    Raises :class:`~nnqs_fast.errors.AmbiguousJacobianLayoutError` for a 3-d array or a pytree without a
    ``layout``, :class:`~nnqs_fast.errors.ZeroAmplitudeError` if ``psi`` vanishes or is not finite somewhere.
    """
    lay = "real" if layout is None else layout
    if lay not in JACOBIAN_LAYOUTS:
        raise InvalidInputError(f"layout must be one of {JACOBIAN_LAYOUTS} (or None), got {layout!r}")
    if _is_container(J):
        if not lay.startswith("pytree"):
            raise AmbiguousJacobianLayoutError(
                f"{name} is a pytree ({type(J).__name__}); say how its leaves are laid out: layout='pytree' "
                "(leaves (n, *shape) of d psi / d theta over real parameters), 'pytree_n2p' (leaves (n, 2, *shape), "
                "NetKet mode='complex') or 'pytree_holomorphic' (complex d psi / d w of a holomorphic model)")
        leaves = [np.asarray(leaf) for leaf in _pytree_leaves(J, name)]
        if not leaves:
            raise ShapeMismatchError(f"{name} has no leaves")
        n = leaves[0].shape[0]
        if lay == "pytree_n2p":
            bad = [lf.shape for lf in leaves if lf.ndim < 2 or lf.shape[:2] != (n, 2)]
            if bad:
                raise ShapeMismatchError(f"layout='pytree_n2p' needs leaves of shape (n, 2, ...); got {bad[0]}")
            arr = np.concatenate([lf.reshape(n, 2, -1) for lf in leaves], axis=2)
        else:
            bad = [lf.shape for lf in leaves if lf.ndim < 1 or lf.shape[0] != n]
            if bad:
                raise ShapeMismatchError(f"all leaves of {name} must have {n} rows; got a leaf of shape {bad[0]}")
            arr = np.concatenate([lf.reshape(n, -1) for lf in leaves], axis=1)
        lay = lay[len("pytree_"):] if lay != "pytree" else "real"
    else:
        if lay.startswith("pytree"):
            raise InvalidInputError(f"layout={lay!r} needs a pytree (dict/list/tuple) {name}, got an array")
        arr = as_array(J, name, allow_complex=True)
    if lay == "n2p":
        if arr.ndim != 3 or arr.shape[1] != 2:
            raise ShapeMismatchError(f"layout='n2p' needs {name} of shape (n, 2, P), got {arr.shape}")
        if np.iscomplexobj(arr):
            raise DTypeError(f"layout='n2p' holds real derivatives of Re psi and Im psi; {name} is complex")
        out = arr[:, 0, :] + 1j * arr[:, 1, :]
    elif lay == "holomorphic":
        if arr.ndim != 2:
            raise ShapeMismatchError(f"layout='holomorphic' needs {name} of shape (n, P_complex), got {arr.shape}")
        F = arr.astype(np.result_type(arr, np.complex64), copy=False)
        out = np.concatenate([F, 1j * F], axis=1)  # d psi / d Re w = F, d psi / d Im w = i F
    else:
        if arr.ndim == 3 and arr.shape[1] == 2:
            raise AmbiguousJacobianLayoutError(
                f"{name} has shape {arr.shape}: this looks like NetKet's (n, 2, P) real/imaginary layout; pass "
                "layout='n2p' (or a 2-d (n, P) Jacobian of d psi / d theta over real parameters)")
        if arr.ndim != 2:
            raise AmbiguousJacobianLayoutError(
                f"{name} must be a 2-d (n, P) Jacobian over real parameters, got shape {arr.shape}; for other "
                f"layouts pass layout= one of {JACOBIAN_LAYOUTS}")
        out = arr
    if psi is not None:
        p = as_array(psi, "psi", ndim=1, allow_complex=True, finite=False)
        if p.shape[0] != out.shape[0]:
            raise ShapeMismatchError(f"psi has {p.shape[0]} amplitudes but {name} has {out.shape[0]} rows")
        bad = ~np.isfinite(p) | (p == 0)
        if np.any(bad):
            raise ZeroAmplitudeError(
                f"psi = exp(log psi) is zero or not finite on {int(bad.sum())} of {p.size} inputs (first row "
                f"{int(np.argmax(bad))}): d psi = psi d log psi is undefined there; drop those inputs")
        out = p[:, None] * out
    return out
