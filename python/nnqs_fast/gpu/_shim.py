"""The one small shim between CuPy arrays and the raw-pointer kernels of ``nnqs_fast._cuda``.

* device pointers are read through ``__cuda_array_interface__`` (:func:`nnqs_fast._backend.device_pointer`),
  streams are CuPy's current stream (:func:`nnqs_fast._backend.current_stream_pointer`);
* outputs are allocated with CuPy (its memory pool sees them) — the kernels never allocate;
* NumPy inputs are moved to the device once (:func:`nnqs_fast._backend.to_device`), CuPy inputs are used in
  place (no copy when already C-contiguous and of the right dtype);
* CUDA errors raised by the kernels (``nnqs_fast._cuda.CudaError``, carrying the CUDA error string) propagate as
  Python ``RuntimeError`` subclasses; :func:`launch` adds which kernel failed.

This module imports :mod:`nnqs_fast._backend` (the layer below); ``_backend`` never imports it. Nothing here
imports CuPy at module import time.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .._backend import cupy_module as cupy
from .._backend import current_stream_pointer, device_pointer, to_device
from ..errors import BackendUnavailableError, DTypeError

__all__ = ["cupy", "cuda_module", "to_device", "ptr", "stream", "is_double", "launch", "free_bytes", "NULL"]

NULL = 0  # a null device pointer (optional kernel arguments)


@functools.cache
def cuda_module() -> Any:
    """The compiled CUDA module ``nnqs_fast._cuda``."""
    try:
        return importlib.import_module("nnqs_fast._cuda")
    except Exception as exc:  # pragma: no cover - only without a CUDA build
        raise BackendUnavailableError(f"nnqs_fast._cuda is not built ({type(exc).__name__}: {exc}); reinstall "
                                      "with a CUDA compiler on PATH, or use backend='cpu'") from exc


def ptr(a: Any) -> int:
    """Device pointer of a C-contiguous CuPy array (0 for None)."""
    if a is None:
        return NULL
    return device_pointer(a)


def stream() -> int:
    """CuPy's current stream, as the integer handle the kernels launch on."""
    return current_stream_pointer()


def is_double(a: Any) -> bool:
    if a.dtype == np.float64:
        return True
    if a.dtype == np.float32:
        return False
    raise DTypeError(f"the CUDA kernels take float32 or float64 arrays, got {a.dtype}")


def launch(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a ``nnqs_fast._cuda`` function; a CUDA failure is re-raised naming the kernel (same exception type)."""
    try:
        return fn(*args, **kwargs)
    except RuntimeError as exc:
        if type(exc).__name__ == "CudaError":
            raise type(exc)(f"{getattr(fn, '__name__', 'kernel')}: {exc}") from exc
        raise


def free_bytes() -> int:
    """Free device memory now (driver free + CuPy pool free blocks)."""
    cp = cupy()
    free, _total = cp.cuda.runtime.memGetInfo()
    pool = cp.get_default_memory_pool()
    return int(free) + int(pool.free_bytes())
