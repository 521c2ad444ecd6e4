"""Analytic infinite-width kernels: ReLU NNGP/NTK (arc-cosine recursion), Cos-net and Gauss-net (Eq. 4, S27),
the S18 limit of the complex single-layer network (S16), and the decoupled QS-NTK (S10-S11).

ReLU, NTK parameterisation (neural-tangents' ``Dense(N, W_std, b_std)``, ``depth`` hidden layers). With
``K_0(x, x') = W_std^2 x.x'/d + b_std^2`` and ``Theta_0 = K_0``, each hidden layer maps (Cho & Saul arc-cosine
kernels, ``cos t = K(x,x') / sqrt(K(x,x) K(x',x'))``)::

    E[relu relu] = sqrt(K(x,x) K(x',x')) (sin t + (pi - t) cos t) / (2 pi)
    E[step step] = (pi - t) / (2 pi)
    K_{l+1}      = W_std^2 E[relu relu] + b_std^2
    Theta_{l+1}  = W_std^2 E[step step] Theta_l + K_{l+1}

and after ``depth`` hidden layers (the readout included) ``nngp = K_depth``, ``ntk = Theta_depth``. The C++ core
evaluates the recursion element-wise on the Gram matrix ``x1 x2^T`` (BLAS), fused, tiled and with OpenMP; the
symmetric case (``x2 = x1``) computes the upper triangle once and mirrors it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .._backend import gpu_impl, resolve_backend
from .._validation import check_chunk_size, check_finite_scalar, check_positive_int
from ..errors import InvalidInputError
from ._common import check_get, check_inputs, core, gram, kernel_tuple, tile_pairs
from .qsntk import QSNTK, qsntk_from_parts

__all__ = ["relu_kernel_fn", "cosnet_kernel_fn", "gaussnet_kernel_fn", "complex_single_qsntk",
           "decoupled_qsntk", "relu_kernels_numpy"]

KernelFn = Callable[..., Any]


# ----------------------------------------------------------------------------------------------- ReLU
def relu_kernels_numpy(x1: np.ndarray, x2: np.ndarray | None, depth: int, W_std: float, b_std: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised NumPy reference of the ReLU NNGP/NTK recursion (float64, full matrix); benchmark baseline."""
    x1 = np.asarray(x1, np.float64)
    x2 = x1 if x2 is None or x2 is x1 else np.asarray(x2, np.float64)
    d = x1.shape[1]
    w2, b2 = W_std ** 2, b_std ** 2
    k = w2 * (x1 @ x2.T) / d + b2
    k1 = w2 * np.einsum("ij,ij->i", x1, x1) / d + b2
    k2 = w2 * np.einsum("ij,ij->i", x2, x2) / d + b2
    th = k.copy()
    sym = x2 is x1
    for _ in range(depth):
        norm = np.sqrt(np.outer(k1, k2))
        c = np.clip(k / norm, -1.0, 1.0)
        if sym:
            np.fill_diagonal(c, 1.0)  # exact diagonal: acos is ill-conditioned at cos t = 1
        t = np.arccos(c)
        s = np.sqrt(1.0 - c * c)
        k = w2 * norm * (s + (np.pi - t) * c) / (2 * np.pi) + b2
        th = w2 * (np.pi - t) / (2 * np.pi) * th + k
        k1 = w2 * k1 / 2 + b2
        k2 = w2 * k2 / 2 + b2
    return k, th


def relu_kernel_fn(depth: int = 1, W_std: float = 0.5, b_std: float = 0.1) -> KernelFn:
    """Infinite-width ReLU network kernels (NNGP and NTK) in the NTK parameterisation.

    Returns ``kernel_fn(x1, x2=None, get=("nngp", "ntk"), chunk_size=None, backend="auto", dtype=None)``:
    a string ``get`` returns one ``(n1, n2)`` array, a tuple returns a namedtuple in that order. Defaults are the
    paper's network (one hidden layer, W ~ N(0, 0.25), b ~ N(0, 0.01)). The NTK is that of a network whose
    every layer is trained; for ``psi = psi1 + i psi2`` with two such networks the QS-NTK is
    :func:`decoupled_qsntk` (S10-S11).
    """
    depth = check_positive_int(depth, "depth")
    W_std = check_finite_scalar(W_std, "W_std", nonnegative=True)
    b_std = check_finite_scalar(b_std, "b_std", nonnegative=True)
    if W_std == 0 and b_std == 0:
        raise InvalidInputError("W_std and b_std are both 0: the kernel would vanish identically")

    def kernel_fn(x1: Any, x2: Any = None, get: Any = ("nngp", "ntk"), chunk_size: int | None = None,
                  backend: str = "auto", dtype: Any = None) -> Any:
        names, single = check_get(get)
        chunk = check_chunk_size(chunk_size)
        b = resolve_backend(backend)
        if b == "cuda":
            return gpu_impl("kernels", "relu_kernel")(x1, x2, depth=depth, W_std=W_std, b_std=b_std, get=get,
                                                      chunk_size=chunk_size, dtype=dtype)
        a, c, sym, dt = check_inputs(x1, x2, dtype=dtype)
        out = _relu_gram(a, c, sym, dt, depth, W_std, b_std, names, chunk)
        return out[names[0]] if single else kernel_tuple(names)(*(out[g] for g in names))

    kernel_fn.depth, kernel_fn.W_std, kernel_fn.b_std = depth, W_std, b_std  # type: ignore[attr-defined]
    return kernel_fn


def _relu_gram(a: np.ndarray, c: np.ndarray, sym: bool, dt: np.dtype, depth: int, W_std: float, b_std: float,
               names: tuple[str, ...], chunk: int | None) -> dict[str, np.ndarray]:
    n1, n2 = a.shape[0], c.shape[0]
    want_nngp, want_ntk = "nngp" in names, "ntk" in names
    nngp = np.empty((n1, n2), dt) if want_nngp else None
    ntk = np.empty((n1, n2), dt) if want_ntk else None
    sq1 = np.einsum("ij,ij->i", a, a)
    sq2 = sq1 if sym else np.einsum("ij,ij->i", c, c)
    cm = core()
    fn = getattr(cm, "relu_kernel_tile", None)
    d = a.shape[1]
    tiles = list(tile_pairs(n1, n2, chunk, sym))
    first = ntk if want_ntk else nngp
    for i0, i1, j0, j1 in tiles:
        diag = sym and i0 == j0
        # one tile: the Gram matrix is written into an output and the recursion runs in place (no fresh pages)
        target = first if (len(tiles) == 1 and fn is not None) else None
        g = gram(a[i0:i1], upper_only=True, out=target) if diag else gram(a[i0:i1], c[j0:j1], out=target)
        if fn is not None:
            mode = 1 if diag else (2 if sym else 0)
            fn(g, sq1[i0:i1], sq2[j0:j1], nngp, ntk, i0, j0, int(depth), float(W_std), float(b_std), int(d), mode)
        else:  # pure-NumPy fallback (the core always provides the fused tile in a normal build)
            k, th = _relu_from_gram(g.astype(np.float64), sq1[i0:i1], sq2[j0:j1], d, depth, W_std, b_std)
            for m, v in ((nngp, k), (ntk, th)):
                if m is not None:
                    m[i0:i1, j0:j1] = v
                    if sym:
                        m[j0:j1, i0:i1] = v.T
    if sym and fn is None:
        for m in (nngp, ntk):
            if m is not None:
                _mirror(m, chunk)
    return {"nngp": nngp, "ntk": ntk}


def _relu_from_gram(g, sq1, sq2, d, depth, W_std, b_std):
    w2, b2 = W_std ** 2, b_std ** 2
    k = w2 * g / d + b2
    k1 = w2 * sq1.astype(np.float64) / d + b2
    k2 = w2 * sq2.astype(np.float64) / d + b2
    th = k.copy()
    for _ in range(depth):
        norm = np.sqrt(np.outer(k1, k2))
        cc = np.clip(k / norm, -1.0, 1.0)
        t = np.arccos(cc)
        k = w2 * norm * (np.sqrt(1.0 - cc * cc) + (np.pi - t) * cc) / (2 * np.pi) + b2
        th = w2 * (np.pi - t) / (2 * np.pi) * th + k
        k1, k2 = w2 * k1 / 2 + b2, w2 * k2 / 2 + b2
    return k, th


def _mirror(m: np.ndarray, chunk: int | None = None) -> None:
    """Copy the upper triangle of a square C-contiguous matrix to the lower one (in place)."""
    fn = getattr(core(), "mirror_upper", None)
    if fn is not None:
        fn(m)
        return
    il = np.tril_indices(m.shape[0], -1)
    m[il] = m.T[il]


# ---------------------------------------------------------------------------------------- decoupled
def decoupled_qsntk(x1: Any, x2: Any = None, *, kernel_fn: KernelFn | None = None,
                    kernel_fn2: KernelFn | None = None, chunk_size: int | None = None, backend: str = "auto",
                    dtype: Any = None) -> QSNTK:
    """QS-NTK of the decoupled infinite-width NNQS ``psi = psi1 + i psi2`` (S10-S11 with zero mixing):
    ``Theta = Theta1 - Theta2``, ``Phi = Theta1 + Theta2``, ``Theta12 = 0``.

    ``kernel_fn`` (default: the paper's ReLU network, :func:`relu_kernel_fn`) gives ``Theta1`` (its ``"ntk"``);
    ``kernel_fn2`` (default: the same architecture) gives ``Theta2``.
    """
    kf1 = relu_kernel_fn() if kernel_fn is None else kernel_fn
    t1 = kf1(x1, x2, get="ntk", chunk_size=chunk_size, backend=backend, dtype=dtype)
    if kernel_fn2 is None or kernel_fn2 is kf1:
        t2 = t1
    else:
        t2 = kernel_fn2(x1, x2, get="ntk", chunk_size=chunk_size, backend=backend, dtype=dtype)
    from .._backend import to_numpy

    t1, t2 = to_numpy(t1), to_numpy(t2)
    return qsntk_from_parts(t1, t2, symmetric=x2 is None or x2 is x1,
                            meta={"kind": "analytic", "architecture": getattr(kf1, "__name__", "kernel_fn")})
