"""Shared helpers of the kernels subpackage: input checks, tiling, BLAS Gram products, the C++ core handle."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.linalg.blas as _blas

from .._backend import array_namespace, core_module, is_cupy_array, to_device
from .._memory import pool_empty
from .._validation import as_array, check_chunk_size
from ..errors import DTypeError, InvalidInputError, ShapeMismatchError

GETS = ("nngp", "ntk")

_KERNEL_TUPLES: dict[tuple[str, ...], type] = {}


def kernel_tuple(names: tuple[str, ...]) -> type:
    """namedtuple type ``Kernel(<names>)`` (cached)."""
    if names not in _KERNEL_TUPLES:
        _KERNEL_TUPLES[names] = namedtuple("Kernel", names)
    return _KERNEL_TUPLES[names]


def check_get(get: Any, allowed: tuple[str, ...] = GETS) -> tuple[tuple[str, ...], bool]:
    """Normalise ``get`` to a tuple of names; second value: whether a single array is returned."""
    if isinstance(get, str):
        names, single = (get,), True
    elif isinstance(get, (tuple, list)) and len(get) > 0 and all(isinstance(g, str) for g in get):
        names, single = tuple(get), False
    else:
        raise InvalidInputError(f"get must be a string or a non-empty tuple of strings from {allowed}, got {get!r}")
    for g in names:
        if g not in allowed:
            raise InvalidInputError(f"get contains {g!r}; valid names are {allowed}")
    if len(set(names)) != len(names):
        raise InvalidInputError(f"get names a kernel more than once ({get!r}); list each of {allowed} at most once")
    return names, single


def check_dtype(dtype: Any, default: Any = np.float64) -> np.dtype:
    try:
        dt = np.dtype(default if dtype is None else dtype)
    except TypeError as exc:
        raise DTypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def as_input(x: Any, name: str, xp: Any = np, *, allow_complex: bool = False) -> Any:
    """``x`` as a checked 2-D array of namespace ``xp`` (NumPy or CuPy): numeric, finite, real unless
    ``allow_complex``; integer input becomes float64. NumPy input for ``xp = cupy`` is checked on the host and
    moved to the device once."""
    if xp is np or not is_cupy_array(x):
        x = as_array(x, name, ndim=2, allow_complex=allow_complex)
        if xp is np:
            return x
    a = to_device(x, None, name=name, allow_complex=allow_complex, finite=is_cupy_array(x))
    if a.ndim != 2:
        raise ShapeMismatchError(f"{name} must have 2 dimensions, got shape {tuple(a.shape)}")
    return a


def check_inputs(x1: Any, x2: Any = None, *, dtype: Any = None, input_dim: int | None = None, xp: Any = None
                 ) -> tuple[Any, Any, bool, np.dtype]:
    """Validate ``x1`` (n1, d) and ``x2`` (n2, d) (default ``x1``); returns C-contiguous arrays of ``dtype`` in
    namespace ``xp`` (default: that of the inputs; the CUDA paths pass ``cupy`` to move NumPy inputs once).

    ``dtype=None``: float32 if ``x1`` is float32, else float64.
    """
    xp = array_namespace(x1, x2) if xp is None else xp
    a = as_input(x1, "x1", xp)
    dt = check_dtype(dtype, np.float32 if a.dtype == np.float32 else np.float64)
    a = xp.ascontiguousarray(a, dtype=dt)
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ShapeMismatchError(f"x1 must have at least one row and one feature, got shape {tuple(a.shape)}")
    if input_dim is not None and a.shape[1] != input_dim:
        raise ShapeMismatchError(f"x1 has {a.shape[1]} features but the network expects {input_dim}")
    if x2 is None or x2 is x1:
        return a, a, True, dt
    b = xp.ascontiguousarray(as_input(x2, "x2", xp), dtype=dt)
    if b.shape[0] == 0:
        raise ShapeMismatchError(f"x2 must have at least one row, got shape {tuple(b.shape)}")
    if b.shape[1] != a.shape[1]:
        raise ShapeMismatchError(f"x1 has {a.shape[1]} features but x2 has {b.shape[1]}; they must match")
    return a, b, False, dt


def blocks(n: int, chunk: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(n)`` in blocks of at most ``chunk`` (no divisibility needed)."""
    if chunk is None or chunk >= n:
        return [(0, n)]
    return [(s, min(n, s + chunk)) for s in range(0, n, chunk)]


def tile_pairs(n1: int, n2: int, chunk: int | None, symmetric: bool) -> Iterator[tuple[int, int, int, int]]:
    """Output tiles ``(i0, i1, j0, j1)``; for ``symmetric`` only tiles on or above the diagonal."""
    rb = blocks(n1, chunk)
    cb = blocks(n2, chunk)
    for bi, (i0, i1) in enumerate(rb):
        for bj, (j0, j1) in enumerate(cb):
            if symmetric and bj < bi:
                continue
            yield i0, i1, j0, j1


def gram(a: np.ndarray, b: np.ndarray | None = None, *, upper_only: bool = False,
         out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b.T`` through BLAS without copies (C-contiguous result).

    ``b is None``: ``a @ a.T`` by SYRK; with ``upper_only`` only the upper triangle (``i <= j``) is valid.
    ``out``: a C-contiguous buffer of the result's shape and dtype to write into (no new allocation: fresh
    pages are expensive for ``n x n`` matrices).
    """
    a = np.ascontiguousarray(a)
    if b is None:
        syrk = _blas.dsyrk if a.dtype == np.float64 else _blas.ssyrk
        # a.T is Fortran-contiguous (k x n): trans=1 gives (a.T).T (a.T) = a a^T in Fortran order, lower
        # triangle in Fortran order = upper triangle of the C-order transpose view.
        if out is not None and out.flags.c_contiguous and out.dtype == a.dtype and out.shape == (a.shape[0],) * 2:
            r = syrk(1.0, a.T, trans=1, lower=1, beta=0.0, c=out.T, overwrite_c=1)
            g = r.T
            if not np.shares_memory(g, out):  # pragma: no cover - f2py copied after all
                out[...] = g
                g = out
        else:
            g = syrk(1.0, a.T, trans=1, lower=1).T
        if not upper_only:
            iu = np.tril_indices(g.shape[0], -1)
            g[iu] = g.T[iu]
        return g
    b = np.ascontiguousarray(b)
    if out is not None and out.flags.c_contiguous and out.dtype == a.dtype and out.shape == (a.shape[0], b.shape[0]):
        return np.matmul(a, b.T, out=out)
    return a @ b.T


class Workspace:
    """Reusable scratch buffers keyed by name (shape and dtype must match to be reused).

    Buffers come from the core's caching memory pool (:func:`nnqs_fast.memory_pool`): a later call's workspace
    gets back already-mapped pages instead of paying the OS's page faults and zeroing again."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        buf = self._bufs.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = pool_empty(shape, dtype)
            self._bufs[name] = buf
        return buf

    def take(self, name: str) -> np.ndarray | None:
        """Remove and return a buffer (to hand it out as a result)."""
        return self._bufs.pop(name, None)


def core() -> Any:
    return core_module()


__all__ = ["GETS", "kernel_tuple", "check_get", "check_dtype", "as_input", "check_inputs", "blocks", "tile_pairs",
           "gram", "core", "check_chunk_size", "Workspace", "check_jacobian_shapes"]


def check_jacobian_shapes(j1: Any, j2: Any, k1: Any, k2: Any, dt: np.dtype) -> None:
    """Shape/dtype checks shared by the CPU and CUDA ``qsntk_from_jacobians``: J1, J2 (x1) and J1_x2, J2_x2 (x2)
    must agree in the parameter count and, pairwise, in the number of rows (any of j2, k1, k2 may be None)."""
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(f"dtype must be float32 or float64, got {dt}")
    P = j1.shape[1]
    for m, nm in ((j2, "J2"), (k1, "J(x2)"), (k2, "J2(x2)")):
        if m is not None and m.shape[1] != P:
            raise ShapeMismatchError(f"{nm} has {m.shape[1]} parameter columns but J1 has {P}; they must match")
    if j2 is not None and j2.shape[0] != j1.shape[0]:
        raise ShapeMismatchError(f"J1 has {j1.shape[0]} rows but J2 has {j2.shape[0]}")
    if k2 is not None and k1 is not None and k2.shape[0] != k1.shape[0]:
        raise ShapeMismatchError(f"J1_x2 has {k1.shape[0]} rows but J2_x2 has {k2.shape[0]}")
