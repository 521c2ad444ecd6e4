"""Benchmarks of the ground-state hot paths (docs/groundstate.md).

Group ``groundstate-flow``: one step of the batched constant-kernel energy flow (K = 32 NNGP states, float32
kernel, dense GEMM path) against the NumPy GEMM of the same shapes ``(2K, D) @ (D, D)`` (the rate it should
reach) and against K separate matrix–vector products (what batching avoids); and the Walsh–Hadamard path the flow
takes by default for these kernels (``O(K D log D)``). Correctness: the batched flow equals one state at a time and
the Walsh path equals the GEMM path.
Group ``groundstate-walsh``: one step of the Walsh-domain energy flow (``nnqs_fast.dynamics._walsh``: the path
``loss_flow`` takes for the energy with these kernels) — the fused C++ step against the NumPy/SciPy engine (sparse
product per panel, vectorised passes); correctness: both equal the real-space step with the dense kernel.
Group ``groundstate-step``: one energy step of a finite-width member (two fused C++ networks + H ψ on the full
basis) against the supervised step of the same two networks (same n, width), and the NumPy reference step.
``test_groundstate_report`` times the pairs interleaved in one run and prints the ratios (and the Walsh-domain flow
step against the previous Walsh path, two Walsh–Hadamard transforms per step) (no wall-clock asserts
in the default run; with ``NNQS_BENCH_FULL=1`` it asserts the goals: flow ≥ 60 % of the GEMM rate, energy step
≤ 1.5 × the supervised step).

Default sizes (smoke): TFIM 3×3 (D = 512), width 256. ``NNQS_BENCH_FULL=1``: TFIM 3×4 (D = 4096), width 1024.
``NNQS_BENCH_FULL=1 PYTHONPATH=python python -m pytest bench/test_bench_groundstate.py --benchmark-only -s``.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from nnqs_fast.dynamics import EnergyLoss, loss_flow, sample_gp_states
from nnqs_fast.kernels import relu_kernel_fn
from nnqs_fast.networks.relu import init_relu
from nnqs_fast.physics import Lattice, encode_spins, tfim_hamiltonian
from nnqs_fast.physics.tfim import tfim_basis
from nnqs_fast.training import CPUReLUStep, NumpyReLUStep
from nnqs_fast.training.functional import CPULossPool

FULL = os.environ.get("NNQS_BENCH_FULL", "0") == "1"
LX, LY, WIDTH, K = (3, 4, 1024, 32) if FULL else (3, 3, 256, 32)


@pytest.fixture(scope="module")
def problem():
    L = LX * LY
    H = tfim_hamiltonian(Lattice(LX, LY, "open"), J=1.0)
    x = encode_spins(tfim_basis(L), L)
    k = relu_kernel_fn()(x, None, get=("nngp", "ntk"), backend="cpu")
    ntk32 = np.ascontiguousarray(k.ntk, dtype=np.float32)
    psi0 = sample_gp_states(np.asarray(k.nngp), K, seed=0)
    return H, x, ntk32, psi0


def _flow(problem, n=1, structure="dense"):
    H, _, ntk32, psi0 = problem
    return loss_flow(ntk32, EnergyLoss(H), psi0, learning_rate=0.05, n_steps=n, dtype=np.float32,
                     structure=structure)


@pytest.mark.benchmark(group="groundstate-flow")
def test_bench_flow_step_walsh(benchmark, problem):
    res = benchmark.pedantic(_flow, args=(problem, 2, "auto"), rounds=3, iterations=1)
    np.testing.assert_allclose(res.loss, _flow(problem, 2).loss, rtol=1e-5)


@pytest.mark.benchmark(group="groundstate-flow")
def test_bench_flow_step_batched(benchmark, problem):
    res = benchmark.pedantic(_flow, args=(problem, 2), rounds=3, iterations=1)
    one = loss_flow(problem[2], EnergyLoss(problem[0]), problem[3][0], learning_rate=0.05, n_steps=2,
                    dtype=np.float32, structure="dense")
    np.testing.assert_allclose(res.loss[0], one.loss[0], rtol=1e-6)
    assert res.loss[0, -1] < res.loss[0, 0]


@pytest.mark.benchmark(group="groundstate-flow")
def test_bench_flow_gemm_numpy(benchmark, problem):
    _, _, ntk32, psi0 = problem
    g = np.ascontiguousarray(np.concatenate([psi0.real, psi0.imag]), dtype=np.float32)
    out = benchmark.pedantic(lambda: g @ ntk32, rounds=3, iterations=2)
    np.testing.assert_allclose(out[0], ntk32 @ g[0], rtol=1e-4, atol=1e-3 * np.abs(out[0]).max())


@pytest.mark.benchmark(group="groundstate-flow")
def test_bench_flow_matvecs_numpy(benchmark, problem):
    _, _, ntk32, psi0 = problem
    g = np.ascontiguousarray(np.concatenate([psi0.real, psi0.imag]), dtype=np.float32)
    out = benchmark.pedantic(lambda: [ntk32 @ v for v in g], rounds=3, iterations=1)
    np.testing.assert_allclose(out[1], g[1] @ ntk32, rtol=1e-4, atol=1e-3 * np.abs(out[1]).max())


class _EnergyViaTransforms(EnergyLoss):
    """The energy with an overridden formula hook: ``loss_flow`` then keeps the basis domain (two Walsh–Hadamard
    transforms per step for a Walsh-structured kernel, the path before the Walsh-domain flow)."""

    def _vg(self, p):
        return super()._vg(p)


def _walsh_engine(problem, engine):
    from nnqs_fast.dynamics._walsh import WalshEnergyFlow, walsh_conjugate
    from nnqs_fast.dynamics.flow import walsh_spectrum

    H, _, ntk32, psi0 = problem
    f = WalshEnergyFlow(walsh_conjugate(H), (walsh_spectrum(ntk32),), psi0.shape[0], engine=engine)
    return f, f.to_block(psi0)


def _real_space_step(problem, eta):
    H, _, ntk32, psi0 = problem
    hp = (H @ psi0.T).T
    n = np.sum(np.abs(psi0) ** 2, axis=1)
    e = np.sum(psi0.conj() * hp, axis=1).real / n
    g = 2 * (hp - e[:, None] * psi0) / n[:, None]
    k = ntk32.astype(np.float64)
    return psi0 - eta * (g.real @ k + 1j * (g.imag @ k))


@pytest.mark.benchmark(group="groundstate-walsh")
@pytest.mark.parametrize("engine", ["core", "numpy"])
def test_bench_walsh_domain_step(benchmark, problem, engine):
    f, u = _walsh_engine(problem, engine)
    u0 = u.copy()
    benchmark.pedantic(lambda: f.step(u, 0.0), rounds=5, iterations=3)    # η = 0: u unchanged, the full work
    np.testing.assert_array_equal(u, u0)
    f.step(u, 0.05)
    ref = _real_space_step(problem, 0.05)
    np.testing.assert_allclose(f.from_block(u), ref, rtol=1e-9, atol=1e-11 * np.abs(ref).max())


def _pair(x, y):
    return [CPUReLUStep(init_relu(s, x.shape[1], WIDTH), x, y, 0.01) for s in (1, 2)]


def _energy_pool(H, x):
    pool = CPULossPool([tuple(_pair(x, np.zeros(x.shape[0])))], EnergyLoss(H), n_workers=1)
    for s in pool.pairs[0]:
        s.threads = 0
    return pool


@pytest.mark.benchmark(group="groundstate-step")
def test_bench_energy_step_cpp(benchmark, problem):
    H, x, _, _ = problem
    pool = _energy_pool(H, x)
    out = benchmark.pedantic(lambda: pool.run(1, np.array([pool.pairs[0][0].step + 1])), rounds=5, iterations=1)
    assert np.all(np.isfinite(out["train_loss"])) and np.all(out["status"] == 0)


@pytest.mark.benchmark(group="groundstate-step")
def test_bench_supervised_step_cpp(benchmark, problem):
    _, x, _, _ = problem
    pair = _pair(x, np.linspace(-0.1, 0.1, x.shape[0]))
    benchmark.pedantic(lambda: [s.run(1) for s in pair], rounds=5, iterations=1)
    assert all(s.step >= 1 for s in pair)


@pytest.mark.benchmark(group="groundstate-step")
def test_bench_energy_step_numpy(benchmark, problem):
    H, x, _, _ = problem
    loss = EnergyLoss(H)
    nets = [NumpyReLUStep(init_relu(s, x.shape[1], WIDTH), x, np.zeros(x.shape[0]), 0.01) for s in (1, 2)]
    cpp = _energy_pool(H, x)

    def step():
        psi = nets[0].forward() + 1j * nets[1].forward()
        _, g = loss.value_and_grad(psi)
        nets[0].apply_gradient(2 * g.real)
        nets[1].apply_gradient(2 * g.imag)

    benchmark.pedantic(step, rounds=3, iterations=1)
    cpp.run(nets[0].step, np.array([nets[0].step]), record_predictions=True)
    psi_np = nets[0].forward() + 1j * nets[1].forward()
    psi_cpp = cpp.pairs[0][0].forward() + 1j * cpp.pairs[0][1].forward()
    np.testing.assert_allclose(psi_cpp, psi_np, rtol=1e-9, atol=1e-12)


def _best(fn, reps=5):
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def test_groundstate_report(problem, capsys):
    """Interleaved timings in one run (the machine may be shared): flow step vs GEMM, energy vs supervised step."""
    H, x, ntk32, psi0 = problem
    g = np.ascontiguousarray(np.concatenate([psi0.real, psi0.imag]), dtype=np.float32)
    n = 20 if FULL else 5
    t_flow = _best(lambda: _flow(problem, n), 3) / n
    t_gemm = _best(lambda: [g @ ntk32 for _ in range(n)], 3) / n
    t_walsh = _best(lambda: _flow(problem, n, "auto"), 3) / n

    def per_step(loss, n1, n2):   # slope between two run lengths: the per-call setup (kernel checks) cancels
        def run(m):
            return _best(lambda: loss_flow(ntk32, loss, psi0, learning_rate=0.05, n_steps=m, dtype=np.float32), 3)

        return (run(n2) - run(n1)) / (n2 - n1)

    t_wdom = per_step(EnergyLoss(H), 10 * n, 60 * n)
    t_wtr = per_step(_EnergyViaTransforms(H), n, 3 * n)
    pool = _energy_pool(H, x)
    pair = _pair(x, np.linspace(-0.1, 0.1, x.shape[0]))
    t_energy = _best(lambda: pool.run(2, np.array([], np.int64)), 5) / 2
    t_sup = _best(lambda: [s.run(2) for s in pair], 5) / 2
    D = ntk32.shape[0]
    flops = 2.0 * (2 * K) * D * D
    with capsys.disabled():
        print(f"\n[groundstate] D={D} K={K}: flow step {t_flow * 1e3:.2f} ms = {flops / t_flow / 1e9:.1f} GFLOP/s, "
              f"GEMM {t_gemm * 1e3:.2f} ms = {flops / t_gemm / 1e9:.1f} GFLOP/s -> flow at "
              f"{100 * t_gemm / t_flow:.0f}% of the GEMM rate; Walsh-structured flow step {t_walsh * 1e3:.2f} ms "
              f"({t_flow / t_walsh:.1f}x the dense flow)")
        print(f"[groundstate] Walsh-domain energy flow step {t_wdom * 1e3:.3f} ms (10^4 steps = {t_wdom * 1e4:.0f} s); "
              f"with two transforms per step {t_wtr * 1e3:.2f} ms ({t_wtr / t_wdom:.1f}x slower); load average "
              f"{os.getloadavg()[0]:.1f}")
        print(f"[groundstate] width {WIDTH}, n={x.shape[0]}: energy step {t_energy * 1e3:.2f} ms, supervised step "
              f"{t_sup * 1e3:.2f} ms, ratio {t_energy / t_sup:.2f}")
    if FULL:
        assert t_gemm / t_flow >= 0.6
        assert t_energy / t_sup <= 1.5
