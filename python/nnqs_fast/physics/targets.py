"""``make_target``: the paper's target wavefunctions with their network inputs (Eqs. 19–20 and the text after).

Default boundary: **open** for both systems. The paper does not state the boundary conditions. We choose open
boundaries because (i) with periodic boundaries the 3-wide direction closes into a 3-site ring, an odd loop
that makes the lattice non-bipartite and is a rather unnatural choice for a 3×4 cluster, whereas the open 3×4
cluster is the plain rectangular patch the text describes; (ii) for the Hubbard model the open cluster has a
closed free-fermion shell at N↑ = N↓ = 2 (single-particle levels −√2 − 2cos(π/5), −√2 − 2cos(2π/5), ... are
non-degenerate) while on the periodic cluster the second level is two-fold degenerate (momenta ±π/2 along the
4-site ring), so the periodic ground state at U_0 = 4 is only weakly separated (gap ≈ 0.038 t vs ≈ 0.19 t open)
and ψ_0 is fragile; (iii) for the TFIM the initial state |+⟩^{⊗12} and the evolution are well defined either way,
and using the same boundary for both systems keeps the two experiments comparable. Pass
``boundary="periodic"`` for the alternative.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_choice, check_finite_scalar, check_positive_int
from .encoding import encode_spins
from .lattice import BOUNDARIES, Lattice
from .quench import hubbard_quench_target, tfim_quench_target
from .tfim import tfim_basis

__all__ = ["Target", "make_target", "SYSTEMS", "DEFAULT_BOUNDARY", "basis_dimension"]

SYSTEMS = ("tfim", "hubbard")
#: The default boundary per system (argued in the module docstring).
DEFAULT_BOUNDARY = {"tfim": "open", "hubbard": "open"}


@dataclass(frozen=True)
class Target:
    """A target wavefunction over the full basis.

    ``psi`` complex128 (dim,), normalised; ``inputs`` float64 (dim, n_sites), the paper's encoding of each basis
    state, same order as ``psi``; ``basis`` int64 (dim,) integer codes (see :mod:`nnqs_fast.physics.encoding`);
    ``system``, ``boundary``, ``lattice`` = (lx, ly), ``dim``; ``config`` every parameter that defines the target;
    ``energies`` ⟨H⟩ of the target and, for Hubbard, the U_0 ground energy and gap.
    """

    psi: np.ndarray
    inputs: np.ndarray
    basis: np.ndarray
    system: str
    boundary: str
    lattice: tuple[int, int]
    dim: int
    config: dict[str, Any]
    energies: dict[str, float] = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        return self.lattice[0] * self.lattice[1]

    def to_netket(self, hilbert: Any, **kwargs: Any) -> np.ndarray:
        """``psi`` in NetKet's ``hilbert.all_states()`` order (needs NetKet; see
        :func:`nnqs_fast.netket.to_netket` for ``graph=`` / ``sites=`` and the Jordan-Wigner signs)."""
        from ..netket import to_netket
        return to_netket(self, hilbert, **kwargs)


def _freeze(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


def basis_dimension(system: str, lx: int, ly: int, n_up: int = 2, n_down: int = 2) -> int:
    """Number of basis states of :func:`make_target`'s target, without building it (for size checks).

    TFIM: ``2^L``; Hubbard: ``C(L, n_up) · C(L, n_down)`` (fixed particle-number sector). At 4×4 (L = 16):
    TFIM 65 536; Hubbard with the paper's N↑ = N↓ = 2 gives 120² = 14 400 (half filling, 8 + 8, would be
    12 870² ≈ 1.7 · 10⁸ — beyond any dense kernel method).
    """
    from math import comb

    system = check_choice(system, "system", SYSTEMS)
    L = check_positive_int(lx, "lx") * check_positive_int(ly, "ly")
    if system == "tfim":
        return 1 << L
    return comb(L, int(n_up)) * comb(L, int(n_down))


def make_target(system: str, *, lx: int = 3, ly: int = 4, boundary: str | None = None, J: float = 0.1,
                t: float = 1.0, U0: float = 4.0, U: float = 8.0, n_up: int = 2, n_down: int = 2,
                tau: float = 2.1) -> Target:
    """Build the paper's quench target for ``system`` ("tfim" or "hubbard").

    * ``"tfim"``: ψ_T = e^{−iH_s τ}|+⟩^{⊗L}, H_s of Eq. (19) with transverse field ``J``; inputs ±1 per site.
    * ``"hubbard"``: ψ_T = e^{−iH_f(U) τ} ψ_0, ψ_0 the ground state of H_f(U0), Eq. (20), in the (n_up, n_down)
      sector with hopping ``t``; inputs per site hole/down/up/double → −1.5/−0.5/0.5/1.5.

    Defaults are the paper's (3×4, J = 0.1, U0 = 4, U = 8, N↑ = N↓ = 2, τ = 2.1); ``boundary=None`` means
    :data:`DEFAULT_BOUNDARY` (open; see the module docstring for why). Parameters of the other system are
    ignored (and not recorded in ``config``).
    """
    system = check_choice(system, "system", SYSTEMS)
    lx = check_positive_int(lx, "lx")
    ly = check_positive_int(ly, "ly")
    boundary = DEFAULT_BOUNDARY[system] if boundary is None else check_choice(boundary, "boundary", BOUNDARIES)
    tau = check_finite_scalar(tau, "tau")
    lat = Lattice(lx, ly, boundary)
    L = lat.n_sites
    if system == "tfim":
        J = check_finite_scalar(J, "J")
        psi, info = tfim_quench_target(lat, J=J, tau=tau)
        basis = tfim_basis(L)
        inputs = encode_spins(basis, L)
        config = {"system": system, "lx": lx, "ly": ly, "boundary": boundary, "J": J, "tau": tau,
                  "initial_state": "|+>^L"}
        energies = {"energy": info["energy"], "energy_initial": info["energy_initial"]}
    else:
        t = check_finite_scalar(t, "t")
        U0 = check_finite_scalar(U0, "U0")
        U = check_finite_scalar(U, "U")
        psi, hb, info = hubbard_quench_target(lat, n_up, n_down, t=t, U0=U0, U=U, tau=tau)
        basis = np.array(hb.codes)
        inputs = hb.inputs()
        config = {"system": system, "lx": lx, "ly": ly, "boundary": boundary, "t": t, "U0": U0, "U": U,
                  "n_up": hb.n_up, "n_down": hb.n_down, "tau": tau, "initial_state": "ground state of H(U0)",
                  "jordan_wigner": "up orbitals (sites 0..L-1) then down orbitals"}
        energies = {"energy": info["energy"], "energy_initial": info["energy_initial"],
                    "ground_energy_U0": info["ground_energy"], "gap_U0": info["gap"]}
    psi = np.ascontiguousarray(psi, dtype=np.complex128)
    inputs = np.ascontiguousarray(inputs, dtype=np.float64)
    basis = np.ascontiguousarray(basis, dtype=np.int64)
    _freeze(psi, inputs, basis)
    return Target(psi=psi, inputs=inputs, basis=basis, system=system, boundary=boundary, lattice=(lx, ly),
                  dim=int(psi.size), config=config, energies=energies)
