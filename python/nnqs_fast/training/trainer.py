"""Ensembles of finite-width NNQS ψ = ψ1 + iψ2 trained by full-batch gradient descent (paper: Numerical
Experiments, Figs. 2–3).

Each member ``k`` is two independent one-hidden-layer ReLU networks (NTK parameterisation, ``W_std = 0.5``,
``b_std = 0.1``), ψ1 with seed ``member_seeds(seed, 2K)[2k]`` and ψ2 with ``[2k + 1]``, trained on the real and
imaginary parts of the target with the loss of Eq. 13, ``L = (1/n) Σ_x |ψ_T(x) − ψ(x)|² = L1 + L2``. Since the
parts share no parameters, ``θ ← θ − η ∇L`` trains each part independently on its own real target.

Recorded at each record step ``t`` (state after ``t`` updates) for the train set ``B`` and the test set:

* per member: ``L^(k)(t)`` (and per part),
* ``L_Ψl(t) = (1/K) Σ_k L^(k)(t)`` — the ensemble average of the member losses (Eq. 17 at finite ``t``),
* ``L_mean(t) = (1/|B|) Σ_x |(1/K) Σ_k ψ^(k)(x, t) − ψ_T(x)|²`` — the loss of the ensemble mean (the finite-K
  estimate of ``L_µ``, Eq. 16).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .._backend import cuda_implementation, parse_backend, resolve_backend, to_numpy
from .._random import check_seed, member_seeds
from .._validation import as_array, check_finite_scalar, check_index_array, check_nbytes, check_positive_int
from ..errors import (
    BackendUnavailableError,
    InvalidInputError,
    LearningRateTooLargeError,
    PrecisionLossWarning,
    ShapeMismatchError,
)
from ..networks.dense import B_STD, W_STD
from ..networks.relu import init_relu
from .driver import CPUStepPool, Engine, diverged_units, drive
from .step import check_step_dtype, make_step

__all__ = ["EnsembleResult", "train_ensemble", "log_record_steps", "max_learning_rate_for"]


def log_record_steps(n_steps: int, n_points: int = 40) -> np.ndarray:
    """``0``, about ``n_points`` log-spaced steps in ``[1, n_steps]``, the powers of 10 and ``n_steps``."""
    n_steps = check_positive_int(n_steps, "n_steps", minimum=0, maximum=2**62)
    n_points = check_positive_int(n_points, "n_points", maximum=10**6)
    if n_steps == 0:
        return np.array([0], dtype=np.int64)
    s = np.unique(np.round(np.logspace(0, np.log10(n_steps), n_points)).astype(np.int64))
    decades = 10 ** np.arange(int(np.log10(n_steps)) + 1)
    return np.unique(np.concatenate([[0], s, decades, [n_steps]])).astype(np.int64)


def max_learning_rate_for(x_train, *, depth: int = 1, W_std: float = W_STD, b_std: float = B_STD,
                          backend: str = "auto") -> float:
    """``η_max = n / λ_max(Θ)`` of the analytic (infinite-width) NTK Gram matrix over the train inputs
    (:func:`nnqs_fast.kernels.relu_kernel_fn`, :func:`nnqs_fast.kernels.spectrum.qsntk_eta_max`)."""
    from ..kernels import relu_kernel_fn
    from ..kernels.spectrum import qsntk_eta_max

    x = as_array(x_train, "x_train", ndim=2, dtype=np.float64, allow_complex=False)
    ntk = relu_kernel_fn(depth=depth, W_std=W_std, b_std=b_std)(x, None, get="ntk", backend=backend)
    return float(qsntk_eta_max(to_numpy(ntk)))


@dataclass
class EnsembleResult:
    """Recorded losses of a trained ensemble. Shapes: ``K`` members, ``R`` record steps.

    NaN marks what was not reached (interrupted run or diverged member). ``stopped_at[k, p]`` is the step at which
    part ``p`` of member ``k`` stopped early (``-1``: it ran all steps).
    """

    steps: np.ndarray                 # (R,)
    train_loss: np.ndarray            # (K, R) member losses L^(k) = L1 + L2
    test_loss: np.ndarray             # (K, R)
    part_train_loss: np.ndarray       # (K, 2, R) real / imaginary part
    part_test_loss: np.ndarray        # (K, 2, R)
    train_loss_ensemble: np.ndarray   # (R,) L_Ψl: mean over members of the member losses (Eq. 17)
    test_loss_ensemble: np.ndarray    # (R,)
    train_loss_of_mean: np.ndarray    # (R,) loss of the ensemble-mean wavefunction (finite-K L_µ, Eq. 16)
    test_loss_of_mean: np.ndarray     # (R,)
    seeds: np.ndarray                 # (K, 2) network seeds (ψ1, ψ2)
    stopped_at: np.ndarray            # (K, 2)
    learning_rate: float
    max_learning_rate: float
    config: dict[str, Any] = field(default_factory=dict)
    members_done: int = 0
    interrupted: bool = False
    wall_time_s: float = 0.0
    backend: str = "cpu"
    mean_train_prediction: np.ndarray | None = None  # (R, n) complex ensemble mean ψ on the train inputs
    mean_test_prediction: np.ndarray | None = None   # (R, n_test)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save (NPZ keys)."""
        out = {k: getattr(self, k) for k in ("steps", "train_loss", "test_loss", "part_train_loss",
                                             "part_test_loss", "train_loss_ensemble", "test_loss_ensemble",
                                             "train_loss_of_mean", "test_loss_of_mean", "seeds", "stopped_at")}
        return out

    def summary(self) -> dict[str, Any]:
        """Scalars for JSON: rates, final losses, completion."""
        def last(a):
            v = a[..., -1]
            return float(v) if np.ndim(v) == 0 else v
        return {"learning_rate": self.learning_rate, "max_learning_rate": self.max_learning_rate,
                "members_done": self.members_done, "interrupted": self.interrupted,
                "wall_time_s": self.wall_time_s, "final_step": int(self.steps[-1]),
                "final_train_loss_ensemble": last(self.train_loss_ensemble),
                "final_test_loss_ensemble": last(self.test_loss_ensemble),
                "final_train_loss_of_mean": last(self.train_loss_of_mean),
                "final_test_loss_of_mean": last(self.test_loss_of_mean)}


def resolve_learning_rate(learning_rate: float | None, lr_factor: float, max_lr: float, n: int, force: bool,
                          what: str | None = None) -> float:
    """The learning-rate rule of every trainer: ``learning_rate`` if given, else ``lr_factor × η_max``; a rate
    above ``η_max`` raises :class:`LearningRateTooLargeError` (a warning with ``force=True``)."""
    max_lr = check_finite_scalar(max_lr, "max_learning_rate", positive=True)
    if learning_rate is None:
        lr = check_finite_scalar(lr_factor, "lr_factor", positive=True) * max_lr
    else:
        lr = check_finite_scalar(learning_rate, "learning_rate", positive=True)
    if lr > max_lr:
        if what is None:   # the supervised loss of Eq. 13: the error builds its message
            err = LearningRateTooLargeError(lr, max_lr, n, alternative="pass force=True")
        else:
            err = LearningRateTooLargeError(
                f"learning rate {lr:.6g} exceeds the maximal stable rate {max_lr:.6g} = {what}; gradient descent "
                f"would diverge. Use at most {max_lr:.6g} or pass force=True")
        if not force:
            raise err
        warnings.warn(str(err), stacklevel=3)
    return lr


def _resolve_lr(x, learning_rate, lr_factor, max_lr, force, depth, W_std, b_std):
    if max_lr is None:
        max_lr = max_learning_rate_for(x, depth=depth, W_std=W_std, b_std=b_std)
    max_lr = check_finite_scalar(max_lr, "max_learning_rate", positive=True)
    return resolve_learning_rate(learning_rate, lr_factor, max_lr, x.shape[0], force), max_lr


def ensemble_statistics(part_tr: np.ndarray, part_te: np.ndarray, preds_tr: np.ndarray | None,
                        preds_te: np.ndarray | None, y: np.ndarray, yt: np.ndarray | None) -> dict[str, Any]:
    """The recorded statistics of an ensemble (shared by the CPU and CUDA trainers).

    ``part_*``: per-part losses ``(K, 2, R)`` (NaN where a member did not reach a record step);
    ``preds_*``: per-part predictions ``(K, 2, R, n)`` or None. Returns the member losses ``(K, R)``, L_Ψl
    (Eq. 17: the mean member loss) and, with predictions, the ensemble-mean wavefunction over the members that
    reached each step and its loss (the finite-K estimate of L_μ, Eq. 16).
    """
    K, _, R = part_tr.shape
    train_loss, test_loss = part_tr.sum(axis=1), part_te.sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of an interrupted run stay NaN
        ens_tr, ens_te = np.nanmean(train_loss, axis=0), np.nanmean(test_loss, axis=0)
    out: dict[str, Any] = {"train_loss": train_loss, "test_loss": test_loss, "ens_tr": ens_tr, "ens_te": ens_te,
                           "lom_tr": np.full(R, np.nan), "lom_te": np.full(R, np.nan), "mean_tr": None,
                           "mean_te": None}
    if preds_tr is None:
        return out
    n, nt = preds_tr.shape[-1], (0 if preds_te is None else preds_te.shape[-1])
    member_pred = preds_tr[:, 0] + 1j * preds_tr[:, 1]                       # (K, R, n)
    ok = np.all(np.isfinite(member_pred), axis=2) if n else np.ones((K, R), bool)
    count = ok.sum(axis=0)
    sum_tr = np.where(ok[:, :, None], member_pred, 0).sum(axis=0)
    if nt and preds_te is not None:
        member_te = preds_te[:, 0] + 1j * preds_te[:, 1]
        sum_te = np.where(ok[:, :, None], np.nan_to_num(member_te), 0).sum(axis=0)
    else:
        sum_te = np.zeros((R, 0), np.complex128)
    c = np.where(count > 0, count, 1)[:, None]
    mean_tr, mean_te = sum_tr / c, sum_te / c
    has = count > 0
    out["lom_tr"][has] = np.mean(np.abs(mean_tr[has] - y[None, :]) ** 2, axis=1)
    if nt and yt is not None:
        out["lom_te"][has] = np.mean(np.abs(mean_te[has] - yt[None, :]) ** 2, axis=1)
    mean_tr[~has] = np.nan
    mean_te[~has] = np.nan
    out["mean_tr"], out["mean_te"] = mean_tr, mean_te
    return out


class EnsembleInputs(NamedTuple):
    """Validated arguments of :func:`train_ensemble` (shared by the CPU and CUDA trainers)."""

    x: np.ndarray
    y: np.ndarray
    xt: np.ndarray | None
    yt: np.ndarray | None
    width: int
    K: int
    n_steps: int
    depth: int
    seed: int
    early_stop_rtol: float
    steps: np.ndarray


def validate_ensemble_inputs(x_train: Any, y_train: Any, x_test: Any, y_test: Any, *, width: Any, n_members: Any,
                             n_steps: Any, depth: Any, seed: Any, early_stop_rtol: Any, record_steps: Any,
                             n_record: int) -> EnsembleInputs:
    """Check and convert :func:`train_ensemble`'s data and settings; raises the package's named errors."""
    x = as_array(x_train, "x_train", ndim=2, dtype=np.float64, allow_complex=False)
    y = as_array(y_train, "y_train", ndim=1).astype(np.complex128)
    if y.shape[0] != x.shape[0]:
        raise ShapeMismatchError(f"y_train has {y.shape[0]} entries but x_train has {x.shape[0]} rows")
    if (x_test is None) != (y_test is None):
        raise InvalidInputError("give both x_test and y_test, or neither")
    if x_test is not None:
        xt = as_array(x_test, "x_test", ndim=2, dtype=np.float64, allow_complex=False)
        yt = as_array(y_test, "y_test", ndim=1).astype(np.complex128)
        if xt.shape[1] != x.shape[1] or yt.shape[0] != xt.shape[0]:
            raise ShapeMismatchError(f"x_test {xt.shape} / y_test {yt.shape} do not match x_train {x.shape}")
    else:
        xt, yt = None, None
    width = check_positive_int(width, "width")
    K = check_positive_int(n_members, "n_members")
    n_steps = check_positive_int(n_steps, "n_steps", minimum=0, maximum=2**62)
    depth = check_positive_int(depth, "depth")
    if depth != 1:
        raise InvalidInputError(f"train_ensemble supports depth-1 networks (the paper's), got depth={depth}")
    seed = check_seed(seed)
    early_stop_rtol = check_finite_scalar(early_stop_rtol, "early_stop_rtol", nonnegative=True)
    if isinstance(record_steps, (str, bytes)):
        raise InvalidInputError(f"record_steps must be a sequence of step numbers, got {record_steps!r}")
    steps = log_record_steps(n_steps, n_record) if record_steps is None else check_index_array(record_steps,
                                                                                                "record_steps")
    if steps.ndim != 1 or steps.size == 0 or np.any(np.diff(steps) <= 0) or steps[0] < 0 or steps[-1] > n_steps:
        raise InvalidInputError(f"record_steps must be strictly increasing within [0, n_steps={n_steps}]")
    n, d, R = x.shape[0], x.shape[1], steps.size
    nt = 0 if xt is None else xt.shape[0]
    # before any allocation: the loss records and predictions of 2K networks, and one network's parameters and
    # work buffers (width=10**9 or n_members=10**8 used to fail inside NumPy)
    check_nbytes((2 * K, R, 2 + n + nt), 8, f"the records of {2 * K} networks at {R} steps")
    check_nbytes((width, d + 3 + 2 * (n + nt)), 8, f"one width-{width} network and its work buffers")
    return EnsembleInputs(x, y, xt, yt, width, K, n_steps, depth, seed, early_stop_rtol, steps)


def train_ensemble(x_train, y_train, x_test=None, y_test=None, *, width: int = 5000, n_members: int = 10,
                   n_steps: int = 10_000, learning_rate: float | None = None, lr_factor: float = 0.9,
                   max_learning_rate: float | None = None, force: bool = False, depth: int = 1,
                   W_std: float = W_STD, b_std: float = B_STD, seed: int = 0, record_steps=None, n_record: int = 40,
                   early_stop_rtol: float = 0.0, record_predictions: bool = True, chunk_flops: float = 5e9,
                   n_workers: int | None = None, backend: str = "auto", quiet: bool = False,
                   desc: str = "train", dtype: Any = None) -> EnsembleResult:
    """Train ``n_members`` NNQS ψ = ψ1 + iψ2 on ``(x_train, y_train)`` by full-batch gradient descent.

    Parameters
    ----------
    x_train, y_train: inputs ``(n, d)`` and complex targets ``(n,)`` (ψ_T on the train set).
    x_test, y_test: optional held-out set whose loss is recorded at the same steps.
    width, depth, W_std, b_std: the networks (:func:`nnqs_fast.networks.init_relu`; the fused step: depth 1).
    learning_rate: a given rate; default ``lr_factor × η_max`` with ``η_max = n/λ_max`` of the analytic NTK over
        the train inputs (paper: 0.9 ×). A rate above ``η_max`` raises :class:`LearningRateTooLargeError` (a
        warning with ``force=True``). ``max_learning_rate`` skips computing ``η_max``.
    record_steps: absolute steps to record (default :func:`log_record_steps` with ``n_record`` points);
        ``n_steps`` defaults to 10⁴ (the paper).
    early_stop_rtol: > 0 stops a network once ``|L_t − L_{t−1}| <= rtol L_{t−1}``; later records hold its final
        state.
    record_predictions: also accumulate the ensemble-mean wavefunction (needed for the loss of the mean).
    n_workers: networks trained concurrently on the CPU engine (default: one per OpenMP thread of the core, each
        network then single-threaded). Results do not depend on it.
    chunk_flops: CPU engine: floating-point work per network between two Ctrl-C checks.
    backend: ``"cpu"`` (the pool of fused C++ steps), ``"cuda"`` (all ``2K`` networks in one batched CUDA step,
        :func:`nnqs_fast.gpu.training.make_engine`) or ``"auto"``. Both engines run under the same driver
        (:func:`nnqs_fast.training.driver.drive`) and give the same :class:`EnsembleResult`.
    seed: member ``k`` uses ``member_seeds(seed, 2K)[2k]`` (ψ1) and ``[2k+1]`` (ψ2).
    dtype: the training precision, ``np.float64`` (default) or ``np.float32`` (float32 parameters and
        activations, float64 outputs, residuals and losses: :class:`~nnqs_fast.training.step.CPUReLUStep`);
        recorded in ``config["dtype"]``. ``η_max`` and the recorded losses are float64 either way.

    Ctrl-C stops training between chunks of steps and returns what was recorded (``interrupted=True``).
    """
    dt = check_step_dtype(dtype)
    b = resolve_backend(backend)
    make_engine = None
    if b == "cuda":
        make_engine = cuda_implementation("training.make_engine")
        if make_engine is None:
            if parse_backend(backend) == "cuda":
                raise BackendUnavailableError("no CUDA implementation of training.make_engine; use backend='cpu'")
            b = "cpu"
    t_start = time.perf_counter()
    v = validate_ensemble_inputs(_host(x_train), _host(y_train), _host(x_test), _host(y_test), width=width,
                                 n_members=n_members, n_steps=n_steps, depth=depth, seed=seed,
                                 early_stop_rtol=early_stop_rtol, record_steps=record_steps, n_record=n_record)
    x, y, xt, yt, steps = v.x, v.y, v.xt, v.yt, v.steps
    width, K, n_steps, depth, seed, early_stop_rtol = v.width, v.K, v.n_steps, v.depth, v.seed, v.early_stop_rtol
    if max_learning_rate is None and make_engine is not None:
        gpu_eta = cuda_implementation("training.max_learning_rate_for")
        if gpu_eta is not None:
            max_learning_rate = gpu_eta(x, depth=depth, W_std=W_std, b_std=b_std)
    lr, max_lr = _resolve_lr(x, learning_rate, lr_factor, max_learning_rate, force, depth, W_std, b_std)

    R, n, nt = steps.size, x.shape[0], (0 if xt is None else xt.shape[0])
    seeds_flat = member_seeds(seed, 2 * K)
    seeds = np.array(seeds_flat, dtype=np.uint64).reshape(K, 2)
    # network m = 2k + p is part p (0: real, 1: imaginary) of member k
    params = [init_relu(seeds_flat[m], x.shape[1], width, depth, W_std=W_std, b_std=b_std) for m in range(2 * K)]
    ytr = np.stack([y.real if m % 2 == 0 else y.imag for m in range(2 * K)])
    yte = None if yt is None else np.stack([yt.real if m % 2 == 0 else yt.imag for m in range(2 * K)])
    engine: Engine
    if make_engine is not None:
        engine = make_engine(params, x, ytr, lr, xt, yte, **({} if dt == np.float64 else {"dtype": dt}))
    else:
        engine = CPUStepPool([make_step(params[m], x, ytr[m], lr, xt, None if yte is None else yte[m], dtype=dt)
                              for m in range(2 * K)], n, nt, n_workers=n_workers, chunk_flops=chunk_flops)
    out = drive(engine, steps, n_steps, record_predictions=record_predictions, early_stop_rtol=early_stop_rtol,
                quiet=quiet, desc=desc)
    for m, t in diverged_units(out):
        k, p = divmod(m, 2)
        warnings.warn(PrecisionLossWarning.member_diverged(k, p + 1, t, lr, max_lr), stacklevel=2)
    stopped = np.where(out.status != 0, out.stop_step, -1).reshape(K, 2).astype(np.int64)
    part_tr, part_te = out.train_loss.reshape(K, 2, R), out.test_loss.reshape(K, 2, R)
    st = ensemble_statistics(part_tr, part_te,
                             None if out.train_pred is None else out.train_pred.reshape(K, 2, R, n),
                             None if out.test_pred is None or not nt else out.test_pred.reshape(K, 2, R, nt), y, yt)
    config = {"width": width, "depth": depth, "n_members": K, "n_steps": n_steps, "W_std": W_std, "b_std": b_std,
              "seed": seed, "n_train": n, "n_test": nt, "lr_factor": None if learning_rate is not None else lr_factor,
              "learning_rate_given": learning_rate, "early_stop_rtol": early_stop_rtol, "force": force,
              "dtype": dt.name}
    return EnsembleResult(steps=steps, train_loss=st["train_loss"], test_loss=st["test_loss"],
                          part_train_loss=part_tr, part_test_loss=part_te, train_loss_ensemble=st["ens_tr"],
                          test_loss_ensemble=st["ens_te"], train_loss_of_mean=st["lom_tr"],
                          test_loss_of_mean=st["lom_te"], seeds=seeds, stopped_at=stopped, learning_rate=lr,
                          max_learning_rate=max_lr, config=config,
                          members_done=int(np.sum(np.all(out.finished.reshape(K, 2), axis=1))),
                          interrupted=out.interrupted, wall_time_s=time.perf_counter() - t_start, backend=b,
                          mean_train_prediction=st["mean_tr"], mean_test_prediction=st["mean_te"])


def _host(a: Any) -> Any:
    return None if a is None else to_numpy(a)
