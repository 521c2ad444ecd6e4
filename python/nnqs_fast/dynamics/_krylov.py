"""Krylov evaluation of the closed-form propagators at many times, without an eigendecomposition (private).

The predictor of :mod:`nnqs_fast.dynamics.predict` needs, for one PSD train kernel ``H`` (``n × n``, real
symmetric or complex Hermitian, the matrix of a :class:`~nnqs_fast.dynamics._spectral.SpectralFlow`) and a block
``S`` of ``b`` right-hand sides (the initial residual ``e0 = f_B(0) − y``: its real and imaginary parts, or one
complex column), the two products of Eq. 15 at ``T`` times

    p(H, t) S   (train error:   e(t) = p(H, t) e0)
    g(H, t) S   (test points:   f_x(t) = f_x(0) − H_xB g(H, t) e0),   g(λ, t) = (1 − p(λ, t)) / λ,

with ``p = exp(−cλt)`` (continuous) or ``(1 − cλ)^t`` (discrete steps); both are entire functions of ``λ``
(``g`` is a polynomial of degree ``t − 1`` in the discrete case), so no inverse is needed at finite ``t``.

Method: block Lanczos with full reorthogonalisation, one vector at a time ("band Lanczos": the block Krylov
space ``K_m(H, S) = span{S, HS, H²S, ...}``; dependent or zero columns of ``S`` are dropped). Each step is one
``symv``/``hemv`` with ``H`` (BLAS reads one triangle: half the memory traffic of a ``gemv``; the lower
triangle, the one LAPACK's ``eigh`` reads) and two classical Gram–Schmidt passes against the whole basis
(CGS2: orthogonal to working precision). With ``Q_m`` the basis and ``T_m = Q_mᴴ H Q_m`` the projected matrix,

    f(H) S  ≈  Q_m f(T_m) Q_mᴴ S          for f = p(·, t), g(·, t), every requested t from the same basis,

exact for polynomials of degree < m / b. ``f(T_m)`` comes from the small dense ``eigh(T_m)`` (its Ritz values go
through :func:`~nnqs_fast.dynamics._spectral.propagator_factors`, the package's one home of ``p`` and ``g``).
Convergence is checked every few steps: the coefficient vectors of every time and column must change by less
than ``tol`` (default ``1e-12``) relative to their norm, plus a rounding floor ``64 ε ‖f(T_m)‖ ‖S‖`` (the
accuracy any method, ``eigh`` included, has for ``f(H) S`` in float64). When the space becomes invariant
(``n`` steps at most) the result is exact. A space that has not converged at its cap (:func:`max_dimension`:
``min(n, max(600, n / 4))`` vectors) is reported to the caller, which falls back to the eigendecomposition
with a :class:`~nnqs_fast.errors.ConvergenceWarning`. A space is kept for later calls with the same ``e0``
(new times reuse its vectors and extend it only if needed).

Cost: ``m`` matrix–vector products (``2 n² m`` flops, memory-bound) + ``2 n m²`` for the reorthogonalisation,
against ``O(n³)`` for the eigendecomposition; ``m`` depends on the spectrum and the largest ``cλ_max t``, not on
the number of times (``n = 2400`` ReLU NTK at ``0.9 η_max``, ``t ≤ 10⁴``: ``m ≈ 70`` for a real residual, 128 for
a complex one; the whole prediction 2–8 % of the time of one ``eigh``, docs/performance.md).

Checks: Ritz values lie in ``[λ_min, λ_max]``, so one below ``−10 n ε λ_max`` proves ``H`` indefinite and raises
:class:`~nnqs_fast.errors.KernelNotPositiveDefiniteError` (the eigh path sees every eigenvalue; the Krylov path
only those its space resolves — an indefinite direction absent from ``e0`` is not detected, and does not enter
the result).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.blas

from .._linalg import blas_threads
from .._validation import check_memory, max_bytes
from ..errors import KernelNotPositiveDefiniteError
from ._spectral import _not_pd_error, pd_tolerance, propagator_factors

__all__ = ["KrylovSpace", "krylov_propagate", "max_dimension", "DEFAULT_TOL", "DEFAULT_MAX_DIM", "KRYLOV_MIN_N",
           "KRYLOV_WORK_BUDGET", "THREADED_MIN_N"]

#: relative change of the Krylov coefficients (every time, every column) at which the evaluation stops
DEFAULT_TOL = 1e-12
#: the cap on the Krylov dimension (:func:`max_dimension`) is at least this many vectors
DEFAULT_MAX_DIM = 600
#: ``method="auto"``: kernels with fewer rows use the eigendecomposition (a fraction of a second at that size)
KRYLOV_MIN_N = 1024
#: ``method="auto"``: after ``KRYLOV_WORK_BUDGET · n`` matrix–vector products spent on one kernel (over all
#: calls), later calls compute and cache the eigendecomposition instead (its cost on this hardware is about
#: ``n`` products of ``symv``; half of it keeps every Krylov call below one eigendecomposition)
KRYLOV_WORK_BUDGET = 0.5
#: below this many rows the Krylov loop runs with one BLAS thread: its work is level-2 BLAS (``symv``, ``gemv``),
#: memory-bound, so a second thread gains little, while on shared cores OpenBLAS's thread hand-offs made a
#: 520 × 300 complex ``gemv`` 2–70 ms instead of 1 ms and the 2400² ``symv`` 15 ms instead of 1.9 ms (2 cores,
#: load 6–12)
THREADED_MIN_N = 8192
#: first convergence check after this many basis vectors per column of ``S`` (then :func:`_check_step`)
_FIRST_CHECK = 12


def max_dimension(n: int) -> int:
    """Hard cap on the Krylov dimension for ``n`` rows: ``min(n, max(DEFAULT_MAX_DIM, n // 4))`` (beyond it the
    caller falls back to the eigendecomposition; ``n // 4`` products and their reorthogonalisation cost about
    half an ``eigh`` on this hardware, and a space of ``n`` vectors is exact)."""
    return int(min(n, max(DEFAULT_MAX_DIM, n // 4)))


def _check_step(p: int, n: int) -> int:
    """Vectors added between two convergence checks at dimension ``p``: at least 8 and ``p / 8`` (bounded
    overshoot), and enough that the check (``eigh`` of ``T_p``, ~``10 p³`` flops) costs no more than the
    products it follows (``2 n²`` flops each)."""
    return max(8, p // 8, (5 * p**3) // max(n * n, 1))


class KrylovSpace:
    """Orthonormal basis of the block Krylov space ``K(H, S)``, built one vector at a time on demand.

    ``H``: real symmetric or complex Hermitian ``(n, n)`` (only its lower triangle is read); ``S``: ``(n, b)``,
    real for real ``H``. Attributes: ``p`` processed vectors (``H q_j`` known for ``j < p``), ``k ≥ p`` basis
    vectors, ``exhausted`` once the space is invariant under ``H`` (every result is then exact), ``matvecs``.
    """

    def __init__(self, H: np.ndarray, S: np.ndarray, *, max_dim: int | None = None) -> None:
        n = H.shape[0]
        self.n = n
        self.cplx = bool(np.iscomplexobj(H))
        self.dtype = np.complex128 if self.cplx else np.float64
        S = np.asarray(S, dtype=self.dtype)
        if S.ndim != 2 or S.shape[0] != n:
            raise ValueError(f"S must have shape ({n}, b), got {S.shape}")  # internal misuse
        item = np.dtype(self.dtype).itemsize
        max_dim = max_dimension(n) if max_dim is None else max_dim
        self.cap = int(min(n, max_dim, max(max_bytes() // (2 * n * item), 1)))  # half the per-array budget
        check_memory((self.cap * n + self.cap * self.cap) * np.dtype(self.dtype).itemsize,
                     f"the Krylov basis ({self.cap} vectors of {n})")
        self._set_matvec(H)
        self.Q = np.empty((self.cap, n), self.dtype)         # rows: orthonormal basis vectors
        self.Hc = np.zeros((self.cap, self.cap), self.dtype)  # Hc[i, j] = q_iᴴ H q_j (i < k when j was processed)
        self.b = S.shape[1]
        self.E = np.zeros((self.cap, self.b), self.dtype)    # Q_kᴴ S
        self.s_norm = np.linalg.norm(S, axis=0)
        self.k = 0
        self.p = 0
        self.matvecs = 0
        self.h_scale = 0.0                                    # running max ‖H q‖ (≈ λ_max after a few steps)
        self.truncated = False                                # a new direction was refused: the cap was reached
        self.p_check = 0                                      # dimension of the last check before convergence
        for j in range(self.b):                               # orthonormal basis of range(S), dependent columns out
            w = S[:, j].copy()
            if self.k:
                w, h = self._orth(w, self.k)
                self.E[: self.k, j] = h
            nrm = float(np.linalg.norm(w))
            if nrm > 1e-13 * self.s_norm[j] and nrm > 0 and self.k < self.cap:
                self.Q[self.k] = w / nrm
                self.E[self.k, j] = nrm
                self.k += 1
        self.exhausted = self.k == 0

    # ---- building -----------------------------------------------------------------------------------------
    def _set_matvec(self, H: np.ndarray) -> None:
        """``q -> H q`` from the lower triangle of ``H`` by BLAS ``symv``/``hemv`` (no copy of ``H``)."""
        if not (H.flags.c_contiguous or H.flags.f_contiguous):
            H = np.ascontiguousarray(H)
        if self.cplx:
            H = np.asarray(H, np.complex128)
            hemv = scipy.linalg.blas.get_blas_funcs("hemv", (H,))
            if H.flags.f_contiguous:
                self._mv = lambda q: hemv(1.0, H, q, lower=1)
            else:  # Hᵀ (Fortran view) = conj(H): its upper triangle is H's lower one, and Hq = conj(Hᵀ conj(q))
                Ht = H.T
                self._mv = lambda q: np.conj(hemv(1.0, Ht, np.conj(q), lower=0))
        else:
            H = np.asarray(H, np.float64)
            symv = scipy.linalg.blas.get_blas_funcs("symv", (H,))
            if H.flags.f_contiguous:
                self._mv = lambda q: symv(1.0, H, q, lower=1)
            else:
                Ht = H.T
                self._mv = lambda q: symv(1.0, Ht, q, lower=0)

    def _orth(self, w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Classical Gram–Schmidt twice against ``Q[:k]``: ``(w − Q_k h, h = Q_kᴴ w)``."""
        Qk = self.Q[:k]
        h = (Qk @ w.conj()).conj() if self.cplx else Qk @ w    # Q_kᴴ w without a conjugated copy of Q_k
        w = w - Qk.T @ h
        h2 = (Qk @ w.conj()).conj() if self.cplx else Qk @ w
        w -= Qk.T @ h2
        return w, h + h2

    def extend(self, p_target: int) -> None:
        """Process basis vectors until ``p = min(p_target, cap)`` or the space is invariant."""
        p_target = min(p_target, self.cap)
        while self.p < p_target and not self.exhausted:
            j = self.p
            w = np.asarray(self._mv(self.Q[j]), self.dtype)
            self.matvecs += 1
            self.h_scale = max(self.h_scale, float(np.linalg.norm(w)))
            w, h = self._orth(w, self.k)
            self.Hc[: self.k, j] = h
            nrm = float(np.linalg.norm(w))
            if nrm > 1e-13 * self.h_scale and nrm > 0:       # else: H q_j lies in the space (deflation)
                if self.k < self.cap:
                    self.Q[self.k] = w / nrm
                    self.Hc[self.k, j] = nrm
                    self.k += 1
                else:
                    self.truncated = True
            self.p += 1
            if self.p == self.k and not self.truncated:  # no unprocessed vector left: H K ⊆ K
                self.exhausted = True

    # ---- evaluation ---------------------------------------------------------------------------------------
    def ritz(self, p: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(θ ascending, Y)`` of ``T_p = Q_pᴴ H Q_p`` (upper triangle of the Gram–Schmidt coefficients; ``p``
        defaults to the processed vectors)."""
        p = self.p if p is None else p
        U = np.triu(self.Hc[:p, :p])
        T = U + np.triu(U, 1).conj().T
        if self.cplx:
            T[np.diag_indices(p)] = T.diagonal().real
        if not np.all(np.isfinite(T)):
            raise KernelNotPositiveDefiniteError("the train-train kernel produced non-finite values in its Krylov "
                                                 "space; check the kernel for inf/NaN")
        theta, Y = scipy.linalg.eigh(T, check_finite=False)
        return theta, Y

    def coefficients(self, F: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """``Y diag(F[:, t]) Yᴴ E`` for every column ``t`` of ``F`` (``(p, T)``): shape ``(p, T, b)``."""
        p, T = F.shape
        Z = Y.conj().T @ self.E[:p]                            # (p, b)
        C = Y @ (F[:, :, None] * Z[:, None, :]).reshape(p, T * self.b)
        return C.reshape(p, T, self.b)

    def expand(self, C: np.ndarray) -> np.ndarray:
        """``Q_p C`` for coefficients ``(p, ...)``: shape ``(n, ...)``."""
        p = C.shape[0]
        return (self.Q[:p].T @ C.reshape(p, -1)).reshape((self.n,) + C.shape[1:])


def krylov_propagate(space: KrylovSpace, c: float, times: np.ndarray, discrete: bool, *, what: str,
                     tol: float = DEFAULT_TOL) -> tuple[np.ndarray, np.ndarray] | None:
    """``(p(H, t) S, g(H, t) S)`` for finite ``times > 0``, each of shape ``(n, T, b)``; ``None`` when the space
    reached its cap without converging (the caller falls back to the eigendecomposition).

    Extends ``space`` as needed (a space reused for new times keeps its vectors). Raises
    :class:`~nnqs_fast.errors.KernelNotPositiveDefiniteError` when a Ritz value proves ``H`` indefinite.
    """
    times = np.asarray(times, dtype=np.float64)
    n, b, T = space.n, space.b, times.size
    if space.k == 0:                                           # S = 0
        z = np.zeros((n, T, b), space.dtype)
        return z, z.copy()
    with blas_threads(1 if n < THREADED_MIN_N else None):
        return _propagate(space, c, times, discrete, what, tol)


def _propagate(space: KrylovSpace, c: float, times: np.ndarray, discrete: bool, what: str,
               tol: float) -> tuple[np.ndarray, np.ndarray] | None:
    n = space.n
    eps = np.finfo(np.float64).eps

    def evaluate(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        theta, Y = space.ritz(p)
        if theta[0] < -pd_tolerance(max(theta[-1], 0.0), n):
            raise _not_pd_error(float(theta[0]), float(theta[-1]), n, what,
                                "indefinite (a Ritz value of its Krylov space is negative)")
        P, G = propagator_factors(np.maximum(theta, 0.0), times, c, discrete)  # (p, T)
        return space.coefficients(P, Y), space.coefficients(G, Y), P, G

    def converged(new: tuple[np.ndarray, ...], old: tuple[np.ndarray, ...]) -> bool:
        for C, Cold, F in ((new[0], old[0], new[2]), (new[1], old[1], new[3])):
            d = C.copy()
            d[: Cold.shape[0]] -= Cold
            change = np.linalg.norm(d, axis=0)                 # (T, b)
            size = np.linalg.norm(C, axis=0)
            floor = 64 * eps * np.abs(F).max(axis=0)[:, None] * space.s_norm[None, :]
            if not np.all(change <= tol * size + floor):
                return False
        return True

    prev = None
    if 0 < space.p_check < space.p:                            # a reused space: compare with its last check
        prev = evaluate(space.p_check)
    target = max(space.p, _FIRST_CHECK * space.b)
    while True:
        space.extend(target)
        cur = evaluate(space.p)
        if space.exhausted or (prev is not None and converged(cur, prev)):
            break
        if space.p >= space.k:                                 # capped (not invariant): no vector left
            return None
        space.p_check = space.p
        prev = cur
        target = space.p + _check_step(space.p, n)
    return space.expand(cur[0]), space.expand(cur[1])
