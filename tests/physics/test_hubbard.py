"""Fermi–Hubbard (Eq. 20) against independent oracles: the two-site closed form, U = 0 single-particle levels
(full spectra, both boundaries, 1D rings and 2D lattices: the check of the fermion signs), and a Fock-space
construction from explicit Jordan–Wigner operator products."""

from __future__ import annotations

import itertools
from functools import reduce
from math import comb

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from nnqs_fast.errors import InvalidInputError, MemoryLimitError, NonFiniteError
from nnqs_fast.physics import HubbardBasis, Lattice, hubbard_hamiltonian


@pytest.mark.parametrize("U", [0.0, 1.0, 4.0, 8.0, 13.0])
@pytest.mark.parametrize("t", [1.0, 0.6])
@pytest.mark.parametrize("shape,boundary", [((2, 1), "open"), ((2, 1), "periodic"), ((1, 2), "periodic")])
def test_two_site_closed_form(U: float, t: float, shape: tuple[int, int], boundary: str) -> None:
    H, basis = hubbard_hamiltonian(Lattice(*shape, boundary), 1, 1, t=t, U=U)
    assert basis.dim == 4
    e0 = np.linalg.eigvalsh(H.toarray())[0]
    # a doubled periodic bond on the side of 2 would give hopping 2t and fail this
    assert e0 == pytest.approx((U - np.sqrt(U**2 + 16 * t**2)) / 2, abs=1e-12)


def _free_spectrum(lat: Lattice, n_up: int, n_down: int, t: float) -> np.ndarray:
    """All many-body energies at U = 0: sums of distinct single-particle levels of the hopping matrix."""
    eps = np.linalg.eigvalsh(-t * lat.adjacency())
    su = [sum(c) for c in itertools.combinations(eps, n_up)]
    sd = [sum(c) for c in itertools.combinations(eps, n_down)]
    return np.sort(np.add.outer(su, sd).ravel())


@pytest.mark.parametrize("shape,boundary,n_up,n_down", [
    ((4, 1), "periodic", 2, 2),   # even ring: the wrap-around hop carries the JW sign (-1)^(N-1)
    ((5, 1), "periodic", 2, 3),
    ((6, 1), "periodic", 3, 1),
    ((2, 3), "open", 2, 2),
    ((2, 3), "periodic", 2, 1),
    ((3, 3), "periodic", 2, 1),
    ((3, 3), "open", 3, 1),
    ((2, 2), "periodic", 2, 2),
    ((3, 2), "open", 1, 3),
])
def test_u0_full_spectrum_from_single_particle_levels(shape, boundary, n_up, n_down) -> None:
    lat = Lattice(*shape, boundary)
    H, basis = hubbard_hamiltonian(lat, n_up, n_down, t=0.8, U=0.0)
    assert basis.dim == comb(lat.n_sites, n_up) * comb(lat.n_sites, n_down)
    np.testing.assert_allclose(np.linalg.eigvalsh(H.toarray()), _free_spectrum(lat, n_up, n_down, 0.8), atol=1e-10)


@pytest.mark.parametrize("boundary", ["open", "periodic"])
@pytest.mark.parametrize("n_up,n_down", [(2, 2), (3, 1)])
def test_u0_ground_energy_3x4(boundary: str, n_up: int, n_down: int) -> None:
    lat = Lattice(3, 4, boundary)
    H, _ = hubbard_hamiltonian(lat, n_up, n_down, U=0.0)
    eps = np.sort(np.linalg.eigvalsh(-lat.adjacency()))
    e0 = spla.eigsh(H, k=1, which="SA", v0=np.ones(H.shape[0]), tol=1e-12)[0][0]
    assert e0 == pytest.approx(eps[:n_up].sum() + eps[:n_down].sum(), abs=1e-9)


def _fock_hamiltonian(lat: Lattice, t: float, U: float) -> sp.csr_matrix:
    """H in the full 4^L Fock space from explicit JW operators c_p = (Π_{q<p} Z_q) σ⁻_p, mode p = bit p of the
    index, modes: (site i, up) = i, (site i, down) = L + i."""
    L = lat.n_sites
    M = 2 * L
    Zs = sp.diags([1.0, -1.0])  # (-1)^n on |0>, |1>
    Sm = sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0]]))  # |1> -> |0>
    Id = sp.identity(2)

    def c(p: int) -> sp.csr_matrix:
        ops = [Zs if q < p else (Sm if q == p else Id) for q in range(M)]
        return reduce(lambda A, B: sp.kron(A, B, format="csr"), reversed(ops))

    cs = [c(p) for p in range(M)]
    H = sp.csr_matrix((4**L, 4**L))
    for i, j in lat.bonds:
        for s in (0, L):
            hop = cs[i + s].T @ cs[j + s]
            H = H - t * (hop + hop.T)
    for i in range(L):
        H = H + U * (cs[i].T @ cs[i]) @ (cs[i + L].T @ cs[i + L])
    return H.tocsr()


@pytest.mark.parametrize("shape,boundary,n_up,n_down", [((2, 3), "periodic", 2, 2), ((3, 2), "open", 2, 1),
                                                        ((2, 2), "open", 1, 2)])
def test_matches_jordan_wigner_fock_construction(shape, boundary, n_up, n_down) -> None:
    lat = Lattice(*shape, boundary)
    t, U = 0.9, 3.7
    H, basis = hubbard_hamiltonian(lat, n_up, n_down, t=t, U=U)
    Hf = _fock_hamiltonian(lat, t, U)
    idx = basis.codes
    np.testing.assert_allclose(H.toarray(), Hf[idx][:, idx].toarray(), atol=1e-13)
    # the sector is closed under Hf: no weight leaks out of it
    rest = np.setdiff1d(np.arange(Hf.shape[0]), idx)
    assert abs(Hf[rest][:, idx]).max() == 0.0


def test_sector_dimension_basis_order_and_hermiticity() -> None:
    for (lx, ly), nu, nd in [((3, 4), 2, 2), ((2, 3), 0, 4), ((5, 1), 5, 0), ((1, 1), 1, 1)]:
        b = HubbardBasis(lx * ly, nu, nd)
        L = lx * ly
        assert b.dim == comb(L, nu) * comb(L, nd)
        assert np.all(np.diff(b.codes) > 0)
        up, dn = b.codes & ((1 << L) - 1), b.codes >> L
        assert np.all(np.bitwise_count(up) == nu) and np.all(np.bitwise_count(dn) == nd)
    H, b = hubbard_hamiltonian(Lattice(3, 4, "periodic"), 2, 2, U=8.0)
    assert H.shape == (4356, 4356) and b.dim == 4356
    assert abs(H - H.T).max() == 0.0
    # U term on the diagonal counts double occupancies
    L = 12
    double = np.bitwise_count(b.codes & (b.codes >> L) & ((1 << L) - 1))
    H0, _ = hubbard_hamiltonian(Lattice(3, 4, "periodic"), 2, 2, U=0.0)
    np.testing.assert_allclose((H - H0).diagonal(), 8.0 * double)


def test_hubbard_bad_input() -> None:
    lat = Lattice(2, 2)
    with pytest.raises(InvalidInputError, match="n_up"):
        hubbard_hamiltonian(lat, 5, 1)
    with pytest.raises(InvalidInputError, match="n_down"):
        hubbard_hamiltonian(lat, 1, 5)
    with pytest.raises(InvalidInputError, match="n_down"):
        hubbard_hamiltonian(lat, 1, -1)
    with pytest.raises(NonFiniteError, match="U"):
        hubbard_hamiltonian(lat, 1, 1, U=float("inf"))
    with pytest.raises(NonFiniteError, match="t"):
        hubbard_hamiltonian(lat, 1, 1, t=float("nan"))
    with pytest.raises(MemoryLimitError):
        hubbard_hamiltonian(Lattice(5, 6), 15, 15)
    with pytest.raises(InvalidInputError, match="n_sites"):
        hubbard_hamiltonian(Lattice(8, 4), 1, 1)


def test_large_lattice_sparse_sector_and_basis_paths() -> None:
    from nnqs_fast.physics.encoding import fixed_popcount_states

    # L > 20 enumerates combinations instead of filtering all 2^L integers; both must agree with the definition
    s = fixed_popcount_states(22, 2)
    assert s.size == comb(22, 2) and np.all(np.diff(s) > 0) and np.all(np.bitwise_count(s) == 2)
    lat = Lattice(5, 5, "periodic")  # 25 sites: one up + one down fermion, U = 0 -> sum of two lowest levels
    H, basis = hubbard_hamiltonian(lat, 1, 1, U=0.0)
    assert basis.dim == 625
    eps = np.linalg.eigvalsh(-lat.adjacency())
    assert np.linalg.eigvalsh(H.toarray())[0] == pytest.approx(2 * eps[0], abs=1e-10)
    with pytest.raises(MemoryLimitError):
        HubbardBasis(31, 15, 15)
