"""The one small shim between CuPy arrays and the raw-pointer kernels of ``nnqs_fast._cuda``.

* device pointers are read through ``__cuda_array_interface__`` (:func:`nnqs_fast._backend.device_pointer`),
  streams are CuPy's current stream (:func:`nnqs_fast._backend.current_stream_pointer`);
* outputs are allocated with CuPy (its memory pool sees them) — the kernels never allocate;
* NumPy inputs are moved to the device once (:func:`to_device`), CuPy inputs are used in place (no copy when
  already C-contiguous and of the right dtype);
* CUDA errors raised by the kernels (``nnqs_fast._cuda.CudaError``, carrying the CUDA error string) propagate as
  Python ``RuntimeError`` subclasses; :func:`launch` adds which kernel failed.

Nothing here imports CuPy at module import time: this module is imported only on the ``backend="cuda"`` path.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .._backend import current_stream_pointer, device_pointer, is_cupy_array
from ..errors import BackendUnavailableError, DTypeError, InvalidInputError, NonFiniteError

__all__ = ["cupy", "cuda_module", "to_device", "ptr", "stream", "is_double", "launch", "gpu_details",
           "check_finite_device", "free_bytes", "NULL"]

NULL = 0  # a null device pointer (optional kernel arguments)


@functools.cache
def cupy() -> Any:
    """The CuPy module (imported lazily)."""
    try:
        return importlib.import_module("cupy")
    except Exception as exc:  # pragma: no cover - only without CuPy
        raise BackendUnavailableError(f"backend='cuda' needs CuPy: install the gpu extra (`pip install .[gpu]`) "
                                      f"[{type(exc).__name__}: {exc}]") from exc


@functools.cache
def cuda_module() -> Any:
    """The compiled CUDA module ``nnqs_fast._cuda``."""
    try:
        return importlib.import_module("nnqs_fast._cuda")
    except Exception as exc:  # pragma: no cover - only without a CUDA build
        raise BackendUnavailableError(f"nnqs_fast._cuda is not built ({type(exc).__name__}: {exc}); reinstall "
                                      "with a CUDA compiler on PATH, or use backend='cpu'") from exc


def to_device(x: Any, dtype: Any = None, *, name: str = "array", allow_complex: bool = False) -> Any:
    """C-contiguous CuPy array of ``dtype`` (NumPy input moved once; CuPy input not copied when it fits)."""
    cp = cupy()
    if x is None:
        raise InvalidInputError(f"{name} is required but got None")
    if not is_cupy_array(x):
        x = np.asarray(x)
        if x.dtype.kind in "biu":
            x = x.astype(np.float64)
    a = cp.asarray(x)
    if a.dtype.kind == "c" and not allow_complex:
        raise DTypeError(f"{name} must be real, got complex dtype {a.dtype}")
    if a.dtype.kind not in "fc":
        a = a.astype(cp.float64)
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return cp.ascontiguousarray(a)


def check_finite_device(a: Any, name: str) -> None:
    """Raise :class:`NonFiniteError` if a device array has NaN/inf (one reduction, one scalar to the host)."""
    cp = cupy()
    if a.size and not bool(cp.isfinite(a).all()):
        raise NonFiniteError(f"{name} contains NaN or infinity; clean the input first")


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


def gpu_details() -> dict[str, Any]:
    """What ``nnqs-fast info`` should show for the CUDA backend; never raises.

    Keys: ``device`` (name), ``compute_capability`` ("9.0"), ``memory_gib``, ``cuda_runtime`` (the runtime the
    module was built against, e.g. "13.0"), ``cuda_driver`` (the driver's CUDA version), ``compiled_archs``
    ("800,900"), ``cupy`` (version), ``cupy_cuda_runtime`` (the CUDA runtime CuPy loaded), ``reason`` (when not
    usable).
    """

    def ver(v: int) -> str:
        return f"{v // 1000}.{(v % 1000) // 10}" if v else ""

    out: dict[str, Any] = {}
    try:
        mod = importlib.import_module("nnqs_fast._cuda")
    except Exception as exc:
        out["reason"] = f"nnqs_fast._cuda not built ({type(exc).__name__}: {exc})"
        return out
    try:
        st = dict(mod.device_status())
        out["device"] = st.get("name", "")
        cc = int(st.get("compute_capability", 0))
        out["compute_capability"] = f"{cc // 10}.{cc % 10}" if cc else ""
        out["memory_gib"] = round(int(st.get("total_memory", 0)) / 1024 ** 3, 1)
        out["cuda_runtime"] = ver(int(st.get("runtime_version", 0)))
        out["cuda_driver"] = ver(int(st.get("driver_version", 0)))
        if hasattr(mod, "compiled_archs"):
            out["compiled_archs"] = str(mod.compiled_archs())
        if not st.get("usable", False):
            out["reason"] = st.get("reason", "")
    except Exception as exc:  # pragma: no cover - defensive: info must never raise
        out["reason"] = f"{type(exc).__name__}: {exc}"
    try:
        cp = importlib.import_module("cupy")
        out["cupy"] = getattr(cp, "__version__", "?")
        try:
            out["cupy_cuda_runtime"] = ver(int(cp.cuda.runtime.runtimeGetVersion()))
        except Exception:
            pass
    except Exception as exc:
        out["cupy"] = f"not importable ({type(exc).__name__})"
    return out
