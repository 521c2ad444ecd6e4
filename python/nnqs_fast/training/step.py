"""The gradient-descent step behind one interface (:class:`GDStep`), with the C++ implementation for the CPU and a
vectorised NumPy reference.

One real network ``f`` (one part of ψ = ψ1 + iψ2) is trained on real targets ``y`` with the loss of the paper's
Eq. 13 restricted to that part, ``L = (1/n) Σ_i (f(x_i) − y_i)²``, by full-batch gradient descent
``θ ← θ − η ∇_θ L`` with ``∇_θ L = (2/n) Σ_i e_i ∂f(x_i)/∂θ``, ``e = f − y``. The step counter ``t`` is the
number of updates done; the state "at step t" is the one after ``t`` updates (``t = 0``: initialisation), which is
the paper's time unit (``τ`` in steps).

Interface (the CPU core, the NumPy reference and the CUDA step implement it): construct from
``(params, x, y, lr, x_test, y_test)``, then ``run(n_steps, record_steps, record_predictions=False,
early_stop_rtol=0.0) -> StepRecord`` advances and records the train/test loss (and optionally the predictions) at
the requested absolute steps; ``train_loss()``, ``test_loss()``, ``params()``, ``step``, ``learning_rate``,
``flops_per_step``.

The step split for any other loss of the outputs (CPU core and NumPy reference; used by
:mod:`nnqs_fast.training.functional`): ``forward()`` returns ``f(x_i)`` on the train inputs, the caller computes
``g_i = ∂L/∂f(x_i)``, and ``apply_gradient(g)`` performs ``θ ← θ − η Σ_i g_i ∂f(x_i)/∂θ`` — the same backward
sweep as the supervised step, whose residual is ``g = (2/n)(f − y)``.

Precision (``dtype``, per step; default float64): with ``dtype=np.float32`` the parameters, the inputs and the
hidden activations are float32, while the outputs ``f``, the residuals ``e``, the losses and the readout's sums
over blocks of hidden units are accumulated in float64 (``nnqs::GDStepReLU1F32``; the NumPy reference does its
products in float32 and its losses in float64). Inputs and outputs of the interface stay float64.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._backend import core_module
from .._validation import (
    as_array,
    check_finite_scalar,
    check_index_array,
    check_network_params,
    check_positive_int,
    check_threads,
)
from ..errors import BackendUnavailableError, DTypeError, InvalidInputError, PrecisionLossWarning, ShapeMismatchError
from ..networks.relu import ReLUParams

__all__ = ["GDStep", "StepRecord", "CPUReLUStep", "NumpyReLUStep", "make_step", "check_step_dtype",
           "precision_convention"]

#: ``StepRecord.status`` values.
STATUS_OK, STATUS_CONVERGED, STATUS_DIVERGED = 0, 1, 2


@dataclass
class StepRecord:
    """What one ``run`` call recorded: losses (and predictions) at ``steps`` (absolute step numbers).

    Slots that the call did not reach (record steps beyond the call's range) hold NaN. ``status`` is 0 (all steps
    done), 1 (early stop: the train loss stopped changing; later slots of this call hold the stopped state) or 2
    (non-finite loss).
    """

    steps: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    steps_done: int
    status: int
    train_pred: np.ndarray | None = None
    test_pred: np.ndarray | None = None


@runtime_checkable
class GDStep(Protocol):
    """Full-batch gradient descent of one real network (the CPU core, the NumPy reference, the CUDA step)."""

    @property
    def step(self) -> int: ...

    @property
    def learning_rate(self) -> float: ...

    @property
    def flops_per_step(self) -> float: ...

    def run(self, n_steps: int, record_steps: np.ndarray, record_predictions: bool = False,
            early_stop_rtol: float = 0.0) -> StepRecord: ...

    def train_loss(self) -> float: ...

    def test_loss(self) -> float: ...

    def params(self) -> ReLUParams: ...


def check_step_dtype(dtype: Any) -> np.dtype:
    """The training precision: ``None`` -> float64; float32 or float64, else :class:`DTypeError`."""
    try:
        dt = np.dtype(np.float64 if dtype is None else dtype)
    except TypeError as exc:
        raise DTypeError(f"dtype must be float32 or float64 (the training precision), got {dtype!r}") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise DTypeError(f"dtype must be float32 or float64 (the training precision), got {dt}")
    return dt


def precision_convention(dtype: Any) -> str:
    """The ``conventions`` entry that states a run's training precision (result files)."""
    if check_step_dtype(dtype) == np.float32:
        return ("float32: parameters, inputs and hidden activations in float32; outputs, residuals, losses and the "
                "readout's block sums accumulated in float64")
    return "float64 throughout"


def _check_inputs(params: ReLUParams, x, y, x_test, y_test):
    if not isinstance(params, ReLUParams):
        raise InvalidInputError(f"params must be nnqs_fast.networks.ReLUParams, got {type(params).__name__}")
    check_network_params(params)
    if params.depth != 1:
        raise InvalidInputError(f"the fused gradient-descent step supports depth-1 networks, got depth "
                                f"{params.depth}")
    x = as_array(x, "x", ndim=2, dtype=np.float64, allow_complex=False)
    y = as_array(y, "y", ndim=1, dtype=np.float64, allow_complex=False)
    if x.shape[1] != params.input_dim:
        raise ShapeMismatchError(f"x has {x.shape[1]} features but the network expects {params.input_dim}")
    if y.shape[0] != x.shape[0]:
        raise ShapeMismatchError(f"y has {y.shape[0]} entries but x has {x.shape[0]} rows")
    if (x_test is None) != (y_test is None):
        raise InvalidInputError("give both x_test and y_test, or neither")
    if x_test is not None:
        x_test = as_array(x_test, "x_test", ndim=2, dtype=np.float64, allow_complex=False)
        y_test = as_array(y_test, "y_test", ndim=1, dtype=np.float64, allow_complex=False)
        if x_test.shape[1] != x.shape[1] or y_test.shape[0] != x_test.shape[0]:
            raise ShapeMismatchError(f"x_test {x_test.shape} / y_test {y_test.shape} do not match x {x.shape}")
    return (np.ascontiguousarray(x), np.ascontiguousarray(y),
            None if x_test is None else np.ascontiguousarray(x_test),
            None if y_test is None else np.ascontiguousarray(y_test))


def _record_steps(record_steps) -> np.ndarray:
    if isinstance(record_steps, (str, bytes)):
        raise InvalidInputError(f"record_steps must be a sequence of step numbers, got {record_steps!r}")
    rs = check_index_array(record_steps, "record_steps").reshape(-1)
    if rs.size and np.any(np.diff(rs) <= 0):
        raise InvalidInputError("record_steps must be non-negative and strictly increasing")
    return np.ascontiguousarray(rs)


class CPUReLUStep:
    """The C++ fused step: OpenMP over blocks of hidden units, GIL released, no allocation per step,
    bit-identical results for the same inputs (and build and machine).

    ``dtype=np.float64`` (default): ``nnqs_fast._core.GDStepReLU1``. ``dtype=np.float32``:
    ``nnqs_fast._core.GDStepReLU1F32`` — float32 parameters and activations, float64 outputs, residuals and losses;
    the forward sweep keeps one sign bit per (sample, unit) so that the backward sweep is a masked sum (AVX-512
    kernels chosen at run time, a portable kernel elsewhere: :attr:`kernel`). The readout bias ``b2`` stays float64.
    """

    def __init__(self, params: ReLUParams, x, y, lr: float, x_test=None, y_test=None, *, dtype: Any = None):
        self.dtype = check_step_dtype(dtype)
        x, y, x_test, y_test = _check_inputs(params, x, y, x_test, y_test)
        lr = check_finite_scalar(lr, "lr", positive=True)
        W1, W2 = (np.ascontiguousarray(w, dtype=np.float64) for w in params.weights)
        b1, b2 = (np.ascontiguousarray(b, dtype=np.float64) for b in params.biases)
        self._W_std, self._b_std = float(params.W_std), float(params.b_std)
        cls = core_module().GDStepReLU1F32 if self.dtype == np.float32 else core_module().GDStepReLU1
        self._impl = cls(W1, b1, W2[0], float(b2[0]), self._W_std, self._b_std, x, y, lr, x_test, y_test)

    @property
    def kernel(self) -> str:
        """The float32 step's kernel (``"avx512"`` or ``"portable"``); ``"float64"`` for the float64 step."""
        return str(getattr(self._impl, "kernel", "float64"))

    @property
    def step(self) -> int:
        return int(self._impl.step)

    @property
    def learning_rate(self) -> float:
        return float(self._impl.learning_rate)

    @property
    def flops_per_step(self) -> float:
        return float(self._impl.flops_per_step)

    @property
    def threads(self) -> int:
        """OpenMP threads of this step (0: the core's default); results do not depend on it."""
        return int(self._impl.threads)

    @threads.setter
    def threads(self, value: int) -> None:
        self._impl.threads = check_threads(value)

    def run(self, n_steps: int, record_steps=(), record_predictions: bool = False,
            early_stop_rtol: float = 0.0) -> StepRecord:
        n_steps = check_positive_int(n_steps, "n_steps", minimum=0, maximum=2**62)
        rs = _record_steps(record_steps)
        rtol = check_finite_scalar(early_stop_rtol, "early_stop_rtol", nonnegative=True)
        out = self._impl.run(n_steps, rs, bool(record_predictions), rtol)
        return _report(StepRecord(rs, out["train_loss"], out["test_loss"], int(out["steps_done"]),
                                  int(out["status"]), out.get("train_pred"), out.get("test_pred")), self.learning_rate)

    def forward(self) -> np.ndarray:
        """``f(x_i)`` on the train inputs at the current parameters, ``(n,)``."""
        return self._impl.forward_train()

    def apply_gradient(self, dL_df: np.ndarray) -> None:
        """One update ``θ ← θ − η Σ_i g_i ∂f(x_i)/∂θ`` with ``g = ∂L/∂f`` on the train inputs ``(n,)``."""
        self._impl.apply_gradient(np.ascontiguousarray(dL_df, dtype=np.float64))

    def train_loss(self) -> float:
        return float(self._impl.train_loss())

    def test_loss(self) -> float:
        return float(self._impl.test_loss())

    def predict(self, x) -> np.ndarray:
        return self._impl.predict(np.ascontiguousarray(x, dtype=np.float64))

    def params(self) -> ReLUParams:
        """The current parameters (float64 arrays; exact copies of the float32 values for ``dtype=float32``)."""
        W1, b1, a, b2 = self._impl.get_params()
        return ReLUParams((W1, a[None, :].copy()), (b1, np.array([b2])), self._W_std, self._b_std)


class NumpyReLUStep:
    """Vectorised NumPy reference of the same step (BLAS products — SGEMM/DGEMM — and n×N temporaries); for tests
    and benchmarks. ``dtype=np.float32``: parameters, inputs and products in float32, outputs and losses in
    float64 (the precision contract of the float32 C++ step)."""

    def __init__(self, params: ReLUParams, x, y, lr: float, x_test=None, y_test=None, *, dtype: Any = None):
        self.dtype = check_step_dtype(dtype)
        x, y, x_test, y_test = _check_inputs(params, x, y, x_test, y_test)
        dt = self.dtype
        self.learning_rate = check_finite_scalar(lr, "lr", positive=True)
        self.W1 = params.weights[0].astype(dt).copy()
        self.a = params.weights[1][0].astype(dt).copy()
        self.b1 = params.biases[0].astype(dt).copy()
        self.b2 = float(params.biases[1][0])
        self.W_std, self.b_std = float(params.W_std), float(params.b_std)
        self.x, self.y = x.astype(dt), y
        self.x_test = None if x_test is None else x_test.astype(dt)
        self.y_test = y_test
        self.step = 0

    @property
    def flops_per_step(self) -> float:
        N, d = self.W1.shape
        return float(self.x.shape[0] * N * (6 * d + 9) + 3 * N * (d + 2))

    def _forward(self, x):
        # Python-float scalars: NumPy keeps the arrays' precision (float32 products for dtype=float32)
        N, d = self.W1.shape
        z = float(self.W_std / np.sqrt(d)) * (x @ self.W1.T) + self.b_std * self.b1
        h = np.maximum(z, 0.0)
        return z, h, float(self.W_std / np.sqrt(N)) * (h @ self.a).astype(np.float64) + self.b_std * self.b2

    def predict(self, x) -> np.ndarray:
        return self._forward(np.asarray(x, dtype=self.dtype))[2]

    def train_loss(self) -> float:
        return float(np.mean((self.predict(self.x) - self.y) ** 2))

    def test_loss(self) -> float:
        if self.x_test is None:
            return float("nan")
        return float(np.mean((self.predict(self.x_test) - self.y_test) ** 2))

    def forward(self) -> np.ndarray:
        """``f(x_i)`` on the train inputs, ``(n,)``."""
        return self.predict(self.x)

    def apply_gradient(self, dL_df: np.ndarray) -> None:
        """One update ``θ ← θ − η Σ_i g_i ∂f(x_i)/∂θ`` with ``g = ∂L/∂f`` ``(n,)``."""
        z, h, _ = self._forward(self.x)
        self._backward(z, h, np.asarray(dL_df, dtype=np.float64), self.learning_rate)

    def update(self) -> float:
        """One gradient-descent update; returns the loss before it."""
        n = self.x.shape[0]
        z, h, f = self._forward(self.x)
        e = f - self.y
        self._backward(z, h, e, self.learning_rate * 2.0 / n)
        return float(np.mean(e ** 2))

    def _backward(self, z: np.ndarray, h: np.ndarray, e: np.ndarray, s: float) -> None:
        N, d = self.W1.shape
        ca, cw = float(self.W_std / np.sqrt(N)), float(self.W_std / np.sqrt(d))
        g_b2 = self.b_std * e.sum()                                # float64, as the C++ steps
        e = e.astype(self.dtype)
        m = (z > 0) * e[:, None]                                   # (n, N): e_i 1[z_ij > 0]
        g_a = ca * (h.T @ e)
        g_b1 = ca * self.a * self.b_std * m.sum(axis=0)
        g_W1 = (ca * cw) * self.a[:, None] * (m.T @ self.x)
        self.a -= s * g_a
        self.b1 -= s * g_b1
        self.W1 -= s * g_W1
        self.b2 -= s * g_b2
        self.step += 1

    def run(self, n_steps: int, record_steps=(), record_predictions: bool = False,
            early_stop_rtol: float = 0.0) -> StepRecord:
        n_steps = check_positive_int(n_steps, "n_steps", minimum=0, maximum=2**62)
        rs = _record_steps(record_steps)
        R = rs.size
        tr, te = np.full(R, np.nan), np.full(R, np.nan)
        nt = 0 if self.x_test is None else self.x_test.shape[0]
        ptr = np.full((R, self.x.shape[0] if record_predictions else 0), np.nan)
        pte = np.full((R, nt if record_predictions else 0), np.nan)
        t_end = self.step + int(n_steps)
        done, status = 0, STATUS_OK
        with np.errstate(all="ignore"):  # a diverging run is reported below (status 2 + a named warning)
            for r, t in enumerate(rs):
                if t < self.step or t > t_end:
                    continue
                while self.step < t and status == STATUS_OK:
                    if not np.isfinite(self.update()):
                        status = STATUS_DIVERGED
                    done += 1
                if status != STATUS_OK:
                    break
                tr[r], te[r] = self.train_loss(), self.test_loss()
                if record_predictions:
                    ptr[r] = self.predict(self.x)
                    if nt:
                        pte[r] = self.predict(self.x_test)
            while self.step < t_end and status == STATUS_OK:
                if not np.isfinite(self.update()):
                    status = STATUS_DIVERGED
                done += 1
        return _report(StepRecord(rs, tr, te, done, status, ptr if record_predictions else None,
                                  pte if record_predictions else None), self.learning_rate)

    def params(self) -> ReLUParams:
        f8 = np.float64
        return ReLUParams((self.W1.astype(f8), self.a[None, :].astype(f8)), (self.b1.astype(f8), np.array([self.b2])),
                          self.W_std, self.b_std)


def _report(rec: StepRecord, lr: float) -> StepRecord:
    """A diverged run (non-finite loss) is never silent: a named warning says where and what to do."""
    if rec.status == STATUS_DIVERGED:
        warnings.warn(f"gradient descent diverged (non-finite loss) after {rec.steps_done} steps at learning rate "
                      f"{lr:.4g}; use a learning rate below the kernel's eta_max (max_learning_rate)",
                      PrecisionLossWarning, stacklevel=3)
    return rec


def make_step(params: ReLUParams, x, y, lr: float, x_test=None, y_test=None, *, backend: str = "cpu",
              dtype: Any = None) -> GDStep:
    """The step implementation for a concrete backend (``"cpu"``, ``"numpy"``; ``"cuda"`` via nnqs_fast.gpu) and
    precision (``dtype``: float64, the default, or float32; see the module docstring)."""
    dt = check_step_dtype(dtype)
    if backend == "cpu":
        return CPUReLUStep(params, x, y, lr, x_test, y_test, dtype=dt)
    if backend == "numpy":
        return NumpyReLUStep(params, x, y, lr, x_test, y_test, dtype=dt)
    if backend == "cuda":
        from .._backend import cuda_implementation

        if (fn := cuda_implementation("training.make_step")) is None:
            raise BackendUnavailableError("no CUDA implementation of training.make_step; use backend='cpu'")
        if dt != np.float64:
            raise DTypeError("the CUDA make_step is float64 only; use backend='cpu' for dtype=float32 (or "
                             "train_ensemble(backend='cuda', dtype=np.float32))")
        return fn(params, x, y, lr, x_test, y_test)
    raise InvalidInputError(f"backend must be 'cpu', 'numpy' or 'cuda', got {backend!r}")
