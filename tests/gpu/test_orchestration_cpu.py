"""CPU-runnable (CI) checks of the GPU code paths' Python orchestration, with the host-memory stand-ins of CuPy
and nnqs_fast._cuda from _fake_device.py: tiling loops and tile flags of the structured NTK, in-place row blocks
of the analytic Gram, the batched GD engine's bookkeeping. The CUDA kernels themselves need a GPU (the
gpu-marked tests); the full parity suite runs against the stand-ins with ``NNQS_FAKE_DEVICE=1``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nnqs_fast.networks.relu import init_relu


@pytest.fixture
def fake(monkeypatch):
    spec = importlib.util.spec_from_file_location("nnqs_fake_device", Path(__file__).with_name("_fake_device.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.install(monkeypatch)
    import cupy

    yield cupy
    monkeypatch.undo()
    mod.clear_caches()


@pytest.mark.parametrize("depth,chunk", [(1, None), (2, 16)])
def test_structured_ntk_tiles_cover_the_output(fake, rng, oracles, depth, chunk):
    from nnqs_fast.gpu.kernels import empirical_ntk

    params = init_relu(3, input_dim=5, width=23, depth=depth)
    x1, x2 = rng.standard_normal((37, 5)), rng.standard_normal((19, 5))
    J1, J2 = oracles.relu_jacobian(params, x1), oracles.relu_jacobian(params, x2)
    sym = empirical_ntk(params, x1, None, chunk_size=chunk).get()
    assert np.isfinite(sym).all()  # no NaN-poisoned lower triangle of a SYRK tile leaked
    np.testing.assert_allclose(sym, J1 @ J1.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(empirical_ntk(params, x1, x2, chunk_size=chunk).get(), J1 @ J2.T, rtol=1e-12,
                               atol=1e-12)


def test_analytic_gram_row_blocks_in_place(fake, rng):
    from nnqs_fast.gpu.kernels import relu_kernel

    x = rng.standard_normal((29, 4))
    full = relu_kernel(x, None, depth=2, get=("nngp", "ntk"))
    for get in ("nngp", "ntk"):
        blk = relu_kernel(x, None, depth=2, get=get, chunk_size=8).get()
        np.testing.assert_allclose(blk, getattr(full, get).get(), rtol=1e-13)


def test_batched_gd_engine_bookkeeping(fake, rng, oracles):
    from nnqs_fast.gpu.training import GDStepCUDA

    params = [init_relu(s, input_dim=4, width=9) for s in range(3)]
    x, y = rng.standard_normal((11, 4)), rng.standard_normal((3, 11))
    eng = GDStepCUDA(params, x, y, 0.3, x_test=x[:5], y_test=y[:, :5])
    out = eng.run(4, [0, 2, 4])
    assert eng.step == 4 and out["train_loss"].shape == (3, 3) and np.all(out["steps_done"] == 4)
    for m, p in enumerate(params):
        W, b0, v, b1 = p.weights[0], p.biases[0], p.weights[1][0], float(p.biases[1][0])
        losses = []
        for _ in range(4):
            W, b0, v, b1, loss = oracles.gd_step(W, b0, v, b1, x, y[m], 0.3, p.W_std, p.b_std)
            losses.append(loss)
        np.testing.assert_allclose(out["train_loss"][m, :2], [losses[0], losses[2]], rtol=1e-12)
        np.testing.assert_allclose(eng.params()[m].weights[0], W, rtol=1e-12)
