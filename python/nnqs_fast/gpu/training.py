"""CUDA path of the ensemble trainer (issue 5 / 7): the fused full-batch gradient-descent step of M
one-hidden-layer ReLU networks (NTK parameterisation) that share the training inputs.

Step (loss ``L_m = (1/n) sum_i (f_m(x_i) - y_m,i)^2`` per real network; for ``psi = psi1 + i psi2`` the networks
of a member are trained independently on ``Re psi_T`` and ``Im psi_T`` and ``L = L_1 + L_2``, Eq. 13)::

    theta <- theta - eta * dL_m/dtheta         (every layer, one learning rate: NTK parameterisation)

Four kernel launches per step on CuPy's current stream (forward partial sums, residual/loss, backward partial
sums, reduce + update), no allocation per step, no n x N matrix in memory (the pre-activations are recomputed
on the fly; input dimension d <= 32), fixed-order reductions (bit-reproducible run to run on one GPU).
See ``cuda/gd_step.cu`` for the launch scheme.

:class:`GDStepCUDA` is the device counterpart of the CPU ``GDStep`` interface: ``step(k)`` advances k steps,
``train_loss()`` / ``loss(x, y)`` evaluate, ``predict(x)`` evaluates the networks, ``params()`` returns host
:class:`~nnqs_fast.networks.relu.ReLUParams`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .._validation import check_finite_scalar, check_positive_int
from ..errors import InvalidInputError, ShapeMismatchError
from . import _shim

__all__ = ["GDStepCUDA", "train_relu_ensemble"]


class GDStepCUDA:
    """Full-batch GD of M one-hidden-layer ReLU networks on the GPU (see the module docstring).

    Args:
      params: sequence of M ``ReLUParams`` with one hidden layer (same width N, input dim d <= 32, same
        W_std/b_std).
      x_train: (n, d) inputs shared by all networks.
      y_train: (M, n) real targets, one row per network (or (n,) for all).
      learning_rate: eta.
      dtype: float32 or float64 (default: that of the first network's weights).
    """

    def __init__(self, params: Sequence[Any], x_train: Any, y_train: Any, learning_rate: float, *,
                 dtype: Any = None) -> None:
        cp = _shim.cupy()
        self._mod = _shim.cuda_module()
        if len(params) == 0:
            raise InvalidInputError("params must hold at least one network")
        p0 = params[0]
        if len(p0.weights) != 2:
            raise InvalidInputError("the fused CUDA step handles one-hidden-layer ReLU networks (depth 1)")
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
        host = lambda a: np.asarray(a, dtype=dt)  # noqa: E731
        self.W = cp.asarray(np.stack([host(p.weights[0]) for p in params]))            # (M, N, d)
        self.b0 = cp.asarray(np.stack([host(p.biases[0]) for p in params]))            # (M, N)
        self.v = cp.asarray(np.stack([host(p.weights[1])[0] for p in params]))         # (M, N)
        self.b1 = cp.asarray(np.array([host(p.biases[1])[0] for p in params], dt))     # (M,)
        self.x = self._inputs(x_train, "x_train")
        self.n = int(self.x.shape[0])
        y = _shim.to_device(y_train, dt, name="y_train")
        if y.ndim == 1:
            y = cp.ascontiguousarray(cp.broadcast_to(y, (self.M, y.shape[0])))
        if tuple(y.shape) != (self.M, self.n):
            raise ShapeMismatchError(f"y_train must have shape ({self.M}, {self.n}) or ({self.n},), "
                                     f"got {tuple(y.shape)}")
        _shim.check_finite_device(y, "y_train")
        self.y = y
        # work buffers, allocated once
        self._sj = int(self._mod.gd_forward_splits(self.M, self.N, self.d, self.n))
        self._si = int(self._mod.gd_backward_splits(self.M, self.N, self.d, self.n))
        self._fpart = cp.empty((self.M, self._sj, self.n), dt)
        self._g = cp.empty((self.M, self.n), dt)
        self._f = cp.empty((self.M, self.n), dt)
        self._sse = cp.empty((self.M, int(self._mod.gd_reduce_blocks(self.n))), cp.float64)
        self._gpart = cp.empty((self.M, self._si, self.N, self.d + 2), dt)
        self.steps_done = 0

    # ---- helpers -------------------------------------------------------------------------------------------
    def _inputs(self, x: Any, name: str) -> Any:
        a = _shim.to_device(x, self.dtype, name=name)
        if a.ndim != 2 or a.shape[1] != self.d:
            raise ShapeMismatchError(f"{name} must have shape (n, {self.d}), got {tuple(a.shape)}")
        _shim.check_finite_device(a, name)
        return a

    def _forward(self, x: Any, n: int, fpart: Any, sj: int, y: Any, f: Any, g: Any, sse: Any) -> None:
        m = self._mod
        _shim.launch(m.gd_forward, self.M, self.N, self.d, self.W_std, self.b_std, _shim.ptr(x), n,
                     _shim.ptr(self.W), _shim.ptr(self.b0), _shim.ptr(self.v), _shim.ptr(self.b1), _shim.ptr(fpart),
                     sj, _shim.ptr(y), _shim.ptr(f), _shim.ptr(g), _shim.ptr(sse), self.dtype == np.float64,
                     _shim.stream())

    # ---- the step interface --------------------------------------------------------------------------------
    def step(self, n_steps: int = 1) -> None:
        """Advance ``n_steps`` full-batch gradient-descent steps (asynchronous: no host synchronisation)."""
        k = check_positive_int(n_steps, "n_steps")
        m = self._mod
        isd = self.dtype == np.float64
        st = _shim.stream()
        for _ in range(k):
            self._forward(self.x, self.n, self._fpart, self._sj, self.y, None, self._g, self._sse)
            _shim.launch(m.gd_backward_update, self.M, self.N, self.d, self.W_std, self.b_std, _shim.ptr(self.x),
                         self.n, _shim.ptr(self.W), _shim.ptr(self.b0), _shim.ptr(self.v), _shim.ptr(self.b1),
                         _shim.ptr(self._g), _shim.ptr(self._gpart), self._si, float(self.learning_rate), isd, st)
        self.steps_done += k

    def train_loss(self) -> Any:
        """Per-network train loss ``(1/n) sum_i (f - y)^2`` at the current parameters, CuPy (M,) float64."""
        self._forward(self.x, self.n, self._fpart, self._sj, self.y, self._f, self._g, self._sse)
        return self._sse.sum(axis=1) / self.n

    def predict(self, x: Any) -> Any:
        """Network outputs on ``x`` (n_x, d): CuPy (M, n_x)."""
        cp = _shim.cupy()
        a = self._inputs(x, "x")
        n = int(a.shape[0])
        sj = int(self._mod.gd_forward_splits(self.M, self.N, self.d, n))
        fpart = cp.empty((self.M, sj, n), self.dtype)
        f = cp.empty((self.M, n), self.dtype)
        self._forward(a, n, fpart, sj, None, f, None, None)
        return f

    def loss(self, x: Any, y: Any) -> Any:
        """Per-network loss ``(1/n_x) sum (f(x) - y)^2`` on another set (e.g. test points), CuPy (M,)."""
        cp = _shim.cupy()
        f = self.predict(x)
        yy = _shim.to_device(y, self.dtype, name="y")
        if yy.ndim == 1:
            yy = cp.broadcast_to(yy, f.shape)
        if tuple(yy.shape) != tuple(f.shape):
            raise ShapeMismatchError(f"y must have shape {tuple(f.shape)} or ({f.shape[1]},), got {tuple(yy.shape)}")
        r = (f - yy).astype(cp.float64)
        return (r * r).sum(axis=1) / f.shape[1]

    def params(self) -> list[Any]:
        """Current parameters as host ``ReLUParams`` (one per network)."""
        from ..networks.relu import ReLUParams

        W, b0, v, b1 = (self.W.get(), self.b0.get(), self.v.get(), self.b1.get())
        return [ReLUParams((W[m], v[m][None, :]), (b0[m], b1[m:m + 1]), self.W_std, self.b_std)
                for m in range(self.M)]


def train_relu_ensemble(params: Sequence[Any], x_train: Any, y_train: Any, learning_rate: float, steps: int, *,
                        record_steps: Sequence[int] | None = None, x_test: Any = None, y_test: Any = None,
                        dtype: Any = None) -> dict[str, np.ndarray]:
    """Train M networks for ``steps`` GD steps on the GPU, recording the per-network train (and test) losses at
    ``record_steps`` (default: 0 and ``steps``). Returns host arrays ``steps`` (R,), ``train_loss`` (R, M) and,
    with a test set, ``test_loss`` (R, M)."""
    cp = _shim.cupy()
    steps = check_positive_int(steps, "steps", minimum=0)
    rec = sorted({0, steps} if record_steps is None else {int(s) for s in record_steps})
    if rec and (rec[0] < 0 or rec[-1] > steps):
        raise InvalidInputError(f"record_steps must lie in [0, {steps}]")
    trainer = GDStepCUDA(params, x_train, y_train, learning_rate, dtype=dtype)
    has_test = x_test is not None
    if has_test:
        xt = trainer._inputs(x_test, "x_test")
        yt = _shim.to_device(y_test, trainer.dtype, name="y_test")
    tr, te = [], []
    done = 0
    for s in rec:
        if s > done:
            trainer.step(s - done)
            done = s
        tr.append(trainer.train_loss())
        if has_test:
            te.append(trainer.loss(xt, yt))
    out = {"steps": np.asarray(rec, np.int64), "train_loss": cp.asnumpy(cp.stack(tr)) if tr else np.zeros((0,))}
    if has_test:
        out["test_loss"] = cp.asnumpy(cp.stack(te))
    return out
