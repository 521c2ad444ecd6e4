"""Wick/GP purity: the three paths (and the matrix path) equal the brute four-index sum; the delta kernel gives
the Haar value exactly; the contractions agree with Monte Carlo over sampled Gaussian wavefunctions; the C++
kernels equal the NumPy ones; the ReLU NNGP equals a wide-network average."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnqs_fast import errors
from nnqs_fast._backend import core_module
from nnqs_fast.entanglement import (
    GPKernel,
    cosnet_gp_kernel,
    delta_kernel,
    gaussnet_gp_kernel,
    haar_purity,
    page_entropy,
    rbf_kernel,
    relu_nngp_kernel,
    spin_basis_inputs,
    wick_purity,
    wick_purity_brute,
    wick_purity_factorized,
    wick_purity_from_matrices,
    wick_purity_partial_trace,
)
from nnqs_fast.entanglement.entropy import schmidt_matrix

L = 5
PAIRS = [
    (cosnet_gp_kernel(1.3, 1.1, L), "same"),
    (cosnet_gp_kernel(1.3, 1.1, L), None),
    (cosnet_gp_kernel(1.3, 1.1, L), gaussnet_gp_kernel(0.7, 2.0, L)),
    (relu_nngp_kernel(L), "same"),
    (relu_nngp_kernel(L), None),
    (relu_nngp_kernel(L), relu_nngp_kernel(L, 2, 1.0, 0.3)),
]


@pytest.mark.parametrize("k1,k2", PAIRS)
@pytest.mark.parametrize("A", [2, (0, 3), (1, 2, 4), (4,)])
def test_all_paths_equal_brute_force(k1, k2, A):
    ref = wick_purity_brute(k1, k2, n_sites=L, subsystem=A)
    others = [wick_purity_from_matrices(k1, k2, n_sites=L, subsystem=A),
              wick_purity_partial_trace(k1, k2, n_sites=L, subsystem=A),
              wick_purity_partial_trace(k1, k2, n_sites=L, subsystem=A, compress=False, tile=7)]
    if k1.factorizes and (not isinstance(k2, GPKernel) or k2.factorizes):
        others.append(wick_purity_factorized(k1, k2, n_sites=L, subsystem=A))
    for r in others:
        assert r.purity == pytest.approx(ref.purity, rel=1e-12), r.method
        assert r.log_numerator == pytest.approx(ref.log_numerator, rel=1e-12, abs=1e-12), r.method
        assert r.log_denominator == pytest.approx(ref.log_denominator, rel=1e-12), r.method
        assert r.renyi2 == pytest.approx(-math.log(ref.purity), rel=1e-11, abs=1e-12)
    for key in ("trace_c", "trace_ra2", "trace_rb2", "frob_c2", "frob_p2", "pp"):
        for r in others[:3]:
            assert r.terms[key] == pytest.approx(ref.terms[key], rel=1e-11, abs=1e-9), (r.method, key)


def test_user_matrices_and_callables_rank_one_oracle(rng):
    """Oracle: for a rank-one kernel K = v vᵀ, ψ = g v with a scalar Gaussian g (real: K2 = 0; complex: K2 = K1),
    so ψ/‖ψ‖ = ±v/‖v‖ and E‖ψ‖⁴Trρ²/E‖ψ‖⁴ is exactly the purity of the fixed state v (an SVD in NumPy)."""
    Ls = 4
    v = rng.normal(size=2 ** Ls)
    # A = sites {0, 1} (the low bits of the index): rows of the reshape are B = sites {2, 3}, columns A
    s = np.linalg.svd(v.reshape(4, 4) / np.linalg.norm(v), compute_uv=False)
    oracle = float(np.sum(s ** 4))
    K = np.outer(v, v)
    for k2 in (None, "same"):
        assert wick_purity_from_matrices(K, k2, n_sites=Ls, subsystem=(0, 1)).purity == pytest.approx(oracle,
                                                                                                     rel=1e-12)
    # the same kernel as a callable k(X1, X2) of the spin inputs (bit i of the index = site i, +1 = bit 1)
    codes = lambda X: (((X + 1) // 2).astype(int) << np.arange(Ls)).sum(axis=1)  # noqa: E731
    r = wick_purity_from_matrices(lambda a, b: np.outer(v[codes(a)], v[codes(b)]), None, n_sites=Ls,
                                  subsystem=(1, 0))
    assert r.purity == pytest.approx(oracle, rel=1e-12)
    with pytest.raises(errors.ShapeMismatchError):
        wick_purity_from_matrices(np.eye(8), n_sites=4, subsystem=1)


@pytest.mark.parametrize("method", ["factorized", "partial_trace", "brute", "matrix"])
@pytest.mark.parametrize("LA,Ltot", [(1, 4), (2, 4), (3, 7), (2, 6)])
def test_delta_kernel_gives_exact_haar_value(method, LA, Ltot):
    m, n = 2 ** LA, 2 ** (Ltot - LA)
    for k in (delta_kernel(0.7), cosnet_gp_kernel(10.0, 1e4, Ltot)):  # σ_w -> ∞: exp underflows to exactly 0
        r = wick_purity(k, "same", n_sites=Ltot, subsystem=LA, method=method)
        assert r.purity == pytest.approx(haar_purity(m, n), rel=1e-14)
        assert r.haar_purity == pytest.approx(haar_purity(m, n), rel=1e-15)


def test_mc_over_sampled_gaussian_wavefunctions(rng):
    Ls, LA, S = 4, 2, 20000
    X = spin_basis_inputs(Ls)
    cases = [(cosnet_gp_kernel(1.0, 1.0, Ls), "same"), (cosnet_gp_kernel(1.0, 1.5, Ls), None),
             (relu_nngp_kernel(Ls), gaussnet_gp_kernel(0.8, 1.0, Ls))]
    for k1, k2 in cases:
        K1 = k1(X)
        K2 = K1 if k2 == "same" else (np.zeros_like(K1) if k2 is None else k2(X))
        f1 = rng.normal(size=(S, 16)) @ np.linalg.cholesky(K1 + 1e-12 * np.eye(16)).T
        f2 = rng.normal(size=(S, 16)) @ np.linalg.cholesky(K2 + 1e-12 * np.eye(16)).T if np.any(K2) else 0.0
        psi = f1 + 1j * f2
        M = schmidt_matrix(psi, LA, normalize=False, atol=np.inf)
        rho = M @ np.conj(np.swapaxes(M, -1, -2))
        q = np.real(np.einsum("sij,sji->s", rho, rho))  # Σ ψψψ*ψ* per sample (Eq. S35, unnormalised)
        n2 = np.sum(np.abs(psi) ** 2, axis=1) ** 2
        r = wick_purity(k1, k2, n_sites=Ls, subsystem=LA, method="partial_trace")
        assert abs(q.mean() - r.numerator) < 4.5 * q.std() / math.sqrt(S)
        assert abs(n2.mean() - r.denominator) < 4.5 * n2.std() / math.sqrt(S)


def test_cpp_kernels_equal_numpy_kernels(rng):
    core = core_module()
    dot = rng.normal(size=50)
    n1, n2 = 3 + rng.random(50), 3 + rng.random(50)
    for k in (cosnet_gp_kernel(2.0, 1.5, 6), relu_nngp_kernel(6), relu_nngp_kernel(6, 3, 1.2, 0.4), delta_kernel(2.0)):
        np.testing.assert_allclose(core.wick_kernel_eval(k.code, k.param_array(), dot, n1, n2),
                                   k.from_products(dot, n1, n2), rtol=1e-13, atol=1e-15)


def test_relu_nngp_equals_wide_network_average(rng):
    """E over the readout of f(x) f(y) given a very wide hidden layer (independent of the arc-cos formula)."""
    d, N, W, b = 5, 400000, 0.5, 0.1
    x = rng.choice([-1.0, 1.0], size=(3, d))
    z = (W / math.sqrt(d)) * x @ rng.normal(size=(d, N)) + b * rng.normal(size=N)
    h = np.maximum(z, 0)
    emp = W * W * (h @ h.T) / N + b * b
    np.testing.assert_allclose(relu_nngp_kernel(d, 1, W, b)(x), emp, rtol=1e-2)


def test_factorized_large_L_closed_form():
    """L = 1000 against the closed form of the same-kernel rbf on ±1 spins (c = 2k, P = 0, per-site factor
    [[1, q], [q, 1]] with q = exp(−4γ)): Tr C = 2a·2^L, ‖C‖² = 4a²·2^L(1 + q²)^L,
    Tr R_A² = 4a²·2^(L_A + 2 L_B)(1 + q²)^(L_A). (Timing: bench/test_bench_entanglement.py, group wick-factorized.)"""
    L, LA = 1000, 500
    k = cosnet_gp_kernel(10.0, math.sqrt(2 * L), L)  # a = 50, γ = 1
    r = wick_purity_factorized(k, n_sites=L, subsystem=LA)
    la, l2, l1q = math.log(4 * 50.0 ** 2), math.log(2.0), math.log1p(math.exp(-8.0))
    lnum = np.logaddexp(la + (LA + 2 * (L - LA)) * l2 + LA * l1q, la + ((L - LA) + 2 * LA) * l2 + (L - LA) * l1q)
    lden = np.logaddexp(2 * (math.log(100.0) + L * l2), la + L * l2 + L * l1q)
    assert r.renyi2 == pytest.approx(lden - lnum, rel=1e-12)
    assert math.isfinite(r.renyi2) and 0 < r.renyi2 < 500 * math.log(2)
    # the near-delta kernel is close to the Haar value −log((m+n)/(mn+1)) ≈ 499 log 2
    assert r.renyi2 == pytest.approx(499 * math.log(2), abs=0.5)
    assert r.renyi2 <= page_entropy(2 ** 500, 2 ** 500)
    # agrees with the partial-trace path where both run
    for LL, A in ((12, 5), (9, (0, 4, 8))):
        k = cosnet_gp_kernel(3.0, 2.0, LL)
        assert wick_purity_factorized(k, None, n_sites=LL, subsystem=A).purity == pytest.approx(
            wick_purity_partial_trace(k, None, n_sites=LL, subsystem=A).purity, rel=1e-12)


def test_errors():
    with pytest.raises(errors.InvalidInputError, match="does not factorise"):
        wick_purity(relu_nngp_kernel(4), n_sites=4, subsystem=2, method="factorized")
    with pytest.raises(errors.InvalidInputError):
        wick_purity(cosnet_gp_kernel(1, 1, 4), "other", n_sites=4, subsystem=2)
    with pytest.raises(errors.InvalidInputError):
        wick_purity(cosnet_gp_kernel(1, 1, 4), n_sites=4, subsystem=2, method="magic")
    with pytest.raises(errors.InvalidInputError):
        wick_purity_brute(cosnet_gp_kernel(1, 1, 13), n_sites=13, subsystem=2)
    with pytest.raises(errors.InvalidInputError):
        wick_purity(cosnet_gp_kernel(1, 1, 4), n_sites=4, subsystem=[5])
    with pytest.raises(errors.InvalidInputError):
        GPKernel("matern")
    with pytest.raises(errors.InvalidInputError):
        wick_purity(GPKernel("zero"), n_sites=3, subsystem=1, method="partial_trace")


def test_factorized_per_site_factors_equal_matrix_path(rng):
    """Site-dependent product kernels (K1 ≠ K2, different per site) against the full-matrix contraction."""
    Ls = 5
    bits = (np.arange(2 ** Ls)[:, None] >> np.arange(Ls)[None, :]) & 1

    def factors():
        F = np.empty((Ls, 2, 2))
        for i in range(Ls):
            x = rng.random()
            F[i] = [[1.0 + x, 0.3 * x], [0.3 * x, 1.0]]
        return F

    F1, F2 = factors(), factors()

    def full(amp, F):
        return amp * np.prod(F[np.arange(Ls)[None, None, :], bits[:, None, :], bits[None, :, :]], axis=-1)

    for A in ([0, 2], [1, 3, 4], [4]):
        for k2, K2 in (((0.4, F2), full(0.4, F2)), (None, None), ("same", "same")):
            ref = wick_purity_from_matrices(full(1.3, F1), K2, n_sites=Ls, subsystem=A)
            r = wick_purity_factorized((1.3, F1), k2, n_sites=Ls, subsystem=A)
            assert r.purity == pytest.approx(ref.purity, rel=1e-12)


@pytest.mark.parametrize("compress", [True, False])
def test_generic_product_features_equal_brute_force(rng, compress):
    """Non-spin inputs x = (x_A, x_B) with unequal norms (no hidden symmetry): explicit four-index Wick sum."""
    XA, XB = rng.normal(size=(3, 2)), rng.normal(size=(4, 3))
    XA[1] = XA[0]  # repeated rows exercise the compression multiplicities
    DA, DB = 3, 4
    X = np.concatenate([np.repeat(XA, DB, axis=0), np.tile(XB, (DA, 1))], axis=1)  # x = a*DB + b
    for k1, k2 in ((relu_nngp_kernel(5), "same"), (relu_nngp_kernel(5), rbf_kernel(0.5, 0.3)),
                   (rbf_kernel(1.0, 0.2), None)):
        K1 = k1(X)
        K2 = K1 if k2 == "same" else (np.zeros_like(K1) if k2 is None else k2(X))
        C, P = K1 + K2, K1 - K2
        num = den = 0.0
        for a1 in range(DA):
            for a2 in range(DA):
                for b1 in range(DB):
                    for b2 in range(DB):
                        x11, x22, x21, x12 = a1 * DB + b1, a2 * DB + b2, a2 * DB + b1, a1 * DB + b2
                        num += P[x11, x22] * P[x21, x12] + C[x11, x21] * C[x22, x12] + C[x11, x12] * C[x22, x21]
        den = np.trace(C) ** 2 + np.sum(C * C) + np.sum(P * P)
        r = wick_purity_partial_trace(k1, k2, features_a=XA, features_b=XB, compress=compress)
        assert r.purity == pytest.approx(num / den, rel=1e-12)


def test_gp_kernels_equal_the_kernels_area(rng):
    """The Wick kernels equal the kernels area's analytic NNGPs (independent implementations)."""
    from nnqs_fast.kernels import cosnet_kernel_fn, gaussnet_kernel_fn, relu_kernel_fn

    x = rng.choice([-1.0, 1.0], size=(7, 5))
    for depth in (1, 2):
        np.testing.assert_allclose(relu_nngp_kernel(5, depth, 0.5, 0.1)(x),
                                   relu_kernel_fn(depth=depth, W_std=0.5, b_std=0.1)(x, get="nngp", backend="cpu"),
                                   rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(cosnet_gp_kernel(1.7, 2.2, 5)(x),
                               cosnet_kernel_fn(1.7, 2.2)(x, get="nngp", backend="cpu"), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gaussnet_gp_kernel(0.9, 1.2, 5)(x),
                               gaussnet_kernel_fn(sigma=1.2, sigma_a=0.9)(x, get="nngp", backend="cpu"),
                               rtol=1e-12, atol=1e-15)
