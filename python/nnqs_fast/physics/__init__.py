"""nnqs_fast.physics: lattices, the TFIM (Eq. 19) and Fermi–Hubbard (Eq. 20) Hamiltonians, the paper's quench
targets and input encodings. See docs/physics.md."""

from .basis import spin_basis
from .encoding import encode_occupations, encode_spins
from .hubbard import HubbardBasis, hubbard_hamiltonian
from .lattice import Lattice
from .operators import target_from_operator
from .quench import hubbard_quench_target, tfim_quench_target
from .targets import Target, make_target
from .tfim import tfim_hamiltonian

__all__ = ["Lattice", "tfim_hamiltonian", "hubbard_hamiltonian", "HubbardBasis", "make_target", "Target",
           "tfim_quench_target", "hubbard_quench_target", "encode_spins", "encode_occupations", "spin_basis",
           "target_from_operator"]
