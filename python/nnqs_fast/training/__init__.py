"""nnqs_fast.training — finite-width NNQS ensembles trained by full-batch gradient descent (paper Figs. 2–3).

* :func:`train_ensemble` -> :class:`EnsembleResult` (supervised loss, Eq. 13: per-member, ensemble-average and
  ensemble-mean losses at log-spaced steps), :func:`log_record_steps`, :func:`max_learning_rate_for` (0.9 × this
  is the paper's rate).
* :func:`train_loss_ensemble` -> :class:`LossEnsembleResult` — the same ensembles trained on a function-space
  loss (energy, infidelity, tomography; :mod:`nnqs_fast.dynamics.losses`).
* One driver (:func:`~nnqs_fast.training.driver.drive`) with engines: :class:`CPUStepPool` (fused C++ steps on a
  thread pool), :class:`CPULossPool` (function-space losses) and the CUDA step
  (``nnqs_fast.gpu.training.GDStepCUDA``, supervised only).
* :class:`GDStep` — the one-network step interface (C++ :class:`CPUReLUStep`, NumPy :class:`NumpyReLUStep`, CUDA
  ``CUDAReLUStep``), :func:`make_step`, :class:`StepRecord`.
"""

from .driver import CPUStepPool, Engine, drive
from .functional import CPULossPool, LossEnsembleResult, train_loss_ensemble
from .step import CPUReLUStep, GDStep, NumpyReLUStep, StepRecord, make_step
from .trainer import EnsembleResult, log_record_steps, max_learning_rate_for, train_ensemble

__all__ = ["train_ensemble", "EnsembleResult", "log_record_steps", "max_learning_rate_for", "GDStep",
           "StepRecord", "CPUReLUStep", "NumpyReLUStep", "make_step", "train_loss_ensemble", "LossEnsembleResult",
           "CPULossPool", "CPUStepPool", "Engine", "drive"]
