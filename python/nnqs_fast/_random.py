"""Seeds: every random draw in nnqs_fast takes an explicit seed.

Ensembles derive one independent stream per member with :class:`numpy.random.SeedSequence`, so member ``k``
of an ensemble with seed ``s`` is the same whatever the ensemble size.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_positive_int
from .errors import InvalidInputError


def check_seed(seed: object, name: str = "seed") -> int:
    """Seeds are non-negative Python ints (recorded verbatim in every output file)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise InvalidInputError(f"{name} must be a non-negative integer, got {seed!r}")
    return int(seed)


def rng(seed: int) -> np.random.Generator:
    """A NumPy Generator (PCG64) for ``seed``."""
    return np.random.default_rng(check_seed(seed))


def member_seeds(seed: int, n_members: int) -> list[int]:
    """``n_members`` independent 63-bit seeds derived from ``seed`` (member k is independent of n_members)."""
    check_positive_int(n_members, "n_members")
    ss = np.random.SeedSequence(check_seed(seed))
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in ss.spawn(n_members)]
