"""Quench targets (text below Eqs. 19–20): expm_multiply vs dense expm, norm/energy conservation, the paper's
sizes, encodings in basis order, reproducibility, and named errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg as sla

from nnqs_fast.errors import InvalidInputError, MemoryLimitError, NonFiniteError
from nnqs_fast.physics import (
    Lattice,
    Target,
    encode_occupations,
    encode_spins,
    hubbard_hamiltonian,
    hubbard_quench_target,
    make_target,
    tfim_hamiltonian,
    tfim_quench_target,
)
from nnqs_fast.physics.quench import DegenerateGroundStateWarning, evolve, fix_phase, ground_state


@pytest.mark.parametrize("boundary", ["open", "periodic"])
def test_tfim_quench_vs_dense_expm(boundary: str) -> None:
    lat = Lattice(2, 3, boundary)
    J, tau = 0.4, 2.1
    psi, info = tfim_quench_target(lat, J=J, tau=tau)
    H = tfim_hamiltonian(lat, J).toarray()
    plus = np.full(64, 1 / 8.0)
    ref = sla.expm(-1j * tau * H) @ plus
    np.testing.assert_allclose(psi, ref, atol=1e-11)
    assert np.linalg.norm(psi) == pytest.approx(1.0, abs=1e-13)
    assert info["norm_before_normalisation"] == pytest.approx(1.0, abs=1e-12)
    # <+|H|+> = -J L (the ZZ terms average to zero); conserved by the evolution
    assert info["energy"] == pytest.approx(-J * lat.n_sites, abs=1e-10)


@pytest.mark.parametrize("boundary", ["open", "periodic"])
def test_hubbard_quench_vs_dense(boundary: str) -> None:
    lat = Lattice(2, 3, boundary)
    psi, _basis, info = hubbard_quench_target(lat, 2, 1, t=1.0, U0=4.0, U=8.0, tau=2.1)
    H0, _ = hubbard_hamiltonian(lat, 2, 1, U=4.0)
    H, _ = hubbard_hamiltonian(lat, 2, 1, U=8.0)
    w, v = np.linalg.eigh(H0.toarray())
    assert w[1] - w[0] > 1e-6  # non-degenerate here
    assert info["ground_energy"] == pytest.approx(w[0], abs=1e-10)
    ref = sla.expm(-1j * 2.1 * H.toarray()) @ v[:, 0]
    # equal up to the global phase, which make_target fixes on psi0 (largest |amplitude| real positive)
    phase = np.vdot(ref, psi)
    assert abs(phase) == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(psi, phase * ref, atol=1e-10)
    assert info["energy"] == pytest.approx(float(np.real(np.vdot(psi, H @ psi))), abs=1e-10)
    assert info["energy"] == pytest.approx(info["energy_initial"], abs=1e-9)  # conserved


def test_evolve_conserves_norm_and_energy(rng: np.random.Generator) -> None:
    H, _ = hubbard_hamiltonian(Lattice(3, 3, "periodic"), 2, 2, U=5.0)
    psi0 = rng.standard_normal(H.shape[0]) + 1j * rng.standard_normal(H.shape[0])
    psi0 /= np.linalg.norm(psi0)
    psi = evolve(H, psi0, 3.3)
    assert np.linalg.norm(psi) == pytest.approx(1.0, abs=1e-12)
    e = lambda v: np.real(np.vdot(v, H @ v))  # noqa: E731
    assert e(psi) == pytest.approx(e(psi0), abs=1e-10)
    # e^{+iHτ} e^{-iHτ} = 1
    np.testing.assert_allclose(evolve(H, psi, -3.3), psi0, atol=1e-11)


def test_ground_state_phase_and_degeneracy() -> None:
    H, _ = hubbard_hamiltonian(Lattice(2, 3, "open"), 1, 1, U=4.0)
    e0, psi, gap = ground_state(H)
    k = np.argmax(np.abs(psi))
    assert abs(psi[k].imag) < 1e-15 and psi[k].real > 0 and gap > 0
    assert np.linalg.norm(H @ psi - e0 * psi) < 1e-10
    v = fix_phase(np.exp(1j * 0.7) * psi)
    np.testing.assert_allclose(v, psi, atol=1e-14)
    # J = 0 TFIM: two-fold degenerate ground state -> warning, psi0 still a normalised ground state
    H2 = tfim_hamiltonian(Lattice(2, 2), 0.0)
    with pytest.warns(DegenerateGroundStateWarning):
        e0, psi, gap = ground_state(H2)
    assert e0 == -4 and gap == 0.0 and np.linalg.norm(H2 @ psi - e0 * psi) < 1e-12


def test_paper_targets() -> None:
    for system, dim, encode in [("tfim", 4096, encode_spins), ("hubbard", 4356, encode_occupations)]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            T = make_target(system)
        assert isinstance(T, Target)
        assert T.system == system and T.boundary == "open" and T.lattice == (3, 4) and T.dim == dim
        assert T.psi.dtype == np.complex128 and T.psi.shape == (dim,)
        assert np.linalg.norm(T.psi) == pytest.approx(1.0, abs=1e-12)
        assert np.abs(T.psi.imag).max() > 1e-3  # genuinely complex
        assert T.inputs.dtype == np.float64 and T.inputs.shape == (dim, 12)
        np.testing.assert_array_equal(T.inputs, encode(T.basis, 12))
        assert T.config["tau"] == 2.1 and T.config["boundary"] == "open"
        T2 = make_target(system)
        np.testing.assert_array_equal(T2.psi, T.psi)  # deterministic
    T = make_target("hubbard")
    assert set(np.unique(T.inputs)) <= {-1.5, -0.5, 0.5, 1.5}
    assert np.all((T.inputs == 0.5).sum(1) + (T.inputs == 1.5).sum(1) == 2)  # two up fermions in every row
    assert T.config["U0"] == 4.0 and T.config["U"] == 8.0 and T.config["n_up"] == T.config["n_down"] == 2
    assert T.energies["energy"] == pytest.approx(T.energies["energy_initial"], abs=1e-9)


def test_make_target_periodic_and_small() -> None:
    T = make_target("tfim", lx=2, ly=2, boundary="periodic", J=0.3, tau=0.5)
    assert T.dim == 16 and T.boundary == "periodic"
    H = tfim_hamiltonian(Lattice(2, 2, "periodic"), 0.3).toarray()
    np.testing.assert_allclose(T.psi, sla.expm(-0.5j * H) @ np.full(16, 0.25), atol=1e-12)
    T = make_target("hubbard", lx=3, ly=4, boundary="periodic")
    assert T.dim == 4356 and np.linalg.norm(T.psi) == pytest.approx(1.0, abs=1e-12)


def test_make_target_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="system"):
        make_target("heisenberg")
    with pytest.raises(InvalidInputError, match="boundary"):
        make_target("tfim", boundary="twisted")
    with pytest.raises(InvalidInputError, match="lx"):
        make_target("tfim", lx=0)
    with pytest.raises(InvalidInputError, match="ly"):
        make_target("hubbard", ly=-2)
    with pytest.raises(InvalidInputError, match="n_up"):
        make_target("hubbard", lx=2, ly=2, n_up=5)
    with pytest.raises(InvalidInputError, match="n_down"):
        make_target("hubbard", n_down=-1)
    with pytest.raises(NonFiniteError, match="J"):
        make_target("tfim", J=float("nan"))
    with pytest.raises(NonFiniteError, match="tau"):
        make_target("hubbard", tau=float("inf"))
    with pytest.raises(NonFiniteError, match="U0"):
        make_target("hubbard", U0=float("nan"))
    with pytest.raises(MemoryLimitError, match="GiB"):
        make_target("tfim", lx=6, ly=6)
    with pytest.raises(MemoryLimitError, match="GiB"):
        make_target("hubbard", lx=5, ly=6, n_up=15, n_down=15)
