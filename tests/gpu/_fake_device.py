"""A host-memory stand-in for CuPy and ``nnqs_fast._cuda`` (tests only; ``NNQS_FAKE_DEVICE=1``).

It lets the GPU parity tests run on a machine without a GPU to check everything *around* the CUDA kernels: the
Python orchestration in ``nnqs_fast/gpu`` (tiling loops, tile flags and offsets, pointer arithmetic of views,
buffer sizes, dtype flags, result assembly) against the CPU oracles. "Device" arrays are NumPy arrays of a
subclass living in a module called ``cupy`` (so ``is_cupy_array`` accepts them) that expose
``__cuda_array_interface__`` with their host address; the fake kernels read and write memory through those raw
addresses with the documented semantics of each CUDA kernel (cuda/nnqs_kernels.hpp). SYRK fills only the upper
triangle and poisons the lower one with NaN, as an untouched cuBLAS output would hold garbage.

What this cannot check is the CUDA code itself (indexing inside the kernels, races, launch limits): that needs a
GPU (``pytest tests/gpu`` there).
"""

from __future__ import annotations

import ctypes
import math
import types

import numpy as np
from numpy.lib.stride_tricks import as_strided


# ----------------------------------------------------------------------------------------------- fake CuPy
class ndarray(np.ndarray):
    """Host array posing as a CuPy array."""

    @property
    def __cuda_array_interface__(self) -> dict:
        ai = self.__array_interface__
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (ai["data"][0], False), "version": 3,
                "strides": None if self.flags.c_contiguous else self.strides}

    def get(self) -> np.ndarray:
        return np.array(self)


ndarray.__module__ = "cupy"


def _dev(a):
    if isinstance(a, np.ndarray):
        return a.view(ndarray)
    if isinstance(a, np.generic):
        return a
    return a


def _make_cupy() -> types.ModuleType:
    cp = types.ModuleType("cupy")
    cp.__version__ = "fake"
    cp.ndarray = ndarray
    for name in ("float32", "float64", "int32", "int64", "complex64", "complex128", "nan"):
        setattr(cp, name, getattr(np, name))

    def asarray(x, dtype=None):
        if isinstance(x, ndarray) and (dtype is None or np.dtype(dtype) == x.dtype):
            return x
        return _dev(np.array(x, dtype=dtype, copy=True))

    cp.asarray = asarray
    cp.array = asarray
    cp.ascontiguousarray = lambda a, dtype=None: _dev(np.ascontiguousarray(a, dtype=dtype))
    for name in ("empty", "zeros", "ones", "full", "zeros_like", "empty_like", "maximum", "isfinite",
                 "broadcast_to", "stack", "any", "all", "abs", "sqrt", "exp", "where", "concatenate"):
        fn = getattr(np, name)
        setattr(cp, name, (lambda f: (lambda *a, **k: _dev(f(*a, **k))))(fn))

    def matmul(a, b, out=None):
        r = np.matmul(np.asarray(a), np.asarray(b))
        if out is None:
            return _dev(r)
        np.asarray(out)[...] = r
        return out

    cp.matmul = matmul
    cp.dot = matmul
    cp.asnumpy = lambda a: np.array(a)

    linalg = types.ModuleType("cupy.linalg")
    linalg.eigh = lambda a, UPLO="L": tuple(_dev(t) for t in np.linalg.eigh(np.asarray(a), UPLO=UPLO))
    linalg.eigvalsh = lambda a, UPLO="L": _dev(np.linalg.eigvalsh(np.asarray(a), UPLO=UPLO))
    cp.linalg = linalg

    cublas = types.ModuleType("cupy.cublas")

    def syrk(trans, a, out=None, alpha=1.0, beta=0.0, lower=False):
        a = np.asarray(a)
        full = alpha * (a @ a.T if trans in ("N", "n", 0) else a.T @ a)
        n = full.shape[0]
        if out is None:
            out = _dev(np.zeros((n, n), a.dtype))
        o = np.asarray(out)
        keep = np.tril(np.ones((n, n), bool)) if lower else np.triu(np.ones((n, n), bool))
        o[keep] = (full + beta * o)[keep]
        o[~keep] = np.nan  # what cuBLAS leaves there is undefined: poison it
        return out

    cublas.syrk = syrk
    cp.cublas = cublas

    class _Stream:
        ptr = 0

        def synchronize(self):
            return None

    cuda = types.ModuleType("cupy.cuda")
    cuda.get_current_stream = lambda: _Stream()
    runtime = types.SimpleNamespace(memGetInfo=lambda: (4 << 30, 80 << 30), runtimeGetVersion=lambda: 13000)
    cuda.runtime = runtime
    cp.cuda = cuda
    cp.get_default_memory_pool = lambda: types.SimpleNamespace(free_bytes=lambda: 0)
    return cp


# ----------------------------------------------------------------------------------------------- raw memory
def _view(ptr: int, shape: tuple, dtype, ld: int | None = None) -> np.ndarray:
    """Writable view of host memory at ``ptr``: 1-D ``shape`` or 2-D with leading dimension ``ld``."""
    dt = np.dtype(dtype)
    if len(shape) == 1:
        n = shape[0]
        if n == 0:
            return np.zeros(0, dt)
        return np.frombuffer((ctypes.c_char * (n * dt.itemsize)).from_address(ptr), dtype=dt)
    rows, cols = shape
    ld = cols if ld is None else ld
    if rows == 0 or cols == 0:
        return np.zeros((rows, cols), dt)
    size = (rows - 1) * ld + cols
    base = np.frombuffer((ctypes.c_char * (size * dt.itemsize)).from_address(ptr), dtype=dt)
    return as_strided(base, shape=(rows, cols), strides=(ld * dt.itemsize, dt.itemsize))


def _relu(kxy, kxx, kyy, depth, W, b):
    w2, b2 = W * W, b * b
    th = kxy.copy()
    for _ in range(depth):
        s = np.sqrt(kxx * kyy)
        c = np.clip(np.divide(kxy, s, out=np.zeros_like(s), where=s > 0), -1, 1)
        t = np.arccos(c)
        ea = np.where(s > 0, s * (np.sqrt(1 - c * c) + (np.pi - t) * c) / (2 * np.pi), 0.0)
        ed = np.where(s > 0, (np.pi - t) / (2 * np.pi), 0.0)
        kxy = w2 * ea + b2
        th = kxy + w2 * ed * th
        kxx, kyy = 0.5 * w2 * kxx + b2, 0.5 * w2 * kyy + b2
    return kxy, th


class CudaError(RuntimeError):
    pass


def _make_cuda() -> types.ModuleType:
    m = types.ModuleType("nnqs_fast._cuda")
    m.CudaError = CudaError
    m.GD_MAX_D = 32
    m.TILE_ACCUMULATE, m.TILE_DIAG, m.TILE_MIRROR = 1, 2, 4
    m.device_status = lambda: {"usable": True, "device_count": 1, "runtime_version": 13000, "driver_version": 13000,
                               "compute_capability": 90, "total_memory": 80 << 30, "name": "fake", "reason": ""}
    m.compiled_archs = lambda: "800,900"

    def ntk_tile_accumulate(out, ld_out, r0, c0, D, H, ldt, rows, cols, c, b2, flags, is_double, stream):
        dt = np.float64 if is_double else np.float32
        its = np.dtype(dt).itemsize
        Hm = np.array(_view(H, (rows, cols), dt, ldt), np.float64)
        Dm = None if not D else np.array(_view(D, (rows, cols), dt, ldt), np.float64)
        if flags & 2:
            if rows != cols:
                raise CudaError("ntk_tile_accumulate: a diagonal tile must be square")
            iu = np.triu(np.ones((rows, rows), bool))
            Hm = np.where(iu, Hm, Hm.T)
            Dm = None if Dm is None else np.where(iu, Dm, Dm.T)
        val = c * Hm + b2
        if Dm is not None:
            val = Dm * val
        O = _view(out + (r0 * ld_out + c0) * its, (rows, cols), dt, ld_out)
        if flags & 1:
            val = val + O
        O[...] = val
        if flags & 4:
            Ot = _view(out + (c0 * ld_out + r0) * its, (cols, rows), dt, ld_out)
            Ot[...] = val.T

    def mirror_upper(a, n, ld, is_double, stream):
        dt = np.float64 if is_double else np.float32
        A = _view(a, (n, n), dt, ld)
        il = np.tril_indices(n, -1)
        A[il] = A.T[il]

    def relu_gram(G, sq1, sq2, nngp, ntk, rows, cols, ld, depth, W_std, b_std, d, is_double, stream):
        dt = np.float64 if is_double else np.float32
        g = np.array(_view(G, (rows, cols), dt, ld), np.float64)
        s1 = np.array(_view(sq1, (rows,), dt), np.float64)
        s2 = np.array(_view(sq2, (cols,), dt), np.float64)
        w2, b2 = W_std ** 2, b_std ** 2
        k, th = _relu(w2 * g / d + b2, (w2 * s1 / d + b2)[:, None] + 0 * g, (w2 * s2 / d + b2)[None, :] + 0 * g,
                      depth, W_std, b_std)
        if nngp:
            _view(nngp, (rows, cols), dt, ld)[...] = k
        if ntk:
            _view(ntk, (rows, cols), dt, ld)[...] = th

    def stationary_gram(G, sq1, sq2, nngp, ntk, rows, cols, ld, amp, scale, c0, c1, is_double, stream):
        dt = np.float64 if is_double else np.float32
        g = np.array(_view(G, (rows, cols), dt, ld), np.float64)
        s1 = np.array(_view(sq1, (rows,), dt), np.float64)[:, None]
        s2 = np.array(_view(sq2, (cols,), dt), np.float64)[None, :]
        k = amp * np.exp(-scale * np.maximum(0.0, s1 + s2 - 2 * g))
        if nngp:
            _view(nngp, (rows, cols), dt, ld)[...] = k
        if ntk:
            _view(ntk, (rows, cols), dt, ld)[...] = k * (c0 + c1 * g)

    # ---- Wick
    def _kern(spec, X1, X2, d):
        fam, depth, W, b, amp, gamma, idim = spec  # family codes: _core.KernelFamily (nnqs/kernel_math.hpp)
        if fam == 0:
            return np.zeros((X1.shape[0], X2.shape[0]))
        dot = X1 @ X2.T
        n1, n2 = (X1 * X1).sum(1)[:, None], (X2 * X2).sum(1)[None, :]
        dist = ((X1[:, None, :] - X2[None, :, :]) ** 2).sum(-1)
        if fam in (2, 4):  # relu NNGP, relu NTK
            dd = idim if idim > 0 else d
            w2, b2 = W * W, b * b
            k, th = _relu(w2 * dot / dd + b2, w2 * n1 / dd + b2 + 0 * dot, w2 * n2 / dd + b2 + 0 * dot, int(depth),
                          W, b)
            return k if fam == 2 else th
        if fam == 1:
            return amp * np.exp(-gamma * dist)
        if fam == 3:
            return np.where(dist == 0.0, amp, 0.0)
        raise ValueError("bad family")

    def _check_spec(s):
        if len(s) != 7:
            raise ValueError("kernel spec must have 7 entries")
        if not 0 <= s[0] <= 4:
            raise ValueError("bad family")

    def wick_ptrace_blocks(P):
        nt = (P + 15) // 16
        return max(1, min(nt * (nt + 1) // 2, 8192))

    def wick_pp_blocks(DA, DB):
        return max(1, min((DA * DB * DA * DB + 255) // 256, 8192))

    def _rows(x, n, d):
        return np.array(_view(x, (n, d), np.float64))

    def wick_ptrace_frob2(x, sq, d, P, Q, sp, sq_stride, k1, k2, partial_c, partial_p, stream):
        _check_spec(k1)
        _check_spec(k2)
        nrows = (P - 1) * sp + (Q - 1) * sq_stride + 1
        X = _rows(x, nrows, d)
        SC = np.zeros((P, P))
        SP = np.zeros((P, P))
        for q in range(Q):
            Xq = X[np.arange(P) * sp + q * sq_stride]
            a, b = _kern(k1, Xq, Xq, d), _kern(k2, Xq, Xq, d)
            SC += a + b
            SP += a - b
        nb = wick_ptrace_blocks(P)
        pc = _view(partial_c, (nb,), np.float64)
        pc[:] = 0.0
        pc[0] = (SC * SC).sum()
        if partial_p:
            pp = _view(partial_p, (nb,), np.float64)
            pp[:] = 0.0
            pp[0] = (SP * SP).sum()

    def wick_diag(x, sq, d, n, k1, k2, out, stream):
        _check_spec(k1)
        _check_spec(k2)
        X = _rows(x, n, d)
        o = _view(out, (n,), np.float64)
        for i in range(n):
            o[i] = _kern(k1, X[i:i + 1], X[i:i + 1], d)[0, 0] + _kern(k2, X[i:i + 1], X[i:i + 1], d)[0, 0]

    def wick_pp_term(x, sq, d, DA, DB, k1, k2, partial, stream):
        X = _rows(x, DA * DB, d)
        Pm = _kern(k1, X, X, d) - _kern(k2, X, X, d)
        P4 = Pm.reshape(DA, DB, DA, DB)
        nb = wick_pp_blocks(DA, DB)
        p = _view(partial, (nb,), np.float64)
        p[:] = 0.0
        p[0] = np.einsum("abcd,cbad->", P4, P4)

    # ---- GD step
    def gd_forward_splits(M, N, d, n):
        return 3

    def gd_backward_splits(M, N, d, n):
        return 2

    def gd_reduce_blocks(n):
        return (n + 255) // 256

    def _net(M, N, d, W, b0, v, b1, dt):
        return (_view(W, (M * N, d), dt).reshape(M, N, d), _view(b0, (M * N,), dt).reshape(M, N),
                _view(v, (M * N,), dt).reshape(M, N), _view(b1, (M,), dt))

    def gd_forward(M, N, d, W_std, b_std, x, n, W, b0, v, b1, fpart, splits_j, y, f, g, sse_part, is_double,
                   stream):
        if d > 32:
            raise CudaError("gd step: the fused CUDA step supports input dimension d <= 32")
        dt = np.float64 if is_double else np.float32
        Wm, bm, vm, b1m = _net(M, N, d, W, b0, v, b1, dt)
        X = _view(x, (n, d), dt)
        z = (W_std / math.sqrt(d)) * np.einsum("nd,mjd->mnj", X, Wm) + b_std * bm[:, None, :]
        fv = (W_std / math.sqrt(N)) * np.einsum("mnj,mj->mn", np.maximum(z, 0), vm) + b_std * b1m[:, None]
        if f:
            _view(f, (M * n,), dt).reshape(M, n)[...] = fv
        if y:
            e = fv - _view(y, (M * n,), dt).reshape(M, n)
            _view(g, (M * n,), dt).reshape(M, n)[...] = 2.0 / n * e
            if sse_part:
                nb = gd_reduce_blocks(n)
                s = _view(sse_part, (M * nb,), np.float64).reshape(M, nb)
                s[...] = 0.0
                s[:, 0] = (e.astype(np.float64) ** 2).sum(1)

    def gd_backward_update(M, N, d, W_std, b_std, x, n, W, b0, v, b1, g, gpart, splits_i, lr, active, is_double,
                           stream):
        dt = np.float64 if is_double else np.float32
        Wm, bm, vm, b1m = _net(M, N, d, W, b0, v, b1, dt)
        X = _view(x, (n, d), dt)
        G = _view(g, (M * n,), dt).reshape(M, n)
        act = np.ones(M, bool) if not active else _view(active, (M,), np.int32).astype(bool)
        cw, cv = W_std / math.sqrt(d), W_std / math.sqrt(N)
        for m in np.flatnonzero(act):
            z = cw * X @ Wm[m].T + b_std * bm[m]
            h = np.maximum(z, 0)
            mask = (z > 0) * G[m][:, None]
            dv = cv * h.T @ G[m]
            db0 = cv * vm[m] * b_std * mask.sum(0)
            dW = (cv * cw) * vm[m][:, None] * (mask.T @ X)
            db1 = b_std * G[m].sum()
            Wm[m] -= lr * dW
            bm[m] -= lr * db0
            vm[m] -= lr * dv
            b1m[m] -= lr * db1

    def gd_monitor(M, n, sse_part, nb, rtol, t, loss, prev, active, stop_step, status, stream):
        s = _view(sse_part, (M * nb,), np.float64).reshape(M, nb)
        L = _view(loss, (M,), np.float64)
        pv = _view(prev, (M,), np.float64)
        act = _view(active, (M,), np.int32)
        st = _view(stop_step, (M,), np.int64)
        status_ = _view(status, (M,), np.int32)
        L[:] = s.sum(1) / n
        for m in range(M):
            if not act[m]:
                continue
            if not np.isfinite(L[m]):
                status_[m], act[m], st[m] = 2, 0, t
            elif rtol > 0 and np.isfinite(pv[m]) and abs(pv[m] - L[m]) <= rtol * pv[m]:
                status_[m], act[m], st[m] = 1, 0, t
            pv[m] = L[m]

    for name, fn in list(locals().items()):
        if callable(fn) and not name.startswith("_") and name not in ("m",):
            setattr(m, name, fn)
    return m


def install(monkeypatch) -> None:
    """Swap in the fake CuPy and _cuda modules and mark the CUDA backend usable (pytest monkeypatch scope)."""
    import sys

    import nnqs_fast._backend as B

    cp, cu = _make_cupy(), _make_cuda()
    monkeypatch.setitem(sys.modules, "cupy", cp)
    monkeypatch.setitem(sys.modules, "nnqs_fast._cuda", cu)
    import nnqs_fast

    monkeypatch.setattr(nnqs_fast, "_cuda", cu, raising=False)
    monkeypatch.setattr(B, "cuda_status",
                        lambda: B.BackendStatus("cuda", True, "", {"device": "fake"}))
    clear_caches()


def clear_caches() -> None:
    """Forget cached module handles (call after the monkeypatch is undone, so later tests see the real ones)."""
    from nnqs_fast.gpu import _shim, kernels

    _shim.cupy.cache_clear()
    _shim.cuda_module.cache_clear()
    kernels._syrk_upper_flag.cache_clear()
