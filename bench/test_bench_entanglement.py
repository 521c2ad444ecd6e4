"""Benchmarks of the entanglement area (pytest-benchmark; baselines in the same group, results asserted).

Default sizes are modest (the test run uses --benchmark-disable); NNQS_BENCH_FULL=1 uses the full sizes:

* ``wick-generic``: Wick purity for the (non-factorising) ReLU NNGP kernel, half cut. NumPy baselines build the
  D × D kernel and sum the four-index expression (``numpy_four_index``) or its partial traces
  (``numpy_matrix``); the C++ on-the-fly paths: ``cpp_compressed`` (default) and ``cpp_tiled`` (plain O(D²)
  sweep). L = 10 by default, L = 12 with NNQS_BENCH_FULL=1 (D×D float64 at L = 16 would be 32 GiB).
* ``wick-generic-L16``: L = 16 (L = 14 by default): the library's O(L) Hamming path (``library_hamming``,
  :func:`wick_purity_hamming`) and the general-input C++ compressed path, checked against this file's own
  Hamming-distance closed form (spin kernels of dot products depend on the Hamming distance only), which is
  also the NumPy baseline.
* ``wick-factorized``: Cos-net kernel at L = 1000 (L = 200 by default): the O(L) factorised path and the library's
  Hamming path vs a NumPy Hamming-histogram formula in logs (gammaln).
* ``ensemble``: sampled Cos-net ensemble entropies (streaming bipartite evaluation) vs a direct full-basis forward
  pass + SVD per member.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from scipy.special import gammaln, logsumexp

from nnqs_fast.entanglement import (
    cosnet_gp_kernel,
    entanglement_entropy,
    relu_nngp_kernel,
    sample_ensemble_entropies,
    spin_basis_inputs,
    wick_purity_factorized,
    wick_purity_from_matrices,
    wick_purity_hamming,
    wick_purity_partial_trace,
)
from nnqs_fast.entanglement.wick import _permute

FULL = os.environ.get("NNQS_BENCH_FULL", "") not in ("", "0")
L_GENERIC = 12 if FULL else 10
L_LARGE = 16 if FULL else 14
L_FACT = 1000 if FULL else 200


def numpy_four_index(kernel, L):
    """NumPy baseline: build the D×D kernel and sum the four-index Wick expression (K1 = K2, so P = 0)."""
    LA = L // 2
    X = spin_basis_inputs(L)
    C = _permute(2.0 * kernel(X), tuple(range(LA)), L)
    DA, DB = 2 ** LA, 2 ** (L - LA)
    C4 = C.reshape(DA, DB, DA, DB)
    num = np.einsum("abcb,cdad->", C4, C4) + np.einsum("abad,cdcb->", C4, C4)
    den = np.trace(C) ** 2 + np.sum(C * C)
    return num / den


def hamming_purity(kernel, L, LA, *, log=False):
    """Closed form for isotropic kernels on ±1 spins: every sum is a sum over Hamming distances (logs)."""
    LB = L - LA

    def lg(h):  # log C(h) with C = 2 k, dot = L − 2h, |x|² = L (rbf analytically: no underflow at large L)
        if kernel.family == "rbf":
            amp, gamma = kernel.params
            return math.log(2.0 * amp) - 4.0 * gamma * np.asarray(h, float)
        return np.log(2.0 * kernel.from_products(L - 2.0 * h, float(L), float(L)))

    def lbinom(n, k):
        return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)

    hA, hB, h = np.arange(LA + 1), np.arange(LB + 1), np.arange(L + 1)
    ln2 = math.log(2)
    l_ra = LA * ln2 + 2 * LB * ln2 + logsumexp(lbinom(LA, hA) + 2 * lg(hA))
    l_rb = LB * ln2 + 2 * LA * ln2 + logsumexp(lbinom(LB, hB) + 2 * lg(hB))
    l_tc = L * ln2 + lg(np.array(0.0))
    l_cc = L * ln2 + logsumexp(lbinom(L, h) + 2 * lg(h))
    lq = float(np.logaddexp(l_ra, l_rb))
    ln = float(np.logaddexp(2 * l_tc, l_cc))
    return (lq - ln) if log else math.exp(lq - ln)


@pytest.mark.benchmark(group="wick-generic")
@pytest.mark.parametrize("impl", ["numpy_four_index", "numpy_matrix", "cpp_compressed", "cpp_tiled"])
def test_bench_wick_generic(benchmark, impl):
    L = L_GENERIC
    k = relu_nngp_kernel(L)
    fns = {
        "numpy_four_index": lambda: numpy_four_index(k, L),
        "numpy_matrix": lambda: wick_purity_from_matrices(k, n_sites=L, subsystem=L // 2).purity,
        "cpp_compressed": lambda: wick_purity_partial_trace(k, n_sites=L, subsystem=L // 2).purity,
        "cpp_tiled": lambda: wick_purity_partial_trace(k, n_sites=L, subsystem=L // 2, compress=False).purity,
    }
    val = benchmark(fns[impl])
    assert val == pytest.approx(hamming_purity(k, L, L // 2), rel=1e-11)


@pytest.mark.benchmark(group="wick-generic-L16")
@pytest.mark.parametrize("impl", ["numpy_hamming", "library_hamming", "cpp_compressed"])
def test_bench_wick_generic_large(benchmark, impl):
    L = L_LARGE
    k = relu_nngp_kernel(L)
    fns = {
        "numpy_hamming": lambda: hamming_purity(k, L, L // 2),
        # the library's O(L) path (isotropic kernels on the ±1 basis; what method="auto" picks here)
        "library_hamming": lambda: wick_purity_hamming(k, n_sites=L, subsystem=L // 2).purity,
        # the general-input path (any product basis / features), O(D_A² + D_B²) after compression
        "cpp_compressed": lambda: wick_purity_partial_trace(k, n_sites=L, subsystem=L // 2).purity,
    }
    val = benchmark(fns[impl])
    assert val == pytest.approx(hamming_purity(k, L, L // 2), rel=1e-11)


@pytest.mark.benchmark(group="wick-factorized")
@pytest.mark.parametrize("impl", ["numpy_hamming_logs", "factorized", "library_hamming"])
def test_bench_wick_factorized(benchmark, impl):
    L = L_FACT
    k = cosnet_gp_kernel(10.0, math.sqrt(2 * L), L)
    if impl == "factorized":
        val = benchmark(lambda: wick_purity_factorized(k, n_sites=L, subsystem=L // 2).renyi2)
    elif impl == "library_hamming":
        val = benchmark(lambda: wick_purity_hamming(k, n_sites=L, subsystem=L // 2).renyi2)
    else:
        val = benchmark(lambda: -hamming_purity(k, L, L // 2, log=True))
    assert val == pytest.approx(-hamming_purity(k, L, L // 2, log=True), rel=1e-12)
    if FULL and impl == "factorized":
        assert benchmark.stats is None or benchmark.stats.stats.mean < 1e-3


@pytest.mark.benchmark(group="ensemble")
@pytest.mark.parametrize("impl", ["numpy_direct", "streaming"])
def test_bench_ensemble(benchmark, impl):
    L, K, N = (14, 4, 2000) if FULL else (10, 3, 500)
    sa, sw = 10.0, math.sqrt(2 * L)
    ref = sample_ensemble_entropies("cosnet", n_sites=L, n_members=K, width=N, cuts=[L // 2], seed=0, sigma_a=sa,
                                    sigma_w=sw).values["vn"][:, 0]
    if impl == "streaming":
        val = benchmark(lambda: sample_ensemble_entropies("cosnet", n_sites=L, n_members=K, width=N, cuts=[L // 2],
                                                          seed=0, sigma_a=sa, sigma_w=sw).values["vn"][:, 0])
    else:
        from nnqs_fast._random import member_seeds, rng

        def direct():
            X = spin_basis_inputs(L)
            seeds = member_seeds(0, 2 * K)
            out = []
            for k in range(K):
                vals = []
                for s in seeds[2 * k: 2 * k + 2]:
                    g = rng(s)
                    a = g.normal(0, sa / math.sqrt(N), N)
                    W = g.normal(0, sw / math.sqrt(L), (N, L))
                    b = g.uniform(-math.pi, math.pi, N)
                    vals.append(np.cos(X @ W.T + b) @ a)
                psi = vals[0] + 1j * vals[1]
                out.append(entanglement_entropy(psi / np.linalg.norm(psi), L // 2, method="svd"))
            return np.array(out)

        val = benchmark(direct)
    np.testing.assert_allclose(val, ref, rtol=1e-9)
