"""Seeded parameter draws shared by the single-hidden-layer families (Cos-net, Gauss-net, the complex S16 net)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._random import rng
from .._validation import check_float_dtype, check_nbytes, check_positive_int


def seeded_draws(seed: int, input_dim: int, width: int, dtype: Any, order: str) -> list[np.ndarray]:
    """Validate the sizes, check the memory, then draw from ``rng(seed)`` in ``order``, one letter per array:
    ``"n"`` a standard-normal vector of length ``width``, ``"W"`` a standard-normal ``(width, input_dim)`` matrix,
    ``"u"`` a vector uniform on ``(−π, π)``. The order fixes the random stream, so it is part of each network's
    reproducibility contract (stated in its ``init`` docstring)."""
    d = check_positive_int(input_dim, "input_dim")
    n = check_positive_int(width, "width")
    dt = check_float_dtype(dtype)
    check_nbytes((n, d + 2), dt.itemsize, f"the parameters of a width-{n} network")
    g = rng(seed)
    draw = {"n": lambda: g.standard_normal(n), "W": lambda: g.standard_normal((n, d)),
            "u": lambda: g.uniform(-np.pi, np.pi, n)}
    return [draw[k]().astype(dt) for k in order]
