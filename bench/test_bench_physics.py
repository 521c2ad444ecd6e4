"""Benchmarks of the physics targets (Eqs. 19–20): make_target vs simple baselines in the same group.

Default sizes are small (smoke tests with ``--benchmark-disable``); ``NNQS_BENCH_FULL=1`` uses the paper's 3×4.
Run for timing: ``PYTHONPATH=python python3 -m pytest bench/test_bench_physics.py --benchmark-only``.
"""

from __future__ import annotations

import os
from functools import reduce

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from nnqs_fast.physics import Lattice, make_target
from nnqs_fast.physics.quench import fix_phase

FULL = os.environ.get("NNQS_BENCH_FULL", "0") == "1"
HUB = (3, 4) if FULL else (2, 3)
TFIM = (3, 4) if FULL else (2, 3)


def _loop_hubbard(lat: Lattice, n_up: int, n_down: int, t: float, U: float):
    """Baseline: Python loops over basis states and bonds, dict lookup, JW sign by explicit bit counting."""
    L = lat.n_sites
    ups = [s for s in range(1 << L) if bin(s).count("1") == n_up]
    dns = [s for s in range(1 << L) if bin(s).count("1") == n_down]
    codes = [u | (d << L) for d in dns for u in ups]
    index = {c: k for k, c in enumerate(codes)}
    rows, cols, vals = [], [], []
    for k, c in enumerate(codes):
        u, d = c & ((1 << L) - 1), c >> L
        rows.append(k); cols.append(k); vals.append(U * bin(u & d).count("1"))  # noqa: E702
        for i, j in lat.bonds.tolist():
            for shift in (0, L):
                bi, bj = (c >> (i + shift)) & 1, (c >> (j + shift)) & 1
                if bi != bj:
                    new = c ^ (1 << (i + shift)) ^ (1 << (j + shift))
                    n_between = sum((c >> (m + shift)) & 1 for m in range(i + 1, j))
                    rows.append(index[new]); cols.append(k); vals.append(-t * (-1) ** n_between)  # noqa: E702
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(codes), len(codes)))


def _baseline_hubbard_target(lx: int, ly: int, dense: bool) -> np.ndarray:
    lat = Lattice(lx, ly, "open")
    H0 = _loop_hubbard(lat, 2, 2, 1.0, 4.0)
    H = _loop_hubbard(lat, 2, 2, 1.0, 8.0)
    if dense:
        _w, v = np.linalg.eigh(H0.toarray())
        psi0 = fix_phase(v[:, 0].astype(complex))
        return sla.expm(-2.1j * H.toarray()) @ psi0
    _w, v = spla.eigsh(H0, k=1, which="SA", tol=1e-12, v0=np.ones(H0.shape[0]))
    psi0 = fix_phase(v[:, 0].astype(complex))
    return spla.expm_multiply(-2.1j * H.astype(complex), psi0)


@pytest.mark.benchmark(group="physics-hubbard-target")
def test_bench_make_target_hubbard(benchmark) -> None:
    T = benchmark(make_target, "hubbard", lx=HUB[0], ly=HUB[1])
    ref = _baseline_hubbard_target(*HUB, dense=False)
    np.testing.assert_allclose(T.psi, ref / np.linalg.norm(ref), atol=1e-8)


@pytest.mark.benchmark(group="physics-hubbard-target")
def test_bench_baseline_loop_hubbard(benchmark) -> None:
    psi = benchmark(_baseline_hubbard_target, *HUB, dense=False)
    np.testing.assert_allclose(psi, make_target("hubbard", lx=HUB[0], ly=HUB[1]).psi, atol=1e-8)


@pytest.mark.benchmark(group="physics-hubbard-target")
def test_bench_baseline_dense_hubbard(benchmark) -> None:
    shape = (2, 3)  # dense expm: kept at the small size even with NNQS_BENCH_FULL
    psi = benchmark(_baseline_hubbard_target, *shape, dense=True)
    np.testing.assert_allclose(psi, make_target("hubbard", lx=shape[0], ly=shape[1]).psi, atol=1e-8)


def _kron_tfim(lat: Lattice, J: float) -> sp.csr_matrix:
    """Baseline: sum of sparse Kronecker products of Pauli matrices (bit 1 = spin up, Z = diag(-1, 1))."""
    L = lat.n_sites
    Z, X, I2 = sp.diags([-1.0, 1.0]), sp.csr_matrix([[0.0, 1.0], [1.0, 0.0]]), sp.identity(2)

    def op(ops: dict) -> sp.csr_matrix:
        return reduce(lambda A, B: sp.kron(A, B, format="csr"), [ops.get(k, I2) for k in reversed(range(L))])

    H = sp.csr_matrix((1 << L, 1 << L))
    for i, j in lat.bonds.tolist():
        H = H - op({i: Z, j: Z})
    for i in range(L):
        H = H - J * op({i: X})
    return H


def _baseline_tfim_target(lx: int, ly: int) -> np.ndarray:
    H = _kron_tfim(Lattice(lx, ly, "open"), 0.1)
    dim = H.shape[0]
    return spla.expm_multiply(-2.1j * H.astype(complex), np.full(dim, dim ** -0.5, dtype=complex))


@pytest.mark.benchmark(group="physics-tfim-target")
def test_bench_make_target_tfim(benchmark) -> None:
    T = benchmark(make_target, "tfim", lx=TFIM[0], ly=TFIM[1])
    np.testing.assert_allclose(T.psi, _baseline_tfim_target(*TFIM), atol=1e-8)


@pytest.mark.benchmark(group="physics-tfim-target")
def test_bench_baseline_kron_tfim(benchmark) -> None:
    psi = benchmark(_baseline_tfim_target, *TFIM)
    np.testing.assert_allclose(psi, make_target("tfim", lx=TFIM[0], ly=TFIM[1]).psi, atol=1e-8)
