"""Integer basis codes and the paper's network input encodings (text after Eq. 20 of the paper).

Spin basis (TFIM): a basis state is an integer ``s`` in ``[0, 2**n_sites)``; bit ``i`` (``(s >> i) & 1``) is
site ``i``; bit 1 = spin up (σ^z = +1), bit 0 = spin down (σ^z = −1). :func:`encode_spins` maps a state to the
vector of σ^z eigenvalues, i.e. ±1 per site (spin up +1, spin down −1).

Fermion basis (Hubbard): a basis state is ``code = up | (down << n_sites)`` with ``up``/``down`` the occupation
bit strings of the two spin species (bit ``i`` = site ``i``). :func:`encode_occupations` maps each site to
hole −1.5, spin-down −0.5, spin-up +0.5, double occupancy +1.5 (value = −1.5 + n_down + 2 n_up).
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

from .._validation import check_positive_int
from ..errors import InvalidInputError
from .basis import MAX_FERMION_SITES, MAX_SPIN_SITES, spin_configurations

__all__ = ["encode_spins", "encode_occupations", "popcount", "fixed_popcount_states"]



def _as_codes(basis: object, name: str = "basis") -> np.ndarray:
    arr = np.asarray(basis)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"{name} must be an array of integer basis codes, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise InvalidInputError(f"{name} must hold non-negative basis codes")
    if arr.size and arr.dtype.kind == "u" and int(arr.max()) > np.iinfo(np.int64).max:
        raise InvalidInputError(f"{name} holds codes >= 2**63 (they would wrap in int64); no basis is that large")
    return arr.astype(np.int64, copy=False)


def popcount(x: np.ndarray) -> np.ndarray:
    """Number of set bits of each (non-negative) int64 entry, vectorised."""
    x = np.asarray(x, dtype=np.int64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    out = np.zeros(x.shape, dtype=np.int64)  # pragma: no cover - NumPy < 2
    y = x.copy()
    while np.any(y):
        out += y & 1
        y >>= 1
    return out


def fixed_popcount_states(n_sites: int, n_particles: int) -> np.ndarray:
    """All ``n_sites``-bit integers with exactly ``n_particles`` set bits, ascending (int64)."""
    n_sites = check_positive_int(n_sites, "n_sites")
    n_particles = check_positive_int(n_particles, "n_particles", minimum=0)
    if n_particles > n_sites:
        raise InvalidInputError(f"n_particles ({n_particles}) must not exceed n_sites ({n_sites})")
    if n_sites > MAX_SPIN_SITES:
        raise InvalidInputError(f"n_sites must be <= {MAX_SPIN_SITES} for int64 codes, got {n_sites}")
    n = comb(n_sites, n_particles)
    if n_sites <= 20:
        allst = np.arange(1 << n_sites, dtype=np.int64)
        out = allst[popcount(allst) == n_particles]
    else:
        out = np.fromiter((sum(1 << i for i in c) for c in combinations(range(n_sites), n_particles)),
                          dtype=np.int64, count=n)
        out.sort()
    return out


def encode_spins(basis: object, n_sites: int) -> np.ndarray:
    """Spin basis codes -> float64 array (len(basis), n_sites) of ±1 (bit 1 = spin up = +1, bit 0 = −1)."""
    codes = _as_codes(basis)
    n_sites = check_positive_int(n_sites, "n_sites")
    if n_sites > MAX_SPIN_SITES:
        raise InvalidInputError(f"n_sites must be <= {MAX_SPIN_SITES}, got {n_sites}")
    if codes.size and codes.max() >= (1 << n_sites):
        raise InvalidInputError(f"basis holds codes >= 2**n_sites = {1 << n_sites}; wrong n_sites?")
    return spin_configurations(codes, n_sites)


def encode_occupations(basis: object, n_sites: int) -> np.ndarray:
    """Fermion basis codes ``up | down << n_sites`` -> float64 array (len(basis), n_sites).

    Per site: hole −1.5, spin-down −0.5, spin-up +0.5, double occupancy +1.5 (the paper's encoding).
    """
    codes = _as_codes(basis)
    n_sites = check_positive_int(n_sites, "n_sites")
    if n_sites > MAX_FERMION_SITES:
        raise InvalidInputError(f"n_sites must be <= {MAX_FERMION_SITES}, got {n_sites}")
    if codes.size and codes.max() >= (1 << (2 * n_sites)):
        raise InvalidInputError("basis holds codes >= 2**(2*n_sites); wrong n_sites?")
    shifts = np.arange(n_sites, dtype=np.int64)[None, :]
    up = (codes[:, None] >> shifts) & 1
    dn = (codes[:, None] >> (shifts + n_sites)) & 1
    return (-1.5 + dn + 2.0 * up).astype(np.float64)
