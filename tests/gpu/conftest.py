"""Fixtures of the GPU tests: CuPy (imported only when a test runs) and independent NumPy oracles.

The skip decision (no CUDA build / no device / no CuPy) is made in tests/conftest.py from one place.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

#: NNQS_FAKE_DEVICE=1: run the gpu-marked tests of this directory against the host-memory stand-ins of CuPy and
#: nnqs_fast._cuda in _fake_device.py (checks the Python orchestration on a machine without a GPU).
FAKE = os.environ.get("NNQS_FAKE_DEVICE", "") not in ("", "0")

#: per-dtype tolerances of the parity tests (relative to the largest entry)
TOL = {np.float32: 2e-5, np.float64: 1e-11}


def _load_fake():
    spec = importlib.util.spec_from_file_location("nnqs_fake_device", Path(__file__).with_name("_fake_device.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


@pytest.fixture(autouse=True)
def _fake_device(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    if FAKE and request.node.get_closest_marker("gpu") is not None:
        fake = _load_fake()
        fake.install(monkeypatch)
        yield
        monkeypatch.undo()
        fake.clear_caches()
    else:
        yield


@pytest.fixture
def cp() -> Any:
    return pytest.importorskip("cupy")


def _relu_forward(params: Any, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    hs, zs = [x], []
    h = x
    L = len(params.weights) - 1
    for l in range(L):
        z = (params.W_std / np.sqrt(h.shape[1])) * h @ params.weights[l].T + params.b_std * params.biases[l]
        zs.append(z)
        h = np.maximum(z, 0)
        hs.append(h)
    return hs, zs


def relu_jacobian(params: Any, x: np.ndarray) -> np.ndarray:
    """Explicit (n, P) Jacobian of a ReLU network (parameters in the order W_0, b_0, W_1, b_1, ...), float64,
    by per-sample backpropagation — the oracle of the structured kernels (also checked against finite
    differences in test_gpu_kernels)."""
    x = np.asarray(x, np.float64)
    Ws = [np.asarray(w, np.float64) for w in params.weights]
    L = len(Ws) - 1
    hs, zs = _relu_forward(SimpleNamespace(weights=Ws, biases=[np.asarray(b, np.float64) for b in params.biases],
                                           W_std=params.W_std, b_std=params.b_std), x)
    n = x.shape[0]
    deltas: list[np.ndarray] = [None] * (L + 1)  # type: ignore[list-item]
    deltas[L] = np.ones((n, 1))
    for l in range(L - 1, -1, -1):
        up = (params.W_std / np.sqrt(hs[l + 1].shape[1])) * deltas[l + 1] @ Ws[l + 1]
        deltas[l] = up * (zs[l] > 0)
    cols = []
    for l in range(L + 1):
        cw = params.W_std / np.sqrt(hs[l].shape[1])
        cols.append((deltas[l][:, :, None] * cw * hs[l][:, None, :]).reshape(n, -1))
        cols.append(params.b_std * deltas[l])
    return np.concatenate(cols, axis=1)


def relu_apply(params: Any, x: np.ndarray) -> np.ndarray:
    hs, _ = _relu_forward(params, np.asarray(x, np.float64))
    L = len(params.weights) - 1
    return ((params.W_std / np.sqrt(hs[L].shape[1])) * hs[L] @ np.asarray(params.weights[L], np.float64).T
            + params.b_std * np.asarray(params.biases[L], np.float64))[:, 0]


def gd_step_reference(W, b0, v, b1, x, y, lr, W_std, b_std):
    """One full-batch GD step of one one-hidden-layer ReLU network on L = (1/n) sum (f - y)^2 (NumPy, float64)."""
    n, d = x.shape
    N = W.shape[0]
    cw, cv = W_std / np.sqrt(d), W_std / np.sqrt(N)
    z = cw * x @ W.T + b_std * b0
    h = np.maximum(z, 0)
    f = cv * h @ v + b_std * b1
    g = 2.0 / n * (f - y)
    dv = cv * h.T @ g
    db1 = b_std * g.sum()
    delta = (cv * v)[None, :] * (z > 0) * g[:, None]
    dW = cw * delta.T @ x
    db0 = b_std * delta.sum(axis=0)
    return W - lr * dW, b0 - lr * db0, v - lr * dv, b1 - lr * db1, float(np.mean((f - y) ** 2))


@pytest.fixture
def oracles() -> SimpleNamespace:
    return SimpleNamespace(relu_jacobian=relu_jacobian, relu_apply=relu_apply, gd_step=gd_step_reference, TOL=TOL)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """tests/conftest.py skips items whose *keywords* contain "gpu" — which every test in this directory has
    (the directory name is a keyword). Undo that skip for tests without a real ``@pytest.mark.gpu`` marker, so
    the CPU-runnable checks in test_cuda_module.py run in CI. (Lead: ``item.get_closest_marker("gpu")`` in
    tests/conftest.py and bench/conftest.py would make this unnecessary.)"""
    for item in items:
        if "tests/gpu" not in str(item.path).replace("\\", "/"):
            continue
        if item.get_closest_marker("gpu") is not None and not FAKE:
            continue
        item.own_markers[:] = [m for m in item.own_markers
                               if not (m.name == "skip" and "CUDA backend not usable" in str(m.kwargs.get("reason")))]
