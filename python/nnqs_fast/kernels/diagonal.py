"""Diagonal-only kernel evaluation: ``K(x_i, x_i)`` for many points without the ``n x n`` matrix.

The variance term L_γ of the ensemble losses (Eq. 18) reads only the NNGP diagonal on the test points; at 4×4
(49 152 test points) the full test-test matrix would be 19 GiB. :func:`kernel_diagonal` calls the kernel's own
``kernel_fn`` (the one recursion, e.g. the C++ ReLU arc-cosine recursion) on consecutive blocks of ``block``
rows paired with themselves — a symmetric ``block x block`` evaluation whose diagonal is exact (``cos t = 1``) —
and keeps the diagonal: O(n · block) work, O(block²) memory, identical values to ``np.diag(kernel_fn(x))``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import as_array, check_positive_int
from ..errors import ShapeMismatchError
from ._common import check_get, kernel_tuple

__all__ = ["kernel_diagonal"]

#: rows per symmetric block evaluation (cost n · block kernel entries)
DEFAULT_DIAG_BLOCK = 32


def kernel_diagonal(kernel_fn: Callable[..., Any], x: Any, get: Any = "nngp", *, block: int = DEFAULT_DIAG_BLOCK,
                    backend: str = "cpu") -> Any:
    """Diagonal ``K(x_i, x_i)`` of ``kernel_fn`` (any ``kernel_fn(x1, x2=None, get=..., backend=...)`` of
    :mod:`nnqs_fast.kernels`) on the rows of ``x`` ``(n, d)``.

    ``get``: a string returns one ``(n,)`` float64 array; a tuple returns a namedtuple of them in that order.
    """
    names, single = check_get(get)
    block = check_positive_int(block, "block")
    xa = as_array(x, "x", ndim=2, allow_complex=False)
    n = xa.shape[0]
    if n == 0:
        raise ShapeMismatchError("x must have at least one row")
    out = {g: np.empty(n, np.float64) for g in names}
    for a in range(0, n, block):
        b = min(a + block, n)
        k = kernel_fn(xa[a:b], None, get=names, backend=backend)
        for g, mat in zip(names, k):
            out[g][a:b] = np.diagonal(np.asarray(mat))
    return out[names[0]] if single else kernel_tuple(names)(*(out[g] for g in names))
