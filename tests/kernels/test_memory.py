"""Peak memory of the structured empirical kernel is O(n^2 + chunk * N), never O(n * P) (tracemalloc sees every
NumPy allocation, including BLAS outputs)."""

from __future__ import annotations

import tracemalloc

import numpy as np

import nnqs_fast as nf


def _peak(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_n2_plus_chunk_times_width():
    n, N = 300, 4000
    x = np.random.default_rng(0).choice([-1.0, 1.0], (n, 10))
    p = nf.init_relu(0, 10, N)
    nf.empirical_ntk(p, x[:8])  # warm-up (imports, caches)
    n2 = n * n * 8
    peaks = {c: _peak(lambda c=c: nf.empirical_ntk(p, x, chunk_size=c)) for c in (60, 150)}
    peak_full = _peak(lambda: nf.empirical_ntk(p, x))
    for c, peak in peaks.items():
        # the output + the row and column blocks' features (2 arrays of chunk x N each) + small Gram tiles
        assert peak < 1.5 * n2 + 6 * c * N * 8, (c, peak, n2, c * N * 8)
    assert peaks[60] < peaks[150] < peak_full
    assert peak_full > 2 * n * N * 8          # unchunked: holds the (n x N) features ...
    assert peak_full < n * p.n_params * 8 / 4  # ... still far below an explicit n x P Jacobian
