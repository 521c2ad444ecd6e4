"""State entropies: closed forms (product, Bell), an independent loop-based partial trace, Schmidt vs partial
trace, Rényi monotonicity, A <-> B symmetry, batching, fermion signs against the Slater-determinant formula."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from nnqs_fast import errors
from nnqs_fast.entanglement import (
    entanglement_entropy,
    entanglement_spectrum,
    entropy_from_spectrum,
    fermion_entanglement_spectrum,
    reduced_density_matrix,
    renyi_entropy,
    tsallis_entropy,
)


def random_state(rng, L, batch=()):
    psi = rng.normal(size=batch + (2 ** L,)) + 1j * rng.normal(size=batch + (2 ** L,))
    return psi / np.linalg.norm(psi, axis=-1, keepdims=True)


def rdm_by_loops(psi, A, L):
    """Independent oracle: ρ_A[a, a'] = Σ_b ψ(a,b) ψ*(a',b) by explicit bit manipulation."""
    A = sorted(A)
    B = [i for i in range(L) if i not in A]
    rho = np.zeros((2 ** len(A), 2 ** len(A)), complex)
    for s in range(2 ** L):
        for t in range(2 ** L):
            if all(((s >> i) & 1) == ((t >> i) & 1) for i in B):
                a = sum(((s >> site) & 1) << k for k, site in enumerate(A))
                ap = sum(((t >> site) & 1) << k for k, site in enumerate(A))
                rho[a, ap] += psi[s] * np.conj(psi[t])
    return rho


def test_product_state_has_zero_entropy(rng):
    L = 5
    psi = np.array([1.0 + 0j])
    for _ in range(L):
        v = rng.normal(size=2) + 1j * rng.normal(size=2)
        psi = np.kron(v / np.linalg.norm(v), psi)  # new site is the most significant bit
    for A in ([0], [1, 3], [0, 2, 4], 3):
        assert entanglement_entropy(psi, A) == pytest.approx(0.0, abs=1e-10)
        assert renyi_entropy(psi, A, n=2) == pytest.approx(0.0, abs=1e-10)
        assert renyi_entropy(psi, A, n=np.inf) == pytest.approx(0.0, abs=1e-10)
        assert tsallis_entropy(psi, A, q=3) == pytest.approx(0.0, abs=1e-10)


def bell_state(L, i, j):
    psi = np.zeros(2 ** L)
    for s in range(2 ** L):
        others = [k for k in range(L) if k not in (i, j)]
        if all(((s >> k) & 1) == 0 for k in others) and ((s >> i) & 1) == ((s >> j) & 1):
            psi[s] = 1 / math.sqrt(2)
    return psi


def test_bell_pair_across_the_cut_gives_log2():
    psi = bell_state(4, 1, 3)
    for A in ([1], [0, 1], [1, 2], [3], [0, 3]):
        assert entanglement_entropy(psi, A) == pytest.approx(math.log(2), rel=1e-12)
        assert renyi_entropy(psi, A, n=2) == pytest.approx(math.log(2), rel=1e-12)
        assert renyi_entropy(psi, A, n=np.inf) == pytest.approx(math.log(2), rel=1e-12)
        assert entanglement_entropy(psi, A, base=2) == pytest.approx(1.0, rel=1e-12)
        assert tsallis_entropy(psi, A, q=2) == pytest.approx(0.5, rel=1e-12)
    for A in ([1, 3], [0, 2], [0], [0, 1, 3]):
        assert entanglement_entropy(psi, A) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("A", [[0], [2], [0, 2], [1, 3, 4], [4, 0]])
def test_partial_trace_matches_loop_oracle_and_schmidt(rng, A):
    L = 5
    psi = random_state(rng, L)
    rho = reduced_density_matrix(psi, A)
    np.testing.assert_allclose(rho, rdm_by_loops(psi, A, L), atol=1e-13)
    ev = np.sort(np.linalg.eigvalsh(rho))[::-1]
    k = min(2 ** len(A), 2 ** (L - len(A)))
    np.testing.assert_allclose(ev[:k], entanglement_spectrum(psi, A, method="svd"), atol=1e-13)
    np.testing.assert_allclose(ev[:k], entanglement_spectrum(psi, A, method="eigh"), atol=1e-13)
    vn = -np.sum([x * math.log(x) for x in ev if x > 1e-300])
    assert entanglement_entropy(psi, A) == pytest.approx(vn, rel=1e-10)


def test_renyi_monotone_in_n_and_symmetric_under_complement(rng):
    L = 6
    psi = random_state(rng, L, (4,))
    for A in ([0, 1, 2], [1, 4], [0, 2, 3, 5]):
        comp = [i for i in range(L) if i not in A]
        s = [renyi_entropy(psi, A, n=n) for n in (0.5, 1, 2, 3, 10, np.inf)]
        for lo, hi in zip(s[1:], s[:-1]):
            assert np.all(lo <= hi + 1e-12)
        np.testing.assert_allclose(s[1], entanglement_entropy(psi, A), rtol=1e-12)
        for f in (entanglement_entropy, lambda p, a: renyi_entropy(p, a, n=2),
                  lambda p, a: tsallis_entropy(p, a, q=2.5), lambda p, a: renyi_entropy(p, a, n=np.inf)):
            np.testing.assert_allclose(f(psi, A), f(psi, comp), rtol=1e-10, atol=1e-12)


def test_batched_equals_one_by_one_and_limits(rng):
    psi = random_state(rng, 6, (3, 2))
    batched = entanglement_entropy(psi, [0, 4])
    assert batched.shape == (3, 2)
    for i, j in itertools.product(range(3), range(2)):
        assert batched[i, j] == pytest.approx(entanglement_entropy(psi[i, j], [0, 4]), rel=1e-12)
    p = entanglement_spectrum(psi, 3)
    np.testing.assert_allclose(entropy_from_spectrum(p, "tsallis", 1 + 1e-7), batched * 0 + entropy_from_spectrum(p),
                               rtol=1e-5)
    np.testing.assert_allclose(entropy_from_spectrum(p, "renyi", 1 + 1e-7), entropy_from_spectrum(p), rtol=1e-5)
    # Rényi-2 from the spectrum equals −log Tr ρ²
    rho = reduced_density_matrix(psi, 3)
    np.testing.assert_allclose(renyi_entropy(psi, 3, n=2),
                               -np.log(np.real(np.einsum("...ij,...ji->...", rho, rho))), rtol=1e-12)


def test_input_errors(rng):
    psi = random_state(rng, 4)
    with pytest.raises(errors.InvalidInputError, match="not normalised"):
        entanglement_entropy(2 * psi, [0])
    assert entanglement_entropy(2 * psi, [0], normalize=True) == pytest.approx(entanglement_entropy(psi, [0]))
    with pytest.raises(errors.InvalidInputError, match="out of range"):
        entanglement_entropy(psi, [4])
    with pytest.raises(errors.InvalidInputError, match="more than once"):
        entanglement_entropy(psi, [1, 1])
    with pytest.raises(errors.InvalidInputError, match="out of range"):
        entanglement_entropy(psi, 5)
    with pytest.raises(errors.ShapeMismatchError, match="not a power"):
        entanglement_entropy(np.ones(6) / math.sqrt(6), [0])
    with pytest.raises(errors.ShapeMismatchError):
        entanglement_entropy(psi, [0], n_sites=3)
    with pytest.raises(errors.NonFiniteError):
        entanglement_entropy(np.full(4, np.nan), [0])
    with pytest.raises(errors.InvalidInputError):
        tsallis_entropy(psi, [0], q=-1)
    with pytest.raises(errors.InvalidInputError, match="base"):
        entropy_from_spectrum([0.5, 0.5], "tsallis", 2, base=2)
    with pytest.raises(errors.InvalidInputError):
        entropy_from_spectrum([0.5, 0.5], "shannon")


# ----------------------------------------------------------------------------------------------------------------
# Fermions: Slater determinants against the correlation-matrix formula (an independent oracle incl. JW signs)
# ----------------------------------------------------------------------------------------------------------------

def slater_state(rng, L, n_up, n_dn):
    """ψ(code) = det Φ[occupied modes] for c†_{m1}…c†_{mN}|0⟩ (m ascending; mode i = up i, L+i = down i)."""
    up = np.linalg.qr(rng.normal(size=(L, n_up)))[0]
    dn = np.linalg.qr(rng.normal(size=(L, n_dn)))[0]
    phi = np.zeros((2 * L, n_up + n_dn))
    phi[:L, :n_up], phi[L:, n_up:] = up, dn
    codes, amps = [], []
    for occ_u in itertools.combinations(range(L), n_up):
        for occ_d in itertools.combinations(range(L), n_dn):
            modes = list(occ_u) + [L + i for i in occ_d]
            codes.append(sum(1 << m for m in modes))
            amps.append(np.linalg.det(phi[modes, :]))
    order = np.argsort(codes)
    return np.array(codes)[order], np.array(amps)[order], phi


@pytest.mark.parametrize("A", [[0, 2], [1], [1, 3], [0, 1], [2, 3, 0]])
def test_fermion_spectrum_matches_slater_correlation_matrix(rng, A):
    L = 4
    codes, psi, phi = slater_state(rng, L, 2, 2)
    assert np.linalg.norm(psi) == pytest.approx(1.0)
    p = fermion_entanglement_spectrum(psi, codes, A, L)
    modes = [i for i in A] + [L + i for i in A]
    G = (phi @ phi.T)[np.ix_(modes, modes)]
    nu = np.clip(np.linalg.eigvalsh(G), 1e-300, 1 - 1e-16)
    s_oracle = -np.sum(nu * np.log(nu) + (1 - nu) * np.log1p(-nu))
    assert entropy_from_spectrum(p) == pytest.approx(s_oracle, rel=1e-9, abs=1e-10)
    assert np.sum(p) == pytest.approx(1.0)


def test_fermion_errors(rng):
    codes, psi, _ = slater_state(rng, 3, 1, 1)
    with pytest.raises(errors.ShapeMismatchError):
        fermion_entanglement_spectrum(psi[:-1], codes, [0], 3)
    with pytest.raises(errors.InvalidInputError, match="duplicates"):
        fermion_entanglement_spectrum(psi, np.r_[codes[:-1], codes[0]], [0], 3)
    with pytest.raises(errors.InvalidInputError, match="not normalised"):
        fermion_entanglement_spectrum(3 * psi, codes, [0], 3)


@pytest.mark.parametrize("A", [[0, 2], [1], [0, 3, 4]])
def test_hubbard_ground_state_at_U0_matches_free_fermion_entropy(A):
    """Physics area's Hubbard basis (code = up | down << L, JW order = bit order): at U = 0 the ground state is
    a Slater determinant of the lowest hopping orbitals; its site entropy follows from the correlation matrix."""
    from nnqs_fast.physics import Lattice, hubbard_hamiltonian
    from nnqs_fast.physics.quench import ground_state

    lat = Lattice(5, 1, "open")
    L, nu, nd = 5, 2, 1
    H, basis = hubbard_hamiltonian(lat, nu, nd, t=1.0, U=0.0)
    _, psi, _ = ground_state(H)
    T = np.zeros((L, L))
    for i, j in lat.bonds:
        T[i, j] = T[j, i] = -1.0
    _, orb = np.linalg.eigh(T)
    s_oracle = 0.0
    for n_occ in (nu, nd):
        G = (orb[:, :n_occ] @ orb[:, :n_occ].T)[np.ix_(A, A)]
        nu_ = np.clip(np.linalg.eigvalsh(G), 1e-300, 1 - 1e-16)
        s_oracle += -np.sum(nu_ * np.log(nu_) + (1 - nu_) * np.log1p(-nu_))
    p = fermion_entanglement_spectrum(psi, basis.codes, A, L)
    assert entropy_from_spectrum(p) == pytest.approx(s_oracle, rel=1e-8, abs=1e-9)
