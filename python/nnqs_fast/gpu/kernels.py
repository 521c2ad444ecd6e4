"""CUDA implementations of the kernels area: analytic ReLU Gram matrices, structured empirical NTKs
of the built-in ReLU networks, and the QS-NTK blocks from user Jacobians.

Each function is registered with ``@register_cuda("kernels.<name>")`` as the CUDA implementation of the dispatched
CPU function of the same name (:mod:`nnqs_fast._backend`); validation, argument rules and result assembly are the
CPU area's (written for NumPy or CuPy), so this module holds only the device work. The functions accept NumPy or
CuPy arrays and compute on the device (NumPy inputs are moved once); the dispatcher then applies the return-type
rule (CuPy in -> CuPy out, NumPy in -> NumPy out). Networks without a CUDA path return ``NotImplemented`` (the
dispatcher then runs the CPU implementation).
GEMM-shaped work goes to cuBLAS through CuPy (``cupy.matmul``, ``cupy.cublas.syrk``); the fused element-wise
passes are the ``nnqs_fast._cuda`` kernels ``relu_gram`` and ``ntk_tile_accumulate``, launched on CuPy's current
stream.

Tiling and memory
-----------------
* Analytic Gram (:func:`relu_kernel`): the output itself is the only ``n1 x n2`` buffer. Rows are streamed in
  blocks of ``chunk_size`` (default: ~1 GiB of output rows per block, see ``_row_block``): the
  GEMM ``x1[block] x2^T`` is written straight into the output rows (the NTK array, or the NNGP array when only
  that is wanted) and the arc-cosine recursion runs in place on it. With both NNGP and NTK requested, peak device
  memory is ``2 n1 n2 itemsize`` + the inputs: for the 4x4 spin lattice (n = 65 536) in float64 that is 64 GiB
  (32 GiB for one of them, or for both in float32) — it fits on one 80 GB H100; float64 NNGP+NTK at n = 65 536 is
  the limit on that card (n_max ≈ sqrt(free / (2 · 8)) ≈ 70 000 with ~78 GiB free).
* Structured empirical NTK (:func:`empirical_ntk`): output tiles of ``chunk_size`` (default 4096) rows/columns;
  per tile the per-layer features (activations ``h_l`` and backpropagated ``delta_l``, ``tile x N``) of the row and
  column blocks, two tile buffers ``tile x tile`` (``delta delta^T`` and ``h h^T``) and the fused pass. Peak:
  ``n1 n2 itemsize`` (output) + ``2 tile^2 itemsize`` + ``~4 (L+1) tile N itemsize``; never the ``n x P``
  Jacobian. Symmetric case (``x2 = x1``): only tiles on/above the diagonal, SYRK on diagonal tiles, the fused
  pass mirrors the transposed tile.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._backend import register_cuda
from .._validation import check_chunk_size
from ..kernels._common import blocks, check_get, check_inputs, kernel_tuple
from ..kernels.empirical import check_relu_trainable, parse_jacobians
from ..kernels.qsntk import QSNTK, qsntk_from_parts
from ..networks.dense import B_STD, W_STD
from ..networks.relu import ReLUParams, relu_forward_pieces
from . import _shim

__all__ = ["relu_kernel", "relu_gram", "stationary_kernel", "empirical_ntk", "empirical_qsntk",
           "qsntk_from_jacobians", "jacobian_grams"]

DEFAULT_TILE = 4096


# ------------------------------------------------------------------------------------------------ helpers
def _row_block(n2: int, itemsize: int, chunk: int | None) -> int:
    """Rows per block of an ``n x n2`` output: ``chunk``, or enough rows for ~1 GiB per block (all rows of a
    4096^2 float64 Gram; 2048 rows at n2 = 65 536) — bounds any temporary a GEMM might need."""
    if chunk is not None:
        return chunk
    return max(256, (1 << 30) // max(1, n2 * itemsize))


@functools.cache
def _syrk_upper_flag() -> bool | None:
    """Which ``lower=`` flag of ``cupy.cublas.syrk`` fills the upper triangle (i <= j) of a C-order output;
    ``None`` when CuPy has no syrk (then a full GEMM is used). Probed once on a 2x2 product."""
    syrk = _cublas_syrk()
    if syrk is None:
        return None
    cp = _shim.cupy()
    a = cp.asarray([[1.0, 0.0], [2.0, 1.0]])  # C-contiguous only (a 1-column probe would also be F-contiguous)
    for lower in (False, True):
        out = cp.zeros((2, 2))
        try:
            syrk("N", a, out=out, lower=lower)
        except Exception:  # pragma: no cover - an unexpected CuPy: use GEMM
            return None
        o = cp.asnumpy(out)   # a a^T = [[1, 2], [2, 5]]
        if o[0, 1] == 2.0 and o[1, 0] == 0.0 and o[0, 0] == 1.0 and o[1, 1] == 5.0:
            return lower
    return None  # pragma: no cover - unexpected; fall back to GEMM


def _cublas_syrk() -> Any:
    """``cupy.cublas.syrk`` (CuPy >= 9), or None."""
    cp = _shim.cupy()
    mod = getattr(cp, "cublas", None)
    if mod is None:
        try:
            import importlib

            mod = importlib.import_module("cupy.cublas")
        except Exception:  # pragma: no cover
            return None
    return getattr(mod, "syrk", None)


def _gram_into(out: Any, a: Any, b: Any | None) -> bool:
    """``out = a b^T`` (``b is None``: ``a a^T`` with only the upper triangle guaranteed). Returns whether only
    the upper triangle is valid."""
    cp = _shim.cupy()
    if b is None:
        flag = _syrk_upper_flag()
        if flag is not None:
            _cublas_syrk()("N", a, out=out, alpha=1.0, beta=0.0, lower=flag)
            return True
        cp.matmul(a, a.T, out=out)
        return False
    cp.matmul(a, b.T, out=out)
    return False


def _as_get(out: dict[str, Any], get: Any) -> Any:
    names, single = check_get(get)
    return out[names[0]] if single else kernel_tuple(names)(*(out[g] for g in names))


# ------------------------------------------------------------------------------------------------ analytic
def relu_gram(x1: Any, x2: Any = None, *, depth: int = 1, W_std: float = W_STD, b_std: float = B_STD,
              get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None) -> dict[str, Any]:
    """Analytic infinite-width ReLU NNGP/NTK Gram matrices on the device, as ``{"nngp": ..., "ntk": ...}``.

    Same formula as :func:`nnqs_fast.kernels.relu_kernel_fn` (arc-cosine recursion, NTK parameterisation; the
    recursion runs in double precision, the storage is ``dtype``). Rows stream in blocks of ``chunk_size``.
    """
    names, _ = check_get(get)
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = check_inputs(x1, x2, dtype=dtype, xp=_shim.cupy())
    return _dot_gram(a, c, sym, dt, names, chunk, _shim.cuda_module().relu_gram,
                     (int(depth), float(W_std), float(b_std), float(a.shape[1])))


def _dot_gram(a: Any, c: Any, sym: bool, dt: Any, names: tuple[str, ...], chunk: int | None, fn: Any,
              params: tuple[Any, ...]) -> dict[str, Any]:
    """Shared body of the analytic Gram paths: cuBLAS writes ``a c^T`` into row blocks of an output, then the
    element-wise CUDA kernel ``fn`` turns each block into NNGP/NTK in place
    (``fn(g, sq1, sq2, nngp, ntk, rows, cols, ld, *params, is_double, stream)``). Symmetric results are
    mirrored so they are exactly symmetric."""
    cp = _shim.cupy()
    n1, n2 = a.shape[0], c.shape[0]
    nngp = cp.empty((n1, n2), dt) if "nngp" in names else None
    ntk = cp.empty((n1, n2), dt) if "ntk" in names else None
    work: Any = ntk if ntk is not None else nngp  # the dot products are written into an output, then transformed
    sq1 = cp.ascontiguousarray((a * a).sum(axis=1))
    sq2 = sq1 if sym else cp.ascontiguousarray((c * c).sum(axis=1))
    st = _shim.stream()
    for r0, r1 in blocks(n1, _row_block(n2, np.dtype(dt).itemsize, chunk)):
        g = work[r0:r1]
        cp.matmul(a[r0:r1], c.T, out=g)
        _shim.launch(fn, _shim.ptr(g), _shim.ptr(sq1[r0:r1]), _shim.ptr(sq2),
                     _shim.ptr(nngp[r0:r1]) if nngp is not None else 0, _shim.ptr(ntk[r0:r1]) if ntk is not None else 0,
                     r1 - r0, n2, n2, *params, _shim.is_double(g), st)
    if sym:
        _mirror(nngp, ntk)
    return {"nngp": nngp, "ntk": ntk}


def _mirror(*mats: Any) -> None:
    """Make symmetric outputs exactly symmetric (upper triangle copied down, as on the CPU path)."""
    mod = _shim.cuda_module()
    for m in mats:
        if m is not None:
            _shim.launch(mod.mirror_upper, _shim.ptr(m), m.shape[0], m.shape[1], m.dtype == np.float64,
                         _shim.stream())


@register_cuda("kernels.relu_kernel")
def relu_kernel(x1: Any, x2: Any = None, *, depth: int = 1, W_std: float = W_STD, b_std: float = B_STD,
                get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of ``relu_kernel_fn(depth, W_std, b_std)(x1, x2, get, chunk_size, dtype)``: a string ``get``
    returns one device array, a tuple a namedtuple of device arrays in that order."""
    return _as_get(relu_gram(x1, x2, depth=depth, W_std=W_std, b_std=b_std, get=get, chunk_size=chunk_size,
                             dtype=dtype), get)


@register_cuda("kernels.stationary_kernel")
def stationary_kernel(x1: Any, x2: Any = None, *, amp: float, scale: float, ntk_c0: float, ntk_c1: float,
                      get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of the Cos-net / Gauss-net ``kernel_fn`` (Eq. 4, S27): ``nngp = amp exp(-scale |x - x'|^2)``,
    ``ntk = nngp (ntk_c0 + ntk_c1 x.x')``, from the cuBLAS dot products (row blocks, in place, like
    :func:`relu_kernel`)."""
    names, _ = check_get(get)
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = check_inputs(x1, x2, dtype=dtype, xp=_shim.cupy())
    out = _dot_gram(a, c, sym, dt, names, chunk, _shim.cuda_module().stationary_gram,
                    (float(amp), float(scale), float(ntk_c0), float(ntk_c1)))
    return _as_get(out, get)


# ------------------------------------------------------------------------------------------------ empirical
def _params_device(params: ReLUParams, dt: np.dtype) -> ReLUParams:
    """The network's weights on the device in ``dt`` (the CPU area's ``ReLUParams``, CuPy arrays inside)."""
    return ReLUParams(tuple(_shim.to_device(w, dt, name="weights") for w in params.weights),
                      tuple(_shim.to_device(b, dt, name="biases") for b in params.biases),
                      float(params.W_std), float(params.b_std))


def _pieces(dev: ReLUParams, x: Any, dt: np.dtype) -> tuple[list[Any], list[Any]]:
    """:func:`~nnqs_fast.networks.relu.relu_forward_pieces` of a block of rows, C-contiguous in ``dt``."""
    cp = _shim.cupy()
    acts, deltas = relu_forward_pieces(dev, x)
    return [cp.ascontiguousarray(t, dtype=dt) for t in acts], [cp.ascontiguousarray(t, dtype=dt) for t in deltas]


@register_cuda("kernels.empirical_ntk")
def empirical_ntk(params: Any, x1: Any, x2: Any = None, *, trainable: str | None = None,
                  chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of :func:`nnqs_fast.kernels.empirical_ntk` for built-in ReLU networks (any depth); other
    networks return ``NotImplemented`` (the CPU path runs). Never forms the Jacobian:
    ``Theta = sum_l (delta_l delta_l'^T) * (a_l a_l'^T + b_std^2)`` with the per-layer pieces of
    :func:`nnqs_fast.networks.relu.relu_forward_pieces` (scaled activations ``a_l``, backpropagated ``delta_l``;
    for one hidden layer Eq. 7 of a real network). cuBLAS forms the rank-N products per output tile, the fused
    ``ntk_tile_accumulate`` pass combines them (and mirrors tiles of a symmetric output).
    """
    if not isinstance(params, ReLUParams):
        return NotImplemented
    check_relu_trainable(trainable)
    cp = _shim.cupy()
    mod = _shim.cuda_module()
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = check_inputs(x1, x2, dtype=dtype, input_dim=params.input_dim, xp=cp)
    dev = _params_device(params, dt)
    n1, n2 = a.shape[0], c.shape[0]
    L = dev.depth
    tile = chunk or DEFAULT_TILE
    out = cp.empty((n1, n2), dt)
    rb, cb = blocks(n1, tile), blocks(n2, tile)
    tmax = max(r1 - r0 for r0, r1 in rb) * max(c1 - c0 for c0, c1 in cb)
    bufD = cp.empty(tmax, dt)
    bufH = cp.empty(tmax, dt)
    st = _shim.stream()
    isd = dt == np.float64
    b2 = dev.b_std * dev.b_std
    for bi, (r0, r1) in enumerate(rb):
        hr, dr = _pieces(dev, a[r0:r1], dt)
        for bj, (c0, c1) in enumerate(cb):
            if sym and bj < bi:
                continue
            diag = sym and bi == bj
            hc, dc = (hr, dr) if diag else _pieces(dev, c[c0:c1], dt)
            rows, cols = r1 - r0, c1 - c0
            D = bufD[: rows * cols].reshape(rows, cols)
            H = bufH[: rows * cols].reshape(rows, cols)
            base = (mod.TILE_DIAG if diag else 0) | (mod.TILE_MIRROR if (sym and not diag) else 0)
            for l in range(L + 1):
                _gram_into(H, hr[l], None if diag else hc[l])
                has_d = l < L
                if has_d:
                    _gram_into(D, dr[l], None if diag else dc[l])
                flags = base | (mod.TILE_ACCUMULATE if l > 0 else 0)
                _shim.launch(mod.ntk_tile_accumulate, _shim.ptr(out), n2, r0, c0, _shim.ptr(D) if has_d else 0,
                             _shim.ptr(H), cols, rows, cols, 1.0, b2, flags, isd, st)
    return out


@register_cuda("kernels.empirical_qsntk")
def empirical_qsntk(params1: Any, params2: Any = None, x1: Any = None, x2: Any = None, *,
                    trainable: str | None = None, chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of :func:`nnqs_fast.kernels.empirical_qsntk` for ``psi = psi1 + i psi2`` from two independent
    ReLU networks (decoupled, zero mixing, S10-S11; ``params2=None``: real psi, ``Theta2 = 0``); other networks
    return ``NotImplemented`` (the CPU path runs)."""
    if not (isinstance(params1, ReLUParams) and (params2 is None or isinstance(params2, ReLUParams))):
        return NotImplemented
    kw = dict(trainable=trainable, chunk_size=chunk_size, dtype=dtype)
    t1 = empirical_ntk(params1, x1, x2, **kw)
    t2 = _shim.cupy().zeros_like(t1) if params2 is None else empirical_ntk(params2, x1, x2, **kw)
    return qsntk_from_parts(t1, t2, symmetric=x2 is None or x2 is x1,
                            meta={"kind": "empirical", "network": type(params1).__name__, "backend": "cuda"})


# ------------------------------------------------------------------------------------------------ Jacobians
def _sym_gram(J: Any) -> Any:
    """``J J^T`` for a real C-contiguous ``J`` (SYRK + the fused pass mirroring the upper triangle)."""
    cp = _shim.cupy()
    mod = _shim.cuda_module()
    n = J.shape[0]
    up = cp.empty((n, n), J.dtype)
    upper_only = _gram_into(up, J, None)
    if not upper_only:
        return up
    out = cp.empty_like(up)
    _shim.launch(mod.ntk_tile_accumulate, _shim.ptr(out), n, 0, 0, 0, _shim.ptr(up), n, n, n, 1.0, 0.0,
                 mod.TILE_DIAG, J.dtype == np.float64, _shim.stream())
    return out


def jacobian_grams(J1: Any, J2: Any, J1b: Any = None, J2b: Any = None) -> tuple[Any, Any, Any, Any, bool]:
    """``Theta1 = J1 J1b^T``, ``Theta2 = J2 J2b^T``, ``Theta12 = J1 J2b^T``, ``Theta12^T-block = J2 J1b^T`` for
    real Jacobians (rows: inputs x1; ``J1b, J2b`` for x2, default the same). cuBLAS GEMM/SYRK."""
    cp = _shim.cupy()
    if J1b is None and J2b is None:
        t1, t2 = _sym_gram(J1), _sym_gram(J2)
        m = J1 @ J2.T
        return t1, t2, m, cp.ascontiguousarray(m.T), True
    J1b = J1 if J1b is None else J1b
    J2b = J2 if J2b is None else J2b
    return J1 @ J1b.T, J2 @ J2b.T, J1 @ J2b.T, J2 @ J1b.T, False


@register_cuda("kernels.qsntk_from_jacobians")
def qsntk_from_jacobians(J: Any = None, J_x2: Any = None, *, J1: Any = None, J2: Any = None, J1_x2: Any = None,
                         J2_x2: Any = None, dtype: Any = None) -> QSNTK:
    """CUDA path of :func:`nnqs_fast.kernels.qsntk_from_jacobians` (Eq. 7, S8-S12): the CPU area's argument
    rules (:func:`~nnqs_fast.kernels.empirical.parse_jacobians`), cuBLAS SYRK/GEMM for the Gram blocks, the
    CPU area's S10-S11 assembly (:func:`~nnqs_fast.kernels.qsntk_from_parts`)."""
    cp = _shim.cupy()
    j1, j2, k1, k2, sym, _ = parse_jacobians(J, J_x2, J1, J2, J1_x2, J2_x2, dtype, cp)
    if j2 is None:
        j2 = cp.zeros_like(j1)
    if not sym and k2 is None:
        k2 = cp.zeros_like(k1)
    t1, t2, m, mt, sym = jacobian_grams(j1, j2, None if sym else k1, None if sym else k2)
    return qsntk_from_parts(t1, t2, m, mt, symmetric=sym, meta={"kind": "jacobian", "backend": "cuda"})
