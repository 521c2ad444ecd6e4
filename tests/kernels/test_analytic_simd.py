"""The SIMD analytic ReLU Gram (Highway build of the C++ core; the portable loop otherwise) against an independent
NumPy closed form of the arc-cosine recursion (np.arccos, written out here, not the package's formula), at several
depths, float64 and float32, symmetric (x' = x, one triangle computed and mirrored) and rectangular (x != x')
results, odd sizes with partial SIMD vectors, row groups and blocks, both dot-product paths (on the fly, BLAS)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnqs_fast as nf
from nnqs_fast._backend import core_module, cpu_status
from nnqs_fast._memory import pool_empty
from nnqs_fast.errors import PrecisionLossWarning

W, B = 0.9, 0.3


def arccos_kernels(x1: np.ndarray, x2: np.ndarray, depth: int, W_std: float, b_std: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """NNGP and NTK of the depth-`depth` ReLU MLP (NTK parameterisation) from Cho & Saul's arc-cosine kernels of
    degree 1 and 0 (paper Eq. 5-7), in float64 with NumPy's arccos; the exact values at x = x' (t = 0)."""
    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    w2, b2, d = W_std ** 2, b_std ** 2, x1.shape[1]
    k = w2 * (x1 @ x2.T) / d + b2
    k11 = w2 * np.sum(x1 * x1, 1) / d + b2
    k22 = w2 * np.sum(x2 * x2, 1) / d + b2
    th = k.copy()
    same = np.all(x1[:, None, :] == x2[None, :, :], axis=2)
    for _ in range(depth):
        r = np.sqrt(k11[:, None] * k22[None, :])
        c = np.clip(k / r, -1.0, 1.0)
        t = np.where(same, 0.0, np.arccos(c))
        c = np.where(same, 1.0, c)
        k = w2 * r * (np.sin(t) + (np.pi - t) * c) / (2 * np.pi) + b2
        th = k + w2 * (np.pi - t) / (2 * np.pi) * th
        k11, k22 = w2 * k11 / 2 + b2, w2 * k22 / 2 + b2
    return k, th


def _inputs(n: int, d: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed)
    return g.standard_normal((n, d)) * g.uniform(0.3, 2.0, (n, 1))


def test_simd_target_is_reported() -> None:
    target = core_module().simd_target()
    assert isinstance(target, str) and target
    assert cpu_status().details["simd"] == target


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(1, None), (5, None), (131, None), (262, None), (131, 77), (3, 262)])
@pytest.mark.parametrize("d", [12, 80])
def test_float64_matches_arccos_closed_form(depth: int, shape: tuple[int, int | None], d: int) -> None:
    n1, n2 = shape
    x1 = _inputs(n1, d, depth)
    x2 = None if n2 is None else _inputs(n2, d, depth + 100)
    k = nf.relu_kernel_fn(depth=depth, W_std=W, b_std=B)(x1, x2)
    ref_k, ref_t = arccos_kernels(x1, x1 if x2 is None else x2, depth, W, B)
    assert k.nngp.dtype == np.float64 and k.nngp.flags.c_contiguous and k.ntk.flags.c_contiguous
    np.testing.assert_allclose(k.nngp, ref_k, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(k.ntk, ref_t, rtol=1e-11, atol=1e-13)
    if x2 is None:  # one triangle computed, mirrored: exactly symmetric, exact diagonal
        assert np.array_equal(k.nngp, k.nngp.T) and np.array_equal(k.ntk, k.ntk.T)
        np.testing.assert_allclose(np.diag(k.ntk), np.diag(ref_t), rtol=1e-14)


#: float32 arithmetic vs float64 (stated in docs/kernels.md), relative to the largest entry: NNGP <= 1e-6, NTK
#: <= 3e-5. Measured worst: 2e-7 / 9e-7 on Gaussian inputs (depth 1-5, d = 3-80), 1.5e-5 for the NTK of
#: duplicated +-1 inputs at depth 3 (cos t = 1 - O(eps) off the diagonal: t = arccos c is O(sqrt(eps)) off,
#: and the NTK carries (pi - t) / (2 pi) through every layer).
F32_TOL = {"nngp": 1e-6, "ntk": 3e-5}


def test_float32_duplicated_lattice_inputs() -> None:
    x = np.random.default_rng(0).choice([-1.0, 1.0], (300, 12)).astype(np.float32)  # many duplicated rows
    for depth in (1, 3):
        k = nf.relu_kernel_fn(depth=depth)(x)
        for got, r in zip((k.nngp, k.ntk), arccos_kernels(x, x, depth, 0.5, 0.1)):
            assert np.abs(got - r).max() <= F32_TOL["ntk"] * np.abs(r).max()


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("sym", [True, False])
@pytest.mark.parametrize("d", [12, 80])
def test_float32_within_stated_tolerance_of_float64(depth: int, sym: bool, d: int) -> None:
    x1 = _inputs(203, d, 7 + depth).astype(np.float32)
    x2 = None if sym else _inputs(97, d, 8).astype(np.float32)
    kf = nf.relu_kernel_fn(depth=depth, W_std=W, b_std=B)
    k32 = kf(x1, x2)
    k64 = kf(x1.astype(np.float64), None if sym else x2.astype(np.float64))
    ref = arccos_kernels(x1, x1 if sym else x2, depth, W, B)
    assert k32.ntk.dtype == np.float32
    for name, r in zip(("nngp", "ntk"), ref):
        got = getattr(k32, name).astype(np.float64)
        scale = np.abs(r).max()
        assert np.abs(got - r).max() <= F32_TOL[name] * scale
        assert np.abs(got - getattr(k64, name)).max() <= F32_TOL[name] * scale
    if sym:
        assert np.array_equal(k32.nngp, k32.nngp.T) and np.array_equal(k32.ntk, k32.ntk.T)


@pytest.mark.parametrize("chunk", [50, 128, 129])
def test_tiles_and_mirrored_tiles_agree_with_one_tile(chunk: int) -> None:
    """Python tiles (mode 2: off-diagonal tiles also written transposed) give the single-tile result exactly."""
    x = _inputs(300, 12, 3)
    kf = nf.relu_kernel_fn(depth=2, W_std=W, b_std=B)
    one = kf(x)
    many = kf(x, chunk_size=chunk)
    assert np.array_equal(one.ntk, many.ntk) and np.array_equal(one.nngp, many.nngp)


def test_single_output_requests() -> None:
    x = _inputs(140, 6, 4)
    kf = nf.relu_kernel_fn(depth=3, W_std=W, b_std=B)
    both = kf(x)
    np.testing.assert_array_equal(kf(x, get="ntk"), both.ntk)
    np.testing.assert_array_equal(kf(x, get="nngp"), both.nngp)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_non_finite_output_still_warns(dt: type) -> None:
    """The finiteness check moved into the core's stores (no second pass): an overflowing input still warns."""
    big = 1e200 if dt == np.float64 else 1e25
    x = _inputs(9, 4, 5).astype(dt)
    x[2] *= big
    with pytest.warns(PrecisionLossWarning, match="non-finite"):
        nf.relu_kernel_fn()(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nf.relu_kernel_fn()(_inputs(9, 4, 5).astype(dt))


def test_outputs_are_cache_line_aligned() -> None:
    a = pool_empty((7, 13), np.dtype(np.float32))
    assert a.ctypes.data % 64 == 0 and a.shape == (7, 13) and a.flags.c_contiguous and a.flags.writeable
    k = nf.relu_kernel_fn()(_inputs(33, 5, 1), get="ntk")
    assert k.ctypes.data % 64 == 0 and k.flags.c_contiguous and k.flags.writeable
