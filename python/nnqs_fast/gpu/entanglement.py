"""CUDA implementation of the Wick-contraction ensemble purity, paper Eqs. 1-2, S36-S39.

For psi = f1 + i f2 with independent GPs of kernels K1, K2 (C = K1 + K2, P = K1 - K2)::

    Q  = Tr R_A^2 + Tr R_B^2 + sum_{a,a',b,b'} P(ab, a'b') P(a'b, ab')       R_A = Tr_B C, R_B = Tr_A C
    N2 = (Tr C)^2 + ||C||_F^2 + ||P||_F^2,        purity = Q / N2,  renyi2 = -log purity

(see :mod:`nnqs_fast.entanglement.wick` for which quantity is a rigorous bound and which an estimate). The GPU
path is the plain on-the-fly sweep: the basis inputs ``x = (x_A, x_B)`` are laid out on the device (row
``a D_B + b``) and every kernel value is evaluated from them inside the CUDA kernels (families: ReLU NNGP any
depth, RBF = Cos-net/Gauss-net, delta, zero) — no D x D matrix, no partial-trace matrix is ever stored:

* ``Tr R_A^2`` / ``Tr R_B^2``: ``wick_ptrace_frob2`` over the upper triangle of subsystem pairs, O(D (D_A + D_B))
  kernel evaluations;
* ``||C||^2``, ``||P||^2``: the same kernel with one "subsystem" = the whole basis, O(D^2 / 2) evaluations;
* ``PP``: ``wick_pp_term``, O(D^2) (skipped when P = 0, i.e. ``kernel2="same"``).

Memory: the inputs (D x d float64) + one partial sum per block (<= 8192 doubles): for the 4x4 lattice
(D = 65 536, d = 16) about 8 MiB — any L whose basis fits is fine; time, O(D^2 d), is the limit.
All arithmetic is float64; block partial sums are added on the device in a fixed order (reproducible).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._backend import register_cuda
from ..entanglement.wick import WickResult, partial_trace_inputs, result_from_terms
from ..errors import InvalidInputError, ShapeMismatchError
from . import _shim

__all__ = ["wick_purity", "wick_purity_partial_trace", "wick_sums"]


def _spec(k: Any) -> tuple:
    """A GPKernel -> the CUDA kernel spec ``(family, depth, W_std, b_std, amp, gamma, input_dim)``; the family is
    ``GPKernel.code``, the one numbering of ``nnqs/kernel_math.hpp`` (``_core.KernelFamily``/``_cuda.KernelFamily``)."""
    fam = getattr(k, "family", None)
    p = tuple(float(v) for v in getattr(k, "params", ()))
    if fam == "zero":
        return (k.code, 1, 0.0, 0.0, 0.0, 0.0, 0.0)
    if fam == "rbf":
        return (k.code, 1, 0.0, 0.0, p[0], p[1], 0.0)
    if fam == "delta":
        return (k.code, 1, 0.0, 0.0, p[0], 0.0, 0.0)
    if fam == "relu":
        W, b, depth, d = p[:4]
        return (k.code, int(depth), W, b, 0.0, 0.0, d)
    raise InvalidInputError(f"no CUDA evaluation for kernel family {fam!r}")


def wick_sums(x: Any, DA: int, DB: int, kernel1: Any, kernel2: Any, *, need_pp: bool = True) -> dict[str, float]:
    """The six contractions for inputs ``x`` (D x d, row ``a*DB + b``) on the device, as Python floats:
    ``trace_c, trace_ra2, trace_rb2, frob_c2, frob_p2, pp`` (keys as in the CPU ``WickResult.terms``)."""
    cp = _shim.cupy()
    mod = _shim.cuda_module()
    X = _shim.to_device(x, np.float64, name="x")
    if X.ndim != 2 or X.shape[0] != DA * DB:
        raise ShapeMismatchError(f"x must have D_A*D_B = {DA * DB} rows, got shape {tuple(X.shape)}")
    D, d = X.shape
    sq = cp.ascontiguousarray((X * X).sum(axis=1))
    k1, k2 = _spec(kernel1), _spec(kernel2)
    st = _shim.stream()

    def frob(P: int, Q: int, sp: int, sqs: int, with_p: bool) -> tuple[float, float]:
        nb = int(mod.wick_ptrace_blocks(P))
        pc = cp.empty(nb, cp.float64)
        pp_: Any = cp.empty(nb, cp.float64) if with_p else None
        _shim.launch(mod.wick_ptrace_frob2, _shim.ptr(X), _shim.ptr(sq), d, P, Q, sp, sqs, k1, k2, _shim.ptr(pc),
                     _shim.ptr(pp_), st)
        return float(pc.sum()), (float(pp_.sum()) if with_p else 0.0)

    diag = cp.empty(D, cp.float64)
    _shim.launch(mod.wick_diag, _shim.ptr(X), _shim.ptr(sq), d, D, k1, k2, _shim.ptr(diag), st)
    tr_c = float(diag.sum())
    tr_ra2, _ = frob(DA, DB, DB, 1, False)
    tr_rb2, _ = frob(DB, DA, 1, DB, False)
    p_zero = kernel2 is kernel1 or kernel2 == kernel1
    frob_c2, frob_p2 = frob(D, 1, 1, 0, not p_zero)
    pp = 0.0
    if need_pp and not p_zero:
        nb = int(mod.wick_pp_blocks(DA, DB))
        part = cp.empty(nb, cp.float64)
        _shim.launch(mod.wick_pp_term, _shim.ptr(X), _shim.ptr(sq), d, DA, DB, k1, k2, _shim.ptr(part), st)
        pp = float(part.sum())
    return {"trace_c": tr_c, "trace_ra2": tr_ra2, "trace_rb2": tr_rb2, "frob_c2": frob_c2, "frob_p2": frob_p2,
            "pp": pp}


def _product_inputs(XA: np.ndarray, XB: np.ndarray) -> np.ndarray:
    """Rows ``x = (x_A[a], x_B[b])`` at row ``a*D_B + b``."""
    DA, DB = XA.shape[0], XB.shape[0]
    return np.concatenate([np.repeat(XA, DB, axis=0), np.tile(XB, (DA, 1))], axis=1)


def wick_purity_partial_trace(kernel1: Any, kernel2: Any = "same", *, n_sites: int | None = None,
                              subsystem: Any = None, spin_values: tuple[float, float] = (-1.0, 1.0),
                              features_a: Any = None, features_b: Any = None) -> WickResult:
    """The uncompressed on-the-fly GPU sweep of :func:`nnqs_fast.entanglement.wick_purity_partial_trace` (the
    CPU area's argument rules and result assembly; inputs of up to 30 sites). Returns a ``WickResult`` with
    ``method="partial_trace"``."""
    k1, k2, same, XA, XB = partial_trace_inputs(kernel1, kernel2, n_sites, subsystem, spin_values, features_a,
                                                features_b, max_sites=30)
    DA, DB = XA.shape[0], XB.shape[0]
    X = _product_inputs(XA, XB)
    if X.shape[1] == 0:
        X = np.zeros((X.shape[0], 1))
    t = wick_sums(X, DA, DB, k1, k1 if same else k2)
    return result_from_terms(t["trace_c"], t["trace_ra2"], t["trace_rb2"], t["frob_c2"], t["frob_p2"], t["pp"],
                             DA, DB, "partial_trace")


@register_cuda("entanglement.wick_purity")
def wick_purity(kernel1: Any, kernel2: Any = "same", *, n_sites: int, subsystem: Any, method: str = "auto",
                spin_values: tuple[float, float] = (-1.0, 1.0), compress: bool = True) -> Any:
    """CUDA path of :func:`nnqs_fast.entanglement.wick_purity`: ``method="partial_trace"`` with
    ``compress=False`` runs the on-the-fly sweep on the GPU; every other method returns ``NotImplemented`` (the
    dispatcher runs the CPU path: ``"hamming"``/``"factorized"`` are O(L), the compressed partial-trace path is
    O(L_A L_B) for spins, ``"brute"``/``"matrix"`` are small-system oracles)."""
    if method != "partial_trace" or compress:
        return NotImplemented
    return wick_purity_partial_trace(kernel1, kernel2, n_sites=n_sites, subsystem=subsystem,
                                     spin_values=spin_values)
