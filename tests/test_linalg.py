"""nnqs_fast._linalg: blocked Cholesky, robust eigh, SYRK accumulation (oracles: NumPy/SciPy LAPACK, A = L Lᴴ)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.linalg

from nnqs_fast import _linalg
from nnqs_fast.errors import MemoryLimitError


def _spd(rng: np.random.Generator, n: int, complex_: bool = False) -> np.ndarray:
    a = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex_ else 0)
    return a @ a.conj().T / n + np.eye(n)


@pytest.mark.parametrize("n,block", [(1, 1), (7, 3), (50, 16), (64, 64), (130, 32), (97, 200)])
@pytest.mark.parametrize("complex_", [False, True])
def test_blocked_cholesky_matches_lapack(rng, n, block, complex_):
    a = _spd(rng, n, complex_)
    L = _linalg.blocked_cholesky(a, block=block)
    np.testing.assert_allclose(L, np.linalg.cholesky(a), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(L @ L.conj().T, a, rtol=1e-12, atol=1e-12)
    assert np.all(np.triu(L, 1) == 0)


def test_blocked_cholesky_reads_lower_triangle_only(rng):
    a = _spd(rng, 40)
    junk = a.copy()
    junk[np.triu_indices(40, 1)] = 1e6  # garbage above the diagonal must not matter
    np.testing.assert_allclose(_linalg.blocked_cholesky(junk, block=8), np.linalg.cholesky(a), rtol=1e-12,
                               atol=1e-12)


def test_blocked_cholesky_rejects_indefinite():
    a = np.diag([1.0, 2.0, -1.0, 3.0])
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        _linalg.blocked_cholesky(a, block=2)


def test_cho_factor_solves_both_paths(rng):
    a = _spd(rng, 60)
    b = rng.standard_normal((60, 3))
    for block in (None, 16):  # LAPACK path and the blocked path
        x = scipy.linalg.cho_solve(_linalg.cho_factor(a, block=block), b)
        np.testing.assert_allclose(a @ x, b, rtol=1e-10, atol=1e-10)


def test_eigh_matches_scipy_and_refuses_oversize(rng, monkeypatch):
    a = _spd(rng, 80)
    w, v = _linalg.eigh(a)
    w_ref = scipy.linalg.eigvalsh(a)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12)
    np.testing.assert_allclose(a @ v, v * w, atol=1e-10)
    for drv in ("evd", "evr"):
        np.testing.assert_allclose(_linalg.eigh(a, eigvals_only=True, driver=drv), w_ref, rtol=1e-12)
    np.testing.assert_allclose(_linalg.eigh(a, subset_by_index=(79, 79), eigvals_only=True), w_ref[-1:],
                               rtol=1e-12)
    monkeypatch.setattr("nnqs_fast._validation.DEFAULT_MAX_BYTES", 1000)
    with pytest.raises(MemoryLimitError, match="GiB"):
        _linalg.eigh(a)


def test_syrk_accumulate_and_symmetrize(rng):
    blocks = [rng.standard_normal((m, 37)) for m in (5, 11, 1)]
    c = None
    for blk in blocks:
        c = _linalg.syrk_accumulate(c, blk)
    full = np.vstack(blocks)
    np.testing.assert_allclose(_linalg.symmetrize_upper(c, block=8), full.T @ full, rtol=1e-12, atol=1e-12)


def test_blas_threads_is_a_context(rng):
    pytest.importorskip("threadpoolctl")
    with _linalg.blas_threads(1):
        a = _spd(rng, 20)
        np.testing.assert_allclose(_linalg.cholesky(a), np.linalg.cholesky(a))


@pytest.mark.slow
def test_cholesky_16384_does_not_crash_in_a_subprocess():
    """The size at which OpenBLAS 0.3.31's 2-thread dpotrf segfaults: factor it through nnqs_fast._linalg in a
    subprocess (a SIGSEGV there is a test failure, not a crash of the test run) and check L Lᵀ on sampled rows."""
    code = textwrap.dedent("""
        import numpy as np
        from nnqs_fast import _linalg
        n = 16384
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, 64))
        a = x @ x.T / 64 + np.eye(n)          # SPD, 2 GiB
        rows = rng.choice(n, 8, replace=False)
        ref = a[rows].copy()
        c, lower = _linalg.cho_factor(a, overwrite_a=True)
        Lr = np.stack([np.where(np.arange(n) <= r, c[r], 0.0) for r in rows])  # rows of L
        prod = np.empty_like(ref)
        for j0 in range(0, n, 2048):  # (L Lᵀ)[rows] = L[rows] L[j0:j1]ᵀ, block by block (no n² copy)
            prod[:, j0:j0 + 2048] = Lr @ np.tril(c[j0:j0 + 2048], k=j0).T
        err = np.abs(prod - ref).max()
        assert lower and err < 1e-8, err
        print("ok", err)
    """)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=3600)
    assert proc.returncode == 0, f"rc={proc.returncode} (negative: killed by signal) stderr={proc.stderr[-2000:]}"
    assert proc.stdout.startswith("ok")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("NNQS_RUN_SLOW", "") in ("", "0"),
                    reason="minutes of both cores and 6 GiB: set NNQS_RUN_SLOW=1 to run it")
def test_eigh_16384_does_not_crash_in_a_subprocess():
    """The size at which OpenBLAS 0.3.31's 2-thread ``potrf`` segfaults: ``_linalg.eigh`` of a 16 384² ReLU-NTK
    matrix with a 2-thread BLAS pool (the default policy keeps both threads for ``sytrd``) in a subprocess
    (a SIGSEGV there is a test failure), checking
    ‖A v − λ v‖ on sampled eigenpairs and the orthonormality of sampled vectors."""
    code = textwrap.dedent("""
        import numpy as np
        from nnqs_fast import _linalg
        from nnqs_fast.kernels import relu_kernel_fn
        n, L = 16384, 16
        rng = np.random.default_rng(0)
        idx = np.sort(rng.permutation(1 << L)[:n])
        x = 1.0 - 2.0 * ((idx[:, None] >> np.arange(L)[None, :]) & 1)
        a = relu_kernel_fn(1, 0.25, 0.01)(x, None, get="ntk")
        cols = rng.choice(n, 8, replace=False)
        lam, V = _linalg.eigh(a)
        r = np.abs(a @ V[:, cols] - V[:, cols] * lam[cols]).max() / lam[-1]
        o = np.abs(V[:, cols].T @ V[:, cols] - np.eye(8)).max()
        assert r < 1e-11 and o < 1e-11, (r, o)
        print("ok", r, o)
    """)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    env.pop("NNQS_FAST_EIGH_THREADS", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=7200)
    assert proc.returncode == 0, f"rc={proc.returncode} (negative: killed by signal) stderr={proc.stderr[-2000:]}"
    assert proc.stdout.startswith("ok")


def test_eigh_threads_policy(monkeypatch):
    monkeypatch.setenv("NNQS_FAST_EIGH_THREADS", "3")
    assert _linalg.eigh_threads() == 3
    monkeypatch.delenv("NNQS_FAST_EIGH_THREADS")
    monkeypatch.setattr(os, "getloadavg", lambda: (1e6, 0.0, 0.0))
    assert _linalg.eigh_threads() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert _linalg.eigh_threads() is None
    assert _linalg.eigh_threads(_linalg.SINGLE_THREAD_MIN_N + 1) is None   # sytrd at 16 384: 2 threads are safe


def test_check_psd_large_path_matches_eigvalsh(rng, monkeypatch):
    """Above BLOCKED_CHOLESKY_MIN_N rows check_psd uses blocked symmetry + Cholesky of K + tol (oracle: the
    eigvalsh path on the same matrices): PSD accepted, indefinite and asymmetric refused."""
    from nnqs_fast._validation import check_psd
    from nnqs_fast.errors import InvalidInputError, KernelNotPositiveDefiniteError

    q, _ = np.linalg.qr(rng.standard_normal((120, 120)))
    psd = (q * np.linspace(0.0, 2.0, 120)) @ q.T
    bad = (q * np.linspace(-1e-3, 2.0, 120)) @ q.T
    asym = psd.copy()
    asym[3, 7] += 1e-3
    for threshold in (10_000, 64):   # eigvalsh path, then the large path on the same matrices
        monkeypatch.setattr(_linalg, "BLOCKED_CHOLESKY_MIN_N", threshold)
        check_psd(psd, "k")
        with pytest.raises(KernelNotPositiveDefiniteError):
            check_psd(bad, "k")
        with pytest.raises(InvalidInputError):
            check_psd(asym, "k")


@pytest.mark.parametrize("order", ["C", "F"])
def test_blas3_helpers_match_numpy(rng, order):
    """syrk_accumulate (α, C- or Fortran-ordered operand), syr2k_accumulate and trmm (C- or Fortran-ordered factor)
    against the plain NumPy products."""
    n, m = 70, 33
    a = np.array(rng.standard_normal((n, m)), order=order)
    b = np.array(rng.standard_normal((n, m)), order=order)
    c0 = rng.standard_normal((m, m))
    c0 = c0 + c0.T
    c = _linalg.syrk_accumulate(np.asfortranarray(c0), a, alpha=-0.5)
    c = _linalg.syr2k_accumulate(c, a, b, alpha=2.0)
    got = _linalg.symmetrize_upper(c, block=16)
    np.testing.assert_allclose(got, c0 - 0.5 * a.T @ a + 2.0 * (a.T @ b + b.T @ a), rtol=1e-12, atol=1e-12)
    L = np.array(np.tril(rng.standard_normal((n, n))), order=order)
    junk = L + np.triu(rng.standard_normal((n, n)), 1)          # the strict upper triangle must not be read
    np.testing.assert_allclose(_linalg.trmm(junk, b), L.T @ b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_linalg.trmm(junk, b, trans=False), L @ b, rtol=1e-12, atol=1e-12)
