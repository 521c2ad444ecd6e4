"""CUDA implementations of the kernels area (issue 3 / 7): analytic ReLU Gram matrices, structured empirical NTKs
of the built-in ReLU networks, and the QS-NTK blocks from user Jacobians.

All functions accept NumPy or CuPy arrays and return CuPy arrays (NumPy inputs are moved to the device once).
GEMM-shaped work goes to cuBLAS through CuPy (``cupy.matmul``, ``cupy.cublas.syrk``); the fused element-wise
passes are the ``nnqs_fast._cuda`` kernels ``relu_gram`` and ``ntk_tile_accumulate``, launched on CuPy's current
stream.

Tiling and memory
-----------------
* Analytic Gram (:func:`relu_kernel`): the output itself is the only ``n1 x n2`` buffer. Rows are streamed in
  blocks of ``chunk_size`` (default: all rows when the block's dot-product GEMM fits, see ``_row_block``): the
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
from . import _shim

__all__ = ["relu_kernel", "relu_gram", "empirical_ntk", "empirical_qsntk", "qsntk_from_jacobians",
           "jacobian_grams"]

_GETS = ("nngp", "ntk")
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


def _names(get: Any) -> tuple[tuple[str, ...], bool]:
    if isinstance(get, str):
        names, single = (get,), True
    elif isinstance(get, (tuple, list)) and get and all(isinstance(g, str) for g in get):
        names, single = tuple(get), False
    else:
        raise InvalidInputError(f"get must be a string or a non-empty tuple of strings from {_GETS}, got {get!r}")
    for g in names:
        if g not in _GETS:
            raise InvalidInputError(f"get contains {g!r}; valid names are {_GETS}")
    return names, single


@functools.lru_cache(maxsize=None)
def _kernel_tuple(names: tuple[str, ...]) -> type:
    try:  # the CPU area's namedtuple factory, so both backends return the same type
        from ..kernels._common import kernel_tuple

        return kernel_tuple(names)
    except Exception:  # pragma: no cover - before the kernels area is merged
        from collections import namedtuple

        return namedtuple("Kernel", names)  # type: ignore[misc]


def _blocks(n: int, chunk: int | None) -> list[tuple[int, int]]:
    if chunk is None or chunk >= n:
        return [(0, n)]
    return [(s, min(n, s + chunk)) for s in range(0, n, chunk)]


@functools.lru_cache(maxsize=None)
def _syrk_upper_flag() -> bool | None:
    """Which ``lower=`` flag of ``cupy.cublas.syrk`` fills the upper triangle (i <= j) of a C-order output;
    ``None`` when CuPy has no syrk (then a full GEMM is used). Probed once on a 2x2 product."""
    cp = _shim.cupy()
    syrk = getattr(getattr(cp, "cublas", None), "syrk", None)
    if syrk is None:
        return None
    a = cp.asarray([[1.0], [2.0]])
    for lower in (False, True):
        out = cp.zeros((2, 2))
        syrk("N", a, out=out, lower=lower)
        o = cp.asnumpy(out)
        if o[0, 1] == 2.0 and o[1, 0] == 0.0 and o[0, 0] == 1.0 and o[1, 1] == 4.0:
            return lower
    return None  # pragma: no cover - unexpected; fall back to GEMM


def _gram_into(out: Any, a: Any, b: Any | None) -> bool:
    """``out = a b^T`` (``b is None``: ``a a^T`` with only the upper triangle guaranteed). Returns whether only
    the upper triangle is valid."""
    cp = _shim.cupy()
    if b is None:
        flag = _syrk_upper_flag()
        if flag is not None:
            cp.cublas.syrk("N", a, out=out, alpha=1.0, beta=0.0, lower=flag)
            return True
        cp.matmul(a, a.T, out=out)
        return False
    cp.matmul(a, b.T, out=out)
    return False


# ------------------------------------------------------------------------------------------------ analytic
def relu_gram(x1: Any, x2: Any = None, *, depth: int = 1, W_std: float = 0.5, b_std: float = 0.1,
              get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None) -> dict[str, Any]:
    """Analytic infinite-width ReLU NNGP/NTK Gram matrices on the device, as ``{"nngp": ..., "ntk": ...}``.

    Same formula as :func:`nnqs_fast.kernels.relu_kernel_fn` (arc-cosine recursion, NTK parameterisation; the
    recursion runs in double precision, the storage is ``dtype``). Rows stream in blocks of ``chunk_size``.
    """
    names, _ = _names(get)
    depth = check_positive_int(depth, "depth")
    W_std = check_finite_scalar(W_std, "W_std", nonnegative=True)
    b_std = check_finite_scalar(b_std, "b_std", nonnegative=True)
    chunk = check_chunk_size(chunk_size)
    cp = _shim.cupy()
    mod = _shim.cuda_module()
    a, c, sym, dt = _inputs(x1, x2, dtype)
    n1, n2, d = a.shape[0], c.shape[0], a.shape[1]
    want_nngp, want_ntk = "nngp" in names, "ntk" in names
    nngp = cp.empty((n1, n2), dt) if want_nngp else None
    ntk = cp.empty((n1, n2), dt) if want_ntk else None
    work = ntk if want_ntk else nngp  # the dot products are written into an output, then transformed in place
    sq1 = cp.ascontiguousarray((a * a).sum(axis=1))
    sq2 = sq1 if sym else cp.ascontiguousarray((c * c).sum(axis=1))
    st = _shim.stream()
    for r0, r1 in _blocks(n1, chunk):
        g = work[r0:r1]
        cp.matmul(a[r0:r1], c.T, out=g)
        _shim.launch(mod.relu_gram, _shim.ptr(g), _shim.ptr(sq1[r0:r1]), _shim.ptr(sq2),
                     _shim.ptr(nngp[r0:r1]) if want_nngp else 0, _shim.ptr(ntk[r0:r1]) if want_ntk else 0,
                     r1 - r0, n2, n2, depth, float(W_std), float(b_std), float(d), _shim.is_double(g), st)
    return {"nngp": nngp, "ntk": ntk}


def relu_kernel(x1: Any, x2: Any = None, *, depth: int = 1, W_std: float = 0.5, b_std: float = 0.1,
                get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None) -> Any:
    """CUDA path of ``relu_kernel_fn(depth, W_std, b_std)(x1, x2, get, chunk_size, backend="cuda", dtype)``:
    a string ``get`` returns one CuPy array, a tuple a namedtuple of CuPy arrays in that order."""
    names, single = _names(get)
    out = relu_gram(x1, x2, depth=depth, W_std=W_std, b_std=b_std, get=names, chunk_size=chunk_size, dtype=dtype)
    if single:
        return out[names[0]]
    return _kernel_tuple(names)(*(out[g] for g in names))


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


def empirical_ntk(params: Any, x1: Any, x2: Any = None, *, chunk_size: int | None = None,
                  dtype: Any = None) -> Any:
    """Structured empirical NTK ``Theta(x1, x2)`` of one built-in ReLU network (any depth), never forming the
    Jacobian (issue 3): ``Theta = sum_l (delta_l delta_l'^T) * ((W_std^2/n_l) h_l h_l'^T + b_std^2)``; for one
    hidden layer ``(W^2/N) s s'^T + b^2 + (W^2/N)[(v s')(v s')^T] * (W^2 x.x'/d + b^2)`` (Eq. 7 for a real
    network). cuBLAS forms the rank-N products per output tile, the fused ``ntk_tile_accumulate`` pass combines
    them (and mirrors tiles of a symmetric output). Returns a CuPy ``(n1, n2)`` array of ``dtype``.
    """
    cp = _shim.cupy()
    mod = _shim.cuda_module()
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = _inputs(x1, x2, dtype if dtype is not None else getattr(params.weights[0], "dtype", None))
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


def empirical_qsntk(params1: Any, params2: Any, x1: Any, x2: Any = None, *, chunk_size: int | None = None,
                    dtype: Any = None) -> Any:
    """Empirical QS-NTK of ``psi = psi1 + i psi2`` from two independent built-in ReLU networks (decoupled:
    ``Theta = Theta1 - Theta2``, ``Phi = Theta1 + Theta2``, zero mixing; S10-S11). Returns a
    :class:`nnqs_fast.kernels.QSNTK` holding CuPy arrays."""
    cp = _shim.cupy()
    t1 = empirical_ntk(params1, x1, x2, chunk_size=chunk_size, dtype=dtype)
    t2 = empirical_ntk(params2, x1, x2, chunk_size=chunk_size, dtype=dtype)
    zero = cp.zeros_like(t1)
    return _make_qsntk(t1 - t2, t1 + t2, t1, t2, zero, zero, x2 is None or x2 is x1, {"kind": "empirical",
                                                                                         "backend": "cuda"})


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


def _jac(J: Any, name: str, dt: Any, allow_complex: bool) -> Any:
    a = _shim.to_device(J, None, name=name, allow_complex=allow_complex)
    if a.ndim != 2:
        raise ShapeMismatchError(f"{name} must be 2-D (n, P), got shape {tuple(a.shape)}")
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


def qsntk_from_jacobians(jac: Any = None, jac2: Any = None, *, j1: Any = None, j2: Any = None, j1_2: Any = None,
                         j2_2: Any = None, dtype: Any = None) -> Any:
    """QS-NTK blocks from user Jacobians on the device (Eq. 7, S8-S12).

    Either a complex Jacobian ``jac`` (n1, P) of ``psi = psi1 + i psi2`` w.r.t. real parameters (and ``jac2``
    (n2, P) for x2), or the real parts' Jacobians ``j1``, ``j2`` (n1, P) (and ``j1_2``, ``j2_2`` for x2). Returns
    a :class:`nnqs_fast.kernels.QSNTK` of CuPy arrays; ``theta = Theta1 - Theta2 + i(Theta12 + Theta12^T)``,
    ``phi = Theta1 + Theta2 - i(Theta12 - Theta12^T)`` (S10-S11).
    """
    cp = _shim.cupy()
    if jac is not None:
        if j1 is not None or j2 is not None:
            raise InvalidInputError("give either jac (complex) or j1/j2 (real parts), not both")
        J = _jac(jac, "jac", None, True)
        J1, J2 = cp.ascontiguousarray(J.real), cp.ascontiguousarray(J.imag) if J.dtype.kind == "c" else cp.zeros_like(J)
        if jac2 is not None:
            Jb = _jac(jac2, "jac2", None, True)
            J1b = cp.ascontiguousarray(Jb.real)
            J2b = cp.ascontiguousarray(Jb.imag) if Jb.dtype.kind == "c" else cp.zeros_like(Jb)
        else:
            J1b = J2b = None
    else:
        if j1 is None or j2 is None:
            raise InvalidInputError("give jac (complex Jacobian) or both j1 and j2 (real parts' Jacobians)")
        J1, J2 = _jac(j1, "j1", None, False), _jac(j2, "j2", None, False)
        J1b = None if j1_2 is None else _jac(j1_2, "j1_2", None, False)
        J2b = None if j2_2 is None else _jac(j2_2, "j2_2", None, False)
        if (J1b is None) != (J2b is None):
            raise InvalidInputError("give both j1_2 and j2_2 (Jacobians at x2), or neither")
    dt = np.dtype(dtype) if dtype is not None else (np.dtype(np.float32) if J1.dtype == np.float32
                                                    else np.dtype(np.float64))
    J1, J2 = J1.astype(dt, copy=False), J2.astype(dt, copy=False)
    if J1.shape != J2.shape:
        raise ShapeMismatchError(f"j1 {tuple(J1.shape)} and j2 {tuple(J2.shape)} must have the same shape")
    if J1b is not None:
        J1b, J2b = J1b.astype(dt, copy=False), J2b.astype(dt, copy=False)
        if J1b.shape[1] != J1.shape[1]:
            raise ShapeMismatchError("the Jacobians at x1 and x2 must have the same number of parameters")
    t1, t2, m, mt, sym = jacobian_grams(J1, J2, J1b, J2b)
    theta = (t1 - t2) + 1j * (m + mt)
    phi = (t1 + t2) - 1j * (m - mt)
    return _make_qsntk(theta, phi, t1, t2, m, mt, sym, {"kind": "jacobian", "backend": "cuda"})
