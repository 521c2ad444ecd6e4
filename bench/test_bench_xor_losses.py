"""Benchmark of the XOR (full spin basis) test losses.

Group ``dynamics-ensemble-losses-xor``: train/test L_μ, L_γ, L_Ψl at 50 times + τ → ∞ for n train points of a
2^L basis, test set = the rest, by :meth:`EnsemblePredictor.losses_xor` (train-only O(n³) products + fast
Walsh–Hadamard transforms) against the streamed :meth:`EnsemblePredictor.losses` over the explicit test-train
kernels (the baseline; the same eigendecomposition inside both). Correctness: the two agree to 1e-9.
Default L = 9, n = 256; ``NNQS_BENCH_FULL=1``: L = 12, n = 2048 (m = 2048).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from nnqs_fast.dynamics import qsntk_mse_ensemble
from nnqs_fast.experiments.predict_curves import _relu_kernel_fn

FULL = os.environ.get("NNQS_BENCH_FULL", "") not in ("", "0")
L, N = (12, 2048) if FULL else (9, 256)
TIMES = np.concatenate([np.logspace(0, 4, 50), [np.inf]])


@pytest.fixture(scope="module")
def data():
    D = 1 << L
    i = np.arange(D)
    x = 1.0 - 2.0 * ((i[:, None] >> np.arange(L)[None, :]) & 1)
    g = np.random.default_rng(0)
    tr = np.sort(g.choice(D, N, replace=False))
    te = np.setdiff1d(i, tr)
    kfn = _relu_kernel_fn(1, 0.5, 0.1)
    row = kfn(x[:1], x, get=("nngp", "ntk"))
    ktt = kfn(x[tr], None, get=("nngp", "ntk"))
    kxt = kfn(x[te], x[tr], get=("nngp", "ntk"))
    y = g.standard_normal(D) + 1j * g.standard_normal(D)
    y /= np.linalg.norm(y)
    return dict(tr=tr, te=te, row=row, ktt=ktt, kxt=kxt, y=y, lr=0.3)


def _make(d):
    return qsntk_mse_ensemble(d["ktt"].nngp, d["ktt"].ntk, d["y"][d["tr"]], d["lr"])


def _streamed(d):
    return _make(d).losses(TIMES, d["y"][d["te"]], d["kxt"].nngp, d["kxt"].ntk,
                           np.full(d["te"].size, d["row"].nngp[0, 0]))


@pytest.mark.benchmark(group="dynamics-ensemble-losses-xor")
def test_bench_losses_xor(benchmark, data):
    got = benchmark.pedantic(lambda: _make(data).losses_xor(TIMES, data["y"], data["tr"], data["row"].nngp[0],
                                                            data["row"].ntk[0]), rounds=2, iterations=1)
    want = _streamed(data)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-15)


@pytest.mark.benchmark(group="dynamics-ensemble-losses-xor")
def test_bench_losses_streamed_baseline(benchmark, data):
    out = benchmark.pedantic(lambda: _streamed(data), rounds=2, iterations=1)
    assert out["L_psi_test"][-1] > 0
