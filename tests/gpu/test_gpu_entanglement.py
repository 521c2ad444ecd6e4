"""Parity of the CUDA Wick contraction (on-the-fly sweep) against a brute-force four-index NumPy sum and the
CPU paths (marked gpu)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def _brute(C: np.ndarray, P: np.ndarray, DA: int, DB: int) -> tuple[float, float]:
    """Independent oracle: the Wick numerator and denominator by explicit index sums (rows a*DB + b)."""
    C4 = C.reshape(DA, DB, DA, DB)
    P4 = P.reshape(DA, DB, DA, DB)
    num = (np.einsum("abcb,cdad->", C4, C4)          # C(ab, a'b) C(a'b', ab')
           + np.einsum("abad,cdcb->", C4, C4)        # C(ab, ab') C(a'b', a'b)
           + np.einsum("abcd,cbad->", P4, P4))       # P(ab, a'b') P(a'b, ab')
    den = np.trace(C) ** 2 + (C * C).sum() + (P * P).sum()
    return float(num), float(den)


def _kernels():
    from nnqs_fast.entanglement import wick as W

    return [W.cosnet_gp_kernel(10.0, np.sqrt(2 * 6), 6), W.rbf_kernel(1.3, 0.2), W.relu_nngp_kernel(6, 2, 0.5, 0.1),
            W.relu_nngp_kernel(6, 1, 1.2, 0.3), W.delta_kernel(2.0)]


@pytest.mark.parametrize("which", range(5))
@pytest.mark.parametrize("k2mode", ["same", "real", "other"])
@pytest.mark.parametrize("nA", [1, 2, 3])
def test_wick_gpu_matches_brute_force(cp, which, k2mode, nA):
    from nnqs_fast.entanglement import wick as W
    from nnqs_fast.gpu.entanglement import wick_purity_partial_trace

    L = 6
    k1 = _kernels()[which]
    k2 = {"same": "same", "real": None, "other": W.rbf_kernel(0.7, 0.05)}[k2mode]
    X = W.spin_basis_inputs(L)
    A = tuple(range(nA))
    # the oracle: basis ordered a*DB + b (A = first nA sites = low bits of the spin-basis index)
    DA, DB = 2 ** nA, 2 ** (L - nA)
    idx = np.array([[a + (b << nA) for b in range(DB)] for a in range(DA)]).ravel()
    Xo = X[idx]
    K1 = k1(Xo)
    K2 = K1 if k2 == "same" else (np.zeros_like(K1) if k2 is None else k2(Xo))
    num, den = _brute(K1 + K2, K1 - K2, DA, DB)
    r = wick_purity_partial_trace(k1, k2, n_sites=L, subsystem=A)
    assert r.method == "partial_trace" and (r.dim_a, r.dim_b) == (DA, DB)
    np.testing.assert_allclose(r.log_numerator, np.log(num), rtol=0, atol=1e-11)
    np.testing.assert_allclose(r.log_denominator, np.log(den), rtol=0, atol=1e-11)
    np.testing.assert_allclose(r.purity, num / den, rtol=1e-11)


@pytest.mark.parametrize("k2mode", ["same", "real"])
def test_wick_gpu_equals_cpu_public_api(cp, k2mode):
    from nnqs_fast.entanglement import relu_nngp_kernel, wick_purity

    k1 = relu_nngp_kernel(8, 1, 0.5, 0.1)
    k2 = "same" if k2mode == "same" else None
    for A in ([0, 1, 2], [1, 4, 6, 7], [3]):
        cpu = wick_purity(k1, k2, n_sites=8, subsystem=A, method="partial_trace", compress=False, backend="cpu")
        gpu = wick_purity(k1, k2, n_sites=8, subsystem=A, method="partial_trace", compress=False, backend="cuda")
        np.testing.assert_allclose(gpu.purity, cpu.purity, rtol=1e-11)
        for key, val in cpu.terms.items():
            np.testing.assert_allclose(gpu.terms[key], val, rtol=1e-10, atol=1e-12 * abs(cpu.terms["frob_c2"]))


def test_wick_gpu_delta_kernel_gives_haar_value(cp):
    from nnqs_fast.entanglement import delta_kernel
    from nnqs_fast.gpu.entanglement import wick_purity_partial_trace

    for L, nA in itertools.product((5, 8), (1, 2)):
        r = wick_purity_partial_trace(delta_kernel(1.0), "same", n_sites=L, subsystem=list(range(nA)))
        m, n = 2 ** nA, 2 ** (L - nA)
        np.testing.assert_allclose(r.purity, (m + n) / (m * n + 1), rtol=1e-12)


def test_wick_gpu_explicit_features_odd_dims(cp, rng):
    """General (non-spin) product-basis features with sizes that don't divide the 16x16 pair tiles."""
    from nnqs_fast.entanglement import rbf_kernel, relu_nngp_kernel
    from nnqs_fast.gpu.entanglement import _product_inputs, wick_purity_partial_trace

    XA, XB = rng.standard_normal((5, 2)), rng.standard_normal((23, 3))
    X = _product_inputs(XA, XB)
    for k1, k2 in ((relu_nngp_kernel(5, 2, 0.9, 0.2), rbf_kernel(0.5, 0.3)), (rbf_kernel(1.0, 0.4), None)):
        K1 = k1(X)
        K2 = np.zeros_like(K1) if k2 is None else k2(X)
        num, den = _brute(K1 + K2, K1 - K2, 5, 23)
        r = wick_purity_partial_trace(k1, k2, features_a=XA, features_b=XB)
        np.testing.assert_allclose(r.purity, num / den, rtol=1e-11)


def test_wick_gpu_sixteen_sites_runs_and_matches_cpu(cp):
    """The 4x4-lattice size (D = 65 536) on the GPU vs the CPU compressed path (same numbers, exact)."""
    import os

    if os.environ.get("NNQS_FAKE_DEVICE", "") not in ("", "0"):
        pytest.skip("the host stand-in evaluates dense D x D kernels: too large at D = 65 536")
    from nnqs_fast.entanglement import relu_nngp_kernel, wick_purity

    k1 = relu_nngp_kernel(16, 1, 0.5, 0.1)
    gpu = wick_purity(k1, None, n_sites=16, subsystem=list(range(8)), method="partial_trace", compress=False,
                      backend="cuda")
    cpu = wick_purity(k1, None, n_sites=16, subsystem=list(range(8)), method="partial_trace", compress=True,
                      backend="cpu")
    np.testing.assert_allclose(gpu.purity, cpu.purity, rtol=1e-9)
