"""Benchmarks of the training hot loop: one full-batch gradient-descent step of a one-hidden-layer ReLU net.

Group ``training-gd-step``: the fused C++ step (``CPUReLUStep``) vs the vectorised NumPy step (``NumpyReLUStep``,
BLAS products with n×N temporaries) on the same network and data; both assert the updated parameters agree.
Group ``training-gd-step-f32``: the float32 fused step (``CPUReLUStep(dtype=np.float32)``) vs the float32 NumPy
step (``NumpyReLUStep(dtype=np.float32)``: its products are SGEMMs); both assert agreement with the float32
reference to float32 tolerance. Group ``training-blas-peak``: a DGEMM and an SGEMM, this machine's BLAS reference
for the GFLOP/s reports. ``test_gd_step_f32_report`` prints the float32 step against the SGEMM rate for the step's
GEMM-shaped work (no timing assert).
``test_gd_step_report`` times both steps in the same run (best of several) and asserts the speed-up.

Default size (smoke, with ``--benchmark-disable``): width 1000, 600 points. ``NNQS_BENCH_FULL=1``: the paper's
width 5000 on 2400 points (d = 12). Run for timing:
``NNQS_BENCH_FULL=1 PYTHONPATH=python python3 -m pytest bench/test_bench_training.py --benchmark-only -s``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from nnqs_fast.networks.relu import init_relu
from nnqs_fast.training import CPUReLUStep, NumpyReLUStep

FULL = os.environ.get("NNQS_BENCH_FULL", "0") == "1"
WIDTH, N_POINTS, D = (5000, 2400, 12) if FULL else (1000, 600, 12)


def _problem():
    g = np.random.default_rng(0)
    x = g.choice([-1.0, 1.0], size=(N_POINTS, D))
    y = g.standard_normal(N_POINTS) / 64
    return init_relu(1, D, WIDTH), x, y


def _flat(p):
    return np.concatenate([p.weights[0].ravel(), p.biases[0], p.weights[1].ravel(), p.biases[1]])


@pytest.fixture(scope="module")
def reference_after_one_step():
    p, x, y = _problem()
    ref = NumpyReLUStep(p, x, y, 1.0)
    ref.update()
    return _flat(ref.params())


@pytest.mark.benchmark(group="training-gd-step")
def test_bench_gd_step_cpp(benchmark, reference_after_one_step):
    p, x, y = _problem()

    def setup():
        return (CPUReLUStep(p, x, y, 1.0),), {}

    def one_step(s):
        s.run(1)
        return s

    s = benchmark.pedantic(one_step, setup=setup, rounds=5, iterations=1)
    np.testing.assert_allclose(_flat(s.params()), reference_after_one_step, rtol=1e-10, atol=1e-13)


@pytest.mark.benchmark(group="training-gd-step")
def test_bench_gd_step_numpy(benchmark, reference_after_one_step):
    p, x, y = _problem()

    def setup():
        return (NumpyReLUStep(p, x, y, 1.0),), {}

    def one_step(s):
        s.update()
        return s

    s = benchmark.pedantic(one_step, setup=setup, rounds=3, iterations=1)
    np.testing.assert_allclose(_flat(s.params()), reference_after_one_step, rtol=1e-12, atol=1e-15)


def _dgemm_gflops(n: int = 1500, reps: int = 3) -> float:
    g = np.random.default_rng(1)
    a, b = g.standard_normal((n, n)), g.standard_normal((n, n))
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        c = a @ b
        best = min(best, time.perf_counter() - t)
    assert np.isfinite(c[0, 0])
    return 2.0 * n ** 3 / best / 1e9


@pytest.mark.benchmark(group="training-blas-peak")
def test_bench_dgemm_peak(benchmark):
    n = 1500
    g = np.random.default_rng(1)
    a, b = g.standard_normal((n, n)), g.standard_normal((n, n))
    c = benchmark(lambda: a @ b)
    np.testing.assert_allclose(c[:3, :3], a[:3] @ b[:, :3], rtol=1e-10)


def test_gd_step_report(capsys):
    """Same-run comparison: fused C++ step vs NumPy step (best of several), GFLOP/s vs the DGEMM peak."""
    p, x, y = _problem()
    c = CPUReLUStep(p, x, y, 1.0)
    r = NumpyReLUStep(p, x, y, 1.0)
    c.run(1)
    r.update()
    np.testing.assert_allclose(_flat(c.params()), _flat(r.params()), rtol=1e-10, atol=1e-13)
    k = 10 if FULL else 20

    def best(fn, reps):
        out = np.inf
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            out = min(out, time.perf_counter() - t)
        return out

    t_by_threads = {}
    for threads in (0, 1):  # 0: the core's default OpenMP team; 1: single-threaded (robust on a loaded machine)
        c.threads = threads
        t_by_threads[threads or "default"] = best(lambda: c.run(k), 3) / k
    t_cpp = min(t_by_threads.values())
    t_np = best(r.update, 3 if FULL else 5)
    peak = _dgemm_gflops()
    gflops = c.flops_per_step / t_cpp / 1e9
    speedup = t_np / t_cpp
    with capsys.disabled():
        print(f"\n[training] GD step width {WIDTH}, {N_POINTS} points, d={D}: C++ {t_cpp * 1e3:.2f} ms "
              f"({gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of DGEMM {peak:.1f} GFLOP/s), NumPy "
              f"{t_np * 1e3:.2f} ms, speed-up {speedup:.1f}x; C++ ms by OpenMP threads: "
              f"{ {k: round(v * 1e3, 2) for k, v in t_by_threads.items()} }")
    assert speedup >= (3.0 if FULL else 1.5)


def _gemm_flops() -> float:
    """The step's GEMM-shaped work: forward z = x Wᵀ and the gradient contraction (2 n N d each), the readout
    and its gradient (2 n N each) — the limit's FLOP count (bench/peers/compare_nt.py uses the same)."""
    return 4.0 * N_POINTS * WIDTH * D + 4.0 * N_POINTS * WIDTH


@pytest.fixture(scope="module")
def reference_f32_after_one_step():
    p, x, y = _problem()
    ref = NumpyReLUStep(p, x, y, 1.0, dtype=np.float32)
    ref.update()
    return _flat(ref.params())


def _assert_f32_close(got: np.ndarray, ref: np.ndarray) -> None:
    np.testing.assert_allclose(got, ref, rtol=0, atol=5e-6 * np.max(np.abs(ref)))


@pytest.mark.benchmark(group="training-gd-step-f32")
def test_bench_gd_step_cpp_f32(benchmark, reference_f32_after_one_step):
    p, x, y = _problem()

    def setup():
        return (CPUReLUStep(p, x, y, 1.0, dtype=np.float32),), {}

    def one_step(s):
        s.run(1)
        return s

    s = benchmark.pedantic(one_step, setup=setup, rounds=5, iterations=1)
    _assert_f32_close(_flat(s.params()), reference_f32_after_one_step)


@pytest.mark.benchmark(group="training-gd-step-f32")
def test_bench_gd_step_numpy_f32(benchmark, reference_f32_after_one_step):
    p, x, y = _problem()

    def setup():
        return (NumpyReLUStep(p, x, y, 1.0, dtype=np.float32),), {}

    def one_step(s):
        s.update()
        return s

    s = benchmark.pedantic(one_step, setup=setup, rounds=3, iterations=1)
    _assert_f32_close(_flat(s.params()), reference_f32_after_one_step)


@pytest.mark.benchmark(group="training-blas-peak")
def test_bench_sgemm_peak(benchmark):
    n = 1500
    g = np.random.default_rng(1)
    a, b = (g.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    c = benchmark(lambda: a @ b)
    np.testing.assert_allclose(c[:3, :3], a[:3] @ b[:, :3], rtol=1e-4, atol=1e-3)


def test_gd_step_f32_report(capsys):
    """Same-run comparison: float32 fused step vs float64 fused step vs float32 NumPy step, and the float32 step's
    time against its GEMM-shaped FLOPs at the SGEMM rate (printed; no timing assert)."""
    p, x, y = _problem()
    c32 = CPUReLUStep(p, x, y, 1.0, dtype=np.float32)
    c64 = CPUReLUStep(p, x, y, 1.0)
    r32 = NumpyReLUStep(p, x, y, 1.0, dtype=np.float32)
    c32.run(1)
    c64.run(1)
    r32.update()
    _assert_f32_close(_flat(c32.params()), _flat(r32.params()))
    k = 10 if FULL else 20
    g = np.random.default_rng(1)
    a = g.standard_normal((1500, 1500)).astype(np.float32)
    best = {"f32": np.inf, "f64": np.inf, "numpy_f32": np.inf, "sgemm": np.inf}
    for _ in range(3):  # interleaved rounds, best of each
        for key, fn, per in (("f32", lambda: c32.run(k), k), ("f64", lambda: c64.run(max(1, k // 4)), max(1, k // 4)),
                             ("numpy_f32", r32.update, 1), ("sgemm", lambda: a @ a, 1)):
            t = time.perf_counter()
            fn()
            best[key] = min(best[key], (time.perf_counter() - t) / per)
    sgemm_rate = 2.0 * 1500 ** 3 / best["sgemm"]
    limit = _gemm_flops() / sgemm_rate
    with capsys.disabled():
        print(f"\n[training f32] GD step width {WIDTH}, {N_POINTS} points, d={D} ({c32.kernel} kernel): "
              f"f32 {best['f32'] * 1e3:.2f} ms = {limit / best['f32']:.0%} of its GEMM FLOPs at the SGEMM rate "
              f"({sgemm_rate / 1e9:.1f} GFLOP/s); f64 step {best['f64'] * 1e3:.2f} ms; NumPy f32 (SGEMMs) "
              f"{best['numpy_f32'] * 1e3:.2f} ms")
