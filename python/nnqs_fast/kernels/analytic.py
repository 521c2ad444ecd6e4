"""Analytic infinite-width kernels: ReLU NNGP/NTK (arc-cosine recursion), Cos-net and Gauss-net (Eq. 4, S27),
the S18 limit of the complex single-layer network (S16), and the decoupled QS-NTK (S10-S11).

The architecture objects of :mod:`nnqs_fast.networks` own the formulas and the parameters (the layer recursion
:func:`nnqs_fast.networks.dense.dense_kernels`, the activation duals, the stationary kernels' parameters); this
module evaluates them efficiently. ReLU networks (``depth`` hidden layers, NTK parameterisation): after ``depth``
hidden layers (the readout included) ``nngp = K_depth``, ``ntk = Theta_depth``; the C++ core evaluates the
recursion element-wise on the Gram matrix ``x1 x2^T`` (BLAS), fused, tiled and with OpenMP; the symmetric case
(``x2 = x1``) computes the upper triangle once and mirrors it. Other activations use the NumPy recursion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np

from .._backend import dispatch
from .._memory import pool_take
from .._validation import as_array, check_chunk_size, check_cost, check_finite_output, check_memory
from ..errors import InvalidInputError, ShapeMismatchError
from ..networks.complex_single import ComplexSingle
from ..networks.cosnet import CosNet
from ..networks.dense import B_STD, W_STD, DenseNet, dense_kernels
from ..networks.gaussnet import GaussNet
from ..networks.relu import ReLUNet
from ._common import check_get, check_inputs, core, gram, kernel_tuple, tile_pairs
from .qsntk import QSNTK, qsntk_from_parts

__all__ = ["relu_kernel_fn", "cosnet_kernel_fn", "gaussnet_kernel_fn", "complex_single_qsntk",
           "decoupled_qsntk", "relu_kernels_numpy"]

KernelFn = Callable[..., Any]


# ----------------------------------------------------------------------------------------------- ReLU
def relu_kernels_numpy(x1: np.ndarray, x2: np.ndarray | None, depth: int, W_std: float, b_std: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised NumPy evaluation of the ReLU NNGP/NTK recursion (float64, full matrix; benchmark baseline):
    :func:`nnqs_fast.networks.dense.dense_kernels` on the Gram matrix."""
    x1 = np.asarray(x1, np.float64)
    sym = x2 is None or x2 is x1
    x2 = x1 if sym else np.asarray(x2, np.float64)
    sq1 = np.einsum("ij,ij->i", x1, x1)
    sq2 = sq1 if sym else np.einsum("ij,ij->i", x2, x2)
    k, th = dense_kernels(x1 @ x2.T, sq1[:, None], sq2[None, :], input_dim=x1.shape[1], depth=depth, W_std=W_std,
                          b_std=b_std, activation="relu", symmetric=sym)
    return k, cast(np.ndarray, th)  # want_ntk=True: th is an array


def relu_kernel_fn(depth: int = 1, W_std: float = W_STD, b_std: float = B_STD) -> KernelFn:
    """Infinite-width ReLU network kernels (NNGP and NTK) in the NTK parameterisation (Eq. 5-7).

    Returns ``kernel_fn(x1, x2=None, get=("nngp", "ntk"), chunk_size=None, backend="auto", dtype=None)``:
    a string ``get`` returns one ``(n1, n2)`` array, a tuple returns a namedtuple in that order. Defaults are the
    paper's network (one hidden layer, W ~ N(0, 0.25), b ~ N(0, 0.01)). The NTK is that of a network whose
    every layer is trained; for ``psi = psi1 + i psi2`` with two such networks the QS-NTK is
    :func:`decoupled_qsntk` (S10-S11). Same as ``ReLUNet(depth, W_std, b_std).kernel_fn()``.
    """
    return ReLUNet(depth=depth, W_std=W_std, b_std=b_std).kernel_fn()


def dense_kernel_fn(net: DenseNet) -> KernelFn:
    """The analytic ``kernel_fn`` of a dense architecture object (:meth:`DenseNet.kernel_fn`): the C++ core (and
    CUDA) for ReLU, the NumPy recursion (:func:`~nnqs_fast.networks.dense.dense_kernels`) for other activations."""
    depth, W_std, b_std = net.depth, net.W_std, net.b_std
    if W_std == 0 and b_std == 0:
        raise InvalidInputError("W_std and b_std are both 0: the kernel would vanish identically")
    relu = net.activation == "relu"

    def kernel_fn(x1: Any, x2: Any = None, get: Any = ("nngp", "ntk"), chunk_size: int | None = None,
                  backend: str = "auto", dtype: Any = None) -> Any:
        if relu:
            return relu_kernel(x1, x2, depth=depth, W_std=W_std, b_std=b_std, get=get, chunk_size=chunk_size,
                               dtype=dtype, backend=backend)
        return dense_kernel(x1, x2, activation=net.activation, depth=depth, W_std=W_std, b_std=b_std, get=get,
                            chunk_size=chunk_size, dtype=dtype, backend=backend)

    kernel_fn.depth, kernel_fn.W_std, kernel_fn.b_std = depth, W_std, b_std  # type: ignore[attr-defined]
    if not relu:
        kernel_fn.activation = net.activation  # type: ignore[attr-defined]
    return kernel_fn


@dispatch("kernels.dense_kernel")
def dense_kernel(x1: Any, x2: Any = None, *, activation: str, depth: int, W_std: float, b_std: float,
                 get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None,
                 backend: str = "auto") -> Any:
    """The dispatched body of a non-ReLU :class:`~nnqs_fast.networks.DenseNet` ``kernel_fn`` (NumPy recursion,
    full matrices; no CUDA implementation: ``backend="cuda"`` raises, ``"auto"`` runs here)."""
    names, single = check_get(get)
    check_chunk_size(chunk_size)
    a, c, sym, dt = check_inputs(x1, x2, dtype=dtype)
    n1, n2 = a.shape[0], c.shape[0]
    check_memory(8.0 * n1 * n2 * (len(names) + 4), f"the {n1} x {n2} kernel matrices {names}")
    check_cost(_RELU_OPS_PER_ENTRY_LAYER * float(depth) * n1 * n2 + 2e4 * depth,
               f"the depth-{depth} {activation} kernels of {n1} x {n2} inputs")
    sq1 = np.einsum("ij,ij->i", a, a)
    sq2 = sq1 if sym else np.einsum("ij,ij->i", c, c)
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, as a named warning
        k, th = dense_kernels(a @ c.T, sq1[:, None], sq2[None, :], input_dim=a.shape[1], depth=depth, W_std=W_std,
                              b_std=b_std, activation=activation, symmetric=sym, want_ntk="ntk" in names)
    out = {"nngp": k.astype(dt, copy=False), "ntk": None if th is None else th.astype(dt, copy=False)}
    for g in names:
        check_finite_output(out[g], f"{activation} kernel {g} (inputs too large for float64?)")
    return out[names[0]] if single else kernel_tuple(names)(*(out[g] for g in names))


@dispatch("kernels.relu_kernel")
def relu_kernel(x1: Any, x2: Any = None, *, depth: int, W_std: float, b_std: float, get: Any = ("nngp", "ntk"),
                chunk_size: int | None = None, dtype: Any = None, backend: str = "auto") -> Any:
    """The dispatched body of :func:`relu_kernel_fn`'s ``kernel_fn`` (parameters already validated)."""
    names, single = check_get(get)
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = check_inputs(x1, x2, dtype=dtype)
    check_cost(_RELU_OPS_PER_ENTRY_LAYER * float(depth) * a.shape[0] * c.shape[0],
               f"the depth-{depth} ReLU kernels of {a.shape[0]} x {c.shape[0]} inputs")
    # the C++ recursion keeps sqrt(k) and 1/sqrt(k) of every layer for each row and column of a tile
    check_memory(16.0 * (a.shape[0] + c.shape[0]) * depth, f"the depth-{depth} ReLU recursion's work buffers")
    out, checked = _relu_gram(a, c, sym, dt, depth, W_std, b_std, names, chunk)
    if b_std == 0:
        _zero_variance_rows(out, a, c)
    if not checked:  # the SIMD core checks finiteness while storing (no second pass over the output)
        for g in names:
            check_finite_output(out[g], f"relu_kernel_fn {g}")
    return out[names[0]] if single else kernel_tuple(names)(*(out[g] for g in names))


#: cost model of the ReLU recursion (an arccos, a sqrt and a few products per entry and layer)
_RELU_OPS_PER_ENTRY_LAYER = 100.0


def _zero_variance_rows(out: dict[str, np.ndarray | None], a: np.ndarray, c: np.ndarray) -> None:
    """With ``b_std = 0`` an all-zero input has pre-activations identically 0 at every layer, so its NNGP and NTK
    rows are exactly 0 (the recursion's ``k / sqrt(k1 k2)`` is 0/0 there and gave NaN)."""
    z1, z2 = ~np.any(a != 0, axis=1), ~np.any(c != 0, axis=1)
    if not (z1.any() or z2.any()):
        return
    for k in out.values():
        if k is not None:
            k[z1, :] = 0
            k[:, z2] = 0


#: Input dimensions up to this form x1 . x2 on the fly in the fused C++ pass (lattice encodings have d = L);
#: larger d use one BLAS GEMM per tile first.
_ON_THE_FLY_MAX_DIM = 64


def _relu_gram(a: np.ndarray, c: np.ndarray, sym: bool, dt: np.dtype, depth: int, W_std: float, b_std: float,
               names: tuple[str, ...], chunk: int | None) -> tuple[dict[str, np.ndarray | None], bool]:
    """The requested kernels, and whether the core verified every value finite (Highway build) while storing."""
    n1, n2 = a.shape[0], c.shape[0]
    check_memory(n1 * n2 * dt.itemsize * len(names), f"the {n1} x {n2} kernel matrices {names}")
    want_nngp, want_ntk = "nngp" in names, "ntk" in names
    # from the caching memory pool: 64-byte aligned, and on repeated calls already-faulted pages, which the core
    # then fills with streaming stores (on fresh pages plain stores are faster); every entry is written below
    nngp, r1 = pool_take((n1, n2), dt) if want_nngp else (None, True)
    ntk, r2 = pool_take((n1, n2), dt) if want_ntk else (None, True)
    stream = r1 and r2
    sq1 = np.einsum("ij,ij->i", a, a)
    sq2 = sq1 if sym else np.einsum("ij,ij->i", c, c)
    fn = core().relu_kernel_tile
    d = a.shape[1]
    tiles = list(tile_pairs(n1, n2, chunk, sym))
    first = ntk if want_ntk else nngp
    on_the_fly = d <= _ON_THE_FLY_MAX_DIM
    finite = True
    for i0, i1, j0, j1 in tiles:
        diag = sym and i0 == j0
        # mode 1: diagonal tile of a symmetric result (both triangles written); 2: off-diagonal tile of a symmetric
        # result (also written transposed at (j0, i0)); 0: plain tile
        mode = 1 if diag else (2 if sym else 0)
        if on_the_fly:  # small d: x1 . x2 formed inside the fused C++ pass (no Gram buffer, no BLAS threads)
            finite &= bool(fn(a[i0:i1], sq1[i0:i1], sq2[j0:j1], nngp, ntk, i0, j0, int(depth), float(W_std),
                              float(b_std), int(d), mode, c[j0:j1], stream))
            continue
        # one tile: the Gram matrix is written into an output and the recursion runs in place (no fresh pages)
        target = first if len(tiles) == 1 else None
        g = gram(a[i0:i1], upper_only=True, out=target) if diag else gram(a[i0:i1], c[j0:j1], out=target)
        finite &= bool(fn(g, sq1[i0:i1], sq2[j0:j1], nngp, ntk, i0, j0, int(depth), float(W_std), float(b_std),
                          int(d), mode, None, stream))
    return {"nngp": nngp, "ntk": ntk}, finite


# ------------------------------------------------------------------------------------ Cos-net, Gauss-net
def _stationary_fn(amp: float, scale: float, ntk_c0: float, ntk_c1: float, name: str) -> KernelFn:
    """kernel_fn for ``nngp = amp exp(-scale |x - x'|^2)`` and ``ntk = nngp (c0 + c1 x.x')``."""

    def kernel_fn(x1: Any, x2: Any = None, get: Any = ("nngp", "ntk"), chunk_size: int | None = None,
                  backend: str = "auto", dtype: Any = None) -> Any:
        return stationary_kernel(x1, x2, amp=amp, scale=scale, ntk_c0=ntk_c0, ntk_c1=ntk_c1, get=get,
                                 chunk_size=chunk_size, dtype=dtype, backend=backend)

    kernel_fn.__name__ = name
    return kernel_fn


@dispatch("kernels.stationary_kernel")
def stationary_kernel(x1: Any, x2: Any = None, *, amp: float, scale: float, ntk_c0: float, ntk_c1: float,
                      get: Any = ("nngp", "ntk"), chunk_size: int | None = None, dtype: Any = None,
                      backend: str = "auto") -> Any:
    """The dispatched body of the Cos-net / Gauss-net ``kernel_fn``: ``nngp = amp exp(-scale |x - x'|^2)``,
    ``ntk = nngp (ntk_c0 + ntk_c1 x.x')``."""
    names, single = check_get(get)
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = check_inputs(x1, x2, dtype=dtype)
    n1, n2 = a.shape[0], c.shape[0]
    check_memory(n1 * n2 * dt.itemsize * len(names), f"the {n1} x {n2} kernel matrices {names}")
    sq1 = np.einsum("ij,ij->i", a, a)
    sq2 = sq1 if sym else np.einsum("ij,ij->i", c, c)
    cm = core()
    res = {}
    for g_name in names:
        out = np.empty((n1, n2), dt)
        c0, c1 = (1.0, 0.0) if g_name == "nngp" else (ntk_c0, ntk_c1)
        for i0, i1, j0, j1 in tile_pairs(n1, n2, chunk, sym):
            diag = sym and i0 == j0
            g = gram(a[i0:i1], upper_only=True) if diag else gram(a[i0:i1], c[j0:j1])
            cm.stationary_tile(g, sq1[i0:i1], sq2[j0:j1], out, i0, j0, amp, scale, c0, c1, diag)
        if sym:
            cm.mirror_upper(out)
        res[g_name] = check_finite_output(out, f"{g_name} kernel (inputs too large for float64?)")
    return res[names[0]] if single else kernel_tuple(names)(*(res[g] for g in names))


def stationary_kernel_fn(params_of_dim: Callable[[int], tuple[float, float, float, float]], name: str) -> KernelFn:
    """kernel_fn of a stationary architecture whose ``(amp, scale, c0, c1)`` depend on the input dimension ``d``
    (:meth:`nnqs_fast.networks.CosNet.stationary_params`); evaluated by the C++ core once ``d`` is known."""
    cache: dict[int, KernelFn] = {}

    def kernel_fn(x1: Any, x2: Any = None, get: Any = ("nngp", "ntk"), chunk_size: int | None = None,
                  backend: str = "auto", dtype: Any = None) -> Any:
        shape = np.shape(x1)
        if len(shape) != 2:
            raise ShapeMismatchError(f"x1 must have 2 dimensions (n, d), got shape {shape}")
        d = int(shape[1])
        if d < 1:
            raise InvalidInputError("x1 must have at least one feature")
        if d not in cache:
            cache[d] = _stationary_fn(*params_of_dim(d), name)
        return cache[d](x1, x2, get=get, chunk_size=chunk_size, backend=backend, dtype=dtype)

    kernel_fn.__name__ = name
    return kernel_fn


def cosnet_kernel_fn(sigma_a: float = 1.0, sigma_w: float = 1.0, trainable: str = "last") -> KernelFn:
    """Infinite-width Cos-net kernels (Eq. 3-4, one bias per hidden unit, ``b ~ U[-pi, pi]``).

    ``nngp = (sigma_a^2 / 2) exp(-sigma_w^2 |x - x'|^2 / (2 d))`` (Eq. 4). ``ntk`` in the NTK parameterisation
    of :mod:`nnqs_fast.networks.cosnet`: ``trainable="last"`` (only the read-out ``a`` trained, Supplementary III
    Case 1, S23-S25): ``ntk = nngp``; ``"all"``: ``ntk = nngp (2 + sigma_w^2 x.x' / d)``. (Training ``a``
    directly in the standard parameterisation ``a ~ N(0, sigma_a^2/N)`` scales the Case-1 NTK by
    ``N / sigma_a^2``.) Same ``kernel_fn`` signature as :func:`relu_kernel_fn`;
    ``CosNet(sigma_a, sigma_w, trainable).kernel_fn()``.
    """
    return CosNet(sigma_a, sigma_w, trainable).kernel_fn()


def gaussnet_kernel_fn(sigma: float = 1.0, sigma_a: float = 1.0, trainable: str = "last") -> KernelFn:
    """Infinite-width Gauss-net kernels (S26-S27).

    ``nngp = sigma_a^2 exp(-sigma^2 |x - x'|^2 / (2 d))`` (S27). ``ntk``: ``trainable="last"`` (S23-S25, Case 1)
    ``ntk = nngp``; ``"all"``: ``ntk = nngp (1 + sigma^2 x.x' / d)``. ``GaussNet(sigma, sigma_a,
    trainable).kernel_fn()``.
    """
    return GaussNet(sigma, sigma_a, trainable).kernel_fn()


# ------------------------------------------------------------------------------------ S16 / S18
@dispatch("kernels.complex_single_qsntk")
def complex_single_qsntk(x1: Any, x2: Any = None, *, activation: str = "relu", backend: str = "auto") -> QSNTK:
    """Infinite-width QS-NTK of the complex single-layer network (Eq. S16-S18), ``c ~ N(0, I_d)``.

    ``Theta_inf = x.x' E[(a + i b)^2] E[s'(c.x) s'(c.x')] = 0`` and
    ``Phi_inf = 2 E[s(c.x) s(c.x')] + 2 x.x' E[s'(c.x) s'(c.x')]`` (S18; ``E|a|^2 + E|b|^2 = 2``). With
    ``u = c.x``, ``v = c.x'`` jointly Gaussian (variances ``|x|^2``, ``|x'|^2``, covariance ``x.x'``):
    ReLU: ``E[s s] = |x||x'| (sin t + (pi - t) cos t) / (2 pi)``, ``E[s' s'] = (pi - t) / (2 pi)``;
    erf: ``E[s s] = (2/pi) asin(2 x.x' / sqrt((1 + 2|x|^2)(1 + 2|x'|^2)))``,
    ``E[s' s'] = (4/pi) / sqrt((1 + 2|x|^2)(1 + 2|x'|^2) - 4 (x.x')^2)``.
    Returned with ``Theta1 = Theta2 = Phi / 2`` and zero mixing (``E[a b] = 0``), so ``theta = 0``, ``phi = Phi``.
    """
    net = ComplexSingle(activation)
    act = net.activation
    a, c, sym, _ = check_inputs(x1, x2, dtype=np.float64)
    g, ess, edd = net.dual(a, c, sym)
    phi = 2 * ess + 2 * g * edd
    half = 0.5 * phi
    return qsntk_from_parts(half, half.copy(), symmetric=sym,
                            meta={"kind": "analytic", "architecture": f"complex_single_{act}"})


# ---------------------------------------------------------------------------------------- decoupled
def _checked_kernel(k: Any, n1: int, n2: int, name: str) -> Any:
    """A user ``kernel_fn``'s result must be the finite ``(n1, n2)`` matrix of the inputs (a wrong shape used to be
    accepted silently)."""
    if hasattr(k, "__cuda_array_interface__"):  # device arrays are checked by the CUDA path
        return k
    arr = as_array(k, f"{name}(x1, x2)", ndim=2)
    if arr.shape != (n1, n2):
        raise ShapeMismatchError(f"{name} returned shape {arr.shape}, expected ({n1}, {n2}) for these inputs")
    return k


def decoupled_qsntk(x1: Any, x2: Any = None, *, kernel_fn: KernelFn | None = None,
                    kernel_fn2: KernelFn | None = None, chunk_size: int | None = None, backend: str = "auto",
                    dtype: Any = None) -> QSNTK:
    """QS-NTK of the decoupled infinite-width NNQS ``psi = psi1 + i psi2`` (S10-S11 with zero mixing):
    ``Theta = Theta1 - Theta2``, ``Phi = Theta1 + Theta2``, ``Theta12 = 0``.

    ``kernel_fn`` (default: the paper's ReLU network, :func:`relu_kernel_fn`) gives ``Theta1`` (its ``"ntk"``);
    ``kernel_fn2`` (default: the same architecture) gives ``Theta2``.
    """
    kf1 = relu_kernel_fn() if kernel_fn is None else kernel_fn
    for f, nm in ((kf1, "kernel_fn"), (kernel_fn2, "kernel_fn2")):
        if f is not None and not callable(f):
            raise InvalidInputError(f"{nm} must be a kernel function (e.g. relu_kernel_fn()), got {type(f).__name__}")
    a, c, _, _ = check_inputs(x1, x2, dtype=np.float64)
    t1 = _checked_kernel(kf1(x1, x2, get="ntk", chunk_size=chunk_size, backend=backend, dtype=dtype),
                         a.shape[0], c.shape[0], "kernel_fn")
    if kernel_fn2 is None or kernel_fn2 is kf1:
        t2 = t1
    else:
        t2 = _checked_kernel(kernel_fn2(x1, x2, get="ntk", chunk_size=chunk_size, backend=backend, dtype=dtype),
                             a.shape[0], c.shape[0], "kernel_fn2")
    return qsntk_from_parts(t1, t2, symmetric=x2 is None or x2 is x1,
                            meta={"kind": "analytic", "architecture": getattr(kf1, "__name__", "kernel_fn")})
