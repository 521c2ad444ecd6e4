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


@pytest.mark.parametrize("n", [40, PSD_CHOLESKY_MIN_N, 300])
@pytest.mark.parametrize("rank", [None, 20])
def test_factor_is_a_cholesky_factor_of_the_shifted_matrix(n, rank):
    """check_psd(factor=True) returns (L, s) with L Lᵀ = K + s·1 (oracle: the product itself; s = 0 for a positive
    definite K, 0 < s ≤ 2 rtol n λ_max for a rank-deficient one), lower triangle only."""
    g = np.random.default_rng(n)
    x = g.standard_normal((n, rank or 2 * n))
    k = x @ x.T / x.shape[1]
    L, s = check_psd(k, "K", factor=True)
    lo = np.tril(L)
    np.testing.assert_allclose(lo @ lo.T, k + s * np.eye(n), atol=1e-12 * n * np.abs(k).max())
    lam_max = np.linalg.eigvalsh(k)[-1]
    assert (s == 0.0) == (rank is None) and s <= 2e-8 * n * lam_max * (1 + 1e-6)


def test_factor_refuses_indefinite_and_asymmetric():
    from nnqs_fast.errors import InvalidInputError

    lam = np.linspace(1.0, 10.0, 300)
    lam[0] = -1e-3
    with pytest.raises(KernelNotPositiveDefiniteError):
        check_psd(_with_spectrum(lam, 4), "K", factor=True)
    k = _with_spectrum(np.linspace(1.0, 2.0, 50), 5)
    k[1, 7] += 1e-4
    with pytest.raises(InvalidInputError, match="symmetric"):
        check_psd(k, "K", factor=True)
