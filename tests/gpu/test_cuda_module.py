"""CPU-runnable checks of the CUDA module (these run in CI, which has nvcc but no GPU): the module imports,
reports why it is not usable without raising, and nothing on the CPU path imports CuPy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from nnqs_fast._backend import cuda_status, resolve_backend
from nnqs_fast.errors import BackendUnavailableError


def _cuda_module():
    try:
        return importlib.import_module("nnqs_fast._cuda")
    except ImportError as exc:
        pytest.skip(f"nnqs_fast._cuda not built here ({exc})")


def test_cuda_module_imports_and_reports_status_without_raising() -> None:
    mod = _cuda_module()
    st = dict(mod.device_status())
    for key in ("usable", "device_count", "runtime_version", "driver_version", "compute_capability",
                "total_memory", "name", "reason"):
        assert key in st, key
    assert isinstance(st["usable"], bool)
    if not st["usable"]:
        assert st["reason"], "an unusable device must say why"
    else:
        assert st["device_count"] >= 1 and st["name"]
    assert st["runtime_version"] >= 11000  # built against a CUDA 11+ runtime, reported even without a driver


def test_cuda_module_exposes_every_kernel() -> None:
    mod = _cuda_module()
    for name in ("ntk_tile_accumulate", "mirror_upper", "relu_gram", "stationary_gram",
                 "wick_ptrace_frob2", "wick_diag", "gd_monitor",
                 "wick_pp_term", "wick_ptrace_blocks", "wick_pp_blocks", "gd_forward", "gd_backward_update",
                 "gd_forward_splits", "gd_backward_splits", "gd_reduce_blocks", "compiled_archs"):
        assert hasattr(mod, name), name
    archs = mod.compiled_archs().split(",")
    assert "800" in archs and "900" in archs, archs
    assert issubclass(mod.CudaError, RuntimeError)
    # host-side launch-shape helpers need no device
    assert 1 <= mod.gd_forward_splits(20, 5000, 16, 2400) <= 64
    assert 1 <= mod.gd_backward_splits(20, 5000, 16, 2400) <= 64
    assert mod.gd_reduce_blocks(2400) == 10
    assert 1 <= mod.wick_ptrace_blocks(65536) <= 8192
    assert mod.wick_pp_blocks(2, 2) == 1


def test_kernel_spec_validation_raises_python_errors() -> None:
    mod = _cuda_module()
    with pytest.raises(ValueError):
        mod.wick_diag(0, 0, 1, 0, (9, 1, 0.5, 0.1, 1.0, 1.0, 0.0), (0, 1, 0, 0, 0, 0, 0), 0, 0)
    with pytest.raises(ValueError):
        mod.wick_diag(0, 0, 1, 0, (2, 1, 0.5), (0, 1, 0, 0, 0, 0, 0), 0, 0)
    with pytest.raises(ValueError):  # relu depth < 1
        mod.wick_diag(0, 0, 1, 0, (2, 0, 0.5, 0.1, 0.0, 0.0, 1.0), (0, 1, 0, 0, 0, 0, 0), 0, 0)


def test_cuda_kernel_family_numbering_matches_core() -> None:
    mod = _cuda_module()
    from nnqs_fast import _core

    for name in ("zero", "rbf", "relu", "delta", "relu_ntk"):
        assert int(getattr(mod.KernelFamily, name)) == int(getattr(_core.KernelFamily, name)), name


def test_impossible_wick_sizes_raise_memory_limit_error() -> None:
    from nnqs_fast.errors import MemoryLimitError

    mod = _cuda_module()
    with pytest.raises(MemoryLimitError):
        mod.wick_pp_blocks(1 << 20, 1 << 20)


def test_launch_without_device_raises_cuda_error_with_message() -> None:
    mod = _cuda_module()
    if mod.device_status()["usable"]:
        pytest.skip("a device is present: launches succeed")
    with pytest.raises(RuntimeError) as info:  # CudaError carrying the CUDA error string
        mod.mirror_upper(0, 10, 10, True, 0)
    assert "CUDA error" in str(info.value) or "cuda" in str(info.value).lower()


def test_backend_reports_reason_and_cuda_request_fails_cleanly() -> None:
    st = cuda_status()
    if st.usable:
        assert resolve_backend("cuda") == "cuda"
        return
    assert st.reason
    with pytest.raises(BackendUnavailableError, match="not usable"):
        resolve_backend("cuda")


def test_gpu_details_never_raises() -> None:
    from nnqs_fast._backend import gpu_details

    info = gpu_details()
    assert isinstance(info, dict)
    assert "cupy" in info or "reason" in info


def test_cpu_path_and_gpu_modules_do_not_import_cupy() -> None:
    code = ("import sys, nnqs_fast, nnqs_fast.cli\n"
            "import nnqs_fast.gpu, nnqs_fast.gpu._shim, nnqs_fast.gpu.kernels, nnqs_fast.gpu.training, "
            "nnqs_fast.gpu.entanglement, nnqs_fast.gpu.dynamics\n"
            "from nnqs_fast._backend import backend_info; backend_info()\n"
            "print('cupy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "PYTHONPATH": ":".join(p for p in sys.path if p)})
    if cuda_status().usable:
        return  # backend_info imports CuPy on purpose when a device is present
    assert out.stdout.strip() == "False", out.stdout + out.stderr
