"""CUDA primitive of the closed-form dynamics: the float64 eigendecomposition on the GPU (cuSOLVER
``syevd``/``heevd`` through ``cupy.linalg.eigh``).

The O(n^3) part of every predictor (:func:`~nnqs_fast.dynamics.qsntk_mse_predictor`,
:func:`~nnqs_fast.dynamics.qsntk_mse_ensemble`, :func:`~nnqs_fast.dynamics.nngp_posterior`) is the
eigendecomposition of the train-train kernel (``Theta1``, ``Theta2``, ``Omega_RI`` or ``Omega M``). With
``backend="cuda"`` the predictors take this module's :func:`device_eigh` as their ``"dynamics.eigh"``
primitive; everything else (validation, the PD checks, the cached factorisation, the time evaluation and the
row-chunked test-train kernel) is the CPU predictor's, so a 65 536-state basis (63 136 test rows x 4 000 train
columns) never needs a dense test-train matrix on the GPU. The predictors follow the return-type rule (CuPy
kernels in -> CuPy predictions out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import register_cuda
from . import _shim

__all__ = ["device_eigh"]


@register_cuda("dynamics.eigh")
def device_eigh(H: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(lam, V)`` of a real symmetric / complex Hermitian matrix by cuSOLVER in float64 / complex128, as host
    arrays (the predictors' time evaluation runs on the host)."""
    cp = _shim.cupy()
    Hd = cp.asarray(H)
    Hd = Hd.astype(cp.complex128 if Hd.dtype.kind == "c" else cp.float64, copy=False)
    lam, V = cp.linalg.eigh(Hd, UPLO="L")
    return cp.asnumpy(lam), cp.asnumpy(V)
