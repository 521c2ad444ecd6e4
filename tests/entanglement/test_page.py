"""Page and Haar values: hand-computed small cases, the digamma path, Eq. S40's accuracy, Haar-random averages."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from nnqs_fast import errors
from nnqs_fast.entanglement import (
    entanglement_spectrum,
    entropy_from_spectrum,
    haar_purity,
    max_entropy,
    page_entropy,
    page_entropy_approx,
    page_entropy_sites,
)


def test_small_cases_by_hand():
    # m = n = 2: 1/3 + 1/4 − 1/4 = 1/3;  m = 2, n = 3: 1/4 + 1/5 + 1/6 − 1/6 = 9/20
    assert page_entropy(2, 2) == pytest.approx(1 / 3, rel=1e-15)
    assert page_entropy(2, 3) == pytest.approx(9 / 20, rel=1e-15)
    assert page_entropy(3, 2) == page_entropy(2, 3)
    # m = 3, n = 3: Σ_{k=4}^{9} 1/k − 2/6, exact rational arithmetic
    exact = sum(Fraction(1, k) for k in range(4, 10)) - Fraction(2, 6)
    assert page_entropy(3, 3) == pytest.approx(float(exact), rel=1e-15)
    assert page_entropy(1, 7) == 0.0
    assert page_entropy(2, 2, base=2) == pytest.approx(1 / 3 / math.log(2))
    assert haar_purity(2, 2) == pytest.approx(4 / 5)
    assert haar_purity(1, 5) == 1.0
    assert max_entropy(4, 16) == pytest.approx(math.log(4))
    assert max_entropy(16, 4) == pytest.approx(math.log(4))


def test_digamma_path_matches_direct_sum_and_large_sizes():
    m, n = 2 ** 9, 2 ** 9  # m n = 262144 > direct-sum limit -> digamma
    direct = math.fsum(1.0 / k for k in range(n + 1, m * n + 1)) - (m - 1) / (2 * n)
    assert page_entropy(m, n) == pytest.approx(direct, rel=1e-13)
    # far beyond float range: S -> log m − 1/2 for m = n (Page)
    big = page_entropy(2 ** 500, 2 ** 500)
    assert big == pytest.approx(500 * math.log(2) - 0.5, rel=1e-15)
    np.testing.assert_allclose(page_entropy_sites(6, [1, 3, 5]),
                               [page_entropy(2, 32), page_entropy(8, 8), page_entropy(32, 2)])


def test_s40_approximation_close_for_large_n():
    for m, n in ((4, 1024), (16, 4096), (8, 8)):
        exact, approx = page_entropy(m, n), page_entropy_approx(m, n)
        # Page: S = log m − m/(2n) + O(1/(mn)); S40 differs from it by 1/(2mn)
        assert abs(exact - approx) < 2.0 / (m * n)


def test_against_haar_random_states(rng):
    m, n, samples = 2, 4, 4000
    z = rng.normal(size=(samples, m * n)) + 1j * rng.normal(size=(samples, m * n))
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    p = entanglement_spectrum(z, 1, 3)  # site 0 vs sites 1, 2: D_A = 2, D_B = 4
    s = entropy_from_spectrum(p)
    pur = np.sum(p ** 2, axis=1)
    assert abs(s.mean() - page_entropy(m, n)) < 4 * s.std() / math.sqrt(samples)
    assert abs(pur.mean() - haar_purity(m, n)) < 4 * pur.std() / math.sqrt(samples)


def test_errors():
    with pytest.raises(errors.InvalidInputError):
        page_entropy(0, 2)
    with pytest.raises(errors.InvalidInputError):
        haar_purity(2.5, 2)
    with pytest.raises(errors.InvalidInputError):
        page_entropy(2, 2, base=1)
    with pytest.raises(errors.InvalidInputError):
        page_entropy_sites(4, 5)
