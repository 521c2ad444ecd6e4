"""The one ensemble driver: chunks of steps, recording, early stop, Ctrl-C, for any :class:`Engine`.

An *engine* advances ``M`` units (real networks for the supervised loss; members ψ = ψ1 + iψ2 for the
function-space losses of :mod:`nnqs_fast.dynamics.losses`) by whole gradient-descent steps and records at
absolute steps. Engines:

* :class:`CPUStepPool` — ``M`` fused C++ steps (:class:`~nnqs_fast.training.step.CPUReLUStep`, or any
  :class:`~nnqs_fast.training.step.GDStep`), run concurrently on a thread pool (one network per thread, each
  single-threaded: coarse parallelism with no per-step barriers);
* ``nnqs_fast.gpu.training.GDStepCUDA`` — all networks in one batched CUDA step (supervised loss only);
* :class:`nnqs_fast.training.functional.CPULossPool` — members trained on a function-space loss.

The driver (:func:`drive`) owns everything that is not device specific: the chunk loop, the record arrays,
holding the stopping state of early-stopped units in later records, the status of every unit, the progress bar
and Ctrl-C (stop between chunks, return what was recorded, ``interrupted=True``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .._progress import progress
from .._validation import check_positive_int
from .step import STATUS_CONVERGED, STATUS_DIVERGED, STATUS_OK, GDStep

__all__ = ["Engine", "CPUStepPool", "DriveOutput", "drive", "n_workers_for", "diverged_units"]


class Engine(Protocol):
    """``M`` units advanced together by whole gradient-descent steps.

    ``run(n_steps, record_steps, record_predictions, early_stop_rtol)`` advances every unit still running by up
    to ``n_steps`` updates and returns a dict with ``train_loss``/``test_loss`` ``(M, R)`` at the absolute
    ``record_steps`` (NaN where not reached), ``status`` ``(M,)`` (0 running, 1 early-stopped, 2 diverged,
    persistent across calls), ``stop_step`` ``(M,)`` (the step a unit stopped at, −1 while running) and, with
    ``record_predictions``, ``train_pred`` ``(M, R, n)`` / ``test_pred`` ``(M, R, n_test)``.
    """

    n_units: int
    n_train: int
    n_test: int
    chunk_steps: int
    pred_dtype: Any

    def run(self, n_steps: int, record_steps: np.ndarray, record_predictions: bool = False,
            early_stop_rtol: float = 0.0) -> dict[str, np.ndarray]: ...


def n_workers_for(n_workers: int | None, n_jobs: int) -> int:
    """Units trained concurrently: default one per OpenMP thread of the core, at most one per unit."""
    if n_workers is None:
        from .._backend import core_module

        n_workers = int(core_module().max_threads())
    return max(1, min(check_positive_int(n_workers, "n_workers"), n_jobs))


class CPUStepPool:
    """The CPU engine: ``M`` independent :class:`GDStep` objects (one real network each) on a thread pool.

    ``chunk_flops`` sets the steps per chunk (``chunk_flops / flops_per_step``), i.e. how often Ctrl-C is
    honoured; results do not depend on it (nor on ``n_workers``) except through early stopping, which compares
    consecutive steps within one chunk.
    """

    def __init__(self, steps: Sequence[GDStep], n_train: int, n_test: int = 0, *, n_workers: int | None = None,
                 chunk_flops: float = 5e9) -> None:
        self.steps = list(steps)
        self.n_units = len(self.steps)
        s0 = self.steps[0]
        self.n_train, self.n_test = int(n_train), int(n_test)
        self.pred_dtype = np.float64
        self.workers = n_workers_for(n_workers, self.n_units)
        if self.workers > 1:
            for s in self.steps:
                if hasattr(s, "threads"):
                    s.threads = 1  # coarse parallelism over networks: no per-step barriers
        self.chunk_steps = max(1, int(chunk_flops / max(float(s0.flops_per_step), 1.0)))
        self.status = np.zeros(self.n_units, np.int32)
        self.stop_step = np.full(self.n_units, -1, np.int64)
        self._stop = threading.Event()

    def run(self, n_steps: int, record_steps: np.ndarray, record_predictions: bool = False,
            early_stop_rtol: float = 0.0) -> dict[str, np.ndarray]:
        M, R = self.n_units, len(record_steps)
        out: dict[str, np.ndarray] = {"train_loss": np.full((M, R), np.nan), "test_loss": np.full((M, R), np.nan)}
        if record_predictions:
            out["train_pred"] = np.full((M, R, self.n_train), np.nan)
            out["test_pred"] = np.full((M, R, self.n_test), np.nan)

        def one(m: int) -> None:
            if self.status[m] != STATUS_OK or self._stop.is_set():
                return
            s = self.steps[m]
            rec = s.run(n_steps, record_steps, record_predictions, early_stop_rtol)
            out["train_loss"][m], out["test_loss"][m] = rec.train_loss, rec.test_loss
            if record_predictions:
                out["train_pred"][m] = rec.train_pred
                if self.n_test:
                    out["test_pred"][m] = rec.test_pred
            if rec.status != STATUS_OK:
                self.status[m], self.stop_step[m] = rec.status, int(s.step)

        if self.workers == 1:
            for m in range(M):
                one(m)
        else:
            with ThreadPoolExecutor(max_workers=self.workers) as ex:
                futures = [ex.submit(one, m) for m in range(M)]
                try:
                    for f in futures:
                        f.result()
                except BaseException:
                    self._stop.set()  # networks not started yet are skipped; running ones finish their chunk
                    for f in futures:
                        f.cancel()
                    raise
        out["status"], out["stop_step"] = self.status.copy(), self.stop_step.copy()
        return out


@dataclass
class DriveOutput:
    """What :func:`drive` recorded: per unit ``(M, R)`` losses, ``(M, R, n)`` predictions (or None), the final
    ``status``/``stop_step`` ``(M,)``, ``finished`` ``(M,)`` (ran all steps or stopped), ``interrupted``."""

    train_loss: np.ndarray
    test_loss: np.ndarray
    train_pred: np.ndarray | None
    test_pred: np.ndarray | None
    status: np.ndarray
    stop_step: np.ndarray
    finished: np.ndarray
    interrupted: bool


def drive(engine: Engine, steps: np.ndarray, n_steps: int, *, record_predictions: bool = False,
          early_stop_rtol: float = 0.0, quiet: bool = False, desc: str = "train") -> DriveOutput:
    """Advance ``engine`` to ``n_steps`` in chunks of ``engine.chunk_steps``, recording at ``steps``.

    Units that stop early (status 1) hold their stopping state in every later record; diverged units (status 2)
    are NaN after the step they diverged at. Ctrl-C stops between chunks (``interrupted=True``).
    """
    M, R = engine.n_units, steps.size
    tr, te = np.full((M, R), np.nan), np.full((M, R), np.nan)
    ptr = np.full((M, R, engine.n_train if record_predictions else 0), np.nan, dtype=engine.pred_dtype)
    pte = np.full((M, R, engine.n_test if record_predictions else 0), np.nan, dtype=engine.pred_dtype)
    status = np.zeros(M, np.int32)
    stop = np.full(M, -1, np.int64)
    bar = progress(total=n_steps, desc=desc, quiet=quiet, unit="step")
    interrupted, t = False, 0
    try:
        while True:
            nxt = min(n_steps, t + max(1, int(engine.chunk_steps)))
            sel = (steps >= t) & (steps <= nxt)
            out = engine.run(nxt - t, steps[sel], record_predictions, early_stop_rtol)
            tr[:, sel], te[:, sel] = out["train_loss"], out["test_loss"]
            if record_predictions:
                ptr[:, sel] = out["train_pred"]
                if engine.n_test:
                    pte[:, sel] = out["test_pred"]
            status, stop = np.asarray(out["status"]), np.asarray(out["stop_step"])
            bar.update(nxt - t)
            t = nxt
            if t >= n_steps or bool(np.all(status != STATUS_OK)):
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    for m in np.flatnonzero(status == STATUS_CONVERGED):
        ts = int(stop[m])
        last = np.flatnonzero(steps <= ts)[-1]
        later = steps > ts
        tr[m, later], te[m, later] = tr[m, last], te[m, last]
        if record_predictions:
            ptr[m, later] = ptr[m, last]
            pte[m, later] = pte[m, last]
    finished = (status != STATUS_OK) | (t >= n_steps and not interrupted)
    return DriveOutput(tr, te, ptr if record_predictions else None, pte if record_predictions else None, status,
                       stop, np.asarray(finished, bool), interrupted)


def diverged_units(out: DriveOutput) -> list[tuple[int, int]]:
    """``(unit, step)`` of every unit whose loss became non-finite."""
    return [(int(m), int(out.stop_step[m])) for m in np.flatnonzero(out.status == STATUS_DIVERGED)]
