"""The caching host memory pool (nnqs_fast.memory_pool): blocks are reused and released, bounded by the cache
limit, configurable (API and environment), and a reused block never leaks old values into a result: the ReLU
kernels computed into NaN-poisoned recycled blocks equal the independent np.arccos closed form (Eq. 5-7)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import numpy as np
import pytest

import nnqs_fast as nf
from nnqs_fast import _memory
from nnqs_fast.errors import InvalidInputError

MiB = 1 << 20


@pytest.fixture
def pool() -> Iterator[nf.MemoryPool]:
    p = nf.memory_pool()
    old = p.cache_limit()
    p.set_cache_limit(64 * MiB)
    p.free_all_blocks()
    yield p
    p.set_cache_limit(old)


def relu_closed_form(x1: np.ndarray, x2: np.ndarray, depth: int, w: float, b: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """NNGP, NTK of the NTK-parameterised ReLU MLP from the arc-cosine kernels (np.arccos; exact at x = x')."""
    w2, b2, d = w * w, b * b, x1.shape[1]
    k = w2 * (x1 @ x2.T) / d + b2
    k1, k2 = w2 * np.sum(x1 * x1, 1) / d + b2, w2 * np.sum(x2 * x2, 1) / d + b2
    same = np.all(x1[:, None, :] == x2[None, :, :], axis=2)
    th = k.copy()
    for _ in range(depth):
        r = np.sqrt(k1[:, None] * k2[None, :])
        c = np.where(same, 1.0, np.clip(k / r, -1, 1))
        t = np.arccos(c)
        k = w2 * r * (np.sin(t) + (np.pi - t) * c) / (2 * np.pi) + b2
        th = k + w2 * (np.pi - t) / (2 * np.pi) * th
        k1, k2 = w2 * k1 / 2 + b2, w2 * k2 / 2 + b2
    return k, th


def test_pool_empty_layout(pool: nf.MemoryPool) -> None:
    for shape, dt in (((3, 5), np.float32), ((700, 600), np.float64), ((0, 4), np.float64)):
        a = _memory.pool_empty(shape, dt)
        assert a.shape == shape and a.dtype == dt and a.flags.c_contiguous and a.flags.writeable
        assert a.ctypes.data % 64 == 0
        a[...] = 1.5
        assert np.all(a == 1.5)


def test_blocks_are_reused_and_released(pool: nf.MemoryPool) -> None:
    used0 = pool.used_bytes()
    a = _memory.pool_empty((1024, 1024), np.float64)        # 8 MiB
    addr = a.ctypes.data
    assert pool.used_bytes() == used0 + 8 * MiB and pool.cached_bytes() == 0
    view = a[10:20]
    del a
    assert pool.used_bytes() == used0 + 8 * MiB             # a view keeps its block alive
    del view
    assert pool.used_bytes() == used0 and pool.cached_bytes() == 8 * MiB and pool.n_free_blocks() == 1
    hits = pool.hits()
    b, reused = _memory.pool_take((1000, 1040), np.float64)  # a little smaller: the same block again
    assert reused and b.ctypes.data == addr and pool.hits() == hits + 1 and pool.cached_bytes() == 0
    fresh, reused = _memory.pool_take((1024, 1024), np.float64)
    assert not reused and fresh.ctypes.data != addr
    del fresh
    pool.free_all_blocks()
    c = _memory.pool_empty((64, 1024), np.float64)          # small blocks: never taken from or kept in the cache
    del b, c
    assert pool.cached_bytes() == 8 * MiB
    pool.free_all_blocks()
    assert pool.cached_bytes() == 0 and pool.n_free_blocks() == 0 and pool.used_bytes() == used0


def test_cache_limit_bounds_and_disables(pool: nf.MemoryPool) -> None:
    pool.set_cache_limit("5MiB")
    assert pool.cache_limit() == 5 * MiB
    blocks = [_memory.pool_empty((MiB // 4,), np.float64) for _ in range(3)]   # 3 x 2 MiB
    del blocks
    assert pool.cached_bytes() == 4 * MiB and pool.n_free_blocks() == 2       # the oldest was evicted
    big = _memory.pool_empty((6 * MiB,), np.uint8)                              # larger than the limit
    del big
    assert pool.cached_bytes() <= 5 * MiB
    pool.disable()
    assert pool.cache_limit() == 0 and pool.cached_bytes() == 0
    a = _memory.pool_empty((4 * MiB,), np.uint8)
    del a
    assert pool.cached_bytes() == 0
    pool.set_cache_limit(None)
    ram_tenth = os.sysconf("SC_PHYS_PAGES") // 10 * os.sysconf("SC_PAGE_SIZE")
    assert pool.cache_limit() == min(2 << 30, ram_tenth)              # the default: min(2 GiB, 10% of RAM)


@pytest.mark.parametrize("bad", [-1, "lots", True, 1.5, ""])
def test_set_cache_limit_rejects_bad_values(pool: nf.MemoryPool, bad: object) -> None:
    with pytest.raises(InvalidInputError):
        pool.set_cache_limit(bad)  # type: ignore[arg-type]


def test_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    p = nf.memory_pool()
    old = p.cache_limit()
    try:
        monkeypatch.setattr(_memory, "_configured", False)
        monkeypatch.setenv(_memory.POOL_LIMIT_ENV, "12MiB")
        assert p.cache_limit() == 12 * MiB
        monkeypatch.setattr(_memory, "_configured", False)
        monkeypatch.setenv(_memory.POOL_LIMIT_ENV, "0")
        assert p.cache_limit() == 0
        monkeypatch.setattr(_memory, "_configured", False)
        monkeypatch.setenv(_memory.POOL_LIMIT_ENV, "twelve")
        with pytest.raises(InvalidInputError, match=_memory.POOL_LIMIT_ENV):
            p.cache_limit()
    finally:
        monkeypatch.setattr(_memory, "_configured", True)
        p.set_cache_limit(old)


def test_threads_allocate_and_release_concurrently(pool: nf.MemoryPool) -> None:
    used0 = pool.used_bytes()
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(20):
                a = _memory.pool_empty((MiB // 8 * (1 + (seed + i) % 3),), np.float64)
                a[::4096] = seed
                assert np.all(a[::4096] == seed)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and pool.used_bytes() == used0 and pool.cached_bytes() <= pool.cache_limit()


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("sym", [True, False])
def test_relu_kernels_in_recycled_poisoned_blocks(pool: nf.MemoryPool, depth: int, dt: type, sym: bool) -> None:
    """Every entry of a result is written: blocks recycled full of NaN give the closed form exactly as fresh ones."""
    g = np.random.default_rng(depth)
    n1, n2 = 768, 752  # > 2 MiB per output, rows a multiple of the lanes: reused blocks take streaming stores
    x1 = g.standard_normal((n1, 12)).astype(dt)
    x2 = None if sym else g.standard_normal((n2, 12)).astype(dt)
    shape = (n1, n1 if sym else n2)
    poison = [_memory.pool_empty(shape, dt) for _ in range(2)]
    for p in poison:
        p.fill(np.nan)
    del poison, p
    hits = pool.hits()
    k = nf.relu_kernel_fn(depth=depth, W_std=0.9, b_std=0.3)(x1, x2, dtype=dt)
    assert pool.hits() == hits + 2                            # both outputs came from the recycled blocks
    ref = relu_closed_form(x1.astype(np.float64), (x1 if sym else x2).astype(np.float64), depth, 0.9, 0.3)
    tol = {"nngp": 1e-11, "ntk": 1e-11} if dt == np.float64 else {"nngp": 1e-6, "ntk": 3e-5}
    for name, r in zip(("nngp", "ntk"), ref):
        got = getattr(k, name)
        assert got.dtype == dt and np.all(np.isfinite(got))
        assert np.abs(got - r).max() <= tol[name] * np.abs(r).max()


def test_tracemalloc_sees_pool_arrays_while_they_live():
    """Memory tests and users' tracemalloc profiles count pool arrays like np.empty ones (own domain, exact bytes)."""
    import tracemalloc

    from nnqs_fast._memory import TRACE_DOMAIN, pool_empty

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        a = pool_empty((1000, 700), np.float64)           # 5.6 MB, a 6 MiB pool block
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.DomainFilter(True, TRACE_DOMAIN)])
        assert sum(t.size for t in snap.traces) == 1000 * 700 * 8
        assert tracemalloc.get_traced_memory()[0] - base >= 1000 * 700 * 8
        view = a[::2]
        del a
        assert tracemalloc.get_traced_memory()[0] - base >= 1000 * 700 * 8   # a view keeps the block alive
        del view
        assert tracemalloc.get_traced_memory()[0] - base < 100_000           # untracked when the block goes back
    finally:
        tracemalloc.stop()
