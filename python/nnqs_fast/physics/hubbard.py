"""Fermi–Hubbard model, Eq. (20) of the paper, in a fixed (N↑, N↓) sector:
``H = −t Σ_<ij>,σ (c†_iσ c_jσ + h.c.) + U Σ_i n_i↑ n_i↓``.

Jordan–Wigner ordering: the 2L spin orbitals are ordered "all up, then all down": mode ``p = i`` is (site i, ↑)
and mode ``p = L + i`` is (site i, ↓), sites numbered ``x + lx*y`` as in :class:`~nnqs_fast.physics.Lattice`.
An occupation basis state is ``|n⟩ = Π_{p ascending} (c†_p)^{n_p} |0⟩`` (lowest mode leftmost) and is coded by
the integer ``code = Σ_p n_p 2^p = up | (down << L)``. With this ordering ``c_p |n⟩ = (−1)^{Σ_{q<p} n_q} |n − e_p⟩``,
so a hop ``c†_iσ c_jσ`` picks up the sign ``(−1)^{(number of σ fermions on sites strictly between i and j)}``;
the other species contributes the same factor to both operators and cancels.

Basis order (rows of the matrix): ``index = i_down * n_up_states + i_up`` where ``i_up`` (``i_down``) is the
position of the up (down) bit string among all L-bit strings with N↑ (N↓) set bits, ascending. Equivalently the
codes ``up | down << L`` are in ascending order. The Hamiltonian is assembled as
``kron(I_↓, T_↑) + kron(T_↓, I_↑) + U diag(double occupancies)`` from single-species hopping matrices built with
NumPy vectorised over states (a loop over bonds only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb

import numpy as np
import scipy.sparse as sp

from .._validation import check_finite_scalar, check_memory, check_positive_int
from ..errors import InvalidInputError
from .encoding import MAX_FERMION_SITES, encode_occupations, fixed_popcount_states, popcount
from .lattice import Lattice
from .tfim import _check_lattice

__all__ = ["HubbardBasis", "hubbard_hamiltonian", "hubbard_memory_bytes", "hopping_matrix"]


def _check_counts(n_sites: int, n_up: object, n_down: object) -> tuple[int, int]:
    n_up = check_positive_int(n_up, "n_up", minimum=0)
    n_down = check_positive_int(n_down, "n_down", minimum=0)
    if n_up > n_sites:
        raise InvalidInputError(f"n_up ({n_up}) must not exceed the number of sites ({n_sites})")
    if n_down > n_sites:
        raise InvalidInputError(f"n_down ({n_down}) must not exceed the number of sites ({n_sites})")
    return n_up, n_down


def hubbard_memory_bytes(lattice: Lattice, n_up: int, n_down: int, n_vectors: int = 12) -> int:
    """Estimated peak bytes of the (N↑, N↓) sector: sparse H (+ build temporaries) and ``n_vectors`` complex
    vectors plus the float64 input encoding."""
    L = lattice.n_sites
    nu, nd = comb(L, n_up), comb(L, n_down)
    dim = nu * nd
    # each state has at most 2 * n_bonds * (hops) off-diagonal entries; bound by the bonds that can be active
    per_row = 1 + 2 * lattice.n_bonds * min(1, n_up + n_down)
    nnz = dim * per_row
    return int(nnz * (8 + 8 + 8) * 2 + dim * 16 * n_vectors + dim * L * 8)


@dataclass(frozen=True)
class HubbardBasis:
    """The (N↑, N↓) sector of ``n_sites`` sites: ``up_states``, ``down_states`` (ascending L-bit strings) and
    ``codes = up | down << n_sites`` in matrix order (``index = i_down * len(up_states) + i_up``)."""

    n_sites: int
    n_up: int
    n_down: int
    up_states: np.ndarray = field(init=False, repr=False, compare=False)
    down_states: np.ndarray = field(init=False, repr=False, compare=False)
    codes: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        L = check_positive_int(self.n_sites, "n_sites")
        if L > MAX_FERMION_SITES:
            raise InvalidInputError(f"the Hubbard basis needs n_sites <= {MAX_FERMION_SITES}, got {L}")
        n_up, n_down = _check_counts(L, self.n_up, self.n_down)
        check_memory(comb(L, n_up) * comb(L, n_down) * 8 * 4,
                     f"the Hubbard basis (n_sites={L}, n_up={n_up}, n_down={n_down})")
        object.__setattr__(self, "n_sites", L)
        object.__setattr__(self, "n_up", n_up)
        object.__setattr__(self, "n_down", n_down)
        up = fixed_popcount_states(L, n_up)
        dn = fixed_popcount_states(L, n_down)
        codes = (up[None, :] | (dn[:, None] << L)).ravel()
        for a in (up, dn, codes):
            a.setflags(write=False)
        object.__setattr__(self, "up_states", up)
        object.__setattr__(self, "down_states", dn)
        object.__setattr__(self, "codes", codes)

    @property
    def dim(self) -> int:
        """C(L, N↑) · C(L, N↓)."""
        return int(self.codes.size)

    def index(self, codes: object) -> np.ndarray:
        """Matrix index of each code (raises if a code is not in the sector)."""
        c = np.asarray(codes, dtype=np.int64)
        idx = np.searchsorted(self.codes, c)
        idx = np.clip(idx, 0, self.dim - 1)
        if not np.all(self.codes[idx] == c):
            raise InvalidInputError("codes contain states outside this (n_up, n_down) sector")
        return idx

    def inputs(self) -> np.ndarray:
        """The paper's occupancy encoding of every basis state (dim, n_sites), same order."""
        return encode_occupations(self.codes, self.n_sites)


def hopping_matrix(lattice: Lattice, states: np.ndarray, t: float = 1.0) -> sp.csr_matrix:
    """Single-species ``−t Σ_<ij> (c†_i c_j + h.c.)`` on the given ascending L-bit ``states`` (fixed particle
    number), with Jordan–Wigner signs ``(−1)^{#particles strictly between i and j}`` (sites in index order)."""
    states = np.asarray(states, dtype=np.int64)
    n = states.size
    rows, cols, vals = [], [], []
    for i, j in lattice.bonds:
        i, j = int(min(i, j)), int(max(i, j))
        bi, bj = (states >> i) & 1, (states >> j) & 1
        act = np.nonzero(bi != bj)[0]  # exactly one of the two sites occupied: a hop is possible
        if act.size == 0:
            continue
        src = states[act]
        dst = src ^ ((1 << i) | (1 << j))
        between = ((1 << j) - 1) ^ ((1 << (i + 1)) - 1)  # bits i+1 .. j-1
        sign = 1.0 - 2.0 * (popcount(src & between) & 1)
        rows.append(np.searchsorted(states, dst))
        cols.append(act)
        vals.append(-t * sign)
    if not rows:
        return sp.csr_matrix((n, n))
    T = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    T.sort_indices()
    return T


def hubbard_hamiltonian(lattice: Lattice, n_up: int = 2, n_down: int = 2, t: float = 1.0, U: float = 8.0,
                        basis: HubbardBasis | None = None) -> tuple[sp.csr_matrix, HubbardBasis]:
    """Sparse Fermi–Hubbard Hamiltonian, Eq. (20), in the (``n_up``, ``n_down``) sector of ``lattice``.

    Returns ``(H, basis)``; ``H`` is real symmetric CSR of size ``C(L,N↑)·C(L,N↓)``, rows in ``basis.codes`` order
    (see the module docstring for the Jordan–Wigner ordering and signs).
    """
    lattice = _check_lattice(lattice)
    L = lattice.n_sites
    if L > MAX_FERMION_SITES:
        raise InvalidInputError(f"the Hubbard basis needs n_sites <= {MAX_FERMION_SITES}, got {L}")
    n_up, n_down = _check_counts(L, n_up, n_down)
    t = check_finite_scalar(t, "t")
    U = check_finite_scalar(U, "U")
    check_memory(hubbard_memory_bytes(lattice, n_up, n_down),
                 f"the Hubbard sector (N_up={n_up}, N_down={n_down}) on {lattice.lx}x{lattice.ly}")
    if basis is None:
        basis = HubbardBasis(L, n_up, n_down)
    elif not isinstance(basis, HubbardBasis) or (basis.n_sites, basis.n_up, basis.n_down) != (L, n_up, n_down):
        raise InvalidInputError("basis must be the HubbardBasis of this lattice and (n_up, n_down)")
    up, dn = basis.up_states, basis.down_states
    T_up = hopping_matrix(lattice, up, t)
    T_dn = hopping_matrix(lattice, dn, t)
    H = sp.kron(sp.identity(dn.size, format="csr"), T_up, format="csr") \
        + sp.kron(T_dn, sp.identity(up.size, format="csr"), format="csr")
    if U != 0.0:
        double = popcount(basis.codes & ((1 << L) - 1) & (basis.codes >> L)).astype(np.float64)
        H = H + sp.diags(U * double, format="csr")
    H = sp.csr_matrix(H)
    H.sort_indices()
    return H, basis
