"""The O(L) Hamming-distance path of the Wick purity (isotropic kernels on the full ±s spin basis).

Oracles: the brute four-index sum (independent: D × D kernel matrices, no Hamming reduction), the C++
partial-trace path, the Haar value for the delta kernel, and the factorised path for RBF kernels at large L.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnqs_fast import errors
from nnqs_fast.entanglement import (
    GPKernel,
    cosnet_gp_kernel,
    delta_kernel,
    haar_purity,
    rbf_kernel,
    relu_nngp_kernel,
    wick_purity,
    wick_purity_brute,
    wick_purity_factorized,
    wick_purity_hamming,
    wick_purity_partial_trace,
)


def _kernels(L):
    return {
        "relu": relu_nngp_kernel(L),
        "relu_deep": relu_nngp_kernel(L, depth=2, W_std=1.3, b_std=0.4),
        "cosnet": cosnet_gp_kernel(2.0, 1.5, L),
        "rbf": rbf_kernel(0.7, 0.3),
        "delta": delta_kernel(1.7),
    }


def _second(L):
    # a different kernel for f2 (K1 ≠ K2: P ≠ 0 and the PP contraction contributes)
    return {"same": "same", "real": None, "other_relu": relu_nngp_kernel(L, W_std=0.9, b_std=0.3),
            "other_rbf": rbf_kernel(1.3, 0.05)}


def _check_terms(r, ref):
    t = ref.terms
    logs = {"log_trace_c": t["trace_c"], "log_trace_ra2": t["trace_ra2"], "log_trace_rb2": t["trace_rb2"],
            "log_frob_c2": t["frob_c2"], "log_frob_p2": t["frob_p2"], "log_pp": t["pp"]}
    for key, val in logs.items():
        if val <= 1e-12 * t["frob_c2"]:  # P = 0 (K1 = K2): the Hamming path has exactly −inf
            assert r.terms[key] == -math.inf, key
        else:
            assert r.terms[key] == pytest.approx(math.log(val), rel=1e-12, abs=1e-12), key


@pytest.mark.parametrize("L,subsystems", [(4, [1, 2, [1, 3]]), (6, [0, 3, [0, 5], [1, 2, 4, 5], 6]),
                                          (8, [2, 5, [0, 3, 6], [7]])])
@pytest.mark.parametrize("kname", ["relu", "relu_deep", "cosnet", "rbf", "delta"])
@pytest.mark.parametrize("k2name", ["same", "real", "other_relu", "other_rbf"])
def test_equals_brute_four_index_sum(L, subsystems, kname, k2name):
    k1, k2 = _kernels(L)[kname], _second(L)[k2name]
    for A in subsystems:
        r = wick_purity_hamming(k1, k2, n_sites=L, subsystem=A)
        ref = wick_purity_brute(k1, k2, n_sites=L, subsystem=A)
        assert r.method == "hamming"
        assert (r.dim_a, r.dim_b) == (ref.dim_a, ref.dim_b)
        assert r.purity == pytest.approx(ref.purity, rel=1e-12, abs=1e-14), A
        assert r.log_numerator == pytest.approx(ref.log_numerator, rel=1e-12, abs=1e-12)
        assert r.log_denominator == pytest.approx(ref.log_denominator, rel=1e-12, abs=1e-12)
        _check_terms(r, ref)


def test_pp_term_is_nonzero_and_matters_for_different_kernels():
    # the PP contraction is the only place K1 − K2 enters the numerator: check it against the brute value and that
    # dropping it would be detected
    L, A = 6, [0, 2, 3]
    k1, k2 = relu_nngp_kernel(L), rbf_kernel(1.3, 0.05)
    r = wick_purity_hamming(k1, k2, n_sites=L, subsystem=A)
    ref = wick_purity_brute(k1, k2, n_sites=L, subsystem=A)
    assert ref.terms["pp"] > 1e-3 * ref.terms["trace_ra2"]
    assert math.exp(r.terms["log_pp"]) == pytest.approx(ref.terms["pp"], rel=1e-12)
    assert r.purity == pytest.approx(ref.purity, rel=1e-12)


def test_spin_scale_pm_s():
    L, A = 5, [0, 3]
    for k in (relu_nngp_kernel(L), cosnet_gp_kernel(1.0, 2.0, L)):
        for sv in ((-0.5, 0.5), (2.0, -2.0)):
            r = wick_purity_hamming(k, rbf_kernel(0.4, 0.2), n_sites=L, subsystem=A, spin_values=sv)
            ref = wick_purity_brute(k, rbf_kernel(0.4, 0.2), n_sites=L, subsystem=A, spin_values=sv)
            assert r.purity == pytest.approx(ref.purity, rel=1e-12)


@pytest.mark.parametrize("L,LA", [(5, 2), (10, 3), (40, 17), (1000, 500)])
def test_delta_kernel_is_haar_value(L, LA):
    r = wick_purity_hamming(delta_kernel(3.0), "same", n_sites=L, subsystem=LA)
    if L <= 40:
        assert r.purity == pytest.approx(haar_purity(2 ** LA, 2 ** (L - LA)), rel=1e-12)
    else:  # (m + n)/(mn + 1) with m = n = 2^500: 2^{-499} to double precision, in logs
        assert r.renyi2 == pytest.approx(499 * math.log(2), rel=1e-12)


@pytest.mark.parametrize("k2name", ["same", "real", "other_relu"])
def test_equals_cpp_partial_trace_at_L12(k2name):
    L = 12
    k2 = _second(L)[k2name]
    for k1 in (relu_nngp_kernel(L), cosnet_gp_kernel(3.0, 2.0, L)):
        for A in (6, [0, 4, 7, 11, 5]):
            r = wick_purity_hamming(k1, k2, n_sites=L, subsystem=A)
            ref = wick_purity_partial_trace(k1, k2, n_sites=L, subsystem=A)
            assert r.purity == pytest.approx(ref.purity, rel=1e-12)
            assert r.log_denominator == pytest.approx(ref.log_denominator, rel=1e-12)
            assert r.terms["log_trace_ra2"] == pytest.approx(math.log(ref.terms["trace_ra2"]), rel=1e-12)


def test_large_L_is_finite_and_matches_factorized():
    L = 1000
    r = wick_purity_hamming(relu_nngp_kernel(L), relu_nngp_kernel(L, W_std=0.9), n_sites=L, subsystem=500)
    assert np.isfinite([r.purity, r.renyi2, r.log_numerator, r.log_denominator]).all()
    assert 0 < r.purity <= 1 and r.log_numerator > 700  # the linear numerator would overflow
    assert all(not math.isnan(v) for v in r.terms.values())
    # RBF kernels also factorise over sites: two independent O(L) formulas agree at L = 1000
    for k, k2, A in ((cosnet_gp_kernel(10.0, math.sqrt(2 * L), L), "same", 500),
                     (cosnet_gp_kernel(1.0, 0.5, L), None, list(range(0, L, 3))),
                     (rbf_kernel(1.0, 0.01), rbf_kernel(0.5, 0.002), 123)):
        r = wick_purity_hamming(k, k2, n_sites=L, subsystem=A)
        f = wick_purity_factorized(k, k2, n_sites=L, subsystem=A)
        # renyi2 = log N2 − log Q with both logs ~ 1e3: agreement to a few ulps of the logs
        assert r.renyi2 == pytest.approx(f.renyi2, rel=1e-11, abs=64 * np.finfo(float).eps * f.log_denominator)
        assert r.log_denominator == pytest.approx(f.log_denominator, rel=1e-13)


def test_auto_picks_hamming():
    for L in (6, 1000):
        for k1, k2 in ((relu_nngp_kernel(L), "same"), (cosnet_gp_kernel(2.0, 1.0, L), None),
                       (relu_nngp_kernel(L), rbf_kernel(1.0, 0.1))):
            r = wick_purity(k1, k2, n_sites=L, subsystem=L // 2)
            assert r.method == "hamming"
            if L == 6:
                assert r.purity == pytest.approx(wick_purity_brute(k1, k2, n_sites=L, subsystem=L // 2).purity,
                                                 rel=1e-12)
    # explicit methods are kept; asymmetric spin values fall back to the factorised / partial-trace paths
    k = cosnet_gp_kernel(2.0, 1.0, 5)
    assert wick_purity(k, n_sites=5, subsystem=2, method="hamming").method == "hamming"
    assert wick_purity(k, n_sites=5, subsystem=2, method="partial_trace").method == "partial_trace"
    assert wick_purity(k, n_sites=5, subsystem=2, spin_values=(0.0, 1.0)).method == "factorized"
    r = wick_purity(relu_nngp_kernel(5), n_sites=5, subsystem=2, spin_values=(0.0, 1.0))
    assert r.method == "partial_trace"
    assert r.purity == pytest.approx(
        wick_purity_brute(relu_nngp_kernel(5), n_sites=5, subsystem=2, spin_values=(0.0, 1.0)).purity, rel=1e-12)


def test_errors():
    k = relu_nngp_kernel(4)
    with pytest.raises(errors.InvalidInputError, match="symmetric spin values"):
        wick_purity_hamming(k, n_sites=4, subsystem=2, spin_values=(0.0, 1.0))
    with pytest.raises(errors.InvalidInputError, match="symmetric spin values"):
        wick_purity(k, n_sites=4, subsystem=2, method="hamming", spin_values=(-1.0, 2.0))
    with pytest.raises(errors.InvalidInputError, match="isotropic"):
        wick_purity_hamming(lambda x, y: x @ y.T, n_sites=4, subsystem=2)
    with pytest.raises(errors.InvalidInputError, match="isotropic"):
        wick_purity_hamming(k, (1.0, np.eye(2)), n_sites=4, subsystem=2)
    with pytest.raises(errors.InvalidInputError, match="not positive"):
        wick_purity_hamming(GPKernel("zero"), n_sites=3, subsystem=1)
    with pytest.raises(errors.InvalidInputError):
        wick_purity_hamming(k, n_sites=4, subsystem=[4])
    with pytest.raises(errors.InvalidInputError):
        wick_purity_hamming(k, "other", n_sites=4, subsystem=1)


def test_isotropic_is_computed_and_auto_picks_the_right_path():
    """Isotropic (functions of |x − y|²: rbf, delta) vs non-isotropic (the ReLU NNGP depends on |x|, |y|) kernels.

    On ±1 spins both depend on the Hamming distance only (auto: hamming); on (0, 1) spins only the isotropic one
    does, so the Hamming path is valid for rbf (equal to the brute sum) and must be refused for ReLU, where auto
    takes the partial-trace path (equal to the brute sum)."""
    iso, non_iso = cosnet_gp_kernel(1.2, 0.9, 5), relu_nngp_kernel(5)
    assert iso.isotropic and delta_kernel(1.0).isotropic and GPKernel("zero").isotropic
    assert not non_iso.isotropic
    for k in (iso, non_iso):
        assert wick_purity(k, n_sites=5, subsystem=2).method == "hamming"
        assert k.hamming_reducible((-1.0, 1.0)) and k.hamming_reducible((2.0, -2.0))
    assert iso.hamming_reducible((0.0, 1.0)) and not non_iso.hamming_reducible((0.0, 1.0))
    assert not iso.hamming_reducible((1.0, 1.0))
    for vals in ((0.0, 1.0), (0.5, 2.0)):
        ref = wick_purity_brute(iso, None, n_sites=5, subsystem=(0, 3), spin_values=vals)
        r = wick_purity_hamming(iso, None, n_sites=5, subsystem=(0, 3), spin_values=vals)
        assert r.purity == pytest.approx(ref.purity, rel=1e-12)
        assert wick_purity(iso, n_sites=5, subsystem=2, spin_values=vals).method == "factorized"
        r = wick_purity(non_iso, None, n_sites=5, subsystem=(0, 3), spin_values=vals)
        assert r.method == "partial_trace"
        assert r.purity == pytest.approx(
            wick_purity_brute(non_iso, None, n_sites=5, subsystem=(0, 3), spin_values=vals).purity, rel=1e-12)
        with pytest.raises(errors.InvalidInputError, match="not isotropic"):
            wick_purity_hamming(non_iso, n_sites=5, subsystem=2, spin_values=vals)
