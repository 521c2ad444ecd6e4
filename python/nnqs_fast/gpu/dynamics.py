"""CUDA path of the closed-form dynamics (issue 4 / 7): the float64 eigendecompositions on the GPU (cuSOLVER
``syevd``/``heevd`` through ``cupy.linalg.eigh``), everything else shared with the CPU predictor.

The O(n^3) part of every predictor is the eigendecomposition of the train-train kernel (``Theta1``, ``Theta2``,
``Omega_RI`` or ``Omega M``); it is computed here on the device in float64 (complex128 for ``Omega M``), checked
exactly like the CPU path (indefinite -> :class:`~nnqs_fast.errors.KernelNotPositiveDefiniteError` with the
smallest eigenvalue and a ``diag_reg`` suggestion; non-finite -> error) and cached in the CPU predictor, which
then evaluates all times from it. The remaining work is O(n^2 T) (projections) and O(n_test n T) for the
test–train kernel, which the CPU predictor streams in row chunks of ``DEFAULT_TEST_CHUNK`` — so a 65 536-state
basis (63 136 test rows x 4 000 train columns, 2 GB in float64) never needs a dense test–train matrix on the GPU.

Inputs may be CuPy arrays (or a QSNTK holding CuPy arrays); they are copied to the host once. Results are NumPy
arrays (the predictor object is the CPU one), so both backends return the same types here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._backend import is_cupy_array
from . import _shim

__all__ = ["gradient_descent_mse", "gradient_descent_mse_ensemble", "gp_inference", "device_eigh"]


def device_eigh(H: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(lam, V)`` of a real symmetric / complex Hermitian matrix by cuSOLVER in float64 / complex128."""
    cp = _shim.cupy()
    Hd = cp.asarray(H)
    Hd = Hd.astype(cp.complex128 if Hd.dtype.kind == "c" else cp.float64, copy=False)
    lam, V = cp.linalg.eigh(Hd, UPLO="L")
    return cp.asnumpy(lam), cp.asnumpy(V)


def _host(x: Any) -> Any:
    """CuPy arrays (also inside tuples/lists and QSNTK-like dataclasses) -> NumPy; anything else unchanged."""
    if is_cupy_array(x):
        return x.get()
    if isinstance(x, (tuple, list)):
        return type(x)(_host(v) for v in x)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        changes = {f.name: _host(getattr(x, f.name)) for f in dataclasses.fields(x)
                   if is_cupy_array(getattr(x, f.name))}
        return dataclasses.replace(x, **changes) if changes else x
    return x


def _flows(obj: Any) -> list[Any]:
    """The SpectralFlow objects a CPU predictor holds (channels, parts), de-duplicated."""
    from ..dynamics._spectral import SpectralFlow

    found: dict[int, Any] = {}

    def visit(v: Any, depth: int) -> None:
        if isinstance(v, SpectralFlow):
            found[id(v)] = v
        elif depth > 0 and isinstance(v, (list, tuple)):
            for u in v:
                visit(u, depth - 1)
        elif depth > 0 and hasattr(v, "__dict__") and not isinstance(v, type):
            for u in vars(v).values():
                visit(u, depth - 1)

    for val in vars(obj).values():
        visit(val, 3)
    return list(found.values())


def _prime(flow: Any) -> None:
    """Compute and cache ``flow``'s eigendecomposition on the GPU, with the CPU path's checks."""
    from ..dynamics import _spectral as S
    from ..errors import KernelNotPositiveDefiniteError

    if getattr(flow, "_eig", None) is not None:
        return
    lam, V = device_eigh(flow.H)
    if not np.all(np.isfinite(lam)):
        raise KernelNotPositiveDefiniteError.non_finite(flow.what)
    lam_min, lam_max = float(lam[0]), float(lam[-1])
    tol = S.pd_tolerance(lam_max, flow.n)
    if lam_min < -tol:
        raise S._not_pd_error(lam_min, lam_max, flow.n, flow.what, "indefinite")
    flow.lam_min_raw = lam_min
    flow._eig = (np.maximum(lam, 0.0), V)


class _GPUPrimed:
    """Wraps a CPU predictor whose eigendecompositions were computed on the GPU; converts CuPy arguments of its
    methods to NumPy. Attribute access is forwarded, so it behaves like the CPU predictor."""

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "_inner", inner)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner(*_host(args), **{k: _host(v) for k, v in kwargs.items()})

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if callable(attr) and not isinstance(attr, type):
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                return attr(*_host(args), **{k: _host(v) for k, v in kwargs.items()})

            wrapped.__name__ = name
            wrapped.__doc__ = getattr(attr, "__doc__", None)
            return wrapped
        return attr

    def __repr__(self) -> str:
        return f"GPUPrimed({self._inner!r})"


def _primed(pred: Any) -> Any:
    for f in _flows(pred):
        _prime(f)
    return _GPUPrimed(pred)


def gradient_descent_mse(k_train_train: Any, y_train: Any, learning_rate: float, diag_reg: float = 0.0,
                         discrete: bool = False) -> Any:
    """CUDA path of :func:`nnqs_fast.dynamics.gradient_descent_mse` (eigendecompositions by cuSOLVER)."""
    from ..dynamics import gradient_descent_mse as cpu

    pred = cpu(_host(k_train_train), _host(y_train), learning_rate, diag_reg=diag_reg, discrete=discrete,
               backend="cpu")
    return _primed(pred)


def gradient_descent_mse_ensemble(nngp_train_train: Any, ntk_train_train: Any, y_train: Any,
                                  learning_rate: float, diag_reg: float = 0.0, discrete: bool = False) -> Any:
    """CUDA path of :func:`nnqs_fast.dynamics.gradient_descent_mse_ensemble` (eigendecompositions by cuSOLVER)."""
    from ..dynamics import gradient_descent_mse_ensemble as cpu

    pred = cpu(_host(nngp_train_train), _host(ntk_train_train), _host(y_train), learning_rate, diag_reg=diag_reg,
               discrete=discrete, backend="cpu")
    return _primed(pred)


def gp_inference(k_train_train: Any, y_train: Any, diag_reg: float = 0.0) -> Any:
    """CUDA path of :func:`nnqs_fast.dynamics.gp_inference` (the solve from a cuSOLVER eigendecomposition)."""
    from ..dynamics import gp_inference as cpu

    return _primed(cpu(_host(k_train_train), _host(y_train), diag_reg=diag_reg, backend="cpu"))
