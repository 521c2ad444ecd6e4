"""Spectra of kernel Gram matrices: eigenvalues, condition number, positive definiteness, maximal learning rate.

All eigendecompositions are done in float64 with :func:`scipy.linalg.eigh` (the matrices are symmetric or
Hermitian). :func:`eta_max_from_lambda` is the single home of the package's stability bound (CONTRIBUTING.md,
"Conventions"); :func:`qsntk_eta_max` applies it to every kernel form:

* loss (Eq. 13) ``L = (1/n) sum_{x in B} |psi_T(x) - psi(x)|^2``, ``n = |B|``;
* gradient descent ``theta <- theta - eta grad L`` on the real part ``psi1`` with NTK ``Theta1`` linearises to
  ``e1 <- (I - (2 eta / n) Theta1) e1``, stable iff ``eta < n / lambda_max(Theta1)``;
* decoupled ``psi1 + i psi2``: the minimum over ``Theta1`` and ``Theta2``;
* complex path ``dPsi/dt = -(eta/n) Omega M (Psi - Psi_T)`` (Eq. 8-9, ``M`` swaps ``psi`` and ``psi*``):
  ``eta < 2 n / lambda_max(Omega M)``; for zero mixing ``lambda_max(Omega M) = 2 max(lambda_max(Theta1),
  lambda_max(Theta2))`` so both rules agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_array, check_finite_scalar
from ..errors import InvalidInputError, KernelNotPositiveDefiniteError, ShapeMismatchError

__all__ = ["KernelSpectrum", "kernel_eigenvalues", "kernel_spectrum", "check_positive_definite",
           "qsntk_eta_max", "lambda_max", "eta_max_from_lambda"]


def _square(k: Any, name: str) -> np.ndarray:
    k = as_array(k, name, ndim=2)
    if k.shape[0] != k.shape[1]:
        raise ShapeMismatchError(f"{name} must be a square Gram matrix, got shape {k.shape}")
    if k.shape[0] == 0:
        raise ShapeMismatchError(f"{name} is empty")
    if np.iscomplexobj(k):
        return np.asarray(k, dtype=np.complex128)
    return np.asarray(k, dtype=np.float64)


def _check_hermitian(k: np.ndarray, name: str, rtol: float = 1e-6) -> None:
    scale = max(float(np.max(np.abs(k))), np.finfo(np.float64).tiny)
    asym = float(np.max(np.abs(k - k.conj().T)))
    if asym > rtol * scale:
        raise InvalidInputError(f"{name} is not symmetric/Hermitian (max |K - K^H| = {asym:.3g}, scale "
                                f"{scale:.3g}); pass a Gram matrix of one input set against itself")


def kernel_eigenvalues(k: Any, *, check_symmetric: bool = True) -> np.ndarray:
    """Eigenvalues (ascending, float64) of a symmetric/Hermitian kernel Gram matrix (scipy ``eigh``)."""
    k = _square(k, "k")
    if check_symmetric:
        _check_hermitian(k, "k")
    # all eigenvalues: divide-and-conquer (syevd/heevd) is ~2x faster than the default MRRR driver here
    from .._linalg import eigh

    return eigh(k, eigvals_only=True, driver="evd")


def lambda_max(k: Any, *, check_symmetric: bool = True) -> float:
    """Largest eigenvalue of a symmetric/Hermitian Gram matrix (float64), by a Krylov method.

    Implicitly restarted Lanczos (:func:`scipy.sparse.linalg.eigsh`, ``k=1, which="LA"``, tolerance at machine
    precision, deterministic start vector) costs a few dozen matrix-vector products instead of the O(n³)
    tridiagonalisation of a subset ``eigh`` (equal to the dense value to ~1e-12 relative; tests). Matrices with
    fewer than :data:`_KRYLOV_MIN_N` rows use the dense solver (:func:`nnqs_fast._linalg.eigh`).
    """
    k = _square(k, "k")
    if check_symmetric:
        _check_hermitian(k, "k")
    n = k.shape[0]
    if n < _KRYLOV_MIN_N:
        from .._linalg import eigh

        return float(eigh(k, eigvals_only=True, subset_by_index=(n - 1, n - 1))[-1])
    import scipy.sparse.linalg

    v0 = np.random.default_rng(0).standard_normal(n).astype(k.dtype)  # fixed start: reproducible
    w = scipy.sparse.linalg.eigsh(k, k=1, which="LA", v0=v0, tol=0.0, return_eigenvectors=False,
                                  ncv=min(n, 32), maxiter=max(1000, 10 * n))
    return float(np.real(w[-1]))


#: below this size :func:`lambda_max` uses the dense eigensolver (Lanczos needs n > ncv and gains nothing)
_KRYLOV_MIN_N = 64


def _refuse_indefinite(k: Any, name: str) -> None:
    """``eta_max = n / lambda_max`` bounds gradient descent only for a PSD kernel: along a negative eigenvalue GD
    diverges at every learning rate, so an indefinite kernel is refused (it used to get a finite eta_max).

    Test: ``K + tol I`` has a Cholesky factor iff ``lambda_min(K) > -tol`` (``tol = 1e-9 n lambda_max``); one
    BLAS-3 factorisation, about a third of a symmetric eigensolve (small matrices: the dense eigenvalues)."""

    k = _square(k, name)
    n = k.shape[0]
    if n == 0:
        return
    hi = lambda_max(k)
    tol = 1e-9 * max(1, n) * max(abs(hi), np.finfo(float).tiny)
    if n < _KRYLOV_MIN_N:
        from .._linalg import eigh

        ok = float(eigh(k, eigvals_only=True, subset_by_index=(0, 0))[0]) >= -tol
    else:
        from .._linalg import shifted_cholesky_ok  # blocked above 8192 rows: 2-thread dpotrf segfaults at ~16 000

        ok = shifted_cholesky_ok(k, tol)
    if not ok:
        raise KernelNotPositiveDefiniteError(
            f"{name} is indefinite (an eigenvalue below -{tol:.3g}; largest {hi:.3g}): gradient descent diverges "
            "along the negative directions at every learning rate; check the kernel (train vs train, symmetric, PSD)")


def eta_max_from_lambda(lambda_max: float, n: float, *, what: str = "the kernel") -> float:
    """The maximal stable learning rate ``η_max = n / λ_max`` (the one home of the formula).

    Gradient descent on ``L = (1/n) Σ_x |ψ_T(x) − ψ(x)|²`` (Eq. 13) linearises to ``e <- (I − (2η/n) Θ) e``,
    stable iff ``(2η/n) λ_max(Θ) < 2``. For the complex path ``n`` is the size ``2 n_train`` of ``ΩM``.
    Raises :class:`KernelNotPositiveDefiniteError` unless ``λ_max > 0`` (no bound exists then).
    """
    lam = float(lambda_max)
    if not (lam > 0 and np.isfinite(lam)):
        raise KernelNotPositiveDefiniteError.no_positive_eigenvalue(what, lam)
    return float(n) / lam


@dataclass(frozen=True)
class KernelSpectrum:
    """Spectrum summary of a Gram matrix ``K`` (``n x n``).

    ``condition_number = lambda_max / lambda_min`` (``inf`` when ``lambda_min <= 0``);
    ``max_learning_rate = n / lambda_max`` (see :func:`qsntk_eta_max`).
    """

    eigenvalues: np.ndarray
    lambda_min: float
    lambda_max: float
    condition_number: float
    max_learning_rate: float
    positive_definite: bool

    def summary(self) -> dict[str, float | bool]:
        """Scalars only (for JSON)."""
        return {"lambda_min": self.lambda_min, "lambda_max": self.lambda_max,
                "condition_number": self.condition_number, "max_learning_rate": self.max_learning_rate,
                "positive_definite": self.positive_definite}


def kernel_spectrum(k: Any, *, rtol: float = 1e-10) -> KernelSpectrum:
    """Eigenvalues, condition number, positive definiteness (``lambda_min > rtol * lambda_max``) and
    ``eta_max = n / lambda_max`` of a real symmetric (or Hermitian) Gram matrix."""
    rtol = check_finite_scalar(rtol, "rtol", nonnegative=True)
    w = kernel_eigenvalues(k)
    lmin, lmax = float(w[0]), float(w[-1])
    cond = lmax / lmin if lmin > 0 else float("inf")
    eta = eta_max_from_lambda(lmax, w.size) if lmax > 0 else float("inf")  # a summary: no bound -> inf
    return KernelSpectrum(w, lmin, lmax, cond, eta, bool(lmin > rtol * max(abs(lmax), 0.0)))


def check_positive_definite(k: Any, *, rtol: float = 1e-10, name: str = "kernel") -> float:
    """Raise :class:`KernelNotPositiveDefiniteError` unless ``lambda_min > rtol * lambda_max``.

    Returns ``lambda_min``. The error reports the smallest eigenvalue and suggests a ``diag_reg`` (a multiple of
    the identity to add) that would make the matrix positive definite.
    """
    rtol = check_finite_scalar(rtol, "rtol", nonnegative=True)
    w = kernel_eigenvalues(k)
    lmin, lmax = float(w[0]), float(w[-1])
    thresh = rtol * max(abs(lmax), np.finfo(np.float64).tiny)
    if not lmin > thresh:
        suggest = max(thresh - lmin, 0.0) + max(abs(lmax), 1.0) * max(rtol, 1e-12) * 10
        raise KernelNotPositiveDefiniteError(name, lmin, lmax, thresh, suggest)
    return lmin


def qsntk_eta_max(k_train_train: Any, *more: Any, omega_m: bool = False) -> float:
    """Maximal stable gradient-descent learning rate ``eta_max`` for ``L = (1/n) sum |psi_T - psi|^2`` (Eq. 13).

    The paper's convention, hence not neural-tangents' name: NT's ``max_learning_rate(ntk, y_train_size)``
    (``2 y_train_size / lambda_max`` for the loss ``||f - y||^2 / (2 y.size)``) is
    :func:`nnqs_fast.nt.max_learning_rate`. Here ``eta_max`` bounds ``theta <- theta - eta dL/dtheta`` over the
    REAL parameters (a complex parameter counts as two).

    * one real kernel ``Theta1`` (``n x n``, train vs train): ``eta_max = n / lambda_max(Theta1)``;
    * several real kernels (decoupled ``psi1``, ``psi2``: ``qsntk_eta_max(Theta1, Theta2)``): the minimum;
    * a :class:`~nnqs_fast.kernels.qsntk.QSNTK` (train vs train): ``2 n / lambda_max(Omega M)``, the complex
      path of Eq. 8-9 (equal to the decoupled rule when the mixing kernel vanishes);
    * ``omega_m=True``: ``k_train_train`` is the ``2n x 2n`` Hermitian matrix ``Omega M``: ``2n / lambda_max``.

    The paper's experiments use ``0.9 * eta_max``.
    """
    from .qsntk import QSNTK  # local: qsntk imports nothing from here at import time

    def one(k: Any) -> float:
        if isinstance(k, QSNTK):
            om = k.omega_m
            _refuse_indefinite(om, "the QS-NTK's Omega M")
            return eta_max_from_lambda(lambda_max(om), om.shape[0], what="the QS-NTK ΩM")
        _refuse_indefinite(k, "k_train_train")
        # omega_m=True: n = 2 n_train, bound 2 n_train / lambda_max
        return eta_max_from_lambda(lambda_max(k), np.shape(k)[0], what="the kernel")

    if omega_m and (more or isinstance(k_train_train, QSNTK)):
        raise InvalidInputError("omega_m=True takes exactly one 2n x 2n Omega M matrix")
    return float(min(one(k) for k in (k_train_train, *more)))
