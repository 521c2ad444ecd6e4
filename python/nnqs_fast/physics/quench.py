"""Quench targets of the paper's numerical experiments (text below Eqs. 19–20).

* TFIM: ``ψ_T = e^{−i H_s τ} |+⟩^{⊗L}`` with ``H_s`` of Eq. (19) (paper: 3×4, J = 0.1, τ = 2.1, 4096 amplitudes).
* Hubbard: ``ψ_T = e^{−i H_f(U) τ} ψ_0`` with ``ψ_0`` the ground state of ``H_f(U_0)`` of Eq. (20) (paper: 3×4,
  N↑ = N↓ = 2, U_0 = 4, U = 8, τ = 2.1, 4356 amplitudes).

Time evolution uses :func:`scipy.sparse.linalg.expm_multiply`; the ground state uses a dense ``eigh`` for small
sectors and :func:`scipy.sparse.linalg.eigsh` with a fixed start vector otherwise. The ground state's global
phase is fixed deterministically: its largest-magnitude amplitude (the first one in basis order among ties within
1e-9) is made real positive. If the ground state is degenerate (gap < 1e-8 |E_0|), ψ_0 is defined as the
normalised projection of a fixed reference vector onto the ground eigenspace (a warning says so).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._validation import check_cost, check_finite_scalar
from ..errors import NonFiniteError, PrecisionLossError
from .hubbard import HubbardBasis, hubbard_hamiltonian
from .lattice import Lattice
from .tfim import tfim_hamiltonian

__all__ = ["tfim_quench_target", "hubbard_quench_target", "ground_state", "evolve", "fix_phase",
           "DegenerateGroundStateWarning"]

#: Sectors up to this dimension are diagonalised densely.
DENSE_EIGH_MAX_DIM = 600


class DegenerateGroundStateWarning(UserWarning):
    """The ground state is degenerate; ψ_0 is the projection of a fixed reference vector onto the eigenspace."""


def fix_phase(psi: np.ndarray) -> np.ndarray:
    """Multiply ``psi`` by a global phase so that its largest-magnitude amplitude is real positive (first such
    amplitude in index order among ties within 1e-9 relative)."""
    psi = np.asarray(psi)
    mag = np.abs(psi)
    k = int(np.argmax(mag >= mag.max() * (1 - 1e-9)))
    return psi * (np.conj(psi[k]) / mag[k])


def _reference_vector(dim: int) -> np.ndarray:
    return np.random.default_rng(20211201).standard_normal(dim)


def ground_state(H: sp.spmatrix, *, degeneracy_tol: float = 1e-8) -> tuple[float, np.ndarray, float]:
    """Lowest eigenpair of the real symmetric ``H``: returns ``(E0, psi0, gap)``; ``psi0`` complex128, normalised,
    phase-fixed by :func:`fix_phase`. ``gap`` is E_1 − E_0 over the computed eigenvalues (inf for dim 1)."""
    dim = H.shape[0]
    if dim == 1:
        return float(H.toarray()[0, 0]), np.ones(1, dtype=np.complex128), float("inf")
    if dim <= DENSE_EIGH_MAX_DIM:
        w, v = sla.eigh(H.toarray())
    else:
        k = min(6, dim - 2)
        v0 = np.ones(dim) + 0.1 * _reference_vector(dim)
        w, v = spla.eigsh(H, k=k, which="SA", v0=v0, tol=1e-12)
        order = np.argsort(w)
        w, v = w[order], v[:, order]
    scale = max(1.0, abs(w[0]))
    deg = int(np.sum(w - w[0] < degeneracy_tol * scale))
    gap = float(w[deg] - w[0]) if deg < w.size else 0.0
    if deg == 1:
        psi = v[:, 0]
    else:
        warnings.warn(f"the ground state is {deg}-fold degenerate (or more); psi0 is the projection of a fixed "
                      "reference vector onto the ground eigenspace", DegenerateGroundStateWarning, stacklevel=2)
        P = v[:, :deg]
        psi = P @ (P.T @ _reference_vector(dim))
        gap = 0.0
    psi = psi / np.linalg.norm(psi)
    return float(w[0]), fix_phase(psi.astype(np.complex128)), gap


def evolve(H: sp.spmatrix, psi0: np.ndarray, tau: float) -> np.ndarray:
    """``e^{−i H τ} ψ_0`` via :func:`scipy.sparse.linalg.expm_multiply` (complex128)."""
    tau = check_finite_scalar(tau, "tau")
    psi0 = np.asarray(psi0, dtype=np.complex128)
    if tau == 0.0:
        return psi0.copy()
    Hc = sp.csr_matrix(H, dtype=np.complex128)
    with np.errstate(over="ignore", invalid="ignore"):
        norm1 = float(np.max(np.asarray(abs(Hc).sum(axis=0)))) if Hc.nnz else 0.0
    if not np.isfinite(norm1):
        raise NonFiniteError("the Hamiltonian's entries overflow float64 (a coupling is too large); use couplings "
                             "of order 1 and rescale tau instead")
    # expm_multiply takes about ||H||_1 |tau| matrix-vector products (measured: ~0.4 ms each for small H):
    # tau = 1e9 used to run for hours
    check_cost(max(1.0, norm1 * abs(tau)) * max(4.0 * Hc.nnz, 4e5), f"e^(-iH tau) psi at tau={tau:g}")
    A = Hc * (-1j * tau)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(spla.expm_multiply(A, psi0), dtype=np.complex128)
    if not np.all(np.isfinite(out)):
        raise PrecisionLossError(f"time evolution to tau={tau:g} lost all precision (non-finite amplitudes); "
                                 "use a smaller tau or smaller couplings")
    return out


def tfim_quench_target(lattice: Lattice, J: float = 0.1, tau: float = 2.1) -> tuple[np.ndarray, dict]:
    """TFIM quench target ``e^{−iHτ}|+⟩^{⊗L}`` (Eq. 19). Returns ``(psi, info)``; ``info`` has ``energy`` ⟨H⟩
    (conserved, equal to ⟨+|H|+⟩ = −J L), ``norm`` and the Hamiltonian ``H``."""
    H = tfim_hamiltonian(lattice, J)
    tau = check_finite_scalar(tau, "tau")
    dim = H.shape[0]
    psi0 = np.full(dim, 1.0 / np.sqrt(dim), dtype=np.complex128)
    psi = evolve(H, psi0, tau)
    norm = float(np.linalg.norm(psi))
    psi /= norm
    energy = float(np.real(np.vdot(psi, H @ psi)))
    return psi, {"H": H, "energy": energy, "energy_initial": float(np.real(np.vdot(psi0, H @ psi0))),
                 "norm_before_normalisation": norm}


def hubbard_quench_target(lattice: Lattice, n_up: int = 2, n_down: int = 2, t: float = 1.0, U0: float = 4.0,
                          U: float = 8.0, tau: float = 2.1) -> tuple[np.ndarray, HubbardBasis, dict]:
    """Hubbard quench target ``e^{−iH(U)τ} ψ_0``, ψ_0 the ground state of H(U0) (Eq. 20).

    Returns ``(psi, basis, info)``; ``info`` has ``ground_energy`` (E_0 at U0), ``gap`` (at U0), ``energy``
    (⟨H(U)⟩ of the target, conserved), ``energy_initial_U0`` and the quench Hamiltonian ``H``.
    """
    H0, basis = hubbard_hamiltonian(lattice, n_up, n_down, t=t, U=U0)
    tau = check_finite_scalar(tau, "tau")
    H, _ = hubbard_hamiltonian(lattice, n_up, n_down, t=t, U=U, basis=basis)
    e0, psi0, gap = ground_state(H0)
    psi = evolve(H, psi0, tau)
    norm = float(np.linalg.norm(psi))
    psi /= norm
    energy = float(np.real(np.vdot(psi, H @ psi)))
    return psi, basis, {"H": H, "ground_energy": e0, "gap": gap, "energy": energy,
                        "energy_initial": float(np.real(np.vdot(psi0, H @ psi0))),
                        "norm_before_normalisation": norm}
