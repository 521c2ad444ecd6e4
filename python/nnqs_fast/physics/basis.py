"""The spin basis: the one builder of ±1 (or any two-valued) configurations from integer basis codes.

Convention (every module follows it): a spin configuration is the integer code ``s``; bit ``i`` of ``s`` is site
``i`` (site 0 = least significant bit); bit 1 = spin up = ``spin_values[1]`` (+1 by default), bit 0 = spin down
= ``spin_values[0]`` (−1). The full basis lists the codes ``0 .. 2**L − 1`` in this order (the order of the
Hamiltonian matrices and state vectors). Codes are int64, so ``L <= MAX_SPIN_SITES``; enumerating the full basis
is further bounded by memory (:func:`nnqs_fast._validation.check_memory`), the one size limit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_memory, check_positive_int
from ..errors import InvalidInputError, ShapeMismatchError

__all__ = ["spin_basis", "spin_configurations", "MAX_SPIN_SITES", "MAX_FERMION_SITES"]

#: Largest number of sites the int64 codes support (Hubbard codes use 2 * n_sites bits).
MAX_SPIN_SITES = 62
MAX_FERMION_SITES = 31


def _n_sites(n_sites: Any) -> int:
    L = check_positive_int(n_sites, "n_sites")
    if L > MAX_SPIN_SITES:
        raise InvalidInputError(f"n_sites must be <= {MAX_SPIN_SITES} for int64 spin codes, got {L}")
    return L


def spin_configurations(codes: np.ndarray, n_sites: int, spin_values: Any = (-1.0, 1.0)) -> np.ndarray:
    """Float64 array ``(len(codes), n_sites)``: column ``i`` holds ``spin_values[(code >> i) & 1]``.

    ``codes``: non-negative int64 codes (validated by the callers, e.g. :func:`nnqs_fast.physics.encode_spins`).
    """
    L = _n_sites(n_sites)
    try:
        v = np.asarray(spin_values, np.float64)
    except (TypeError, ValueError):
        v = np.zeros(0)
    if v.shape != (2,):
        raise ShapeMismatchError(f"spin_values must be two numbers (bit 0 value, bit 1 value), got {spin_values!r}")
    if not np.all(np.isfinite(v)) or v[0] == v[1]:
        raise InvalidInputError(f"spin_values must be two different finite numbers, got {spin_values!r}")
    codes = np.asarray(codes, np.int64)
    check_memory(8.0 * codes.size * L, f"the {codes.size} x {L} spin configurations")
    bits = (codes[:, None] >> np.arange(L, dtype=np.int64)[None, :]) & 1
    if v[0] == -1.0 and v[1] == 1.0:
        return (2.0 * bits - 1.0).astype(np.float64)
    return v[bits]


def spin_basis(n_sites: int, spin_values: Any = (-1.0, 1.0)) -> np.ndarray:
    """The full spin basis of ``n_sites`` sites, shape ``(2**L, L)`` in code order (see the module docstring)."""
    L = _n_sites(n_sites)
    check_memory(8.0 * (1 << L) * (L + 1), f"the full spin basis of {L} sites (2^{L} configurations)")
    return spin_configurations(np.arange(1 << L, dtype=np.int64), L, spin_values)
