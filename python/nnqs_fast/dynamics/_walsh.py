"""The energy flow of a Walsh-structured kernel, run in the Walsh (X) domain (private; used by ``loss_flow``).

A kernel with ``Θ_p(x, x') = k_p(x ⊕ x')`` on the ``2^L`` spin basis is diagonal after the normalised
Walsh–Hadamard transform ``W`` (``Θ_p = W diag(λ_p) W``, :func:`nnqs_fast.dynamics.flow.walsh_spectrum`). ``W`` is
real, orthogonal and its own inverse, so for a real Hamiltonian the whole energy flow can be carried out on
``ψ̃ = W ψ`` with ``H̃ = W H W``:

    ⟨ψ|ψ⟩ = ⟨ψ̃|ψ̃⟩,   ⟨ψ|H|ψ⟩ = ⟨ψ̃|H̃|ψ̃⟩,   W Θ ∇ = diag(λ) W ∇ = diag(λ) ∇̃  (∇̃ the gradient of L[W ψ̃])

so one discrete step ``ψ̃ ← ψ̃ − η λ ⊙ 2(H̃ψ̃ − E ψ̃)/⟨ψ̃|ψ̃⟩`` is ``W`` times the step
``ψ ← ψ − η Θ 2(Hψ − Eψ)/⟨ψ|ψ⟩`` of the flow (the same step ``k``, only the rounding differs): no transform per
step, only at the recorded steps. ``H̃`` is sparse whenever ``H`` is a sum of few Pauli strings (``W`` swaps X and
Z): for ``H = Σ_m X^m D_m`` (``X^m`` the bit flip by mask ``m``, ``D_m`` diagonal),
``H̃[a, b] = Σ_m (−1)^{popcount(a & m)} f_m(a ⊕ b)`` with ``f_m = H_D d_m / D`` the (unnormalised) Walsh transform
of the diagonal ``d_m`` (:func:`walsh_conjugate`); TFIM's ``Σ J z_i z_j − h Σ x_i`` becomes
``Σ J X_i X_j − h Σ z_i``.

The states are held as one real ``(D, 2K)`` block (columns: the K real parts, then the K imaginary parts), so
``H̃ψ̃`` for the batch is one sparse-times-dense product, and the norms, energies and the update are a few
vectorised passes over preallocated buffers. Everything is float64 (the kernel enters only through ``λ``,
computed in float64 from the given — possibly float32-rounded — kernel).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._backend import core_module
from ..errors import ShapeMismatchError

#: give up on H̃ when building it would take more than this many entry evaluations (masks × support × D)
_MAX_WORK = 2e8
#: ... or when it has more than this many times the nonzeros of H (the per-step product would be slower)
_MAX_FILL = 4.0


def fwht_rows(x: np.ndarray) -> np.ndarray:
    """The normalised Walsh–Hadamard transform ``H^{⊗L}/√D`` along the last axis of a real float64 array
    (``D = 2^L``): the butterflies of ``nnqs/walsh.hpp`` (``_core.fwht_rows``; eight vectors per SIMD panel, two
    stages per pass, ``O(D log D)`` per vector, bit-identical for any thread count). Returns a new C-contiguous
    float64 array of the same shape."""
    shape = x.shape
    D = shape[-1]
    if D < 1 or D & (D - 1):
        raise ShapeMismatchError(f"the Walsh–Hadamard transform needs 2^L entries on the last axis, got {D}")
    z = np.array(x, dtype=np.float64, order="C", copy=True).reshape(-1, D)
    core_module().fwht_rows(z)
    return z.reshape(shape)


def _parity(a: np.ndarray, m: int) -> np.ndarray:
    """``(−1)^{popcount(a & m)}`` as float64."""
    from ..physics.encoding import popcount

    return 1.0 - 2.0 * (popcount(np.bitwise_and(a, m)) & 1)


def walsh_conjugate(H: Any) -> sp.csr_matrix | None:
    """``H̃ = W H W`` for a real sparse (or dense) ``H`` on ``D = 2^L`` states, as CSR (module docstring), or None
    when it would not be sparse (more than ``4×`` the nonzeros of ``H``, or too costly to build). Entries below
    ``1e-13 max|H|`` (the round-off of the float64 transforms) are dropped."""
    A = sp.coo_matrix(H)
    D = A.shape[0]
    if A.dtype.kind == "c" or A.shape != (D, D) or D < 2 or D & (D - 1):
        return None
    A.sum_duplicates()
    rows, cols, vals = A.row.astype(np.int64), A.col.astype(np.int64), A.data.astype(np.float64)
    keep = vals != 0
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    nnz = max(rows.size, D)
    scale = float(np.max(np.abs(vals))) if vals.size else 0.0
    masks, inv = np.unique(rows ^ cols, return_inverse=True)
    if masks.size * D > _MAX_WORK:
        return None
    d = np.zeros((masks.size, D))
    d[inv, cols] = vals                                           # H = Σ_m X^m diag(d_m): H[y ⊕ m, y] = d_m(y)
    f = fwht_rows(d) / np.sqrt(D)                                 # f_m = H_D d_m / D
    f[np.abs(f) <= 1e-13 * scale] = 0.0
    support = np.flatnonzero(np.any(f != 0, axis=0))              # the flip masks n of H̃
    if masks.size * support.size * D > _MAX_WORK or support.size * D > _MAX_FILL * nnz:
        return None
    a = np.arange(D, dtype=np.int64)
    signs = np.stack([_parity(a, int(m)) for m in masks])         # (masks, D)
    coef = f[:, support].T @ signs                                # (support, D): H̃[a, a ⊕ n] = Σ_m s_m(a) f_m(n)
    coef[np.abs(coef) <= 1e-13 * scale] = 0.0
    r = np.broadcast_to(a, coef.shape)
    c = r ^ support[:, None]
    out = sp.csr_matrix((coef.ravel(), (r.ravel(), c.ravel())), shape=(D, D))
    out.eliminate_zeros()
    out.sort_indices()
    return out


class WalshEnergyFlow:
    """One discrete step / the velocity of the energy flow in the Walsh domain for ``K`` states (module
    docstring). ``lams``: the kernel eigenvalues, one array (shared) or two (ψ1, ψ2).

    The states are real columns (``Re ψ̃_k`` in column ``k``, ``Im ψ̃_k`` in column ``K + k``, zero padding up to a
    multiple of 8) stored in panels of 8 columns: ``u`` has shape ``(P, D, 8)`` (one row of a panel is a cache
    line, and a panel stays in cache while the sparse product gathers its rows). ``engine``: ``"core"`` — the fused
    C++ step ``nnqs_fast._core.walsh_energy_step`` (two passes over the rows, OpenMP over row blocks, fixed-order
    sums) — or ``"numpy"`` (SciPy's sparse product per panel and NumPy passes on preallocated buffers)."""

    LANES = 8

    def __init__(self, Ht: sp.csr_matrix, lams: tuple[np.ndarray, ...], n_states: int, engine: str = "core") -> None:
        D, K, W = Ht.shape[0], n_states, self.LANES
        self.Ht = sp.csr_matrix(Ht, dtype=np.float64)
        self.D, self.K = D, K
        self.P = -(-2 * K // W)
        self.lam2 = np.ascontiguousarray(np.stack([lams[0], lams[-1]], axis=1), dtype=np.float64)   # (D, 2)
        self.hu = np.zeros((self.P, D, W))                            # H̃ψ̃, then the step
        self.tmp = np.empty((self.P, D, W))
        self._core = None
        if engine == "core":
            self._core = core_module().walsh_energy_step
            self._indptr = self.Ht.indptr.astype(np.int64)
            self._indices = self.Ht.indices.astype(np.int64)
            return
        from scipy.sparse import _sparsetools  # accumulates into a preallocated output

        self._matvecs = _sparsetools.csr_matvecs
        part = np.full(self.P * W, -1)
        part[:K], part[K:2 * K] = 0, 1
        lam_full = np.where(part >= 0, self.lam2[:, np.maximum(part, 0)], 0.0)       # (D, P·W)
        self.lam_full = np.ascontiguousarray(lam_full.reshape(D, self.P, W).transpose(1, 0, 2))
        self.col = np.zeros((self.P * W,))

    # state conversion ------------------------------------------------------------------------------------------
    def to_block(self, psi: np.ndarray) -> np.ndarray:
        """``(K, D)`` complex ``ψ`` → the ``(P, D, 8)`` panels of ``ψ̃ = W ψ``."""
        cols = np.zeros((self.P * self.LANES, self.D))
        cols[: self.K], cols[self.K: 2 * self.K] = psi.real, psi.imag
        u = fwht_rows(cols).reshape(self.P, self.LANES, self.D)
        return np.ascontiguousarray(u.transpose(0, 2, 1))

    def from_block(self, u: np.ndarray) -> np.ndarray:
        """The panels of ``ψ̃`` → ``(K, D)`` complex ``ψ = W ψ̃``."""
        cols = np.asarray(u).reshape(self.P, self.D, self.LANES).transpose(0, 2, 1).reshape(-1, self.D)
        p = fwht_rows(cols[: 2 * self.K])
        return p[: self.K] + 1j * p[self.K:]

    # one pass ------------------------------------------------------------------------------------------------
    def energy(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(E, ⟨ψ|ψ⟩)`` per state (float64); fills ``self.hu = H̃ u``."""
        hu, K, H = self.hu, self.K, self.Ht
        hu.fill(0.0)
        for p in range(self.P):
            if self._core is not None:
                hu[p] = H @ u[p]
            else:
                self._matvecs(self.D, self.D, self.LANES, H.indptr, H.indices, H.data, u[p].ravel(), hu[p].ravel())
        q = np.einsum("pij,pij->pj", u, u).ravel()
        s = np.einsum("pij,pij->pj", u, hu).ravel()
        n2 = q[:K] + q[K: 2 * K]
        return (s[:K] + s[K: 2 * K]) / n2, n2

    def gradient_step(self, u: np.ndarray, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Put ``factor · λ ⊙ ∇̃_u L`` (``∇̃ = 2(H̃u − E u)/⟨ψ|ψ⟩`` per state) in ``self.hu``; return ``(E, ⟨ψ|ψ⟩)``
        of ``u``."""
        if self._core is not None:
            e, n2 = self._core(self._indptr, self._indices, self.Ht.data, self.K, u, self.hu, self.lam2, factor,
                               False)
            return e, n2
        e, n2 = self.energy(u)
        K, col, hu, tmp = self.K, self.col, self.hu, self.tmp
        colv = col.reshape(self.P, 1, self.LANES)
        col[:K], col[K: 2 * K] = e, e
        np.multiply(u, colv, out=tmp)
        np.subtract(hu, tmp, out=hu)                                  # H̃u − E u
        col[:K] = (2.0 * factor) / n2
        col[K: 2 * K] = col[:K]
        np.multiply(hu, colv, out=hu)
        np.multiply(hu, self.lam_full, out=hu)
        return e, n2

    def step(self, u: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        """``u ← u − η λ ⊙ ∇̃`` in place (one gradient-descent step); returns ``(E, ⟨ψ|ψ⟩)`` before the step."""
        if self._core is not None:
            e, n2 = self._core(self._indptr, self._indices, self.Ht.data, self.K, u, self.hu, self.lam2, lr, True)
            return e, n2
        e, n2 = self.gradient_step(u, lr)
        np.subtract(u, self.hu, out=u)
        return e, n2
