"""Spectral engine shared by the dynamics predictors (private).

A :class:`SpectralFlow` holds one symmetric (real) or Hermitian (complex) positive semi-definite matrix ``H``
(the train-train kernel in the form that drives the error, e.g. ``Θ1``, ``Ω_RI`` or ``ΩM``) and the rate ``c``
such that the training error ``e = f_B − y`` obeys

    continuous:  de/dt = −c H e            ->  e(t) = exp(−c H t) e(0)
    discrete:    e_{k+1} = (1 − c H) e_k    ->  e(k) = (1 − c H)^k e(0)

and every other point ``x`` moves as ``df_x/dt = −c H_xB e`` (resp. ``f_x ← f_x − c H_xB e``), so that

    f_x(t) = f_x(0) − H_xB V diag(g(λ, t)) V^H e(0),   g = (1 − p(λ, t)) / λ,

with ``p = exp(−cλt)`` (continuous) or ``p = (1 − cλ)^k`` (discrete) and ``H = V diag(λ) V^H``. The
eigendecomposition is computed once (float64 / complex128, :func:`scipy.linalg.eigh`) and reused for all times;
``t = ∞`` uses a Cholesky solve when no eigendecomposition is cached.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg

from .._backend import register_cpu
from ..errors import KernelNotPositiveDefiniteError, LearningRateTooLargeError

#: relative tolerance (times n · machine epsilon · λ_max) below which an eigenvalue counts as zero
_TOL_FACTOR = 10.0


def pd_tolerance(lam_max: float, n: int) -> float:
    """Eigenvalues with ``|λ| <= tol`` are numerically zero (``tol = 10 n ε λ_max``)."""
    return _TOL_FACTOR * n * np.finfo(np.float64).eps * max(float(lam_max), np.finfo(np.float64).tiny)


def _not_pd_error(lam_min: float, lam_max: float, n: int, what: str, why: str) -> KernelNotPositiveDefiniteError:
    tol = pd_tolerance(lam_max, n)
    suggest = max(-lam_min, 0.0) + max(1e3 * tol, 1e-10 * max(lam_max, 0.0))
    return KernelNotPositiveDefiniteError(what, lam_min, lam_max, tol, suggest, why=why,
                                          hint="adds diag_reg to the diagonal of the real-part kernels",
                                          remedy="remove duplicate training points")


def smallest_eigenvalue(H: np.ndarray) -> tuple[float, float]:
    """(λ_min, λ_max) of a Hermitian matrix (two partial eigensolves)."""
    from .._linalg import eigh

    n = H.shape[0]
    lo = eigh(H, eigvals_only=True, subset_by_index=(0, 0))[0]
    hi = eigh(H, eigvals_only=True, subset_by_index=(n - 1, n - 1))[0]
    return float(lo), float(hi)


@register_cpu("dynamics.eigh")
def host_eigh(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(λ ascending, V)`` of a real symmetric / complex Hermitian matrix (LAPACK through
    :func:`nnqs_fast._linalg.eigh`: ``syevd``/``heevd``, MRRR with one BLAS thread above 8192 rows)."""
    from .._linalg import eigh

    return eigh(H)


def checked_spectrum(lam: np.ndarray, n: int, what: str) -> tuple[np.ndarray, float]:
    """The PD checks of every eigendecomposition (any backend): raises
    :class:`~nnqs_fast.errors.KernelNotPositiveDefiniteError` for non-finite eigenvalues or ``λ_min < −tol``;
    returns ``(max(λ, 0), λ_min)`` (rounding-level negatives are zero modes)."""
    lam = np.asarray(lam)
    if not np.all(np.isfinite(lam)):
        raise KernelNotPositiveDefiniteError.non_finite(what)
    lam_min, lam_max = float(lam[0]), float(lam[-1])
    if lam_min < -pd_tolerance(lam_max, n):
        raise _not_pd_error(lam_min, lam_max, n, what, "indefinite")
    return np.maximum(lam, 0.0), lam_min


class SpectralFlow:
    """Linear gradient flow / descent driven by one PSD matrix ``H`` at rate ``c`` (see module docstring).

    ``eigh``: the eigensolver (``H -> (λ ascending, V)`` as host float64/complex128 arrays; default LAPACK,
    :func:`host_eigh`); the CUDA backend passes cuSOLVER's (the ``"dynamics.eigh"`` primitive), and then the
    τ → ∞ solve also uses the eigendecomposition instead of a host Cholesky factor.
    """

    def __init__(self, H: np.ndarray, c: float, *, discrete: bool, what: str = "the train-train kernel",
                 eigh: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
                 shift: float = 0.0) -> None:
        # the flow's matrix is H + shift·1 (a ridge); it is materialised on first use (:attr:`H`), so the τ → ∞
        # Cholesky path copies H once (into the factor) instead of twice
        self._base: np.ndarray | None = H
        self._shift = float(shift)
        self._H: np.ndarray | None = H if not self._shift else None
        self.c = float(c)
        self.discrete = bool(discrete)
        self.what = what
        self.n = H.shape[0]
        self._eigh = host_eigh if eigh is None else eigh
        self._eig: tuple[np.ndarray, np.ndarray] | None = None
        self._chol: tuple[np.ndarray, bool] | None = None
        #: True when the caller evaluates the propagators without the eigendecomposition (Krylov path): then
        #: :attr:`lam_max` comes from a Lanczos eigensolve instead of a full ``eigh``
        self.krylov = False
        self._lam_max: float | None = None

    @property
    def H(self) -> np.ndarray:
        """The matrix driving the flow (``H + shift·1``, formed on first use; None once dropped after a large
        eigendecomposition)."""
        if self._H is None and self._base is not None:
            self._H = np.array(self._base, copy=True)
            self._H[np.diag_indices_from(self._H)] += self._shift
        return self._H  # type: ignore[return-value]

    @H.setter
    def H(self, value: np.ndarray | None) -> None:
        self._H = self._base = value
        self._shift = 0.0

    @classmethod
    def from_eigh(cls, H: np.ndarray, lam: np.ndarray, V: np.ndarray, c: float, *, discrete: bool,
                  what: str = "the train-train kernel") -> SpectralFlow:
        """A flow whose eigendecomposition ``H = V diag(λ) V^H`` (λ ascending) was computed elsewhere; the same
        checks as :meth:`eig` apply."""
        flow = cls(H, c, discrete=discrete, what=what)
        flow._set_eig(np.asarray(lam), np.asarray(V))
        return flow

    def _set_eig(self, lam: np.ndarray, V: np.ndarray) -> None:
        lam, self.lam_min_raw = checked_spectrum(lam, self.n, self.what)
        self._eig = (lam, V)

    # ---- factorisations (cached) -------------------------------------------------------------------------
    def eig(self) -> tuple[np.ndarray, np.ndarray]:
        """Cached ``(λ, V)``; raises if ``H`` is indefinite beyond tolerance (or, discrete, if unstable)."""
        if self._eig is None:
            lam, V = self._eigh(self.H)
            self._set_eig(lam, V)
            from .._linalg import SINGLE_THREAD_MIN_N

            if self.n > SINGLE_THREAD_MIN_N:  # large: (λ, V) replaces H (everything after reads the eigenpairs)
                self.H = None
        return self._eig  # type: ignore[return-value]

    @property
    def lam_max(self) -> float:
        """Largest eigenvalue of ``H``: from the cached eigendecomposition, else (:attr:`krylov` set) by
        :func:`nnqs_fast.kernels.lambda_max` (Lanczos, a few dozen matrix-vector products; cached)."""
        if self._eig is None and self.krylov:
            if self._lam_max is None:
                from .._linalg import blas_threads
                from ..kernels.spectrum import lambda_max
                from ._krylov import THREADED_MIN_N

                with blas_threads(1 if self.n < THREADED_MIN_N else None):  # level-2 BLAS: see THREADED_MIN_N
                    self._lam_max = lambda_max(self.H, check_symmetric=False)
            return self._lam_max
        return float(self.eig()[0][-1])

    def check_discrete_stable(self, learning_rate: float, eta_max: float) -> None:
        lam_max = self.lam_max
        if self.c * lam_max >= 2.0:
            raise LearningRateTooLargeError(learning_rate, eta_max, lambda_max=lam_max,
                                            alternative="pass discrete=False (continuous time)")

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``H^{-1} b`` (τ → ∞), from the eigendecomposition if cached (or if a device eigensolver was given), else
        a cached Cholesky factor."""
        if self._eig is None and self._eigh is not host_eigh:
            self.eig()
        if self._eig is not None:
            lam, V = self._eig
            tol = pd_tolerance(lam[-1], self.n)
            if lam[0] <= tol:
                raise _not_pd_error(self.lam_min_raw, float(lam[-1]), self.n, self.what,
                                    "singular (the τ → ∞ limit needs H^{-1})")
            return _apply(V, _apply(V.conj().T if np.iscomplexobj(V) else V.T, b) / _col(lam, b))
        if self._chol is None:
            try:
                from .._linalg import cho_factor, shifted_cholesky

                if self._H is None and self._base is not None:   # H + shift·1 not formed: one copy, into the factor
                    L = shifted_cholesky(self._base, self._shift)
                    if L is None:
                        raise np.linalg.LinAlgError("not positive definite")
                    self._chol = (L, True)
                else:
                    self._chol = cho_factor(self.H)  # robust at every size (nnqs_fast._linalg)
            except np.linalg.LinAlgError:
                lo, hi = smallest_eigenvalue(self.H)
                raise _not_pd_error(lo, hi, self.n, self.what,
                                    "not positive definite (Cholesky failed; the τ → ∞ limit needs H^{-1})") from None
            d = np.abs(np.diag(self._chol[0])) ** 2
            if d.min() <= pd_tolerance(d.max(), self.n):
                lo, hi = smallest_eigenvalue(self.H)
                raise _not_pd_error(lo, hi, self.n, self.what, "numerically singular")
        return _cho_solve(self._chol, b)

    def check_invertible(self) -> None:
        """Raise unless ``H`` is numerically positive definite (needed for τ → ∞)."""
        lam = self.eig()[0]
        if lam[0] <= pd_tolerance(lam[-1], self.n):
            raise _not_pd_error(self.lam_min_raw, float(lam[-1]), self.n, self.what,
                                "singular (the τ → ∞ limit needs H^{-1})")

    # ---- propagators --------------------------------------------------------------------------------------
    def factors(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``p(λ, t)`` (train propagator) and ``g(λ, t) = (1 − p)/λ`` as arrays of shape (n, T)."""
        return propagator_factors(self.eig()[0], t, self.c, self.discrete)

    def project(self, e0: np.ndarray) -> np.ndarray:
        """``V^H e0``."""
        V = self.eig()[1]
        return _apply(V.conj().T if np.iscomplexobj(V) else V.T, e0)

    def expand(self, z: np.ndarray) -> np.ndarray:
        """``V z``."""
        return _apply(self.eig()[1], z)


def propagator_factors(lam: np.ndarray, t: np.ndarray, c: float, discrete: bool) -> tuple[np.ndarray, np.ndarray]:
    """The one home of the scalar propagators (module docstring): ``p(λ, t)`` and ``g(λ, t) = (1 − p)/λ`` for
    eigenvalues (or Ritz values) ``λ ≥ 0`` and times ``t``, arrays of shape ``(len(λ), len(t))``.

    Continuous ``p = exp(−cλt)``, ``g = −expm1(−cλt)/λ``; discrete ``p = (1 − cλ)^t``, ``g`` through
    ``expm1(t log1p(−cλ))`` where ``|cλ| < ½`` (no cancellation for small ``cλ``); ``λ = 0`` gives ``g = ct``.
    """
    lam = np.asarray(lam)[:, None]
    t = np.asarray(t, dtype=np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if not discrete:
            x = -c * lam * t
            p = np.exp(x)
            g = np.where(lam > 0, -np.expm1(x) / np.where(lam > 0, lam, 1.0), c * t)
        else:
            q = 1.0 - c * lam
            p = np.power(q, t)
            small = np.abs(c * lam) < 0.5
            log1p = np.log1p(-c * np.where(small, lam, 0.0))
            g_small = -np.expm1(t * log1p) / np.where(lam > 0, lam, 1.0)
            g_big = (1.0 - p) / np.where(lam > 0, lam, 1.0)
            g = np.where(small, g_small, g_big)
            g = np.where(lam > 0, g, c * t)
    return p, g


def _col(lam: np.ndarray, b: np.ndarray) -> np.ndarray:
    return lam if b.ndim == 1 else lam[:, None]


def _apply(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``A @ b`` without promoting a real ``A`` to complex when ``b`` is complex (two real GEMMs)."""
    if np.iscomplexobj(b) and not np.iscomplexobj(A):
        if b.ndim == 1:
            out = A @ np.stack([b.real, b.imag], axis=1)
            return out[:, 0] + 1j * out[:, 1]
        k = b.shape[1]
        out = A @ np.concatenate([b.real, b.imag], axis=1)
        return out[:, :k] + 1j * out[:, k:]
    return A @ b


def _cho_solve(chol: tuple[np.ndarray, bool], b: np.ndarray) -> np.ndarray:
    if np.iscomplexobj(b) and not np.iscomplexobj(chol[0]):
        return (scipy.linalg.cho_solve(chol, b.real, check_finite=False)
                + 1j * scipy.linalg.cho_solve(chol, b.imag, check_finite=False))
    return scipy.linalg.cho_solve(chol, b, check_finite=False)


apply = _apply
