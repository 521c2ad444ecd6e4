"""CUDA path of the ensemble trainer: the fused full-batch gradient-descent step of M
one-hidden-layer ReLU networks (NTK parameterisation) that share the training inputs, trained together.

Step (loss ``L_m = (1/n) sum_i (f_m(x_i) - y_m,i)^2`` per real network; for ``psi = psi1 + i psi2`` the two
networks of a member are trained independently on ``Re psi_T`` and ``Im psi_T``, ``L = L_1 + L_2``, Eq. 13)::

    theta <- theta - eta * dL_m/dtheta         (every layer, one learning rate: NTK parameterisation)

Per step, on CuPy's current stream: forward partial sums + residual/loss (``gd_forward``), the monitor
(``gd_monitor``: per-network loss, divergence and early-stop detection, freezing stopped networks), backward
partial sums + fixed-order reduce + update (``gd_backward_update``). No allocation per step, no n x N matrix (the
pre-activations are recomputed; input dimension d <= 32), fixed-order reductions (bit-reproducible run to run on
one GPU). The host synchronises only at record steps. See ``cuda/gd_step.cu`` for the launch scheme.

Public pieces, matching the CPU training area:

* :func:`make_step` -> :class:`CUDAReLUStep`, the ``GDStep`` interface for one network (``run``,
  ``train_loss``, ``test_loss``, ``predict``, ``params``, ``step``, ``learning_rate``, ``flops_per_step``);
* :func:`train_ensemble` — same arguments and :class:`~nnqs_fast.training.EnsembleResult` as the CPU trainer,
  all ``2K`` networks in one batched step;
* :class:`GDStepCUDA` — the batched engine (M networks), also usable directly.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import register_cuda
from .._validation import check_finite_scalar, check_positive_int
from ..errors import InvalidInputError, ShapeMismatchError
from ..networks.dense import B_STD, W_STD
from . import _shim

__all__ = ["GDStepCUDA", "CUDAReLUStep", "make_step", "train_ensemble", "train_relu_ensemble"]

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
        _shim.launch(self._mod.gd_forward, self.M, self.N, self.d, self.W_std, self.b_std, p["x"], self.n, p["W"],
                     p["b0"], p["v"], p["b1"], p["fpart"], self._sj, p["y"], p["f"] if with_f else 0, p["g"],
                     p["sse"], self.dtype == np.float64, _shim.stream())

    def _monitor(self, rtol: float) -> None:
        p = self._p
        _shim.launch(self._mod.gd_monitor, self.M, self.n, p["sse"], self._nb, float(rtol), int(self.step),
                     p["loss"], p["prev"], p["active"], p["stop"], p["status"], _shim.stream())

    def _update(self) -> None:
        p = self._p
        _shim.launch(self._mod.gd_backward_update, self.M, self.N, self.d, self.W_std, self.b_std, p["x"], self.n,
                     p["W"], p["b0"], p["v"], p["b1"], p["g"], p["gpart"], self._si, float(self.learning_rate),
                     p["active"], self.dtype == np.float64, _shim.stream())

    def _forward_test(self) -> Any:
        """Per-network test loss (CuPy (M,)); predictions left in ``self._f_t``."""
        p = self._p
        _shim.launch(self._mod.gd_forward, self.M, self.N, self.d, self.W_std, self.b_std,
                     _shim.ptr(self.x_test), self.n_test, p["W"], p["b0"], p["v"], p["b1"], _shim.ptr(self._fpart_t),
                     self._sj_t, _shim.ptr(self.y_test), _shim.ptr(self._f_t), _shim.ptr(self._g_t),
                     _shim.ptr(self._sse_t), self.dtype == np.float64, _shim.stream())
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
def _max_lr_gpu(x: np.ndarray, depth: int, W_std: float, b_std: float) -> float:
    """``eta_max = n / lambda_max`` of the analytic NTK over the train inputs (GPU Gram + cuSOLVER)."""
    cp = _shim.cupy()
    from .kernels import relu_kernel

    k = relu_kernel(x, None, depth=depth, W_std=W_std, b_std=b_std, get="ntk", dtype=np.float64)
    from ..kernels.spectrum import eta_max_from_lambda

    return eta_max_from_lambda(float(cp.linalg.eigvalsh(k)[-1]), x.shape[0], what="the analytic NTK")


@register_cuda("training.train_ensemble")
def train_ensemble(x_train: Any, y_train: Any, x_test: Any = None, y_test: Any = None, *, width: int = 5000,
                   n_members: int = 10, n_steps: int = 10_000, learning_rate: float | None = None,
                   lr_factor: float = 0.9, max_learning_rate: float | None = None, force: bool = False,
                   depth: int = 1, W_std: float = W_STD, b_std: float = B_STD, seed: int = 0, record_steps: Any = None,
                   n_record: int = 40, early_stop_rtol: float = 0.0, record_predictions: bool = True,
                   chunk_flops: float | None = None, n_workers: int | None = None, quiet: bool = False,
                   desc: str = "train", chunk_steps: int = 200) -> Any:
    """CUDA path of :func:`nnqs_fast.training.train_ensemble`: the same arguments (``chunk_flops`` and
    ``n_workers`` are CPU scheduling options, accepted and ignored here) and the same :class:`EnsembleResult`; all
    ``2K`` networks step together in one batched fused step (float64). Ctrl-C stops between chunks of ``chunk_steps``
    steps and returns what was recorded (``interrupted=True``)."""
    from .._progress import progress
    from .._random import member_seeds
    from ..errors import PrecisionLossWarning
    from ..networks.relu import init_relu
    from ..training.trainer import EnsembleResult, _resolve_lr, ensemble_statistics, validate_ensemble_inputs

    t_start = time.perf_counter()
    v = validate_ensemble_inputs(_host(x_train), _host(y_train), None if x_test is None else _host(x_test),
                                 None if y_test is None else _host(y_test), width=width, n_members=n_members,
                                 n_steps=n_steps, depth=depth, seed=seed, early_stop_rtol=early_stop_rtol,
                                 record_steps=record_steps, n_record=n_record)
    x, y, xt, yt, steps = v.x, v.y, v.xt, v.yt, v.steps
    width, K, n_steps, depth, seed, early_stop_rtol = v.width, v.K, v.n_steps, v.depth, v.seed, v.early_stop_rtol
    if max_learning_rate is None:
        max_learning_rate = _max_lr_gpu(x, depth, W_std, b_std)
    lr, max_lr = _resolve_lr(x, learning_rate, lr_factor, max_learning_rate, force, depth, W_std, b_std)

    R, n, nt = steps.size, x.shape[0], (0 if xt is None else xt.shape[0])
    seeds_flat = member_seeds(seed, 2 * K)
    seeds = np.array(seeds_flat, dtype=np.uint64).reshape(K, 2)
    params = [init_relu(seeds_flat[m], x.shape[1], width, depth, W_std=W_std, b_std=b_std) for m in range(2 * K)]
    ytr = np.stack([y.real if m % 2 == 0 else y.imag for m in range(2 * K)])
    yte = None if yt is None else np.stack([yt.real if m % 2 == 0 else yt.imag for m in range(2 * K)])
    eng = GDStepCUDA(params, x, ytr, lr, x_test=xt, y_test=yte, dtype=np.float64)

    part_tr = np.full((2 * K, R), np.nan)
    part_te = np.full((2 * K, R), np.nan)
    preds_tr: Any = np.full((2 * K, R, n), np.nan) if record_predictions else None
    preds_te: Any = np.full((2 * K, R, nt), np.nan) if record_predictions else None
    status = np.zeros(2 * K, np.int32)
    stop = np.full(2 * K, -1, np.int64)
    bar = progress(total=n_steps, desc=desc, quiet=quiet, unit="step")
    interrupted = False
    t = 0
    try:
        while True:
            nxt = min(n_steps, t + max(1, int(chunk_steps)))
            sel = (steps >= t) & (steps <= nxt)
            out = eng.run(nxt - t, steps[sel], record_predictions, early_stop_rtol)
            part_tr[:, sel], part_te[:, sel] = out["train_loss"], out["test_loss"]
            if record_predictions:
                preds_tr[:, sel] = out["train_pred"]
                if nt:
                    preds_te[:, sel] = out["test_pred"]
            status, stop = out["status"], out["stop_step"]
            bar.update(nxt - t)
            t = nxt
            if t >= n_steps or bool(np.all(status != STATUS_OK)):
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    # bookkeeping as the CPU trainer: networks stopped early hold their last recorded state afterwards
    stopped = np.full((K, 2), -1, dtype=np.int64)
    finished = np.zeros((K, 2), dtype=bool)
    for m in range(2 * K):
        k, p = divmod(m, 2)
        if status[m] == STATUS_CONVERGED:
            ts = int(stop[m])
            stopped[k, p] = ts
            last = np.flatnonzero(steps <= ts)[-1]
            later = steps > ts
            part_tr[m, later], part_te[m, later] = part_tr[m, last], part_te[m, last]
            if record_predictions:
                preds_tr[m, later] = preds_tr[m, last]
                preds_te[m, later] = preds_te[m, last]
        elif status[m] == STATUS_DIVERGED:
            stopped[k, p] = int(stop[m])
            warnings.warn(PrecisionLossWarning.member_diverged(k, p + 1, int(stop[m]), lr, max_lr), stacklevel=2)
        finished[k, p] = status[m] != STATUS_OK or (t >= n_steps and not interrupted)
    part_tr3 = part_tr.reshape(K, 2, R)
    part_te3 = part_te.reshape(K, 2, R)
    st = ensemble_statistics(part_tr3, part_te3, preds_tr.reshape(K, 2, R, n) if record_predictions else None,
                             preds_te.reshape(K, 2, R, nt) if record_predictions and nt else None, y, yt)
    train_loss, test_loss, ens_tr, ens_te = st["train_loss"], st["test_loss"], st["ens_tr"], st["ens_te"]
    lom_tr, lom_te, mean_tr, mean_te = st["lom_tr"], st["lom_te"], st["mean_tr"], st["mean_te"]
    config = {"width": width, "depth": depth, "n_members": K, "n_steps": n_steps, "W_std": W_std, "b_std": b_std,
              "seed": seed, "n_train": n, "n_test": nt, "lr_factor": None if learning_rate is not None else lr_factor,
              "learning_rate_given": learning_rate, "early_stop_rtol": early_stop_rtol, "force": force}
    return EnsembleResult(steps=steps, train_loss=train_loss, test_loss=test_loss, part_train_loss=part_tr3,
                          part_test_loss=part_te3, train_loss_ensemble=ens_tr, test_loss_ensemble=ens_te,
                          train_loss_of_mean=lom_tr, test_loss_of_mean=lom_te, seeds=seeds, stopped_at=stopped,
                          learning_rate=lr, max_learning_rate=max_lr, config=config,
                          members_done=int(np.sum(np.all(finished, axis=1))), interrupted=interrupted,
                          wall_time_s=time.perf_counter() - t_start, backend="cuda",
                          mean_train_prediction=mean_tr, mean_test_prediction=mean_te)


def _host(a: Any) -> Any:
    from .._backend import to_numpy

    return to_numpy(a) if a is not None else None


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
