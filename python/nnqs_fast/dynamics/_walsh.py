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

#: give up on H̃ when building it would take more than this many entry evaluations (masks × support × D)
_MAX_WORK = 2e8
#: ... or when it has more than this many times the nonzeros of H (the per-step product would be slower)
_MAX_FILL = 4.0


def fwht_rows(x: np.ndarray) -> np.ndarray:
    """The normalised Walsh–Hadamard transform ``H^{⊗L}/√D`` along the last axis of a real float64 array
    (``D = 2^L``), computed as ``(H_a ⊗ H_b)``: one GEMM over the low bits for all rows at once, then a batched
    product over the high bits. Returns a new C-contiguous float64 array of the same shape."""
    from .losses import _sylvester

    shape = x.shape
    D = shape[-1]
    L = int(D).bit_length() - 1
    a = L // 2
    na, nb = 1 << a, 1 << (L - a)
    R = int(np.prod(shape[:-1], dtype=np.int64))
    y = np.ascontiguousarray(x, dtype=np.float64).reshape(R * na, nb) @ _sylvester(L - a)   # low bits: one GEMM
    z = np.matmul(_sylvester(a), y.reshape(R, na, nb))                                         # high bits
    z *= 1.0 / np.sqrt(D)
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
    """One discrete step / the velocity of the energy flow in the Walsh domain for ``K`` states held as a real
    ``(D, 2K)`` block (module docstring). ``lams``: the kernel eigenvalues, one array (shared) or two (ψ1, ψ2)."""

    def __init__(self, Ht: sp.csr_matrix, lams: tuple[np.ndarray, ...], n_states: int) -> None:
        D, K = Ht.shape[0], n_states
        self.Ht = sp.csr_matrix(Ht, dtype=np.float64)
        self.D, self.K = D, K
        lam = np.empty((D, 2, 1))
        lam[:, 0, 0] = lams[0]
        lam[:, 1, 0] = lams[-1]
        self.lam = lam
        self.hu = np.zeros((D, 2 * K))                               # H̃ψ̃, then the step
        self.tmp = np.empty((D, 2 * K))
        self.col = np.empty(2 * K)
        try:
            from scipy.sparse import _sparsetools

            self._matvecs = _sparsetools.csr_matvecs                 # accumulates into a preallocated output
        except (ImportError, AttributeError):   # pragma: no cover - SciPy moved its private kernels
            self._matvecs = None

    # state conversion ------------------------------------------------------------------------------------------
    def to_block(self, psi: np.ndarray) -> np.ndarray:
        """``(K, D)`` complex ``ψ`` → the ``(D, 2K)`` real block of ``ψ̃ = W ψ``."""
        u = fwht_rows(np.concatenate([psi.real, psi.imag], axis=0))    # (2K, D)
        return np.ascontiguousarray(u.T)

    def from_block(self, u: np.ndarray) -> np.ndarray:
        """The ``(D, 2K)`` block of ``ψ̃`` → ``(K, D)`` complex ``ψ = W ψ̃``."""
        p = fwht_rows(u.T)
        return p[: self.K] + 1j * p[self.K:]

    # one pass ------------------------------------------------------------------------------------------------
    def energy(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fill ``self.hu = H̃ u``; return ``(E, ⟨ψ|ψ⟩)`` per state (float64)."""
        hu = self.hu
        if self._matvecs is not None:
            hu.fill(0.0)
            H = self.Ht
            self._matvecs(self.D, self.D, 2 * self.K, H.indptr, H.indices, H.data, u.ravel(), hu.ravel())
        else:   # pragma: no cover
            hu[...] = self.Ht @ u
        K = self.K
        q = np.einsum("ij,ij->j", u, u)
        s = np.einsum("ij,ij->j", u, hu)
        n2 = q[:K] + q[K:]
        return (s[:K] + s[K:]) / n2, n2

    def gradient_step(self, u: np.ndarray, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Put ``factor · λ ⊙ ∇̃_u L`` (``∇̃ = 2(H̃u − E u)/⟨ψ|ψ⟩`` per state) in ``self.hu``; return ``(E, ⟨ψ|ψ⟩)``
        of ``u``."""
        e, n2 = self.energy(u)
        K, col, hu, tmp = self.K, self.col, self.hu, self.tmp
        col[:K] = e
        col[K:] = e
        np.multiply(u, col, out=tmp)
        np.subtract(hu, tmp, out=hu)                                  # H̃u − E u
        col[:K] = (2.0 * factor) / n2
        col[K:] = col[:K]
        np.multiply(hu, col, out=hu)
        hv = hu.reshape(self.D, 2, K)
        np.multiply(hv, self.lam, out=hv)
        return e, n2

    def step(self, u: np.ndarray, lr: float) -> tuple[np.ndarray, np.ndarray]:
        """``u ← u − η λ ⊙ ∇̃`` in place (one gradient-descent step); returns ``(E, ⟨ψ|ψ⟩)`` before the step."""
        e, n2 = self.gradient_step(u, lr)
        np.subtract(u, self.hu, out=u)
        return e, n2
