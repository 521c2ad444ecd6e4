"""Transverse-field Ising model, Eq. (19) of the paper: ``H = −Σ_<ij> Z_i Z_j − J Σ_i X_i``.

Basis: integer ``s`` in ``[0, 2**L)``, row/column ``s`` of the matrix; bit ``i`` of ``s`` is site ``i`` of the
:class:`~nnqs_fast.physics.Lattice` (site ``x + lx*y``); bit 1 = spin up (Z = +1), bit 0 = spin down (Z = −1).
X_i flips bit i. The matrix is real symmetric scipy.sparse CSR (float64).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import check_finite_scalar, check_memory
from ..errors import InvalidInputError
from .basis import MAX_SPIN_SITES, spin_basis
from .lattice import Lattice

__all__ = ["tfim_hamiltonian", "tfim_memory_bytes", "tfim_basis"]


def _check_lattice(lattice: object) -> Lattice:
    if not isinstance(lattice, Lattice):
        raise InvalidInputError(f"lattice must be a nnqs_fast.physics.Lattice, got {type(lattice).__name__}")
    return lattice


def tfim_memory_bytes(n_sites: int, n_vectors: int = 12) -> int:
    """Estimated peak bytes for the TFIM on ``n_sites``: CSR matrix (+COO build) and ``n_vectors`` complex vectors
    plus the float64 input encoding."""
    dim = 2 ** n_sites
    nnz = dim * (n_sites + 1)
    return int(nnz * (8 + 8 + 8) * 2 + dim * 16 * n_vectors + dim * n_sites * 8)


def tfim_basis(n_sites: int) -> np.ndarray:
    """The TFIM basis codes ``0 .. 2**n_sites − 1`` (int64), in matrix order."""
    return np.arange(2 ** n_sites, dtype=np.int64)


def tfim_hamiltonian(lattice: Lattice, J: float = 0.1) -> sp.csr_matrix:
    """Sparse TFIM Hamiltonian, Eq. (19): ``H = −Σ_<ij> Z_i Z_j − J Σ_i X_i`` on ``lattice`` (CSR, 2^L × 2^L).

    Each bond of ``lattice.bonds`` contributes once. Raises MemoryLimitError when the estimate exceeds the budget.
    """
    lattice = _check_lattice(lattice)
    J = check_finite_scalar(J, "J")
    L = lattice.n_sites
    if L > MAX_SPIN_SITES:
        raise InvalidInputError(f"the TFIM basis needs n_sites <= {MAX_SPIN_SITES}, got {L}")
    check_memory(tfim_memory_bytes(L), f"the TFIM on {lattice.lx}x{lattice.ly} (dim 2^{L})")
    dim = 1 << L
    s = np.arange(dim, dtype=np.int64)
    z = spin_basis(L)  # (dim, L) spins ±1
    diag = np.zeros(dim)
    for i, j in lattice.bonds:
        diag -= z[:, i] * z[:, j]
    del z
    if J == 0.0:
        return sp.diags(diag, format="csr")
    rows = np.empty((L + 1, dim), dtype=np.int64)
    cols = np.empty((L + 1, dim), dtype=np.int64)
    vals = np.empty((L + 1, dim))
    rows[0] = s
    cols[0] = s
    vals[0] = diag
    for i in range(L):
        rows[i + 1] = s
        cols[i + 1] = s ^ (1 << i)
        vals[i + 1] = -J
    H = sp.csr_matrix((vals.ravel(), (rows.ravel(), cols.ravel())), shape=(dim, dim))
    H.sort_indices()
    return H
