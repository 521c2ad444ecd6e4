"""nnqs_fast.training — finite-width NNQS ensembles trained by full-batch gradient descent (paper Figs. 2–3).

* :func:`train_ensemble` -> :class:`EnsembleResult` (per-member, ensemble-average and ensemble-mean losses at
  log-spaced steps), :func:`log_record_steps`, :func:`max_learning_rate_for` (0.9 × this is the paper's rate).
* :class:`GDStep` — the step interface (C++ :class:`CPUReLUStep`, NumPy :class:`NumpyReLUStep`, CUDA in nnqs_fast.gpu),
  :func:`make_step`, :class:`StepRecord`.
"""

from .step import CPUReLUStep, GDStep, NumpyReLUStep, StepRecord, make_step
from .trainer import EnsembleResult, log_record_steps, max_learning_rate_for, train_ensemble

__all__ = ["train_ensemble", "EnsembleResult", "log_record_steps", "max_learning_rate_for", "GDStep",
           "StepRecord", "CPUReLUStep", "NumpyReLUStep", "make_step"]
