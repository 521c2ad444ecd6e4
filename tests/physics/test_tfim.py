"""TFIM (Eq. 19) against independent oracles: Pauli Kronecker products and the free-fermion (Majorana) solution."""

from __future__ import annotations

from functools import reduce

import numpy as np
import pytest
import scipy.sparse as sp

from nnqs_fast.errors import InvalidInputError, MemoryLimitError, NonFiniteError
from nnqs_fast.physics import Lattice, tfim_hamiltonian

# Single-site operators in the basis (bit 0, bit 1) = (spin down, spin up): Z = diag(-1, +1).
Z = np.diag([-1.0, 1.0])
X = np.array([[0.0, 1.0], [1.0, 0.0]])
I2 = np.eye(2)


def _site_op(op: np.ndarray, i: int, L: int) -> np.ndarray:
    # kron order: site L-1 leftmost so that site i is bit i of the row index
    return reduce(np.kron, [op if k == i else I2 for k in reversed(range(L))])


def test_matches_pauli_kronecker_construction() -> None:
    lx, ly, J = 2, 3, 0.37
    L = lx * ly
    bonds = [(0, 1), (2, 3), (4, 5), (0, 2), (2, 4), (1, 3), (3, 5)]  # open 2x3, written out by hand
    H_ref = -sum(_site_op(Z, i, L) @ _site_op(Z, j, L) for i, j in bonds) - J * sum(_site_op(X, i, L)
                                                                                     for i in range(L))
    H = tfim_hamiltonian(Lattice(lx, ly, "open"), J)
    assert sp.isspmatrix_csr(H) or isinstance(H, sp.csr_array)
    np.testing.assert_allclose(H.toarray(), H_ref, atol=1e-14)


def _free_fermion_open_chain_e0(L: int, J: float) -> float:
    """Ground energy of -Σ_{i<L-1} Z_i Z_{i+1} - J Σ_i X_i (open chain) from its Majorana quadratic form.

    Hadamard-rotate to -Σ X_i X_{i+1} - J Σ Z_i; with a_i = S_i X_i, b_i = S_i Y_i (S_i the Z string):
    Z_i = -i a_i b_i, X_i X_{i+1} = -i b_i a_{i+1}, so H = i Σ b_i a_{i+1} + i J Σ a_i b_i = (i/4) γ^T A γ and
    E_0 = -(1/2) Σ_k ε_k with ε_k the positive eigenvalues of iA.
    """
    A = np.zeros((2 * L, 2 * L))
    a = lambda i: 2 * i  # noqa: E731
    b = lambda i: 2 * i + 1  # noqa: E731
    for i in range(L):
        A[a(i), b(i)] += 2 * J
        A[b(i), a(i)] -= 2 * J
    for i in range(L - 1):
        A[b(i), a(i + 1)] += 2.0
        A[a(i + 1), b(i)] -= 2.0
    eps = np.linalg.eigvalsh(1j * A)
    return -0.5 * float(np.sum(eps[eps > 0]))


@pytest.mark.parametrize("J", [0.1, 0.7, 1.0, 2.3])
@pytest.mark.parametrize("shape", [(8, 1), (1, 7)])
def test_open_chain_ground_energy_free_fermions(J: float, shape: tuple[int, int]) -> None:
    L = shape[0] * shape[1]
    H = tfim_hamiltonian(Lattice(*shape, "open"), J)
    e0 = np.linalg.eigvalsh(H.toarray())[0]
    assert e0 == pytest.approx(_free_fermion_open_chain_e0(L, J), abs=1e-10)


@pytest.mark.parametrize("boundary", ["open", "periodic"])
def test_classical_limit_and_hermitian(boundary: str) -> None:
    lat = Lattice(3, 4, boundary)
    H0 = tfim_hamiltonian(lat, 0.0)
    # J = 0: diagonal, ground energy = -(number of bonds), two-fold degenerate (all up / all down)
    d = H0.diagonal()
    assert d.min() == -lat.n_bonds and np.sum(d == d.min()) == 2
    assert d[0] == d[-1] == -lat.n_bonds
    H = tfim_hamiltonian(lat, 0.1)
    assert abs(H - H.T).max() == 0.0
    assert H.shape == (4096, 4096) and H.nnz <= 4096 * 13
    assert np.all(H.diagonal() == d)


def test_tfim_bad_input() -> None:
    with pytest.raises(NonFiniteError, match="J"):
        tfim_hamiltonian(Lattice(2, 2), float("nan"))
    with pytest.raises(InvalidInputError, match="lattice"):
        tfim_hamiltonian((2, 2), 0.1)  # type: ignore[arg-type]
    with pytest.raises(MemoryLimitError):
        tfim_hamiltonian(Lattice(6, 6), 0.1)
