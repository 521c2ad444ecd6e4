"""Spectrum helpers: eigenvalues, condition number, positive definiteness, and the maximal learning rate checked
against actually iterating the linearised gradient-descent map (stable below, divergent above)."""

from __future__ import annotations

import numpy as np
import pytest

import nnqs_fast as nf
from nnqs_fast.errors import InvalidInputError, KernelNotPositiveDefiniteError, ShapeMismatchError


def _gd_error_growth(theta: np.ndarray, eta: float, steps: int = 400) -> float:
    """|e_T| / |e_0| for e <- (I - (2 eta / n) Theta) e (the loss L = (1/n) sum |psi_T - psi|^2)."""
    n = theta.shape[0]
    e = np.ones(n) / np.sqrt(n)
    A = np.eye(n) - 2 * eta / n * theta
    for _ in range(steps):
        e = A @ e
    return float(np.linalg.norm(e))


def test_eigenvalues_condition_and_summary(rng):
    x = np.unique(rng.choice([-1.0, 1.0], (40, 10)), axis=0)
    k = nf.relu_kernel_fn()(x, get="ntk")
    s = nf.kernel_spectrum(k)
    np.testing.assert_allclose(s.eigenvalues, np.linalg.eigvalsh(k), rtol=1e-10, atol=1e-14)
    assert s.lambda_min == pytest.approx(np.linalg.eigvalsh(k)[0], rel=1e-8)
    assert s.condition_number == pytest.approx(np.linalg.cond(k), rel=1e-6)
    assert s.max_learning_rate == pytest.approx(k.shape[0] / s.lambda_max, rel=1e-12)
    assert s.positive_definite
    assert set(s.summary()) == {"lambda_min", "lambda_max", "condition_number", "max_learning_rate",
                                "positive_definite"}


def test_max_learning_rate_is_the_stability_edge(rng):
    x = np.unique(rng.choice([-1.0, 1.0], (30, 8)), axis=0)
    k = nf.relu_kernel_fn()(x, get="ntk")
    eta = nf.qsntk_eta_max(k)
    assert eta == pytest.approx(k.shape[0] / np.linalg.eigvalsh(k)[-1], rel=1e-12)
    assert _gd_error_growth(k, 0.98 * eta) < 1.0      # stable
    assert _gd_error_growth(k, 1.02 * eta) > 1e2      # divergent


def test_max_learning_rate_decoupled_and_complex_paths(rng):
    x = rng.standard_normal((12, 4))
    k1 = nf.relu_kernel_fn()(x, get="ntk")
    k2 = nf.relu_kernel_fn(depth=2, W_std=1.3)(x, get="ntk")
    both = nf.qsntk_eta_max(k1, k2)
    assert both == pytest.approx(min(nf.qsntk_eta_max(k1), nf.qsntk_eta_max(k2)), rel=1e-12)
    q = nf.decoupled_qsntk(x, kernel_fn=nf.relu_kernel_fn(), kernel_fn2=nf.relu_kernel_fn(depth=2, W_std=1.3))
    assert nf.qsntk_eta_max(q) == pytest.approx(both, rel=1e-10)  # 2n / lambda_max(Omega M)
    assert nf.qsntk_eta_max(q.omega_m, omega_m=True) == pytest.approx(both, rel=1e-10)
    # complex network with mixing: the Omega M rule is the stability edge of dPsi = -(eta/n) Omega M (Psi - Psi_T)
    p = nf.init_complex_single(0, 4, 30)
    qc = nf.empirical_qsntk(p, None, x)
    eta = nf.qsntk_eta_max(qc)
    om = qc.omega_m
    n = x.shape[0]
    for f, ok in ((0.98, True), (1.02, False)):
        A = np.eye(2 * n) - f * eta / n * om
        e = np.ones(2 * n, complex)
        for _ in range(600):
            e = A @ e
        assert (np.linalg.norm(e) < np.sqrt(2 * n)) == ok


def test_positive_definite_check_reports_smallest_eigenvalue_and_fix(rng):
    v = rng.standard_normal((6, 3))
    k = v @ v.T  # rank 3: singular
    with pytest.raises(KernelNotPositiveDefiniteError, match="smallest eigenvalue") as exc:
        nf.check_positive_definite(k)
    assert "diag_reg" in str(exc.value)
    reg = float(str(exc.value).split("diag_reg >= ")[1].split()[0])
    assert nf.check_positive_definite(k + reg * np.eye(6)) > 0
    assert nf.check_positive_definite(k + np.eye(6)) == pytest.approx(np.linalg.eigvalsh(k + np.eye(6))[0])
    assert not nf.kernel_spectrum(k).positive_definite


def test_spectrum_input_errors(rng):
    with pytest.raises(ShapeMismatchError):
        nf.kernel_spectrum(rng.standard_normal((3, 4)))
    with pytest.raises(InvalidInputError):
        nf.kernel_spectrum(rng.standard_normal((4, 4)))  # not symmetric
    with pytest.raises(KernelNotPositiveDefiniteError):
        nf.qsntk_eta_max(-np.eye(3))
    with pytest.raises(InvalidInputError):
        nf.qsntk_eta_max(np.eye(3), np.eye(3), omega_m=True)


def test_eta_max_zero_lambda_raises_named_error():
    """λ_max = 0 (a zero kernel): no bound exists; every form raises KernelNotPositiveDefiniteError (not a bare
    ZeroDivisionError), the summary reports inf."""
    z = np.zeros((3, 3))
    with pytest.raises(KernelNotPositiveDefiniteError, match="largest eigenvalue"):
        nf.qsntk_eta_max(nf.qsntk_from_parts(z, z))
    with pytest.raises(KernelNotPositiveDefiniteError, match="largest eigenvalue"):
        nf.qsntk_eta_max(z)
    with pytest.raises(KernelNotPositiveDefiniteError):
        nf.kernels.spectrum.eta_max_from_lambda(0.0, 3)
    assert nf.kernel_spectrum(z).max_learning_rate == np.inf
    assert nf.kernels.spectrum.eta_max_from_lambda(4.0, 10) == 2.5
