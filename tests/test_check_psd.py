"""check_psd: the Cholesky certificate (n ≥ PSD_CHOLESKY_MIN_N) gives the same verdict as the eigenvalue rule."""

import numpy as np
import pytest

from nnqs_fast._validation import PSD_CHOLESKY_MIN_N, check_psd
from nnqs_fast.errors import KernelNotPositiveDefiniteError


def _with_spectrum(lam: np.ndarray, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((lam.size, lam.size)))
    k = (q * lam) @ q.T
    return (k + k.T) / 2


@pytest.mark.parametrize("n", [PSD_CHOLESKY_MIN_N, 300])
def test_rank_deficient_gram_accepted(n):
    x = np.random.default_rng(1).standard_normal((n, 20))
    check_psd(x @ x.T, "K")  # λ_min = 0 up to round-off (rank 20): PSD


@pytest.mark.parametrize("n", [PSD_CHOLESKY_MIN_N, 300])
def test_indefinite_refused_with_exact_eigenvalue(n):
    lam = np.linspace(1.0, 10.0, n)
    lam[0] = -1e-3  # far below −rtol·n·λ_max = −2.6e-5 at n=256
    with pytest.raises(KernelNotPositiveDefiniteError, match=r"smallest eigenvalue -0\.001"):
        check_psd(_with_spectrum(lam, 2), "K")


def test_tiny_negative_within_tolerance_accepted():
    n = 300
    lam = np.linspace(1.0, 10.0, n)
    lam[0] = -1e-9 * 10.0 * n  # inside rtol·n·λ_max (rtol = 1e-8): accepted, as by the eigenvalue rule
    check_psd(_with_spectrum(lam, 3), "K")
