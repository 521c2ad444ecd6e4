"""CUDA engine of the ensemble trainer: the fused full-batch gradient-descent step of M one-hidden-layer ReLU
networks (NTK parameterisation) that share the training inputs, trained together.

Step (loss ``L_m = (1/n) sum_i (f_m(x_i) - y_m,i)^2`` per real network; for ``psi = psi1 + i psi2`` the two
networks of a member are trained independently on ``Re psi_T`` and ``Im psi_T``, ``L = L_1 + L_2``, Eq. 13)::

    theta <- theta - eta * dL_m/dtheta         (every layer, one learning rate: NTK parameterisation)

Per step, on CuPy's current stream: forward partial sums + residual/loss (``gd_forward``), the monitor
(``gd_monitor``: per-network loss, divergence and early-stop detection, freezing stopped networks), backward
partial sums + fixed-order reduce + update (``gd_backward_update``). No allocation per step, no n x N matrix (the
pre-activations are recomputed; input dimension d <= 32), fixed-order reductions (bit-reproducible run to run on
one GPU). The host synchronises only at record steps. See ``cuda/gd_step.cu`` for the launch scheme.

Only device-specific code lives here; the ensemble bookkeeping (seeds, learning-rate rule, recording, early stop,
Ctrl-C, result assembly) is the one driver of :mod:`nnqs_fast.training` (``train_ensemble(backend="cuda")``).
The CUDA step is supervised-only: the function-space losses (energy, fidelity, tomography) run on the CPU
engine, and :func:`nnqs_fast.training.train_loss_ensemble` refuses ``backend="cuda"`` with
:class:`~nnqs_fast.errors.UnsupportedLossError`.

Public pieces:

* :class:`GDStepCUDA` — the batched engine (M networks; the driver's ``Engine`` interface), also usable directly;
* :func:`make_engine` — the engine for :func:`nnqs_fast.training.train_ensemble`;
* :func:`make_step` -> :class:`CUDAReLUStep`, the ``GDStep`` interface for one network;
* :func:`max_learning_rate_for` — ``eta_max`` with the Gram matrix and eigensolve on the GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import register_cuda
from .._validation import check_finite_scalar, check_positive_int
from ..errors import InvalidInputError, ShapeMismatchError
from ..networks.dense import B_STD, W_STD
from . import _shim

__all__ = ["GDStepCUDA", "CUDAReLUStep", "make_step", "make_engine", "max_learning_rate_for", "train_relu_ensemble"]

STATUS_OK, STATUS_CONVERGED, STATUS_DIVERGED = 0, 1, 2


class GDStepCUDA:
    """Full-batch GD of M one-hidden-layer ReLU networks on the GPU (see the module docstring).

    Args:
      params: sequence of M ``ReLUParams`` with one hidden layer (same width N, input dim d <= 32, same
        W_std/b_std).
      x_train: (n, d) inputs shared by all networks.
      y_train: (M, n) real targets, one row per network (or (n,) for all).
      learning_rate: eta.
      x_test, y_test: optional held-out inputs (n_t, d) and targets (M, n_t) or (n_t,).
      dtype: float32 or float64 (default: that of the first network's weights).
    """

    def __init__(self, params: Sequence[Any], x_train: Any, y_train: Any, learning_rate: float, *,
                 x_test: Any = None, y_test: Any = None, dtype: Any = None) -> None:
        cp = _shim.cupy()
        self._mod = _shim.cuda_module()
        if len(params) == 0:
            raise InvalidInputError("params must hold at least one network")
        p0 = params[0]
        if len(p0.weights) != 2:
            raise InvalidInputError("the fused CUDA step handles one-hidden-layer ReLU networks (depth 1), got "
                                    f"depth {len(p0.weights) - 1}")
        self.M = len(params)
        self.N = int(p0.weights[0].shape[0])
        self.d = int(p0.weights[0].shape[1])
        if self.d > int(self._mod.GD_MAX_D):
            raise InvalidInputError(f"the fused CUDA step supports input dimension d <= {self._mod.GD_MAX_D}, "
                                    f"got {self.d}; use backend='cpu'")
        self.W_std, self.b_std = float(p0.W_std), float(p0.b_std)
        for p in params:
            if (len(p.weights) != 2 or tuple(p.weights[0].shape) != (self.N, self.d)
                    or tuple(np.shape(p.weights[1])) != (1, self.N)):
                raise ShapeMismatchError("all networks must have one hidden layer of the same width and input dim")
            if float(p.W_std) != self.W_std or float(p.b_std) != self.b_std:
                raise InvalidInputError("all networks must share W_std and b_std")
        self.dtype = np.dtype(dtype) if dtype is not None else np.dtype(p0.weights[0].dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise InvalidInputError(f"dtype must be float32 or float64, got {self.dtype}")
        dt = self.dtype
        self.learning_rate = check_finite_scalar(learning_rate, "learning_rate", positive=True)

        def host(a: Any) -> np.ndarray:
            return np.asarray(a, dtype=dt)

        self.W = cp.asarray(np.stack([host(p.weights[0]) for p in params]))            # (M, N, d)
        self.b0 = cp.asarray(np.stack([host(p.biases[0]) for p in params]))            # (M, N)
        self.v = cp.asarray(np.stack([host(p.weights[1])[0] for p in params]))         # (M, N)
        self.b1 = cp.asarray(np.array([host(p.biases[1])[0] for p in params], dt))     # (M,)
        self.x = self._inputs(x_train, "x_train")
        self.n = int(self.x.shape[0])
        self.y = self._targets(y_train, self.n, "y_train")
        if (x_test is None) != (y_test is None):
            raise InvalidInputError("give both x_test and y_test, or neither")
        self.x_test = None if x_test is None else self._inputs(x_test, "x_test")
        self.n_test = 0 if self.x_test is None else int(self.x_test.shape[0])
        self.y_test = None if x_test is None else self._targets(y_test, self.n_test, "y_test")
        # the driver's Engine interface (nnqs_fast.training.driver)
        self.n_units, self.n_train, self.pred_dtype, self.chunk_steps = self.M, self.n, np.float64, 200
        # work buffers and monitor state, allocated once
        m = self._mod
        self._sj = int(m.gd_forward_splits(self.M, self.N, self.d, self.n))
        self._si = int(m.gd_backward_splits(self.M, self.N, self.d, self.n))
        self._nb = int(m.gd_reduce_blocks(self.n))
        self._fpart = cp.empty((self.M, self._sj, self.n), dt)
        self._g = cp.empty((self.M, self.n), dt)
        self._f = cp.empty((self.M, self.n), dt)
        self._sse = cp.empty((self.M, self._nb), cp.float64)
        self._gpart = cp.empty((self.M, self._si, self.N, self.d + 2), dt)
        self._loss = cp.full(self.M, np.nan, cp.float64)
        self._prev = cp.full(self.M, np.nan, cp.float64)
        self._active = cp.ones(self.M, cp.int32)
        self._stop = cp.full(self.M, -1, cp.int64)
        self._status = cp.zeros(self.M, cp.int32)
        if self.n_test:
            self._sj_t = int(m.gd_forward_splits(self.M, self.N, self.d, self.n_test))
            self._fpart_t = cp.empty((self.M, self._sj_t, self.n_test), dt)
            self._f_t = cp.empty((self.M, self.n_test), dt)
            self._g_t = cp.empty((self.M, self.n_test), dt)
            self._sse_t = cp.empty((self.M, int(m.gd_reduce_blocks(self.n_test))), cp.float64)
        P = _shim.ptr
        self._p = dict(x=P(self.x), W=P(self.W), b0=P(self.b0), v=P(self.v), b1=P(self.b1), fpart=P(self._fpart),
                       y=P(self.y), f=P(self._f), g=P(self._g), sse=P(self._sse), gpart=P(self._gpart),
                       loss=P(self._loss), prev=P(self._prev), active=P(self._active), stop=P(self._stop),
                       status=P(self._status))
        self.step = 0

    # ---- helpers -------------------------------------------------------------------------------------------
    def _inputs(self, x: Any, name: str) -> Any:
        a = _shim.to_device(x, self.dtype, name=name, finite=True)
        if a.ndim != 2 or a.shape[1] != self.d:
            raise ShapeMismatchError(f"{name} must have shape (n, {self.d}), got {tuple(a.shape)}")
        return a

    def _targets(self, y: Any, n: int, name: str) -> Any:
        cp = _shim.cupy()
        a = _shim.to_device(y, self.dtype, name=name, finite=True)
        if a.ndim == 1:
            a = cp.ascontiguousarray(cp.broadcast_to(a, (self.M, a.shape[0])))
        if tuple(a.shape) != (self.M, n):
            raise ShapeMismatchError(f"{name} must have shape ({self.M}, {n}) or ({n},), got {tuple(a.shape)}")
        return a

    @property
    def flops_per_step(self) -> float:
        """Arithmetic of one fused step of all M networks (pre-activations computed twice)."""
        return float(self.M * self.n * self.N * (6 * self.d + 7))

    def _forward_train(self, with_f: bool) -> None:
        p = self._p
        _shim.launch(self._mod.gd_forward, M=self.M, N=self.N, d=self.d, W_std=self.W_std, b_std=self.b_std,
                     x=p["x"], n=self.n, W=p["W"], b0=p["b0"], v=p["v"], b1=p["b1"], fpart=p["fpart"],
                     splits_j=self._sj, y=p["y"], f=p["f"] if with_f else 0, g=p["g"], sse_part=p["sse"],
                     is_double=self.dtype == np.float64, stream=_shim.stream())

    def _monitor(self, rtol: float) -> None:
        p = self._p
        _shim.launch(self._mod.gd_monitor, M=self.M, n=self.n, sse_part=p["sse"], nb=self._nb, rtol=float(rtol),
                     t=int(self.step), loss=p["loss"], prev=p["prev"], active=p["active"], stop_step=p["stop"],
                     status=p["status"], stream=_shim.stream())

    def _update(self) -> None:
        p = self._p
        _shim.launch(self._mod.gd_backward_update, M=self.M, N=self.N, d=self.d, W_std=self.W_std,
                     b_std=self.b_std, x=p["x"], n=self.n, W=p["W"], b0=p["b0"], v=p["v"], b1=p["b1"], g=p["g"],
                     gpart=p["gpart"], splits_i=self._si, lr=float(self.learning_rate), active=p["active"],
                     is_double=self.dtype == np.float64, stream=_shim.stream())

    def _forward_test(self) -> Any:
        """Per-network test loss (CuPy (M,)); predictions left in ``self._f_t``."""
        p = self._p
        _shim.launch(self._mod.gd_forward, M=self.M, N=self.N, d=self.d, W_std=self.W_std, b_std=self.b_std,
                     x=_shim.ptr(self.x_test), n=self.n_test, W=p["W"], b0=p["b0"], v=p["v"], b1=p["b1"],
                     fpart=_shim.ptr(self._fpart_t), splits_j=self._sj_t, y=_shim.ptr(self.y_test),
                     f=_shim.ptr(self._f_t), g=_shim.ptr(self._g_t), sse_part=_shim.ptr(self._sse_t),
                     is_double=self.dtype == np.float64, stream=_shim.stream())
        return self._sse_t.sum(axis=1) / self.n_test

    # ---- stepping ------------------------------------------------------------------------------------------
    def advance(self, n_steps: int = 1) -> None:
        """``n_steps`` updates without recording (asynchronous; divergence is still detected per step)."""
        k = check_positive_int(n_steps, "n_steps", minimum=0)
        for _ in range(k):
            self._forward_train(False)
            self._monitor(0.0)
            self._update()
            self.step += 1

    def run(self, n_steps: int, record_steps: Any = (), record_predictions: bool = False,
            early_stop_rtol: float = 0.0) -> dict[str, np.ndarray]:
        """Advance ``n_steps`` updates, recording at the absolute ``record_steps`` (the CPU ``GDStep.run``
        semantics, per network): host arrays ``train_loss``, ``test_loss`` (M, R) (NaN where not reached),
        ``train_pred`` (M, R, n) / ``test_pred`` (M, R, n_t) with ``record_predictions``, ``status`` (M,),
        ``stop_step`` (M,) and ``steps_done`` (M,) (updates done in this call)."""
        cp = _shim.cupy()
        n_steps = check_positive_int(n_steps, "n_steps", minimum=0)
        rtol = check_finite_scalar(early_stop_rtol, "early_stop_rtol", nonnegative=True)
        rs = np.asarray(record_steps, dtype=np.int64).reshape(-1)
        if rs.size and (np.any(np.diff(rs) <= 0) or rs[0] < 0):
            raise InvalidInputError("record_steps must be non-negative and strictly increasing")
        R = rs.size
        t0, t_end = self.step, self.step + n_steps
        tr = np.full((self.M, R), np.nan)
        te = np.full((self.M, R), np.nan)
        ptr: Any = np.full((self.M, R, self.n), np.nan) if record_predictions else None
        pte: Any = np.full((self.M, R, self.n_test), np.nan) if record_predictions else None
        want = {int(t): r for r, t in enumerate(rs) if t0 <= t <= t_end}
        self._prev.fill(np.nan)  # as the CPU core: convergence compares consecutive steps within one call
        while True:
            r = want.get(self.step)
            self._forward_train(r is not None and record_predictions)
            self._monitor(rtol)
            if r is not None:
                loss = cp.asnumpy(self._loss)
                status = cp.asnumpy(self._status)
                tr[:, r] = loss
                if self.n_test:
                    te[:, r] = cp.asnumpy(self._forward_test())
                if record_predictions:
                    ptr[:, r] = cp.asnumpy(self._f)
                    if self.n_test:
                        pte[:, r] = cp.asnumpy(self._f_t)
                bad = status == STATUS_DIVERGED
                if bad.any():
                    te[bad, r] = np.nan
                    if record_predictions:
                        ptr[bad, r] = np.nan
                        if self.n_test:
                            pte[bad, r] = np.nan
            if self.step >= t_end:
                break
            self._update()
            self.step += 1
        status = cp.asnumpy(self._status)
        stop = cp.asnumpy(self._stop)
        done = np.where(status != STATUS_OK, np.clip(stop, t0, t_end) - t0, n_steps)
        out = dict(steps=rs, train_loss=tr, test_loss=te, status=status, stop_step=stop, steps_done=done)
        if record_predictions:
            out["train_pred"], out["test_pred"] = ptr, pte
        return out

    # ---- evaluation ----------------------------------------------------------------------------------------
    def train_loss(self) -> Any:
        """Per-network train loss at the current parameters, CuPy (M,) float64."""
        self._forward_train(True)
        return self._sse.sum(axis=1) / self.n

    def predict(self, x: Any) -> Any:
        """Network outputs on ``x`` (n_x, d): CuPy (M, n_x)."""
        cp = _shim.cupy()
        a = self._inputs(x, "x")
        n = int(a.shape[0])
        sj = int(self._mod.gd_forward_splits(self.M, self.N, self.d, n))
        fpart = cp.empty((self.M, sj, n), self.dtype)
        f = cp.empty((self.M, n), self.dtype)
        p = self._p
        _shim.launch(self._mod.gd_forward, self.M, self.N, self.d, self.W_std, self.b_std, _shim.ptr(a), n, p["W"],
                     p["b0"], p["v"], p["b1"], _shim.ptr(fpart), sj, 0, _shim.ptr(f), 0, 0,
                     self.dtype == np.float64, _shim.stream())
        return f

    def loss(self, x: Any, y: Any) -> Any:
        """Per-network loss ``(1/n_x) sum (f(x) - y)^2`` on another set, CuPy (M,) float64."""
        cp = _shim.cupy()
        f = self.predict(x)
        yy = self._targets(y, f.shape[1], "y")
        r = (f - yy).astype(cp.float64)
        return (r * r).sum(axis=1) / f.shape[1]

    def params(self) -> list[Any]:
        """Current parameters as host ``ReLUParams`` (one per network)."""
        from ..networks.relu import ReLUParams

        W, b0, v, b1 = (self.W.get(), self.b0.get(), self.v.get(), self.b1.get())
        return [ReLUParams((W[m], v[m][None, :].copy()), (b0[m], b1[m:m + 1].copy()), self.W_std, self.b_std)
                for m in range(self.M)]


# ------------------------------------------------------------------------------------------- GDStep (one net)
class CUDAReLUStep:
    """The ``GDStep`` interface of the CPU training area (one real network) on the GPU, float64."""

    def __init__(self, params: Any, x: Any, y: Any, lr: float, x_test: Any = None, y_test: Any = None) -> None:
        from ..training.step import _check_inputs

        x, y, x_test, y_test = _check_inputs(params, x, y, x_test, y_test)
        self._e = GDStepCUDA([params], x, y, lr, x_test=x_test, y_test=y_test, dtype=np.float64)

    @property
    def step(self) -> int:
        return int(self._e.step)

    @property
    def learning_rate(self) -> float:
        return float(self._e.learning_rate)

    @property
    def flops_per_step(self) -> float:
        return self._e.flops_per_step

    def run(self, n_steps: int, record_steps: Any = (), record_predictions: bool = False,
            early_stop_rtol: float = 0.0) -> Any:
        from ..training.step import StepRecord

        out = self._e.run(n_steps, record_steps, record_predictions, early_stop_rtol)
        return StepRecord(out["steps"], out["train_loss"][0], out["test_loss"][0], int(out["steps_done"][0]),
                          int(out["status"][0]), out["train_pred"][0] if record_predictions else None,
                          out["test_pred"][0] if record_predictions else None)

    def train_loss(self) -> float:
        return float(self._e.train_loss()[0])

    def test_loss(self) -> float:
        if not self._e.n_test:
            return float("nan")
        return float(self._e._forward_test()[0])

    def predict(self, x: Any) -> np.ndarray:
        return _shim.cupy().asnumpy(self._e.predict(x)[0]).astype(np.float64)

    def params(self) -> Any:
        return self._e.params()[0]


@register_cuda("training.make_step")
def make_step(params: Any, x: Any, y: Any, lr: float, x_test: Any = None, y_test: Any = None) -> CUDAReLUStep:
    """CUDA path of :func:`nnqs_fast.training.make_step` (``backend="cuda"``)."""
    return CUDAReLUStep(params, x, y, lr, x_test, y_test)


# ------------------------------------------------------------------------------------------- the ensemble
@register_cuda("training.max_learning_rate_for")
def max_learning_rate_for(x: Any, *, depth: int = 1, W_std: float = W_STD, b_std: float = B_STD) -> float:
    """``eta_max = n / lambda_max`` of the analytic NTK over the train inputs (GPU Gram + cuSOLVER)."""
    cp = _shim.cupy()
    from ..kernels.spectrum import eta_max_from_lambda
    from .kernels import relu_kernel

    k = relu_kernel(x, None, depth=depth, W_std=W_std, b_std=b_std, get="ntk", dtype=np.float64)
    return eta_max_from_lambda(float(cp.linalg.eigvalsh(k)[-1]), x.shape[0], what="the analytic NTK")


@register_cuda("training.make_engine")
def make_engine(params: Sequence[Any], x: Any, y: Any, lr: float, x_test: Any = None, y_test: Any = None, *,
                chunk_steps: int = 200, dtype: Any = np.float64) -> GDStepCUDA:
    """The CUDA engine of :func:`nnqs_fast.training.train_ensemble`: all networks in one batched step (float64 by
    default, or ``dtype=np.float32``); the driver synchronises (and honours Ctrl-C) every ``chunk_steps`` steps."""
    eng = GDStepCUDA(params, x, y, lr, x_test=x_test, y_test=y_test, dtype=np.float64 if dtype is None else dtype)
    eng.chunk_steps = check_positive_int(chunk_steps, "chunk_steps")
    return eng


def train_relu_ensemble(params: Sequence[Any], x_train: Any, y_train: Any, learning_rate: float, steps: int, *,
                        record_steps: Sequence[int] | None = None, x_test: Any = None, y_test: Any = None,
                        dtype: Any = None) -> dict[str, np.ndarray]:
    """Train the given M networks for ``steps`` GD steps on the GPU, recording the per-network train (and test)
    losses at ``record_steps`` (default: 0 and ``steps``). Returns host arrays ``steps`` (R,), ``train_loss``
    (R, M) and, with a test set, ``test_loss`` (R, M)."""
    steps = check_positive_int(steps, "steps", minimum=0)
    rec = np.asarray(sorted({0, steps} if record_steps is None else {int(s) for s in record_steps}), np.int64)
    if rec.size and (rec[0] < 0 or rec[-1] > steps):
        raise InvalidInputError(f"record_steps must lie in [0, {steps}]")
    eng = GDStepCUDA(params, x_train, y_train, learning_rate, x_test=x_test, y_test=y_test, dtype=dtype)
    out = eng.run(steps, rec)
    res = {"steps": rec, "train_loss": out["train_loss"].T.copy()}
    if x_test is not None:
        res["test_loss"] = out["test_loss"].T.copy()
    return res
