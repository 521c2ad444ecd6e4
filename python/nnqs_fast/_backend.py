"""Backends and THE dispatch point of the package: which backends are usable here and why not, how a public
function declares its CPU and CUDA implementations, and array conversion between NumPy and CuPy in one place.

Backends
--------
``"cpu"``  the C++ core ``nnqs_fast._core`` (always built) plus NumPy/SciPy (BLAS/LAPACK).
``"cuda"`` the CUDA module ``nnqs_fast._cuda`` plus CuPy (cuBLAS/cuSOLVER); usable when the module was built,
           CuPy imports and a device is visible.
``"auto"`` ``"cuda"`` when usable, else ``"cpu"``.

Names are parsed in one place (:func:`parse_backend`): case-insensitive, anything else raises
:class:`~nnqs_fast.errors.InvalidInputError`.

Dispatch (see docs/gpu.md)
--------------------------
A public function is written once, as its CPU implementation, and decorated with ``@dispatch("area.name")``;
``nnqs_fast/gpu/<area>.py`` declares the CUDA implementation with ``@register_cuda("area.name")``. A call
resolves ``backend`` once and runs

* the CUDA implementation when the backend is ``"cuda"`` and one is registered (it receives the arguments as
  given, NumPy or CuPy, without ``backend``; it may return ``NotImplemented`` for arguments it does not handle),
* else the CPU implementation, with CuPy arguments copied to the host and ``backend`` set to the resolved name
  (so shared orchestration can pick a backend's primitive with :func:`implementation`).

Return-type rule, on every dispatched entry point: **CuPy in -> CuPy out, NumPy in -> NumPy out** (arrays inside
tuples, dicts and dataclasses included; result objects deriving from :class:`FollowsInputs` return CuPy from
their methods when they were built from CuPy inputs or are called with CuPy arguments).

``nnqs_fast.gpu`` is imported only here, lazily (:func:`cuda_implementation`), the first time the CUDA backend
is asked for a function of its area; nothing in this module imports it statically (no import cycle).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from .errors import BackendUnavailableError, DTypeError, InvalidInputError, NonFiniteError

BACKENDS = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend is usable, and if not, why."""

    name: str
    usable: bool
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


#: OpenMP threads of the compiled core sleep at barriers unless the user chose otherwise (set before ``_core``
#: loads libgomp, which reads it once): spinning threads starve the working ones whenever the cores are shared
#: (2-core machine at load 13: GD step N = 5000 / 2400 points 1.4x faster, N = 1000 / 600 points 13x faster).
#: On dedicated cores spinning saves microseconds per barrier: ``OMP_WAIT_POLICY=ACTIVE`` restores it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _import_optional(name: str) -> tuple[Any, str]:
    try:
        mod = importlib.import_module(name)
    except Exception as exc:  # ImportError, or a CUDA library failing to load
        return None, f"{type(exc).__name__}: {exc}"
    if name == "nnqs_fast._core":
        _clamp_core_threads(mod)
    return mod, ""


def max_useful_threads() -> int:
    """Upper bound on OpenMP threads: 4x the cores this process may use (at least 4, at most 1024)."""
    import os

    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        n = os.cpu_count() or 1
    return int(min(1024, max(4, 4 * n)))


@functools.cache
def _clamp_core_threads(mod: Any) -> None:
    """OMP_NUM_THREADS far above the cores (100000 crashed the process) is reduced once, when the core loads."""
    try:
        n = int(mod.max_threads())
    except Exception:
        return
    cap = max_useful_threads()
    if n > cap:
        import warnings

        from .errors import ResourceLimitWarning

        mod.set_num_threads(cap)
        warnings.warn(f"OMP_NUM_THREADS asks for {n} threads, more than the {cap} usable here; the C++ core uses "
                      f"{cap}", ResourceLimitWarning, stacklevel=2)


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
                                           "compiler": str(mod.compiler()),
                                           "simd": str(mod.simd_target()) if hasattr(mod, "simd_target") else "none"})


@functools.cache
def cuda_status() -> BackendStatus:
    """Status of the CUDA backend; never raises."""
    mod, why = _import_optional("nnqs_fast._cuda")
    if mod is None:
        return BackendStatus("cuda", False, "no CUDA build: nnqs_fast._cuda was not built "
                             f"(no CUDA compiler at install time, or NNQS_CUDA=OFF) [{why}]")
    dev = dict(mod.device_status())
    details: dict[str, Any] = {}
    details.update({k: v for k, v in gpu_details().items() if k != "reason"})
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


def parse_backend(backend: Any) -> str:
    """The one parser of backend names: ``"auto" | "cpu" | "cuda"`` in any letter case -> lower case.

    Raises :class:`~nnqs_fast.errors.InvalidInputError` for anything else.
    """
    if not isinstance(backend, str) or backend.lower() not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {BACKENDS} (any letter case), got {backend!r}")
    return backend.lower()


def resolve_backend(backend: str = "auto") -> str:
    """Map ``"auto"|"cpu"|"cuda"`` to a usable concrete backend, or raise :class:`BackendUnavailableError`."""
    backend = parse_backend(backend)
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


@functools.cache
def cupy_module() -> Any:
    """The CuPy module (imported lazily, once)."""
    try:
        return importlib.import_module("cupy")
    except Exception as exc:  # only without CuPy
        raise BackendUnavailableError(f"backend='cuda' needs CuPy: install the gpu extra (`pip install .[gpu]`) "
                                      f"[{type(exc).__name__}: {exc}]") from exc


def array_namespace(*arrays: Any) -> Any:
    """``cupy`` when any of ``arrays`` is a CuPy array, else ``numpy`` (``None`` entries are skipped)."""
    return cupy_module() if any(is_cupy_array(a) for a in arrays) else np


def to_device(x: Any, dtype: Any = None, *, name: str = "array", allow_complex: bool = False,
              finite: bool = False) -> Any:
    """C-contiguous CuPy array of ``dtype`` (NumPy input moved once; CuPy input not copied when it fits).

    Integer/bool input becomes float64; complex input raises :class:`~nnqs_fast.errors.DTypeError` unless
    ``allow_complex``; ``finite=True`` raises :class:`~nnqs_fast.errors.NonFiniteError` on NaN/inf (one device
    reduction, one scalar to the host).
    """
    cp = cupy_module()
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
    a = cp.ascontiguousarray(a)
    if finite and a.size and not bool(cp.isfinite(a).all()):
        raise NonFiniteError(f"{name} contains NaN or infinity; clean the input first")
    return a


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
    mod, why = _import_optional("nnqs_fast._cuda")
    if mod is None:
        out["reason"] = f"nnqs_fast._cuda not built ({why})"
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
    cp, why = _import_optional("cupy")
    if cp is None:
        out["cupy"] = f"not importable ({why.split(':')[0]})"
        return out
    out["cupy"] = getattr(cp, "__version__", "?")
    try:
        out["cupy_cuda_runtime"] = ver(int(cp.cuda.runtime.runtimeGetVersion()))
    except Exception:
        pass
    return out


# ---------------------------------------------------------------------------------------------------------------
# Return-type rule: CuPy in -> CuPy out, NumPy in -> NumPy out
# ---------------------------------------------------------------------------------------------------------------
_MAX_DEPTH = 4


def _cupy_imported() -> bool:
    """No CuPy array can exist before CuPy is imported: the fast path of the return-type rule."""
    return "cupy" in sys.modules


def contains_cupy(obj: Any, _depth: int = 0) -> bool:
    """True when ``obj`` is, or holds (tuples, lists, dicts, dataclasses), a CuPy array."""
    if _depth == 0 and not _cupy_imported():
        return False
    if is_cupy_array(obj):
        return True
    if _depth >= _MAX_DEPTH or isinstance(obj, (np.ndarray, str, bytes, int, float, complex, type(None))):
        return False
    if isinstance(obj, (tuple, list)):
        return any(contains_cupy(v, _depth + 1) for v in obj)
    if isinstance(obj, dict):
        return any(contains_cupy(v, _depth + 1) for v in obj.values())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return any(contains_cupy(getattr(obj, f.name), _depth + 1) for f in dataclasses.fields(obj))
    return False


def _convert(obj: Any, leaf: Callable[[Any], Any], is_leaf: Callable[[Any], bool], depth: int = 0) -> Any:
    """``obj`` with every array leaf replaced by ``leaf(a)``; containers rebuilt only when something changed."""
    if is_leaf(obj):
        return leaf(obj)
    if depth >= _MAX_DEPTH:
        return obj
    if isinstance(obj, (tuple, list)):
        new = [_convert(v, leaf, is_leaf, depth + 1) for v in obj]
        if all(a is b for a, b in zip(new, obj)):
            return obj
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
            return type(obj)(*new)
        return type(obj)(new)
    if isinstance(obj, dict):
        newd = {k: _convert(v, leaf, is_leaf, depth + 1) for k, v in obj.items()}
        return obj if all(newd[k] is obj[k] for k in obj) else type(obj)(newd)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            nv = _convert(v, leaf, is_leaf, depth + 1)
            if nv is not v:
                changes[f.name] = nv
        return dataclasses.replace(obj, **changes) if changes else obj
    return obj


def to_host(obj: Any) -> Any:
    """``obj`` with every CuPy array (also inside tuples, lists, dicts, dataclasses) copied to the host."""
    if not _cupy_imported():
        return obj
    return _convert(obj, lambda a: a.get(), is_cupy_array)


def to_device_tree(obj: Any) -> Any:
    """``obj`` with every NumPy array (also inside containers and dataclasses) moved to the device."""
    cp = cupy_module()
    return _convert(obj, cp.asarray, lambda a: type(a) is np.ndarray)


class FollowsInputs:
    """Base of result objects whose methods return arrays (e.g. the dynamics predictors).

    Methods decorated with :func:`follows_inputs` take NumPy or CuPy arguments (CuPy ones are copied to the host)
    and return CuPy arrays when the object was built from CuPy inputs (``outputs_on_device``, set by
    :func:`dispatch`) or when the call has a CuPy argument; NumPy otherwise.
    """

    outputs_on_device: bool = False


_F = TypeVar("_F", bound=Callable[..., Any])


def follows_inputs(method: _F) -> _F:
    """Apply the return-type rule to a method of a :class:`FollowsInputs` object (see there)."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        cupy_in = contains_cupy(args) or contains_cupy(kwargs)
        if cupy_in:
            args, kwargs = to_host(args), to_host(kwargs)
        out = method(self, *args, **kwargs)
        return to_device_tree(out) if (cupy_in or getattr(self, "outputs_on_device", False)) else out

    return wrapper  # type: ignore[return-value]


def match_inputs(result: Any, cupy_in: bool) -> Any:
    """The return-type rule applied to a result: CuPy arrays when ``cupy_in``, NumPy arrays otherwise."""
    if isinstance(result, FollowsInputs):
        if cupy_in:
            result.outputs_on_device = True
        return result
    return to_device_tree(result) if cupy_in else to_host(result)


# ---------------------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------------------
_CPU_IMPLS: dict[str, Callable[..., Any]] = {}
_CUDA_IMPLS: dict[str, Callable[..., Any]] = {}
_CUDA_AREAS_LOADED: dict[str, str] = {}  # area -> "" (imported) or why it could not be imported


def register_cpu(name: str) -> Callable[[_F], _F]:
    """Declare ``fn`` as the CPU implementation (or primitive) ``name`` (``"area.function"``)."""

    def deco(fn: _F) -> _F:
        _CPU_IMPLS[name] = fn
        return fn

    return deco


def register_cuda(name: str) -> Callable[[_F], _F]:
    """Declare ``fn`` as the CUDA implementation (or primitive) ``name``; used in ``nnqs_fast/gpu/<area>.py``."""

    def deco(fn: _F) -> _F:
        _CUDA_IMPLS[name] = fn
        return fn

    return deco


def cuda_implementation(name: str) -> Callable[..., Any] | None:
    """The registered CUDA implementation of ``name`` (``"area.function"``), or None.

    The first lookup for an area imports ``nnqs_fast.gpu.<area>`` (whose decorators register its functions); an
    area without such a module has no CUDA implementations, any other import error propagates.
    """
    area = name.split(".", 1)[0]
    if name not in _CUDA_IMPLS and area not in _CUDA_AREAS_LOADED:
        module = f"nnqs_fast.gpu.{area}"
        try:
            importlib.import_module(module)
            _CUDA_AREAS_LOADED[area] = ""
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a broken gpu module is a bug, not "no CUDA implementation"
                raise
            _CUDA_AREAS_LOADED[area] = f"no module {module}"
    return _CUDA_IMPLS.get(name)


def implementation(name: str, backend: str) -> Callable[..., Any]:
    """The implementation of ``name`` for a concrete or ``"auto"`` backend: CUDA when the backend resolves to
    ``"cuda"`` and one is registered, else the CPU one. For primitives that shared orchestration calls (e.g.
    ``"dynamics.eigh"``)."""
    if resolve_backend(backend) == "cuda":
        fn = cuda_implementation(name)
        if fn is not None:
            return fn
    try:
        return _CPU_IMPLS[name]
    except KeyError:
        raise BackendUnavailableError(f"no implementation of {name!r} is registered") from None


def call(name: str, backend: Any, cpu: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``name`` on ``backend`` (the body of every :func:`dispatch`-ed function; also usable directly for
    closures such as ``kernel_fn``): see the module docstring for the rules."""
    b = resolve_backend(backend)
    cupy_in = contains_cupy(args) or contains_cupy(kwargs)
    result: Any = NotImplemented
    if b == "cuda":
        impl = cuda_implementation(name)
        if impl is not None:
            result = impl(*args, **kwargs)
    if result is NotImplemented:
        if cupy_in:
            args, kwargs = to_host(args), to_host(kwargs)
        result = cpu(*args, backend=b, **kwargs)
    return match_inputs(result, cupy_in)


def dispatch(name: str) -> Callable[[_F], _F]:
    """Decorate the CPU implementation of a public function ``f(..., backend="auto")`` to make it the dispatched
    public entry point ``name`` (``"area.function"``; CUDA implementation: ``@register_cuda(name)`` in
    ``nnqs_fast/gpu/<area>.py``). ``backend`` must be the function's last positional parameter or keyword-only.
    """

    def deco(cpu: _F) -> _F:
        params = list(inspect.signature(cpu).parameters.values())
        names = [p.name for p in params]
        if "backend" not in names:
            raise TypeError(f"@dispatch({name!r}): {cpu.__qualname__} has no 'backend' parameter")
        pb = params[names.index("backend")]
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        pos = None
        if pb.kind == pb.POSITIONAL_OR_KEYWORD:
            if positional[-1] is not pb:
                raise TypeError(f"@dispatch({name!r}): 'backend' must be the last positional parameter")
            pos = len(positional) - 1
        default = pb.default
        _CPU_IMPLS[name] = cpu

        @functools.wraps(cpu)
        def public(*args: Any, **kwargs: Any) -> Any:
            if pos is not None and len(args) > pos:
                backend, args = args[pos], args[:pos]
            else:
                backend = kwargs.pop("backend", default)
            return call(name, backend, cpu, *args, **kwargs)

        public.dispatch_name = name  # type: ignore[attr-defined]
        return public  # type: ignore[return-value]

    return deco
