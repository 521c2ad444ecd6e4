"""Backends: which are usable here and why not, and array conversion between NumPy and CuPy in one place.

Backends
--------
``"cpu"``  the C++ core ``nnqs_fast._core`` (always built) plus NumPy/SciPy (BLAS/LAPACK).
``"cuda"`` the CUDA module ``nnqs_fast._cuda`` plus CuPy (cuBLAS/cuSOLVER); usable when the module was built,
           CuPy imports and a device is visible.
``"auto"`` ``"cuda"`` when usable, else ``"cpu"``.

The CUDA shim reads device pointers through ``__cuda_array_interface__`` and launches on CuPy's current stream.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BackendUnavailableError, InvalidInputError

BACKENDS = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend is usable, and if not, why."""

    name: str
    usable: bool
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def _import_optional(name: str) -> tuple[Any, str]:
    try:
        return importlib.import_module(name), ""
    except Exception as exc:  # ImportError, or a CUDA library failing to load
        return None, f"{type(exc).__name__}: {exc}"


@functools.cache
def core_module() -> Any:
    """The compiled CPU core ``nnqs_fast._core``."""
    mod, why = _import_optional("nnqs_fast._core")
    if mod is None:
        raise BackendUnavailableError(
            f"the compiled core nnqs_fast._core could not be imported ({why}); reinstall with `pip install .`")
    return mod


@functools.cache
def cpu_status() -> BackendStatus:
    mod, why = _import_optional("nnqs_fast._core")
    if mod is None:
        return BackendStatus("cpu", False, f"nnqs_fast._core not importable ({why})")
    return BackendStatus("cpu", True, "", {"openmp": bool(mod.has_openmp()), "threads": int(mod.max_threads()),
                                           "compiler": str(mod.compiler())})


@functools.cache
def cuda_status() -> BackendStatus:
    """Status of the CUDA backend; never raises."""
    mod, why = _import_optional("nnqs_fast._cuda")
    if mod is None:
        return BackendStatus("cuda", False, "no CUDA build: nnqs_fast._cuda was not built "
                             f"(no CUDA compiler at install time, or NNQS_CUDA=OFF) [{why}]")
    dev = dict(mod.device_status())
    details: dict[str, Any] = {}
    try:  # GPU name, compute capability, memory, CUDA runtime/driver, compiled archs, CuPy version
        from .gpu._shim import gpu_details

        details.update({k: v for k, v in gpu_details().items() if k != "reason"})
    except Exception as exc:  # pragma: no cover - info must never raise
        details["details_error"] = f"{type(exc).__name__}: {exc}"
    if not dev.get("usable", False):
        return BackendStatus("cuda", False, f"no device: {dev.get('reason') or 'no CUDA device visible'}", details)
    cp, why = _import_optional("cupy")
    if cp is None:
        return BackendStatus("cuda", False, f"no CuPy: install the gpu extra (`pip install .[gpu]`) [{why}]",
                             details)
    details["cupy"] = getattr(cp, "__version__", "?")
    return BackendStatus("cuda", True, "", details)


def backend_info() -> dict[str, BackendStatus]:
    """Status of every backend: ``{"cpu": BackendStatus, "cuda": BackendStatus}``."""
    return {"cpu": cpu_status(), "cuda": cuda_status()}


def resolve_backend(backend: str = "auto") -> str:
    """Map ``"auto"|"cpu"|"cuda"`` to a usable concrete backend, or raise :class:`BackendUnavailableError`."""
    if not isinstance(backend, str) or backend.lower() not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {BACKENDS}, got {backend!r}")
    backend = backend.lower()
    if backend == "auto":
        return "cuda" if cuda_status().usable else "cpu"
    if backend == "cuda":
        st = cuda_status()
        if not st.usable:
            raise BackendUnavailableError(f"backend='cuda' is not usable: {st.reason}; use backend='cpu'")
    return backend


def is_cupy_array(x: Any) -> bool:
    """True for CuPy arrays (without importing CuPy)."""
    return type(x).__module__.split(".")[0] == "cupy"


def to_numpy(x: Any) -> np.ndarray:
    """Host copy of any array (CuPy arrays are copied off the device once)."""
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def to_device(x: Any, dtype: Any = None) -> Any:
    """CuPy array on the current device (moved once if it is a host array)."""
    import cupy as cp

    return cp.asarray(x, dtype=dtype)


def device_pointer(x: Any) -> int:
    """Device pointer of a C-contiguous CUDA array, read through ``__cuda_array_interface__``."""
    iface = getattr(x, "__cuda_array_interface__", None)
    if iface is None:
        raise InvalidInputError(f"expected a CUDA array (CuPy), got {type(x).__name__}")
    strides = iface.get("strides")
    if strides is not None:
        itemsize = np.dtype(iface["typestr"]).itemsize
        expected, acc = [], itemsize
        for n in reversed(iface["shape"]):
            expected.append(acc)
            acc *= n
        if tuple(reversed(expected)) != tuple(strides):
            raise InvalidInputError("CUDA array must be C-contiguous; call cupy.ascontiguousarray first")
    return int(iface["data"][0])


def current_stream_pointer() -> int:
    """CuPy's current stream as an integer handle for the CUDA kernels."""
    import cupy as cp

    return int(cp.cuda.get_current_stream().ptr)


def gpu_impl(area: str, name: str) -> Any:
    """The CUDA implementation ``nnqs_fast.gpu.<area>.<name>`` of a public function.

    Rule: a public function ``f(..., backend="auto")`` whose resolved backend is ``"cuda"`` calls
    ``gpu_impl("<area>", "f")(...)`` with the same arguments (minus ``backend``); the GPU function accepts NumPy
    or CuPy arrays and returns CuPy arrays (or the same result type with CuPy arrays inside).
    """
    try:
        mod = importlib.import_module(f"nnqs_fast.gpu.{area}")
    except ModuleNotFoundError as exc:
        raise BackendUnavailableError(f"no CUDA implementation of {area}.{name} in this build ({exc})") from exc
    fn = getattr(mod, name, None)
    if fn is None:
        raise BackendUnavailableError(f"no CUDA implementation of {area}.{name}; use backend='cpu'")
    return fn
