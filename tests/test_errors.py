"""nnqs_fast.errors: every class states cause and fix; errors built from data carry their data and one message."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnqs_fast as nf
from nnqs_fast import errors


def test_every_class_documents_cause_and_fix():
    for name in errors.__all__:
        doc = getattr(errors, name).__doc__ or ""
        assert "Cause" in doc and "Fix" in doc, name


def test_learning_rate_error_from_data():
    e = errors.LearningRateTooLargeError(0.5, 0.2, 10, alternative="pass force=True")
    assert isinstance(e, ValueError) and (e.learning_rate, e.eta_max, e.n) == (0.5, 0.2, 10)
    msg = str(e)
    for part in ("0.5", "0.2", "n = 10", "0.18", "force=True", "maximal stable rate"):
        assert part in msg, part
    assert str(errors.LearningRateTooLargeError("prepared message")) == "prepared message"


def test_trainer_and_closed_form_use_the_same_message():
    """Both the finite-width trainer and the closed-form predictor raise the data-built message."""
    x = np.random.default_rng(0).normal(size=(6, 3))
    y = np.ones(6)
    eta = nf.training.max_learning_rate_for(x)
    with pytest.raises(errors.LearningRateTooLargeError, match="maximal stable rate") as e1:
        nf.train_ensemble(x, y, width=8, n_members=1, n_steps=2, learning_rate=2 * eta, quiet=True, backend="cpu")
    assert e1.value.eta_max == pytest.approx(eta) and e1.value.n == 6
    ntk = nf.relu_kernel_fn()(x, get="ntk")
    pred = nf.qsntk_mse_predictor(ntk, y, 2 * eta, discrete=True)
    with pytest.raises(errors.LearningRateTooLargeError, match="maximal stable rate") as e2:
        pred(10)
    assert e2.value.eta_max == pytest.approx(eta, rel=1e-10)


def test_kernel_and_memory_errors_from_data():
    e = errors.KernelNotPositiveDefiniteError("K", -1e-3, 2.0, 1e-9, 2e-3)
    assert "smallest eigenvalue -0.001" in str(e) and "diag_reg >= 0.002" in str(e) and e.lam_min == -1e-3
    assert "non-finite" in str(errors.KernelNotPositiveDefiniteError.non_finite("K"))
    m = errors.MemoryLimitError(3 * 1024**3, "the matrix", 1024**3)
    assert isinstance(m, MemoryError) and "3.00 GiB" in str(m) and "1.00 GiB" in str(m)
    w = errors.PrecisionLossWarning.member_diverged(3, 2, 17, 0.1, 0.09)
    with pytest.warns(errors.PrecisionLossWarning, match="member 3 part 2: the loss became non-finite at step 17"):
        warnings.warn(w, stacklevel=1)
