"""Library-independent tile driver of the empirical QS-NTK of any model (docs/interop.md).

The JAX and PyTorch front ends supply ``jac(start, stop, which)``: the Jacobian of a block of input rows, as

* ``"ri"`` blocks: real ``(2, c, P)`` with ``[0] = d Re psi / d theta``, ``[1] = d Im psi / d theta`` over the REAL
  parameters ``theta`` (a complex parameter counts as its real and imaginary parts), or
* ``"holo"`` blocks: complex ``(c, P_c)`` ``F = d psi / d w`` of a holomorphic model of complex parameters ``w``.

Gram tiles (Eq. 7, S8-S9) are BLAS products of two blocks; at most one row block and one column block of the
Jacobian are alive at once. ``"ri"``: with ``K = [J1; J2]`` (``2c x P``) one product ``K_i K_j^T`` holds the four
tiles ``Theta1, Theta12, Theta12^T, Theta2``. ``"holo"``: ``d psi/d Re w = F``, ``d psi/d Im w = i F`` give
``Theta1 = Theta2 = Re(F_i F_j^H)``, ``Theta12 = -Im(F_i F_j^H)``, ``Theta12^T = Im(F_i F_j^H)`` (so ``Theta = 0``,
``Phi = 2 F F^H``), one complex product per tile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._validation import check_memory
from ..kernels._common import blocks, gram
from ..kernels.qsntk import QSNTK, qsntk_from_parts

#: Default budget (bytes) for the Jacobian blocks alive at once (row block + column block).
JACOBIAN_BUDGET_BYTES = 1 << 28


def auto_chunk(n: int, p_real: int, itemsize: int, chunk: int | None) -> int:
    """Rows per block: ``chunk`` if given, else the most rows whose two blocks fit :data:`JACOBIAN_BUDGET_BYTES`."""
    if chunk is not None:
        return int(chunk)
    per_row = 2 * p_real * itemsize  # real and imaginary part of d psi over P_real parameters
    return int(max(16, min(n, JACOBIAN_BUDGET_BYTES // (2 * max(per_row, 1)))))


def qsntk_tiles(jac: Callable[[int, int, int], Any], to_host: Callable[[Any], np.ndarray],
                matmul: Callable[[Any, Any], Any] | None, n1: int, n2: int, symmetric: bool, chunk: int,
                mode: str, dtype: np.dtype, meta: dict) -> QSNTK:
    """Assemble the QS-NTK of ``n1 x n2`` inputs tile by tile.

    ``jac(which, start, stop)`` returns a block of set ``which`` (0: x1, 1: x2); ``matmul(a, b)`` computes
    ``a @ b^T`` (``a @ b^H`` for ``"holo"``) on the device of the blocks and returns a device array (only the
    ``c x c`` tile is moved by ``to_host``); ``matmul=None`` means host blocks and NumPy/SciPy BLAS.
    """
    check_memory(4 * n1 * n2 * np.dtype(dtype).itemsize * 3, f"the {n1} x {n2} QS-NTK blocks")
    t1 = np.empty((n1, n2), dtype)
    t2 = np.empty((n1, n2), dtype)
    m = np.empty((n1, n2), dtype)
    mt = np.empty((n1, n2), dtype)
    rb = blocks(n1, chunk)
    cb = rb if symmetric else blocks(n2, chunk)
    for bi, (i0, i1) in enumerate(rb):
        Ki = jac(0, i0, i1)
        for bj, (j0, j1) in enumerate(cb):
            if symmetric and bj < bi:
                continue
            diag = symmetric and bi == bj
            Kj = Ki if diag else jac(1, j0, j1)
            ci, cj = i1 - i0, j1 - j0
            if mode == "ri":
                if matmul is None:
                    a = np.asarray(Ki).reshape(2 * ci, -1)
                    G = gram(a) if diag else gram(a, np.asarray(Kj).reshape(2 * cj, -1))
                else:
                    G = to_host(matmul(Ki.reshape(2 * ci, -1), Kj.reshape(2 * cj, -1)))
                G = G.reshape(2, ci, 2, cj)
                g11, g12, g21, g22 = G[0, :, 0], G[0, :, 1], G[1, :, 0], G[1, :, 1]
            else:
                if matmul is None:
                    Fi = np.asarray(Ki)
                    A = Fi @ (Fi if diag else np.asarray(Kj)).conj().T
                else:
                    A = to_host(matmul(Ki, Kj))
                g11 = g22 = A.real
                g12, g21 = -A.imag, A.imag
            t1[i0:i1, j0:j1] = g11
            t2[i0:i1, j0:j1] = g22
            m[i0:i1, j0:j1] = g12
            mt[i0:i1, j0:j1] = g21
            if symmetric and not diag:
                t1[j0:j1, i0:i1] = g11.T
                t2[j0:j1, i0:i1] = g22.T
                m[j0:j1, i0:i1] = g21.T
                mt[j0:j1, i0:i1] = g12.T
            Kj = None  # drop the column block before the next one is computed
        Ki = None
    return qsntk_from_parts(t1, t2, m, mt, symmetric=symmetric, meta=meta)
