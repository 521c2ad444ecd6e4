"""Empirical QS-NTK of finite networks.

Two routes:

* :func:`qsntk_from_jacobians` for any user network: given the complex Jacobian ``J`` (``n x P``) or the real
  parts' Jacobians ``J1``, ``J2``, returns Theta, Phi, Theta1, Theta2 and the mixing kernel (Eq. 7, S8-S11)
  with BLAS SYRK/GEMM. NumPy arrays and anything exposing ``__array__`` / DLPack (JAX, PyTorch) are accepted.
* :func:`empirical_ntk` / :func:`empirical_qsntk` for the built-in networks, *structured*: the ``n x P``
  Jacobian is never formed. The NTK of a fully connected network is a sum over layers of per-layer Gram
  products (back-propagation of ``d f / d z_l``)::

      Theta(x, x') = sum_l [delta_l(x) . delta_l(x')] * [(W_std^2 / n_{l-1}) h_{l-1}(x) . h_{l-1}(x') + b_std^2]

  which for one hidden ReLU layer is ``(W_std^2/N) s(h) s(h')^T + b_std^2 + (W_std^2/N) [(v*s'(h))(v*s'(h'))^T]
  * (W_std^2 x.x'/d + b_std^2)``: BLAS rank-N products (SYRK on diagonal tiles, GEMM elsewhere) and one fused
  element-wise pass in the C++ core, tile by tile (``chunk_size`` rows/columns, any ``n``), upper tiles only and
  mirrored when ``x2 = x1``. Peak memory: the ``n1 x n2`` outputs plus ``O(chunk * N)`` features per tile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._backend import array_namespace, dispatch
from .._memory import pool_empty
from .._validation import check_choice, check_chunk_size, check_finite_output, check_memory, check_network_params
from ..errors import InvalidInputError, ShapeMismatchError
from ..networks.complex_single import ComplexSingleParams, activation_pieces
from ..networks.cosnet import CosNetParams
from ..networks.gaussnet import GaussNetParams
from ..networks.relu import ReLUParams, relu_forward_pieces
from ._common import Workspace, as_input, blocks, check_inputs, check_jacobian_shapes, core, gram
from .qsntk import QSNTK, qsntk_from_parts, real_parameter_jacobian

__all__ = ["empirical_ntk", "empirical_qsntk", "qsntk_from_jacobians", "FEATURE_BUDGET_BYTES"]

#: Automatic chunking keeps the per-tile features (row block + column block) under this many bytes.
FEATURE_BUDGET_BYTES = 1 << 30


# ------------------------------------------------------------------------------------ structured plans
@dataclass
class _Plan:
    """How a kernel is assembled from per-input features (names refer to ``feats(x_block)``'s dict):

    ``out = alpha * G(base_l, base_r) + beta + sum_p G(B_l, B_r) * (gamma_p * G(C_l, C_r) + delta_p)``,
    ``G(a, b) = a(x) . b(x')`` over the rows of a block of ``x1`` and a block of ``x2``.
    """

    feats: Callable[[np.ndarray], dict[str, np.ndarray]]
    base: tuple[str, str] | None
    alpha: float
    beta: float
    pairs: list[tuple[str, str, str, str, float, float]] = field(default_factory=list)
    row_bytes: int = 0  # feature bytes per input row

    @property
    def self_symmetric(self) -> bool:
        names = ([self.base] if self.base else []) + [(p[0], p[1]) for p in self.pairs] + \
                [(p[2], p[3]) for p in self.pairs]
        return all(a == b for a, b in names)


def _relu_plan(p: ReLUParams, dt: np.dtype) -> _Plan:
    W = [w.astype(dt, copy=False) for w in p.weights]
    bvec = [b.astype(dt, copy=False) for b in p.biases]
    b2 = p.b_std ** 2
    L = p.depth
    if L == 1:
        N = W[0].shape[0]
        v = np.ascontiguousarray(W[1][0])
        s_in = float(p.W_std / np.sqrt(W[0].shape[1]))
        s_h = float(p.W_std / np.sqrt(N))
        wt = np.ascontiguousarray(W[0].T)                    # in_dim x N
        bias = np.ascontiguousarray(p.b_std * bvec[0], dtype=dt)

        def feats(x: np.ndarray) -> dict[str, np.ndarray]:
            a0 = np.ascontiguousarray(s_in * x, dtype=dt)
            h, dh = pool_empty((x.shape[0], N), dt), pool_empty((x.shape[0], N), dt)   # pool pages: no page faults
            # z = b_std b + a0 W^T; h = s_h relu(z), dh = s_h v step(z), one pass without z (the core)
            core().relu_layer_features(a0, wt, bias, v, h, dh, s_h, s_h)
            return {"a0": a0, "a1": h, "d0": dh}

        return _Plan(feats, ("a1", "a1"), 1.0, b2, [("d0", "d0", "a0", "a0", 1.0, b2)],
                     row_bytes=dt.itemsize * (2 * N + W[0].shape[1]))
    params = ReLUParams(tuple(W), tuple(bvec), p.W_std, p.b_std)

    def feats_deep(x: np.ndarray) -> dict[str, np.ndarray]:
        acts, deltas = relu_forward_pieces(params, x)
        out = {f"a{l}": np.ascontiguousarray(a, dtype=dt) for l, a in enumerate(acts)}
        out.update({f"d{l}": d for l, d in enumerate(deltas)})
        return out

    widths = [w.shape[1] for w in W]  # d, N, ..., N
    return _Plan(feats_deep, (f"a{L}", f"a{L}"), 1.0, b2,
                 [(f"d{l}", f"d{l}", f"a{l}", f"a{l}", 1.0, b2) for l in range(L)],
                 row_bytes=dt.itemsize * (sum(widths) + sum(widths[1:])))


def _cos_plan(p: CosNetParams, dt: np.dtype, trainable: str) -> _Plan:
    w = p.w.astype(dt, copy=False)
    a = p.a.astype(dt, copy=False)
    b = p.b.astype(dt, copy=False)
    s = float(p.sigma_a / np.sqrt(p.width))  # python floats keep float32 features float32
    sx = float(p.sigma_w / np.sqrt(p.input_dim))

    def feats(x: np.ndarray) -> dict[str, np.ndarray]:
        xs = (sx * x).astype(dt, copy=False)
        u = xs @ w.T
        u += b
        out = {"C": s * np.cos(u), "xs": xs}
        if trainable == "all":
            out["S"] = (s * a) * np.sin(u)
        return out

    pairs = [("S", "S", "xs", "xs", 1.0, 1.0)] if trainable == "all" else []
    return _Plan(feats, ("C", "C"), 1.0, 0.0, pairs, row_bytes=dt.itemsize * (2 * p.width + p.input_dim))


def _gauss_plan(p: GaussNetParams, dt: np.dtype, trainable: str) -> _Plan:
    w = p.w.astype(dt, copy=False)
    a = p.a.astype(dt, copy=False)
    s = float(p.sigma_a / np.sqrt(p.width))
    sx = float(p.sigma / np.sqrt(p.input_dim))
    d = p.input_dim

    def feats(x: np.ndarray) -> dict[str, np.ndarray]:
        xs = (sx * x).astype(dt, copy=False)
        u = xs @ w.T
        u -= (float(p.sigma ** 2 / d) * np.einsum("ij,ij->i", x, x)).astype(dt)[:, None]
        G = s * np.exp(u)
        out = {"G": G, "xs": xs}
        if trainable == "all":
            out["A"] = a * G
        return out

    pairs = [("A", "A", "xs", "xs", 1.0, 0.0)] if trainable == "all" else []
    return _Plan(feats, ("G", "G"), 1.0, 0.0, pairs, row_bytes=dt.itemsize * (2 * p.width + p.input_dim))


def _complex_plans(p: ComplexSingleParams, dt: np.dtype) -> dict[str, _Plan]:
    """S16: Theta1 = S S'^T + (A A'^T) * x.x', Theta2 = S S'^T + (B B'^T) * x.x', Theta12 = (A B'^T) * x.x' with
    S = sigma(c.x)/sqrt N, A = a sigma'(c.x)/sqrt N, B = b sigma'(c.x)/sqrt N."""
    r = float(1 / np.sqrt(p.width))
    pc = ComplexSingleParams(p.a.astype(dt), p.b.astype(dt), p.c.astype(dt), p.activation)

    def feats(x: np.ndarray) -> dict[str, np.ndarray]:
        xx, s, ds = activation_pieces(pc, x)
        return {"S": (r * s).astype(dt, copy=False), "A": ((r * pc.a) * ds).astype(dt, copy=False),
                "B": ((r * pc.b) * ds).astype(dt, copy=False), "x": xx}

    rb = dt.itemsize * (3 * p.width + p.input_dim)
    return {"theta1": _Plan(feats, ("S", "S"), 1.0, 0.0, [("A", "A", "x", "x", 1.0, 0.0)], rb),
            "theta2": _Plan(feats, ("S", "S"), 1.0, 0.0, [("B", "B", "x", "x", 1.0, 0.0)], rb),
            "mixing": _Plan(feats, None, 0.0, 0.0, [("A", "B", "x", "x", 1.0, 0.0)], rb),
            "mixing_t": _Plan(feats, None, 0.0, 0.0, [("B", "A", "x", "x", 1.0, 0.0)], rb)}


def _auto_chunk(n: int, row_bytes: int, chunk: int | None) -> int | None:
    if chunk is not None:
        return chunk
    if 2 * n * row_bytes <= FEATURE_BUDGET_BYTES:
        return None
    return max(64, FEATURE_BUDGET_BYTES // (2 * max(row_bytes, 1)))


def _structured(plan: _Plan, a: np.ndarray, c: np.ndarray, sym: bool, dt: np.dtype, chunk: int | None, *,
                out: np.ndarray | None = None, ws: Workspace | None = None) -> np.ndarray:
    """Tiled evaluation of a plan over ``a`` (rows) x ``c`` (columns).

    Scratch Gram tiles live in ``ws`` (reused across tiles and calls: fresh ``n x n`` pages are expensive); with
    a single tile the base Gram product is written straight into ``out`` and the fused pass runs in place.
    """
    n1, n2 = a.shape[0], c.shape[0]
    check_memory(n1 * n2 * dt.itemsize, f"the {n1} x {n2} kernel matrix")
    sym = sym and plan.self_symmetric
    chunk = _auto_chunk(max(n1, n2), plan.row_bytes, chunk)
    if out is None:
        out = pool_empty((n1, n2), dt)
    ws = Workspace() if ws is None else ws
    cm = core()
    rb = blocks(n1, chunk)
    cb = rb if sym else blocks(n2, chunk)
    single = len(rb) == 1 and len(cb) == 1
    tmax = max(i1 - i0 for i0, i1 in rb) * max(j1 - j0 for j0, j1 in cb)

    def buf(name: str, rows: int, cols: int) -> np.ndarray:
        return ws.get(name, (tmax,), dt)[: rows * cols].reshape(rows, cols)

    for bi, (i0, i1) in enumerate(rb):
        fi = plan.feats(a[i0:i1])
        for bj, (j0, j1) in enumerate(cb):
            if sym and bj < bi:
                continue
            diag = sym and bi == bj
            fj = fi if (diag or (c is a and (i0, i1) == (j0, j1))) else plan.feats(c[j0:j1])
            rows, cols = i1 - i0, j1 - j0

            def G(ln: str, rn: str, target: np.ndarray, fi: dict = fi, fj: dict = fj, diag: bool = diag) -> np.ndarray:
                if diag:
                    return gram(fi[ln], upper_only=True, out=target)
                return gram(fi[ln], fj[rn], out=target)

            base = None
            if plan.base:
                base = G(*plan.base, out if single else buf("base", rows, cols))
            Bs = [G(p[0], p[1], buf(f"B{k}", rows, cols)) for k, p in enumerate(plan.pairs)]
            Cs = [G(p[2], p[3], buf(f"C{k}", rows, cols)) for k, p in enumerate(plan.pairs)]
            cm.fused_ntk_tile(out, i0, j0, base, float(plan.alpha), float(plan.beta), Bs, Cs,
                              [float(p[4]) for p in plan.pairs], [float(p[5]) for p in plan.pairs], bool(diag),
                              rows, cols)
            del base, Bs, Cs, fj, G  # drop this column block before the next one is computed
        del fi
    if sym:
        cm.mirror_upper(out)
    return out


def check_relu_trainable(trainable: str | None) -> None:
    """ReLU networks train every layer (shared by the CPU and CUDA paths)."""
    if trainable not in (None, "all"):
        raise InvalidInputError("ReLU networks train every layer: trainable must be None or 'all'")


def _plan_for(params: Any, dt: np.dtype, trainable: str | None) -> _Plan:
    if isinstance(params, ReLUParams):
        check_relu_trainable(trainable)
        return _relu_plan(params, dt)
    if isinstance(params, CosNetParams):
        return _cos_plan(params, dt, check_choice(trainable or "last", "trainable", ("last", "all")))
    if isinstance(params, GaussNetParams):
        return _gauss_plan(params, dt, check_choice(trainable or "last", "trainable", ("last", "all")))
    if isinstance(params, ComplexSingleParams):
        raise InvalidInputError("the S16 complex network has a QS-NTK, not a real NTK: use empirical_qsntk(params)")
    raise InvalidInputError(f"unsupported network parameters {type(params).__name__}; use ReLUParams, "
                            "CosNetParams, GaussNetParams or ComplexSingleParams (or qsntk_from_jacobians)")


def _input_dim(params: Any) -> int:
    if not isinstance(params, (ReLUParams, CosNetParams, GaussNetParams, ComplexSingleParams)):
        _plan_for(params, np.dtype(np.float64), None)  # raises the InvalidInputError naming the supported types
    check_network_params(params)  # NaN or integer weights used to flow silently into the kernel
    return int(params.input_dim)


@dispatch("kernels.empirical_ntk")
def empirical_ntk(params: Any, x1: Any, x2: Any = None, *, trainable: str | None = None,
                  chunk_size: int | None = None, dtype: Any = None, backend: str = "auto") -> np.ndarray:
    """NTK ``Theta(x1, x2) = sum_k d f(x1)/d theta_k d f(x2)/d theta_k`` of a built-in real network (S4, S8).

    ``params``: :class:`~nnqs_fast.networks.ReLUParams` (all layers trained), ``CosNetParams`` or
    ``GaussNetParams`` (``trainable="last"``: only the read-out, Supplementary III Case 1; ``"all"``: every
    parameter). Structured: no ``n x P`` Jacobian. ``chunk_size`` rows/columns per tile (``None``: automatic,
    whole matrix when the features fit in :data:`FEATURE_BUDGET_BYTES`). ``dtype`` float32 or float64 (default:
    that of ``x1`` if float32, else float64).
    """
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = check_inputs(x1, x2, dtype=dtype, input_dim=_input_dim(params))
    return check_finite_output(_structured(_plan_for(params, dt, trainable), a, c, sym, dt, chunk),
                               "empirical_ntk (the network's outputs overflow on these inputs?)")


@dispatch("kernels.empirical_qsntk")
def empirical_qsntk(params1: Any, params2: Any = None, x1: Any = None, x2: Any = None, *,
                    trainable: str | None = None, chunk_size: int | None = None, dtype: Any = None,
                    backend: str = "auto") -> QSNTK:
    """Empirical QS-NTK of a built-in wavefunction network, structured (no ``n x P`` Jacobian).

    * ``psi = psi1 + i psi2`` with two independent real networks ``params1``, ``params2`` (the paper's decoupled
      case): ``Theta1``, ``Theta2`` from :func:`empirical_ntk`, zero mixing, ``Theta = Theta1 - Theta2``,
      ``Phi = Theta1 + Theta2`` (S10-S11). ``params2=None``: a real wavefunction (``Theta2 = 0``).
    * ``params1`` a :class:`~nnqs_fast.networks.ComplexSingleParams` (Eq. S16, ``params2=None``): ``Theta1``,
      ``Theta2`` and the (non-zero) mixing kernel from the shared ``c`` (S9, S14, S17).
    """
    if x1 is None:
        raise InvalidInputError("x1 (the inputs, shape (n, d)) is required")
    chunk = check_chunk_size(chunk_size)
    a, c, sym, dt = check_inputs(x1, x2, dtype=dtype, input_dim=_input_dim(params1))
    if isinstance(params1, ComplexSingleParams):
        if params2 is not None:
            raise InvalidInputError("the S16 complex network is one network: pass params2=None")
        plans = _complex_plans(params1, dt)
        t1 = _structured(plans["theta1"], a, c, sym, dt, chunk)
        t2 = _structured(plans["theta2"], a, c, sym, dt, chunk)
        m = _structured(plans["mixing"], a, c, sym, dt, chunk)
        mt = m.T if sym else _structured(plans["mixing_t"], a, c, sym, dt, chunk)
        for part in (t1, t2, m):
            check_finite_output(part, "empirical_qsntk (the network's outputs overflow on these inputs?)")
        return qsntk_from_parts(t1, t2, m, mt, symmetric=sym, meta={"kind": "empirical", "network": "S16"})
    if params2 is not None and _input_dim(params2) != a.shape[1]:
        raise ShapeMismatchError(f"params2 expects {_input_dim(params2)} features but x1 has {a.shape[1]}")
    ws = Workspace()
    t1 = _structured(_plan_for(params1, dt, trainable), a, c, sym, dt, chunk, ws=ws)
    if params2 is None:
        t2 = np.zeros_like(t1)
    else:
        t2 = _structured(_plan_for(params2, dt, trainable), a, c, sym, dt, chunk, ws=ws)
    theta, phi = (_reuse(ws, name, t1.shape, dt) for name in ("B0", "C0"))
    del ws
    core().combine_decoupled(t1, t2, theta, phi)
    zero = np.zeros(t1.shape, dt)  # calloc: untouched pages cost nothing
    for part in (t1, t2):
        check_finite_output(part, "empirical_qsntk (the network's outputs overflow on these inputs?)")
    return QSNTK(theta, phi, t1, t2, zero, zero, sym, {"kind": "empirical", "network": type(params1).__name__})


def _reuse(ws: Workspace, name: str, shape: tuple[int, int], dt: np.dtype) -> np.ndarray:
    """A scratch buffer of ``ws`` as a fresh-looking result array when it is large enough, else a new one."""
    b = ws.take(name)
    n = shape[0] * shape[1]
    if b is not None and b.size >= n and b.dtype == dt:
        return b[:n].reshape(shape) if b.size == n else np.array(b[:n].reshape(shape))
    return np.empty(shape, dt)


# ------------------------------------------------------------------------------------ from Jacobians
def _real_parts(J: Any, dt: np.dtype, xp: Any) -> tuple[Any, Any | None]:
    if J.dtype.kind == "c":
        return xp.ascontiguousarray(J.real, dtype=dt), xp.ascontiguousarray(J.imag, dtype=dt)
    return xp.ascontiguousarray(J, dtype=dt), None


def _jac(j: Any, name: str, allow_complex: bool, xp: Any) -> Any:
    j = as_input(j, name, xp, allow_complex=allow_complex)
    if j.shape[0] == 0 or j.shape[1] == 0:
        raise ShapeMismatchError(f"{name} must be non-empty (n x P), got shape {tuple(j.shape)}")
    return j


def parse_jacobians(J: Any, J_x2: Any, J1: Any, J2: Any, J1_x2: Any, J2_x2: Any, dtype: Any, xp: Any = None
                    ) -> tuple[Any, Any, Any, Any, bool, np.dtype]:
    """The argument rules of :func:`qsntk_from_jacobians`, shared by the CPU and CUDA paths (namespace ``xp``,
    default that of the inputs): returns real C-contiguous ``(j1, j2, k1, k2, symmetric, dtype)`` with ``j2`` /
    ``k2`` None for a real wavefunction and ``k1, k2 = j1, j2`` when there is no second input set."""
    xp = array_namespace(J, J_x2, J1, J2, J1_x2, J2_x2) if xp is None else xp
    if (J is None) == (J1 is None):
        raise InvalidInputError("pass either J (complex Jacobian) or J1 (and J2), not both / neither")
    if J is not None:
        if any(v is not None for v in (J2, J1_x2, J2_x2)):
            raise InvalidInputError("with J use J_x2 for the second input set; J1/J2/J1_x2/J2_x2 are for real parts")
        Jm = _jac(J, "J", True, xp)
        dt = np.dtype(np.float32 if Jm.dtype in (np.float32, np.complex64) else np.float64) if dtype is None \
            else np.dtype(dtype)
        j1, j2 = _real_parts(Jm, dt, xp)
        if J_x2 is None:
            k1, k2, sym = j1, j2, True
        else:
            k1, k2 = _real_parts(_jac(J_x2, "J_x2", True, xp), dt, xp)
            sym = False
            if k2 is None and j2 is not None:
                k2 = xp.zeros_like(k1)
            if j2 is None and k2 is not None:
                j2 = xp.zeros_like(j1)
    else:
        if J_x2 is not None:
            raise InvalidInputError("J_x2 goes with J; use J1_x2 / J2_x2 with J1 / J2")
        a = _jac(J1, "J1", False, xp)
        dt = np.dtype(np.float32 if a.dtype == np.float32 else np.float64) if dtype is None else np.dtype(dtype)
        j1 = xp.ascontiguousarray(a, dtype=dt)
        j2 = None if J2 is None else xp.ascontiguousarray(_jac(J2, "J2", False, xp), dtype=dt)
        sym = J1_x2 is None and J2_x2 is None
        if sym:
            k1, k2 = j1, j2
        else:
            if J1_x2 is None or (J2 is not None and J2_x2 is None) or (J2 is None and J2_x2 is not None):
                raise InvalidInputError("for a second input set pass J1_x2 (and J2_x2 when J2 is given)")
            k1 = xp.ascontiguousarray(_jac(J1_x2, "J1_x2", False, xp), dtype=dt)
            k2 = None if J2_x2 is None else xp.ascontiguousarray(_jac(J2_x2, "J2_x2", False, xp), dtype=dt)
    check_jacobian_shapes(j1, j2, None if sym else k1, None if sym else k2, dt)
    return j1, j2, k1, k2, sym, dt


def qsntk_from_jacobians(J: Any = None, J_x2: Any = None, *, J1: Any = None, J2: Any = None, J1_x2: Any = None,
                         J2_x2: Any = None, dtype: Any = None, backend: str = "auto", layout: str | None = None,
                         psi: Any = None, psi_x2: Any = None) -> QSNTK:
    """QS-NTK from Jacobians of any network (Eq. 7, S8-S12).

    ``J`` must be ``d psi / d theta`` over REAL parameters (a complex parameter ``w`` is two real parameters
    ``Re w``, ``Im w``). Other layouts are accepted only when named by ``layout`` (see
    :func:`~nnqs_fast.kernels.qsntk.real_parameter_jacobian`: NetKet's ``(n, 2, P)`` ``"n2p"``, ``"holomorphic"``,
    pytrees); a 3-d array or a pytree without ``layout`` raises
    :class:`~nnqs_fast.errors.AmbiguousJacobianLayoutError`. ``psi`` (and ``psi_x2``): ``J`` (``J_x2``) is the
    Jacobian of ``log psi`` (NetKet's ``O_k``); it is converted by ``d psi = psi d log psi``.

    Either the complex Jacobian ``J = d psi(x1) / d theta`` (``n1 x P``; real ``J`` means a real wavefunction)
    and optionally ``J_x2`` (``n2 x P``, the same parameters at ``x2``), or the real parts' Jacobians ``J1 = d
    psi1 / d theta``, ``J2 = d psi2 / d theta`` (``J2=None``: ``psi2 = 0``) and optionally ``J1_x2``,
    ``J2_x2``. Parameters of only one part are columns of zeros in the other part's Jacobian (S13-S14).
    Accepts NumPy arrays and anything with ``__array__`` / DLPack. Computes ``Theta1 = J1 J1'^T``,
    ``Theta2 = J2 J2'^T``, ``Theta12 = J1 J2'^T`` (SYRK when ``x2 = x1``) and assembles the rest by S10-S11.
    """

    def odd(j: Any) -> bool:  # anything but a plain 2-d array goes through the layout check
        return j is not None and not (hasattr(j, "ndim") and j.ndim == 2)

    if J is not None and (layout is not None or psi is not None or odd(J) or odd(J_x2)):
        J = real_parameter_jacobian(J, layout=layout, name="J", psi=psi)
        if J_x2 is not None:
            J_x2 = real_parameter_jacobian(J_x2, layout=layout, name="J_x2", psi=psi_x2)
    elif J is None and (layout is not None or psi is not None):
        raise InvalidInputError("layout= and psi= apply to J (and J_x2); J1/J2 are real 2-d Jacobians already")
    return _qsntk_from_real_jacobians(J, J_x2, J1=J1, J2=J2, J1_x2=J1_x2, J2_x2=J2_x2, dtype=dtype, backend=backend)


@dispatch("kernels.qsntk_from_jacobians")
def _qsntk_from_real_jacobians(J: Any = None, J_x2: Any = None, *, J1: Any = None, J2: Any = None,
                               J1_x2: Any = None, J2_x2: Any = None, dtype: Any = None,
                               backend: str = "auto") -> QSNTK:
    """The dispatched CPU implementation of :func:`qsntk_from_jacobians` (2-d real-parameter Jacobians)."""
    j1, j2, k1, k2, sym, _ = parse_jacobians(J, J_x2, J1, J2, J1_x2, J2_x2, dtype, np)
    if sym:
        t1 = gram(j1)
        if j2 is None:
            return qsntk_from_parts(t1, np.zeros_like(t1), symmetric=True, meta={"kind": "jacobian"})
        t2 = gram(j2)
        m = gram(j1, j2)
        return qsntk_from_parts(t1, t2, m, m.T, symmetric=True, meta={"kind": "jacobian"})
    t1 = gram(j1, k1)
    if j2 is None:
        return qsntk_from_parts(t1, np.zeros_like(t1), meta={"kind": "jacobian"})
    return qsntk_from_parts(t1, gram(j2, k2), gram(j1, k2), gram(j2, k1), meta={"kind": "jacobian"})
