"""CUDA implementations of the kernels area (issue 3 / 7): analytic ReLU Gram matrices, structured empirical NTKs
of the built-in ReLU networks, and the QS-NTK blocks from user Jacobians.

All functions accept NumPy or CuPy arrays and return CuPy arrays (NumPy inputs are moved to the device once).
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
import math
from typing import Any

import numpy as np

from .._validation import check_chunk_size, check_finite_scalar, check_positive_int
from ..errors import DTypeError, InvalidInputError, ShapeMismatchError
from ..kernels._common import check_get, check_jacobian_shapes
from ..networks.dense import B_STD, W_STD
from . import _shim

__all__ = ["relu_kernel", "relu_gram", "stationary_kernel", "complex_single_qsntk", "empirical_ntk",
           "empirical_qsntk", "qsntk_from_jacobians", "jacobian_grams"]

DEFAULT_TILE = 4096


# ------------------------------------------------------------------------------------------------ helpers
def _dtype(dtype: Any, x: Any) -> np.dtype:
    if dtype is None:
        return np.dtype(np.float32) if np.dtype(x.dtype) == np.float32 else np.dtype(np.float64)
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _inputs(x1: Any, x2: Any, dtype: Any) -> tuple[Any, Any, bool, np.dtype]:
    probe = x1 if hasattr(x1, "dtype") else np.asarray(x1)
    if getattr(probe, "dtype", np.dtype(np.float64)).kind == "c":
        raise DTypeError("x1 must be real, got a complex array")
    dt = _dtype(dtype, probe if probe.dtype.kind == "f" else np.zeros(0))
    a = _shim.to_device(x1, dt, name="x1")
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ShapeMismatchError(f"x1 must have shape (n, d) with n, d >= 1, got {tuple(a.shape)}")
    _shim.check_finite_device(a, "x1")
    if x2 is None or x2 is x1:
        return a, a, True, dt
    b = _shim.to_device(x2, dt, name="x2")
    if b.ndim != 2 or b.shape[0] == 0:
        raise ShapeMismatchError(f"x2 must have shape (n2, d) with n2 >= 1, got {tuple(b.shape)}")
    if b.shape[1] != a.shape[1]:
        raise ShapeMismatchError(f"x1 has {a.shape[1]} features but x2 has {b.shape[1]}; they must match")
    _shim.check_finite_device(b, "x2")
    return a, b, False, dt


@functools.cache
def _kernel_tuple(names: tuple[str, ...]) -> type:
    try:  # the CPU area's namedtuple factory, so both backends return the same type
        from ..kernels._common import kernel_tuple

        return kernel_tuple(names)
    except Exception:  # pragma: no cover - before the kernels area is merged
        from collections import namedtuple

        return namedtuple("Kernel", names)


def _row_block(n2: int, itemsize: int, chunk: int | None) -> int:
    """Rows per block of an ``n x n2`` output: ``chunk``, or enough rows for ~1 GiB per block (all rows of a
    4096^2 float64 Gram; 2048 rows at n2 = 65 536) — bounds any temporary a GEMM might need."""
    if chunk is not None:
        return chunk
    return max(256, (1 << 30) // max(1, n2 * itemsize))


def _blocks(n: int, chunk: int | None) -> list[tuple[int, int]]:
    if chunk is None or chunk >= n:
        return [(0, n)]
    return [(s, min(n, s + chunk)) for s in range(0, n, chunk)]


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


# ------------------------------------------------------------------------------------------------ analytic
def relu_gram(x1: Any, x2: Any = None, *, depth: int = 1, W_std: float = W_STD, b_std: float = B_STD,
              get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None) -> dict[str, Any]:
    """Analytic infinite-width ReLU NNGP/NTK Gram matrices on the device, as ``{"nngp": ..., "ntk": ...}``.

    Same formula as :func:`nnqs_fast.kernels.relu_kernel_fn` (arc-cosine recursion, NTK parameterisation; the
    recursion runs in double precision, the storage is ``dtype``). Rows stream in blocks of ``chunk_size``.
    """
    names, _ = check_get(get)
    depth = check_positive_int(depth, "depth")
    W_std = check_finite_scalar(W_std, "W_std", nonnegative=True)
    b_std = check_finite_scalar(b_std, "b_std", nonnegative=True)
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = _inputs(x1, x2, dtype)
    return _dot_gram(a, c, sym, dt, names, chunk, _shim.cuda_module().relu_gram,
                     (depth, float(W_std), float(b_std), float(a.shape[1])))


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
    for r0, r1 in _blocks(n1, _row_block(n2, np.dtype(dt).itemsize, chunk)):
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


def relu_kernel(x1: Any, x2: Any = None, *, depth: int = 1, W_std: float = W_STD, b_std: float = B_STD,
                get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of ``relu_kernel_fn(depth, W_std, b_std)(x1, x2, get, chunk_size, backend="cuda", dtype)``:
    a string ``get`` returns one CuPy array, a tuple a namedtuple of CuPy arrays in that order."""
    names, single = check_get(get)
    out = relu_gram(x1, x2, depth=depth, W_std=W_std, b_std=b_std, get=names, chunk_size=chunk_size, dtype=dtype)
    if single:
        return out[names[0]]
    return _kernel_tuple(names)(*(out[g] for g in names))


def stationary_kernel(x1: Any, x2: Any = None, *, amp: float, scale: float, ntk_c0: float, ntk_c1: float,
                      get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of the Cos-net / Gauss-net ``kernel_fn`` (Eq. 4, S27): ``nngp = amp exp(-scale |x - x'|^2)``,
    ``ntk = nngp (ntk_c0 + ntk_c1 x.x')``, from the cuBLAS dot products (row blocks, in place, like
    :func:`relu_kernel`). Returns a CuPy array (string ``get``) or a namedtuple of CuPy arrays."""
    names, single = check_get(get)
    chunk = check_chunk_size(chunk_size)
    mod = _shim.cuda_module()
    a, c, sym, dt = _inputs(x1, x2, dtype)
    out = _dot_gram(a, c, sym, dt, names, chunk, mod.stationary_gram,
                    (float(amp), float(scale), float(ntk_c0), float(ntk_c1)))
    if single:
        return out[names[0]]
    return _kernel_tuple(names)(*(out[g] for g in names))


def complex_single_qsntk(x1: Any, x2: Any = None, *, activation: str = "relu") -> Any:
    """CUDA path of :func:`nnqs_fast.kernels.complex_single_qsntk` (S16-S18): the closed form is evaluated by
    the CPU path (one O(n1 n2) element-wise pass) and the QSNTK is moved to the device."""
    from .._backend import to_numpy
    from ..kernels import analytic as A

    q = A.complex_single_qsntk(to_numpy(x1), None if x2 is None else to_numpy(x2), activation=activation,
                               backend="cpu")
    return _to_device_qsntk(q)


# ------------------------------------------------------------------------------------------------ empirical
def _params_device(params: Any, dt: np.dtype) -> tuple[list[Any], list[Any], float, float]:
    for attr in ("weights", "biases", "W_std", "b_std"):
        if not hasattr(params, attr):
            raise InvalidInputError("params must be a ReLUParams (nnqs_fast.networks.relu.init_relu)")
    if len(params.weights) < 2 or len(params.weights) != len(params.biases):
        raise InvalidInputError("params must have at least one hidden layer and a readout")
    if np.shape(params.weights[-1])[0] != 1:
        raise InvalidInputError("the structured NTK needs a scalar readout (last weight of shape (1, N))")
    Ws = [_shim.to_device(w, dt, name="weights") for w in params.weights]
    bs = [_shim.to_device(b, dt, name="biases") for b in params.biases]
    return Ws, bs, float(params.W_std), float(params.b_std)


def _relu_features(Ws: list[Any], bs: list[Any], W_std: float, b_std: float, x: Any) -> tuple[list[Any], list[Any]]:
    """Per-layer inputs ``h_l`` (l = 0..L) and backpropagated ``delta_l = d f / d z_{l+1}`` (l = 0..L-1) for a
    block of rows (NTK parameterisation); ``delta_L = 1`` (scalar readout) is implicit."""
    cp = _shim.cupy()
    L = len(Ws) - 1
    hs, masks = [x], []
    h = x
    for l in range(L):
        z = (W_std / math.sqrt(h.shape[1])) * (h @ Ws[l].T) + b_std * bs[l]
        masks.append(z > 0)
        h = cp.maximum(z, 0)
        hs.append(h)
    deltas: list[Any] = [None] * L
    dl = (W_std / math.sqrt(hs[L].shape[1])) * Ws[L][0][None, :] * masks[L - 1]
    deltas[L - 1] = cp.ascontiguousarray(dl)
    for l in range(L - 2, -1, -1):
        dl = ((W_std / math.sqrt(hs[l + 1].shape[1])) * (deltas[l + 1] @ Ws[l + 1])) * masks[l]
        deltas[l] = cp.ascontiguousarray(dl)
    return [cp.ascontiguousarray(t) for t in hs], deltas


def _is_relu(params: Any) -> bool:
    try:
        from ..networks.relu import ReLUParams
    except Exception:  # pragma: no cover
        return False
    return isinstance(params, ReLUParams)


def _cpu_kernels() -> Any:
    from ..kernels import empirical as E

    return E


def empirical_ntk(params: Any, x1: Any, x2: Any = None, *, trainable: str | None = None,
                  chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of :func:`nnqs_fast.kernels.empirical_ntk`: the structured empirical NTK ``Theta(x1, x2)`` of a
    built-in ReLU network (any depth), never forming the Jacobian (issue 3):
    ``Theta = sum_l (delta_l delta_l'^T) * ((W_std^2/n_l) h_l h_l'^T + b_std^2)``; for one hidden layer
    ``(W^2/N) s s'^T + b^2 + (W^2/N)[(v s')(v s')^T] * (W^2 x.x'/d + b^2)`` (Eq. 7 for a real network). cuBLAS
    forms the rank-N products per output tile, the fused ``ntk_tile_accumulate`` pass combines them (and mirrors
    tiles of a symmetric output). Returns a CuPy ``(n1, n2)`` array (dtype: ``dtype``, else float32 for float32
    ``x1``, else float64). Cos-net / Gauss-net parameters run the CPU path and are moved to the device.
    """
    cp = _shim.cupy()
    if not _is_relu(params):
        from .._backend import to_numpy

        out = _cpu_kernels().empirical_ntk(params, to_numpy(x1), None if x2 is None else to_numpy(x2),
                                           trainable=trainable, chunk_size=chunk_size, dtype=dtype, backend="cpu")
        return cp.asarray(out)
    if trainable not in (None, "all"):
        raise InvalidInputError("ReLU networks train every layer: trainable must be None or 'all'")
    mod = _shim.cuda_module()
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = _inputs(x1, x2, dtype)
    Ws, bs, W_std, b_std = _params_device(params, dt)
    if a.shape[1] != Ws[0].shape[1]:
        raise ShapeMismatchError(f"x1 has {a.shape[1]} features but the network expects {Ws[0].shape[1]}")
    n1, n2 = a.shape[0], c.shape[0]
    L = len(Ws) - 1
    tile = chunk or DEFAULT_TILE
    out = cp.empty((n1, n2), dt)
    rb, cb = _blocks(n1, tile), _blocks(n2, tile)
    tmax = max(r1 - r0 for r0, r1 in rb) * max(c1 - c0 for c0, c1 in cb)
    bufD = cp.empty(tmax, dt)
    bufH = cp.empty(tmax, dt)
    st = _shim.stream()
    isd = dt == np.float64
    b2 = b_std * b_std
    for bi, (r0, r1) in enumerate(rb):
        hr, dr = _relu_features(Ws, bs, W_std, b_std, a[r0:r1])
        for bj, (c0, c1) in enumerate(cb):
            if sym and bj < bi:
                continue
            diag = sym and bi == bj
            if diag:
                hc, dc = hr, dr
            else:
                hc, dc = _relu_features(Ws, bs, W_std, b_std, c[c0:c1])
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
                c_l = W_std * W_std / hr[l].shape[1]
                _shim.launch(mod.ntk_tile_accumulate, _shim.ptr(out), n2, r0, c0, _shim.ptr(D) if has_d else 0,
                             _shim.ptr(H), cols, rows, cols, c_l, b2, flags, isd, st)
    return out


def empirical_qsntk(params1: Any, params2: Any = None, x1: Any = None, x2: Any = None, *,
                    trainable: str | None = None, chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of :func:`nnqs_fast.kernels.empirical_qsntk`. For ``psi = psi1 + i psi2`` from two independent
    ReLU networks (decoupled, zero mixing, S10-S11: ``Theta = Theta1 - Theta2``, ``Phi = Theta1 + Theta2``;
    ``params2=None``: real psi, ``Theta2 = 0``) the kernels are computed on the GPU; other built-in networks
    (S16 complex network, Cos-net, Gauss-net) run the CPU path. Returns a :class:`nnqs_fast.kernels.QSNTK` holding
    CuPy arrays."""
    cp = _shim.cupy()
    if x1 is None:
        raise InvalidInputError("x1 (the inputs, shape (n, d)) is required")
    if not (_is_relu(params1) and (params2 is None or _is_relu(params2))):
        from .._backend import to_numpy

        q = _cpu_kernels().empirical_qsntk(params1, params2, to_numpy(x1), None if x2 is None else to_numpy(x2),
                                           trainable=trainable, chunk_size=chunk_size, dtype=dtype, backend="cpu")
        return _to_device_qsntk(q)
    t1 = empirical_ntk(params1, x1, x2, trainable=trainable, chunk_size=chunk_size, dtype=dtype)
    t2 = (cp.zeros_like(t1) if params2 is None
          else empirical_ntk(params2, x1, x2, trainable=trainable, chunk_size=chunk_size, dtype=dtype))
    zero = cp.zeros_like(t1)
    return _make_qsntk(t1 - t2, t1 + t2, t1, t2, zero, zero, x2 is None or x2 is x1,
                       {"kind": "empirical", "network": type(params1).__name__, "backend": "cuda"})


def _to_device_qsntk(q: Any) -> Any:
    import dataclasses

    cp = _shim.cupy()
    arrays = {f.name: cp.asarray(getattr(q, f.name)) for f in dataclasses.fields(q)
              if isinstance(getattr(q, f.name), np.ndarray)}
    return dataclasses.replace(q, **arrays)


def _make_qsntk(theta, phi, t1, t2, m, mt, symmetric, meta):
    from ..kernels.qsntk import QSNTK

    return QSNTK(theta, phi, t1, t2, m, mt, bool(symmetric), dict(meta))


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


def _jac(J: Any, name: str, allow_complex: bool) -> Any:
    a = _shim.to_device(J, None, name=name, allow_complex=allow_complex)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ShapeMismatchError(f"{name} must be non-empty (n x P), got shape {tuple(a.shape)}")
    _shim.check_finite_device(a, name)
    return a


def jacobian_grams(J1: Any, J2: Any, J1b: Any = None, J2b: Any = None) -> tuple[Any, Any, Any, Any, bool]:
    """``Theta1 = J1 J1b^T``, ``Theta2 = J2 J2b^T``, ``Theta12 = J1 J2b^T``, ``Theta12^T-block = J2 J1b^T`` for
    real Jacobians (rows: inputs x1; ``J1b, J2b`` for x2, default the same). cuBLAS GEMM/SYRK."""
    cp = _shim.cupy()
    sym = J1b is None and J2b is None
    if sym:
        t1, t2 = _sym_gram(J1), _sym_gram(J2)
        m = J1 @ J2.T
        return t1, t2, m, cp.ascontiguousarray(m.T), True
    J1b = J1 if J1b is None else J1b
    J2b = J2 if J2b is None else J2b
    return J1 @ J1b.T, J2 @ J2b.T, J1 @ J2b.T, J2 @ J1b.T, False


def qsntk_from_jacobians(J: Any = None, J_x2: Any = None, *, J1: Any = None, J2: Any = None, J1_x2: Any = None,
                         J2_x2: Any = None, dtype: Any = None) -> Any:
    """CUDA path of :func:`nnqs_fast.kernels.qsntk_from_jacobians` (Eq. 7, S8-S12).

    Either the complex Jacobian ``J`` (n1, P) of ``psi = psi1 + i psi2`` w.r.t. real parameters (real ``J``: a
    real wavefunction) and optionally ``J_x2`` (n2, P), or the real parts' Jacobians ``J1``, ``J2`` (``J2=None``:
    ``psi2 = 0``) and optionally ``J1_x2``, ``J2_x2``. cuBLAS SYRK/GEMM; returns a
    :class:`nnqs_fast.kernels.QSNTK` of CuPy arrays with ``theta = Theta1 - Theta2 + i(Theta12 + Theta12^T)``,
    ``phi = Theta1 + Theta2 - i(Theta12 - Theta12^T)`` (S10-S11).
    """
    cp = _shim.cupy()

    def parts(a: Any, dt: Any) -> tuple[Any, Any]:
        if a.dtype.kind == "c":
            return cp.ascontiguousarray(a.real, dtype=dt), cp.ascontiguousarray(a.imag, dtype=dt)
        return cp.ascontiguousarray(a, dtype=dt), None

    if (J is None) == (J1 is None):
        raise InvalidInputError("pass either J (complex Jacobian) or J1 (and J2), not both / neither")
    if J is not None:
        if any(v is not None for v in (J2, J1_x2, J2_x2)):
            raise InvalidInputError("with J use J_x2 for the second input set; J1/J2/J1_x2/J2_x2 are for real parts")
        Jm = _jac(J, "J", True)
        dt = (np.dtype(np.float32) if Jm.dtype in (np.float32, np.complex64) else np.dtype(np.float64)) \
            if dtype is None else np.dtype(dtype)
        j1, j2 = parts(Jm, dt)
        k1 = k2 = None
        if J_x2 is not None:
            k1, k2 = parts(_jac(J_x2, "J_x2", True), dt)
    else:
        if J_x2 is not None:
            raise InvalidInputError("J_x2 goes with J; use J1_x2 / J2_x2 with J1 / J2")
        a = _jac(J1, "J1", False)
        dt = (np.dtype(np.float32) if a.dtype == np.float32 else np.dtype(np.float64)) if dtype is None \
            else np.dtype(dtype)
        j1 = cp.ascontiguousarray(a, dtype=dt)
        j2 = None if J2 is None else cp.ascontiguousarray(_jac(J2, "J2", False), dtype=dt)
        k1 = k2 = None
        if J1_x2 is not None or J2_x2 is not None:
            if J1_x2 is None or (J2 is not None and J2_x2 is None) or (J2 is None and J2_x2 is not None):
                raise InvalidInputError("for a second input set pass J1_x2 (and J2_x2 when J2 is given)")
            k1 = cp.ascontiguousarray(_jac(J1_x2, "J1_x2", False), dtype=dt)
            k2 = None if J2_x2 is None else cp.ascontiguousarray(_jac(J2_x2, "J2_x2", False), dtype=dt)
    check_jacobian_shapes(j1, j2, k1, k2, dt)
    if j2 is None:
        j2 = cp.zeros_like(j1)
    if k1 is not None and k2 is None:
        k2 = cp.zeros_like(k1)
    t1, t2, m, mt, sym = jacobian_grams(j1, j2, k1, k2)
    theta = (t1 - t2) + 1j * (m + mt)
    phi = (t1 + t2) - 1j * (m - mt)
    return _make_qsntk(theta, phi, t1, t2, m, mt, sym, {"kind": "jacobian", "backend": "cuda"})
